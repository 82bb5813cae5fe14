//! Operations: online backup while another process writes, restore and its
//! refusals, and the copy taken before migrations. Every test drives the real
//! `oxidesk` binary against SQLite files in a temp dir.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use rusqlite::Connection;

#[allow(dead_code)] // each test file uses some of the shared helpers
mod common;
#[path = "ops_checks/mod.rs"]
mod ops_checks;
#[path = "ops_serve/mod.rs"]
mod ops_serve;

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_oxidesk"))
}

fn oxidesk(db: &Path, args: &[&str]) -> Output {
    Command::new(bin())
        .arg("--db")
        .arg(db)
        .args(args)
        .env_remove("OXIDESK_CONFIG")
        .env("OXIDESK_LOG", "warn")
        .output()
        .expect("the oxidesk binary runs")
}

fn ok(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "oxidesk failed ({}): {stdout}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// A new database with the full schema, created by `oxidesk migrate`.
fn new_db(dir: &Path, name: &str) -> PathBuf {
    let db = dir.join(name);
    ok(&oxidesk(&db, &["migrate"]));
    db
}

/// Row count and an order-independent digest of every row of every table:
/// two databases with equal fingerprints hold the same content.
fn fingerprint(db: &Path) -> Vec<(String, i64, String)> {
    let conn = Connection::open(db).unwrap();
    let tables: Vec<String> = conn
        .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table'
             AND name NOT LIKE 'sqlite_%' AND sql NOT LIKE 'CREATE VIRTUAL%' ORDER BY name",
        )
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    tables
        .into_iter()
        .map(|t| {
            let mut stmt = conn.prepare(&format!("SELECT * FROM \"{t}\"")).unwrap();
            let cols = stmt.column_count();
            let mut rows: Vec<String> = stmt
                .query_map([], |r| {
                    let mut s = String::new();
                    for i in 0..cols {
                        let v: rusqlite::types::Value = r.get(i)?;
                        s.push_str(&format!("{v:?}|"));
                    }
                    Ok(s)
                })
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            rows.sort();
            let digest = rows.iter().fold(0u64, |h, row| {
                row.bytes()
                    .fold(h, |h, b| h.wrapping_mul(1_099_511_628_211) ^ u64::from(b))
            });
            (t, rows.len() as i64, format!("{digest:016x}"))
        })
        .collect()
}

/// Writes settings rows in transactions until stopped: each transaction adds
/// row `k{n}` and sets `counter` to n, so a consistent snapshot has exactly
/// `counter` rows named k*.
fn start_writer(db: &Path, stop: Arc<AtomicBool>) -> thread::JoinHandle<i64> {
    let db = db.to_path_buf();
    thread::spawn(move || {
        let mut conn = Connection::open(&db).unwrap();
        conn.busy_timeout(Duration::from_secs(10)).unwrap();
        let mut n = 0i64;
        while !stop.load(Ordering::Relaxed) {
            n += 1;
            let tx = conn.transaction().unwrap();
            tx.execute(
                "INSERT INTO settings (key, value, updated_at) VALUES (?1, ?2, 0)",
                rusqlite::params![format!("k{n}"), "x".repeat(500)],
            )
            .unwrap();
            tx.execute(
                "INSERT INTO settings (key, value, updated_at) VALUES ('counter', ?1, 0)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [n.to_string()],
            )
            .unwrap();
            tx.commit().unwrap();
        }
        n
    })
}

fn counter_and_rows(db: &Path) -> (i64, i64) {
    let conn = Connection::open(db).unwrap();
    let counter: i64 = conn
        .query_row(
            "SELECT COALESCE((SELECT CAST(value AS INTEGER) FROM settings WHERE key = 'counter'), 0)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let rows: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM settings WHERE key LIKE 'k%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    (counter, rows)
}

#[test]
fn backup_is_consistent_while_another_process_writes_and_restores_equal() {
    let dir = tempfile::tempdir().unwrap();
    let db = new_db(dir.path(), "live.db");
    let stop = Arc::new(AtomicBool::new(false));
    let writer = start_writer(&db, stop.clone());
    thread::sleep(Duration::from_millis(200));

    let mut seen = Vec::new();
    for i in 0..4 {
        let copy = dir.path().join(format!("during-{i}.bak"));
        let out = ok(&oxidesk(&db, &["backup", copy.to_str().unwrap()]));
        assert!(out.contains("backed up"), "{out}");
        let (counter, rows) = counter_and_rows(&copy);
        assert_eq!(counter, rows, "backup {i} is a consistent snapshot");
        // A self-contained file: no write-ahead log beside it.
        assert!(!dir.path().join(format!("during-{i}.bak-wal")).exists());
        seen.push(counter);
        thread::sleep(Duration::from_millis(100));
    }
    stop.store(true, Ordering::Relaxed);
    let written = writer.join().unwrap();
    assert!(written > 0);
    assert!(
        seen.windows(2).all(|w| w[0] <= w[1]) && seen.last() > seen.first(),
        "backups were taken while rows were being written: {seen:?}"
    );

    // Final copy after the writer stopped, restored into a new file: equal.
    let copy = dir.path().join("final.bak");
    ok(&oxidesk(&db, &["backup", copy.to_str().unwrap()]));
    let restored = dir.path().join("restored.db");
    let out = ok(&oxidesk(&restored, &["restore", copy.to_str().unwrap()]));
    assert!(out.contains("restored"), "{out}");
    assert_eq!(counter_and_rows(&restored), (written, written));
    assert_eq!(fingerprint(&restored), fingerprint(&db));
    // The restored database opens and is current.
    let out = ok(&oxidesk(&restored, &["migrate"]));
    assert!(out.contains("schema version"), "{out}");
}

#[test]
fn restore_refuses_a_database_in_use_unless_forced() {
    let dir = tempfile::tempdir().unwrap();
    let db = new_db(dir.path(), "live.db");
    let copy = dir.path().join("copy.bak");
    ok(&oxidesk(&db, &["backup", copy.to_str().unwrap()]));

    // This test process keeps the database open, as a running helpdesk would,
    // with a write after the backup.
    let conn = Connection::open(&db).unwrap();
    conn.execute(
        "INSERT INTO settings (key, value, updated_at) VALUES ('after', 'x', 0)",
        [],
    )
    .unwrap();
    let out = oxidesk(&db, &["restore", copy.to_str().unwrap()]);
    assert!(!out.status.success(), "restore over a database in use");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("in use") && err.contains("--force"), "{err}");
    let still: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM settings WHERE key = 'after'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(still, 1, "the refused restore changed nothing");

    // --force restores through SQLite's locks: the open connection sees it.
    ok(&oxidesk(
        &db,
        &["restore", "--force", copy.to_str().unwrap()],
    ));
    let after: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM settings WHERE key = 'after'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(after, 0, "the forced restore replaced the content");
    drop(conn);

    // Closed by everyone: a plain restore goes through.
    ok(&oxidesk(&db, &["restore", copy.to_str().unwrap()]));
}

#[test]
fn restore_rejects_damaged_foreign_and_newer_files() {
    let dir = tempfile::tempdir().unwrap();
    let db = new_db(dir.path(), "live.db");
    let before = fingerprint(&db);

    let junk = dir.path().join("junk.bak");
    std::fs::write(
        &junk,
        b"this is not a database at all, just some bytes".repeat(200),
    )
    .unwrap();
    let foreign = dir.path().join("foreign.bak");
    Connection::open(&foreign)
        .unwrap()
        .execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
        .unwrap();
    let newer = dir.path().join("newer.bak");
    ok(&oxidesk(&db, &["backup", newer.to_str().unwrap()]));
    Connection::open(&newer)
        .unwrap()
        .execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, 'future', 0)",
            [],
        )
        .unwrap();
    let missing = dir.path().join("missing.bak");

    for (file, says) in [
        (&junk, "not a readable SQLite database"),
        (&foreign, "not an Oxidesk database"),
        (&newer, "newer than this binary"),
        (&missing, "does not exist"),
    ] {
        let out = oxidesk(&db, &["restore", "--force", file.to_str().unwrap()]);
        assert!(!out.status.success(), "restore from {}", file.display());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{}: {err}", file.display());
    }
    assert_eq!(fingerprint(&db), before, "refused restores changed nothing");

    let out = oxidesk(&db, &["backup", db.to_str().unwrap()]);
    assert!(!out.status.success(), "backup onto the database itself");
    let out = oxidesk(&dir.path().join("none.db"), &["backup", "x.bak"]);
    assert!(!out.status.success(), "backup of a missing database");
}

#[test]
fn migrating_an_older_database_keeps_a_copy_first() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("old.db");
    // A database as the first release left it: only migration 0001 applied.
    let core = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("src/store/migrations/0001_core.sql"),
    )
    .unwrap();
    {
        let conn = Connection::open(&db).unwrap();
        conn.execute_batch(&core).unwrap();
        conn.execute_batch(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL);
             INSERT INTO schema_migrations VALUES (1, 'core', 0);
             INSERT INTO settings (key, value, updated_at) VALUES ('marker', 'old', 0);",
        )
        .unwrap();
    }
    let mut versions: Vec<u32> =
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/store/migrations"))
            .unwrap()
            .filter_map(|e| {
                e.ok()?
                    .file_name()
                    .to_str()?
                    .split('_')
                    .next()?
                    .parse()
                    .ok()
            })
            .collect();
    versions.sort();
    let latest = *versions.last().unwrap();
    let out = ok(&oxidesk(&db, &["migrate"]));
    assert!(out.contains(&format!("schema version {latest}")), "{out}");
    let baks: Vec<PathBuf> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".bak"))
        .collect();
    if latest > 1 {
        let expected = dir
            .path()
            .join(format!("old.db.pre-{:04}.bak", versions[1]));
        assert_eq!(baks, vec![expected.clone()]);
        let conn = Connection::open(&expected).unwrap();
        let version: u32 = conn
            .query_row("SELECT MAX(version) FROM schema_migrations", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(version, 1, "the copy is the database before migrating");
        let marker: String = conn
            .query_row("SELECT value FROM settings WHERE key = 'marker'", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(marker, "old");
    } else {
        assert!(baks.is_empty(), "nothing pending, no copy: {baks:?}");
    }
    // Opening again with nothing pending takes no further copy.
    ok(&oxidesk(&db, &["migrate"]));
    let again = std::fs::read_dir(dir.path())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .map(|e| e.path().to_string_lossy().ends_with(".bak"))
                .unwrap_or(false)
        })
        .count();
    assert_eq!(again, baks.len());
    // A brand-new database is not copied either.
    new_db(dir.path(), "fresh.db");
    assert!(!dir.path().join("fresh.db.pre-0001.bak").exists());
}

fn pipe_mail(db: &Path, n: usize) -> std::process::ExitStatus {
    use std::io::Write;
    let mut child = Command::new(bin())
        .arg("--db")
        .arg(db)
        .arg("pipe")
        .env("OXIDESK_LOG", "warn")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("oxidesk pipe starts");
    let mail = format!(
        "From: Customer {n} <customer{n}@example.org>\r\nTo: support@example.test\r\n\
         Subject: =?UTF-8?B?{}?= {n}\r\nMessage-ID: <backup-{n}@example.org>\r\n\
         Date: Mon, 23 Nov 2026 04:00:00 +0000\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\nسلام، message number {n}.\r\n",
        base64_subject()
    );
    child
        .stdin
        .take()
        .unwrap()
        .write_all(mail.as_bytes())
        .unwrap();
    child.wait().unwrap()
}

/// "درخواست پشتیبانی" (support request) as base64, to keep RTL text in play.
fn base64_subject() -> &'static str {
    "2K/Ysdiu2YjYp9iz2Kog2b7YtNiq24zYqNin2YbbjA=="
}

fn ticket_list(db: &Path) -> serde_json::Value {
    let out = ok(&oxidesk(
        db,
        &["ticket", "list", "--json", "--limit", "1000"],
    ));
    serde_json::from_str(&out).expect("ticket list --json is JSON")
}

fn ticket_count(list: &serde_json::Value) -> usize {
    match list {
        serde_json::Value::Array(a) => a.len(),
        serde_json::Value::Object(o) => o
            .values()
            .find_map(|v| v.as_array().map(|a| a.len()))
            .unwrap_or(0),
        _ => 0,
    }
}

#[test]
fn backup_while_mail_is_piped_in_restores_the_same_tickets() {
    let dir = tempfile::tempdir().unwrap();
    let db = new_db(dir.path(), "mail.db");
    const MAILS: usize = 40;
    let piping = {
        let db = db.clone();
        thread::spawn(move || {
            (0..MAILS)
                .map(|n| pipe_mail(&db, n).code())
                .collect::<Vec<_>>()
        })
    };
    let mut counts = Vec::new();
    for i in 0..3 {
        thread::sleep(Duration::from_millis(150));
        let copy = dir.path().join(format!("during-{i}.bak"));
        ok(&oxidesk(&db, &["backup", copy.to_str().unwrap()]));
        counts.push(ticket_count(&ticket_list(&copy)));
    }
    let codes = piping.join().unwrap();
    eprintln!("tickets in the backups taken while mail was piped in: {counts:?}");
    assert!(
        codes.iter().all(|c| *c == Some(0)),
        "every piped mail was filed: {codes:?}"
    );
    assert!(
        counts.windows(2).all(|w| w[0] <= w[1]) && counts.iter().all(|c| *c <= MAILS),
        "{counts:?}"
    );

    let copy = dir.path().join("final.bak");
    ok(&oxidesk(&db, &["backup", copy.to_str().unwrap()]));
    let restored = dir.path().join("restored.db");
    ok(&oxidesk(&restored, &["restore", copy.to_str().unwrap()]));
    let original = ticket_list(&db);
    assert_eq!(ticket_count(&original), MAILS);
    assert_eq!(ticket_list(&restored), original);
    assert!(original.to_string().contains("درخواست پشتیبانی"));
    assert_eq!(fingerprint(&restored), fingerprint(&db));
}

/// Every command closes the database cleanly: the last connection to close
/// checkpoints the WAL and deletes `-wal` and `-shm`, so a finished command
/// leaves only the database file (install.sh compares file lists across
/// runs, and an administrator copying the file alone gets everything).
#[test]
fn commands_leave_no_wal_behind() {
    let dir = tempfile::tempdir().unwrap();
    let db = new_db(dir.path(), "clean.db");
    let wal = dir.path().join("clean.db-wal");
    let shm = dir.path().join("clean.db-shm");
    for round in 0..30 {
        for args in [
            &["migrate"][..],
            &["ticket", "list", "--json"][..],
            &["staff", "list"][..],
        ] {
            ok(&oxidesk(&db, args));
            assert!(
                !wal.exists() && !shm.exists(),
                "`oxidesk {}` left the WAL behind (round {round})",
                args.join(" ")
            );
        }
    }
}
