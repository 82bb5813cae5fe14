//! Figures `/metrics` reads from the database at scrape time: inbound mail
//! by status (the pipe runs as separate processes, so the database is the
//! only place that knows) and the outbox by state. Each query is answered
//! from an index (raw_messages_status, outbox_due), never the tables'
//! rows, which hold whole messages.

use std::collections::HashMap;

use rusqlite::Connection;

use super::{Context, StoreResult};

#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub raw_by_status: HashMap<String, i64>,
    pub outbox_by_state: HashMap<String, i64>,
    /// Queued messages with at least one failed attempt.
    pub outbox_retrying: i64,
    /// Seconds since the oldest undelivered message was queued.
    pub oldest_queued_age: i64,
}

fn grouped(conn: &Connection, sql: &str, what: &str) -> StoreResult<HashMap<String, i64>> {
    let mut stmt = conn.prepare_cached(sql).ctx(|| what.to_string())?;
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
        .ctx(|| what.to_string())?;
    rows.collect::<Result<_, _>>().ctx(|| what.to_string())
}

pub fn snapshot(conn: &Connection) -> StoreResult<Snapshot> {
    let raw_by_status = grouped(
        conn,
        "SELECT status, COUNT(*) FROM raw_messages INDEXED BY raw_messages_status GROUP BY status",
        "counting inbound mail by status",
    )?;
    let outbox_by_state = grouped(
        conn,
        "SELECT state, COUNT(*) FROM outbox INDEXED BY outbox_due GROUP BY state",
        "counting the outbox by state",
    )?;
    let (outbox_retrying, oldest): (i64, Option<i64>) = conn
        .query_row(
            "SELECT COUNT(*) FILTER (WHERE state = 'queued' AND attempts > 0), MIN(queued_at)
             FROM outbox INDEXED BY outbox_due WHERE state IN ('queued', 'sending')",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .ctx(|| "reading the outbox backlog".into())?;
    Ok(Snapshot {
        raw_by_status,
        outbox_by_state,
        outbox_retrying,
        oldest_queued_age: oldest.map_or(0, |t| (super::now() - t).max(0)),
    })
}
