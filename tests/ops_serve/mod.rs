//! The running server process: request ids and the access log, and
//! graceful shutdown on SIGTERM (a request in flight and a delivery in
//! progress both finish, and the process exits 0). A module of
//! tests/ops.rs; every test drives the real binary.

use crate::common::ticket_number;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use super::{bin, ok, oxidesk};

// ------------------------------------------------- the real server process

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `oxidesk serve` on a test-picked port, its stderr (the log) collected by
/// a thread.
struct Served {
    child: Child,
    port: u16,
    log: mpsc::Receiver<String>,
    lines: Vec<String>,
}

impl Served {
    fn start(db: &Path, env: &[(&str, &str)]) -> Served {
        let port = free_port();
        let mut cmd = Command::new(bin());
        cmd.arg("--db")
            .arg(db)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .env_remove("OXIDESK_CONFIG")
            .env_remove("OXIDESK_LOG")
            .env("OXIDESK_LOG_LEVEL", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("oxidesk serve starts");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let s = Served {
            child,
            port,
            log: rx,
            lines: Vec::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "serve did not start listening");
            thread::sleep(Duration::from_millis(50));
        }
        s
    }

    fn sigterm(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Wait for the process to exit (bounded), returning its exit code.
    fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("serve did not exit within {limit:?}");
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Every log line so far.
    fn log(&mut self) -> &[String] {
        while let Ok(l) = self.log.recv_timeout(Duration::from_millis(200)) {
            self.lines.push(l);
        }
        &self.lines
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// One HTTP/1.1 request; returns the status line, headers and body.
fn http(port: u16, request: &str) -> (String, Vec<(String, String)>, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    read_response(s)
}

fn read_response(s: TcpStream) -> (String, Vec<(String, String)>, String) {
    let mut r = BufReader::new(s);
    let mut status = String::new();
    r.read_line(&mut status).unwrap();
    let mut headers = Vec::new();
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                length = v.trim().parse().unwrap_or(0);
            }
            headers.push((k.to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let mut body = vec![0; length];
    r.read_exact(&mut body).unwrap();
    (
        status.trim_end().to_string(),
        headers,
        String::from_utf8_lossy(&body).into_owned(),
    )
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn migrated(dir: &Path) -> PathBuf {
    let db = dir.join("serve.db");
    ok(&oxidesk(&db, &["migrate"]));
    db
}

#[test]
fn every_request_gets_an_id_in_the_header_and_one_access_log_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = migrated(dir.path());
    for format in ["json", "human"] {
        let mut s = Served::start(
            &db,
            &[
                ("OXIDESK_LOG_FORMAT", format),
                ("OXIDESK_SERVER_TRUSTED_PROXIES", "127.0.0.1"),
            ],
        );
        // From a trusted proxy, its id is kept.
        let (status, headers, _) = http(
            s.port,
            "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-Id: edge-42.a\r\nConnection: close\r\n\r\n",
        );
        assert!(status.contains("200"), "{status}");
        assert_eq!(header(&headers, "x-request-id"), Some("edge-42.a"));
        // Without one (or with an unusable one), a new id.
        let (_, headers, _) = http(
            s.port,
            "GET /login HTTP/1.1\r\nHost: x\r\nX-Request-Id: bad id!\r\nConnection: close\r\n\r\n",
        );
        let fresh = header(&headers, "x-request-id").unwrap().to_string();
        assert_eq!(fresh.len(), 16, "{fresh}");
        assert!(fresh.bytes().all(|b| b.is_ascii_hexdigit()));
        // A request that logs inside its handler: the line carries the id.
        let (status, _, _) = http(
            s.port,
            "POST /api/v1/mail HTTP/1.1\r\nHost: x\r\nX-Request-Id: mail-7\r\nAuthorization: Bearer nope\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi",
        );
        assert!(status.contains("401"), "{status}");
        s.sigterm();
        assert_eq!(s.wait_exit(Duration::from_secs(20)), Some(0));
        let lines = s.log().to_vec();
        let access: Vec<&String> = lines
            .iter()
            .filter(|l| l.contains("oxidesk::access"))
            .collect();
        assert_eq!(
            access.len(),
            3,
            "one access line per request ({format}): {lines:#?}"
        );
        let health = access.iter().find(|l| l.contains("edge-42.a")).unwrap();
        let login = access.iter().find(|l| l.contains(&fresh)).unwrap();
        if format == "json" {
            let v: serde_json::Value = serde_json::from_str(health).unwrap();
            assert_eq!(v["fields"]["method"], "GET");
            assert_eq!(v["fields"]["path"], "/healthz");
            assert_eq!(v["fields"]["status"], 200);
            assert_eq!(v["fields"]["id"], "edge-42.a");
            assert!(
                v["fields"]["duration_ms"].is_string() || v["fields"]["duration_ms"].is_number()
            );
            assert_eq!(
                v["span"]["id"], "edge-42.a",
                "the request span is on the line"
            );
            let v: serde_json::Value = serde_json::from_str(login).unwrap();
            assert_eq!(v["fields"]["path"], "/login");
        } else {
            for want in [
                "method=GET",
                "path=/healthz",
                "status=200",
                "duration_ms=",
                "id=edge-42.a",
            ] {
                assert!(health.contains(want), "{want} in {health}");
            }
            assert!(login.contains("path=/login"), "{login}");
        }
    }
}

fn api_key(db: &Path) -> String {
    ok(&oxidesk(db, &["apikey", "create", "mx"]))
        .trim()
        .to_string()
}

const SLOW_MAIL: &str = "From: Ann Lee <ann@example.net>\r\nTo: support@desk.test\r\n\
Subject: =?UTF-8?B?2LPZhNin2YU=?= slow upload\r\nMessage-ID: <slow-1@example.net>\r\n\
Date: Mon, 23 Nov 2026 06:00:00 +0000\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
This message arrives slowly, and the server is told to stop meanwhile.\r\n";

#[test]
fn sigterm_lets_a_request_in_flight_finish_then_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let db = migrated(dir.path());
    let key = api_key(&db);
    let mut s = Served::start(
        &db,
        &[
            ("OXIDESK_LOG_FORMAT", "json"),
            ("OXIDESK_SERVER_TRUSTED_PROXIES", "127.0.0.1"),
        ],
    );
    let mut conn = TcpStream::connect(("127.0.0.1", s.port)).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let (first, rest) = SLOW_MAIL.split_at(SLOW_MAIL.len() / 2);
    write!(
        conn,
        "POST /api/v1/mail HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n\
         X-Request-Id: slow-upload-1\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{first}",
        SLOW_MAIL.len()
    )
    .unwrap();
    conn.flush().unwrap();
    thread::sleep(Duration::from_millis(500));
    // The request is in flight (half its body read) when the signal comes.
    s.sigterm();
    thread::sleep(Duration::from_millis(700));
    assert!(
        s.child.try_wait().unwrap().is_none(),
        "the server waits for the request in flight"
    );
    conn.write_all(rest.as_bytes()).unwrap();
    let (status, headers, body) = read_response(conn);
    assert!(status.contains("200"), "{status} {body}");
    assert!(body.contains("new_ticket"), "{body}");
    assert_eq!(header(&headers, "x-request-id"), Some("slow-upload-1"));
    assert_eq!(s.wait_exit(Duration::from_secs(20)), Some(0), "exit 0");
    // No new connection is taken after the signal.
    assert!(TcpStream::connect(("127.0.0.1", s.port)).is_err());
    let list = super::ticket_list(&db);
    assert_eq!(super::ticket_count(&list), 1, "the ticket was stored");
    // The handler's own log line carries the request's span.
    let lines = s.log().to_vec();
    let received = lines
        .iter()
        .find(|l| l.contains("mail received over HTTP"))
        .unwrap_or_else(|| panic!("{lines:#?}"));
    let v: serde_json::Value = serde_json::from_str(received).unwrap();
    assert_eq!(v["span"]["id"], "slow-upload-1", "{received}");
}

/// A minimal SMTP server that holds its answer to the end of DATA until
/// told to go on, and reports what it received.
fn slow_smtp() -> (
    u16,
    mpsc::Receiver<()>,
    mpsc::Sender<()>,
    thread::JoinHandle<Vec<u8>>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (in_data_tx, in_data_rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let handle = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let mut w = stream.try_clone().unwrap();
        let mut r = BufReader::new(stream);
        let mut message = Vec::new();
        w.write_all(b"220 stub ESMTP\r\n").unwrap();
        loop {
            let mut line = String::new();
            if r.read_line(&mut line).unwrap_or(0) == 0 {
                break;
            }
            let cmd = line.trim_end().to_ascii_uppercase();
            if cmd.starts_with("EHLO") || cmd.starts_with("HELO") {
                w.write_all(b"250 stub\r\n").unwrap();
            } else if cmd == "DATA" {
                w.write_all(b"354 go ahead\r\n").unwrap();
                loop {
                    let mut l = Vec::new();
                    r.read_until(b'\n', &mut l).unwrap();
                    if l == b".\r\n" || l.is_empty() {
                        break;
                    }
                    message.extend_from_slice(&l);
                }
                let _ = in_data_tx.send(());
                let _ = go_rx.recv_timeout(Duration::from_secs(20));
                w.write_all(b"250 2.0.0 queued as STUB1\r\n").unwrap();
            } else if cmd == "QUIT" {
                let _ = w.write_all(b"221 bye\r\n");
                break;
            } else {
                w.write_all(b"250 ok\r\n").unwrap();
            }
        }
        message
    });
    (port, in_data_rx, go_tx, handle)
}

#[test]
fn sigterm_lets_the_delivery_in_progress_finish_then_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let db = migrated(dir.path());
    // A customer's mail, piped in: its auto-response waits in the outbox.
    assert!(super::pipe_mail(&db, 3).success());
    let queued: i64 = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row(
            "SELECT COUNT(*) FROM outbox WHERE state = 'queued'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(queued >= 1, "an auto-response is queued");
    let (smtp_port, in_data, go, stub) = slow_smtp();
    let mut s = Served::start(
        &db,
        &[
            ("OXIDESK_SMTP_TRANSPORT", "smtp"),
            ("OXIDESK_SMTP_HOST", "127.0.0.1"),
            ("OXIDESK_SMTP_PORT", &smtp_port.to_string()),
            ("OXIDESK_SMTP_SECURITY", "none"),
            ("OXIDESK_SMTP_FROM_ADDRESS", "support@desk.test"),
            ("OXIDESK_SMTP_TIMEOUT_SECONDS", "20"),
        ],
    );
    in_data
        .recv_timeout(Duration::from_secs(20))
        .expect("the worker starts delivering");
    // Mid-delivery: the message is with the server, its answer pending.
    s.sigterm();
    thread::sleep(Duration::from_millis(1500));
    assert!(
        s.child.try_wait().unwrap().is_none(),
        "the server waits for the delivery in progress"
    );
    go.send(()).unwrap();
    assert_eq!(s.wait_exit(Duration::from_secs(30)), Some(0), "exit 0");
    let message = stub.join().unwrap();
    assert!(!message.is_empty(), "the stub received the message");
    let conn = rusqlite::Connection::open(&db).unwrap();
    let (state, answer): (String, String) = conn
        .query_row(
            "SELECT state, last_answer FROM outbox ORDER BY id LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(state, "sent", "recorded as sent before exiting");
    assert!(answer.contains("STUB1"), "{answer}");
}

// ------------------------------------------------- the local intake socket

fn message(id: &str, subject: &str, body: &str) -> Vec<u8> {
    format!(
        "From: Dana <dana@example.org>\r\nTo: support@example.com\r\n\
         Subject: {subject}\r\nMessage-ID: <{id}@example.org>\r\n\
         Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

/// `oxidesk pipe ARGS` with `raw` on stdin: (exit code, stderr).
fn pipe(db: &Path, raw: &[u8], args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let mut cmd = Command::new(bin());
    cmd.arg("--db")
        .arg(db)
        .arg("pipe")
        .args(args)
        .env_remove("OXIDESK_CONFIG")
        .env("OXIDESK_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    child.stdin.take().unwrap().write_all(raw).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn intake_socket(db: &Path) -> PathBuf {
    let db = std::fs::canonicalize(db).unwrap();
    db.with_file_name(format!(
        "{}-intake.sock",
        db.file_name().unwrap().to_string_lossy()
    ))
}

/// Lines of the server's log that say it filed a message from the socket.
fn socket_lines(s: &mut Served) -> Vec<String> {
    s.log()
        .iter()
        .filter(|l| l.contains("mail received on the intake socket"))
        .cloned()
        .collect()
}

fn wait_for_socket_line(s: &mut Served, count: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let lines = socket_lines(s);
        if lines.len() >= count {
            return lines;
        }
        assert!(
            Instant::now() < deadline,
            "the server logged {} socket lines, expected {count}",
            lines.len()
        );
    }
}

#[test]
fn pipe_hands_mail_to_the_running_server_and_files_it_itself_otherwise() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let db = migrated(dir.path());
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o640)).unwrap();
    let sock = intake_socket(&db);

    let mut s = Served::start(&db, &[]);
    let mode = std::fs::metadata(&sock)
        .expect("serve opened the intake socket")
        .permissions()
        .mode();
    assert_eq!(
        mode & 0o777,
        0o640,
        "the socket lets connect no one who may not write the database"
    );

    // Handed over: the server files it and says so in its log.
    let first = message("handoff-1", "Hand-off", "سلام، ایمیل من کار نمی‌کند");
    let (code, err) = pipe(&db, &first, &[], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("oxidesk pipe: new ticket #"), "{err}");
    let number = ticket_number(&err);
    let lines = wait_for_socket_line(&mut s, 1);
    assert!(
        lines[0].contains(&format!("new ticket #{number}")),
        "{lines:?}"
    );

    // A redelivery through the server is a duplicate.
    let (code, err) = pipe(&db, &first, &[], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains(&format!("duplicate of #{number}")), "{err}");
    wait_for_socket_line(&mut s, 2);

    // --direct files in the process itself; the server sees nothing.
    let (code, err) = pipe(
        &db,
        &message("handoff-2", "Direct", "direct"),
        &["--direct"],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("new ticket #"), "{err}");
    thread::sleep(Duration::from_millis(300));
    assert_eq!(
        socket_lines(&mut s).len(),
        2,
        "the direct pipe bypassed the server"
    );

    // A clean stop removes the socket; the pipe then files mail itself.
    s.sigterm();
    assert_eq!(s.wait_exit(Duration::from_secs(20)), Some(0));
    assert!(!sock.exists(), "the socket file is removed at exit");
    let (code, err) = pipe(&db, &message("handoff-3", "Alone", "no server"), &[], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("new ticket #"), "{err}");

    // A server killed outright leaves its socket file behind: connecting
    // is refused and the pipe files the mail itself.
    let mut killed = Served::start(&db, &[]);
    assert!(sock.exists());
    killed.child.kill().unwrap();
    killed.child.wait().unwrap();
    assert!(sock.exists(), "a stale socket file");
    let stale = message("handoff-4", "Stale", "after a crash");
    let (code, err) = pipe(&db, &stale, &[], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("new ticket #"), "{err}");
    let stale_number = ticket_number(&err);

    // The next server replaces the stale file and takes mail again, with
    // its own settings: over its size limit, the pipe exits 65 with why.
    let mut s = Served::start(&db, &[("OXIDESK_MAIL_MAX_MESSAGE_BYTES", "2000")]);
    let (code, err) = pipe(&db, &stale, &[], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains(&format!("duplicate of #{stale_number}")),
        "{err}"
    );
    let big = message("handoff-5", "Big", &"x".repeat(5000));
    let (code, err) = pipe(&db, &big, &[], &[]);
    assert_eq!(code, 65, "EX_DATAERR: {err}");
    assert!(
        err.contains("larger than this helpdesk accepts (2000 bytes)"),
        "{err}"
    );
    // Turned off, serve opens no socket.
    s.sigterm();
    assert_eq!(s.wait_exit(Duration::from_secs(20)), Some(0));
    let mut off = Served::start(&db, &[("OXIDESK_MAIL_INTAKE_SOCKET", "false")]);
    assert!(!sock.exists());
    let (code, err) = pipe(&db, &message("handoff-6", "Off", "off"), &[], &[]);
    assert_eq!(code, 0, "{err}");
    off.sigterm();
    assert_eq!(off.wait_exit(Duration::from_secs(20)), Some(0));

    // Every message is stored once.
    let conn = rusqlite::Connection::open(&db).unwrap();
    let raw: i64 = conn
        .query_row("SELECT COUNT(*) FROM raw_messages", [], |r| r.get(0))
        .unwrap();
    assert_eq!(raw, 5, "handoff-1 to -4 and -6, each once");
}

#[test]
fn a_busy_database_behind_the_server_is_a_temporary_failure() {
    let dir = tempfile::tempdir().unwrap();
    let db = migrated(dir.path());
    let mut s = Served::start(&db, &[("OXIDESK_DATABASE_BUSY_TIMEOUT_MS", "200")]);
    let raw = message("busy-1", "Busy", "try again");
    let mut holder = rusqlite::Connection::open(&db).unwrap();
    let tx = holder
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .unwrap();
    let (code, err) = pipe(&db, &raw, &[], &[]);
    assert_eq!(code, 75, "EX_TEMPFAIL: {err}");
    assert!(err.contains("try again later"), "{err}");
    tx.rollback().unwrap();

    let (code, err) = pipe(&db, &raw, &[], &[]);
    assert_eq!(code, 0, "{err}");
    let number = ticket_number(&err);
    let (_, err) = pipe(&db, &raw, &[], &[]);
    assert!(err.contains(&format!("duplicate of #{number}")), "{err}");
    assert_eq!(
        wait_for_socket_line(&mut s, 2).len(),
        2,
        "both went through the server"
    );
    let n: i64 = holder
        .query_row("SELECT COUNT(*) FROM raw_messages", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 1, "the refused attempt left nothing behind");
    s.sigterm();
    assert_eq!(s.wait_exit(Duration::from_secs(20)), Some(0));
}
