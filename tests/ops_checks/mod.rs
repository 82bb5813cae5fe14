//! Operations checked without a long-running server process: /metrics and
//! who may read it (Rocket's local client), the copy taken before
//! migrating, and the README's configuration reference. A module of
//! tests/ops.rs.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use rocket::http::{Header, Status};
use rocket::local::blocking::Client;

use oxidesk::config::Config;
use oxidesk::store::{Store, StoreOptions};

use super::{bin, ok, oxidesk};

// ------------------------------------------------------------- metrics

fn local_server(dir: &Path, token: &str) -> Client {
    let store = Store::open(&StoreOptions::new(dir.join("m.db"))).unwrap();
    let mut config = Config::default();
    config.server.metrics_token = token.into();
    Client::untracked(oxidesk::web::build(store, config).unwrap()).unwrap()
}

fn scrape(c: &Client, remote: &str, headers: &[(&str, &str)]) -> (Status, String) {
    let mut req = c
        .get("/metrics")
        .remote(remote.parse::<SocketAddr>().unwrap());
    for (k, v) in headers {
        req = req.header(Header::new(k.to_string(), v.to_string()));
    }
    let r = req.dispatch();
    let status = r.status();
    (status, r.into_string().unwrap_or_default())
}

#[test]
fn metrics_are_served_to_loopback_or_with_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let c = local_server(dir.path(), "s3cret-token");
    // Some traffic first: a page, a 404, a health check.
    c.get("/login")
        .remote("127.0.0.1:5000".parse().unwrap())
        .dispatch();
    c.get("/no/such/page").dispatch();
    c.get("/healthz").dispatch();

    let (status, text) = scrape(&c, "127.0.0.1:40000", &[]);
    assert_eq!(status, Status::Ok, "{text}");
    assert!(
        text.contains(
            "oxidesk_http_requests_total{method=\"GET\",route=\"/login\",status=\"2xx\"}"
        ),
        "{text}"
    );
    assert!(
        text.contains("route=\"unmatched\",status=\"4xx\"} "),
        "{text}"
    );
    assert!(text.contains(
        "oxidesk_http_request_duration_seconds_bucket{method=\"GET\",route=\"/healthz\",status=\"2xx\",le=\"+Inf\"} 1"
    ));
    assert!(text.contains("# TYPE oxidesk_http_request_duration_seconds histogram"));
    assert!(text.contains("oxidesk_inbound_messages{status=\"quarantined\"} 0"));
    assert!(text.contains("oxidesk_outbox_depth 0"));
    assert!(text.contains("oxidesk_outbox_deliveries_total{result=\"sent\"}"));
    assert!(text.contains("process_resident_memory_bytes "));
    assert!(text.contains("oxidesk_database_up 1"));
    // Every sample line is `name{labels} value` or `name value`.
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let value = line.rsplit(' ').next().unwrap();
        assert!(value.parse::<f64>().is_ok(), "bad sample line {line:?}");
    }
    assert!(
        scrape(&c, "[::1]:40000", &[]).0 == Status::Ok,
        "IPv6 loopback"
    );

    // Not from elsewhere, nor relayed by a proxy on this host.
    assert_eq!(scrape(&c, "203.0.113.9:40000", &[]).0, Status::Forbidden);
    assert_eq!(
        scrape(&c, "127.0.0.1:40000", &[("X-Forwarded-For", "203.0.113.9")]).0,
        Status::Forbidden
    );
    assert_eq!(
        scrape(
            &c,
            "203.0.113.9:40000",
            &[("Authorization", "Bearer wrong")]
        )
        .0,
        Status::Forbidden
    );
    // The token opens it from anywhere.
    let (status, text) = scrape(
        &c,
        "203.0.113.9:40000",
        &[("Authorization", "Bearer s3cret-token")],
    );
    assert_eq!(status, Status::Ok);
    assert!(text.contains("oxidesk_outbox_depth"));

    // Without a configured token, a bearer header opens nothing.
    let dir2 = tempfile::tempdir().unwrap();
    let c2 = local_server(dir2.path(), "");
    assert_eq!(
        scrape(&c2, "203.0.113.9:1", &[("Authorization", "Bearer ")]).0,
        Status::Forbidden
    );
}

#[test]
fn metrics_count_inbound_mail_by_status_from_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("m.db");
    ok(&oxidesk(&db, &["migrate"]));
    super::pipe_mail(&db, 0);
    super::pipe_mail(&db, 1);
    let c = local_server(dir.path(), "");
    let (_, text) = scrape(&c, "127.0.0.1:1", &[]);
    assert!(
        text.contains("oxidesk_inbound_messages{status=\"stored\"} 2"),
        "{text}"
    );
    assert!(text.contains("oxidesk_outbox_depth "), "{text}");
}

// ------------------------------------------------ the copy before migrating

/// A database as the first release left it: only migration 0001 applied.
fn first_release_db(path: &Path) {
    let core = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("src/store/migrations/0001_core.sql"),
    )
    .unwrap();
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(&core).unwrap();
    conn.execute_batch(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL);
         INSERT INTO schema_migrations VALUES (1, 'core', 0);",
    )
    .unwrap();
}

fn migrate_logged(db: &Path, env: &[(&str, &str)]) -> String {
    let mut cmd = Command::new(bin());
    cmd.arg("--db")
        .arg(db)
        .arg("migrate")
        .env_remove("OXIDESK_CONFIG")
        .env("OXIDESK_LOG", "info");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn baks(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".bak"))
        .collect()
}

#[test]
fn the_copy_before_migrating_says_where_and_how_long_and_only_when_pending() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("old.db");
    first_release_db(&db);
    let log = migrate_logged(&db, &[]);
    let copies = baks(dir.path());
    assert_eq!(copies.len(), 1);
    let line = log
        .lines()
        .find(|l| l.contains("saved a copy of the database before migrating"))
        .unwrap_or_else(|| panic!("{log}"));
    assert!(line.contains(&copies[0].display().to_string()), "{line}");
    assert!(line.contains(" s)") && line.contains("seconds="), "{line}");
    // Nothing pending: no copy, and nothing said about one.
    let log = migrate_logged(&db, &[]);
    assert!(!log.contains("copy"), "{log}");
    assert_eq!(baks(dir.path()).len(), 1);

    // An operator who took a backup elsewhere may skip the copy.
    let db2 = dir.path().join("old2.db");
    first_release_db(&db2);
    let log = migrate_logged(
        &db2,
        &[("OXIDESK_DATABASE_BACKUP_BEFORE_MIGRATIONS", "false")],
    );
    assert!(log.contains("migrating without a copy"), "{log}");
    assert_eq!(baks(dir.path()).len(), 1, "no copy of old2.db");
}

// ------------------------------------------------------------- README

#[test]
fn readme_lists_every_configuration_key_with_its_variable_and_default() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let start = readme
        .find("## Configuration reference")
        .expect("a configuration reference");
    let table = &readme[start..];
    for (key, var, default) in Config::default().keys() {
        let row = table
            .lines()
            .find(|l| l.starts_with(&format!("| `{key}` ")))
            .unwrap_or_else(|| panic!("README: no row for {key}"));
        assert!(
            row.contains(&format!("`{var}`")),
            "README: {key} without {var}"
        );
        let shown = default.trim_matches('"');
        let documented = if shown.is_empty() || shown == "[]" {
            row.contains("empty")
        } else {
            row.contains(&format!("`{shown}`"))
        };
        assert!(
            documented,
            "README: {key} does not give its default {default}: {row}"
        );
    }
}
