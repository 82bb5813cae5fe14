//! The customer's ticket page: no internal notes, replies, close,
//! upload rules.

use rocket::http::Status;

use oxidesk::store::settings;
use oxidesk::tickets::events::Actor;
use oxidesk::tickets::{self, Body, NewAttachment, Note};

use super::helpers::*;
use super::web_support::*;

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
