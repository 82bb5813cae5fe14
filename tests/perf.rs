//! What the pipe's performance work must not change: department alerts and
//! the auto-response are queued durably in the pipe's transaction, with
//! their Message-ID, and rendered by the outbox worker when it sends them.
//!
//! Uses the outbound tests' harness (Postfix's smtp-sink on loopback); in
//! CI a missing smtp-sink fails, elsewhere the tests skip loudly.

#[allow(dead_code)]
#[path = "outbound/harness.rs"]
mod harness;

use harness::*;
use oxidesk::store;

/// (message_id, render IS NOT NULL, length(raw), subject, state) per alert.
fn alert_rows(env: &Env) -> Vec<(String, bool, i64, String, String)> {
    let c = env.conn();
    let mut s = c
        .prepare(
            "SELECT message_id, render IS NOT NULL, length(raw), subject, state FROM outbox
             WHERE kind = 'alert_new_ticket' ORDER BY id",
        )
        .unwrap();
    let rows = s
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .unwrap();
    rows.map(Result::unwrap).collect()
}

#[test]
fn department_alerts_are_queued_by_the_pipe_and_rendered_when_sent() {
    if !have_sink() {
        return;
    }
    let port = free_port();
    let env = Env::new(port);
    let sink = Sink::start(port, &env.dir.path().join("sink"), &[]);
    env.staff("Alex", "alex@help.example.test");
    let sara = env.staff("Sara", "sara@help.example.test");
    env.conn()
        .execute("UPDATE staff SET locale = 'fa' WHERE id = ?1", [sara.0])
        .unwrap();
    // Through the binary, as the MTA pipes it; the process is gone before
    // anything is sent.
    env.pipe_bin(&customer_mail(
        "Dana <dana@customer.example>",
        "deferred@customer.example",
        "Printer on fire",
        "",
    ));
    let number: String = env
        .conn()
        .query_row("SELECT number FROM tickets", [], |r| r.get(0))
        .unwrap();
    let queued = alert_rows(&env);
    assert_eq!(queued.len(), 2, "{queued:?}");
    for (mid, to_render, len, subject, state) in &queued {
        assert!(mid.ends_with("@help.example.test"), "{mid}");
        assert!(*to_render, "rendered by the worker, not the pipe");
        assert_eq!(*len, 0);
        assert_eq!(state, "queued");
        assert_eq!(subject, &format!("[#{number}] Printer on fire"));
    }

    // The auto-response too is left to the worker: no template is parsed
    // while the pipe holds the write lock.
    let (auto_render, auto_len): (bool, i64) = env
        .conn()
        .query_row(
            "SELECT render IS NOT NULL, length(raw) FROM outbox WHERE kind = 'auto_response'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert!(
        auto_render && auto_len == 0,
        "auto-response rendered by the pipe"
    );

    let summary = env.deliver();
    assert_eq!(summary.sent, 3, "{summary:?}"); // auto-response + 2 alerts
    let got = sink.wait_for(3);
    let sent = alert_rows(&env);
    for (i, (mid, to_render, len, subject, state)) in sent.iter().enumerate() {
        assert_eq!(mid, &queued[i].0, "Message-ID fixed at queue time");
        assert!(!to_render);
        assert!(*len > 0);
        assert_eq!(state, "sent");
        // The stored bytes are the ones delivered.
        let stored = store::outbox::raw(&env.conn(), {
            env.conn()
                .query_row("SELECT id FROM outbox WHERE message_id = ?1", [mid], |r| {
                    r.get::<_, i64>(0)
                })
                .unwrap()
        })
        .unwrap()
        .unwrap();
        let stored = mailparse::parse_mail(&stored).unwrap();
        assert_eq!(header(&stored, "Message-ID"), format!("<{mid}>"));
        assert_eq!(&header(&stored, "Subject"), subject);
        let delivered = got
            .iter()
            .map(|raw| mailparse::parse_mail(raw).unwrap())
            .find(|m| header(m, "Message-ID") == format!("<{mid}>"))
            .expect("the alert reached the server");
        assert_eq!(header(&delivered, "Auto-Submitted"), "auto-generated");
        assert!(header(&delivered, "Subject").contains(&format!("[#{number}]")));
        let to = header(&delivered, "To");
        let html = html_part(&delivered);
        if to.contains("sara@") {
            assert!(html.contains("dir=\"rtl\""), "{html}");
        } else {
            assert!(to.contains("alex@"), "{to}");
            assert!(html.contains("dir=\"ltr\""), "{html}");
            assert!(text_part(&delivered).contains("My server is down"));
        }
    }
    // Nothing is sent twice.
    assert_eq!(env.deliver().sent, 0);
}

#[test]
fn an_alert_about_a_deleted_ticket_fails_with_a_reason() {
    configure();
    let env = Env::new(free_port());
    env.staff("Alex", "alex@help.example.test");
    new_ticket(env.pipe(&customer_mail(
        "dana@customer.example",
        "gone@customer.example",
        "Gone",
        "",
    )));
    assert_eq!(alert_rows(&env).len(), 1);
    {
        let c = env.conn();
        c.execute("DELETE FROM outbox WHERE kind = 'auto_response'", [])
            .unwrap();
        c.execute("UPDATE outbox SET ticket_id = NULL", []).unwrap();
    }
    // No server is listening: the alert fails before any connection.
    let summary = env.deliver();
    assert_eq!((summary.sent, summary.failed), (0, 1), "{summary:?}");
    let (state, answer): (String, String) = env
        .conn()
        .query_row(
            "SELECT state, last_answer FROM outbox WHERE kind = 'alert_new_ticket'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(state, "failed");
    assert!(answer.contains("no longer exists"), "{answer}");
}

#[test]
fn the_raw_message_is_stored_with_its_outcome_and_linked_to_its_entry() {
    configure();
    let env = Env::new(free_port());
    let (ticket, _) = new_ticket(env.pipe(&customer_mail(
        "dana@customer.example",
        "raw-once@customer.example",
        "Raw",
        "",
    )));
    let (raw_id, status, raw_ticket, error): (i64, String, Option<i64>, Option<String>) = env
        .conn()
        .query_row(
            "SELECT id, status, ticket_id, error FROM raw_messages",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
    assert_eq!(status, "stored");
    assert_eq!(raw_ticket, Some(ticket.0));
    assert_eq!(error, None);
    let linked: Option<i64> = env
        .conn()
        .query_row(
            "SELECT raw_message_id FROM entries WHERE ticket_id = ?1",
            [ticket.0],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(linked, Some(raw_id));

    // A sender the domain refuses: quarantined with the reason, no entry.
    let outcome = env.pipe(
        "From: not-an-address\r\nSubject: Hi\r\nMessage-ID: <refused@x.example>\r\n\r\nHello\r\n",
    );
    let raw_id = match outcome {
        oxidesk::tickets::intake::IntakeOutcome::Quarantined { raw_id, .. } => raw_id,
        other => panic!("expected quarantine, got {other:?}"),
    };
    let (status, error, ticket): (String, Option<String>, Option<i64>) = env
        .conn()
        .query_row(
            "SELECT status, error, ticket_id FROM raw_messages WHERE id = ?1",
            [raw_id.0],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!((status.as_str(), ticket), ("quarantined", None));
    assert!(error.is_some_and(|e| !e.is_empty()));
    let entries: i64 = env
        .conn()
        .query_row("SELECT count(*) FROM entries", [], |r| r.get(0))
        .unwrap();
    assert_eq!(entries, 1);
}
