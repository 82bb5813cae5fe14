//! The admin pages: /admin/filters (list, edit, order, enable, delete),
//! the test form and /admin/bans, with their audit events.

use rocket::http::Status;

use oxidesk::store::filters as sf;
use oxidesk::store::{self, Store};
use oxidesk::tickets;
use oxidesk::tickets::events::Actor;
use oxidesk::tickets::intake::{self, IntakeOutcome, IntakeSource};

use super::web_support::*;
use super::*;

fn admin(d: &Desk) -> rocket::local::blocking::Client {
    login(d, "admin@desk.test")
}

fn audit_kinds(store: &Store) -> Vec<String> {
    let conn = store.conn().unwrap();
    let mut st = conn
        .prepare(
            "SELECT kind FROM events WHERE ticket_id IS NULL AND kind LIKE 'config.%' ORDER BY id",
        )
        .unwrap();
    let rows = st.query_map([], |r| r.get(0)).unwrap();
    rows.map(Result::unwrap).collect()
}

#[test]
fn admin_filter_pages_create_edit_order_toggle_delete_with_audit() {
    let d = desk();
    let c = admin(&d);
    assert_eq!(c.get("/admin/filters").dispatch().status(), Status::Ok);
    let page = body(c.get("/admin/filters/new").dispatch());
    assert!(page.contains("name=\"c_field\"") && page.contains("name=\"a_action\""));
    assert!(page.contains("admin-filters"), "the row script is loaded");

    // An invalid regex is refused beside its row, what was typed kept.
    let r = post_form(
        &c,
        "/admin/filters/new",
        &format!(
            "name={}&active=true&match_mode=all&c_field=subject&c_header=&c_op=regex&c_value={}&a_action={}&a_note=",
            enc("Urgent"),
            enc("(unclosed"),
            enc("set_priority:4")
        ),
    );
    assert_eq!(r.status(), Status::UnprocessableEntity);
    let page = body(r);
    assert!(page.contains("not a valid regular expression"), "{page}");
    assert!(page.contains("value=\"(unclosed\""));
    assert!(page.contains("value=\"Urgent\""));
    assert_eq!(q::<i64>(&d, "SELECT COUNT(*) FROM filters"), 0);

    // No name, no conditions, no actions: three errors.
    let r = post_form(&c, "/admin/filters/new", "name=&match_mode=any");
    assert_eq!(r.status(), Status::UnprocessableEntity);
    let page = body(r);
    assert!(page.contains("needs a name") && page.contains("at least one condition"));
    assert!(page.contains("at least one action"));

    // An action pointing at a missing staff member is refused.
    let r = post_form(
        &c,
        "/admin/filters/new",
        "name=x&c_field=subject&c_header=&c_op=contains&c_value=a&a_action=assign_staff%3A999&a_note=",
    );
    assert_eq!(r.status(), Status::UnprocessableEntity);
    assert!(body(r).contains("no longer exists"));

    // Two good filters, with blank spare rows as the no-script form posts.
    let form = |name: &str, value: &str, action: &str| {
        format!(
            "name={}&active=true&match_mode=all&sources=email&sources=web\
             &c_field=subject&c_header=&c_op=contains&c_value={}\
             &c_field=subject&c_header=&c_op=contains&c_value=\
             &c_field=header&c_header=X-Tier&c_op=equals&c_value=gold\
             &a_action={}&a_note=&a_action=add_note%3A&a_note={}&a_action=&a_note=",
            enc(name),
            enc(value),
            enc(action),
            enc("یادداشت")
        )
    };
    let r = post_form(
        &c,
        "/admin/filters/new",
        &form("First", "printer", "set_priority:4"),
    );
    assert_eq!(r.status(), Status::SeeOther);
    let r = post_form(
        &c,
        "/admin/filters/new",
        &form("Second", "invoice", "set_status:closed"),
    );
    assert_eq!(r.status(), Status::SeeOther);
    let first: i64 = q(&d, "SELECT id FROM filters WHERE name = 'First'");
    let second: i64 = q(&d, "SELECT id FROM filters WHERE name = 'Second'");
    let row = sf::get(&d.store.conn().unwrap(), first).unwrap().unwrap();
    assert_eq!(row.sources, "email,web");
    assert_eq!(row.conditions.len(), 2, "the blank row was skipped");
    assert_eq!(row.conditions[1].header, "x-tier");
    assert_eq!(row.actions.len(), 2);
    assert_eq!(row.actions[1].value, "یادداشت");

    // A duplicate name is an error beside the name.
    let r = post_form(
        &c,
        "/admin/filters/new",
        &form("first", "x", "set_priority:1"),
    );
    assert_eq!(r.status(), Status::UnprocessableEntity);
    assert!(body(r).contains("already exists"));

    let page = body(c.get("/admin/filters").dispatch());
    let (a, b) = (page.find("First").unwrap(), page.find("Second").unwrap());
    assert!(a < b, "listed in order");
    assert!(page.contains("Set priority: emergency"), "actions in words");

    // Move Second up, edit it, disable it, delete First.
    let r = post_form(&c, &format!("/admin/filters/{second}/move"), "direction=up");
    assert_eq!(r.status(), Status::SeeOther);
    let page = body(c.get("/admin/filters").dispatch());
    assert!(page.find("Second").unwrap() < page.find("First").unwrap());
    let edit = body(c.get(format!("/admin/filters/{second}")).dispatch());
    assert!(edit.contains("value=\"invoice\"") && edit.contains("set_status:closed\" selected"));
    let r = post_form(
        &c,
        &format!("/admin/filters/{second}"),
        &form("Second renamed", "invoice", "set_priority:1"),
    );
    assert_eq!(r.status(), Status::SeeOther);
    assert_eq!(
        q::<String>(&d, &format!("SELECT name FROM filters WHERE id = {second}")),
        "Second renamed"
    );
    let r = post_form(
        &c,
        &format!("/admin/filters/{second}/active"),
        "active=false",
    );
    assert_eq!(r.status(), Status::SeeOther);
    assert_eq!(
        q::<i64>(
            &d,
            &format!("SELECT active FROM filters WHERE id = {second}")
        ),
        0
    );
    let r = post_form(&c, &format!("/admin/filters/{first}/delete"), "");
    assert_eq!(r.status(), Status::SeeOther);
    assert_eq!(
        q::<i64>(
            &d,
            "SELECT COUNT(*) FROM filter_conditions WHERE filter_id = 1"
        ),
        0
    );
    assert_eq!(
        c.get(format!("/admin/filters/{first}")).dispatch().status(),
        Status::NotFound
    );

    let kinds = audit_kinds(&d.store);
    for k in [
        "config.filter_created",
        "config.filter_moved",
        "config.filter_updated",
        "config.filter_disabled",
        "config.filter_deleted",
    ] {
        assert!(kinds.iter().any(|x| x == k), "{k} missing from {kinds:?}");
    }
    let who: String = q(
        &d,
        "SELECT actor FROM events WHERE kind = 'config.filter_updated'",
    );
    assert_eq!(who, "Ada Admin");
    let data: String = q(
        &d,
        "SELECT data FROM events WHERE kind = 'config.filter_updated'",
    );
    assert!(
        data.contains("\"before\"") && data.contains("Second renamed"),
        "{data}"
    );
    // The audit log page shows what changed, and only that.
    let page = body(c.get("/admin/audit?kind=config.filter_updated").dispatch());
    assert!(page.contains("config.filter_updated"), "{page}");
    assert!(page.contains("<del dir=\"auto\">Second</del>"), "{page}");
    assert!(!page.contains("<strong>position</strong>"), "{page}");
}

#[test]
fn admin_pages_are_for_admins_and_need_csrf() {
    let d = desk();
    let alice = login(&d, "alice@desk.test");
    for url in [
        "/admin/filters",
        "/admin/filters/new",
        "/admin/filters/test",
        "/admin/bans",
    ] {
        assert_eq!(
            alice.get(url).dispatch().status(),
            Status::Forbidden,
            "{url}"
        );
    }
    let r = post_form(&alice, "/admin/bans", "entry=x%40y.example");
    assert_eq!(r.status(), Status::Forbidden);
    let c = admin(&d);
    let r = c
        .post("/admin/bans")
        .header(rocket::http::ContentType::Form)
        .body("entry=x%40y.example")
        .dispatch();
    assert_ne!(r.status(), Status::SeeOther);
    assert_eq!(q::<i64>(&d, "SELECT COUNT(*) FROM banned_senders"), 0);
}

#[test]
fn the_test_form_shows_matches_without_creating_anything() {
    let d = desk();
    let conn = d.store.conn().unwrap();
    sf::create(
        &conn,
        &spec(
            "Gold first",
            vec![cond("header", "x-customer-tier", "equals", "gold")],
            vec![act("set_priority", "4"), act("stop_processing", "")],
        ),
    )
    .unwrap();
    sf::create(
        &conn,
        &spec(
            "Any invoice",
            vec![cond("body", "", "contains", "invoice")],
            vec![
                act("set_department", &d.sales.to_string()),
                act("reject", ""),
            ],
        ),
    )
    .unwrap();
    store::bans::add(&conn, "@spam.example", "", None).unwrap();
    drop(conn);
    let tickets_before: i64 = q(&d, "SELECT COUNT(*) FROM tickets");
    let events_before: i64 = q(&d, "SELECT COUNT(*) FROM events");
    let c = admin(&d);
    assert!(body(c.get("/admin/filters/test").dispatch()).contains("name=\"raw\""));

    let page = body(post_form(
        &c,
        "/admin/filters/test",
        &format!("raw={}", enc(MAIL)),
    ));
    assert!(page.contains("data-verdict=\"applied\""), "{page}");
    assert!(page.contains("data-verdict=\"not_reached\""), "{page}");
    assert!(page.contains("Set priority: emergency"));
    assert!(!page.contains("data-result=\"rejected\""));

    // Typed fields instead of a raw mail: the second filter rejects.
    let page = body(post_form(
        &c,
        "/admin/filters/test",
        "raw=&sender=someone%40spam.example&subject=Hi&body=my+invoice&source=web",
    ));
    assert!(page.contains("data-result=\"banned\""), "{page}");
    assert!(page.contains("data-result=\"rejected\""), "{page}");
    assert!(page.contains("Any invoice"));

    // Bad input is shown beside its field.
    let page = body(post_form(&c, "/admin/filters/test", "raw=&sender=nobody"));
    assert!(page.contains("Enter a sender address"), "{page}");
    let page = body(post_form(
        &c,
        "/admin/filters/test",
        "raw=garbage-without-headers",
    ));
    assert!(
        page.contains("cannot be read") || page.contains("data-verdict"),
        "{page}"
    );

    assert_eq!(q::<i64>(&d, "SELECT COUNT(*) FROM tickets"), tickets_before);
    assert_eq!(q::<i64>(&d, "SELECT COUNT(*) FROM events"), events_before);
    assert_eq!(q::<i64>(&d, "SELECT COUNT(*) FROM banned_senders"), 1);
}

#[test]
fn ban_list_page_adds_lists_and_lifts_with_audit() {
    let d = desk();
    let c = admin(&d);
    let r = post_form(&c, "/admin/bans", "entry=*%40Spam.Example&note=bulk+mail");
    assert_eq!(r.status(), Status::SeeOther);
    let r = post_form(&c, "/admin/bans", "entry=Bad%40Person.example&note=");
    assert_eq!(r.status(), Status::SeeOther);
    let r = post_form(&c, "/admin/bans", "entry=%40spam.example&note=");
    assert_eq!(
        r.status(),
        Status::SeeOther,
        "already banned is not an error"
    );
    let r = post_form(&c, "/admin/bans", "entry=not+an+address&note=kept");
    assert_eq!(r.status(), Status::UnprocessableEntity);
    let page = body(r);
    assert!(page.contains("Enter an address like") && page.contains("value=\"not an address\""));

    let page = body(c.get("/admin/bans").dispatch());
    assert!(page.contains("@spam.example") && page.contains("bad@person.example"));
    assert!(page.contains("whole domain") && page.contains("Ada Admin"));
    let page = body(c.get("/admin/bans?q=person").dispatch());
    assert!(!page.contains("@spam.example") && page.contains("bad@person.example"));

    let r = post_form(&c, "/admin/bans/remove", "entry=bad%40person.example");
    assert_eq!(r.status(), Status::SeeOther);
    let r = post_form(&c, "/admin/bans/remove", "entry=bad%40person.example");
    assert_eq!(r.status(), Status::NotFound);
    assert_eq!(q::<i64>(&d, "SELECT COUNT(*) FROM banned_senders"), 1);
    let kinds = audit_kinds(&d.store);
    assert_eq!(
        kinds,
        ["config.ban_added", "config.ban_added", "config.ban_removed"]
    );

    // Mail from the banned domain is now rejected.
    let spam = MAIL.replace("carol@customer.example", "x@spam.example");
    let out = intake::receive(&d.store, spam.as_bytes(), IntakeSource::Api, &opts()).unwrap();
    assert!(matches!(out, IntakeOutcome::Rejected { .. }), "{out:?}");
}

#[test]
fn the_ticket_page_names_the_filter_applied() {
    let d = desk();
    add_filter(
        &d.store,
        spec(
            "Printers",
            vec![cond("subject", "", "contains", "toner")],
            vec![act("set_priority", "3")],
        ),
    );
    let o = tickets::open(
        &d.store,
        &Actor::System,
        web("c@example.com", "Toner empty", "b"),
    )
    .unwrap();
    let c = admin(&d);
    let page = body(c.get(format!("/tickets/{}", o.ticket)).dispatch());
    assert!(
        page.contains("<span dir=\"auto\">Printers</span>: filter applied"),
        "{page}"
    );
}

#[test]
fn a_filter_has_a_bounded_number_of_rows() {
    let d = desk();
    let c = admin(&d);
    let rows: String = (0..51)
        .map(|i| format!("&c_field=subject&c_header=&c_op=contains&c_value=w{i}"))
        .collect();
    let r = post_form(
        &c,
        "/admin/filters/new",
        &format!("name=big{rows}&a_action=reject%3A&a_note="),
    );
    assert_eq!(r.status(), Status::UnprocessableEntity);
    assert!(body(r).contains("at most 50 rows"));
    assert_eq!(q::<i64>(&d, "SELECT COUNT(*) FROM filters"), 0);
}
