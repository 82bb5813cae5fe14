//! What `/healthz` reports about the database.

use rusqlite::Connection;
use serde::Serialize;

use super::{migrations, Context, StoreResult};

#[derive(Debug, Clone, Serialize)]
pub struct Health {
    pub database: &'static str,
    pub schema_version: u32,
    pub migrations_current: bool,
    /// Messages waiting in the outbox (0 while there is no outbox table).
    pub outbox_depth: i64,
}

pub fn check(conn: &Connection) -> StoreResult<Health> {
    let schema_version = migrations::schema_version(conn)?;
    let migrations_current = migrations::pending_migrations(conn)?.is_empty();
    let has_outbox: bool = conn
        .query_row(
            "SELECT EXISTS(SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'outbox')",
            [],
            |r| r.get(0),
        )
        .ctx(|| "looking for the outbox".into())?;
    let outbox_depth = if has_outbox {
        conn.query_row(
            "SELECT COUNT(*) FROM outbox WHERE state IN ('queued', 'sending')",
            [],
            |r| r.get(0),
        )
        .ctx(|| "counting the outbox".into())?
    } else {
        0
    };
    Ok(Health {
        database: "ok",
        schema_version,
        migrations_current,
        outbox_depth,
    })
}
