//! Outbound mail against a real SMTP server on loopback: Postfix's
//! `smtp-sink`, started by each test on a port it picks. In CI (CI=true) a
//! missing smtp-sink fails the tests; elsewhere they skip loudly.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Once;
use std::time::{Duration, Instant};

use oxidesk::config::Config;
use oxidesk::mail::parse::AutoFlags;
use oxidesk::mail::send::transport::Transport;
use oxidesk::mail::send::{templates, worker};
use oxidesk::model::Source;
use oxidesk::model::{StaffId, TicketId};
use oxidesk::store::{self, Store, StoreOptions};
use oxidesk::tickets::events::Actor;
use oxidesk::tickets::intake::{self, IntakeOptions, IntakeOutcome, IntakeSource};
use oxidesk::tickets::{self, links, Body, MailInfo, NewAttachment, NewTicket, Reply};

const SMTP_SINK: &str = "/usr/sbin/smtp-sink";
const OUR_ADDRESS: &str = "support@help.example.test";

// ---------------------------------------------------------------- harness

/// The queue side reads the From address, public URL and secret from the
/// process-wide configuration; every test uses the same one.
fn configure() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| oxidesk::mail::send::configure(&base_config(0)));
}

fn base_config(port: u16) -> Config {
    let mut c = Config::default();
    c.server.base_url = "https://help.example.test".into();
    c.smtp.transport = "smtp".into();
    c.smtp.host = "127.0.0.1".into();
    c.smtp.port = port;
    c.smtp.security = "none".into();
    c.smtp.from_address = OUR_ADDRESS.into();
    c.smtp.from_name = "Help Desk".into();
    c.smtp.timeout_seconds = 5;
    c
}

/// smtp-sink is present, or the test cannot run: fail in CI, skip elsewhere.
fn have_sink() -> bool {
    if Path::new(SMTP_SINK).exists() {
        return true;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{SMTP_SINK} is missing: install Debian's postfix package for the outbound tests");
    }
    eprintln!("SKIPPED: {SMTP_SINK} is missing (install postfix to run the outbound tests)");
    false
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn wait_for_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "smtp-sink did not start on {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A running smtp-sink writing each received message to a file in `dir`.
struct Sink {
    child: Child,
    dir: PathBuf,
}

impl Sink {
    fn start(port: u16, dir: &Path, extra: &[&str]) -> Sink {
        std::fs::create_dir_all(dir).unwrap();
        let mut cmd = Command::new(SMTP_SINK);
        // smtp-sink insists on -u when started as root; it must still write
        // into our temp dir, so it stays root.
        let uid = Command::new("id").arg("-u").output().ok();
        if uid.is_some_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0") {
            cmd.args(["-u", "root"]);
        }
        let child = cmd
            .arg("-d")
            .arg(format!("{}/%M.", dir.display()))
            .args(extra)
            .arg(format!("127.0.0.1:{port}"))
            .arg("100")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting smtp-sink");
        wait_for_port(port);
        Sink {
            child,
            dir: dir.to_path_buf(),
        }
    }

    /// Every message received so far, as raw bytes.
    fn messages(&self) -> Vec<Vec<u8>> {
        let mut files: Vec<_> = std::fs::read_dir(&self.dir)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        files.sort();
        files.iter().map(|p| std::fs::read(p).unwrap()).collect()
    }

    /// Wait until `n` complete messages are there (smtp-sink writes them
    /// while the session is still running).
    fn wait_for(&self, n: usize) -> Vec<Vec<u8>> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let m = self.messages();
            if m.len() >= n || Instant::now() > deadline {
                std::thread::sleep(Duration::from_millis(200));
                return self.messages();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Env {
    dir: tempfile::TempDir,
    store: Store,
    config: Config,
}

impl Env {
    fn new(port: u16) -> Env {
        configure();
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&StoreOptions::new(dir.path().join("oxidesk.db"))).unwrap();
        Env {
            dir,
            store,
            config: base_config(port),
        }
    }

    fn db(&self) -> PathBuf {
        self.dir.path().join("oxidesk.db")
    }

    fn conn(&self) -> store::Conn {
        self.store.conn().unwrap()
    }

    fn deliver(&self) -> worker::RunSummary {
        let t = Transport::from_config(&self.config.smtp).unwrap();
        worker::run_due(&self.store, &self.config, &t, &|| false).unwrap()
    }

    fn pipe(&self, raw: &str) -> IntakeOutcome {
        intake::receive(
            &self.store,
            raw.as_bytes(),
            IntakeSource::Pipe,
            &IntakeOptions::from_config(&self.config),
        )
        .unwrap()
    }

    fn staff(&self, name: &str, email: &str) -> StaffId {
        let c = self.conn();
        c.execute(
            "INSERT INTO staff (email, name, password_hash, created_at) VALUES (?1, ?2, 'x', 0)",
            [email, name],
        )
        .unwrap();
        let id = c.last_insert_rowid();
        c.execute(
            "INSERT INTO staff_departments (staff_id, department_id) VALUES (?1, 1)",
            [id],
        )
        .unwrap();
        StaffId(id)
    }

    fn outbox(&self, kind: &str) -> Vec<(i64, String, String)> {
        let c = self.conn();
        let mut s = c
            .prepare("SELECT id, state, recipients FROM outbox WHERE kind = ?1 ORDER BY id")
            .unwrap();
        let rows = s
            .query_map([kind], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap();
        rows.map(Result::unwrap).collect()
    }

    fn bin(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_oxidesk"));
        c.env("OXIDESK_DB", self.db())
            .env("OXIDESK_SMTP_TRANSPORT", "smtp")
            .env("OXIDESK_SMTP_HOST", "127.0.0.1")
            .env("OXIDESK_SMTP_PORT", self.config.smtp.port.to_string())
            .env("OXIDESK_SMTP_SECURITY", "none")
            .env("OXIDESK_SMTP_TIMEOUT_SECONDS", "5")
            .env("OXIDESK_SMTP_FROM_ADDRESS", OUR_ADDRESS)
            .env("OXIDESK_SERVER_BASE_URL", "https://help.example.test")
            .env_remove("OXIDESK_CONFIG");
        c
    }
}

fn customer_mail(from: &str, message_id: &str, subject: &str, extra: &str) -> String {
    format!(
        "From: {from}\r\nTo: {OUR_ADDRESS}\r\nSubject: {subject}\r\nMessage-ID: <{message_id}>\r\n\
         Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n{extra}\
         Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\
         My server is down, please help.\r\n"
    )
}

fn new_ticket(outcome: IntakeOutcome) -> (TicketId, String) {
    match outcome {
        IntakeOutcome::NewTicket { ticket, number } => (ticket, number),
        other => panic!("expected a new ticket, got {other:?}"),
    }
}

fn header(m: &mailparse::ParsedMail<'_>, name: &str) -> String {
    use mailparse::MailHeaderMap;
    m.headers.get_first_value(name).unwrap_or_default()
}

/// The text/plain part of a delivered message.
fn text_part(m: &mailparse::ParsedMail<'_>) -> String {
    if m.ctype.mimetype == "text/plain" {
        return m.get_body().unwrap();
    }
    m.subparts
        .iter()
        .map(text_part)
        .find(|t| !t.is_empty())
        .unwrap_or_default()
}

fn html_part(m: &mailparse::ParsedMail<'_>) -> String {
    if m.ctype.mimetype == "text/html" {
        return m.get_body().unwrap();
    }
    m.subparts
        .iter()
        .map(html_part)
        .find(|t| !t.is_empty())
        .unwrap_or_default()
}

// ---------------------------------------------------------------- tests

#[test]
fn new_ticket_gets_an_auto_response_with_a_working_access_link() {
    if !have_sink() {
        return;
    }
    let port = free_port();
    let env = Env::new(port);
    let sink = Sink::start(port, &env.dir.path().join("sink"), &[]);
    let (ticket, number) = new_ticket(env.pipe(&customer_mail(
        "Dana Customer <dana@customer.example>",
        "first@customer.example",
        "Server down",
        "",
    )));
    assert_eq!(env.deliver().sent, 1);
    let got = sink.wait_for(1);
    assert_eq!(got.len(), 1, "exactly one mail at the sink");
    let m = mailparse::parse_mail(&got[0]).unwrap();
    assert_eq!(header(&m, "Subject"), format!("[#{number}] Server down"));
    assert!(header(&m, "To").contains("dana@customer.example"));
    assert!(header(&m, "From").contains(OUR_ADDRESS));
    assert_eq!(header(&m, "Auto-Submitted"), "auto-replied");
    assert_eq!(header(&m, "In-Reply-To"), "<first@customer.example>");
    assert_eq!(m.ctype.mimetype, "multipart/alternative");
    let text = text_part(&m);
    assert!(text.contains(&number), "{text}");
    let html = html_part(&m);
    assert!(html.contains("dir=\"ltr\""), "{html}");

    // The link in the mail opens exactly this ticket for this customer.
    let link = text
        .split_whitespace()
        .find(|w| w.starts_with("https://help.example.test/portal/tickets/"))
        .expect("an access link in the text");
    assert!(link.starts_with(&format!(
        "https://help.example.test/portal/tickets/{number}?t="
    )));
    let token = link.split("?t=").nth(1).unwrap();
    let secret = links::secret(&env.conn(), "").unwrap();
    let claims = links::verify(&secret, token, store::now()).unwrap();
    assert_eq!(claims.ticket, ticket);
    assert_eq!(claims.identity, "dana@customer.example");
    let mut forged = token.to_string();
    forged.insert(3, 'x');
    assert!(links::verify(&secret, &forged, store::now()).is_err());
}

#[test]
fn auto_replies_own_addresses_and_floods_get_no_auto_response() {
    configure();
    let env = Env::new(1);
    // Mail the parser flagged as an auto-reply, bounce or bulk opens a
    // ticket but gets no answer. (Recognising the flags in raw mail is the
    // parser's job, tested there; here the flags reach the domain.)
    for (i, auto) in [
        AutoFlags {
            auto_reply: true,
            ..AutoFlags::default()
        },
        AutoFlags {
            bounce: true,
            ..AutoFlags::default()
        },
        AutoFlags {
            bulk: true,
            ..AutoFlags::default()
        },
    ]
    .into_iter()
    .enumerate()
    {
        let mut new = NewTicket::new(
            Source::Email,
            format!("robot{i}@customer.example"),
            "Robot",
            "Out of office",
            Body::text("I am away."),
        );
        new.mail = Some(MailInfo {
            message_id: Some(format!("robot{i}@customer.example")),
            auto,
            ..MailInfo::default()
        });
        tickets::open(&env.store, &Actor::System, new).unwrap();
    }
    // Rules may suppress it too.
    let mut new = NewTicket::new(
        Source::Web,
        "rule@customer.example",
        "Rule",
        "Suppressed",
        Body::text("x"),
    );
    new.suppress_auto_response = true;
    tickets::open(&env.store, &Actor::System, new).unwrap();
    // Mail from our own address never gets one.
    new_ticket(env.pipe(&customer_mail(
        &format!("Us <{OUR_ADDRESS}>"),
        "self@help.example.test",
        "Loop",
        "",
    )));
    assert!(env.outbox("auto_response").is_empty());

    // One sender opening many tickets gets at most the hourly limit.
    for i in 0..8 {
        new_ticket(env.pipe(&customer_mail(
            "Loopy <loopy@customer.example>",
            &format!("loop{i}@customer.example"),
            &format!("Request {i}"),
            "",
        )));
    }
    assert_eq!(env.outbox("auto_response").len(), 5);
    store::settings::set(&env.conn(), "mail.auto_response_per_hour", "6").unwrap();
    new_ticket(env.pipe(&customer_mail(
        "Loopy <loopy@customer.example>",
        "loop-more@customer.example",
        "Request more",
        "",
    )));
    assert_eq!(env.outbox("auto_response").len(), 6);
    // Switched off entirely.
    store::settings::set(&env.conn(), "mail.auto_response", "false").unwrap();
    new_ticket(env.pipe(&customer_mail(
        "Other <other@customer.example>",
        "other@customer.example",
        "Hello",
        "",
    )));
    assert_eq!(env.outbox("auto_response").len(), 6);
}

#[test]
fn staff_reply_is_delivered_with_attachments_and_the_customer_reply_threads_back() {
    if !have_sink() {
        return;
    }
    let port = free_port();
    let env = Env::new(port);
    let sink = Sink::start(port, &env.dir.path().join("sink"), &[]);
    let agent = env.staff("Alex Agent", "alex@help.example.test");
    let (ticket, number) = new_ticket(env.pipe(&customer_mail(
        "Dana <dana@customer.example>",
        "q1@customer.example",
        "Invoice question",
        "",
    )));
    let pdf = b"%PDF-1.4 fake invoice \x00\xff bytes".to_vec();
    let entry = tickets::add_response(
        &env.store,
        &Actor::Staff {
            id: agent,
            name: "Alex Agent".into(),
        },
        ticket,
        Reply {
            body: Body::text("Here is your invoice."),
            attachments: vec![NewAttachment {
                filename: "فاکتور ۱۴۰۲.pdf".into(),
                mime_type: "application/pdf".into(),
                data: pdf.clone(),
                inline: false,
                content_id: None,
            }],
            status: None,
        },
    )
    .unwrap();
    env.deliver();
    let got = sink.wait_for(3);
    let response = got
        .iter()
        .map(|raw| mailparse::parse_mail(raw).unwrap())
        .find(|m| header(m, "Auto-Submitted").is_empty())
        .expect("the staff response at the sink");

    let entry_mid: String = env
        .conn()
        .query_row(
            "SELECT message_id FROM entries WHERE id = ?1",
            [entry],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(header(&response, "Message-ID"), format!("<{entry_mid}>"));
    assert!(entry_mid.ends_with("@help.example.test"), "{entry_mid}");
    assert_eq!(header(&response, "In-Reply-To"), "<q1@customer.example>");
    assert!(header(&response, "References").contains("<q1@customer.example>"));
    assert_eq!(
        header(&response, "Subject"),
        format!("[#{number}] Invoice question")
    );
    assert!(text_part(&response).contains("Here is your invoice."));
    assert_eq!(response.ctype.mimetype, "multipart/mixed");
    let file = response
        .subparts
        .iter()
        .find(|p| p.get_content_disposition().disposition == mailparse::DispositionType::Attachment)
        .expect("the attachment");
    assert_eq!(
        file.get_content_disposition()
            .params
            .get("filename")
            .map(String::as_str),
        Some("فاکتور ۱۴۰۲.pdf")
    );
    assert_eq!(file.get_body_raw().unwrap(), pdf);

    // The customer answers the delivered mail: it lands in the same ticket.
    let reply = format!(
        "From: Dana <dana@customer.example>\r\nTo: {OUR_ADDRESS}\r\nSubject: Re: {}\r\n\
         Message-ID: <q2@customer.example>\r\nIn-Reply-To: {}\r\nReferences: {} {}\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\nThanks!\r\n",
        header(&response, "Subject"),
        header(&response, "Message-ID"),
        header(&response, "References"),
        header(&response, "Message-ID"),
    );
    match env.pipe(&reply) {
        IntakeOutcome::Appended { ticket: t, .. } => assert_eq!(t, ticket),
        other => panic!("the reply did not thread: {other:?}"),
    }
    // A client that drops the headers: the subject token still finds it.
    let bare = format!(
        "From: dana@customer.example\r\nTo: {OUR_ADDRESS}\r\nSubject: AW: {}\r\n\
         Message-ID: <q3@customer.example>\r\n\r\nOne more thing.\r\n",
        header(&response, "Subject"),
    );
    match env.pipe(&bare) {
        IntakeOutcome::Appended { ticket: t, .. } => assert_eq!(t, ticket),
        other => panic!("the bare reply did not thread: {other:?}"),
    }
}

#[test]
fn server_down_keeps_the_mail_and_delivers_it_once_when_back() {
    if !have_sink() {
        return;
    }
    let port = free_port();
    let env = Env::new(port);
    new_ticket(env.pipe(&customer_mail(
        "Dana <dana@customer.example>",
        "down@customer.example",
        "Down",
        "",
    )));
    // Nothing listens on the port: a temporary failure, retried later.
    let s = env.deliver();
    assert_eq!((s.sent, s.retrying, s.failed), (0, 1, 0));
    let (state, attempts, next, answer): (String, i64, i64, String) = env
        .conn()
        .query_row(
            "SELECT state, attempts, next_attempt_at, last_answer FROM outbox",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
    assert_eq!((state.as_str(), attempts), ("queued", 1));
    assert!(next >= store::now() + 55, "backoff of about a minute");
    assert!(!answer.is_empty());

    let sink = Sink::start(port, &env.dir.path().join("sink"), &[]);
    // Not due yet: the backoff is respected.
    assert_eq!(env.deliver().sent, 0);
    env.conn()
        .execute("UPDATE outbox SET next_attempt_at = ?1", [store::now()])
        .unwrap();
    assert_eq!(env.deliver().sent, 1);
    assert_eq!(env.deliver().sent, 0);
    assert_eq!(sink.wait_for(1).len(), 1);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(sink.messages().len(), 1, "delivered exactly once");
    assert_eq!(env.outbox("auto_response")[0].1, "sent");
}

#[test]
fn permanent_refusal_stops_shows_the_answer_and_can_be_retried() {
    if !have_sink() {
        return;
    }
    let port = free_port();
    let env = Env::new(port);
    let sink = Sink::start(
        port,
        &env.dir.path().join("sink"),
        &["-f", "RCPT", "-B", "550 5.1.1 No such user here"],
    );
    new_ticket(env.pipe(&customer_mail(
        "Gone <gone@customer.example>",
        "gone@customer.example",
        "Bye",
        "",
    )));
    let s = env.deliver();
    assert_eq!((s.sent, s.failed), (0, 1));
    let out = env
        .bin()
        .args(["outbox", "list", "--state", "failed"])
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(listing.contains("gone@customer.example"), "{listing}");
    assert!(
        listing.contains("550"),
        "the server's answer is shown: {listing}"
    );
    assert!(listing.contains("No such user here"), "{listing}");
    // Not retried by later runs.
    assert_eq!(env.deliver().failed, 0);
    drop(sink);

    // The admin fixes the problem and queues it again.
    let _sink = Sink::start(port, &env.dir.path().join("sink2"), &[]);
    let id = env.outbox("auto_response")[0].0;
    let out = env
        .bin()
        .args(["outbox", "retry", &id.to_string()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = env.bin().args(["outbox", "run"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 sent"));
    assert_eq!(env.outbox("auto_response")[0].1, "sent");
    // A sent message is never queued again.
    let out = env
        .bin()
        .args(["outbox", "retry", &id.to_string()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already sent"));
}

#[test]
fn a_worker_killed_mid_delivery_loses_nothing() {
    if !have_sink() {
        return;
    }
    let port = free_port();
    let env = Env::new(port);
    new_ticket(env.pipe(&customer_mail(
        "Dana <dana@customer.example>",
        "kill@customer.example",
        "Killed",
        "",
    )));
    // A sink that takes its time answering DATA: the worker is mid-delivery.
    let slow = Sink::start(port, &env.dir.path().join("slow"), &["-w", "30"]);
    let mut worker = env.bin().args(["outbox", "run"]).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let state = &env.outbox("auto_response")[0].1;
        if state == "sending" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the worker never claimed the mail"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500));
    worker.kill().unwrap(); // SIGKILL
    worker.wait().unwrap();
    drop(slow);
    assert_eq!(env.outbox("auto_response")[0].1, "sending");

    let sink = Sink::start(port, &env.dir.path().join("sink"), &[]);
    // The dead worker's lease still holds: nobody sends it yet.
    assert_eq!(env.deliver().sent, 0);
    // Once the lease expires, it is delivered, once.
    env.conn()
        .execute("UPDATE outbox SET lease_until = ?1", [store::now() - 1])
        .unwrap();
    assert_eq!(env.deliver().sent, 1);
    assert_eq!(env.deliver().sent, 0);
    assert_eq!(sink.wait_for(1).len(), 1);
    assert_eq!(env.outbox("auto_response")[0].1, "sent");
}

#[test]
fn persian_and_amharic_subjects_and_names_survive_byte_exactly() {
    if !have_sink() {
        return;
    }
    let port = free_port();
    let env = Env::new(port);
    let sink = Sink::start(port, &env.dir.path().join("sink"), &[]);
    let agent = env.staff("ሰላም ተስፋዬ", "selam@help.example.test");
    let cases = [
        (
            "مریم احمدی",
            "مشکل در اتصال به سرور ایمیل — فوری",
            "fa@customer.example",
        ),
        (
            "አበበ በቀለ",
            "የኢሜል አገልጋዩ አይሰራም፣ እባክዎ ይርዱ",
            "am@customer.example",
        ),
    ];
    for (name, subject, email) in cases {
        let raw = format!(
            "From: =?UTF-8?B?{}?= <{email}>\r\nTo: {OUR_ADDRESS}\r\nSubject: =?UTF-8?B?{}?=\r\n\
             Message-ID: <{email}>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nسلام\r\n",
            b64(name),
            b64(subject)
        );
        let (ticket, number) = new_ticket(env.pipe(&raw));
        env.conn()
            .execute(
                "UPDATE customers SET locale = 'fa' WHERE name = ?1",
                ["مریم احمدی"],
            )
            .unwrap();
        tickets::add_response(
            &env.store,
            &Actor::Staff {
                id: agent,
                name: "ሰላም ተስፋዬ".into(),
            },
            ticket,
            Reply {
                body: Body::text("ሰላም! پاسخ ما"),
                ..Reply::default()
            },
        )
        .unwrap();
        env.deliver();
        let to_customer: Vec<_> = sink
            .wait_for(0)
            .into_iter()
            .filter(|raw| {
                let m = mailparse::parse_mail(raw).unwrap();
                header(&m, "To").contains(email)
            })
            .collect();
        assert_eq!(to_customer.len(), 2, "auto-response and reply to {email}");
        for raw in &to_customer {
            // Headers on the wire are 7-bit: RFC 2047 encoded words.
            let head = &raw[..raw
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
                .unwrap_or(raw.len())];
            assert!(head.is_ascii(), "non-ASCII bytes in the headers");
            let m = mailparse::parse_mail(raw).unwrap();
            assert_eq!(header(&m, "Subject"), format!("[#{number}] {subject}"));
            let to = mailparse::addrparse_header(
                m.headers.iter().find(|h| h.get_key() == "To").unwrap(),
            )
            .unwrap();
            match &to[0] {
                mailparse::MailAddr::Single(s) => {
                    assert_eq!(s.display_name.as_deref(), Some(name));
                    assert_eq!(s.addr, email);
                }
                other => panic!("unexpected To: {other:?}"),
            }
        }
    }
    // The Persian customer's reply (locale set after the ticket was opened)
    // uses the Persian template, right to left.
    let fa = sink
        .messages()
        .into_iter()
        .map(|raw| {
            mailparse::parse_mail(&raw)
                .map(|m| {
                    (
                        header(&m, "To"),
                        header(&m, "Auto-Submitted"),
                        html_part(&m),
                    )
                })
                .unwrap()
        })
        .find(|(to, auto, _)| to.contains("fa@customer.example") && auto.is_empty())
        .map(|(_, _, html)| html)
        .expect("the reply to the Persian customer");
    assert!(
        fa.contains("dir=\"rtl\"") && fa.contains("lang=\"fa\""),
        "{fa}"
    );
    assert!(fa.contains("تیکت"), "{fa}");
}

fn b64(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[test]
fn staff_alerts_follow_the_ticket() {
    configure();
    let env = Env::new(1);
    let alex = env.staff("Alex", "alex@help.example.test");
    let bo = env.staff("Bo", "bo@help.example.test");
    let (ticket, _) = new_ticket(env.pipe(&customer_mail(
        "Dana <dana@customer.example>",
        "alerts@customer.example",
        "Alerts",
        "",
    )));
    let new: Vec<_> = env
        .outbox("alert_new_ticket")
        .into_iter()
        .map(|r| r.2)
        .collect();
    assert_eq!(new, vec!["alex@help.example.test", "bo@help.example.test"]);

    let alex_actor = Actor::Staff {
        id: alex,
        name: "Alex".into(),
    };
    tickets::assign(&env.store, &alex_actor, ticket, Some(bo)).unwrap();
    let assigned: Vec<_> = env
        .outbox("alert_assigned")
        .into_iter()
        .map(|r| r.2)
        .collect();
    assert_eq!(assigned, vec!["bo@help.example.test"]);

    // The customer writes again: only the assignee hears of it.
    let more = "From: dana@customer.example\r\nSubject: Re: Alerts\r\n\
                In-Reply-To: <alerts@customer.example>\r\nMessage-ID: <alerts2@customer.example>\r\n\r\nMore.\r\n";
    env.pipe(more);
    let msg: Vec<_> = env
        .outbox("alert_new_message")
        .into_iter()
        .map(|r| r.2)
        .collect();
    assert_eq!(msg, vec!["bo@help.example.test"]);

    store::settings::set(&env.conn(), "mail.alert_new_ticket", "false").unwrap();
    new_ticket(env.pipe(&customer_mail(
        "e@customer.example",
        "off@customer.example",
        "Off",
        "",
    )));
    assert_eq!(env.outbox("alert_new_ticket").len(), 2);
}

#[test]
fn admin_templates_override_the_defaults_and_preview() {
    configure();
    let env = Env::new(1);
    let conn = env.conn();
    for (name, _) in templates::TEMPLATES {
        for lang in ["en", "fa", "am"] {
            let r = templates::render_preview(&conn, name, lang).unwrap();
            assert!(!r.subject.is_empty() && !r.text.is_empty(), "{name} {lang}");
            let dir = if lang == "fa" { "rtl" } else { "ltr" };
            assert!(r.html.contains(&format!("dir=\"{dir}\"")), "{name} {lang}");
        }
    }
    store::mail_templates::save(
        &conn,
        "auto_response",
        "",
        "Got it: {{ ticket.subject }}",
        "Number {{ ticket.number }}",
        "<p>Number {{ ticket.number }} <script>{{ customer.name }}</script></p>",
    )
    .unwrap();
    let r = templates::render_preview(&conn, "auto_response", "en").unwrap();
    assert_eq!(r.subject, "Got it: Cannot log in to my account");
    assert!(r.text.starts_with("Number 123456"));

    // A broken custom template shows its error in the preview, but mail
    // still goes out with the default.
    store::mail_templates::save(&conn, "auto_response", "", "{{ broken", "x", "x").unwrap();
    let err = templates::render_preview(&conn, "auto_response", "en").unwrap_err();
    assert!(err.to_string().contains("auto_response"), "{err}");
    drop(conn);
    let (_, number) = new_ticket(env.pipe(&customer_mail(
        "t@customer.example",
        "tpl@customer.example",
        "Template",
        "",
    )));
    let subject: String = env
        .conn()
        .query_row(
            "SELECT subject FROM outbox WHERE kind = 'auto_response'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(subject, format!("[#{number}] Template"));
}
