//! Plugins: the registry (config, order, isolation), the event dispatcher
//! with its durable queue, the webhook plugin against a real HTTP server on
//! 127.0.0.1, and the CLI. Each test uses its own SQLite file in a temp dir.
#![cfg_attr(not(feature = "plugin-webhook"), allow(dead_code, unused_imports))]

mod plugins_support;
#[path = "plugins_ui/mod.rs"]
mod plugins_ui;
#[path = "web_support/mod.rs"]
mod web_support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use oxidesk::plugin::{
    self, Dispatcher, Factory, FilterDecision, InboundMail, PanelContext, PanelHtml, Plugin,
    PluginError, Registry, Viewer,
};
use oxidesk::store;
use plugins_support::{config, open_ticket, ticket_count, Db, Server};

// ------------------------------------------------------- test plugins

struct Tagger(&'static str);
impl Plugin for Tagger {
    fn filter_inbound(&self, _: &InboundMail) -> Result<FilterDecision, PluginError> {
        Ok(FilterDecision::Tag(vec![self.0.to_string()]))
    }
    fn ticket_panel(&self, ctx: &PanelContext) -> Result<Option<PanelHtml>, PluginError> {
        Ok(Some(PanelHtml::note(&format!(
            "{} sees {}",
            self.0, ctx.customer_email
        ))))
    }
}

struct Panicky;
impl Plugin for Panicky {
    fn on_event(
        &self,
        _: &oxidesk_plugin::TicketEvent,
    ) -> Result<Vec<oxidesk_plugin::Job>, PluginError> {
        panic!("on_event exploded")
    }
    fn filter_inbound(&self, _: &InboundMail) -> Result<FilterDecision, PluginError> {
        panic!("filter exploded")
    }
    fn ticket_panel(&self, _: &PanelContext) -> Result<Option<PanelHtml>, PluginError> {
        panic!("panel exploded")
    }
}

struct Failing;
impl Plugin for Failing {
    fn on_event(
        &self,
        _: &oxidesk_plugin::TicketEvent,
    ) -> Result<Vec<oxidesk_plugin::Job>, PluginError> {
        Err(PluginError::permanent("cannot handle events today"))
    }
    fn filter_inbound(&self, _: &InboundMail) -> Result<FilterDecision, PluginError> {
        Err(PluginError::temporary("filter backend unreachable"))
    }
}

struct Slow;
impl Plugin for Slow {
    fn filter_inbound(&self, _: &InboundMail) -> Result<FilterDecision, PluginError> {
        std::thread::sleep(Duration::from_secs(3));
        Ok(FilterDecision::Reject {
            reason: "too late to matter".into(),
        })
    }
}

fn factory(
    name: &'static str,
    build: fn(&oxidesk_plugin::PluginConfig) -> Result<Box<dyn Plugin>, PluginError>,
) -> Factory {
    Factory {
        name,
        description: "test plugin",
        build,
    }
}

fn test_factories() -> Vec<Factory> {
    vec![
        factory("alpha", |_| Ok(Box::new(Tagger("alpha")))),
        factory("beta", |_| Ok(Box::new(Tagger("beta")))),
        factory("gamma", |_| Ok(Box::new(Tagger("gamma")))),
        factory("panicky", |_| Ok(Box::new(Panicky))),
        factory("failing", |_| Ok(Box::new(Failing))),
        factory("slow", |_| Ok(Box::new(Slow))),
        factory("broken", |_| Err(PluginError::config("url is missing"))),
    ]
}

fn staff_panel(email: &str) -> PanelContext {
    PanelContext {
        customer_email: email.into(),
        customer_name: "Ann Lee".into(),
        ticket_number: Some("100001".into()),
        viewer: Viewer::Staff,
    }
}

// ------------------------------------------------------------ registry

#[test]
fn registry_enables_disables_and_orders_from_config() {
    let db = Db::new();
    let store = db.open();
    let cfg = config(
        r#"
        [plugins.alpha]
        order = 20
        [plugins.beta]
        order = 10
        [plugins.gamma]
        enabled = false
        [plugins.broken]
        [plugins.ghost]
        "#,
    );
    let registry = Registry::build(&cfg, &test_factories(), Some(store.clone()));
    let names: Vec<&str> = registry.loaded().iter().map(|l| l.name()).collect();
    assert_eq!(names, ["beta", "alpha"]);

    let outcome = registry.filter_inbound(&InboundMail::default());
    assert_eq!(outcome.tags, ["beta", "alpha"], "filters run in order");

    let rows = plugin::overview(&store, &registry).unwrap();
    let state = |n: &str| rows.iter().find(|r| r.listing.name == n).unwrap().state;
    assert_eq!(state("beta"), "running");
    assert_eq!(state("gamma"), "disabled");
    assert_eq!(state("panicky"), "disabled", "no section: off");
    assert_eq!(state("broken"), "failed to start");
    assert_eq!(state("ghost"), "not built in");
    let broken = rows.iter().find(|r| r.listing.name == "broken").unwrap();
    assert!(broken
        .listing
        .problem
        .as_deref()
        .unwrap()
        .contains("url is missing"));
}

#[test]
fn erroring_and_panicking_plugins_are_isolated_and_recorded() {
    let db = Db::new();
    let store = db.open();
    let cfg = config(
        r#"
        [plugins.panicky]
        order = 1
        [plugins.failing]
        order = 2
        [plugins.alpha]
        order = 3
        "#,
    );
    let registry = Arc::new(Registry::build(
        &cfg,
        &test_factories(),
        Some(store.clone()),
    ));

    // Inbound filter: the healthy plugin still runs, the others are noted.
    let outcome = registry.filter_inbound(&InboundMail::default());
    assert_eq!(outcome.tags, ["alpha"]);
    assert!(outcome.reject.is_none() && outcome.spam.is_none());
    let failed: Vec<&str> = outcome.errors.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(failed, ["panicky", "failing"]);
    assert!(outcome.errors[0].1.contains("filter exploded"));

    // Events: a ticket opened after the plugins started reaches them; the
    // dispatcher survives their failures and the ticket stays.
    let number = open_ticket(&store, "ann@example.com");
    let tally = Dispatcher::new(store.clone(), Arc::clone(&registry))
        .run_once(store::now())
        .unwrap();
    assert_eq!(tally.events, 3, "one event, three plugins");
    assert_eq!(ticket_count(&store), 1);
    let conn = store.conn().unwrap();
    assert!(oxidesk::store::tickets::find_by_number(&conn, &number)
        .unwrap()
        .is_some());

    // Panels: the panicking plugin's panel is a note, the others render.
    let panels = registry.ticket_panels(&staff_panel("ann@example.com"));
    let by = |n: &str| {
        panels
            .iter()
            .find(|p| p.plugin == n)
            .map(|p| p.html.clone())
    };
    assert!(by("alpha").unwrap().contains("alpha sees ann@example.com"));
    assert!(by("panicky").unwrap().contains("unavailable"));
    assert_eq!(by("failing"), None, "no panel hook: nothing shown");

    // Recorded for the admin page.
    let rows = plugin::overview(&store, &registry).unwrap();
    let row = |n: &str| rows.iter().find(|r| r.listing.name == n).unwrap().clone();
    assert_eq!(row("panicky").state, "error");
    assert!(row("panicky")
        .last_error
        .unwrap()
        .contains("panel exploded"));
    assert_eq!(row("failing").state, "error");
    assert!(row("failing")
        .last_error
        .unwrap()
        .contains("cannot handle events today"));
    assert_eq!(row("alpha").state, "running");
    assert!(row("alpha").last_run_at.is_some());
}

#[test]
fn a_slow_plugin_times_out_and_the_message_goes_on() {
    let db = Db::new();
    let store = db.open();
    let cfg = config(
        r#"
        [plugins.slow]
        timeout_ms = 100
        [plugins.alpha]
        "#,
    );
    let registry = Registry::build(&cfg, &test_factories(), Some(store.clone()));
    let outcome = registry.filter_inbound(&InboundMail::default());
    assert!(outcome.reject.is_none(), "the late rejection is ignored");
    assert_eq!(outcome.tags, ["alpha"]);
    assert_eq!(outcome.errors.len(), 1);
    assert!(
        outcome.errors[0].1.contains("did not answer"),
        "{:?}",
        outcome.errors
    );
}

#[test]
fn a_new_plugin_starts_at_the_end_of_the_event_log() {
    let db = Db::new();
    let store = db.open();
    open_ticket(&store, "old@example.com");
    let cfg = config("[plugins.alpha]\n");
    let registry = Arc::new(Registry::build(
        &cfg,
        &test_factories(),
        Some(store.clone()),
    ));
    let d = Dispatcher::new(store.clone(), registry);
    assert_eq!(d.run_once(store::now()).unwrap().events, 0);
    open_ticket(&store, "new@example.com");
    assert_eq!(d.run_once(store::now()).unwrap().events, 1);
    assert_eq!(d.run_once(store::now()).unwrap().events, 0, "read once");
}

// ------------------------------------------------------------- webhook

#[cfg(feature = "plugin-webhook")]
#[test]
fn webhook_is_signed_retried_and_survives_a_restart() {
    let answers = Arc::new(Mutex::new(vec![500u16, 200]));
    let a = Arc::clone(&answers);
    let server = Server::start(move |_| {
        let mut a = a.lock().unwrap();
        let status = if a.is_empty() { 200 } else { a.remove(0) };
        (status, "{}".into())
    });
    let db = Db::new();
    let cfg = config(&format!(
        r#"
        [plugins.webhook]
        urls = ["{}"]
        secret = "shared-secret"
        events = ["created"]
        retry_secs = 30
        "#,
        server.url("/hook")
    ));
    let now = store::now();
    let number;
    {
        let store = db.open();
        let registry = Arc::new(Registry::from_config(&cfg, Some(store.clone())));
        number = open_ticket(&store, "ann@example.com");
        let tally = Dispatcher::new(store.clone(), registry)
            .run_once(now)
            .unwrap();
        assert_eq!((tally.queued, tally.retrying, tally.delivered), (1, 1, 0));
        let jobs =
            store::plugins::list_jobs(&store.conn().unwrap(), Some("webhook"), None, 10).unwrap();
        assert_eq!(jobs.len(), 1);
        assert_eq!(
            (
                jobs[0].state.as_str(),
                jobs[0].attempts,
                jobs[0].last_status
            ),
            ("pending", 1, Some(500))
        );
        assert_eq!(jobs[0].next_attempt_at, now + 30);
    } // the process "stops" here

    let store = db.open();
    let registry = Arc::new(Registry::from_config(&cfg, Some(store.clone())));
    let d = Dispatcher::new(store.clone(), registry);
    assert_eq!(d.run_once(now + 5).unwrap().delivered, 0, "backing off");
    let tally = d.run_once(now + 31).unwrap();
    assert_eq!((tally.delivered, tally.queued), (1, 0));
    let jobs =
        store::plugins::list_jobs(&store.conn().unwrap(), Some("webhook"), None, 10).unwrap();
    assert_eq!(
        (
            jobs[0].state.as_str(),
            jobs[0].attempts,
            jobs[0].last_status
        ),
        ("done", 2, Some(200))
    );

    let requests = server.requests();
    assert_eq!(requests.len(), 2, "one failed try, one delivery");
    for r in &requests {
        let sig = r.header("X-Oxidesk-Signature").unwrap();
        assert!(oxidesk_plugin_webhook::verify(
            "shared-secret",
            r.body.as_bytes(),
            sig
        ));
        assert!(!oxidesk_plugin_webhook::verify(
            "wrong",
            r.body.as_bytes(),
            sig
        ));
        assert_eq!(r.header("X-Oxidesk-Event"), Some("created"));
    }
    assert_eq!(
        requests[0].header("X-Oxidesk-Delivery"),
        requests[1].header("X-Oxidesk-Delivery"),
        "the delivery id is stable across retries"
    );
    let body: serde_json::Value = serde_json::from_str(&requests[1].body).unwrap();
    assert_eq!(body["kind"], "created");
    assert_eq!(body["ticket_number"], number.as_str());
    assert_eq!(body["subject"], "سرور پایین است");
    assert_eq!(body["customer_email"], "ann@example.com");
    assert_eq!(body["excerpt"], "My site is down since this morning.");
}

#[cfg(feature = "plugin-webhook")]
#[test]
fn the_background_dispatcher_delivers_and_stops() {
    let server = Server::start(|_| (204, String::new()));
    let db = Db::new();
    let store = db.open();
    let cfg = config(&format!(
        "[plugins.webhook]\nurls = [\"{}\"]\nsecret = \"k\"\n",
        server.url("/bg")
    ));
    let (_registry, handle) = plugin::start(&cfg, &store).unwrap();
    open_ticket(&store, "ann@example.com");
    // Wait (bounded) for the worker to pick the event up.
    for _ in 0..200 {
        if !server.requests().is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    handle.stop();
    let requests = server.requests();
    assert_eq!(requests.len(), 1, "delivered once by the worker");
    assert_eq!(requests[0].header("X-Oxidesk-Event"), Some("created"));
}

#[cfg(feature = "plugin-webhook")]
#[test]
fn webhook_gives_up_on_a_refusal_and_retry_requeues() {
    let server = Server::start(|_| (410, "{}".into()));
    let db = Db::new();
    let store = db.open();
    let cfg = config(&format!(
        "[plugins.webhook]\nurls = [\"{}\"]\nsecret = \"k\"\n",
        server.url("/gone")
    ));
    let registry = Arc::new(Registry::from_config(&cfg, Some(store.clone())));
    open_ticket(&store, "ann@example.com");
    let d = Dispatcher::new(store.clone(), registry);
    assert_eq!(d.run_once(store::now()).unwrap().failed, 1);
    let conn = store.conn().unwrap();
    let job = &store::plugins::list_jobs(&conn, None, Some("failed"), 10).unwrap()[0];
    assert_eq!(job.last_status, Some(410));
    assert!(store::plugins::retry_job(&conn, job.id, store::now()).unwrap());
    assert_eq!(d.run_once(store::now()).unwrap().failed, 1, "tried again");
    assert_eq!(server.requests().len(), 2);
}

// ----------------------------------------------------------------- CLI

#[test]
fn cli_lists_plugins_with_their_state() {
    let db = Db::new();
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("oxidesk.toml");
    std::fs::write(
        &conf,
        "[plugins.spam]\nthreshold = 4.0\n[plugins.webhook]\nenabled = false\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_oxidesk"))
        .arg("--db")
        .arg(&db.path)
        .arg("--config")
        .arg(&conf)
        .args(["plugins", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let state = |n: &str| {
        rows.as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == n)
            .map(|r| r["state"].as_str().unwrap_or("").to_string())
    };
    if cfg!(feature = "plugin-spam") {
        assert_eq!(state("spam").as_deref(), Some("running"));
    }
    if cfg!(feature = "plugin-webhook") {
        assert_eq!(state("webhook").as_deref(), Some("disabled"));
    }

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_oxidesk"))
        .arg("--db")
        .arg(&db.path)
        .arg("--config")
        .arg(&conf)
        .args(["plugins", "run"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("0 events read"));
}
