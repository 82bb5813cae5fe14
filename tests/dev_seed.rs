//! `oxidesk dev seed`: the generated database is complete, consistent,
//! searchable, deterministic for a seed, and left in normal (WAL, triggers)
//! working order.

use std::path::Path;
use std::process::Command;

use rusqlite::Connection;

fn seed(db: &Path, extra: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_oxidesk"))
        .arg("--db")
        .arg(db)
        .args(["dev", "seed", "--now", "1790000000"])
        .args(extra)
        .output()
        .expect("running oxidesk dev seed")
}

fn one<T: rusqlite::types::FromSql>(conn: &Connection, sql: &str) -> T {
    conn.query_row(sql, [], |r| r.get(0))
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

#[test]
fn seed_builds_a_consistent_searchable_database() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("seed.db");
    let out = seed(
        &db,
        &[
            "--tickets",
            "600",
            "--staff",
            "7",
            "--departments",
            "3",
            "--seed",
            "9",
        ],
    );
    assert!(
        out.status.success(),
        "seed failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let conn = Connection::open(&db).expect("open seeded db");

    assert_eq!(one::<i64>(&conn, "SELECT COUNT(*) FROM tickets"), 600);
    assert_eq!(one::<i64>(&conn, "SELECT COUNT(*) FROM customers"), 200);
    assert_eq!(one::<i64>(&conn, "SELECT COUNT(*) FROM staff"), 7);
    assert_eq!(one::<i64>(&conn, "SELECT COUNT(*) FROM departments"), 3);
    let entries: i64 = one(&conn, "SELECT COUNT(*) FROM entries");
    assert!(
        (2400..=3600).contains(&entries),
        "about 5 entries per ticket, got {entries}"
    );
    assert_eq!(
        one::<i64>(&conn, "SELECT COUNT(DISTINCT number) FROM tickets"),
        600,
        "ticket numbers are unique"
    );
    assert_eq!(
        one::<i64>(
            &conn,
            "SELECT COUNT(*) FROM tickets WHERE length(number) <> 8"
        ),
        0
    );
    // Every ticket starts with a customer message and has a creation event.
    assert_eq!(
        one::<i64>(
            &conn,
            "SELECT COUNT(*) FROM tickets t WHERE (SELECT kind FROM entries e
               WHERE e.ticket_id = t.id ORDER BY e.id LIMIT 1) <> 'message'"
        ),
        0
    );
    assert_eq!(
        one::<i64>(&conn, "SELECT COUNT(*) FROM events WHERE kind = 'created'"),
        600
    );
    // Statuses are varied and mostly done; closed tickets carry closed_at.
    let done: i64 = one(
        &conn,
        "SELECT COUNT(*) FROM tickets WHERE status IN ('resolved', 'closed')",
    );
    assert!(done > 300, "most tickets are done, got {done}");
    assert!(one::<i64>(&conn, "SELECT COUNT(DISTINCT status) FROM tickets") >= 4);
    assert_eq!(
        one::<i64>(
            &conn,
            "SELECT COUNT(*) FROM tickets WHERE status = 'closed' AND closed_at IS NULL"
        ),
        0
    );
    // Right-to-left and Ethiopic text is present and intact.
    assert!(
        one::<i64>(
            &conn,
            "SELECT COUNT(*) FROM entries WHERE body_text LIKE '%سلام%'"
        ) > 0
    );
    assert!(
        one::<i64>(
            &conn,
            "SELECT COUNT(*) FROM entries WHERE body_text GLOB '*[ሀ-ፚ]*'"
        ) > 0,
        "some Amharic (Ethiopic script) bodies"
    );
    assert!(
        one::<i64>(
            &conn,
            "SELECT COUNT(*) FROM tickets WHERE subject GLOB '*[ا-ی]*'"
        ) > 0,
        "some Arabic-script subjects"
    );
    // Attachments point at deduplicated blobs.
    let attachments: i64 = one(&conn, "SELECT COUNT(*) FROM attachments");
    let blobs: i64 = one(&conn, "SELECT COUNT(*) FROM blobs");
    assert!(
        attachments > blobs,
        "{attachments} attachments share {blobs} blobs"
    );

    // Full-text search was rebuilt and agrees with the base tables.
    let fts: i64 = one(
        &conn,
        "SELECT COUNT(*) FROM entries_fts WHERE entries_fts MATCH 'server'",
    );
    let like: i64 = one(
        &conn,
        "SELECT COUNT(*) FROM entries WHERE body_text LIKE '%server%'",
    );
    assert!(fts > 0 && fts <= like, "fts {fts} vs like {like}");
    assert_eq!(
        one::<String>(&conn, "SELECT journal_mode FROM pragma_journal_mode"),
        "wal"
    );
    // The triggers are back: a new ticket is searchable at once.
    assert_eq!(
        one::<i64>(
            &conn,
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger' AND name LIKE '%fts%'"
        ),
        9
    );
    conn.execute(
        "INSERT INTO tickets (number, subject, priority_id, department_id, customer_id, source,
           created_at, updated_at) VALUES ('123456', 'zebracrossing outage', 2, 1, 1, 'web', 0, 0)",
        [],
    )
    .expect("insert after seeding");
    assert_eq!(
        one::<i64>(
            &conn,
            "SELECT COUNT(*) FROM tickets_fts WHERE tickets_fts MATCH 'zebracrossing'"
        ),
        1
    );
    assert_eq!(one::<String>(&conn, "PRAGMA integrity_check"), "ok");
    drop(conn);

    // The product's own sanity check agrees (schema, integrity, search
    // indexes consistent with their tables).
    let check = Command::new(env!("CARGO_BIN_EXE_oxidesk"))
        .arg("--db")
        .arg(&db)
        .arg("check")
        .output()
        .expect("running oxidesk check");
    assert!(
        check.status.success(),
        "oxidesk check on the seeded database: {}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );

    // Seeding again refuses to mix generated data into a used database.
    let again = seed(&db, &["--tickets", "10"]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already holds"));
}

#[test]
fn the_same_seed_gives_the_same_data() {
    let dir = tempfile::tempdir().expect("temp dir");
    let dump = |name: &str, seed_value: &str| -> Vec<String> {
        let db = dir.path().join(name);
        let out = seed(&db, &["--tickets", "150", "--seed", seed_value]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let conn = Connection::open(&db).expect("open");
        let mut stmt = conn
            .prepare(
                "SELECT t.number || '|' || t.subject || '|' || t.status || '|' || t.created_at
                   || '|' || group_concat(e.kind || ':' || e.body_text, '/')
                 FROM tickets t JOIN entries e ON e.ticket_id = t.id
                 GROUP BY t.id ORDER BY t.id",
            )
            .expect("prepare");
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .expect("query")
            .collect::<Result<Vec<_>, _>>()
            .expect("rows");
        rows
    };
    let a = dump("a.db", "5");
    let b = dump("b.db", "5");
    let c = dump("c.db", "6");
    assert_eq!(a.len(), 150);
    assert_eq!(a, b);
    assert_ne!(a, c);
}
