//! Plugins as staff meet them: tags from inbound filters and from staff,
//! what marking a ticket as spam withdraws from the outbox, the HTTP intake
//! using the server's registry, and the ticket page with the billing API
//! down. (A module of tests/plugins.rs.)

use std::sync::Arc;

use rocket::http::Status;

use super::web_support::{body, desk, login, post_form, q};
use super::{factory, Tagger};
use oxidesk::plugin::Registry;
use oxidesk::store;
use oxidesk::tickets::intake::{self, IntakeOptions, IntakeOutcome, IntakeSource};

fn tagging_registry() -> Arc<Registry> {
    let cfg = super::config("[plugins.alpha]\n[plugins.vip]\n");
    let factories = vec![
        factory("alpha", |_| Ok(Box::new(Tagger("Billing")))),
        factory("vip", |_| Ok(Box::new(Tagger("VIP مشتری")))),
    ];
    Arc::new(Registry::build(&cfg, &factories, None))
}

const MAIL: &str = "From: Ann Lee <ann@example.net>\r\n\
To: support@desk.test\r\n\
Subject: Invoice question\r\n\
Message-ID: <tags-1@example.net>\r\n\
Date: Mon, 23 Nov 2026 06:00:00 +0000\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
Where is my invoice?\r\n";

#[test]
fn filter_tags_land_on_the_ticket_and_show_and_filter_the_queue() {
    let d = desk();
    let opts = IntakeOptions {
        max_message_bytes: 1 << 20,
        plugins: Some(tagging_registry()),
    };
    let outcome = intake::receive(&d.store, MAIL.as_bytes(), IntakeSource::Api, &opts).unwrap();
    let IntakeOutcome::NewTicket { ticket, number } = outcome else {
        panic!("expected a new ticket, got {outcome:?}");
    };
    let tags = store::tags::of_ticket(&d.store.conn().unwrap(), ticket).unwrap();
    assert_eq!(tags, vec!["Billing", "VIP مشتری"]);
    let events: String = q(
        &d,
        &format!(
            "SELECT data FROM events WHERE ticket_id = {} AND kind = 'tags_changed'",
            ticket.0
        ),
    );
    assert!(events.contains("Billing"), "{events}");

    // The staff ticket page shows them, with links to the queue filter.
    let c = login(&d, "admin@desk.test");
    let page = body(c.get(format!("/tickets/{}", ticket.0)).dispatch());
    assert!(page.contains(">Billing</a>"), "tag on the page");
    assert!(page.contains("VIP مشتری"), "RTL tag on the page");
    assert!(page.contains("/queues/open?tag=Billing"), "filter link");

    // The queue filter: any case, only tagged tickets.
    let other_number: String = q(
        &d,
        &format!("SELECT number FROM tickets WHERE id = {}", d.other.0),
    );
    let queue = body(c.get("/queues/open?tag=billing").dispatch());
    assert!(queue.contains(&number), "tagged ticket listed");
    assert!(!queue.contains(&other_number), "untagged ticket not listed");
    let unfiltered = body(c.get("/queues/open").dispatch());
    assert!(unfiltered.contains(&other_number));
    assert!(
        unfiltered.contains("<option value=\"Billing\""),
        "tag among the filter choices"
    );

    // Staff add (Latin and Arabic commas) and remove; each change recorded.
    let r = post_form(
        &c,
        &format!("/tickets/{}/tags", ticket.0),
        "add=urgent%2C%20%D9%81%D9%88%D8%B1%DB%8C%D8%8C%20billing",
    );
    assert_eq!(r.status(), Status::SeeOther);
    drop(r);
    let r = post_form(&c, &format!("/tickets/{}/tags", ticket.0), "remove=BILLING");
    assert_eq!(r.status(), Status::SeeOther);
    drop(r);
    let tags = store::tags::of_ticket(&d.store.conn().unwrap(), ticket).unwrap();
    assert_eq!(tags, vec!["urgent", "VIP مشتری", "فوری"]);
    let n: i64 = q(
        &d,
        &format!(
            "SELECT COUNT(*) FROM events WHERE ticket_id = {} AND kind = 'tags_changed'",
            ticket.0
        ),
    );
    assert_eq!(n, 3, "filter, add, remove");
    let page = body(c.get(format!("/tickets/{}", ticket.0)).dispatch());
    assert!(page.contains("+urgent"), "history shows the added tag");
    assert!(page.contains("−Billing"), "history shows the removed tag");

    // An agent outside the ticket's department cannot tag it.
    let bob = login(&d, "bob@desk.test");
    let r = post_form(&bob, &format!("/tickets/{}/tags", ticket.0), "add=x");
    assert_eq!(r.status(), Status::NotFound);
    drop(r);

    // `ticket show --json` carries them.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_oxidesk"))
        .args(["ticket", "show", &number, "--json"])
        .env("OXIDESK_DB", d.store.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["tags"],
        serde_json::json!(["urgent", "VIP مشتری", "فوری"])
    );

    // Merged into another ticket, its tags go along.
    oxidesk::tickets::merge(
        &d.store,
        &oxidesk::tickets::events::Actor::System,
        ticket,
        d.other,
    )
    .unwrap();
    let tags = store::tags::of_ticket(&d.store.conn().unwrap(), d.other).unwrap();
    assert_eq!(tags, vec!["urgent", "VIP مشتری", "فوری"]);
}

#[test]
fn marking_spam_withdraws_queued_alerts_and_auto_response() {
    let d = desk();
    let tid = d.ticket.0;
    let count = |sql: &str| -> i64 { q(&d, &sql.replace("TID", &tid.to_string())) };
    let queued_notifications =
        "SELECT COUNT(*) FROM outbox WHERE ticket_id = TID AND state = 'queued'
        AND (kind = 'auto_response' OR kind LIKE 'alert_%')";
    assert!(
        count(queued_notifications) >= 2,
        "auto-response and an alert queued"
    );
    // One alert is being delivered right now: it cannot be called back.
    d.store
        .conn()
        .unwrap()
        .execute(
            "UPDATE outbox SET state = 'sending', claim = 'w1', lease_until = ?2
             WHERE id = (SELECT MIN(id) FROM outbox WHERE ticket_id = ?1 AND kind LIKE 'alert_%')",
            rusqlite::params![tid, store::now() + 60],
        )
        .unwrap();
    let before = count(queued_notifications);

    let c = login(&d, "alice@desk.test");
    let r = post_form(&c, &format!("/tickets/{tid}/spam"), "");
    assert_eq!(r.status(), Status::SeeOther);
    drop(r);

    assert_eq!(count(queued_notifications), 0, "nothing left to go out");
    assert_eq!(
        count("SELECT COUNT(*) FROM outbox WHERE ticket_id = TID AND state = 'sending'"),
        1,
        "the delivery in progress stays"
    );
    let data: String = q(
        &d,
        &format!("SELECT data FROM events WHERE ticket_id = {tid} AND kind = 'mail_withdrawn'"),
    );
    let v: serde_json::Value = serde_json::from_str(&data).unwrap();
    let mails = v["mails"].as_array().unwrap();
    assert_eq!(
        mails.len() as i64,
        before,
        "every withdrawn mail is listed: {data}"
    );
    assert!(mails.iter().any(|m| m["kind"] == "auto_response"), "{data}");
    assert!(mails
        .iter()
        .all(|m| m["recipients"].as_array().is_some_and(|r| !r.is_empty())));
    // The other ticket's mail is untouched.
    assert!(
        q::<i64>(
            &d,
            &format!(
                "SELECT COUNT(*) FROM outbox WHERE ticket_id = {} AND state = 'queued'",
                d.other.0
            )
        ) >= 2
    );
    let page = body(c.get(format!("/tickets/{tid}")).dispatch());
    assert!(page.contains("withdrew queued mail"), "history shows it");
}

#[test]
fn http_intake_filters_with_the_servers_registry() {
    let d = desk();
    let conn = d.store.conn().unwrap();
    let key = "oxk_test_intake_key_0123456789";
    store::api_keys::insert(&conn, "mx", &store::api_keys::hash(key), "oxk_test", 0).unwrap();
    drop(conn);
    // As `serve` does: the running registry in managed state. The
    // configuration names no built-in plugin, so tags can only come from it.
    let rocket = oxidesk::web::build(d.store.clone(), oxidesk::config::Config::default())
        .unwrap()
        .manage(tagging_registry());
    let c = rocket::local::blocking::Client::untracked(rocket).unwrap();
    for i in 0..2 {
        let mail = MAIL.replace("tags-1@", &format!("tags-http-{i}@"));
        let r = c
            .post("/api/v1/mail")
            .header(rocket::http::Header::new(
                "Authorization",
                format!("Bearer {key}"),
            ))
            .body(mail)
            .dispatch();
        assert_eq!(r.status(), Status::Ok);
        let v: serde_json::Value = serde_json::from_str(&body(r)).unwrap();
        let number = v["ticket"].as_str().unwrap().to_string();
        let t = store::tickets::find_by_number(&d.store.conn().unwrap(), &number)
            .unwrap()
            .unwrap();
        let tags = store::tags::of_ticket(&d.store.conn().unwrap(), t.id).unwrap();
        assert_eq!(tags, vec!["Billing", "VIP مشتری"], "mail {i}");
    }
}

#[cfg(feature = "plugin-hosting")]
#[test]
fn ticket_page_renders_with_a_note_when_the_billing_api_is_down() {
    let d = desk();
    let cfg = super::config(&format!(
        "[plugins.hosting]\nurl = \"http://127.0.0.1:{}/includes/api.php\"\n\
         identifier = \"ident\"\nsecret = \"sekret\"\nrequest_timeout_secs = 2\n",
        super::plugins_support::closed_port()
    ));
    let registry = Arc::new(Registry::from_config(&cfg, Some(d.store.clone())));
    let rocket = oxidesk::web::build(d.store.clone(), cfg)
        .unwrap()
        .manage(registry);
    let c = rocket::local::blocking::Client::tracked(rocket).unwrap();
    let r = super::web_support::try_login(&c, "admin@desk.test", super::web_support::PW);
    assert_eq!(r.status(), Status::SeeOther);
    drop(r);
    let r = c.get(format!("/tickets/{}", d.ticket.0)).dispatch();
    assert_eq!(r.status(), Status::Ok, "the page renders");
    let html = body(r);
    assert!(html.contains("Printer on fire"), "the ticket is there");
    assert!(html.contains("Hosting account"), "the panel is there");
    assert!(
        html.contains("Billing details are unavailable right now"),
        "with a note"
    );
}

#[test]
fn the_portal_shows_the_hosting_panel_only_when_allowed() {
    for show in [true, false] {
        let d = desk();
        let cfg = super::config(&format!(
            "[plugins.hosting]\nurl = \"http://127.0.0.1:{}/includes/api.php\"\n\
             identifier = \"ident\"\nsecret = \"sekret\"\nrequest_timeout_secs = 2\n\
             show_to_customers = {show}\n",
            super::plugins_support::closed_port()
        ));
        let registry = Arc::new(Registry::from_config(&cfg, Some(d.store.clone())));
        let number: String = q(
            &d,
            &format!("SELECT number FROM tickets WHERE id = {}", d.ticket.0),
        );
        let token = {
            let conn = d.store.conn().unwrap();
            let secret = oxidesk::tickets::links::secret(&conn, &cfg.server.secret).unwrap();
            oxidesk::tickets::links::sign(
                &secret,
                d.ticket,
                "customer@example.com",
                store::now() + 3600,
            )
        };
        let rocket = oxidesk::web::build(d.store.clone(), cfg)
            .unwrap()
            .manage(registry);
        let c = rocket::local::blocking::Client::tracked(rocket).unwrap();
        let r = c
            .get(format!("/portal/tickets/{number}?t={token}"))
            .dispatch();
        assert_eq!(r.status(), Status::SeeOther, "the link grants the ticket");
        drop(r);
        let r = c.get(format!("/portal/tickets/{number}")).dispatch();
        assert_eq!(r.status(), Status::Ok);
        let html = body(r);
        assert!(html.contains("Printer on fire"), "the ticket is there");
        assert_eq!(
            html.contains("Billing details are unavailable right now"),
            show,
            "the panel (with its note, the API being down) only when show_to_customers = {show}"
        );
    }
}

#[test]
fn admins_find_held_spam_and_release_it_from_the_web() {
    let d = desk();
    let tid = d.ticket.0;
    let alice = login(&d, "alice@desk.test");
    let r = post_form(&alice, &format!("/tickets/{tid}/spam"), "");
    assert_eq!(r.status(), Status::SeeOther);
    drop(r);
    // Agents cannot see the list or release.
    assert_ne!(alice.get("/admin/spam").dispatch().status(), Status::Ok);
    let r = post_form(&alice, &format!("/admin/spam/{tid}/release"), "");
    assert_ne!(r.status(), Status::SeeOther);
    drop(r);
    assert_eq!(
        q::<i64>(&d, &format!("SELECT is_spam FROM tickets WHERE id = {tid}")),
        1
    );

    let admin = login(&d, "admin@desk.test");
    let list = body(admin.get("/admin/spam").dispatch());
    assert!(list.contains("Printer on fire"), "held ticket listed");
    assert!(list.contains("Alice"), "who marked it");
    let page = body(admin.get(format!("/tickets/{tid}")).dispatch());
    assert!(
        page.contains(&format!("/admin/spam/{tid}/release")),
        "release on the ticket page"
    );
    let queue = body(admin.get("/queues/closed").dispatch());
    let number: String = q(&d, &format!("SELECT number FROM tickets WHERE id = {tid}"));
    assert!(!queue.contains(&number), "spam is hidden from queues");

    let r = post_form(&admin, &format!("/admin/spam/{tid}/release"), "back=ticket");
    assert_eq!(r.status(), Status::SeeOther);
    assert_eq!(
        r.headers().get_one("Location"),
        Some(format!("/tickets/{tid}").as_str())
    );
    drop(r);
    assert_eq!(
        q::<i64>(&d, &format!("SELECT is_spam FROM tickets WHERE id = {tid}")),
        0
    );
    assert_eq!(
        q::<String>(&d, &format!("SELECT status FROM tickets WHERE id = {tid}")),
        "open"
    );
    let released: i64 = q(
        &d,
        &format!("SELECT COUNT(*) FROM events WHERE ticket_id = {tid} AND kind = 'spam_released'"),
    );
    assert_eq!(released, 1, "recorded");
    let queue = body(admin.get("/queues/open").dispatch());
    assert!(queue.contains(&number), "back in the queue");
    assert!(body(admin.get("/admin/spam").dispatch()).contains("No ticket is held as spam"));
}

#[cfg(feature = "plugin-webhook")]
#[test]
fn a_stopping_dispatcher_leaves_queued_jobs_for_the_next_start() {
    use std::sync::atomic::{AtomicBool, Ordering};

    let server = super::Server::start(|_| (204, String::new()));
    let d = desk();
    let cfg = super::config(&format!(
        "[plugins.webhook]\nurls = [\"{}\"]\nsecret = \"k\"\n",
        server.url("/stop")
    ));
    let registry = Arc::new(Registry::from_config(&cfg, Some(d.store.clone())));
    let stop = Arc::new(AtomicBool::new(false));
    let dispatcher =
        oxidesk::plugin::Dispatcher::new(d.store.clone(), registry).with_stop(Arc::clone(&stop));
    dispatcher.run_once(store::now()).unwrap();
    super::open_ticket(&d.store, "ann@example.com");
    stop.store(true, Ordering::SeqCst);
    let tally = dispatcher.run_once(store::now()).unwrap();
    assert!(
        tally.queued >= 1,
        "the event is still planned into the queue"
    );
    assert_eq!(tally.delivered, 0, "no job is started while stopping");
    assert!(server.requests().is_empty());
    let pending = store::plugins::list_jobs(
        &d.store.conn().unwrap(),
        Some("webhook"),
        Some("pending"),
        10,
    )
    .unwrap();
    assert_eq!(pending.len(), tally.queued, "kept for the next start");
}
