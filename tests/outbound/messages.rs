//! Which mail follows from which event, and what it looks like.

use oxidesk::mail::parse::AutoFlags;
use oxidesk::mail::send::templates;
use oxidesk::model::{Source, TicketId};
use oxidesk::store;
use oxidesk::tickets::events::{Actor, TicketEvent};
use oxidesk::tickets::intake::IntakeOutcome;
use oxidesk::tickets::{self, links, Body, MailInfo, NewAttachment, NewTicket, Reply};

use super::harness::*;

#[test]
fn new_ticket_gets_an_auto_response_with_a_working_access_link() {
    if !have_sink() {
        return;
    }
    let port = free_port();
    let env = Env::new(port);
    let sink = Sink::start(port, &env.dir.path().join("sink"), &[]);
    // Through the binary, exactly as the MTA pipes it.
    env.pipe_bin(&customer_mail(
        "Dana Customer <dana@customer.example>",
        "first@customer.example",
        "Server down",
        "",
    ));
    let (ticket, number): (TicketId, String) = env
        .conn()
        .query_row("SELECT id, number FROM tickets", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(env.deliver().sent, 1);
    let got = sink.wait_for(1);
    assert_eq!(got.len(), 1, "exactly one mail at the sink");
    let m = mailparse::parse_mail(&got[0]).unwrap();
    assert_eq!(header(&m, "Subject"), format!("[#{number}] Server down"));
    assert!(header(&m, "To").contains("dana@customer.example"));
    assert!(header(&m, "From").contains(OUR_ADDRESS));
    assert_eq!(header(&m, "Auto-Submitted"), "auto-replied");
    assert_eq!(header(&m, "In-Reply-To"), "<first@customer.example>");
    assert_eq!(m.ctype.mimetype, "multipart/alternative");
    let text = text_part(&m);
    assert!(text.contains(&number), "{text}");
    let html = html_part(&m);
    assert!(html.contains("dir=\"ltr\""), "{html}");

    // The link in the mail opens exactly this ticket for this customer.
    let link = text
        .split_whitespace()
        .find(|w| w.starts_with("https://help.example.test/portal/tickets/"))
        .expect("an access link in the text");
    assert!(link.starts_with(&format!(
        "https://help.example.test/portal/tickets/{number}?t="
    )));
    let token = link.split("?t=").nth(1).unwrap();
    let secret = links::secret(&env.conn(), "").unwrap();
    let claims = links::verify(&secret, token, store::now()).unwrap();
    assert_eq!(claims.ticket, ticket);
    assert_eq!(claims.identity, "dana@customer.example");
    let mut forged = token.to_string();
    forged.insert(3, 'x');
    assert!(links::verify(&secret, &forged, store::now()).is_err());
}

#[test]
fn auto_replies_own_addresses_and_floods_get_no_auto_response() {
    configure();
    let env = Env::new(1);
    // Mail the parser flagged as an auto-reply, bounce or bulk opens a
    // ticket but gets no answer. (Recognising the flags in raw mail is the
    // parser's job, tested there; here the flags reach the domain.)
    for (i, auto) in [
        AutoFlags {
            auto_reply: true,
            ..AutoFlags::default()
        },
        AutoFlags {
            bounce: true,
            ..AutoFlags::default()
        },
        AutoFlags {
            bulk: true,
            ..AutoFlags::default()
        },
    ]
    .into_iter()
    .enumerate()
    {
        let mut new = NewTicket::new(
            Source::Email,
            format!("robot{i}@customer.example"),
            "Robot",
            "Out of office",
            Body::text("I am away."),
        );
        new.mail = Some(MailInfo {
            message_id: Some(format!("robot{i}@customer.example")),
            auto,
            ..MailInfo::default()
        });
        tickets::open(&env.store, &Actor::System, new).unwrap();
    }
    // Rules may suppress it too.
    let mut new = NewTicket::new(
        Source::Web,
        "rule@customer.example",
        "Rule",
        "Suppressed",
        Body::text("x"),
    );
    new.suppress_auto_response = true;
    tickets::open(&env.store, &Actor::System, new).unwrap();
    // The same, from raw mail piped in: the parser's flags reach us.
    for (i, header) in [
        "Auto-Submitted: auto-replied\r\n",
        "X-Autoreply: yes\r\n",
        "Precedence: bulk\r\n",
    ]
    .into_iter()
    .enumerate()
    {
        env.pipe_bin(&customer_mail(
            "Away <away@customer.example>",
            &format!("ooo{i}@customer.example"),
            "Out of office",
            header,
        ));
    }
    env.pipe_bin(
        "From: MAILER-DAEMON@mx.customer.example\r\nTo: support@help.example.test\r\n\
         Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <bounce@mx>\r\n\r\nfailed\r\n",
    );
    // Mail from our own address never gets one.
    new_ticket(env.pipe(&customer_mail(
        &format!("Us <{OUR_ADDRESS}>"),
        "self@help.example.test",
        "Loop",
        "",
    )));
    assert!(env.outbox("auto_response").is_empty());

    // One sender opening many tickets gets at most the hourly limit.
    for i in 0..8 {
        new_ticket(env.pipe(&customer_mail(
            "Loopy <loopy@customer.example>",
            &format!("loop{i}@customer.example"),
            &format!("Request {i}"),
            "",
        )));
    }
    assert_eq!(env.outbox("auto_response").len(), 5);
    store::settings::set(&env.conn(), "mail.auto_response_per_hour", "6").unwrap();
    new_ticket(env.pipe(&customer_mail(
        "Loopy <loopy@customer.example>",
        "loop-more@customer.example",
        "Request more",
        "",
    )));
    assert_eq!(env.outbox("auto_response").len(), 6);
    // Switched off entirely.
    store::settings::set(&env.conn(), "mail.auto_response", "false").unwrap();
    new_ticket(env.pipe(&customer_mail(
        "Other <other@customer.example>",
        "other@customer.example",
        "Hello",
        "",
    )));
    assert_eq!(env.outbox("auto_response").len(), 6);
}

#[test]
fn staff_reply_is_delivered_with_attachments_and_the_customer_reply_threads_back() {
    if !have_sink() {
        return;
    }
    let port = free_port();
    let env = Env::new(port);
    let sink = Sink::start(port, &env.dir.path().join("sink"), &[]);
    let agent = env.staff("Alex Agent", "alex@help.example.test");
    env.conn()
        .execute(
            "UPDATE staff SET signature = 'Alex from Billing' WHERE id = ?1",
            [agent.0],
        )
        .unwrap();
    let (ticket, number) = new_ticket(env.pipe(&customer_mail(
        "Dana <dana@customer.example>",
        "q1@customer.example",
        "Invoice question",
        "",
    )));
    let pdf = b"%PDF-1.4 fake invoice \x00\xff bytes".to_vec();
    let entry = tickets::add_response(
        &env.store,
        &Actor::Staff {
            id: agent,
            name: "Alex Agent".into(),
        },
        ticket,
        Reply {
            body: Body::text("Here is your invoice."),
            attachments: vec![NewAttachment {
                filename: "فاکتور ۱۴۰۲.pdf".into(),
                mime_type: "application/pdf".into(),
                data: pdf.clone(),
                inline: false,
                content_id: None,
            }],
            status: None,
        },
    )
    .unwrap();
    env.deliver();
    let got = sink.wait_for(3);
    let response = got
        .iter()
        .map(|raw| mailparse::parse_mail(raw).unwrap())
        .find(|m| header(m, "Auto-Submitted").is_empty())
        .expect("the staff response at the sink");

    let entry_mid: String = env
        .conn()
        .query_row(
            "SELECT message_id FROM entries WHERE id = ?1",
            [entry],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(header(&response, "Message-ID"), format!("<{entry_mid}>"));
    assert!(entry_mid.ends_with("@help.example.test"), "{entry_mid}");
    assert_eq!(header(&response, "In-Reply-To"), "<q1@customer.example>");
    assert!(header(&response, "References").contains("<q1@customer.example>"));
    assert_eq!(
        header(&response, "Subject"),
        format!("[#{number}] Invoice question")
    );
    let text = text_part(&response);
    assert!(text.contains("Here is your invoice."), "{text}");
    assert!(
        text.contains("Alex from Billing"),
        "the agent's signature: {text}"
    );
    // Staff replies quote nothing: the customer's message is not repeated.
    assert!(!text.contains("My server is down"), "{text}");
    assert_eq!(response.ctype.mimetype, "multipart/mixed");
    let file = response
        .subparts
        .iter()
        .find(|p| p.get_content_disposition().disposition == mailparse::DispositionType::Attachment)
        .expect("the attachment");
    assert_eq!(
        file.get_content_disposition()
            .params
            .get("filename")
            .map(String::as_str),
        Some("فاکتور ۱۴۰۲.pdf")
    );
    assert_eq!(file.get_body_raw().unwrap(), pdf);

    // The customer answers the delivered mail: it lands in the same ticket.
    let reply = format!(
        "From: Dana <dana@customer.example>\r\nTo: {OUR_ADDRESS}\r\nSubject: Re: {}\r\n\
         Message-ID: <q2@customer.example>\r\nIn-Reply-To: {}\r\nReferences: {} {}\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\nThanks!\r\n",
        header(&response, "Subject"),
        header(&response, "Message-ID"),
        header(&response, "References"),
        header(&response, "Message-ID"),
    );
    let line = env.pipe_bin(&reply);
    assert!(line.contains(&format!("appended to #{number}")), "{line}");
    // A client that drops the headers: the subject token still finds it.
    let bare = format!(
        "From: dana@customer.example\r\nTo: {OUR_ADDRESS}\r\nSubject: AW: {}\r\n\
         Message-ID: <q3@customer.example>\r\n\r\nOne more thing.\r\n",
        header(&response, "Subject"),
    );
    match env.pipe(&bare) {
        IntakeOutcome::Appended { ticket: t, .. } => assert_eq!(t, ticket),
        other => panic!("the bare reply did not thread: {other:?}"),
    }
}

#[test]
fn persian_and_amharic_subjects_and_names_survive_byte_exactly() {
    if !have_sink() {
        return;
    }
    let port = free_port();
    let env = Env::new(port);
    let sink = Sink::start(port, &env.dir.path().join("sink"), &[]);
    let agent = env.staff("ሰላም ተስፋዬ", "selam@help.example.test");
    let cases = [
        (
            "مریم احمدی",
            "مشکل در اتصال به سرور ایمیل — فوری",
            "fa@customer.example",
        ),
        (
            "አበበ በቀለ",
            "የኢሜል አገልጋዩ አይሰራም፣ እባክዎ ይርዱ",
            "am@customer.example",
        ),
    ];
    // A subject long enough to be folded over several encoded words.
    let long_subject = "پشتیبانی گرامی، ".repeat(8) + &"ሰላም እንዴት ነህ ".repeat(8);
    let long_name = "محمدرضا ".repeat(6).trim().to_string() + " ተስፋዬ";
    let cases = [
        cases[0],
        cases[1],
        (
            long_name.as_str(),
            long_subject.trim(),
            "long@customer.example",
        ),
    ];
    for (name, subject, email) in cases {
        let raw = format!(
            "From: =?UTF-8?B?{}?= <{email}>\r\nTo: {OUR_ADDRESS}\r\nSubject: =?UTF-8?B?{}?=\r\n\
             Message-ID: <{email}>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nسلام\r\n",
            b64(name),
            b64(subject)
        );
        let (ticket, number) = new_ticket(env.pipe(&raw));
        env.conn()
            .execute(
                "UPDATE customers SET locale = 'fa' WHERE name = ?1",
                ["مریم احمدی"],
            )
            .unwrap();
        tickets::add_response(
            &env.store,
            &Actor::Staff {
                id: agent,
                name: "ሰላም ተስፋዬ".into(),
            },
            ticket,
            Reply {
                body: Body::text("ሰላም! پاسخ ما"),
                ..Reply::default()
            },
        )
        .unwrap();
        env.deliver();
        let to_customer: Vec<_> = sink
            .wait_for(0)
            .into_iter()
            .filter(|raw| {
                let m = mailparse::parse_mail(raw).unwrap();
                header(&m, "To").contains(email)
            })
            .collect();
        assert_eq!(to_customer.len(), 2, "auto-response and reply to {email}");
        for raw in &to_customer {
            // Headers on the wire are 7-bit: RFC 2047 encoded words.
            let head = &raw[..raw
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
                .unwrap_or(raw.len())];
            assert!(head.is_ascii(), "non-ASCII bytes in the headers");
            let longest = head.split(|&b| b == b'\n').map(<[u8]>::len).max();
            assert!(
                longest.unwrap_or(0) <= 998,
                "header line over the RFC 5322 limit"
            );
            let m = mailparse::parse_mail(raw).unwrap();
            assert_eq!(header(&m, "Subject"), format!("[#{number}] {subject}"));
            let to = mailparse::addrparse_header(
                m.headers.iter().find(|h| h.get_key() == "To").unwrap(),
            )
            .unwrap();
            match &to[0] {
                mailparse::MailAddr::Single(s) => {
                    assert_eq!(s.display_name.as_deref(), Some(name));
                    assert_eq!(s.addr, email);
                }
                other => panic!("unexpected To: {other:?}"),
            }
        }
    }
    // The Persian customer's reply (locale set after the ticket was opened)
    // uses the Persian template, right to left.
    let fa = sink
        .messages()
        .into_iter()
        .map(|raw| {
            mailparse::parse_mail(&raw)
                .map(|m| {
                    (
                        header(&m, "To"),
                        header(&m, "Auto-Submitted"),
                        html_part(&m),
                    )
                })
                .unwrap()
        })
        .find(|(to, auto, _)| to.contains("fa@customer.example") && auto.is_empty())
        .map(|(_, _, html)| html)
        .expect("the reply to the Persian customer");
    assert!(
        fa.contains("dir=\"rtl\"") && fa.contains("lang=\"fa\""),
        "{fa}"
    );
    assert!(fa.contains("تیکت"), "{fa}");
}

#[test]
fn staff_alerts_follow_the_ticket() {
    configure();
    let env = Env::new(1);
    let alex = env.staff("Alex", "alex@help.example.test");
    let bo = env.staff("Bo", "bo@help.example.test");
    let (ticket, _) = new_ticket(env.pipe(&customer_mail(
        "Dana <dana@customer.example>",
        "alerts@customer.example",
        "Alerts",
        "",
    )));
    let new: Vec<_> = env
        .outbox("alert_new_ticket")
        .into_iter()
        .map(|r| r.2)
        .collect();
    assert_eq!(new, vec!["alex@help.example.test", "bo@help.example.test"]);

    let alex_actor = Actor::Staff {
        id: alex,
        name: "Alex".into(),
    };
    tickets::assign(&env.store, &alex_actor, ticket, Some(bo)).unwrap();
    let assigned: Vec<_> = env
        .outbox("alert_assigned")
        .into_iter()
        .map(|r| r.2)
        .collect();
    assert_eq!(assigned, vec!["bo@help.example.test"]);

    // The customer writes again: only the assignee hears of it.
    let more = "From: dana@customer.example\r\nSubject: Re: Alerts\r\n\
                In-Reply-To: <alerts@customer.example>\r\nMessage-ID: <alerts2@customer.example>\r\n\r\nMore.\r\n";
    env.pipe(more);
    let msg: Vec<_> = env
        .outbox("alert_new_message")
        .into_iter()
        .map(|r| r.2)
        .collect();
    assert_eq!(msg, vec!["bo@help.example.test"]);

    // Overdue (raised by the SLA check): the assignee and the manager.
    let manager = env.staff("Mo Manager", "mo@help.example.test");
    env.conn()
        .execute(
            "UPDATE departments SET manager_id = ?1 WHERE id = 1",
            [manager.0],
        )
        .unwrap();
    {
        let mut conn = env.conn();
        let tx = conn.transaction().unwrap();
        tickets::events::record(&tx, &Actor::System, &TicketEvent::Overdue { ticket }).unwrap();
        tx.commit().unwrap();
    }
    let overdue: Vec<_> = env
        .outbox("alert_overdue")
        .into_iter()
        .map(|r| r.2)
        .collect();
    assert_eq!(
        overdue,
        vec!["bo@help.example.test", "mo@help.example.test"]
    );

    store::settings::set(&env.conn(), "mail.alert_new_ticket", "false").unwrap();
    new_ticket(env.pipe(&customer_mail(
        "e@customer.example",
        "off@customer.example",
        "Off",
        "",
    )));
    assert_eq!(env.outbox("alert_new_ticket").len(), 2);
}

#[test]
fn a_department_without_members_alerts_the_administrators() {
    configure();
    let env = Env::new(1);
    env.conn()
        .execute(
            "INSERT INTO staff (email, name, password_hash, is_admin, created_at)
             VALUES ('root@help.example.test', 'Root', 'x', 1, 0)",
            [],
        )
        .unwrap();
    new_ticket(env.pipe(&customer_mail(
        "Dana <dana@customer.example>",
        "admins@customer.example",
        "Anyone there?",
        "",
    )));
    let to: Vec<_> = env
        .outbox("alert_new_ticket")
        .into_iter()
        .map(|r| r.2)
        .collect();
    assert_eq!(to, vec!["root@help.example.test"]);
}

#[test]
fn admin_templates_override_the_defaults_and_preview() {
    configure();
    let env = Env::new(1);
    let conn = env.conn();
    for (name, _) in templates::TEMPLATES {
        for lang in ["en", "fa", "am"] {
            let r = templates::render_preview(&conn, name, lang).unwrap();
            assert!(!r.subject.is_empty() && !r.text.is_empty(), "{name} {lang}");
            let dir = if lang == "fa" { "rtl" } else { "ltr" };
            assert!(r.html.contains(&format!("dir=\"{dir}\"")), "{name} {lang}");
        }
    }
    store::mail_templates::save(
        &conn,
        "auto_response",
        "",
        "Got it: {{ ticket.subject }}",
        "Number {{ ticket.number }}",
        "<p>Number {{ ticket.number }} <script>{{ customer.name }}</script></p>",
    )
    .unwrap();
    let r = templates::render_preview(&conn, "auto_response", "en").unwrap();
    assert_eq!(r.subject, "Got it: Cannot log in to my account");
    assert!(r.text.starts_with("Number 123456"));

    // A broken custom template shows its error in the preview, but mail
    // still goes out with the default.
    store::mail_templates::save(&conn, "auto_response", "", "{{ broken", "x", "x").unwrap();
    let err = templates::render_preview(&conn, "auto_response", "en").unwrap_err();
    assert!(err.to_string().contains("auto_response"), "{err}");
    drop(conn);
    let (_, number) = new_ticket(env.pipe(&customer_mail(
        "t@customer.example",
        "tpl@customer.example",
        "Template",
        "",
    )));
    let subject: String = env
        .conn()
        .query_row(
            "SELECT subject FROM outbox WHERE kind = 'auto_response'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(subject, format!("[#{number}] Template"));
}

#[test]
fn customer_mail_comes_from_the_department_address() {
    if !have_sink() {
        return;
    }
    let port = free_port();
    let env = Env::new(port);
    let sink = Sink::start(port, &env.dir.path().join("sink"), &[]);
    env.conn()
        .execute(
            "UPDATE departments SET email = 'billing@help.example.test', email_name = 'Billing Team' WHERE id = 1",
            [],
        )
        .unwrap();
    new_ticket(env.pipe(&customer_mail(
        "Dana <dana@customer.example>",
        "dept@customer.example",
        "Department",
        "",
    )));
    // The envelope sender is fixed when the auto-response is queued; the
    // message itself is rendered by the worker when it is sent.
    let from: String = env
        .conn()
        .query_row(
            "SELECT envelope_from FROM outbox WHERE kind = 'auto_response'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(from, "billing@help.example.test");
    assert_eq!(env.deliver().sent, 1);
    let got = sink.wait_for(1);
    let m = mailparse::parse_mail(&got[0]).unwrap();
    assert_eq!(
        header(&m, "From"),
        "\"Billing Team\" <billing@help.example.test>"
    );
    // The department's own address is one of ours: no auto-response to it.
    new_ticket(env.pipe(&customer_mail(
        "billing@help.example.test",
        "dept-loop@help.example.test",
        "Loop",
        "",
    )));
    assert_eq!(env.outbox("auto_response").len(), 1);
}

#[test]
fn access_link_and_password_reset_mails_for_the_portal_and_staff() {
    configure();
    let env = Env::new(1);
    let (ticket, number) = new_ticket(env.pipe(&customer_mail(
        "Dana <dana@customer.example>",
        "portal@customer.example",
        "Portal",
        "",
    )));
    let conn = env.conn();
    let q = oxidesk::mail::send::notify::queue_access_link(&conn, ticket, "dana@customer.example")
        .unwrap()
        .expect("queued");
    let raw = store::outbox::raw(&conn, q.id).unwrap().unwrap();
    let m = mailparse::parse_mail(&raw).unwrap();
    assert_eq!(
        header(&m, "Subject"),
        format!("Access to ticket [#{number}] Portal")
    );
    let text = text_part(&m);
    let token = text
        .split_whitespace()
        .find_map(|w| w.split_once("?t=").map(|(_, t)| t.to_string()))
        .expect("a link");
    let secret = links::secret(&conn, "").unwrap();
    assert_eq!(
        links::verify(&secret, &token, store::now()).unwrap().ticket,
        ticket
    );

    let q = oxidesk::mail::send::notify::queue_password_reset(
        &conn,
        "Alex Agent",
        "alex@help.example.test",
        Some("fa"),
        "https://help.example.test/staff/reset?t=abc",
    )
    .unwrap();
    let raw = store::outbox::raw(&conn, q.id).unwrap().unwrap();
    let m = mailparse::parse_mail(&raw).unwrap();
    assert!(text_part(&m).contains("https://help.example.test/staff/reset?t=abc"));
    assert!(header(&m, "To").contains("alex@help.example.test"));
}

#[test]
fn a_transfer_alerts_the_new_department() {
    configure();
    let env = Env::new(1);
    let alex = env.staff("Alex", "alex@help.example.test");
    let billing = {
        let c = env.conn();
        c.execute(
            "INSERT INTO departments (name, created_at) VALUES ('Billing', 0)",
            [],
        )
        .unwrap();
        let id = c.last_insert_rowid();
        c.execute(
            "INSERT INTO staff (email, name, password_hash, created_at)
             VALUES ('bill@help.example.test', 'Bill', 'x', 0)",
            [],
        )
        .unwrap();
        c.execute(
            "INSERT INTO staff_departments (staff_id, department_id) VALUES (?1, ?2)",
            [c.last_insert_rowid(), id],
        )
        .unwrap();
        oxidesk::model::DepartmentId(id)
    };
    let (ticket, _) = new_ticket(env.pipe(&customer_mail(
        "Dana <dana@customer.example>",
        "transfer@customer.example",
        "Refund",
        "",
    )));
    let actor = Actor::Staff {
        id: alex,
        name: "Alex".into(),
    };
    tickets::transfer(&env.store, &actor, ticket, billing).unwrap();
    let to: Vec<_> = env
        .outbox("alert_transferred")
        .into_iter()
        .map(|r| r.2)
        .collect();
    assert_eq!(to, vec!["bill@help.example.test"]);
    let subject: String = env
        .conn()
        .query_row(
            "SELECT subject FROM outbox WHERE kind = 'alert_transferred'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(subject.starts_with("Transferred to Billing"), "{subject}");
}
