//! Route tests for the staff UI, work side: queues, search, the ticket
//! page and every action on it, bulk actions, locks, canned responses and
//! the queue query plans.

mod web_support;

use rocket::http::{ContentType, Header, Status};
use rocket::local::blocking::Client;

use oxidesk::model::{DepartmentId, StaffId};
use oxidesk::store::{self, Store, StoreOptions};
use oxidesk::tickets;
use oxidesk::tickets::events::Actor;
use web_support::*;

#[test]
fn queues_counts_filters_and_search() {
    let d = desk();
    let alice = login(&d, "alice@desk.test");
    let page = body(alice.get("/queues/open").dispatch());
    assert!(page.contains("Printer on fire") && page.contains("Second question"));
    assert!(page.contains("lang=\"en\"") && page.contains("dir=\"ltr\""));
    assert!(page.contains("dir=\"auto\""));
    // Navigation counts: two open, both unassigned.
    let counts = oxidesk::store::queues::counts(
        &d.store.conn().unwrap(),
        oxidesk::store::queues::Scope {
            staff: d.alice,
            admin: false,
        },
    )
    .unwrap();
    assert_eq!((counts.open, counts.unassigned, counts.mine), (2, 2, 0));
    tickets::assign(&d.store, &Actor::System, d.ticket, Some(d.alice)).unwrap();
    let page = body(alice.get("/queues/mine").dispatch());
    assert!(page.contains("Printer on fire") && !page.contains("Second question"));
    let page = body(alice.get("/queues/unassigned").dispatch());
    assert!(!page.contains("Printer on fire") && page.contains("Second question"));
    // Filters and sorting.
    let page = body(
        alice
            .get(format!(
                "/queues/open?assignee={}&sort=number&dir=asc",
                d.alice
            ))
            .dispatch(),
    );
    assert!(page.contains("Printer on fire") && !page.contains("Second question"));
    let page = body(alice.get("/queues/open?priority=4").dispatch());
    assert!(!page.contains("Printer on fire"));
    let page = body(alice.get("/queues/open?source=phone").dispatch());
    assert!(!page.contains("Printer on fire"));
    assert_eq!(
        alice.get("/queues/nonsense").dispatch().status(),
        Status::NotFound
    );
    // Search highlights words in subjects, bodies and addresses.
    let page = body(alice.get("/search?q=invoices").dispatch());
    assert!(page.contains("<mark>invoices</mark>"), "{page}");
    let page = body(alice.get("/search?q=%22%3Cscript%3E").dispatch());
    assert!(!page.contains("<script>"));
    // A ticket number goes straight to the ticket.
    let number: String = q(
        &d,
        &format!("SELECT number FROM tickets WHERE id = {}", d.ticket),
    );
    let r = alice.get(format!("/search?q={number}")).dispatch();
    assert_eq!(
        r.headers().get_one("Location"),
        Some(format!("/tickets/{}", d.ticket).as_str())
    );
}

#[test]
fn reply_with_attachment_note_and_property_changes() {
    let d = desk();
    let alice = login(&d, "alice@desk.test");
    let t = d.ticket;
    // The thread as this page saw it, for the stale reply below.
    let seen: i64 = q(
        &d,
        &format!("SELECT MAX(id) FROM entries WHERE ticket_id = {t}"),
    );
    let r = reply(
        &d,
        &alice,
        t,
        "We are sending a fire extinguisher.",
        &[("attachments", "manual.txt", b"pull the pin")],
    );
    assert_eq!(r.status(), Status::SeeOther);
    let (kind, status): (String, String) = {
        let conn = d.store.conn().unwrap();
        conn.query_row(
            &format!("SELECT e.kind, t.status FROM entries e JOIN tickets t ON t.id = e.ticket_id WHERE t.id = {t} ORDER BY e.id DESC LIMIT 1"),
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
    };
    assert_eq!((kind.as_str(), status.as_str()), ("response", "answered"));
    let att: String = q(
        &d,
        "SELECT filename FROM attachments WHERE filename = 'manual.txt'",
    );
    assert_eq!(att, "manual.txt");
    // The new attachment downloads as an attachment, never sniffed.
    let att_id: i64 = q(
        &d,
        "SELECT id FROM attachments WHERE filename = 'manual.txt'",
    );
    let r = alice
        .get(format!("/attachments/{att_id}?inline=true"))
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
    assert_eq!(body(r), "pull the pin");
    // Safe images show inline, through the very URL the page uses.
    let page = body(alice.get(format!("/tickets/{t}")).dispatch());
    let thumb = format!("/attachments/{}?inline=true", d.attachment);
    assert!(page.contains(&format!("<img src=\"{thumb}\"")), "{page}");
    let r = alice
        .get(format!("/attachments/{}?inline=true", d.attachment))
        .dispatch();
    assert!(r
        .headers()
        .get_one("Content-Disposition")
        .unwrap()
        .starts_with("inline;"));
    assert_eq!(r.content_type(), Some(ContentType::PNG));

    // A reply based on a stale page is held back with the draft kept.
    let (ct, data) = multipart(
        &csrf(&alice),
        &[("body", "Stale draft"), ("seen", &seen.to_string())],
        &[],
    );
    let r = alice
        .post(format!("/tickets/{t}/reply"))
        .header(ct)
        .body(data)
        .dispatch();
    assert_eq!(r.status(), Status::Conflict);
    assert!(body(r).contains("Stale draft"));

    assert_eq!(
        post_form(
            &alice,
            &format!("/tickets/{t}/note"),
            "body=Internal+only%3A+the+customer+is+grumpy"
        )
        .status(),
        Status::SeeOther
    );
    assert_eq!(
        post_form(
            &alice,
            &format!("/tickets/{t}/assign"),
            &format!("assignee={}", d.alice)
        )
        .status(),
        Status::SeeOther
    );
    assert_eq!(
        post_form(&alice, &format!("/tickets/{t}/priority"), "priority=3").status(),
        Status::SeeOther
    );
    assert_eq!(
        post_form(&alice, &format!("/tickets/{t}/due"), "due=2030-01-02T09:30").status(),
        Status::SeeOther
    );
    assert_eq!(
        post_form(&alice, &format!("/tickets/{t}/status"), "status=pending").status(),
        Status::SeeOther
    );
    assert_eq!(
        post_form(&alice, &format!("/tickets/{t}/status"), "status=bogus").status(),
        Status::BadRequest
    );
    let row: (i64, i64, i64, String) = d
        .store
        .conn()
        .unwrap()
        .query_row(
            &format!("SELECT assignee_id, priority_id, due_at, status FROM tickets WHERE id = {t}"),
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
    assert_eq!(row, (d.alice.0, 3, 1893576600, "pending".to_string()));
    // The page shows the thread with the note marked, and the history.
    let page = body(alice.get(format!("/tickets/{t}")).dispatch());
    assert!(page.contains("kind-note") && page.contains("Internal only: the customer is grumpy"));
    assert!(page.contains("kind-response") && page.contains("manual.txt"));
    assert!(page.contains("changed the priority") && page.contains("assigned"));
    assert!(
        page.contains("Second question"),
        "customer panel lists the other ticket"
    );
    // Transfer to Sales takes it out of Alice's reach (she stays assignee,
    // so she still sees it).
    assert_eq!(
        post_form(
            &alice,
            &format!("/tickets/{t}/transfer"),
            &format!("department={}", d.sales)
        )
        .status(),
        Status::SeeOther
    );
    let dept: i64 = q(
        &d,
        &format!("SELECT department_id FROM tickets WHERE id = {t}"),
    );
    assert_eq!(dept, d.sales.0);
}

#[test]
fn internal_notes_are_never_customer_visible() {
    let d = desk();
    let alice = login(&d, "alice@desk.test");
    let t = d.ticket;
    post_form(
        &alice,
        &format!("/tickets/{t}/note"),
        "body=SECRET+NOTE+TEXT",
    );
    let (ct, data) = multipart(&csrf(&alice), &[("body", "Public answer")], &[]);
    alice
        .post(format!("/tickets/{t}/reply"))
        .header(ct)
        .body(data)
        .dispatch();
    let conn = d.store.conn().unwrap();
    // The note is stored as a note, and only the response produced the
    // event outbound mail sends to the customer.
    let kind: String = conn
        .query_row(
            "SELECT kind FROM entries WHERE body_text LIKE '%SECRET NOTE%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(kind, "note");
    let responses: Vec<String> = {
        let mut s = conn
            .prepare("SELECT data FROM events WHERE kind = 'response_added'")
            .unwrap();
        s.query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    assert_eq!(responses.len(), 1);
    let response_entry: i64 = conn
        .query_row("SELECT id FROM entries WHERE kind = 'response'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert!(responses[0].contains(&format!("\"entry\":{response_entry}")));
    let public: Vec<String> = {
        let mut s = conn
            .prepare("SELECT body_text FROM entries WHERE ticket_id = ?1 AND kind != 'note'")
            .unwrap();
        s.query_map([t.0], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    assert!(public.iter().all(|b| !b.contains("SECRET")));
    // Anything already queued for the customer never carries the note.
    let outbox: bool = conn
        .query_row(
            "SELECT EXISTS(SELECT 1 FROM sqlite_master WHERE name = 'outbox')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    if outbox {
        let leaked: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM outbox WHERE CAST(raw AS TEXT) LIKE '%SECRET NOTE%'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(leaked, 0);
    }
}

#[test]
fn merge_spam_ban_and_phone_tickets() {
    let d = desk();
    let alice = login(&d, "alice@desk.test");
    let into_number: String = q(
        &d,
        &format!("SELECT number FROM tickets WHERE id = {}", d.other),
    );
    let r = post_form(
        &alice,
        &format!("/tickets/{}/merge", d.ticket),
        &format!("into={into_number}"),
    );
    assert_eq!(r.status(), Status::SeeOther);
    let merged: i64 = q(
        &d,
        &format!("SELECT merged_into_id FROM tickets WHERE id = {}", d.ticket),
    );
    assert_eq!(merged, d.other.0);
    let r = post_form(
        &alice,
        &format!("/tickets/{}/merge", d.other),
        "into=999999",
    );
    assert_eq!(r.status(), Status::BadRequest);

    let r = post_form(&alice, &format!("/tickets/{}/spam", d.other), "ban=true");
    assert_eq!(r.status(), Status::SeeOther);
    assert!(q::<bool>(
        &d,
        &format!("SELECT is_spam FROM tickets WHERE id = {}", d.other)
    ));
    assert!(store::bans::is_banned(&d.store.conn().unwrap(), "Customer@Example.com").unwrap());
    let page = body(alice.get("/queues/open").dispatch());
    assert!(!page.contains("Second question"), "spam leaves the queues");

    // Phone intake, in a department Alice belongs to.
    let (ct, data) = multipart(
        &csrf(&alice),
        &[
            ("email", "caller@example.org"),
            ("name", "Caller"),
            ("subject", "Called about DNS"),
            ("body", "Customer called: DNS is down."),
            ("department", "1"),
            ("priority", "3"),
        ],
        &[],
    );
    let r = alice.post("/tickets/new").header(ct).body(data).dispatch();
    assert_eq!(r.status(), Status::SeeOther);
    let source: String = q(
        &d,
        "SELECT source FROM tickets WHERE subject = 'Called about DNS'",
    );
    assert_eq!(source, "phone");
    // Not in a department she does not belong to.
    let (ct, data) = multipart(
        &csrf(&alice),
        &[
            ("email", "x@example.org"),
            ("name", "X"),
            ("subject", "Nope"),
            ("body", "x"),
            ("department", &d.sales.0.to_string()),
        ],
        &[],
    );
    assert_eq!(
        alice
            .post("/tickets/new")
            .header(ct)
            .body(data)
            .dispatch()
            .status(),
        Status::NotFound
    );
}

#[test]
fn bulk_actions_and_confirmed_delete() {
    let d = desk();
    let alice = login(&d, "alice@desk.test");
    let ids = format!("ids={}&ids={}", d.ticket, d.other);
    let r = post_form(
        &alice,
        "/queues/bulk",
        &format!("{ids}&action=status&value=resolved&back=%2Fqueues%2Fopen"),
    );
    assert_eq!(r.status(), Status::SeeOther);
    assert_eq!(r.headers().get_one("Location"), Some("/queues/open"));
    assert_eq!(
        q::<i64>(&d, "SELECT COUNT(*) FROM tickets WHERE status = 'resolved'"),
        2
    );
    let r = post_form(
        &alice,
        "/queues/bulk",
        &format!("{ids}&action=assign&value={}", d.alice),
    );
    assert_eq!(r.status(), Status::SeeOther);
    let r = post_form(
        &alice,
        "/queues/bulk",
        &format!("{ids}&action=priority&value=1"),
    );
    assert_eq!(r.status(), Status::SeeOther);
    assert_eq!(
        q::<i64>(
            &d,
            &format!(
                "SELECT COUNT(*) FROM tickets WHERE assignee_id = {} AND priority_id = 1",
                d.alice
            )
        ),
        2
    );
    // Agents may not delete; admins confirm first.
    assert_eq!(
        post_form(&alice, "/queues/bulk", &format!("{ids}&action=delete")).status(),
        Status::Forbidden
    );
    let admin = login(&d, "admin@desk.test");
    let r = post_form(&admin, "/queues/bulk", &format!("{ids}&action=delete"));
    assert_eq!(r.status(), Status::Ok);
    assert!(body(r).contains("Delete for good"));
    assert_eq!(q::<i64>(&d, "SELECT COUNT(*) FROM tickets"), 2);
    let r = post_form(
        &admin,
        "/queues/bulk",
        &format!("{ids}&action=delete&confirm=true"),
    );
    assert_eq!(r.status(), Status::SeeOther);
    assert_eq!(q::<i64>(&d, "SELECT COUNT(*) FROM tickets"), 0);
    // The counts table followed every change.
    let left: i64 = q(&d, "SELECT COALESCE(SUM(n), 0) FROM ticket_counts");
    assert_eq!(left, 0);
    let _ = d.admin;
}

#[test]
fn reply_locks_and_canned_responses() {
    let d = desk();
    let alice = login(&d, "alice@desk.test");
    let admin = login(&d, "admin@desk.test");
    let t = d.ticket;
    let lock = |c: &Client| {
        let r = c
            .post(format!("/tickets/{t}/lock"))
            .header(Header::new("X-CSRF-Token", csrf(c)))
            .dispatch();
        serde_json::from_str::<serde_json::Value>(&body(r)).unwrap()
    };
    let a = lock(&alice);
    assert_eq!(a["mine"], true);
    let b = lock(&admin);
    assert_eq!(b["mine"], false);
    assert_eq!(b["locked_by"], "Alice");
    assert!(body(admin.get(format!("/tickets/{t}")).dispatch()).contains("Alice is replying"));
    // Released: the admin may take it.
    alice
        .post(format!("/tickets/{t}/unlock"))
        .header(Header::new("X-CSRF-Token", csrf(&alice)))
        .dispatch();
    assert_eq!(lock(&admin)["mine"], true);

    // Canned responses: personal and shared, with variables filled in.
    let r = post_form(&alice, "/canned", "title=Greeting&body=Hello+%7Bcustomer_name%7D%2C+about+%23%7Bticket_number%7D.+%E2%80%94+%7Bagent_name%7D");
    assert_eq!(r.status(), Status::SeeOther);
    assert_eq!(
        post_form(&alice, "/canned", "title=Shared&body=x&shared=true").status(),
        Status::Forbidden
    );
    assert_eq!(
        post_form(
            &admin,
            "/canned",
            "title=Everyone&body=Thanks+from+%7Bagent_name%7D&shared=true"
        )
        .status(),
        Status::SeeOther
    );
    let number: String = q(&d, &format!("SELECT number FROM tickets WHERE id = {t}"));
    let page = body(alice.get(format!("/tickets/{t}")).dispatch());
    assert!(
        page.contains(&format!("Hello Kamran Customer, about #{number}. — Alice")),
        "{page}"
    );
    assert!(page.contains("Thanks from Alice"));
    // The admin does not see Alice's personal one.
    let page = body(admin.get("/canned").dispatch());
    assert!(page.contains("Everyone") && !page.contains("Greeting"));
    let id: i64 = q(
        &d,
        "SELECT id FROM canned_responses WHERE title = 'Greeting'",
    );
    assert_eq!(
        post_form(&admin, &format!("/canned/{id}/delete"), "").status(),
        Status::NotFound
    );
    assert_eq!(
        post_form(&alice, &format!("/canned/{id}/delete"), "").status(),
        Status::SeeOther
    );
}

#[test]
fn static_assets_are_embedded_and_cached() {
    let d = desk();
    let c = client(&d);
    let url = oxidesk::web::assets::asset_url("app.css");
    let r = c.get(url).dispatch();
    assert_eq!(r.status(), Status::Ok);
    assert_eq!(r.content_type(), Some(ContentType::CSS));
    assert!(r
        .headers()
        .get_one("Cache-Control")
        .unwrap()
        .contains("immutable"));
    let r = c.get(oxidesk::web::assets::asset_url("app.js")).dispatch();
    assert_eq!(r.content_type(), Some(ContentType::JavaScript));
    assert_eq!(
        c.get("/static/x/../Cargo.toml").dispatch().status(),
        Status::NotFound
    );
}

/// Every queue reads through an index in its own order (no full scan, no
/// sort of the whole queue). Runs on the test desk, and on a big database
/// when OXIDESK_EXPLAIN_DB names one (timings printed).
#[test]
fn queue_queries_use_their_indexes() {
    use oxidesk::store::queues::{page_sql, Filters, Queue, Scope, Sort};
    let d = desk();
    let big = std::env::var("OXIDESK_EXPLAIN_DB").ok();
    let store = match &big {
        Some(path) => Store::open(&StoreOptions::new(path)).unwrap(),
        None => d.store.clone(),
    };
    let conn = store.conn().unwrap();
    let (admin, agent) = match &big {
        Some(_) => {
            let a: i64 = conn
                .query_row("SELECT id FROM staff WHERE is_admin = 1 LIMIT 1", [], |r| {
                    r.get(0)
                })
                .unwrap();
            let g: i64 = conn
                .query_row("SELECT staff_id FROM staff_departments LIMIT 1", [], |r| {
                    r.get(0)
                })
                .unwrap();
            (StaffId(a), StaffId(g))
        }
        None => (d.admin, d.alice),
    };
    for scope in [
        Scope {
            staff: admin,
            admin: true,
        },
        Scope {
            staff: agent,
            admin: false,
        },
    ] {
        for queue in [
            Queue::Open,
            Queue::Mine,
            Queue::Unassigned,
            Queue::Overdue,
            Queue::Answered,
            Queue::Closed,
            Queue::Department(DepartmentId(1)),
        ] {
            let (sql, args) = page_sql(scope, queue, &Filters::default(), Sort::default(), 51, 0);
            let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
            let plan: Vec<String> = stmt
                .query_map(rusqlite::params_from_iter(args.clone()), |r| {
                    r.get::<_, String>(3)
                })
                .unwrap()
                .map(Result::unwrap)
                .collect();
            let text = plan.join(" | ");
            let t0 = std::time::Instant::now();
            let n = conn
                .prepare(&sql)
                .unwrap()
                .query_map(rusqlite::params_from_iter(args), |_| Ok(()))
                .unwrap()
                .count();
            if big.is_some() {
                eprintln!(
                    "{queue:?} admin={} rows={n} {:?}\n    {text}",
                    scope.admin,
                    t0.elapsed()
                );
            }
            assert!(
                !text.contains("SCAN t\u{20}") || text.contains("USING"),
                "{queue:?}: {text}"
            );
            assert!(
                !text.contains("SCAN t |") && !text.ends_with("SCAN t"),
                "{queue:?}: {text}"
            );
            assert!(
                !text.contains("TEMP B-TREE"),
                "{queue:?} sorts the whole queue: {text}"
            );
        }
    }
}

#[test]
fn a_reply_shows_how_its_mail_is_doing_and_a_failed_one_is_sent_again() {
    let d = desk();
    let alice = login(&d, "alice@desk.test");
    let t = d.ticket;
    let r = reply(&d, &alice, t, "The printer is safe now.", &[]);
    assert_eq!(r.status(), Status::SeeOther);
    let mail: i64 = q(
        &d,
        &format!(
            "SELECT id FROM outbox WHERE kind = 'response' AND ticket_id = {t} ORDER BY id DESC LIMIT 1"
        ),
    );
    let entry: i64 = q(
        &d,
        &format!("SELECT entry_id FROM outbox WHERE id = {mail}"),
    );
    let page = body(alice.get(format!("/tickets/{t}")).dispatch());
    assert!(page.contains("badge delivery d-queued"), "{page}");
    assert!(!page.contains("could not be mailed"));

    // The customer's server refuses it for good.
    let set = |sql: &str| {
        d.store
            .conn()
            .unwrap()
            .execute(&format!("{sql} WHERE id = {mail}"), [])
            .unwrap();
    };
    set("UPDATE outbox SET state = 'failed', attempts = 3, last_answer = '550 5.1.1 <x>: no such mailbox'");
    let page = body(alice.get(format!("/tickets/{t}")).dispatch());
    assert!(page.contains("badge delivery d-failed danger"), "{page}");
    assert!(page.contains("This reply could not be mailed to"));
    assert!(page.contains("550 5.1.1 &lt;x&gt;: no such mailbox"));
    let url = format!("/tickets/{t}/deliveries/{mail}/retry");
    assert!(page.contains(&format!("action=\"{url}\"")));

    // Outside the department: not found. Without the token: refused. A mail
    // that is not this ticket's: not found.
    let bob = login(&d, "bob@desk.test");
    assert_eq!(post_form(&bob, &url, "").status(), Status::NotFound);
    let r = alice
        .post(url.clone())
        .header(ContentType::Form)
        .body("")
        .dispatch();
    assert_eq!(r.status(), Status::Forbidden);
    let other_mail = format!("/tickets/{t}/deliveries/{}/retry", mail + 1000);
    assert_eq!(
        post_form(&alice, &other_mail, "").status(),
        Status::NotFound
    );
    assert_eq!(
        q::<String>(&d, &format!("SELECT state FROM outbox WHERE id = {mail}")),
        "failed"
    );

    // Sent again: queued, due now, the tries counted afresh.
    let r = post_form(&alice, &url, "");
    assert_eq!(r.status(), Status::SeeOther);
    assert_eq!(
        r.headers().get_one("Location"),
        Some(format!("/tickets/{t}#entry-{entry}").as_str())
    );
    let (state, attempts): (String, i64) = d
        .store
        .conn()
        .unwrap()
        .query_row(
            &format!("SELECT state, attempts FROM outbox WHERE id = {mail}"),
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((state.as_str(), attempts), ("queued", 0));
    let page = body(alice.get(format!("/tickets/{t}")).dispatch());
    assert!(page.contains("badge delivery d-queued"));
    assert!(!page.contains("could not be mailed"));

    // Once sent, a second "send again" changes nothing: never mailed twice.
    set("UPDATE outbox SET state = 'sent', sent_at = 1700000000");
    assert_eq!(post_form(&alice, &url, "").status(), Status::SeeOther);
    assert_eq!(
        q::<String>(&d, &format!("SELECT state FROM outbox WHERE id = {mail}")),
        "sent"
    );
    let page = body(alice.get(format!("/tickets/{t}")).dispatch());
    assert!(page.contains("badge delivery d-sent"));
}
