//! Customer access on the portal: "check ticket status" and access links,
//! customer accounts (register, verify, sign in and out, reset), the
//! customer's ticket page (thread without notes, attachments, reply, close)
//! and isolation between customers.

#[path = "web_support/mod.rs"]
mod web_support;

use rocket::http::{ContentType, Header, Status};
use rocket::local::blocking::Client;

use oxidesk::model::{Source, TicketId};
use oxidesk::store::{self, settings};
use oxidesk::tickets::events::Actor;
use oxidesk::tickets::{self, links, Body, NewAttachment, NewTicket, Note, Reply};
use oxidesk::web::auth;
use web_support::*;

const PASSWORD: &str = "a long enough secret";

/// The CSRF token of a signed-out browser (after it saw a portal page).
fn pcsrf(c: &Client) -> String {
    c.get("/portal/status").dispatch();
    let pre = c
        .cookies()
        .get(auth::PRE_COOKIE)
        .expect("a pre-session cookie")
        .value()
        .to_string();
    auth::csrf_for(&pre)
}

fn ppost<'c>(c: &'c Client, url: &str, body: &str) -> rocket::local::blocking::LocalResponse<'c> {
    let token = pcsrf(c);
    c.post(url.to_string())
        .header(ContentType::Form)
        .body(format!("_csrf={token}&{body}"))
        .dispatch()
}

fn number_of(d: &Desk, t: TicketId) -> String {
    q(d, &format!("SELECT number FROM tickets WHERE id = {}", t.0))
}

fn link_for(d: &Desk, t: TicketId, email: &str, expires: i64) -> String {
    let conn = d.store.conn().unwrap();
    let secret = links::secret(&conn, "").unwrap();
    let token = links::sign(&secret, t, email, expires);
    format!("/portal/tickets/{}?t={token}", number_of(d, t))
}

/// Open the portal with an access link; returns the client holding the
/// grant.
fn with_link(d: &Desk, t: TicketId) -> Client {
    let c = client(d);
    let r = c
        .get(link_for(d, t, "customer@example.com", store::now() + 3600))
        .dispatch();
    assert_eq!(r.status(), Status::SeeOther);
    assert_eq!(
        r.headers().get_one("Location").unwrap(),
        format!("/portal/tickets/{}", number_of(d, t))
    );
    drop(r);
    c
}

/// The text parts of a queued mail, decoded.
fn mail_text(raw: &[u8]) -> String {
    fn walk(p: &mailparse::ParsedMail<'_>, out: &mut String) {
        if p.subparts.is_empty() {
            if p.ctype.mimetype == "text/plain" {
                out.push_str(&p.get_body().unwrap_or_default());
            }
        } else {
            for s in &p.subparts {
                walk(s, out);
            }
        }
    }
    let parsed = mailparse::parse_mail(raw).unwrap();
    let mut out = String::new();
    walk(&parsed, &mut out);
    out
}

/// The newest queued mail of `kind` to `to`: its decoded text.
fn last_mail(d: &Desk, kind: &str, to: &str) -> Option<String> {
    let conn = d.store.conn().unwrap();
    conn.query_row(
        "SELECT raw FROM outbox WHERE kind = ?1 AND recipients = ?2 ORDER BY id DESC LIMIT 1",
        [kind, to],
        |r| r.get::<_, Vec<u8>>(0),
    )
    .ok()
    .map(|raw| mail_text(&raw))
}

fn mails(d: &Desk, kind: &str) -> i64 {
    q(
        d,
        &format!("SELECT COUNT(*) FROM outbox WHERE kind = '{kind}'"),
    )
}

/// The first URL in `text` containing `part`, as a local path.
fn path_in(text: &str, part: &str) -> String {
    let url = text
        .split_whitespace()
        .find(|w| w.contains(part))
        .unwrap_or_else(|| panic!("no {part} link in {text}"));
    let at = url.find("/portal/").unwrap();
    url[at..].to_string()
}

/// A second customer with a ticket carrying an attachment.
fn ticket_of_b(d: &Desk) -> (TicketId, i64) {
    let mut new = NewTicket::new(
        Source::Email,
        "bahar@other.example",
        "Bahar Other",
        "B's private matter",
        Body::text("Only B may read this."),
    );
    new.attachments.push(NewAttachment {
        filename: "contract-b.pdf".into(),
        mime_type: "application/pdf".into(),
        data: b"%PDF-1.4 B".to_vec(),
        inline: false,
        content_id: None,
    });
    let t = tickets::open(&d.store, &Actor::System, new).unwrap().ticket;
    let att: i64 = q(
        d,
        &format!(
            "SELECT a.id FROM attachments a JOIN entries e ON e.id = a.entry_id WHERE e.ticket_id = {}",
            t.0
        ),
    );
    (t, att)
}

#[test]
fn status_form_answers_the_same_and_mails_only_the_real_pair() {
    let d = desk();
    let n = number_of(&d, d.ticket);
    let c = client(&d);
    let before = mails(&d, "access_link");
    let real = ppost(
        &c,
        "/portal/status",
        &format!("email=Customer%40Example.com&number={n}"),
    );
    assert_eq!(real.status(), Status::Ok);
    let real = body(real);
    let wrong_email = body(ppost(
        &c,
        "/portal/status",
        &format!("email=someone%40else.example&number={n}"),
    ));
    let missing = body(ppost(
        &c,
        "/portal/status",
        "email=customer%40example.com&number=999999999",
    ));
    // Same page apart from the echoed address.
    assert_eq!(
        real.replace("Customer@Example.com", "X"),
        wrong_email.replace("someone@else.example", "X")
    );
    assert_eq!(
        real.replace("Customer@Example.com", "X"),
        missing.replace("customer@example.com", "X")
    );
    assert!(real.contains("id=\"status-sent\""));
    assert_eq!(mails(&d, "access_link"), before + 1);
    // The mailed link opens exactly that ticket.
    let text = last_mail(&d, "access_link", "customer@example.com").unwrap();
    let path = path_in(&text, "/portal/tickets/");
    let guest = client(&d);
    let r = guest.get(path).dispatch();
    assert_eq!(r.status(), Status::SeeOther);
    let page = body(guest.get(format!("/portal/tickets/{n}")).dispatch());
    assert!(page.contains("Printer on fire"), "{page}");
}

#[test]
fn status_form_validates_and_is_rate_limited_per_address() {
    let d = desk();
    let c = client(&d);
    let r = ppost(&c, "/portal/status", "email=not-an-address&number=12");
    assert_eq!(r.status(), Status::UnprocessableEntity);
    let html = body(r);
    assert!(html.contains("Enter a valid email address"));
    assert!(html.contains("value=\"not-an-address\"") && html.contains("value=\"12\""));
    let r = ppost(&c, "/portal/status", "email=a%40b.example&number=");
    assert_eq!(r.status(), Status::UnprocessableEntity);
    assert!(body(r).contains("Enter the ticket number"));
    for _ in 0..oxidesk::accounts::STATUS_PER_IP_HOUR {
        let r = ppost(&c, "/portal/status", "email=a%40b.example&number=1");
        assert_eq!(r.status(), Status::Ok);
    }
    let r = ppost(&c, "/portal/status", "email=a%40b.example&number=1");
    assert_eq!(r.status(), Status::TooManyRequests);
    assert!(body(r).contains("Too many attempts"));
    // Without the CSRF token nothing happens.
    let r = c
        .post("/portal/status")
        .header(ContentType::Form)
        .body("email=a%40b.example&number=1")
        .dispatch();
    assert_eq!(r.status(), Status::Forbidden);
}

#[test]
fn expired_forged_and_other_ticket_links_are_refused() {
    let d = desk();
    let c = client(&d);
    let n = number_of(&d, d.ticket);
    // Expired: a clear page offering a new link, prefilled.
    let r = c
        .get(link_for(
            &d,
            d.ticket,
            "customer@example.com",
            store::now() - 5,
        ))
        .dispatch();
    assert_eq!(r.status(), Status::Gone);
    let html = body(r);
    assert!(html.contains("This access link has expired"));
    assert!(html.contains("action=\"/portal/status\"") && html.contains(&format!("value=\"{n}\"")));
    // Forged: signed with another secret, or altered.
    let token = links::sign(
        b"not our secret",
        d.ticket,
        "customer@example.com",
        store::now() + 99,
    );
    let r = c.get(format!("/portal/tickets/{n}?t={token}")).dispatch();
    assert_eq!(r.status(), Status::Forbidden);
    assert!(body(r).contains("This access link is not valid"));
    let r = c.get(format!("/portal/tickets/{n}?t=garbage")).dispatch();
    assert_eq!(r.status(), Status::Forbidden);
    // A link for ticket A does not open ticket B, even under B's number.
    let (b, _) = ticket_of_b(&d);
    let good_a = link_for(&d, d.ticket, "customer@example.com", store::now() + 99);
    let token = good_a.split("?t=").nth(1).unwrap();
    let r = c
        .get(format!("/portal/tickets/{}?t={token}", number_of(&d, b)))
        .dispatch();
    assert_eq!(r.status(), Status::Forbidden);
    // A link whose address does not own the ticket is refused.
    let r = c
        .get(link_for(&d, b, "customer@example.com", store::now() + 99))
        .dispatch();
    assert_eq!(r.status(), Status::Forbidden);
    // None of that left a grant behind.
    let r = c.get(format!("/portal/tickets/{n}")).dispatch();
    assert_eq!(r.status(), Status::NotFound);
    assert!(body(r).contains("Ticket not found"));
}

#[test]
fn a_link_grants_exactly_one_ticket() {
    let d = desk();
    let (b, b_att) = ticket_of_b(&d);
    let c = with_link(&d, d.ticket);
    let grant = c.cookies().get("oxd_grants").unwrap().clone();
    assert!(grant.http_only().unwrap_or(false));
    assert_eq!(grant.same_site(), Some(rocket::http::SameSite::Lax));
    let html = body(
        c.get(format!("/portal/tickets/{}", number_of(&d, d.ticket)))
            .dispatch(),
    );
    assert!(html.contains("Printer on fire") && html.contains("photo.png"));
    // The same customer's other ticket needs its own link.
    let r = c
        .get(format!("/portal/tickets/{}", number_of(&d, d.other)))
        .dispatch();
    assert_eq!(r.status(), Status::NotFound);
    // B's ticket, attachment, reply and close are out of reach.
    let nb = number_of(&d, b);
    let r = c.get(format!("/portal/tickets/{nb}")).dispatch();
    assert_eq!(r.status(), Status::NotFound);
    assert!(!body(r).contains("private matter"));
    assert_eq!(
        c.get(format!("/portal/attachments/{b_att}"))
            .dispatch()
            .status(),
        Status::NotFound
    );
    let token = pcsrf(&c);
    let (ct, data) = multipart(&token, &[("body", "hijack")], &[]);
    let r = c
        .post(format!("/portal/tickets/{nb}/reply"))
        .header(ct)
        .body(data)
        .dispatch();
    assert_eq!(r.status(), Status::NotFound);
    let r = ppost(&c, &format!("/portal/tickets/{nb}/close"), "x=1");
    assert_eq!(r.status(), Status::NotFound);
    let entries: i64 = q(
        &d,
        &format!("SELECT COUNT(*) FROM entries WHERE ticket_id = {}", b.0),
    );
    assert_eq!(entries, 1);
    let status: String = q(
        &d,
        &format!("SELECT status FROM tickets WHERE id = {}", b.0),
    );
    assert_eq!(status, "open");
    // A's own attachment downloads, as an attachment or a safe inline image.
    let r = c
        .get(format!("/portal/attachments/{}", d.attachment))
        .dispatch();
    assert_eq!(r.status(), Status::Ok);
    assert!(r
        .headers()
        .get_one("Content-Disposition")
        .unwrap()
        .starts_with("attachment;"));
    assert_eq!(
        r.headers().get_one("X-Content-Type-Options"),
        Some("nosniff")
    );
    let r = c
        .get(format!("/portal/attachments/{}?inline=true", d.attachment))
        .dispatch();
    assert!(r
        .headers()
        .get_one("Content-Disposition")
        .unwrap()
        .starts_with("inline;"));
    assert_eq!(r.content_type(), Some(ContentType::PNG));
}

#[test]
fn mailed_notification_links_give_direct_access() {
    let d = desk();
    // The auto-response of the desk's first ticket carries a link.
    let raw: Vec<u8> = d
        .store
        .conn()
        .unwrap()
        .query_row(
            "SELECT raw FROM outbox WHERE kind = 'auto_response' AND ticket_id = ?1",
            [d.ticket.0],
            |r| r.get(0),
        )
        .expect("an auto-response");
    let text = mail_text(&raw);
    let path = path_in(&text, "/portal/tickets/");
    let c = client(&d);
    assert_eq!(c.get(path).dispatch().status(), Status::SeeOther);
    // A staff response's link too.
    tickets::add_response(
        &d.store,
        &Actor::Staff {
            id: d.alice,
            name: "Alice".into(),
        },
        d.other,
        Reply {
            body: Body::text("Invoices are in your client area."),
            ..Reply::default()
        },
    )
    .unwrap();
    let text = last_mail(&d, "response", "customer@example.com").unwrap();
    let path = path_in(&text, "/portal/tickets/");
    assert_eq!(c.get(path).dispatch().status(), Status::SeeOther);
    let html = body(
        c.get(format!("/portal/tickets/{}", number_of(&d, d.other)))
            .dispatch(),
    );
    assert!(html.contains("Invoices are in your client area."));
    assert!(html.contains("Answered, waiting for you"));
    assert!(html.contains("The Support team is handling your ticket"));
    // Both grants are kept.
    let html = body(
        c.get(format!("/portal/tickets/{}", number_of(&d, d.ticket)))
            .dispatch(),
    );
    assert!(html.contains("Printer on fire"));
}

#[test]
fn internal_notes_never_reach_the_portal() {
    let d = desk();
    let alice = Actor::Staff {
        id: d.alice,
        name: "Alice".into(),
    };
    tickets::add_note(
        &d.store,
        &alice,
        d.ticket,
        Note {
            body: Body::text("SECRET-NOTE: customer owes us money"),
            attachments: vec![NewAttachment {
                filename: "internal-ledger.csv".into(),
                mime_type: "text/csv".into(),
                data: b"who,owes\nkamran,100".to_vec(),
                inline: false,
                content_id: None,
            }],
        },
    )
    .unwrap();
    tickets::assign(&d.store, &alice, d.ticket, Some(d.alice)).unwrap();
    let note_att: i64 = q(
        &d,
        "SELECT a.id FROM attachments a JOIN entries e ON e.id = a.entry_id WHERE e.kind = 'note'",
    );
    let c = with_link(&d, d.ticket);
    let html = body(
        c.get(format!("/portal/tickets/{}", number_of(&d, d.ticket)))
            .dispatch(),
    );
    assert!(html.contains("The printer is on fire"));
    assert!(!html.contains("SECRET-NOTE") && !html.contains("internal-ledger"));
    assert!(html.contains("Alice is handling your ticket"), "{html}");
    assert_eq!(
        c.get(format!("/portal/attachments/{note_att}"))
            .dispatch()
            .status(),
        Status::NotFound
    );
}

#[test]
fn customer_replies_reopen_and_close_works() {
    let d = desk();
    let n = number_of(&d, d.ticket);
    let c = with_link(&d, d.ticket);
    // Close: the status and the event record the customer.
    let r = ppost(&c, &format!("/portal/tickets/{n}/close"), "x=1");
    assert_eq!(r.status(), Status::SeeOther);
    let status: String = q(
        &d,
        &format!("SELECT status FROM tickets WHERE id = {}", d.ticket.0),
    );
    assert_eq!(status, "closed");
    let actor: String = q(
        &d,
        &format!(
            "SELECT actor FROM events WHERE ticket_id = {} AND kind = 'status_changed' ORDER BY id DESC LIMIT 1",
            d.ticket.0
        ),
    );
    assert_eq!(actor, "Kamran Customer");
    let html = body(c.get(format!("/portal/tickets/{n}?closed=true")).dispatch());
    assert!(html.contains("Your ticket is closed") && html.contains("Replying reopens it"));
    // An empty reply is refused beside the field.
    let token = pcsrf(&c);
    let (ct, data) = multipart(&token, &[("body", "   ")], &[]);
    let r = c
        .post(format!("/portal/tickets/{n}/reply"))
        .header(ct)
        .body(data)
        .dispatch();
    assert_eq!(r.status(), Status::UnprocessableEntity);
    assert!(body(r).contains("Write a message before sending."));
    // A reply with a file reopens it.
    let (ct, data) = multipart(
        &token,
        &[("body", "Still broken, see the log. هنوز خراب است")],
        &[("attachments", "log.txt", b"line 1\nline 2")],
    );
    let r = c
        .post(format!("/portal/tickets/{n}/reply"))
        .header(ct)
        .body(data)
        .dispatch();
    assert_eq!(r.status(), Status::SeeOther);
    let status: String = q(
        &d,
        &format!("SELECT status FROM tickets WHERE id = {}", d.ticket.0),
    );
    assert_eq!(status, "open");
    let html = body(c.get(format!("/portal/tickets/{n}?sent=true")).dispatch());
    assert!(html.contains("هنوز خراب است") && html.contains("log.txt"));
    let kind: String = q(
        &d,
        &format!(
            "SELECT kind FROM entries WHERE ticket_id = {} ORDER BY id DESC LIMIT 1",
            d.ticket.0
        ),
    );
    assert_eq!(kind, "message");
    // With reopening switched off, a reply leaves a closed ticket closed.
    settings::set(&d.store.conn().unwrap(), "tickets.reopen_on_reply", "false").unwrap();
    assert_eq!(
        ppost(&c, &format!("/portal/tickets/{n}/close"), "x=1").status(),
        Status::SeeOther
    );
    let (ct, data) = multipart(&token, &[("body", "thanks")], &[]);
    c.post(format!("/portal/tickets/{n}/reply"))
        .header(ct)
        .body(data)
        .dispatch();
    let status: String = q(
        &d,
        &format!("SELECT status FROM tickets WHERE id = {}", d.ticket.0),
    );
    assert_eq!(status, "closed");
}

fn register<'c>(
    c: &'c Client,
    name: &str,
    email: &str,
    pw: &str,
    pw2: &str,
) -> rocket::local::blocking::LocalResponse<'c> {
    ppost(
        c,
        "/portal/register",
        &format!(
            "name={}&email={}&password={}&password2={}",
            enc(name),
            enc(email),
            enc(pw),
            enc(pw2)
        ),
    )
}

fn login_portal<'c>(
    c: &'c Client,
    email: &str,
    pw: &str,
) -> rocket::local::blocking::LocalResponse<'c> {
    ppost(
        c,
        "/portal/login",
        &format!(
            "email={}&password={}&next=%2Fportal%2Ftickets",
            enc(email),
            enc(pw)
        ),
    )
}

/// Register, verify through the mailed link and sign in.
fn signed_in(d: &Desk, name: &str, email: &str) -> Client {
    let c = client(d);
    assert_eq!(
        register(&c, name, email, PASSWORD, PASSWORD).status(),
        Status::Ok
    );
    let text = last_mail(d, "account_verify", email).expect("a verification mail");
    let r = c.get(path_in(&text, "/portal/verify")).dispatch();
    assert_eq!(r.status(), Status::Ok);
    drop(r);
    let r = login_portal(&c, email, PASSWORD);
    let status = r.status();
    let page = body(r);
    assert_eq!(status, Status::SeeOther, "{page}");
    c
}

#[test]
fn register_verify_login_logout() {
    let d = desk();
    let c = client(&d);
    // Every field error shows beside its field, typed values kept.
    let r = register(&c, "", "kamran@x.example", PASSWORD, PASSWORD);
    assert_eq!(r.status(), Status::UnprocessableEntity);
    assert!(body(r).contains("Enter your name."));
    let r = register(&c, "Kamran", "nope", PASSWORD, PASSWORD);
    assert_eq!(r.status(), Status::UnprocessableEntity);
    let html = body(r);
    assert!(html.contains("Enter a valid email address") && html.contains("value=\"Kamran\""));
    let r = register(&c, "Kamran", "customer@example.com", "short", "short");
    assert!(body(r).contains("at least 10 characters"));
    let r = register(
        &c,
        "Kamran",
        "customer@example.com",
        PASSWORD,
        "other password!",
    );
    assert!(body(r).contains("The two passwords are not the same."));
    // Registering: a verification mail, and no sign-in before it is used.
    let r = register(&c, "Kamran", "customer@example.com", PASSWORD, PASSWORD);
    assert_eq!(r.status(), Status::Ok);
    assert!(body(r).contains("Check your email"));
    assert_eq!(mails(&d, "account_verify"), 1);
    let r = login_portal(&c, "customer@example.com", PASSWORD);
    assert_eq!(r.status(), Status::Forbidden);
    assert!(body(r).contains("confirm your email address first"));
    assert_eq!(mails(&d, "account_verify"), 2, "a fresh link on sign-in");
    assert_eq!(
        c.get("/portal/tickets").dispatch().status(),
        Status::SeeOther,
        "no session"
    );
    // A bad token is refused; the mailed one works once.
    let r = c.get("/portal/verify?token=deadbeef").dispatch();
    assert_eq!(r.status(), Status::Gone);
    let text = last_mail(&d, "account_verify", "customer@example.com").unwrap();
    let verify = path_in(&text, "/portal/verify");
    assert_eq!(c.get(verify.clone()).dispatch().status(), Status::Ok);
    assert_eq!(c.get(verify).dispatch().status(), Status::Gone);
    // Wrong password, then the right one.
    let r = login_portal(&c, "customer@example.com", "wrong password!!");
    assert_eq!(r.status(), Status::Unauthorized);
    assert!(body(r).contains("The email address or password is not right."));
    let r = login_portal(&c, "Customer@Example.com", PASSWORD);
    assert_eq!(r.status(), Status::SeeOther);
    assert_eq!(r.headers().get_one("Location"), Some("/portal/tickets"));
    let cookie = c.cookies().get("oxd_customer").unwrap().clone();
    assert!(cookie.http_only().unwrap_or(false));
    assert!(
        c.cookies().get(auth::SESSION_COOKIE).is_none(),
        "not a staff session"
    );
    // My tickets: both of the customer's tickets, with status.
    let html = body(c.get("/portal/tickets").dispatch());
    assert!(html.contains("Printer on fire") && html.contains("Second question"));
    assert!(html.contains("Waiting for our answer"));
    // The session opens the customer's tickets without links; forms carry
    // a CSRF token that validates.
    let n = number_of(&d, d.other);
    let html = body(c.get(format!("/portal/tickets/{n}")).dispatch());
    assert!(html.contains("Another thing about invoices"));
    let first = html.find("<form").unwrap();
    assert!(html[first..].contains("name=\"_csrf\""));
    let token = pcsrf(&c);
    let (ct, data) = multipart(&token, &[("body", "from my account")], &[]);
    let r = c
        .post(format!("/portal/tickets/{n}/reply"))
        .header(ct)
        .body(data)
        .dispatch();
    assert_eq!(r.status(), Status::SeeOther);
    // Staff pages stay closed to a customer session.
    let r = c.get(format!("/tickets/{}", d.other.0)).dispatch();
    assert_ne!(r.status(), Status::Ok);
    // Sign out ends the session.
    let r = ppost(&c, "/portal/logout", "x=1");
    assert_eq!(r.status(), Status::SeeOther);
    assert_eq!(
        c.get("/portal/tickets").dispatch().status(),
        Status::SeeOther
    );
    let sessions: i64 = q(&d, "SELECT COUNT(*) FROM customer_sessions");
    assert_eq!(sessions, 0);
}

#[test]
fn registering_an_existing_account_tells_nothing() {
    let d = desk();
    let _a = signed_in(&d, "Kamran", "customer@example.com");
    let c = client(&d);
    let again = body(register(
        &c,
        "Mallory",
        "customer@example.com",
        PASSWORD,
        PASSWORD,
    ));
    let fresh = body(register(
        &c,
        "Newcomer",
        "new@x.example",
        PASSWORD,
        PASSWORD,
    ));
    assert_eq!(again, fresh);
    // The owner gets a reset mail instead, and the password is unchanged.
    assert!(last_mail(&d, "password_reset", "customer@example.com").is_some());
    assert_eq!(
        login_portal(&c, "customer@example.com", PASSWORD).status(),
        Status::SeeOther
    );
}

#[test]
fn password_reset_is_single_use_and_tells_nothing() {
    let d = desk();
    let _a = signed_in(&d, "Kamran", "customer@example.com");
    let c = client(&d);
    let r = ppost(&c, "/portal/reset", "email=nobody%40x.example");
    assert_eq!(r.status(), Status::Ok);
    let unknown = body(r);
    assert_eq!(mails(&d, "password_reset"), 0);
    let known = body(ppost(&c, "/portal/reset", "email=customer%40example.com"));
    assert_eq!(unknown, known);
    let r = ppost(&c, "/portal/reset", "email=bad");
    assert_eq!(r.status(), Status::UnprocessableEntity);
    let text = last_mail(&d, "password_reset", "customer@example.com").unwrap();
    let link = path_in(&text, "/portal/reset?token=");
    let token = link.split("token=").nth(1).unwrap().to_string();
    let r = c.get(link.clone()).dispatch();
    assert_eq!(r.status(), Status::Ok);
    assert!(body(r).contains("Choose a new password"));
    // Errors beside the field, then success, then the link is spent.
    let r = ppost(
        &c,
        "/portal/reset/new",
        &format!("token={token}&password=short&password2=short"),
    );
    assert_eq!(r.status(), Status::UnprocessableEntity);
    let newpw = "another long secret";
    let r = ppost(
        &c,
        "/portal/reset/new",
        &format!(
            "token={token}&password={}&password2={}",
            enc(newpw),
            enc(newpw)
        ),
    );
    assert_eq!(r.status(), Status::Ok);
    assert!(body(r).contains("Password changed"));
    assert_eq!(c.get(link).dispatch().status(), Status::Gone);
    let r = ppost(
        &c,
        "/portal/reset/new",
        &format!(
            "token={token}&password={}&password2={}",
            enc(newpw),
            enc(newpw)
        ),
    );
    assert_eq!(r.status(), Status::Gone);
    // Existing sessions ended; the old password no longer works.
    assert_eq!(q::<i64>(&d, "SELECT COUNT(*) FROM customer_sessions"), 0);
    assert_eq!(
        login_portal(&c, "customer@example.com", PASSWORD).status(),
        Status::Unauthorized
    );
    assert_eq!(
        login_portal(&c, "customer@example.com", newpw).status(),
        Status::SeeOther
    );
}

#[test]
fn sign_in_is_throttled() {
    let d = desk();
    let _a = signed_in(&d, "Kamran", "customer@example.com");
    let c = client(&d);
    for _ in 0..oxidesk::accounts::MAX_FAILURES_PER_ACCOUNT {
        assert_eq!(
            login_portal(&c, "customer@example.com", "wrong password!!").status(),
            Status::Unauthorized
        );
    }
    let r = login_portal(&c, "customer@example.com", PASSWORD);
    assert_eq!(r.status(), Status::TooManyRequests);
}

#[test]
fn sessions_are_isolated_between_customers() {
    let d = desk();
    let (b, b_att) = ticket_of_b(&d);
    let a = signed_in(&d, "Kamran", "customer@example.com");
    let nb = number_of(&d, b);
    let html = body(a.get("/portal/tickets").dispatch());
    assert!(!html.contains("private matter"));
    assert_eq!(
        a.get(format!("/portal/tickets/{nb}")).dispatch().status(),
        Status::NotFound
    );
    assert_eq!(
        a.get(format!("/portal/attachments/{b_att}"))
            .dispatch()
            .status(),
        Status::NotFound
    );
    let token = pcsrf(&a);
    let (ct, data) = multipart(&token, &[("body", "hijack")], &[]);
    let r = a
        .post(format!("/portal/tickets/{nb}/reply"))
        .header(ct)
        .body(data)
        .dispatch();
    assert_eq!(r.status(), Status::NotFound);
    assert_eq!(
        ppost(&a, &format!("/portal/tickets/{nb}/close"), "x=1").status(),
        Status::NotFound
    );
    // B sees B's own.
    let bc = signed_in(&d, "Bahar", "bahar@other.example");
    let html = body(bc.get("/portal/tickets").dispatch());
    assert!(html.contains("private matter") && !html.contains("Printer on fire"));
    let r = bc.get(format!("/portal/attachments/{b_att}")).dispatch();
    assert_eq!(r.status(), Status::Ok);
    assert_eq!(r.content_type(), Some(ContentType::Binary));
}

#[test]
fn accounts_can_be_switched_off_and_pages_speak_persian() {
    let d = desk();
    let c = client(&d);
    let html = body(c.get("/portal/status?lang=fa").dispatch());
    assert!(html.contains("dir=\"rtl\"") && html.contains("پیوند دسترسی را برایم ایمیل کن"));
    assert!(html.contains("href=\"/portal/login\""));
    let html = body(c.get("/portal/register").dispatch());
    assert!(html.contains("ساخت حساب کاربری"));
    let c = client(&d);
    let html = body(
        c.get("/portal/login")
            .header(Header::new("Accept-Language", "en"))
            .dispatch(),
    );
    assert!(html.contains("Sign in to see your tickets"));
    settings::set(&d.store.conn().unwrap(), "portal.accounts", "off").unwrap();
    for path in [
        "/portal/login",
        "/portal/register",
        "/portal/reset",
        "/portal/tickets",
    ] {
        assert_eq!(c.get(path).dispatch().status(), Status::NotFound, "{path}");
    }
    let html = body(c.get("/portal/status").dispatch());
    assert!(!html.contains("href=\"/portal/login\""));
    // Access links still work without accounts.
    let c = with_link(&d, d.ticket);
    let r = c
        .get(format!("/portal/tickets/{}", number_of(&d, d.ticket)))
        .dispatch();
    assert_eq!(r.status(), Status::Ok);
}

#[test]
fn required_accounts_ask_to_sign_in_before_opening_a_ticket() {
    let d = desk();
    let c = client(&d);
    assert_eq!(c.get("/portal/open").dispatch().status(), Status::Ok);
    settings::set(&d.store.conn().unwrap(), "portal.accounts", "required").unwrap();
    let r = c.get("/portal/open?topic=1").dispatch();
    assert_eq!(r.status(), Status::SeeOther);
    let to = r.headers().get_one("Location").unwrap().to_string();
    assert_eq!(to, "/portal/login?next=%2Fportal%2Fopen&why=required");
    let html = body(c.get(to).dispatch());
    assert!(html.contains("Please sign in or create an account to open a ticket."));
    assert!(html.contains("name=\"next\" value=\"&#x2F;portal&#x2F;open\""));
    // A post without a session is turned away too, and opens nothing.
    let tickets: i64 = q(&d, "SELECT COUNT(*) FROM tickets");
    let r = ppost(
        &c,
        "/portal/open",
        "email=x%40y.example&subject=s&message=m",
    );
    assert_eq!(r.status(), Status::SeeOther);
    assert_eq!(q::<i64>(&d, "SELECT COUNT(*) FROM tickets"), tickets);
    // Signed in, the form is there.
    let a = signed_in(&d, "Kamran", "customer@example.com");
    assert_eq!(a.get("/portal/open").dispatch().status(), Status::Ok);
}

#[test]
fn a_persian_registration_gets_persian_mail() {
    let d = desk();
    let c = client(&d);
    c.get("/portal/register?lang=fa").dispatch();
    let r = register(&c, "مریم", "maryam@example.ir", PASSWORD, PASSWORD);
    assert_eq!(r.status(), Status::Ok);
    assert!(body(r).contains("ایمیل خود را ببینید"));
    let text = last_mail(&d, "account_verify", "maryam@example.ir").unwrap();
    assert!(text.contains("نشانی ایمیل خود را تأیید کنید"), "{text}");
    let locale: String = q(
        &d,
        "SELECT c.locale FROM customers c JOIN customer_identities i ON i.customer_id = c.id
         WHERE i.email = 'maryam@example.ir'",
    );
    assert_eq!(locale, "fa");
}

#[test]
fn reply_uploads_follow_the_portal_rules() {
    let d = desk();
    let n = number_of(&d, d.ticket);
    let c = with_link(&d, d.ticket);
    let token = pcsrf(&c);
    let send = |files: &[(&str, &str, &[u8])]| {
        let (ct, data) = multipart(&token, &[("body", "files attached")], files);
        let r = c
            .post(format!("/portal/tickets/{n}/reply"))
            .header(ct)
            .body(data)
            .dispatch();
        (r.status(), body(r))
    };
    let (status, html) = send(&[("attachments", "setup.exe", b"MZ")]);
    assert_eq!(status, Status::UnprocessableEntity);
    assert!(
        html.contains("setup.exe is of a type we do not accept"),
        "{html}"
    );
    assert!(html.contains("files attached"), "the draft is kept");
    settings::set(&d.store.conn().unwrap(), "attachments.max_files", "1").unwrap();
    let (status, html) = send(&[
        ("attachments", "a.txt", b"a"),
        ("attachments", "b.txt", b"b"),
    ]);
    assert_eq!(status, Status::UnprocessableEntity);
    assert!(html.contains("Attach at most 1 files."));
    settings::set(&d.store.conn().unwrap(), "attachments.max_file_bytes", "3").unwrap();
    let (status, html) = send(&[("attachments", "big.txt", b"too big")]);
    assert_eq!(status, Status::UnprocessableEntity);
    assert!(html.contains("big.txt is larger than allowed"));
    let entries: i64 = q(
        &d,
        &format!(
            "SELECT COUNT(*) FROM entries WHERE ticket_id = {}",
            d.ticket.0
        ),
    );
    assert_eq!(entries, 1, "nothing was added");
    // A name with a path and a direction override is cleaned.
    let (status, _) = send(&[("attachments", "..\\\\dir\\\\\u{202E}gpj.txt", b"ok")]);
    assert_eq!(status, Status::SeeOther);
    let name: String = q(
        &d,
        "SELECT filename FROM attachments ORDER BY id DESC LIMIT 1",
    );
    assert_eq!(name, "gpj.txt");
}
