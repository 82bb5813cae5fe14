//! The filters and the ban list on real tickets: every source, order and
//! stop processing, rejections, mail intake in process and through the
//! real `oxidesk pipe`.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use oxidesk::model::{RawStatus, Source};
use oxidesk::store;
use oxidesk::store::filters as sf;
use oxidesk::tickets::events::Actor;
use oxidesk::tickets::intake::{self, IntakeOutcome, IntakeSource};
use oxidesk::tickets::{self, Body, NewTicket, TicketError};

use super::*;

#[test]
fn a_matching_filter_routes_notes_and_logs_a_web_ticket() {
    let s = setup();
    let team: i64 = {
        let conn = s.store.conn().unwrap();
        conn.execute(
            "INSERT INTO teams (name, created_at, updated_at) VALUES ('Accounts', 0, 0)",
            [],
        )
        .unwrap();
        conn.last_insert_rowid()
    };
    add_filter(
        &s.store,
        spec(
            "Invoices",
            vec![
                cond("subject", "", "contains", "INVOICE"),
                cond("source", "", "equals", "web"),
            ],
            vec![
                act("set_department", &s.billing.to_string()),
                act("set_priority", "3"),
                act("assign_staff", &s.bea.to_string()),
                act("assign_team", &team.to_string()),
                act("set_status", "pending"),
                act("add_note", "Customer asks about an invoice — بررسی شود"),
                act("skip_auto_response", ""),
            ],
        ),
    );
    let o = tickets::open(
        &s.store,
        &Actor::System,
        web("a@x.example", "My invoice", "hi"),
    )
    .unwrap();
    let t = ticket_row(&s.store, o.ticket);
    assert_eq!(t.department_id.0, s.billing);
    assert_eq!(t.priority_id.0, 3);
    assert_eq!(t.assignee_id, Some(s.bea));
    assert_eq!(t.status, oxidesk::model::Status::Pending);
    let team_of: Option<i64> = one(
        &s.store,
        "SELECT team_id FROM tickets WHERE id = ?1",
        [o.ticket],
    );
    assert_eq!(team_of, Some(team));
    let note: String = one(
        &s.store,
        "SELECT body_text FROM entries WHERE ticket_id = ?1 AND kind = 'note'",
        [o.ticket],
    );
    assert!(note.contains("بررسی شود"));
    let kinds = event_kinds(&s.store, o.ticket);
    for k in ["created", "filter_applied", "note_added", "status_changed"] {
        assert!(kinds.iter().any(|e| e == k), "{k} missing from {kinds:?}");
    }
    let data: String = one(
        &s.store,
        "SELECT data FROM events WHERE ticket_id = ?1 AND kind = 'filter_applied'",
        [o.ticket],
    );
    assert!(data.contains("\"Invoices\""), "{data}");
    // The created event says no auto-response.
    let created: String = one(
        &s.store,
        "SELECT data FROM events WHERE ticket_id = ?1 AND kind = 'created'",
        [o.ticket],
    );
    assert!(
        created.contains("\"suppress_auto_response\":true"),
        "{created}"
    );

    // The same subject by mail does not match (source condition).
    let o = tickets::open(
        &s.store,
        &Actor::System,
        NewTicket::new(
            Source::Email,
            "b@x.example",
            "B",
            "invoice",
            Body::text("x"),
        ),
    )
    .unwrap();
    let t = ticket_row(&s.store, o.ticket);
    assert_eq!((t.department_id.0, t.priority_id.0), (1, 2));
    assert!(!event_kinds(&s.store, o.ticket).contains(&"filter_applied".to_string()));
}

#[test]
fn order_and_stop_processing_decide_between_filters() {
    let s = setup();
    let low = add_filter(
        &s.store,
        spec(
            "low",
            vec![cond("sender_domain", "", "equals", "x.example")],
            vec![act("set_priority", "1")],
        ),
    );
    let mut high = spec(
        "high",
        vec![cond("body", "", "regex", r"(?i)\bdown\b")],
        vec![act("set_priority", "4")],
    );
    let high_id = add_filter(&s.store, high.clone());
    // Both match; the later one wins.
    let o = tickets::open(
        &s.store,
        &Actor::System,
        web("a@x.example", "s", "site is down"),
    )
    .unwrap();
    assert_eq!(ticket_row(&s.store, o.ticket).priority_id.0, 4);
    // Move "high" first: now "low" overrides it.
    sf::move_filter(&s.store.conn().unwrap(), high_id, true).unwrap();
    let o = tickets::open(
        &s.store,
        &Actor::System,
        web("a@x.example", "s", "site is down"),
    )
    .unwrap();
    assert_eq!(ticket_row(&s.store, o.ticket).priority_id.0, 1);
    // With stop processing on "high" (first), "low" never runs.
    high.stop_processing = true;
    sf::update(&s.store.conn().unwrap(), high_id, &high).unwrap();
    let o = tickets::open(
        &s.store,
        &Actor::System,
        web("a@x.example", "s", "site is down"),
    )
    .unwrap();
    assert_eq!(ticket_row(&s.store, o.ticket).priority_id.0, 4);
    let applied: i64 = one(
        &s.store,
        "SELECT COUNT(*) FROM events WHERE ticket_id = ?1 AND kind = 'filter_applied'",
        [o.ticket],
    );
    assert_eq!(applied, 1);
    // A disabled filter does nothing.
    sf::set_active(&s.store.conn().unwrap(), high_id, false).unwrap();
    sf::set_active(&s.store.conn().unwrap(), low, false).unwrap();
    let o = tickets::open(
        &s.store,
        &Actor::System,
        web("a@x.example", "s", "site is down"),
    )
    .unwrap();
    assert_eq!(ticket_row(&s.store, o.ticket).priority_id.0, 2);
}

#[test]
fn reject_keeps_nothing_bans_and_logs_for_web() {
    let s = setup();
    add_filter(
        &s.store,
        spec(
            "Casino spam",
            vec![cond("body", "", "contains", "casino")],
            vec![act("reject", ""), act("ban_sender", "")],
        ),
    );
    let before: i64 = one(&s.store, "SELECT COUNT(*) FROM tickets", []);
    let err = tickets::open(
        &s.store,
        &Actor::System,
        web("Spammer@Spam.example", "hello", "best CASINO"),
    )
    .unwrap_err();
    match &err {
        TicketError::Rejected(r) => {
            assert_eq!(r.filter.as_deref(), Some("Casino spam"));
            assert!(r.ban);
        }
        other => panic!("expected a rejection, got {other}"),
    }
    let after: i64 = one(&s.store, "SELECT COUNT(*) FROM tickets", []);
    assert_eq!(before, after, "no ticket was created");
    let customers: i64 = one(
        &s.store,
        "SELECT COUNT(*) FROM customer_identities WHERE email = 'spammer@spam.example'",
        [],
    );
    assert_eq!(customers, 0, "no customer was created either");
    let logged: String = one(
        &s.store,
        "SELECT data FROM events WHERE ticket_id IS NULL AND kind = 'ticket_rejected'",
        [],
    );
    assert!(
        logged.contains("Casino spam") && logged.to_lowercase().contains("spam.example"),
        "{logged}"
    );
    assert!(store::bans::is_banned(&s.store.conn().unwrap(), "spammer@spam.example").unwrap());
    // The web layer turns it into a polite sentence, not the filter's name.
    let web_err = oxidesk::web::WebError::from(err);
    match web_err {
        oxidesk::web::WebError::BadRequest(msg) => {
            assert!(msg.starts_with("Sorry") && !msg.contains("Casino"), "{msg}")
        }
        other => panic!("expected a bad request, got {other:?}"),
    }
    // Now banned: refused before any filter, even without the spam word.
    let err = tickets::open(
        &s.store,
        &Actor::System,
        web("spammer@spam.example", "hi", "hi"),
    )
    .unwrap_err();
    assert!(err.to_string().contains("banned"), "{err}");
}

#[test]
fn banned_domains_refuse_web_tickets_but_not_staff_intake() {
    let s = setup();
    let conn = s.store.conn().unwrap();
    store::bans::add(&conn, "@bad.example", "", None).unwrap();
    assert!(store::bans::is_banned(&conn, "anyone@BAD.example").unwrap());
    assert!(!store::bans::is_banned(&conn, "anyone@notbad.example").unwrap());
    assert!(!store::bans::is_banned(&conn, "anyone@sub.bad.example").unwrap());
    drop(conn);
    let err = tickets::open(&s.store, &Actor::System, web("x@bad.example", "s", "b")).unwrap_err();
    assert!(matches!(err, TicketError::Rejected(_)));
    // An agent taking a phone call opens it anyway.
    let agent = Actor::Staff {
        id: s.bea,
        name: "Bea".into(),
    };
    let mut phone = web("x@bad.example", "called", "b");
    phone.source = Source::Phone;
    assert!(tickets::open(&s.store, &agent, phone).is_ok());
}

#[test]
fn an_action_pointing_at_something_deleted_is_skipped() {
    let s = setup();
    add_filter(
        &s.store,
        spec(
            "stale",
            vec![cond("subject", "", "contains", "x")],
            vec![act("set_department", "999"), act("set_priority", "4")],
        ),
    );
    let o = tickets::open(&s.store, &Actor::System, web("a@x.example", "x", "b")).unwrap();
    let t = ticket_row(&s.store, o.ticket);
    assert_eq!((t.department_id.0, t.priority_id.0), (1, 4));
}

#[test]
fn mail_conditions_see_headers_and_recipients() {
    let s = setup();
    add_filter(
        &s.store,
        spec(
            "Gold billing",
            vec![
                cond("header", "x-customer-tier", "equals", "GOLD"),
                cond("recipient", "", "equals", "billing@helpdesk.example"),
                cond("subject", "", "starts_with", "صورتحساب"),
            ],
            vec![
                act("set_department", &s.billing.to_string()),
                act("set_priority", "3"),
            ],
        ),
    );
    let out = intake::receive(&s.store, MAIL.as_bytes(), IntakeSource::Pipe, &opts()).unwrap();
    let IntakeOutcome::NewTicket { ticket, .. } = out else {
        panic!("expected a new ticket, got {out:?}");
    };
    let t = ticket_row(&s.store, ticket);
    assert_eq!((t.department_id.0, t.priority_id.0), (s.billing, 3));
}

#[test]
fn mail_rejected_by_a_filter_is_kept_raw_with_the_filter_named() {
    let s = setup();
    add_filter(
        &s.store,
        spec(
            "No gold",
            vec![cond("header", "X-Customer-Tier", "equals", "gold")],
            vec![act("reject", "")],
        ),
    );
    let out = intake::receive(&s.store, MAIL.as_bytes(), IntakeSource::Pipe, &opts()).unwrap();
    let IntakeOutcome::Rejected { raw_id, reason } = out else {
        panic!("expected a rejection, got {out:?}");
    };
    assert!(reason.contains("No gold"), "{reason}");
    let info = store::raw_messages::get_info(&s.store.conn().unwrap(), raw_id)
        .unwrap()
        .unwrap();
    assert_eq!(info.status, RawStatus::Rejected);
    let n: i64 = one(&s.store, "SELECT COUNT(*) FROM tickets", []);
    assert_eq!(n, 0);
    let n: i64 = one(&s.store, "SELECT COUNT(*) FROM customers", []);
    assert_eq!(n, 0, "the rejected sender left no customer behind");
    // A redelivery is a duplicate, not a second rejection.
    let again = intake::receive(&s.store, MAIL.as_bytes(), IntakeSource::Pipe, &opts()).unwrap();
    assert!(
        matches!(again, IntakeOutcome::Duplicate { .. }),
        "{again:?}"
    );
}

/// The real binary on `db`, without the caller's OXIDESK_* settings.
fn oxidesk(db: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_oxidesk"));
    c.arg("--db").arg(db).args(args);
    for (k, _) in std::env::vars() {
        if k.starts_with("OXIDESK_") {
            c.env_remove(k);
        }
    }
    c.env("OXIDESK_LOG", "warn");
    c
}

fn pipe(db: &Path, raw: &[u8]) -> (i32, String) {
    let mut child = oxidesk(db, &["pipe"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(raw).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn pipe_end_to_end_banned_domain_and_routing_filter() {
    let s = setup();
    let urgent: i64 = {
        let conn = s.store.conn().unwrap();
        store::bans::add(&conn, "@spam.example", "known spammer", None).unwrap();
        // A 4-hour plan on the built-in 24/7 schedule.
        conn.execute(
            "INSERT INTO sla_plans (name, grace_minutes, schedule_id, created_at, updated_at)
             VALUES ('Urgent 4h', 240, 1, 0, 0)",
            [],
        )
        .unwrap();
        conn.last_insert_rowid()
    };
    add_filter(
        &s.store,
        spec(
            "Invoices to Billing",
            vec![
                cond("subject", "", "contains", "invoice"),
                cond("sender_domain", "", "ends_with", "customer.example"),
            ],
            vec![
                act("set_department", &s.billing.to_string()),
                act("set_priority", "4"),
                act("assign_staff", &s.bea.to_string()),
                act("set_sla_plan", &urgent.to_string()),
            ],
        ),
    );

    // A banned domain: exit 0, kept raw as rejected, no ticket.
    let spam = MAIL
        .replace("carol@customer.example", "bulk@SPAM.example")
        .replace("m1@customer.example", "m2@spam.example");
    let (code, err) = pipe(&s.db, spam.as_bytes());
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("rejected") && err.contains("banned"), "{err}");
    let (status, reason, size): (String, String, i64) = s
        .store
        .conn()
        .unwrap()
        .query_row(
            "SELECT status, error, length(data) FROM raw_messages WHERE message_id = 'm2@spam.example'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(status, "rejected");
    assert!(reason.contains("@spam.example"), "{reason}");
    assert_eq!(size as usize, spam.len(), "the raw message is kept whole");
    let n: i64 = one(&s.store, "SELECT COUNT(*) FROM tickets", []);
    assert_eq!(n, 0);
    // Admins find it with `quarantine list --rejected`, not in the quarantine.
    let out = oxidesk(&s.db, &["quarantine", "list", "--rejected"])
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && listed.contains("@spam.example"),
        "{listed}"
    );
    let out = oxidesk(&s.db, &["quarantine", "list"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("empty"));

    // A matching mail: routed to Billing, emergency, assigned to Bea.
    let (code, err) = pipe(&s.db, MAIL.as_bytes());
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("new ticket"), "{err}");
    let (dept, prio, assignee): (i64, i64, Option<i64>) = s
        .store
        .conn()
        .unwrap()
        .query_row(
            "SELECT department_id, priority_id, assignee_id FROM tickets",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!((dept, prio, assignee), (s.billing, 4, Some(s.bea.0)));
    // The filter's SLA plan, named explicitly, gives the due date: four
    // hours of a 24/7 schedule after opening.
    let (plan, explicit, created, due): (Option<i64>, bool, i64, Option<i64>) = s
        .store
        .conn()
        .unwrap()
        .query_row(
            "SELECT sla_plan_id, sla_plan_explicit, created_at, due_at FROM tickets",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
    assert_eq!((plan, explicit), (Some(urgent), true));
    let due = due.expect("a due date");
    assert!(
        (due - created - 4 * 3600).abs() <= 60,
        "due {due}, created {created}"
    );
    let applied: String = one(
        &s.store,
        "SELECT data FROM events WHERE kind = 'filter_applied'",
        [],
    );
    assert!(applied.contains("Invoices to Billing"));
}

#[test]
fn help_topic_conditions_and_actions_route_through_the_topic() {
    let s = setup();
    let (general, billing_topic): (i64, i64) = {
        let conn = s.store.conn().unwrap();
        conn.execute(
            "INSERT INTO help_topics (name, created_at) VALUES ('General question', 0)",
            [],
        )
        .unwrap();
        let general = conn.last_insert_rowid();
        conn.execute(
            "INSERT INTO help_topics (name, department_id, priority_id, created_at)
             VALUES ('Billing', ?1, 3, 0)",
            [s.billing],
        )
        .unwrap();
        (general, conn.last_insert_rowid())
    };
    add_filter(
        &s.store,
        spec(
            "Money talk",
            vec![
                cond("help_topic", "", "equals", "general QUESTION"),
                cond("body", "", "regex", r"refund|invoice"),
            ],
            vec![
                act("set_help_topic", &billing_topic.to_string()),
                act("ban_sender", ""),
            ],
        ),
    );
    let mut new = web("payer@x.example", "Question", "I want a refund");
    new.help_topic = Some(oxidesk::model::HelpTopicId(general));
    let o = tickets::open(&s.store, &Actor::System, new).unwrap();
    let t = ticket_row(&s.store, o.ticket);
    // The filter's topic, and through it the topic's department and priority.
    assert_eq!(t.help_topic_id.map(|h| h.0), Some(billing_topic));
    assert_eq!((t.department_id.0, t.priority_id.0), (s.billing, 3));
    // "Ban sender" without "reject": the ticket opens, the next one is refused.
    assert!(store::bans::is_banned(&s.store.conn().unwrap(), "payer@x.example").unwrap());
    let note: String = one(
        &s.store,
        "SELECT note FROM banned_senders WHERE email = 'payer@x.example'",
        [],
    );
    assert_eq!(note, "filter: Money talk");
    assert!(tickets::open(
        &s.store,
        &Actor::System,
        web("payer@x.example", "again", "hi")
    )
    .is_err());
    // Another topic: no match.
    let mut other = web("other@x.example", "Question", "I want a refund");
    other.help_topic = Some(oxidesk::model::HelpTopicId(billing_topic));
    let o = tickets::open(&s.store, &Actor::System, other).unwrap();
    assert!(!event_kinds(&s.store, o.ticket).contains(&"filter_applied".to_string()));
}
