//! Numbered schema migrations, embedded in the binary and applied on start.
//! A landed migration is never edited: change the schema with a new file
//! `NNNN_what.sql` in `src/store/migrations/`.

use rusqlite::Connection;
use rust_embed::RustEmbed;

use super::error::{StoreError, StoreResult};

#[derive(RustEmbed)]
#[folder = "src/store/migrations/"]
#[include = "*.sql"]
struct Files;

pub const MIGRATIONS_DIR: &str = "src/store/migrations";

#[derive(Debug, Clone)]
pub struct Migration {
    pub version: u32,
    pub name: String,
    pub sql: String,
}

/// Every embedded migration, in order.
pub fn all() -> Vec<Migration> {
    let mut out: Vec<Migration> = Files::iter()
        .filter_map(|file| {
            let (num, rest) = file.split_once('_')?;
            let version: u32 = num.parse().ok()?;
            let name = rest.trim_end_matches(".sql").to_string();
            let body = Files::get(&file)?;
            let sql = String::from_utf8_lossy(&body.data).into_owned();
            Some(Migration { version, name, sql })
        })
        .collect();
    out.sort_by_key(|m| m.version);
    out
}

/// The versions of the embedded migrations, from their file names alone.
fn embedded_versions() -> Vec<u32> {
    let mut v: Vec<u32> = Files::iter()
        .filter_map(|file| file.split_once('_')?.0.parse().ok())
        .collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// Whether every embedded migration is applied: one read-only query, what
/// each process start (each piped mail is one) pays when nothing is due.
/// False also when the migrations table does not exist yet.
pub fn up_to_date(conn: &Connection) -> bool {
    let versions = embedded_versions();
    let list = versions
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",");
    conn.query_row(
        &format!("SELECT count(*) FROM schema_migrations WHERE version IN ({list})"),
        [],
        |r| r.get::<_, i64>(0),
    )
    .is_ok_and(|n| n == versions.len() as i64)
}

fn ensure_table(conn: &Connection) -> StoreResult<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            applied_at INTEGER NOT NULL
        )",
    )
    .map_err(|e| StoreError::wrap("creating the migrations table", e))
}

/// The highest applied migration (0 for a new database).
pub fn schema_version(conn: &Connection) -> StoreResult<u32> {
    ensure_table(conn)?;
    conn.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
        [],
        |r| r.get(0),
    )
    .map_err(|e| StoreError::wrap("reading the schema version", e))
}

/// Migrations embedded in this binary and not yet applied to `conn`, by
/// version: a database may lack a lower number than its highest (areas land
/// their numbered files in any order).
pub fn pending_migrations(conn: &Connection) -> StoreResult<Vec<Migration>> {
    ensure_table(conn)?;
    let mut stmt = conn
        .prepare("SELECT version FROM schema_migrations")
        .map_err(|e| StoreError::wrap("reading applied migrations", e))?;
    let applied = stmt
        .query_map([], |r| r.get::<_, u32>(0))
        .and_then(|rows| rows.collect::<Result<std::collections::HashSet<u32>, _>>())
        .map_err(|e| StoreError::wrap("reading applied migrations", e))?;
    Ok(all()
        .into_iter()
        .filter(|m| !applied.contains(&m.version))
        .collect())
}

/// Apply every pending migration, each in its own immediate transaction so
/// two processes starting at once cannot both apply one.
pub fn apply(conn: &Connection) -> StoreResult<()> {
    // The common case (every process start: each piped mail is one) reads
    // the version and takes no write lock.
    if pending_migrations(conn)?.is_empty() {
        return Ok(());
    }
    for m in all() {
        conn.execute_batch("BEGIN IMMEDIATE")
            .map_err(|e| StoreError::wrap("starting a migration", e))?;
        let result = (|| -> StoreResult<bool> {
            let done: bool = conn
                .query_row(
                    "SELECT EXISTS(SELECT 1 FROM schema_migrations WHERE version = ?1)",
                    [m.version],
                    |r| r.get(0),
                )
                .map_err(|e| StoreError::wrap("reading applied migrations", e))?;
            if done {
                return Ok(false);
            }
            conn.execute_batch(&m.sql)
                .map_err(|source| StoreError::Migration {
                    version: m.version,
                    name: m.name.clone(),
                    source,
                })?;
            conn.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
                rusqlite::params![m.version, m.name, super::now()],
            )
            .map_err(|e| StoreError::wrap("recording a migration", e))?;
            Ok(true)
        })();
        match result {
            Ok(applied) => {
                conn.execute_batch("COMMIT")
                    .map_err(|e| StoreError::wrap("committing a migration", e))?;
                if applied {
                    tracing::info!(version = m.version, name = %m.name, "applied migration");
                }
            }
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK");
                return Err(e);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod gap_tests {
    use super::*;

    #[test]
    fn up_to_date_only_when_every_embedded_migration_is_applied() {
        let dir = tempfile::tempdir().unwrap();
        let conn = Connection::open(dir.path().join("u.db")).unwrap();
        assert!(!up_to_date(&conn), "no migrations table yet");
        apply(&conn).unwrap();
        assert!(up_to_date(&conn));
        let first = all()[0].version;
        conn.execute("DELETE FROM schema_migrations WHERE version = ?1", [first])
            .unwrap();
        assert!(!up_to_date(&conn));
    }

    #[test]
    fn a_lower_number_landing_later_is_still_pending() {
        let dir = tempfile::tempdir().unwrap();
        let conn = Connection::open(dir.path().join("g.db")).unwrap();
        ensure_table(&conn).unwrap();
        let highest = all().last().map(|m| m.version).unwrap();
        conn.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, 'x', 0)",
            [highest],
        )
        .unwrap();
        let pending: Vec<u32> = pending_migrations(&conn)
            .unwrap()
            .iter()
            .map(|m| m.version)
            .collect();
        assert!(pending.contains(&1), "{pending:?}");
        assert!(!pending.contains(&highest), "{pending:?}");
    }
}
