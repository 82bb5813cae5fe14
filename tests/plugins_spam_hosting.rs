//! The spam filter through the mail pipe, and the hosting-account panel
//! against a stub WHMCS API on 127.0.0.1. Each test uses its own SQLite file
//! in a temp dir.
#![cfg_attr(
    not(all(feature = "plugin-spam", feature = "plugin-hosting")),
    allow(dead_code, unused_imports)
)]

mod plugins_support;

use std::collections::BTreeMap;

use oxidesk::plugin::{self, PanelContext, Registry, Viewer};
use oxidesk::tickets::{self, events::Actor};
use plugins_support::{closed_port, config, open_ticket, pipe, ticket_count, Db, Request, Server};

fn staff_panel(email: &str) -> PanelContext {
    PanelContext {
        customer_email: email.into(),
        customer_name: "Ann Lee".into(),
        ticket_number: Some("100001".into()),
        viewer: Viewer::Staff,
    }
}

// ---------------------------------------------------------------- spam

#[cfg(feature = "plugin-spam")]
#[test]
fn spam_filter_verdicts_and_release_after_a_manual_mark() {
    let db = Db::new();
    let store = db.open();
    let cfg = config("[plugins.spam]\nthreshold = 5.0\nreject_threshold = 20.0\n");
    let registry = Registry::from_config(&cfg, Some(store.clone()));

    let raw = b"From: Winner <win@lottery.example>\r\nTo: support@ours.example\r\n\
Subject: You won\r\nMessage-ID: <spam1@lottery.example>\r\nX-Spam-Flag: YES\r\n\
X-Spam-Status: Yes, score=9.1 required=5.0 tests=LOTTERY\r\n\r\nClaim your prize.\r\n";
    let inbound = oxidesk::mail::parse::parse(raw).unwrap();
    let outcome = registry.filter_inbound(&plugin::inbound_mail(&inbound));
    assert!(outcome.is_spam(), "{outcome:?}");
    assert!(outcome.suppress_auto_response());
    assert!(outcome.reject.is_none());
    assert_eq!(outcome.spam.as_ref().unwrap().score, 9.1);

    let clean = b"From: Ann <ann@example.com>\r\nTo: support@ours.example\r\n\
Subject: Help\r\nX-Spam-Flag: NO\r\n\r\nHello\r\n";
    let inbound = oxidesk::mail::parse::parse(clean).unwrap();
    assert!(!registry
        .filter_inbound(&plugin::inbound_mail(&inbound))
        .is_spam());

    // The ticket is kept, marked; release brings it back.
    let number = open_ticket(&store, "win@lottery.example");
    let conn = store.conn().unwrap();
    let t = oxidesk::store::tickets::find_by_number(&conn, &number)
        .unwrap()
        .unwrap();
    tickets::mark_spam(&store, &Actor::System, t.id).unwrap();

    // Release through the CLI an admin uses.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_oxidesk"))
        .args(["--db"])
        .arg(&db.path)
        .args(["plugins", "spam", "release", &number])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("no longer marked as spam"));
    let t = oxidesk::store::tickets::find_by_number(&conn, &number)
        .unwrap()
        .unwrap();
    assert!(!t.is_spam);
    assert_eq!(t.status, oxidesk::model::Status::Open, "reopened");
    let released: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM events WHERE kind = 'spam_released' AND ticket_id = ?1",
            [t.id],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(released, 1);
    assert!(!tickets::release_spam(&store, &Actor::System, t.id).unwrap());
}

#[cfg(feature = "plugin-spam")]
#[test]
fn piped_spam_is_kept_hidden_without_auto_response_or_rejected() {
    let db = Db::new();
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("oxidesk.toml");
    std::fs::write(
        &conf,
        "[plugins.spam]\nthreshold = 5.0\nreject_threshold = 20.0\n\
         [[plugins.spam.rules]]\nfield = \"subject\"\ncontains = \"جایزه\"\nweight = 2.0\n",
    )
    .unwrap();

    // A staff member in the default department, who is alerted of new
    // tickets.
    {
        let store = db.open();
        store
            .conn()
            .unwrap()
            .execute_batch(
                "INSERT INTO staff (id, email, name, password_hash, created_at)
                     VALUES (7, 'agent@ours.example', 'Agent', 'x', 0);
                 INSERT INTO staff_departments (staff_id, department_id) VALUES (7, 1);",
            )
            .unwrap();
    }

    let spam = "From: Winner <win@lottery.example>\r\nTo: support@ours.example\r\n\
Subject: =?UTF-8?B?2KzYp9uM2LLZhw==?= you won\r\nMessage-ID: <spam2@lottery.example>\r\n\
X-Spam-Flag: YES\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nClaim your prize.\r\n";
    let log = pipe(&db, &conf, spam.as_bytes());
    assert!(log.contains("new ticket #"), "{log}");
    let store = db.open();
    let conn = store.conn().unwrap();
    let (number, is_spam, status, data): (String, bool, String, String) = conn
        .query_row(
            "SELECT t.number, t.is_spam, t.status, e.data FROM tickets t
             JOIN events e ON e.ticket_id = t.id AND e.kind = 'created'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
    assert!(is_spam, "kept, marked spam");
    assert_eq!(status, "closed", "out of the queues");
    let data: serde_json::Value = serde_json::from_str(&data).unwrap();
    assert_eq!(data["suppress_auto_response"], true, "no auto-response");
    let to_sender: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM outbox WHERE recipients LIKE '%win@lottery.example%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(to_sender, 0, "nothing is mailed to a spammer");
    let about_spam: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM outbox o JOIN tickets t ON t.id = o.ticket_id
             WHERE t.number = ?1",
            [&number],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(about_spam, 0, "no staff alert for spam either");

    // A clean message is an ordinary ticket.
    let clean = b"From: Ann <ann@example.com>\r\nTo: support@ours.example\r\n\
Subject: Help\r\nMessage-ID: <ham1@example.com>\r\nX-Spam-Flag: NO\r\n\r\nHello\r\n";
    pipe(&db, &conf, clean);
    let open_tickets: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM tickets WHERE is_spam = 0 AND status = 'open'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(open_tickets, 1);
    let auto: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM outbox WHERE kind = 'auto_response' AND recipients = 'ann@example.com'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(auto, 1, "a real customer does get the auto-response");
    let alerts: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM outbox WHERE recipients = 'agent@ours.example'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(alerts, 1, "and staff are alerted of the real ticket");

    // Far above the reject threshold: no ticket, the raw message kept.
    let worse = b"From: Bot <bot@spam.example>\r\nTo: support@ours.example\r\n\
Subject: Buy\r\nMessage-ID: <spam3@spam.example>\r\n\
X-Spamd-Result: default: True [31.50 / 15.00]; R_SPF_FAIL(1.00)\r\n\r\nBuy now\r\n";
    let log = pipe(&db, &conf, worse);
    assert!(log.contains("rejected"), "{log}");
    let (status, error): (String, String) = conn
        .query_row(
            "SELECT status, error FROM raw_messages WHERE message_id = 'spam3@spam.example'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(status, "rejected");
    assert!(error.contains("spam"), "{error}");
    assert_eq!(ticket_count(&store), 2, "no ticket for the rejected one");

    // Release the false positive: back in the queue.
    drop(conn);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_oxidesk"))
        .arg("--db")
        .arg(&db.path)
        .args(["plugins", "spam", "release", &number])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let conn = store.conn().unwrap();
    let t = oxidesk::store::tickets::find_by_number(&conn, &number)
        .unwrap()
        .unwrap();
    assert!(!t.is_spam);
    assert_eq!(t.status, oxidesk::model::Status::Open);
}

// ------------------------------------------------------------- hosting

#[cfg(feature = "plugin-hosting")]
fn whmcs(req: &Request) -> (u16, String) {
    let form: BTreeMap<String, String> = req
        .body
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), percent_decode(v)))
        .collect();
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    if field("identifier") != "ident" || field("secret") != "sekret" {
        return (
            403,
            r#"{"result":"error","message":"Authentication Failed"}"#.into(),
        );
    }
    assert_eq!(field("responsetype"), "json");
    let body = match field("action") {
        "GetClientsDetails" if field("email") == "ann@example.com" => {
            r#"{
            "result": "success", "userid": 42, "id": 42,
            "client": {"userid": 42, "id": 42, "firstname": "Ann", "lastname": "Lee",
                       "email": "ann@example.com", "companyname": "Lee & Co", "status": "Active",
                       "currency_code": "USD"},
            "stats": {"numunpaidinvoices": "2"}
        }"#
        }
        "GetClientsDetails" => r#"{"result":"error","message":"Client Not Found"}"#,
        "GetClientsProducts" => {
            assert_eq!(field("clientid"), "42");
            r#"{"result":"success","clientid":"42","totalresults":3,"startnumber":0,"numreturned":3,
            "products":{"product":[
              {"id":"7","clientid":"42","pid":"1","regdate":"2024-01-05","name":"Shared Hosting Pro",
               "translated_name":"Shared Hosting Pro","groupname":"Hosting","domain":"annlee.example",
               "status":"Active","nextduedate":"2026-12-05","billingcycle":"Monthly",
               "recurringamount":"9.99","paymentmethod":"paypal"},
              {"id":"8","clientid":"42","pid":"4","name":"VPS 2GB","translated_name":"VPS 2GB",
               "domain":"vps.annlee.example","status":"Suspended","nextduedate":"2026-11-01",
               "billingcycle":"Monthly"},
              {"id":"3","clientid":"42","pid":"2","name":"Old Plan","translated_name":"Old Plan",
               "domain":"old.example","status":"Terminated","nextduedate":"0000-00-00",
               "billingcycle":"Annually"}
            ]}}"#
        }
        "GetClientsDomains" => {
            r#"{"result":"success","clientid":"42","totalresults":1,"startnumber":0,"numreturned":1,
            "domains":{"domain":[{"id":"11","userid":"42","domainname":"annlee.example",
              "regdate":"2020-03-01","expirydate":"2027-03-01","nextduedate":"2027-03-01","status":"Active"}]}}"#
        }
        "GetInvoices" => {
            assert_eq!((field("userid"), field("status")), ("42", "Unpaid"));
            r#"{"result":"success","totalresults":2,"startnumber":0,"numreturned":2,
            "invoices":{"invoice":[
              {"id":"501","userid":"42","invoicenum":"","date":"2026-11-01","duedate":"2026-11-08",
               "subtotal":"15.50","total":"15.50","balance":"15.50","status":"Unpaid",
               "currencycode":"USD","currencyprefix":"$","currencysuffix":" USD"},
              {"id":"502","userid":"42","total":"10.00","balance":"10.00","status":"Unpaid",
               "currencycode":"USD","currencyprefix":"$","currencysuffix":" USD"}
            ]}}"#
        }
        other => panic!("unexpected action {other}"),
    };
    (200, body.into())
}

#[cfg(feature = "plugin-hosting")]
fn percent_decode(s: &str) -> String {
    let s = s.replace('+', " ");
    percent_encoding::percent_decode_str(&s)
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(feature = "plugin-hosting")]
#[test]
fn hosting_panel_shows_services_and_unpaid_total() {
    let server = Server::start(whmcs);
    let db = Db::new();
    let store = db.open();
    let cfg = config(&format!(
        "[plugins.hosting]\nurl = \"{}\"\nidentifier = \"ident\"\nsecret = \"sekret\"\n",
        server.url("")
    ));
    let registry = Registry::from_config(&cfg, Some(store.clone()));
    let panels = registry.ticket_panels(&staff_panel("Ann@Example.com"));
    assert_eq!(panels.len(), 1);
    let html = &panels[0].html;
    assert_eq!(panels[0].plugin, "hosting");
    assert!(html.contains("Client #42"), "{html}");
    assert!(html.contains("Lee &amp; Co"), "escaped: {html}");
    assert!(html.contains("Shared Hosting Pro"));
    assert!(html.contains("annlee.example"));
    assert!(html.contains("due 2026-12-05"));
    assert!(html.contains("VPS 2GB") && html.contains("Suspended"));
    assert!(
        !html.contains("Old Plan"),
        "terminated services are history"
    );
    assert!(html.contains("expires 2027-03-01"));
    assert!(
        html.contains("Unpaid invoices: 2 · total $25.50 USD"),
        "{html}"
    );
    let calls = server.requests().len();
    assert_eq!(calls, 4);

    // Cached: a second look does not call the API again.
    registry.ticket_panels(&staff_panel("ann@example.com"));
    assert_eq!(server.requests().len(), calls);

    // Not a client; and customers do not see it unless configured.
    let panels = registry.ticket_panels(&staff_panel("nobody@example.com"));
    assert!(panels[0].html.contains("No billing account"));
    let mut customer = staff_panel("ann@example.com");
    customer.viewer = Viewer::Customer;
    assert!(registry.ticket_panels(&customer).is_empty());
}

#[cfg(feature = "plugin-hosting")]
#[test]
fn hosting_api_down_shows_a_note() {
    let db = Db::new();
    let store = db.open();
    let cfg = config(&format!(
        "[plugins.hosting]\nurl = \"http://127.0.0.1:{}\"\nidentifier = \"ident\"\nsecret = \"sekret\"\nrequest_timeout_secs = 2\n",
        closed_port()
    ));
    let registry = Registry::from_config(&cfg, Some(store.clone()));
    let panels = registry.ticket_panels(&staff_panel("ann@example.com"));
    assert_eq!(panels.len(), 1);
    assert!(
        panels[0]
            .html
            .contains("Billing details are unavailable right now"),
        "{}",
        panels[0].html
    );

    // Wrong credentials are a note too, with WHMCS's message.
    let server = Server::start(whmcs);
    let cfg = config(&format!(
        "[plugins.hosting]\nurl = \"{}\"\nidentifier = \"ident\"\nsecret = \"wrong\"\n",
        server.url("")
    ));
    let registry = Registry::from_config(&cfg, Some(store));
    let panels = registry.ticket_panels(&staff_panel("ann@example.com"));
    assert!(
        panels[0].html.contains("Authentication Failed"),
        "{}",
        panels[0].html
    );
}

// ------------------------------------------------------------- web pages

#[cfg(feature = "plugin-hosting")]
#[test]
fn ticket_page_shows_the_hosting_panel_and_admin_lists_plugins() {
    use rocket::http::{ContentType, Status};
    use rocket::local::blocking::Client;

    let server = Server::start(whmcs);
    let db = Db::new();
    let store = db.open();
    let hash = oxidesk::web::auth::hash_password("correct horse battery").unwrap();
    oxidesk::store::staff::create(
        &store.conn().unwrap(),
        "admin@desk.test",
        "Ada",
        &hash,
        true,
        false,
    )
    .unwrap();
    let new = tickets::NewTicket::new(
        oxidesk::model::Source::Email,
        "ann@example.com",
        "Ann Lee",
        "Site down",
        tickets::Body::text("Help"),
    );
    let ticket = tickets::open(&store, &Actor::System, new).unwrap().ticket;
    let cfg = config(&format!(
        "[plugins.hosting]\nurl = \"{}\"\nidentifier = \"ident\"\nsecret = \"sekret\"\n",
        server.url("")
    ));
    let registry = std::sync::Arc::new(Registry::from_config(&cfg, Some(store.clone())));
    let rocket = oxidesk::web::build(store.clone(), cfg)
        .unwrap()
        .manage(registry);
    let client = Client::tracked(rocket).unwrap();

    client.get("/login").dispatch();
    let pre = client
        .cookies()
        .get(oxidesk::web::auth::PRE_COOKIE)
        .unwrap()
        .value()
        .to_string();
    let csrf = oxidesk::web::auth::csrf_for(&pre);
    let r = client
        .post("/login")
        .header(ContentType::Form)
        .body(format!(
            "_csrf={csrf}&email=admin%40desk.test&password=correct%20horse%20battery"
        ))
        .dispatch();
    assert_eq!(r.status(), Status::SeeOther);
    drop(r);

    let r = client.get(format!("/tickets/{}", ticket.0)).dispatch();
    assert_eq!(r.status(), Status::Ok);
    let html = r.into_string().unwrap();
    assert!(html.contains("Hosting account"), "panel title");
    assert!(html.contains("Shared Hosting Pro"), "services listed");
    assert!(html.contains("total $25.50 USD"), "unpaid total");

    let r = client.get("/admin/plugins").dispatch();
    assert_eq!(r.status(), Status::Ok);
    let html = r.into_string().unwrap();
    assert!(
        html.contains("hosting") && html.contains("running"),
        "{html}"
    );
}
