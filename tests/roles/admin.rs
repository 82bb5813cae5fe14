//! The admin pages for staff, roles and teams, and their audit events.

use rocket::http::Status;

use oxidesk::model::RoleId;
use oxidesk::store::roles;
use oxidesk::store::teams;

use super::*;

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
    // Her Support membership shows its role, Sales shows none.
    assert!(
        page.contains("<option value=\"2\" selected>Expanded access</option>"),
        "{page}"
    );
    assert!(page.contains(&format!("name=\"roles[{}]\"", d.sales)));
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

#[test]
fn staff_list_on_the_command_line_shows_each_role() {
    let d = desk();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_oxidesk"))
        .args(["staff", "list"])
        .env("OXIDESK_DB", d._dir.path().join("desk.db"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    let alice = text
        .lines()
        .find(|l| l.contains("alice@desk.test"))
        .unwrap();
    assert!(alice.contains("Support (Expanded access)"), "{alice}");
    let admin = text
        .lines()
        .find(|l| l.contains("admin@desk.test"))
        .unwrap();
    assert!(admin.ends_with("departments: none"), "{admin}");
}
