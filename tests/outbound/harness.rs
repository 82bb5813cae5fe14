//! Test harness: a temp database, smtp-sink on a port the test picks, and
//! helpers to read what it received.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Once;
use std::time::{Duration, Instant};

use oxidesk::config::Config;
use oxidesk::mail::send::transport::Transport;
use oxidesk::mail::send::worker;
use oxidesk::model::{StaffId, TicketId};
use oxidesk::store::{self, Store, StoreOptions};
use oxidesk::tickets::intake::{self, IntakeOptions, IntakeOutcome, IntakeSource};

const SMTP_SINK: &str = "/usr/sbin/smtp-sink";
pub const OUR_ADDRESS: &str = "support@help.example.test";

// ---------------------------------------------------------------- harness

/// The queue side reads the From address, public URL and secret from the
/// process-wide configuration; every test uses the same one.
pub fn configure() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| oxidesk::mail::send::configure(&base_config(0)));
}

pub fn base_config(port: u16) -> Config {
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
pub fn have_sink() -> bool {
    if Path::new(SMTP_SINK).exists() {
        return true;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{SMTP_SINK} is missing: install Debian's postfix package for the outbound tests");
    }
    eprintln!("SKIPPED: {SMTP_SINK} is missing (install postfix to run the outbound tests)");
    false
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

pub fn wait_for_port(port: u16) {
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
pub struct Sink {
    child: Child,
    pub dir: PathBuf,
}

impl Sink {
    pub fn start(port: u16, dir: &Path, extra: &[&str]) -> Sink {
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
    pub fn messages(&self) -> Vec<Vec<u8>> {
        let mut files: Vec<_> = std::fs::read_dir(&self.dir)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        files.sort();
        files.iter().map(|p| std::fs::read(p).unwrap()).collect()
    }

    /// Wait until `n` complete messages are there (smtp-sink writes them
    /// while the session is still running).
    pub fn wait_for(&self, n: usize) -> Vec<Vec<u8>> {
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

pub struct Env {
    pub dir: tempfile::TempDir,
    pub store: Store,
    pub config: Config,
}

impl Env {
    pub fn new(port: u16) -> Env {
        configure();
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&StoreOptions::new(dir.path().join("oxidesk.db"))).unwrap();
        Env {
            dir,
            store,
            config: base_config(port),
        }
    }

    pub fn db(&self) -> PathBuf {
        self.dir.path().join("oxidesk.db")
    }

    pub fn conn(&self) -> store::Conn {
        self.store.conn().unwrap()
    }

    pub fn deliver(&self) -> worker::RunSummary {
        let t = Transport::from_config(&self.config.smtp).unwrap();
        worker::run_due(&self.store, &self.config, &t, &|| false).unwrap()
    }

    pub fn pipe(&self, raw: &str) -> IntakeOutcome {
        intake::receive(
            &self.store,
            raw.as_bytes(),
            IntakeSource::Pipe,
            &IntakeOptions::from_config(&self.config),
        )
        .unwrap()
    }

    /// Pipe a message through the binary, as the MTA does; its stderr line.
    pub fn pipe_bin(&self, raw: &str) -> String {
        use std::io::Write;
        let mut child = self
            .bin()
            .arg("pipe")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(raw.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "pipe failed: {stderr}");
        stderr
    }

    pub fn staff(&self, name: &str, email: &str) -> StaffId {
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

    pub fn outbox(&self, kind: &str) -> Vec<(i64, String, String)> {
        let c = self.conn();
        let mut s = c
            .prepare("SELECT id, state, recipients FROM outbox WHERE kind = ?1 ORDER BY id")
            .unwrap();
        let rows = s
            .query_map([kind], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap();
        rows.map(Result::unwrap).collect()
    }

    pub fn bin(&self) -> Command {
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

pub fn customer_mail(from: &str, message_id: &str, subject: &str, extra: &str) -> String {
    format!(
        "From: {from}\r\nTo: {OUR_ADDRESS}\r\nSubject: {subject}\r\nMessage-ID: <{message_id}>\r\n\
         Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n{extra}\
         Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\
         My server is down, please help.\r\n"
    )
}

pub fn new_ticket(outcome: IntakeOutcome) -> (TicketId, String) {
    match outcome {
        IntakeOutcome::NewTicket { ticket, number } => (ticket, number),
        other => panic!("expected a new ticket, got {other:?}"),
    }
}

pub fn header(m: &mailparse::ParsedMail<'_>, name: &str) -> String {
    use mailparse::MailHeaderMap;
    m.headers.get_first_value(name).unwrap_or_default()
}

/// The text/plain part of a delivered message.
pub fn text_part(m: &mailparse::ParsedMail<'_>) -> String {
    if m.ctype.mimetype == "text/plain" {
        return m.get_body().unwrap();
    }
    m.subparts
        .iter()
        .map(text_part)
        .find(|t| !t.is_empty())
        .unwrap_or_default()
}

pub fn html_part(m: &mailparse::ParsedMail<'_>) -> String {
    if m.ctype.mimetype == "text/html" {
        return m.get_body().unwrap();
    }
    m.subparts
        .iter()
        .map(html_part)
        .find(|t| !t.is_empty())
        .unwrap_or_default()
}

pub fn b64(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// python3 and openssl, for the TLS server: present, or fail in CI and
/// skip loudly elsewhere.
pub fn have_tls_tools() -> bool {
    let ok = |cmd: &str, arg: &str| {
        Command::new(cmd)
            .arg(arg)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if ok("python3", "--version") && ok("openssl", "version") {
        return true;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("python3 and openssl are needed for the outbound TLS tests");
    }
    eprintln!("SKIPPED: python3 or openssl is missing");
    false
}

/// A throwaway CA and a server certificate for 127.0.0.1 signed by it:
/// (ca.pem, server.pem, server.key).
pub fn test_certs(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    std::fs::create_dir_all(dir).unwrap();
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=Oxidesk Test CA",
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=localhost",
    ]);
    std::fs::write(
        dir.join("ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "ext",
    ]);
    (
        dir.join("ca.pem"),
        dir.join("server.pem"),
        dir.join("server.key"),
    )
}

/// The TLS test server (tests/outbound/tls_smtp_server.py) on `port`.
pub struct TlsServer {
    child: Child,
    pub dir: PathBuf,
}

impl TlsServer {
    pub fn start(port: u16, mode: &str, cert: &Path, key: &Path, dir: &Path) -> TlsServer {
        use std::io::BufRead;
        std::fs::create_dir_all(dir).unwrap();
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/outbound/tls_smtp_server.py");
        let mut child = Command::new("python3")
            .arg(script)
            .arg(port.to_string())
            .arg(mode)
            .arg(cert)
            .arg(key)
            .arg(dir)
            .args(["mailer", "s3cret pässword"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut ready = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut ready)
            .unwrap();
        assert_eq!(ready.trim(), "ready");
        TlsServer {
            child,
            dir: dir.to_path_buf(),
        }
    }

    pub fn messages(&self) -> Vec<String> {
        let mut files: Vec<_> = std::fs::read_dir(&self.dir)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "eml"))
            .collect();
        files.sort();
        files
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap())
            .collect()
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
