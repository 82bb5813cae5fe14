//! Database sanity checks for `oxidesk check`.

use rusqlite::Connection;

use super::{Context, StoreResult};

/// `PRAGMA quick_check`: ["ok"] when the file is sound.
pub fn quick_check(conn: &Connection) -> StoreResult<Vec<String>> {
    let mut stmt = conn
        .prepare("PRAGMA quick_check")
        .ctx(|| "checking the database integrity".into())?;
    let rows = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        .ctx(|| "checking the database integrity".into())?;
    Ok(rows)
}

/// The full-text indexes kept in sync with their tables by triggers.
pub const FTS_TABLES: [&str; 3] = ["tickets_fts", "entries_fts", "identities_fts"];

/// FTS5 'integrity-check' with rank 1 also compares an external-content
/// index with its content table. `table` must be one of [`FTS_TABLES`].
pub fn fts_check(conn: &Connection, table: &str) -> StoreResult<()> {
    if !FTS_TABLES.contains(&table) {
        return Err(super::StoreError::Invalid(format!(
            "{table} is not a search index"
        )));
    }
    conn.execute(
        &format!("INSERT INTO {table}({table}, rank) VALUES('integrity-check', 1)"),
        [],
    )
    .ctx(|| format!("checking the search index {table}"))?;
    Ok(())
}

/// Rebuild a full-text index from its table.
pub fn fts_rebuild(conn: &Connection, table: &str) -> StoreResult<()> {
    if !FTS_TABLES.contains(&table) {
        return Err(super::StoreError::Invalid(format!(
            "{table} is not a search index"
        )));
    }
    conn.execute(
        &format!("INSERT INTO {table}({table}) VALUES('rebuild')"),
        [],
    )
    .ctx(|| format!("rebuilding the search index {table}"))?;
    Ok(())
}

pub fn journal_mode(conn: &Connection) -> StoreResult<String> {
    conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .ctx(|| "reading the journal mode".into())
}

pub fn quarantined_count(conn: &Connection) -> StoreResult<i64> {
    conn.query_row(
        "SELECT COUNT(*) FROM raw_messages WHERE status = 'quarantined'",
        [],
        |r| r.get(0),
    )
    .ctx(|| "counting quarantined messages".into())
}

/// The newest schema version embedded in this binary.
pub fn latest_schema_version() -> u32 {
    super::migrations::all()
        .last()
        .map(|m| m.version)
        .unwrap_or(0)
}
