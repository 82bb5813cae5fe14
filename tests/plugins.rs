//! Plugins: the registry (config, order, isolation), the event dispatcher
//! with its durable queue, and the three shipped plugins against real HTTP
//! servers on 127.0.0.1. Each test uses its own SQLite file in a temp dir.
#![cfg_attr(
    not(all(feature = "plugin-webhook", feature = "plugin-hosting")),
    allow(dead_code)
)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use oxidesk::config::Config;
use oxidesk::model::Source;
use oxidesk::plugin::{
    self, Dispatcher, Factory, FilterDecision, InboundMail, PanelContext, PanelHtml, Plugin,
    PluginError, Registry, Viewer,
};
use oxidesk::store::{self, Store, StoreOptions};
use oxidesk::tickets::events::Actor;
use oxidesk::tickets::{self, Body, NewTicket};

// ---------------------------------------------------------------- fixtures

struct Db {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
}

impl Db {
    fn new() -> Db {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("oxidesk.db");
        Db { _dir: dir, path }
    }

    /// A fresh handle on the same file, as a restarted process gets.
    fn open(&self) -> Store {
        Store::open(&StoreOptions::new(self.path.clone())).unwrap()
    }
}

fn config(toml_text: &str) -> Config {
    let mut c = Config::default();
    let table: toml::Table = toml::from_str(toml_text).unwrap();
    let plugins: BTreeMap<String, toml::Table> = table
        .get("plugins")
        .and_then(|p| p.as_table())
        .map(|p| {
            p.iter()
                .map(|(k, v)| (k.clone(), v.as_table().cloned().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    c.plugins = plugins;
    c
}

/// Open a ticket through the domain, as the web form does; returns its
/// number.
fn open_ticket(store: &Store, email: &str) -> String {
    let new = NewTicket::new(
        Source::Web,
        email,
        "Ann Lee",
        "سرور پایین است",
        Body::text("My site is down since this morning."),
    );
    tickets::open(store, &Actor::System, new).unwrap().number
}

fn ticket_count(store: &Store) -> i64 {
    store
        .conn()
        .unwrap()
        .query_row("SELECT COUNT(*) FROM tickets", [], |r| r.get(0))
        .unwrap()
}

// ------------------------------------------------------ a tiny HTTP server

#[derive(Debug, Clone)]
struct Request {
    headers: Vec<(String, String)>,
    body: String,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

type Handler = dyn Fn(&Request) -> (u16, String) + Send + Sync;

/// An HTTP/1.1 server on 127.0.0.1 that answers with `handler` and keeps
/// every request. Stopped when dropped.
struct Server {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<Request>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    fn start(handler: impl Fn(&Request) -> (u16, String) + Send + Sync + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let handler: Arc<Handler> = Arc::new(handler);
        let (reqs, flag) = (Arc::clone(&requests), Arc::clone(&stop));
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if flag.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                serve_one(stream, &*handler, &reqs);
            }
        });
        Server {
            addr,
            requests,
            stop,
            thread: Some(thread),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Answer one request, keeping it first so the test sees it as soon as the
/// client has the answer.
fn serve_one(stream: TcpStream, handler: &Handler, log: &Mutex<Vec<Request>>) -> Option<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    if line.is_empty() {
        return None;
    }
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (n, v) = h.split_once(':')?;
        headers.push((n.trim().to_string(), v.trim().to_string()));
    }
    let len: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    let req = Request {
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    let (status, text) = handler(&req);
    log.lock().unwrap().push(req);
    let mut stream = stream;
    let _ = write!(
        stream,
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
        text.len()
    );
    let _ = stream.flush();
    Some(())
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

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

// ---------------------------------------------------------------- spam

#[cfg(feature = "plugin-spam")]
#[test]
fn spam_flag_marks_spam_without_auto_response_and_release_works() {
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

/// Pipe `raw` into `oxidesk pipe` as an MTA does; returns stderr.
fn pipe(db: &Db, config: &std::path::Path, raw: &[u8]) -> String {
    use std::process::Stdio;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_oxidesk"))
        .arg("--db")
        .arg(&db.path)
        .arg("--config")
        .arg(config)
        .arg("pipe")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(raw).unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "pipe failed: {stderr}");
    stderr
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
    let has_outbox: bool = conn
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE name = 'outbox')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    if has_outbox {
        let to_sender: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM outbox WHERE recipients LIKE '%win@lottery.example%'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(to_sender, 0, "nothing is mailed to a spammer");
    }

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
