//! The ticket domain: every operation's effects and events, and its
//! refusals of bad input. Real SQLite files in a temp dir.

use oxidesk::model::{DepartmentId, EntryKind, PriorityId, Source, StaffId, Status, TicketId};
use oxidesk::store::{self, Store, StoreOptions};
use oxidesk::tickets::{
    self, events::Actor, Body, NewAttachment, NewMessage, NewTicket, Note, Reply, TicketError,
};

struct Desk {
    _dir: tempfile::TempDir,
    store: Store,
}

fn desk() -> Desk {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&StoreOptions::new(dir.path().join("t.db"))).unwrap();
    Desk { _dir: dir, store }
}

fn staff(d: &Desk, email: &str, active: bool) -> Actor {
    let conn = d.store.conn().unwrap();
    conn.execute(
        "INSERT INTO staff (email, name, password_hash, active, created_at) VALUES (?1, ?2, 'x', ?3, 0)",
        rusqlite::params![email, format!("Agent {email}"), active],
    )
    .unwrap();
    Actor::Staff {
        id: StaffId(conn.last_insert_rowid()),
        name: format!("Agent {email}"),
    }
}

fn events(d: &Desk, t: TicketId) -> Vec<String> {
    let conn = d.store.conn().unwrap();
    let mut s = conn
        .prepare("SELECT kind FROM events WHERE ticket_id = ?1 ORDER BY id")
        .unwrap();
    s.query_map([t], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn web_ticket(d: &Desk, email: &str) -> tickets::Opened {
    tickets::open(
        &d.store,
        &Actor::System,
        NewTicket::new(
            Source::Web,
            email,
            "Dana",
            "Printer on fire",
            Body::text("It is on fire."),
        ),
    )
    .unwrap()
}

fn ticket(d: &Desk, id: TicketId) -> oxidesk::model::Ticket {
    store::tickets::get(&d.store.conn().unwrap(), id).unwrap()
}

#[test]
fn open_creates_ticket_customer_thread_attachment_and_event() {
    let d = desk();
    let mut new = NewTicket::new(
        Source::Web,
        "Dana@Example.org",
        "Dana",
        "  سلام دنیا  ",
        Body {
            text: String::new(),
            html: Some("<p>متن <b>پررنگ</b></p><script>alert(1)</script>".into()),
        },
    );
    new.attachments.push(NewAttachment {
        filename: "../گزارش.txt".into(),
        mime_type: "Text/Plain".into(),
        data: b"hello".to_vec(),
        inline: false,
        content_id: None,
    });
    let o = tickets::open(&d.store, &Actor::System, new).unwrap();
    assert_eq!(o.number.len(), 6);
    let t = ticket(&d, o.ticket);
    assert_eq!(t.subject, "سلام دنیا");
    assert_eq!(t.status, Status::Open);
    assert_eq!(t.source, Source::Web);
    assert_eq!(t.department_id, DepartmentId(1));
    assert_eq!(t.priority_id, PriorityId(2));
    assert_eq!(t.last_message_at, Some(t.created_at));
    let conn = d.store.conn().unwrap();
    let thread = store::entries::list_for_ticket(&conn, o.ticket).unwrap();
    assert_eq!(thread.len(), 1);
    assert_eq!(thread[0].kind, EntryKind::Message);
    assert!(
        thread[0].body_text.contains("پررنگ"),
        "{}",
        thread[0].body_text
    );
    assert!(!thread[0].body_html.as_deref().unwrap().contains("script"));
    let atts = store::attachments::list_for_ticket(&conn, o.ticket).unwrap();
    assert_eq!(atts.len(), 1);
    assert_eq!(atts[0].filename, "گزارش.txt");
    assert_eq!(atts[0].mime_type, "text/plain");
    assert_eq!(
        atts[0].sha256,
        "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    );
    // The same customer, whatever the case of the address.
    let again = web_ticket(&d, "dana@EXAMPLE.org");
    assert_eq!(again.customer, o.customer);
    assert_eq!(events(&d, o.ticket), vec!["created"]);
}

#[test]
fn open_refuses_bad_input() {
    let d = desk();
    let base = NewTicket::new(Source::Web, "a@b.example", "A", "Subject", Body::text("x"));
    let cases: Vec<(NewTicket, &str)> = vec![
        (
            NewTicket {
                customer_email: "not an address".into(),
                ..base.clone()
            },
            "email",
        ),
        (
            NewTicket {
                subject: "   ".into(),
                ..base.clone()
            },
            "subject",
        ),
        (
            NewTicket {
                subject: "x".repeat(300),
                ..base.clone()
            },
            "subject",
        ),
        (
            NewTicket {
                body: Body::text(" "),
                ..base.clone()
            },
            "body",
        ),
        (
            NewTicket {
                department: Some(DepartmentId(99)),
                ..base.clone()
            },
            "department",
        ),
        (
            NewTicket {
                priority: Some(PriorityId(99)),
                ..base.clone()
            },
            "priority",
        ),
        (
            NewTicket {
                help_topic: Some(oxidesk::model::HelpTopicId(5)),
                ..base.clone()
            },
            "help_topic",
        ),
    ];
    for (new, field) in cases {
        match tickets::open(&d.store, &Actor::System, new) {
            Err(TicketError::Invalid(f, msg)) => assert_eq!(f, field, "{msg}"),
            other => panic!("expected Invalid({field}), got {other:?}"),
        }
    }
    let conn = d.store.conn().unwrap();
    let n: i64 = conn
        .query_row("SELECT COUNT(*) FROM tickets", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 0, "refused input leaves nothing behind");
}

#[test]
fn customer_messages_reopen_per_setting() {
    let d = desk();
    let agent = staff(&d, "agent@desk.example", true);
    let o = web_ticket(&d, "c@example.org");
    let customer = Actor::Customer {
        id: o.customer,
        name: "Dana".into(),
    };
    let msg = || NewMessage {
        body: Body::text("more"),
        ..Default::default()
    };

    // answered -> open on a reply, without counting as a reopen.
    tickets::add_response(
        &d.store,
        &agent,
        o.ticket,
        Reply {
            body: Body::text("Have you tried water?"),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(ticket(&d, o.ticket).status, Status::Answered);
    let a = tickets::append_message(&d.store, &customer, o.ticket, msg()).unwrap();
    assert!(!a.reopened);
    assert_eq!(ticket(&d, o.ticket).status, Status::Open);

    // closed -> open when the setting is on.
    tickets::set_status(&d.store, &agent, o.ticket, Status::Closed).unwrap();
    assert!(ticket(&d, o.ticket).closed_at.is_some());
    let a = tickets::append_message(&d.store, &customer, o.ticket, msg()).unwrap();
    assert!(a.reopened);
    let t = ticket(&d, o.ticket);
    assert_eq!(t.status, Status::Open);
    assert_eq!(t.closed_at, None);

    // ... and stays closed when it is off.
    store::settings::set(&d.store.conn().unwrap(), "tickets.reopen_on_reply", "false").unwrap();
    tickets::set_status(&d.store, &agent, o.ticket, Status::Resolved).unwrap();
    let a = tickets::append_message(&d.store, &customer, o.ticket, msg()).unwrap();
    assert!(!a.reopened);
    assert_eq!(ticket(&d, o.ticket).status, Status::Resolved);

    // A message from another address creates that customer and is kept.
    let a = tickets::append_message(
        &d.store,
        &Actor::System,
        o.ticket,
        NewMessage {
            author_email: Some("colleague@example.org".into()),
            author_name: "Col".into(),
            ..msg()
        },
    )
    .unwrap();
    let conn = d.store.conn().unwrap();
    let e = store::entries::get(&conn, a.entry).unwrap().unwrap();
    assert_eq!(e.author_email.as_deref(), Some("colleague@example.org"));
    assert_ne!(e.customer_id, Some(o.customer));

    let ev = events(&d, o.ticket);
    assert_eq!(
        ev,
        vec![
            "created",
            "status_changed",
            "response_added",
            "status_changed",
            "message_received",
            "status_changed",
            "status_changed",
            "message_received",
            "status_changed",
            "message_received",
            "message_received",
        ]
    );
    // Empty messages are refused.
    let err = tickets::append_message(&d.store, &customer, o.ticket, NewMessage::default());
    assert!(
        matches!(err, Err(TicketError::Invalid("body", _))),
        "{err:?}"
    );
}

#[test]
fn responses_and_notes() {
    let d = desk();
    let agent = staff(&d, "agent@desk.example", true);
    let o = web_ticket(&d, "c@example.org");
    let first = tickets::add_response(
        &d.store,
        &agent,
        o.ticket,
        Reply {
            body: Body::text("One"),
            attachments: vec![NewAttachment {
                filename: "fix.patch".into(),
                mime_type: String::new(),
                data: vec![1, 2, 3],
                inline: false,
                content_id: None,
            }],
            status: None,
        },
    )
    .unwrap();
    let t = ticket(&d, o.ticket);
    assert_eq!(t.status, Status::Answered);
    let first_at = t.first_response_at.unwrap();
    assert_eq!(t.last_response_at, Some(first_at));
    tickets::add_response(
        &d.store,
        &agent,
        o.ticket,
        Reply {
            body: Body::text("Two, and done"),
            status: Some(Status::Resolved),
            ..Default::default()
        },
    )
    .unwrap();
    let t = ticket(&d, o.ticket);
    assert_eq!(t.status, Status::Resolved);
    assert_eq!(t.first_response_at, Some(first_at));

    let note = tickets::add_note(
        &d.store,
        &agent,
        o.ticket,
        Note {
            body: Body::text("internal"),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(ticket(&d, o.ticket).status, Status::Resolved);
    let conn = d.store.conn().unwrap();
    let e = store::entries::get(&conn, first).unwrap().unwrap();
    assert_eq!(e.kind, EntryKind::Response);
    assert_eq!(e.author_name, "Agent agent@desk.example");
    let atts = store::attachments::list_for_entry(&conn, first).unwrap();
    assert_eq!(atts[0].mime_type, "application/octet-stream");
    let n = store::entries::get(&conn, note).unwrap().unwrap();
    assert_eq!(n.kind, EntryKind::Note);

    let customer = Actor::Customer {
        id: o.customer,
        name: "Dana".into(),
    };
    let err = tickets::add_note(
        &d.store,
        &customer,
        o.ticket,
        Note {
            body: Body::text("sneaky"),
            ..Default::default()
        },
    );
    assert!(
        matches!(err, Err(TicketError::Invalid("actor", _))),
        "{err:?}"
    );
    let err = tickets::add_response(&d.store, &agent, o.ticket, Reply::default());
    assert!(
        matches!(err, Err(TicketError::Invalid("body", _))),
        "{err:?}"
    );
    let err = tickets::add_note(
        &d.store,
        &agent,
        TicketId(999),
        Note {
            body: Body::text("x"),
            ..Default::default()
        },
    );
    assert!(matches!(err, Err(TicketError::NotFound(_))), "{err:?}");
    assert!(events(&d, o.ticket).contains(&"note_added".to_string()));
}

#[test]
fn field_changes_record_events_and_refuse_bad_values() {
    let d = desk();
    let agent = staff(&d, "agent@desk.example", true);
    let idle = staff(&d, "gone@desk.example", false);
    let Actor::Staff { id: agent_id, .. } = agent else {
        unreachable!()
    };
    let Actor::Staff { id: idle_id, .. } = idle else {
        unreachable!()
    };
    let o = web_ticket(&d, "c@example.org");
    let conn = d.store.conn().unwrap();
    conn.execute(
        "INSERT INTO departments (id, name, created_at) VALUES (2, 'Billing', 0)",
        [],
    )
    .unwrap();
    drop(conn);

    tickets::assign(&d.store, &agent, o.ticket, Some(agent_id)).unwrap();
    assert_eq!(ticket(&d, o.ticket).assignee_id, Some(agent_id));
    tickets::assign(&d.store, &agent, o.ticket, Some(agent_id)).unwrap(); // no-op
    let err = tickets::assign(&d.store, &agent, o.ticket, Some(idle_id));
    assert!(
        matches!(err, Err(TicketError::Invalid("assignee", _))),
        "{err:?}"
    );
    tickets::assign(&d.store, &agent, o.ticket, None).unwrap();
    assert_eq!(ticket(&d, o.ticket).assignee_id, None);

    tickets::transfer(&d.store, &agent, o.ticket, DepartmentId(2)).unwrap();
    assert_eq!(ticket(&d, o.ticket).department_id, DepartmentId(2));
    let err = tickets::transfer(&d.store, &agent, o.ticket, DepartmentId(7));
    assert!(
        matches!(err, Err(TicketError::Invalid("department", _))),
        "{err:?}"
    );

    tickets::set_priority(&d.store, &agent, o.ticket, PriorityId(4)).unwrap();
    assert_eq!(ticket(&d, o.ticket).priority_id, PriorityId(4));
    let err = tickets::set_priority(&d.store, &agent, o.ticket, PriorityId(0));
    assert!(
        matches!(err, Err(TicketError::Invalid("priority", _))),
        "{err:?}"
    );

    tickets::set_due(&d.store, &agent, o.ticket, Some(2_000_000_000)).unwrap();
    assert_eq!(ticket(&d, o.ticket).due_at, Some(2_000_000_000));
    let err = tickets::set_due(&d.store, &agent, o.ticket, Some(2_000_000_000_000));
    assert!(
        matches!(err, Err(TicketError::Invalid("due", _))),
        "{err:?}"
    );
    tickets::set_due(&d.store, &agent, o.ticket, None).unwrap();

    tickets::mark_spam(&d.store, &agent, o.ticket).unwrap();
    let t = ticket(&d, o.ticket);
    assert!(t.is_spam);
    assert_eq!(t.status, Status::Closed);
    assert!(t.updated_at >= t.created_at);

    assert_eq!(
        events(&d, o.ticket),
        vec![
            "created",
            "assigned",
            "assigned",
            "transferred",
            "priority_changed",
            "due_changed",
            "due_changed",
            "marked_spam",
            // the new-ticket alert and auto-response, still queued
            "mail_withdrawn"
        ]
    );
    let err = tickets::set_status(&d.store, &agent, TicketId(12345), Status::Open);
    assert!(matches!(err, Err(TicketError::NotFound(_))), "{err:?}");
}

#[test]
fn merge_moves_the_thread_and_closes_the_source() {
    let d = desk();
    let agent = staff(&d, "agent@desk.example", true);
    let a = web_ticket(&d, "c@example.org");
    let b = web_ticket(&d, "c@example.org");
    tickets::add_response(
        &d.store,
        &agent,
        a.ticket,
        Reply {
            body: Body::text("answer on A"),
            ..Default::default()
        },
    )
    .unwrap();
    tickets::merge(&d.store, &agent, a.ticket, b.ticket).unwrap();
    let ta = ticket(&d, a.ticket);
    let tb = ticket(&d, b.ticket);
    assert_eq!(ta.merged_into_id, Some(b.ticket));
    assert_eq!(ta.status, Status::Closed);
    assert_eq!(tb.first_response_at, ta.first_response_at);
    let conn = d.store.conn().unwrap();
    assert_eq!(
        store::entries::list_for_ticket(&conn, b.ticket)
            .unwrap()
            .len(),
        3
    );
    assert!(store::entries::list_for_ticket(&conn, a.ticket)
        .unwrap()
        .is_empty());
    assert!(events(&d, a.ticket).contains(&"merged".to_string()));

    let err = tickets::merge(&d.store, &agent, b.ticket, b.ticket);
    assert!(
        matches!(err, Err(TicketError::Invalid("into", _))),
        "{err:?}"
    );
    let err = tickets::add_response(
        &d.store,
        &agent,
        a.ticket,
        Reply {
            body: Body::text("too late"),
            ..Default::default()
        },
    );
    assert!(
        matches!(err, Err(TicketError::Invalid("ticket", _))),
        "{err:?}"
    );
}

#[test]
fn numbers_stay_unique_and_widen_when_crowded() {
    let d = desk();
    store::settings::set(&d.store.conn().unwrap(), "tickets.number_format", "#").unwrap();
    let mut seen = std::collections::HashSet::new();
    for _ in 0..30 {
        let o = web_ticket(&d, "c@example.org");
        assert!(seen.insert(o.number.clone()), "{} issued twice", o.number);
    }
    // Nine one-digit numbers exist; the rest had to be wider.
    assert!(seen.iter().any(|n| n.len() >= 2));
    assert!(seen.iter().all(|n| n.chars().all(|c| c.is_ascii_digit())));
}
