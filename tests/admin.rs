//! The admin area: every page is for admins only; departments, help
//! topics, priorities, statuses, shared canned responses and settings are
//! created, changed and deleted with their field errors; each change is in
//! the audit log; help topic routing and custom statuses reach tickets; and
//! `oxidesk settings` checks values like the settings page.

mod web_support;

use std::process::Command;

use rocket::http::Status;

use oxidesk::model::{HelpTopicId, Source};
use oxidesk::tickets::events::Actor;
use oxidesk::tickets::{self, Body, NewMessage, NewTicket};
use web_support::*;

const PAGES: &[&str] = &[
    "/admin/",
    "/admin/departments",
    "/admin/departments/1",
    "/admin/topics",
    "/admin/priorities",
    "/admin/priorities/1",
    "/admin/statuses",
    "/admin/statuses/1",
    "/admin/canned",
    "/admin/settings",
    "/admin/audit",
    "/admin/quarantine",
    "/admin/quarantine?rejected=true",
];

/// The last audit event of `kind`: (actor staff id, data).
fn last_event(d: &Desk, kind: &str) -> (Option<i64>, serde_json::Value) {
    let conn = d.store.conn().unwrap();
    let (staff, data): (Option<i64>, String) = conn
        .query_row(
            "SELECT staff_id, data FROM events WHERE ticket_id IS NULL AND kind = ?1
             ORDER BY id DESC LIMIT 1",
            [kind],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap_or_else(|e| panic!("no {kind} event: {e}"));
    (staff, serde_json::from_str(&data).unwrap())
}

fn location(r: &rocket::local::blocking::LocalResponse<'_>) -> String {
    r.headers().get_one("Location").unwrap_or("").to_string()
}

#[test]
fn every_admin_page_is_for_admins_only() {
    let d = desk();
    let anon = client(&d);
    let alice = login(&d, "alice@desk.test");
    let admin = login(&d, "admin@desk.test");
    for url in PAGES {
        let r = anon.get(*url).dispatch();
        assert_eq!(r.status(), Status::SeeOther, "{url} signed out");
        assert!(location(&r).starts_with("/login"), "{url}");
        assert_eq!(
            alice.get(*url).dispatch().status(),
            Status::Forbidden,
            "{url} agent"
        );
        let r = admin.get(*url).dispatch();
        assert_eq!(r.status(), Status::Ok, "{url} admin");
        let page = body(r);
        assert!(
            page.contains("class=\"adminnav\""),
            "{url} has the admin menu"
        );
    }
    for (url, form) in [
        ("/admin/departments", "name=Hackers"),
        ("/admin/departments/1/delete", ""),
        ("/admin/topics", "name=Sneaky"),
        ("/admin/priorities", "name=urgent&color=%23ff0000"),
        ("/admin/statuses", "name=Sneaky&state=open"),
        ("/admin/canned", "title=x&body=y"),
        ("/admin/settings", "helpdesk-name=Owned"),
        ("/admin/quarantine/1/retry", ""),
    ] {
        let r = post_form(&alice, url, form);
        assert_eq!(r.status(), Status::Forbidden, "{url} agent POST");
    }
    assert_eq!(
        q::<String>(&d, "SELECT value FROM settings WHERE key = 'helpdesk.name'"),
        "Oxidesk"
    );
    // The index is a menu of every section.
    let page = body(admin.get("/admin/").dispatch());
    for href in [
        "/admin/staff",
        "/admin/topics",
        "/admin/sla",
        "/admin/filters",
        "/admin/fields",
        "/admin/audit",
    ] {
        assert!(
            page.contains(&format!("href=\"{href}\"")),
            "menu links {href}"
        );
    }
}

#[test]
fn departments_are_created_edited_and_deleted_with_audit() {
    let d = desk();
    let admin = login(&d, "admin@desk.test");
    // Field errors come back beside the fields, with what was typed.
    let r = post_form(
        &admin,
        "/admin/departments",
        "name=Support&email=not-an-address&email_name=Billing+team",
    );
    assert_eq!(r.status(), Status::UnprocessableEntity);
    let page = body(r);
    assert!(page.contains("This name is already used."), "{page}");
    assert!(page.contains("Enter an email address"));
    assert!(page.contains("value=\"not-an-address\""));
    assert!(page.contains("value=\"Billing team\""));
    let r = post_form(
        &admin,
        "/admin/departments",
        &format!(
            "name={}&email=billing%40example.com&email_name=Billing&manager={}&public=true&auto_response=true",
            enc("صورتحساب"),
            d.alice
        ),
    );
    assert_eq!(r.status(), Status::SeeOther);
    let id: i64 = q(
        &d,
        "SELECT id FROM departments WHERE email = 'billing@example.com'",
    );
    assert_eq!(location(&r), format!("/admin/departments/{id}"));
    let (who, data) = last_event(&d, "config.department_created");
    assert_eq!(who, Some(d.admin.0));
    assert_eq!(data["after"]["name"], "صورتحساب");
    assert_eq!(data["after"]["manager_id"], d.alice.0);
    let page = body(admin.get(format!("/admin/departments/{id}")).dispatch());
    assert!(page.contains("صورتحساب") && page.contains("billing@example.com"));

    // Update: private, auto-response off; the event holds before and after.
    let r = post_form(
        &admin,
        &format!("/admin/departments/{id}"),
        "name=Billing&email=billing%40example.com&email_name=Billing",
    );
    assert_eq!(r.status(), Status::SeeOther);
    assert_eq!(
        q::<i64>(
            &d,
            &format!("SELECT public + auto_response FROM departments WHERE id = {id}")
        ),
        0
    );
    let (_, data) = last_event(&d, "config.department_updated");
    assert_eq!(data["before"]["name"], "صورتحساب");
    assert_eq!(data["after"]["name"], "Billing");
    assert_eq!(data["before"]["public"], true);
    assert_eq!(data["after"]["public"], false);

    // Members are listed with links to their staff page.
    let r = post_form(
        &admin,
        &format!("/admin/staff/{}/departments", d.bob),
        &format!("roles[{}]=2&roles[{id}]=2", d.sales),
    );
    assert_eq!(r.status(), Status::SeeOther);
    let page = body(admin.get(format!("/admin/departments/{id}")).dispatch());
    assert!(page.contains(&format!("href=\"/admin/staff/{}\"", d.bob)));

    // Support has tickets: it cannot go.
    let r = post_form(&admin, "/admin/departments/1/delete", "");
    assert_eq!(r.status(), Status::UnprocessableEntity);
    assert!(body(r).contains("transfer them first"));
    assert_eq!(
        q::<i64>(&d, "SELECT COUNT(*) FROM departments WHERE id = 1"),
        1
    );
    // An empty department can.
    let r = post_form(&admin, &format!("/admin/departments/{id}/delete"), "");
    assert_eq!(r.status(), Status::SeeOther);
    assert_eq!(
        q::<i64>(
            &d,
            &format!("SELECT COUNT(*) FROM departments WHERE id = {id}")
        ),
        0
    );
    let (_, data) = last_event(&d, "config.department_deleted");
    assert_eq!(data["before"]["name"], "Billing");
    assert!(data["after"].is_null());
    assert_eq!(
        admin.get("/admin/departments/999").dispatch().status(),
        Status::NotFound
    );
}

#[test]
fn help_topics_nest_route_and_assign_new_tickets() {
    let d = desk();
    let admin = login(&d, "admin@desk.test");
    let r = post_form(
        &admin,
        "/admin/topics",
        "name=&department=abc&assign=staff%3A999",
    );
    assert_eq!(r.status(), Status::UnprocessableEntity);
    let page = body(r);
    assert!(page.contains("This field is required."));
    assert!(page.contains("does not exist or is disabled"));

    let r = post_form(
        &admin,
        "/admin/topics",
        "name=Hosting&public=true&active=true",
    );
    assert_eq!(r.status(), Status::SeeOther);
    let parent: i64 = q(&d, "SELECT id FROM help_topics WHERE name = 'Hosting'");
    let r = post_form(
        &admin,
        "/admin/topics",
        &format!(
            "name=Outage&parent={parent}&department={}&priority=3&sla_plan=1&assign=staff%3A{}&auto_response=off&public=true&active=true&sort=2",
            d.sales, d.bob
        ),
    );
    assert_eq!(r.status(), Status::SeeOther);
    let child: i64 = q(&d, "SELECT id FROM help_topics WHERE name = 'Outage'");
    let (_, data) = last_event(&d, "config.help_topic_created");
    assert_eq!(data["after"]["auto_assign_staff_id"], d.bob.0);
    assert_eq!(data["after"]["auto_response"], false);
    assert_eq!(data["after"]["sla_plan_id"], 1);
    let page = body(admin.get("/admin/topics").dispatch());
    assert!(page.contains("Hosting &#x2F; Outage"));
    let page = body(admin.get(format!("/admin/topics/{child}")).dispatch());
    assert!(page.contains(&format!("/admin/fields?topic={child}")));

    // A parent cannot be put inside its own child.
    let r = post_form(
        &admin,
        &format!("/admin/topics/{parent}"),
        &format!("name=Hosting&parent={child}&active=true"),
    );
    assert_eq!(r.status(), Status::UnprocessableEntity);
    assert!(body(r).contains("cannot be inside itself"));

    // A ticket opened under the topic goes to its department, priority and
    // assignee, without an auto-response.
    let mut new = NewTicket::new(
        Source::Web,
        "ana@example.com",
        "Ana",
        "Site down",
        Body::text("Nothing loads"),
    );
    new.help_topic = Some(HelpTopicId(child));
    let opened = tickets::open(&d.store, &Actor::System, new).unwrap();
    let t = opened.ticket.0;
    assert_eq!(
        q::<i64>(
            &d,
            &format!("SELECT department_id FROM tickets WHERE id = {t}")
        ),
        d.sales.0
    );
    assert_eq!(
        q::<i64>(
            &d,
            &format!("SELECT priority_id FROM tickets WHERE id = {t}")
        ),
        3
    );
    assert_eq!(
        q::<i64>(
            &d,
            &format!("SELECT assignee_id FROM tickets WHERE id = {t}")
        ),
        d.bob.0
    );
    assert_eq!(
        q::<i64>(&d, "SELECT COUNT(*) FROM outbox WHERE kind = 'auto_response' AND recipients LIKE '%ana@example.com%'"),
        0
    );
    // An explicit assignee wins over the topic's.
    let mut new = NewTicket::new(
        Source::Web,
        "ana@example.com",
        "Ana",
        "Again",
        Body::text("Still down"),
    );
    new.help_topic = Some(HelpTopicId(child));
    new.assignee = Some(d.admin);
    let t = tickets::open(&d.store, &Actor::System, new)
        .unwrap()
        .ticket
        .0;
    assert_eq!(
        q::<i64>(
            &d,
            &format!("SELECT assignee_id FROM tickets WHERE id = {t}")
        ),
        d.admin.0
    );

    // A team target: the ticket is assigned to the team.
    let conn = d.store.conn().unwrap();
    conn.execute(
        "INSERT INTO teams (name, created_at, updated_at) VALUES ('Night shift', 0, 0)",
        [],
    )
    .unwrap();
    let team: i64 = conn.last_insert_rowid();
    drop(conn);
    let r = post_form(
        &admin,
        &format!("/admin/topics/{parent}"),
        &format!("name=Hosting&assign=team%3A{team}&auto_response=on&public=true&active=true"),
    );
    assert_eq!(r.status(), Status::SeeOther);
    let (_, data) = last_event(&d, "config.help_topic_updated");
    assert!(data["before"]["auto_assign_team_id"].is_null());
    assert_eq!(data["after"]["auto_assign_team_id"], team);
    // Support's auto-response is off; the topic's "always" still sends one.
    d.store
        .conn()
        .unwrap()
        .execute("UPDATE departments SET auto_response = 0 WHERE id = 1", [])
        .unwrap();
    let mut new = NewTicket::new(
        Source::Web,
        "omid@example.com",
        "Omid",
        "DNS",
        Body::text("DNS question"),
    );
    new.help_topic = Some(HelpTopicId(parent));
    let t = tickets::open(&d.store, &Actor::System, new)
        .unwrap()
        .ticket
        .0;
    assert_eq!(
        q::<i64>(&d, &format!("SELECT team_id FROM tickets WHERE id = {t}")),
        team
    );
    assert!(q::<Option<i64>>(
        &d,
        &format!("SELECT assignee_id FROM tickets WHERE id = {t}")
    )
    .is_none());
    assert_eq!(
        q::<i64>(&d, "SELECT COUNT(*) FROM outbox WHERE kind = 'auto_response' AND recipients LIKE '%omid@example.com%'"),
        1
    );

    // A topic with tickets is kept (deactivate it instead).
    let r = post_form(&admin, &format!("/admin/topics/{child}/delete"), "");
    assert_eq!(r.status(), Status::UnprocessableEntity);
}

#[test]
fn priorities_reorder_and_only_unused_ones_are_deleted() {
    let d = desk();
    let admin = login(&d, "admin@desk.test");
    let r = post_form(&admin, "/admin/priorities", "name=critical&color=red");
    assert_eq!(r.status(), Status::UnprocessableEntity);
    let page = body(r);
    assert!(page.contains("Enter a colour like"));
    assert!(page.contains("value=\"critical\""));
    let r = post_form(&admin, "/admin/priorities", "name=critical&color=%23B91C1C");
    assert_eq!(r.status(), Status::SeeOther);
    let id: i64 = q(&d, "SELECT id FROM priorities WHERE name = 'critical'");
    assert_eq!(
        q::<String>(&d, &format!("SELECT color FROM priorities WHERE id = {id}")),
        "#b91c1c"
    );
    assert_eq!(
        q::<i64>(&d, &format!("SELECT rank FROM priorities WHERE id = {id}")),
        5
    );
    // Down one: below emergency.
    let r = post_form(
        &admin,
        &format!("/admin/priorities/{id}/move"),
        "direction=down",
    );
    assert_eq!(r.status(), Status::SeeOther);
    assert_eq!(
        q::<i64>(&d, &format!("SELECT rank FROM priorities WHERE id = {id}")),
        4
    );
    assert_eq!(
        q::<i64>(&d, "SELECT rank FROM priorities WHERE name = 'emergency'"),
        5
    );
    let (_, data) = last_event(&d, "config.priority_reordered");
    assert_eq!(data["after"][3], "critical");
    let r = post_form(
        &admin,
        &format!("/admin/priorities/{id}"),
        "name=Critical&color=%23000",
    );
    assert_eq!(r.status(), Status::SeeOther);
    let (_, data) = last_event(&d, "config.priority_updated");
    assert_eq!(data["before"]["color"], "#b91c1c");
    assert_eq!(data["after"]["color"], "#000");
    // "normal" is used by tickets and is the default: it stays.
    let r = post_form(&admin, "/admin/priorities/2/delete", "");
    assert_eq!(r.status(), Status::UnprocessableEntity);
    assert_eq!(
        q::<i64>(&d, "SELECT COUNT(*) FROM priorities WHERE id = 2"),
        1
    );
    let r = post_form(&admin, &format!("/admin/priorities/{id}/delete"), "");
    assert_eq!(r.status(), Status::SeeOther);
    assert_eq!(q::<i64>(&d, "SELECT COUNT(*) FROM priorities"), 4);
    last_event(&d, "config.priority_deleted");
}

#[test]
fn custom_statuses_show_on_tickets_and_queues() {
    let d = desk();
    let admin = login(&d, "admin@desk.test");
    // Seeded: one status per state, shown as before.
    assert_eq!(
        q::<i64>(&d, "SELECT COUNT(DISTINCT state) FROM statuses"),
        5
    );
    let r = post_form(&admin, "/admin/statuses", "name=&state=nonsense");
    assert_eq!(r.status(), Status::UnprocessableEntity);
    let r = post_form(
        &admin,
        "/admin/statuses",
        &format!("name={}&state=pending&sort=9", enc("Waiting on vendor")),
    );
    assert_eq!(r.status(), Status::SeeOther);
    let sid: i64 = q(
        &d,
        "SELECT id FROM statuses WHERE name = 'Waiting on vendor'",
    );
    let (_, data) = last_event(&d, "config.status_created");
    assert_eq!(data["after"]["state"], "pending");

    // Alice (Support) picks it on her ticket.
    let alice = login(&d, "alice@desk.test");
    let page = body(alice.get(format!("/tickets/{}", d.ticket)).dispatch());
    assert!(
        page.contains(&format!("<option value=\"{sid}\"")),
        "offered in the status control"
    );
    let r = post_form(
        &alice,
        &format!("/tickets/{}/status", d.ticket),
        &format!("status={sid}"),
    );
    assert_eq!(r.status(), Status::SeeOther);
    assert_eq!(
        q::<String>(
            &d,
            &format!("SELECT status FROM tickets WHERE id = {}", d.ticket)
        ),
        "pending"
    );
    assert_eq!(
        q::<i64>(
            &d,
            &format!("SELECT status_id FROM tickets WHERE id = {}", d.ticket)
        ),
        sid
    );
    let page = body(alice.get(format!("/tickets/{}", d.ticket)).dispatch());
    assert!(page.contains("Waiting on vendor"));
    let page = body(alice.get("/departments/1").dispatch());
    assert!(page.contains("Waiting on vendor"), "queue shows the label");
    let page = body(alice.get("/search?q=printer").dispatch());
    assert!(
        page.contains("<span class=\"status s-pending\">Waiting on vendor</span>"),
        "search hits show the label"
    );
    let page = body(alice.get(format!("/tickets/{}", d.other)).dispatch());
    assert!(
        page.contains("<span class=\"status s-pending\">Waiting on vendor</span>"),
        "the customer panel shows the label"
    );
    // An unknown status id is refused.
    let r = post_form(
        &alice,
        &format!("/tickets/{}/status", d.ticket),
        "status=9999",
    );
    assert_eq!(r.status(), Status::BadRequest);

    // Its state cannot change while tickets show it.
    let r = post_form(
        &admin,
        &format!("/admin/statuses/{sid}"),
        "name=Waiting+on+vendor&state=open",
    );
    assert_eq!(r.status(), Status::UnprocessableEntity);
    // The last status of a state cannot be deleted.
    let r = post_form(&admin, "/admin/statuses/5/delete", "");
    assert_eq!(r.status(), Status::UnprocessableEntity);

    // The customer writes: the ticket reopens and drops the label.
    tickets::append_message(
        &d.store,
        &Actor::System,
        d.ticket,
        NewMessage {
            body: Body::text("Any news?"),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        q::<String>(
            &d,
            &format!("SELECT status FROM tickets WHERE id = {}", d.ticket)
        ),
        "open"
    );
    assert!(q::<Option<i64>>(
        &d,
        &format!("SELECT status_id FROM tickets WHERE id = {}", d.ticket)
    )
    .is_none());
    let page = body(alice.get(format!("/tickets/{}", d.ticket)).dispatch());
    assert!(!page.contains("<span class=\"status s-open\">Waiting on vendor"));
}

#[test]
fn shared_canned_responses_are_offered_per_department() {
    let d = desk();
    let admin = login(&d, "admin@desk.test");
    let r = post_form(&admin, "/admin/canned", "title=&body=");
    assert_eq!(r.status(), Status::UnprocessableEntity);
    let r = post_form(
        &admin,
        "/admin/canned",
        &format!("title=Sales+only&body=Prices&department={}", d.sales),
    );
    assert_eq!(r.status(), Status::SeeOther);
    let r = post_form(
        &admin,
        "/admin/canned",
        "title=Everyone&body=Hello+%7Bcustomer_name%7D&department=",
    );
    assert_eq!(r.status(), Status::SeeOther);
    let (_, data) = last_event(&d, "config.canned_created");
    assert_eq!(data["after"]["title"], "Everyone");
    // Alice's ticket is in Support: only the one for all departments.
    let alice = login(&d, "alice@desk.test");
    let page = body(alice.get(format!("/tickets/{}", d.ticket)).dispatch());
    assert!(page.contains("Everyone"));
    assert!(!page.contains("Sales only"));
    let id: i64 = q(
        &d,
        "SELECT id FROM canned_responses WHERE title = 'Sales only'",
    );
    let r = post_form(
        &admin,
        &format!("/admin/canned/{id}"),
        "title=Sales+only&body=New+prices&department=",
    );
    assert_eq!(r.status(), Status::SeeOther);
    let (_, data) = last_event(&d, "config.canned_updated");
    assert_eq!(data["before"]["body"], "Prices");
    assert_eq!(data["after"]["body"], "New prices");
    let r = post_form(&admin, &format!("/admin/canned/{id}/delete"), "");
    assert_eq!(r.status(), Status::SeeOther);
    last_event(&d, "config.canned_deleted");
}

#[test]
fn settings_page_saves_all_or_nothing_and_audits() {
    let d = desk();
    let admin = login(&d, "admin@desk.test");
    let page = body(admin.get("/admin/settings").dispatch());
    assert!(page.contains("name=\"helpdesk-timezone\""));
    let r = post_form(
        &admin,
        "/admin/settings",
        "helpdesk-name=Acme+Help&helpdesk-timezone=Mars%2FOlympus&tickets-number_format=AB&portal-accounts=required",
    );
    assert_eq!(r.status(), Status::UnprocessableEntity);
    let page = body(r);
    assert!(page.contains("is not a time zone name"));
    assert!(page.contains("four"));
    assert!(
        page.contains("value=\"Mars&#x2F;Olympus\""),
        "what was typed is kept"
    );
    assert_eq!(
        q::<String>(&d, "SELECT value FROM settings WHERE key = 'helpdesk.name'"),
        "Oxidesk"
    );
    let r = post_form(
        &admin,
        "/admin/settings",
        "helpdesk-name=Acme+Help&helpdesk-timezone=Asia%2FTehran&tickets-number_format=AC-%23%23%23%23%23&portal-accounts=required&tickets-reopen_on_reply=true",
    );
    assert_eq!(r.status(), Status::SeeOther);
    assert_eq!(
        q::<String>(
            &d,
            "SELECT value FROM settings WHERE key = 'helpdesk.timezone'"
        ),
        "Asia/Tehran"
    );
    assert_eq!(
        q::<String>(
            &d,
            "SELECT value FROM settings WHERE key = 'portal.accounts'"
        ),
        "required"
    );
    // Unchecked boxes are off.
    assert_eq!(
        q::<String>(
            &d,
            "SELECT value FROM settings WHERE key = 'mail.alert_overdue'"
        ),
        "false"
    );
    let conn = d.store.conn().unwrap();
    let data: String = conn
        .query_row(
            "SELECT data FROM events WHERE kind = 'config.setting_updated' AND data LIKE '%helpdesk.name%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    drop(conn);
    let data: serde_json::Value = serde_json::from_str(&data).unwrap();
    assert_eq!(data["before"], "Oxidesk");
    assert_eq!(data["after"], "Acme Help");
    // A new ticket number follows the format.
    let t = tickets::open(
        &d.store,
        &Actor::System,
        NewTicket::new(Source::Web, "x@example.com", "X", "Number", Body::text("n")),
    )
    .unwrap();
    assert!(
        t.number.starts_with("AC-") && t.number.len() == 8,
        "{}",
        t.number
    );

    // The logo: images only.
    let token = csrf(&admin);
    let (ct, bytes) = multipart(
        &token,
        &[],
        &[("logo", "logo.svg", b"<svg onload=alert(1)>")],
    );
    let r = admin
        .post("/admin/settings/logo")
        .header(ct)
        .body(bytes)
        .dispatch();
    assert_eq!(r.status(), Status::UnprocessableEntity);
    let (ct, bytes) = multipart(
        &token,
        &[],
        &[("logo", "logo.png", b"\x89PNG\r\n\x1a\nlogo")],
    );
    let r = admin
        .post("/admin/settings/logo")
        .header(ct)
        .body(bytes)
        .dispatch();
    assert_eq!(r.status(), Status::SeeOther);
    let blob: String = q(
        &d,
        "SELECT value FROM settings WHERE key = 'portal.logo_blob'",
    );
    assert_eq!(
        q::<Vec<u8>>(&d, &format!("SELECT data FROM blobs WHERE id = {blob}")),
        b"\x89PNG\r\n\x1a\nlogo"
    );

    // The audit log lists the changes, newest first, filtered by kind.
    let page = body(
        admin
            .get("/admin/audit?kind=config.setting_updated")
            .dispatch(),
    );
    assert!(page.contains("helpdesk.name") && page.contains("Acme Help"));
    let first = page.find("portal.logo_blob").unwrap();
    let later = page.find("helpdesk.name").unwrap();
    assert!(first < later, "newest first");
    assert!(page.contains("<strong>helpdesk.name</strong>"));
    let page = body(
        admin
            .get("/admin/audit?kind=config.department_created")
            .dispatch(),
    );
    assert!(!page.contains("<strong>helpdesk.name</strong>"));
    let page = body(admin.get("/admin/audit?kind=config.setting*").dispatch());
    assert!(page.contains("<strong>helpdesk.name</strong>"));
}

fn cli(d: &Desk, args: &[&str]) -> std::process::Output {
    let db = d._dir.path().join("desk.db");
    Command::new(env!("CARGO_BIN_EXE_oxidesk"))
        .arg("--db")
        .arg(&db)
        .args(args)
        .env_remove("OXIDESK_CONFIG")
        .output()
        .unwrap()
}

#[test]
fn settings_cli_round_trips_and_refuses_bad_values() {
    let d = desk();
    let out = cli(
        &d,
        &["settings", "set", "helpdesk.timezone", "Europe/Berlin"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = cli(&d, &["settings", "get", "helpdesk.timezone"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "Europe/Berlin");
    let out = cli(
        &d,
        &["settings", "set", "helpdesk.timezone", "Europe/Atlantis"],
    );
    assert_eq!(out.status.code(), Some(65));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a time zone name"));
    let out = cli(
        &d,
        &["settings", "set", "tickets.default_department_id", "99"],
    );
    assert_eq!(out.status.code(), Some(65));
    let out = cli(&d, &["settings", "set", "no.such_key", "1"]);
    assert_eq!(out.status.code(), Some(64));
    let out = cli(&d, &["settings", "set", "mail.alert_overdue", "off"]);
    assert!(out.status.success());
    let out = cli(&d, &["settings", "list", "--json"]);
    let all: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(all["helpdesk.timezone"], "Europe/Berlin");
    assert_eq!(all["mail.alert_overdue"], "false");
    assert_eq!(all["attachments.max_files"], "5");
    let (who, data) = last_event(&d, "config.setting_updated");
    assert_eq!(who, None);
    assert_eq!(data["key"], "mail.alert_overdue");
    assert_eq!(data["after"], "false");
}

#[test]
fn the_quarantine_shows_kept_mail_byte_for_byte_and_files_it_again() {
    use oxidesk::tickets::intake::{receive, IntakeOptions, IntakeOutcome, IntakeSource};
    let d = desk();
    let opts = IntakeOptions {
        max_message_bytes: 1 << 20,
        plugins: None,
    };
    // No usable sender: quarantined. A Persian subject with markup in it.
    let raw = "From: not-an-address\r\n\
               Subject: =?UTF-8?B?2LPYp9uM2Kog2KjYp9iyINmG2YXbjCDYtNmI2K8=?= <script>x</script>\r\n\
               Message-ID: <kept@x.example>\r\n\r\nHello <b>there</b>\r\n";
    let id = match receive(&d.store, raw.as_bytes(), IntakeSource::Pipe, &opts).unwrap() {
        IntakeOutcome::Quarantined { raw_id, .. } => raw_id.0,
        other => panic!("expected the quarantine, got {other:?}"),
    };
    let admin = login(&d, "admin@desk.test");

    // The list: sender, decoded subject (escaped), reason, and the count.
    let page = body(admin.get("/admin/quarantine").dispatch());
    assert!(
        page.contains(&format!("href=\"/admin/quarantine/{id}\"")),
        "{page}"
    );
    assert!(page.contains("not-an-address"));
    assert!(page.contains("سایت باز نمی شود"));
    assert!(page.contains("&lt;script&gt;x&lt;&#x2F;script&gt;"));
    assert!(!page.contains("<script>x"));
    assert!(page.contains("Quarantined (1)"), "{page}");
    // Every admin page shows that mail is waiting there.
    let page = body(admin.get("/admin/").dispatch());
    assert!(
        page.contains("Quarantine <span class=\"badge danger\">1</span>"),
        "{page}"
    );
    // Not among the refused.
    let page = body(admin.get("/admin/quarantine?rejected=true").dispatch());
    assert!(!page.contains(&format!("href=\"/admin/quarantine/{id}\"")));

    // Its page shows the message as text, escaped, with the reason.
    let page = body(admin.get(format!("/admin/quarantine/{id}")).dispatch());
    assert!(
        page.contains("Hello &lt;b&gt;there&lt;&#x2F;b&gt;"),
        "{page}"
    );
    assert!(page.contains("&lt;kept@x.example&gt;"));
    assert!(page.contains(&format!("action=\"/admin/quarantine/{id}/retry\"")));
    // The download is the message byte for byte, as an attachment.
    let r = admin.get(format!("/admin/quarantine/{id}/raw")).dispatch();
    assert_eq!(r.status(), Status::Ok);
    let disposition = r
        .headers()
        .get_one("Content-Disposition")
        .unwrap()
        .to_string();
    assert!(
        disposition.starts_with(&format!("attachment; filename=\"message-{id}.eml\"")),
        "{disposition}"
    );
    assert_eq!(
        r.headers().get_one("X-Content-Type-Options"),
        Some("nosniff")
    );
    assert_eq!(r.into_bytes().unwrap(), raw.as_bytes());
    assert_eq!(
        admin.get("/admin/quarantine/999999").dispatch().status(),
        Status::NotFound
    );

    // Agents see none of it.
    let alice = login(&d, "alice@desk.test");
    for url in [
        format!("/admin/quarantine/{id}"),
        format!("/admin/quarantine/{id}/raw"),
    ] {
        assert_eq!(
            alice.get(url.clone()).dispatch().status(),
            Status::Forbidden,
            "{url}"
        );
    }
    // A retry needs the form's token.
    let r = admin
        .post(format!("/admin/quarantine/{id}/retry"))
        .header(rocket::http::ContentType::Form)
        .body("")
        .dispatch();
    assert_eq!(r.status(), Status::Forbidden);

    // Retried as it is: still quarantined, the page says why.
    let r = post_form(&admin, &format!("/admin/quarantine/{id}/retry"), "");
    assert_eq!(r.status(), Status::UnprocessableEntity);
    let page = body(r);
    assert!(page.contains("still cannot be filed"), "{page}");
    assert_eq!(
        q::<String>(
            &d,
            &format!("SELECT status FROM raw_messages WHERE id = {id}")
        ),
        "quarantined"
    );

    // Once it can be filed (here the sender is fixed in place, as a newer
    // parser would read it), a retry files it and says where.
    let fixed = raw.replace("From: not-an-address", "From: Dana <dana@example.org>");
    d.store
        .conn()
        .unwrap()
        .execute(
            "UPDATE raw_messages SET data = ?1 WHERE id = ?2",
            rusqlite::params![fixed.as_bytes(), id],
        )
        .unwrap();
    let r = post_form(&admin, &format!("/admin/quarantine/{id}/retry"), "");
    assert_eq!(r.status(), Status::SeeOther);
    assert_eq!(location(&r), format!("/admin/quarantine/{id}?done=filed"));
    let ticket: i64 = q(
        &d,
        &format!("SELECT ticket_id FROM raw_messages WHERE id = {id}"),
    );
    let number: String = q(
        &d,
        &format!("SELECT number FROM tickets WHERE id = {ticket}"),
    );
    let page = body(
        admin
            .get(format!("/admin/quarantine/{id}?done=filed"))
            .dispatch(),
    );
    assert!(page.contains("The message was filed."));
    assert!(
        page.contains(&format!("Filed on ticket #{number}.")),
        "{page}"
    );
    assert!(!page.contains("/retry\""), "no retry once filed");
    let (staff, data) = last_event(&d, "config.quarantine_retried");
    assert_eq!(staff, Some(d.admin.0));
    assert_eq!(data["outcome"], "new_ticket");
    assert_eq!(data["number"], number.as_str());
    // The quarantine is empty again.
    let page = body(admin.get("/admin/quarantine").dispatch());
    assert!(page.contains("The quarantine is empty."));
    assert!(page.contains("Quarantined (0)"));
    let page = body(admin.get("/admin/").dispatch());
    assert!(!page.contains("badge danger"), "no badge once empty");
    // A second retry changes nothing and leads back to the message.
    let r = post_form(&admin, &format!("/admin/quarantine/{id}/retry"), "");
    assert_eq!(location(&r), format!("/admin/quarantine/{id}"));
    assert_eq!(
        q::<i64>(
            &d,
            &format!("SELECT COUNT(*) FROM tickets WHERE id = {ticket}")
        ),
        1
    );
    // A filed message is its ticket's source: it cannot be deleted here.
    let r = post_form(&admin, &format!("/admin/quarantine/{id}/delete"), "");
    assert_eq!(r.status(), Status::NotFound);
    assert_eq!(
        q::<i64>(
            &d,
            &format!("SELECT COUNT(*) FROM raw_messages WHERE id = {id}")
        ),
        1
    );

    // Junk is deleted by an admin, with the form's token, and logged.
    let junk = match receive(&d.store, b"not mail\n\x00\x01", IntakeSource::Pipe, &opts).unwrap() {
        IntakeOutcome::Quarantined { raw_id, .. } => raw_id.0,
        other => panic!("expected the quarantine, got {other:?}"),
    };
    let page = body(admin.get(format!("/admin/quarantine/{junk}")).dispatch());
    assert!(page.contains(&format!("action=\"/admin/quarantine/{junk}/delete\"")));
    assert_eq!(
        post_form(&alice, &format!("/admin/quarantine/{junk}/delete"), "").status(),
        Status::Forbidden
    );
    let r = admin
        .post(format!("/admin/quarantine/{junk}/delete"))
        .header(rocket::http::ContentType::Form)
        .body("")
        .dispatch();
    assert_eq!(r.status(), Status::Forbidden);
    let r = post_form(&admin, &format!("/admin/quarantine/{junk}/delete"), "");
    assert_eq!(location(&r), "/admin/quarantine?done=deleted");
    assert_eq!(
        q::<i64>(
            &d,
            &format!("SELECT COUNT(*) FROM raw_messages WHERE id = {junk}")
        ),
        0
    );
    let (staff, data) = last_event(&d, "config.quarantine_deleted");
    assert_eq!(staff, Some(d.admin.0));
    assert_eq!(data["raw_message"], junk);
    assert_eq!(data["reason"], "the message has no header block");
    let page = body(admin.get("/admin/quarantine?done=deleted").dispatch());
    assert!(page.contains("The message was deleted."));
    assert_eq!(
        admin
            .get(format!("/admin/quarantine/{junk}"))
            .dispatch()
            .status(),
        Status::NotFound
    );
}
