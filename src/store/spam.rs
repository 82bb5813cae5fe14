//! The spam flag on tickets. Spam tickets are kept but hidden from queues.

use rusqlite::{params, Connection, OptionalExtension};

use super::{Context, StoreResult};
use crate::model::TicketId;

/// The ticket with this public number and whether it is marked spam.
pub fn find(conn: &Connection, number: &str) -> StoreResult<Option<(TicketId, bool)>> {
    conn.query_row(
        "SELECT id, is_spam FROM tickets WHERE number = ?1",
        [number],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()
    .ctx(|| format!("looking up ticket {number}"))
}

pub fn set(conn: &Connection, ticket: TicketId, is_spam: bool, now: i64) -> StoreResult<()> {
    conn.execute(
        "UPDATE tickets SET is_spam = ?2, updated_at = ?3 WHERE id = ?1",
        params![ticket, is_spam, now],
    )
    .ctx(|| format!("setting the spam flag of ticket {ticket}"))?;
    Ok(())
}
