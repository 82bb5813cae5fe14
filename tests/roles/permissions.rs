//! The permission matrix and what pages offer each role.

use rocket::http::Status;
use rocket::local::blocking::Client;

use oxidesk::model::{DepartmentId, RoleId};
use oxidesk::store::roles;

use super::*;

/// One row of the matrix: the permission, the action, and whether the
/// action took effect.
struct Case {
    perm: &'static str,
    act: fn(&Client, &Desk) -> Status,
    done: fn(&Desk) -> bool,
    ok: Status,
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            perm: "reply",
            act: |c, d| {
                multipart_post(
                    c,
                    &format!("/tickets/{}/reply", d.ticket),
                    &[("body", "Hi")],
                )
            },
            done: |d| q::<i64>(d, "SELECT COUNT(*) FROM entries WHERE kind = 'response'") == 1,
            ok: Status::SeeOther,
        },
        Case {
            perm: "note",
            act: |c, d| {
                multipart_post(
                    c,
                    &format!("/tickets/{}/note", d.ticket),
                    &[("body", "psst")],
                )
            },
            done: |d| q::<i64>(d, "SELECT COUNT(*) FROM entries WHERE kind = 'note'") == 1,
            ok: Status::SeeOther,
        },
        Case {
            perm: "assign",
            act: |c, d| {
                post_form(
                    c,
                    &format!("/tickets/{}/assign", d.ticket),
                    &format!("assignee={}", d.alice),
                )
                .status()
            },
            done: |d| {
                q::<Option<i64>>(
                    d,
                    &format!("SELECT assignee_id FROM tickets WHERE id = {}", d.ticket),
                ) == Some(d.alice.0)
            },
            ok: Status::SeeOther,
        },
        Case {
            perm: "transfer",
            act: |c, d| {
                post_form(
                    c,
                    &format!("/tickets/{}/transfer", d.ticket),
                    &format!("department={}", d.sales),
                )
                .status()
            },
            done: |d| {
                q::<i64>(
                    d,
                    &format!("SELECT department_id FROM tickets WHERE id = {}", d.ticket),
                ) == d.sales.0
            },
            ok: Status::SeeOther,
        },
        Case {
            perm: "close",
            act: |c, d| {
                post_form(c, &format!("/tickets/{}/status", d.ticket), "status=closed").status()
            },
            done: |d| {
                q::<String>(
                    d,
                    &format!("SELECT status FROM tickets WHERE id = {}", d.ticket),
                ) == "closed"
            },
            ok: Status::SeeOther,
        },
        Case {
            perm: "delete",
            act: |c, d| {
                post_form(
                    c,
                    "/queues/bulk",
                    &format!("ids={}&action=delete&confirm=true", d.ticket),
                )
                .status()
            },
            done: |d| {
                q::<i64>(
                    d,
                    &format!("SELECT COUNT(*) FROM tickets WHERE id = {}", d.ticket),
                ) == 0
            },
            ok: Status::SeeOther,
        },
        Case {
            perm: "merge",
            act: |c, d| {
                let into = number(d, d.other);
                post_form(
                    c,
                    &format!("/tickets/{}/merge", d.ticket),
                    &format!("into={into}"),
                )
                .status()
            },
            done: |d| {
                q::<Option<i64>>(
                    d,
                    &format!("SELECT merged_into_id FROM tickets WHERE id = {}", d.ticket),
                ) == Some(d.other.0)
            },
            ok: Status::SeeOther,
        },
        Case {
            perm: "edit",
            act: |c, d| {
                post_form(c, &format!("/tickets/{}/priority", d.ticket), "priority=4").status()
            },
            done: |d| {
                q::<i64>(
                    d,
                    &format!("SELECT priority_id FROM tickets WHERE id = {}", d.ticket),
                ) == 4
            },
            ok: Status::SeeOther,
        },
        Case {
            perm: "edit",
            act: |c, d| {
                post_form(
                    c,
                    &format!("/tickets/{}/subject", d.ticket),
                    "subject=Printer+fixed+%D8%B3%D9%84%D8%A7%D9%85",
                )
                .status()
            },
            done: |d| {
                q::<String>(
                    d,
                    &format!("SELECT subject FROM tickets WHERE id = {}", d.ticket),
                ) == "Printer fixed سلام"
                    && q::<i64>(
                        d,
                        "SELECT COUNT(*) FROM tickets_fts WHERE tickets_fts MATCH 'fixed'",
                    ) == 1
            },
            ok: Status::SeeOther,
        },
        Case {
            perm: "edit",
            act: |c, d| post_form(c, &format!("/tickets/{}/tags", d.ticket), "add=vip").status(),
            done: |d| {
                q::<i64>(
                    d,
                    &format!(
                        "SELECT COUNT(*) FROM ticket_tags WHERE ticket_id = {}",
                        d.ticket
                    ),
                ) == 1
            },
            ok: Status::SeeOther,
        },
        Case {
            perm: "ban",
            act: |c, d| post_form(c, &format!("/tickets/{}/spam", d.ticket), "ban=true").status(),
            done: |d| {
                q::<bool>(
                    d,
                    &format!("SELECT is_spam FROM tickets WHERE id = {}", d.ticket),
                ) && q::<i64>(d, "SELECT COUNT(*) FROM banned_senders") == 1
            },
            ok: Status::SeeOther,
        },
        Case {
            perm: "canned",
            act: |c, _| {
                post_form(c, "/canned", "title=Hello&body=Dear+customer&shared=true").status()
            },
            done: |d| {
                q::<i64>(
                    d,
                    "SELECT COUNT(*) FROM canned_responses WHERE staff_id IS NULL",
                ) == 1
            },
            ok: Status::SeeOther,
        },
    ]
}

#[test]
fn each_permission_is_denied_without_it_and_enough_with_it() {
    for case in cases() {
        // Every other permission, but not this one: 403 with a sentence,
        // and nothing changed.
        let d = desk();
        give_alice(&d, &all_but(case.perm));
        let alice = login(&d, "alice@desk.test");
        let status = (case.act)(&alice, &d);
        assert_eq!(status, Status::Forbidden, "{} without it", case.perm);
        assert!(!(case.done)(&d), "{} took effect without it", case.perm);
        drop(alice);

        // This permission alone is enough.
        let d = desk();
        give_alice(&d, &[case.perm]);
        let alice = login(&d, "alice@desk.test");
        let status = (case.act)(&alice, &d);
        assert_eq!(status, case.ok, "{} with it", case.perm);
        assert!((case.done)(&d), "{} did not take effect with it", case.perm);
    }
}

#[test]
fn the_forbidden_page_names_the_missing_permission() {
    let d = desk();
    give_alice(&d, &all_but("transfer"));
    let alice = login(&d, "alice@desk.test");
    let r = post_form(
        &alice,
        &format!("/tickets/{}/transfer", d.ticket),
        &format!("department={}", d.sales),
    );
    assert_eq!(r.status(), Status::Forbidden);
    let page = body(r);
    assert!(
        page.contains("does not allow transferring this ticket"),
        "{page}"
    );
}

#[test]
fn edits_and_status_moves_need_edit_or_close() {
    let d = desk();
    let t = d.ticket;
    // Everything but edit: due date, priority, reopening and pending are
    // refused; closing is allowed.
    give_alice(&d, &all_but("edit"));
    let alice = login(&d, "alice@desk.test");
    let due = post_form(
        &alice,
        &format!("/tickets/{t}/due"),
        "due=2031-01-02T10%3A00",
    );
    assert_eq!(due.status(), Status::Forbidden);
    drop(due);
    for s in ["pending", "open", "answered"] {
        let r = post_form(
            &alice,
            &format!("/tickets/{t}/status"),
            &format!("status={s}"),
        );
        assert_eq!(r.status(), Status::Forbidden, "status {s}");
    }
    assert_eq!(
        post_form(&alice, &format!("/tickets/{t}/status"), "status=resolved").status(),
        Status::SeeOther
    );
    // A reply may answer (the default) but not leave the ticket pending.
    assert_eq!(
        multipart_post(
            &alice,
            &format!("/tickets/{t}/reply"),
            &[("body", "x"), ("status", "pending")]
        ),
        Status::Forbidden
    );
    assert_eq!(
        multipart_post(&alice, &format!("/tickets/{t}/reply"), &[("body", "x")]),
        Status::SeeOther
    );
    // Custom status labels count by the state they stand for (2 =
    // "Answered", 4 = "Resolved" as seeded).
    assert_eq!(
        post_form(&alice, &format!("/tickets/{t}/status"), "status=2").status(),
        Status::Forbidden
    );
    // Everything but close: a reply cannot close the ticket either.
    let d = desk();
    give_alice(&d, &all_but("close"));
    let alice = login(&d, "alice@desk.test");
    assert_eq!(
        post_form(&alice, &format!("/tickets/{}/status", d.ticket), "status=5").status(),
        Status::Forbidden
    );
    assert_eq!(
        post_form(&alice, &format!("/tickets/{}/status", d.ticket), "status=3").status(),
        Status::SeeOther
    );
    assert_eq!(
        q::<String>(
            &d,
            &format!("SELECT status FROM tickets WHERE id = {}", d.ticket)
        ),
        "pending"
    );
    assert_eq!(
        multipart_post(
            &alice,
            &format!("/tickets/{}/reply", d.ticket),
            &[("body", "x"), ("status", "closed")]
        ),
        Status::Forbidden
    );
    assert_eq!(
        q::<i64>(&d, "SELECT COUNT(*) FROM entries WHERE kind = 'response'"),
        0
    );
    // Bulk status and priority follow the same rules, on every ticket.
    let ids = format!("ids={}&ids={}", d.ticket, d.other);
    assert_eq!(
        post_form(
            &alice,
            "/queues/bulk",
            &format!("{ids}&action=status&value=closed")
        )
        .status(),
        Status::Forbidden
    );
    assert_eq!(
        q::<i64>(&d, "SELECT COUNT(*) FROM tickets WHERE status = 'closed'"),
        0
    );
    assert_eq!(
        post_form(
            &alice,
            "/queues/bulk",
            &format!("{ids}&action=priority&value=3")
        )
        .status(),
        Status::SeeOther
    );
}

#[test]
fn merging_needs_the_permission_on_both_tickets() {
    let d = desk();
    // Alice may merge in Support; the target sits in Sales, where she is a
    // View-only member.
    let conn = d.store.conn().unwrap();
    roles::set_memberships(
        &conn,
        d.alice,
        &[(DepartmentId(1), RoleId(1)), (d.sales, RoleId(4))],
    )
    .unwrap();
    drop(conn);
    let admin = login(&d, "admin@desk.test");
    post_form(
        &admin,
        &format!("/tickets/{}/transfer", d.other),
        &format!("department={}", d.sales),
    );
    let alice = login(&d, "alice@desk.test");
    let into = number(&d, d.other);
    let r = post_form(
        &alice,
        &format!("/tickets/{}/merge", d.ticket),
        &format!("into={into}"),
    );
    assert_eq!(r.status(), Status::Forbidden);
    assert_eq!(
        q::<i64>(
            &d,
            "SELECT COUNT(*) FROM tickets WHERE merged_into_id IS NOT NULL"
        ),
        0
    );
}

#[test]
fn pages_hide_what_the_role_forbids() {
    let d = desk();
    let t = d.ticket;
    // View only: no reply box, no property forms, a notice instead.
    let conn = d.store.conn().unwrap();
    roles::set_memberships(&conn, d.alice, &[(DepartmentId(1), RoleId(4))]).unwrap();
    drop(conn);
    let alice = login(&d, "alice@desk.test");
    let page = body(alice.get(format!("/tickets/{t}")).dispatch());
    assert!(page.contains("data-view-only"), "{page}");
    // Nor may a reader announce "is replying".
    let r = alice
        .post(format!("/tickets/{t}/lock"))
        .header(rocket::http::Header::new("X-CSRF-Token", csrf(&alice)))
        .dispatch();
    assert_eq!(r.status(), Status::Forbidden);
    drop(r);
    assert_eq!(q::<i64>(&d, "SELECT COUNT(*) FROM ticket_locks"), 0);
    for action in [
        "reply", "note", "assign", "transfer", "status", "priority", "due", "subject", "merge",
        "spam",
    ] {
        assert!(
            !page.contains(&format!("/tickets/{t}/{action}\"")),
            "view-only page offers {action}"
        );
    }
    // The default role (Expanded access) offers today's actions, but the
    // bulk bar offers deletion only to those who may delete.
    let conn = d.store.conn().unwrap();
    roles::set_memberships(&conn, d.alice, &[(DepartmentId(1), RoleId(2))]).unwrap();
    drop(conn);
    let page = body(alice.get(format!("/tickets/{t}")).dispatch());
    for action in [
        "reply", "note", "assign", "transfer", "status", "priority", "due", "subject", "merge",
        "spam",
    ] {
        assert!(
            page.contains(&format!("/tickets/{t}/{action}\"")),
            "page lacks {action}"
        );
    }
    assert!(!page.contains("data-view-only"));
    let r = alice
        .post(format!("/tickets/{t}/lock"))
        .header(rocket::http::Header::new("X-CSRF-Token", csrf(&alice)))
        .dispatch();
    assert_eq!(r.status(), Status::Ok);
    drop(r);
    let queue = body(alice.get("/queues/open").dispatch());
    assert!(!queue.contains("value=\"delete\""));
    let admin = login(&d, "admin@desk.test");
    let queue = body(admin.get("/queues/open").dispatch());
    assert!(queue.contains("value=\"delete\""));
    // Reply only: the note tab and the closing statuses are not offered.
    give_alice(&d, &["reply"]);
    let page = body(alice.get(format!("/tickets/{t}")).dispatch());
    assert!(page.contains(&format!("/tickets/{t}/reply\"")));
    assert!(!page.contains(&format!("/tickets/{t}/note\"")));
    assert!(!page.contains("<option value=\"closed\">"));
}

#[test]
fn memberships_without_a_role_id_get_one_from_their_text_or_the_default() {
    let d = desk();
    let conn = d.store.conn().unwrap();
    // The desk's memberships came in without a role id: the default role.
    assert_eq!(
        q::<i64>(
            &d,
            &format!(
                "SELECT role_id FROM staff_departments WHERE staff_id = {}",
                d.alice
            )
        ),
        2
    );
    for (text, role) in [("manager", 1), ("viewer", 4), ("limited", 3), ("agent", 2)] {
        conn.execute("DELETE FROM staff_departments WHERE staff_id = ?1", [d.bob])
            .unwrap();
        conn.execute(
            "INSERT INTO staff_departments (staff_id, department_id, role) VALUES (?1, 1, ?2)",
            rusqlite::params![d.bob, text],
        )
        .unwrap();
        let got: i64 = conn
            .query_row(
                "SELECT role_id FROM staff_departments WHERE staff_id = ?1",
                [d.bob],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(got, role, "role text {text}");
    }
}
