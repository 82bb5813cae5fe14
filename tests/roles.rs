//! Roles, permissions, teams and staff administration: the permission
//! matrix (each permission denied when the role lacks it, enough on its
//! own when granted), team visibility, disabling and resetting staff, the
//! admin pages for staff, roles and teams, and their audit events.

mod web_support;

use rocket::http::Status;
use rocket::local::blocking::Client;

use oxidesk::model::{DepartmentId, RoleId, TeamId};
use oxidesk::store::teams::TeamFields;
use oxidesk::store::{roles, teams};
use web_support::*;

const ALL: [&str; 11] = [
    "reply", "note", "assign", "transfer", "close", "delete", "merge", "edit", "ban", "canned",
    "reports",
];

/// Give Alice's Support membership a fresh role with exactly `perms`.
fn give_alice(d: &Desk, perms: &[&str]) -> RoleId {
    let conn = d.store.conn().unwrap();
    let n: i64 = conn
        .query_row("SELECT COUNT(*) FROM roles", [], |r| r.get(0))
        .unwrap();
    let role = roles::create(&conn, &format!("Test role {n}"), perms).unwrap();
    roles::set_memberships(&conn, d.alice, &[(DepartmentId(1), role)]).unwrap();
    role
}

fn all_but(p: &str) -> Vec<&'static str> {
    ALL.into_iter().filter(|x| *x != p).collect()
}

fn multipart_post(c: &Client, url: &str, fields: &[(&str, &str)]) -> Status {
    let (ct, data) = multipart(&csrf(c), fields, &[]);
    c.post(url.to_string())
        .header(ct)
        .body(data)
        .dispatch()
        .status()
}

fn number(d: &Desk, t: oxidesk::model::TicketId) -> String {
    q(d, &format!("SELECT number FROM tickets WHERE id = {t}"))
}

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
    // Everything but close: a reply cannot close the ticket either.
    let d = desk();
    give_alice(&d, &all_but("close"));
    let alice = login(&d, "alice@desk.test");
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
fn team_tickets_are_visible_to_the_team_only() {
    let d = desk();
    let t = d.ticket;
    // Bob is in Sales only: the Support ticket is not found.
    let bob = login(&d, "bob@desk.test");
    assert_eq!(
        bob.get(format!("/tickets/{t}")).dispatch().status(),
        Status::NotFound
    );
    let conn = d.store.conn().unwrap();
    let team = teams::create(
        &conn,
        &TeamFields {
            name: "Night shift".into(),
            lead_id: Some(d.bob),
            active: true,
            members: vec![d.bob],
        },
    )
    .unwrap();
    drop(conn);
    // Admin assigns the ticket to the team from the assign dropdown.
    let admin = login(&d, "admin@desk.test");
    let page = body(admin.get(format!("/tickets/{t}")).dispatch());
    assert!(page.contains(&format!("value=\"team:{team}\"")), "{page}");
    let r = post_form(
        &admin,
        &format!("/tickets/{t}/assign"),
        &format!("assignee=team%3A{team}"),
    );
    assert_eq!(r.status(), Status::SeeOther);
    assert_eq!(
        q::<Option<i64>>(&d, &format!("SELECT team_id FROM tickets WHERE id = {t}")),
        Some(team.0)
    );
    assert_eq!(
        q::<i64>(
            &d,
            "SELECT COUNT(*) FROM events WHERE kind = 'team_assigned'"
        ),
        1
    );
    // Its members are alerted.
    assert_eq!(
        q::<i64>(
            &d,
            "SELECT COUNT(*) FROM outbox WHERE kind = 'alert_team_assigned' AND recipients LIKE '%bob@desk.test%'"
        ),
        1
    );
    // Bob now sees it, in the team queue too, and may work it with the
    // default role.
    let page = body(bob.get(format!("/tickets/{t}")).dispatch());
    assert!(page.contains("Printer on fire") && page.contains("Night shift"));
    let queue = body(bob.get("/queues/team").dispatch());
    assert!(queue.contains("Printer on fire"), "{queue}");
    assert!(queue.contains("My teams&#x27; tickets") || queue.contains("My teams' tickets"));
    assert_eq!(
        multipart_post(&bob, &format!("/tickets/{t}/note"), &[("body", "on it")]),
        Status::SeeOther
    );
    let counts = oxidesk::store::queues::counts(
        &d.store.conn().unwrap(),
        oxidesk::store::queues::Scope {
            staff: d.bob,
            admin: false,
        },
    )
    .unwrap();
    assert!(counts.in_teams);
    // In the team queue, and in Open and Unassigned too: Bob sees it there.
    assert_eq!((counts.team, counts.open, counts.unassigned), (1, 1, 1));
    // The other Support ticket stays hidden.
    assert_eq!(
        bob.get(format!("/tickets/{}", d.other)).dispatch().status(),
        Status::NotFound
    );
    // A disabled team no longer opens the door.
    let conn = d.store.conn().unwrap();
    teams::update(
        &conn,
        team,
        &TeamFields {
            name: "Night shift".into(),
            lead_id: None,
            active: false,
            members: vec![d.bob],
        },
    )
    .unwrap();
    drop(conn);
    assert_eq!(
        bob.get(format!("/tickets/{t}")).dispatch().status(),
        Status::NotFound
    );
    // Nor does taking the ticket from the team.
    let conn = d.store.conn().unwrap();
    conn.execute("UPDATE teams SET active = 1", []).unwrap();
    drop(conn);
    assert_eq!(
        bob.get(format!("/tickets/{t}")).dispatch().status(),
        Status::Ok
    );
    post_form(&admin, &format!("/tickets/{t}/assign"), "assignee=team%3A");
    assert_eq!(
        bob.get(format!("/tickets/{t}")).dispatch().status(),
        Status::NotFound
    );
}

#[test]
fn a_ticket_opened_for_a_team_is_stored_with_it() {
    let d = desk();
    let conn = d.store.conn().unwrap();
    let team = teams::create(
        &conn,
        &TeamFields {
            name: "Billing".into(),
            lead_id: None,
            active: true,
            members: vec![d.bob],
        },
    )
    .unwrap();
    drop(conn);
    let mut new = oxidesk::tickets::NewTicket::new(
        oxidesk::model::Source::Web,
        "payer@example.com",
        "Payer",
        "Invoice",
        oxidesk::tickets::Body::text("Where is my invoice?"),
    );
    new.team = Some(team);
    let opened =
        oxidesk::tickets::open(&d.store, &oxidesk::tickets::events::Actor::System, new).unwrap();
    assert_eq!(
        q::<Option<i64>>(
            &d,
            &format!("SELECT team_id FROM tickets WHERE id = {}", opened.ticket)
        ),
        Some(team.0)
    );
    let mut bad = oxidesk::tickets::NewTicket::new(
        oxidesk::model::Source::Web,
        "payer@example.com",
        "Payer",
        "Invoice",
        oxidesk::tickets::Body::text("again"),
    );
    bad.team = Some(TeamId(999));
    assert!(
        oxidesk::tickets::open(&d.store, &oxidesk::tickets::events::Actor::System, bad).is_err()
    );
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

#[test]
fn admin_pages_require_an_administrator() {
    let d = desk();
    let alice = login(&d, "alice@desk.test");
    for url in [
        "/admin/staff",
        "/admin/staff/new",
        &format!("/admin/staff/{}", d.bob),
        "/admin/roles",
        "/admin/roles/new",
        "/admin/roles/1",
        "/admin/teams",
        "/admin/teams/new",
    ] {
        assert_eq!(
            alice.get(url.to_string()).dispatch().status(),
            Status::Forbidden,
            "GET {url}"
        );
    }
    for (url, form) in [
        (
            "/admin/staff/new".to_string(),
            "email=x%40y.z&name=X".to_string(),
        ),
        (
            format!("/admin/staff/{}", d.alice),
            "email=alice%40desk.test&name=Alice&admin=true&active=true".to_string(),
        ),
        (format!("/admin/staff/{}/password", d.bob), String::new()),
        (
            format!("/admin/staff/{}/departments", d.alice),
            "roles%5B1%5D=1".to_string(),
        ),
        (
            "/admin/roles/new".to_string(),
            "name=Mine&perms=delete".to_string(),
        ),
        (
            "/admin/roles/2".to_string(),
            "name=Expanded&perms=delete".to_string(),
        ),
        ("/admin/roles/3/delete".to_string(), String::new()),
        ("/admin/roles/default".to_string(), "role=1".to_string()),
        (
            "/admin/teams/new".to_string(),
            "name=Mine&lead=".to_string(),
        ),
    ] {
        assert_eq!(
            post_form(&alice, &url, &form).status(),
            Status::Forbidden,
            "POST {url}"
        );
    }
    assert!(!q::<bool>(
        &d,
        &format!("SELECT is_admin FROM staff WHERE id = {}", d.alice)
    ));
    assert_eq!(q::<i64>(&d, "SELECT COUNT(*) FROM roles"), 4);
    assert_eq!(q::<i64>(&d, "SELECT COUNT(*) FROM teams"), 0);
    // Signed out: to the sign-in page.
    let anon = client(&d);
    let r = anon.get("/admin/staff").dispatch();
    assert_eq!(r.status(), Status::SeeOther);
    assert!(r
        .headers()
        .get_one("Location")
        .unwrap_or("")
        .starts_with("/login"));
}

fn audits(d: &Desk, kind: &str) -> i64 {
    q(
        d,
        &format!("SELECT COUNT(*) FROM events WHERE ticket_id IS NULL AND kind = '{kind}'"),
    )
}

#[test]
fn adding_staff_shows_a_one_time_password_and_checks_fields() {
    let d = desk();
    let admin = login(&d, "admin@desk.test");
    let list = body(admin.get("/admin/staff").dispatch());
    assert!(
        list.contains("alice@desk.test") && list.contains("Support (Expanded access)"),
        "{list}"
    );
    // Errors beside the fields, what was typed kept.
    let r = post_form(
        &admin,
        "/admin/staff/new",
        "email=not-an-address&name=Carol+%D8%B3",
    );
    assert_eq!(r.status(), Status::BadRequest);
    let page = body(r);
    assert!(
        page.contains("data-error=\"email\"") && page.contains("Carol س"),
        "{page}"
    );
    let r = post_form(
        &admin,
        "/admin/staff/new",
        "email=alice%40desk.test&name=Another",
    );
    assert_eq!(r.status(), Status::BadRequest);
    assert!(body(r).contains("already exists"));
    assert_eq!(audits(&d, "config.staff_created"), 0);
    // Created: Limited access in Support, a one-time password shown once.
    let r = post_form(
        &admin,
        "/admin/staff/new",
        "email=carol%40desk.test&name=Carol&roles%5B1%5D=3",
    );
    assert_eq!(r.status(), Status::Ok);
    let page = body(r);
    let start = page.find("data-one-time-password>").unwrap() + "data-one-time-password>".len();
    let password: String = page[start..].chars().take_while(|c| *c != '<').collect();
    assert_eq!(password.len(), 20);
    let carol: i64 = q(&d, "SELECT id FROM staff WHERE email = 'carol@desk.test'");
    assert_eq!(
        q::<i64>(
            &d,
            &format!("SELECT role_id FROM staff_departments WHERE staff_id = {carol}")
        ),
        3
    );
    assert_eq!(audits(&d, "config.staff_created"), 1);
    assert!(!q::<String>(
        &d,
        "SELECT data FROM events WHERE kind = 'config.staff_created'"
    )
    .contains(&password));
    // The password works once and must be changed.
    let c = client(&d);
    let r = try_login(&c, "carol@desk.test", &password);
    assert_eq!(r.status(), Status::SeeOther);
    drop(r);
    let r = c.get("/queues/open").dispatch();
    assert_eq!(r.headers().get_one("Location"), Some("/account/password"));
}

#[test]
fn editing_disabling_and_resetting_staff() {
    let d = desk();
    let admin = login(&d, "admin@desk.test");
    let alice = login(&d, "alice@desk.test");
    assert_eq!(alice.get("/queues/open").dispatch().status(), Status::Ok);
    // Disable Alice: her session ends at once and she cannot sign in.
    let r = post_form(
        &admin,
        &format!("/admin/staff/{}", d.alice),
        "email=alice%40desk.test&name=Alice+A",
    );
    assert_eq!(r.status(), Status::SeeOther);
    let r = alice.get("/queues/open").dispatch();
    assert_eq!(r.status(), Status::SeeOther);
    assert!(r
        .headers()
        .get_one("Location")
        .unwrap_or("")
        .starts_with("/login"));
    drop(r);
    assert_eq!(
        q::<i64>(
            &d,
            &format!(
                "SELECT COUNT(*) FROM staff_sessions WHERE staff_id = {}",
                d.alice
            )
        ),
        0
    );
    let c = client(&d);
    assert_eq!(
        try_login(&c, "alice@desk.test", PW).status(),
        Status::Unauthorized
    );
    assert!(c
        .cookies()
        .get(oxidesk::web::auth::SESSION_COOKIE)
        .is_none());
    let data: String = q(
        &d,
        "SELECT data FROM events WHERE kind = 'config.staff_updated'",
    );
    let v: serde_json::Value = serde_json::from_str(&data).unwrap();
    assert_eq!(v["before"]["active"], true);
    assert_eq!(v["after"]["active"], false);
    assert_eq!(v["after"]["name"], "Alice A");
    let page = body(admin.get(format!("/admin/staff/{}", d.alice)).dispatch());
    assert!(page.contains("This account is disabled"));
    // Enabled again, and away.
    let r = post_form(
        &admin,
        &format!("/admin/staff/{}", d.alice),
        "email=alice%40desk.test&name=Alice&active=true&away=true",
    );
    assert_eq!(r.status(), Status::SeeOther);
    assert!(q::<bool>(
        &d,
        &format!("SELECT active AND away FROM staff WHERE id = {}", d.alice)
    ));
    assert_eq!(audits(&d, "config.staff_updated"), 2);
    // An address in use by someone else: beside the field.
    let r = post_form(
        &admin,
        &format!("/admin/staff/{}", d.alice),
        "email=bob%40desk.test&name=Alice&active=true",
    );
    assert_eq!(r.status(), Status::BadRequest);
    assert!(body(r).contains("data-error=\"email\""));
    // An admin keeps their own flag and account.
    let r = post_form(
        &admin,
        &format!("/admin/staff/{}", d.admin),
        "email=admin%40desk.test&name=Ada+Admin",
    );
    assert_eq!(r.status(), Status::BadRequest);
    let page = body(r);
    assert!(page.contains("data-error=\"admin\"") && page.contains("data-error=\"active\""));
    assert!(q::<bool>(
        &d,
        &format!(
            "SELECT is_admin AND active FROM staff WHERE id = {}",
            d.admin
        )
    ));
    // Reset Bob's password: shown once, his sessions end, old one fails.
    let bob = login(&d, "bob@desk.test");
    let r = post_form(&admin, &format!("/admin/staff/{}/password", d.bob), "");
    assert_eq!(r.status(), Status::Ok);
    let page = body(r);
    let start = page.find("data-one-time-password>").unwrap() + "data-one-time-password>".len();
    let password: String = page[start..].chars().take_while(|c| *c != '<').collect();
    assert_eq!(
        bob.get("/queues/open").dispatch().status(),
        Status::SeeOther
    );
    let c = client(&d);
    assert_eq!(
        try_login(&c, "bob@desk.test", PW).status(),
        Status::Unauthorized
    );
    let c = client(&d);
    assert_eq!(
        try_login(&c, "bob@desk.test", &password).status(),
        Status::SeeOther
    );
    assert!(q::<bool>(
        &d,
        &format!(
            "SELECT must_change_password FROM staff WHERE id = {}",
            d.bob
        )
    ));
    assert_eq!(audits(&d, "config.staff_password_reset"), 1);
    // Not one's own (that is the account page's job).
    let r = post_form(&admin, &format!("/admin/staff/{}/password", d.admin), "");
    assert_eq!(r.status(), Status::BadRequest);
    assert_eq!(audits(&d, "config.staff_password_reset"), 1);
    // Memberships with a role each.
    let r = post_form(
        &admin,
        &format!("/admin/staff/{}/departments", d.alice),
        &format!("roles%5B1%5D=4&roles%5B{}%5D=1", d.sales),
    );
    assert_eq!(r.status(), Status::SeeOther);
    let conn = d.store.conn().unwrap();
    let m = roles::memberships_of(&conn, d.alice).unwrap();
    let pairs: Vec<(i64, Option<i64>)> = m
        .iter()
        .map(|m| (m.department_id.0, m.role_id.map(|r| r.0)))
        .collect();
    assert_eq!(pairs, vec![(d.sales.0, Some(1)), (1, Some(4))]);
    assert_eq!(audits(&d, "config.staff_memberships_updated"), 1);
    let r = post_form(
        &admin,
        &format!("/admin/staff/{}/departments", d.alice),
        "roles%5B1%5D=999",
    );
    assert_eq!(r.status(), Status::BadRequest);
    assert!(body(r).contains("Choose a role from the list"));
    assert_eq!(roles::memberships_of(&conn, d.alice).unwrap().len(), 2);
}

#[test]
fn roles_and_teams_are_managed_with_audit_events() {
    let d = desk();
    let admin = login(&d, "admin@desk.test");
    let page = body(admin.get("/admin/roles").dispatch());
    for name in [
        "All access",
        "Expanded access",
        "Limited access",
        "View only",
    ] {
        assert!(page.contains(name), "{name}");
    }
    // A new role from checkboxes.
    let r = post_form(
        &admin,
        "/admin/roles/new",
        "name=Night+desk&perms=reply&perms=note",
    );
    assert_eq!(r.status(), Status::SeeOther);
    let conn = d.store.conn().unwrap();
    let role = roles::list(&conn)
        .unwrap()
        .into_iter()
        .find(|r| r.name == "Night desk")
        .unwrap();
    assert_eq!(role.permissions, vec!["note", "reply"]);
    // Errors beside the fields.
    let r = post_form(&admin, "/admin/roles/new", "name=View+only&perms=reply");
    assert_eq!(r.status(), Status::BadRequest);
    assert!(body(r).contains("data-error=\"name\""));
    let r = post_form(
        &admin,
        &format!("/admin/roles/{}", role.id),
        "name=Night+desk&perms=fly",
    );
    assert_eq!(r.status(), Status::BadRequest);
    // Edited.
    let r = post_form(
        &admin,
        &format!("/admin/roles/{}", role.id),
        "name=Night+desk&perms=reply&perms=close",
    );
    assert_eq!(r.status(), Status::SeeOther);
    assert_eq!(
        roles::permissions_of(&conn, role.id).unwrap(),
        vec!["close", "reply"]
    );
    // The default and roles in use stay.
    let r = post_form(&admin, "/admin/roles/2/delete", "");
    assert_eq!(r.status(), Status::SeeOther);
    let back = r.headers().get_one("Location").unwrap().to_string();
    drop(r);
    assert!(body(admin.get(back).dispatch()).contains("default role cannot be deleted"));
    post_form(&admin, "/admin/roles/default", &format!("role={}", role.id));
    assert_eq!(roles::default_role(&conn).unwrap(), Some(role.id));
    let r = post_form(&admin, "/admin/roles/2/delete", "");
    drop(r);
    assert!(
        roles::get(&conn, RoleId(2)).unwrap().is_some(),
        "a role in use was deleted"
    );
    let r = post_form(&admin, "/admin/roles/3/delete", "");
    assert_eq!(r.status(), Status::SeeOther);
    assert!(roles::get(&conn, RoleId(3)).unwrap().is_none());
    for kind in [
        "config.role_created",
        "config.role_updated",
        "config.role_default_changed",
        "config.role_deleted",
    ] {
        assert_eq!(audits(&d, kind), 1, "{kind}");
    }
    // Teams: the lead becomes a member.
    let r = post_form(
        &admin,
        "/admin/teams/new",
        &format!(
            "name=Escalations&lead={}&active=true&members={}",
            d.bob, d.alice
        ),
    );
    assert_eq!(r.status(), Status::SeeOther);
    let team = teams::list(&conn).unwrap().pop().unwrap();
    assert_eq!(team.members.len(), 2);
    assert_eq!(team.lead_id, Some(d.bob));
    let r = post_form(&admin, "/admin/teams/new", "name=escalations&lead=");
    assert_eq!(r.status(), Status::BadRequest);
    assert!(body(r).contains("data-error=\"name\""));
    let r = post_form(
        &admin,
        &format!("/admin/teams/{}", team.id),
        &format!("name=Escalations&lead=&members={}", d.alice),
    );
    assert_eq!(r.status(), Status::SeeOther);
    let team = teams::get(&conn, team.id).unwrap().unwrap();
    assert!(!team.active && team.lead_id.is_none() && team.members == vec![d.alice]);
    let page = body(admin.get("/admin/teams").dispatch());
    assert!(page.contains("Escalations"));
    let r = post_form(&admin, &format!("/admin/teams/{}/delete", team.id), "");
    assert_eq!(r.status(), Status::SeeOther);
    assert!(teams::list(&conn).unwrap().is_empty());
    for kind in [
        "config.team_created",
        "config.team_updated",
        "config.team_deleted",
    ] {
        assert_eq!(audits(&d, kind), 1, "{kind}");
    }
    let actor: String = q(
        &d,
        "SELECT actor FROM events WHERE kind = 'config.team_deleted'",
    );
    assert_eq!(actor, "Ada Admin");
}

/// The team queue and the team counts read tickets_team_status: a range
/// per team, whatever the size of the helpdesk.
#[test]
fn team_queue_and_counts_read_the_team_index() {
    use oxidesk::store::queues::{page_sql, Filters, Queue, Scope, Sort};
    let d = desk();
    let conn = d.store.conn().unwrap();
    teams::create(
        &conn,
        &TeamFields {
            name: "Night shift".into(),
            lead_id: None,
            active: true,
            members: vec![d.bob],
        },
    )
    .unwrap();
    let plan = |sql: &str, args: Vec<rusqlite::types::Value>| -> String {
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let rows: Vec<String> = stmt
            .query_map(rusqlite::params_from_iter(args), |r| r.get::<_, String>(3))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        rows.join(" | ")
    };
    for admin in [false, true] {
        let scope = Scope {
            staff: d.bob,
            admin,
        };
        let (sql, args) = page_sql(
            scope,
            Queue::Team,
            &Filters::default(),
            Sort::default(),
            51,
            0,
        );
        let text = plan(&sql, args);
        assert!(text.contains("tickets_team_status"), "{text}");
        assert!(
            !text.contains("SCAN t |") && !text.ends_with("SCAN t"),
            "{text}"
        );
    }
    // Agents' other queues keep their own indexes with the team clause in
    // the scope.
    let scope = Scope {
        staff: d.bob,
        admin: false,
    };
    let (sql, args) = page_sql(
        scope,
        Queue::Open,
        &Filters::default(),
        Sort::default(),
        51,
        0,
    );
    let text = plan(&sql, args);
    assert!(!text.contains("TEMP B-TREE"), "{text}");
    // The counts run and include the team's tickets for a member.
    let counts = oxidesk::store::queues::counts(&conn, scope).unwrap();
    assert!(counts.in_teams);
    assert_eq!((counts.team, counts.open), (0, 0));
}
