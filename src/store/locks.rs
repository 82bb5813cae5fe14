//! Reply locks ("X is replying"), osTicket style: a lock per ticket held by
//! one agent until it expires; renewed while the agent types.

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use super::{Context, StoreResult};
use crate::model::{StaffId, TicketId};

#[derive(Debug, Clone, Serialize)]
pub struct Lock {
    pub staff_id: StaffId,
    pub staff_name: String,
    pub expires_at: i64,
}

/// The live lock on a ticket, if any.
pub fn current(conn: &Connection, ticket: TicketId) -> StoreResult<Option<Lock>> {
    conn.prepare_cached(
        "SELECT l.staff_id, s.name, l.expires_at FROM ticket_locks l
         JOIN staff s ON s.id = l.staff_id
         WHERE l.ticket_id = ?1 AND l.expires_at > ?2",
    )
    .and_then(|mut stmt| {
        stmt.query_row(params![ticket, super::now()], |r| {
            Ok(Lock {
                staff_id: r.get(0)?,
                staff_name: r.get(1)?,
                expires_at: r.get(2)?,
            })
        })
        .optional()
    })
    .ctx(|| format!("reading the lock on ticket {ticket}"))
}

/// Take or renew the lock for `staff`. Returns the holder: `staff` when it
/// got the lock, someone else when their lock is still live.
pub fn acquire(
    conn: &Connection,
    ticket: TicketId,
    staff: StaffId,
    ttl_secs: i64,
) -> StoreResult<Option<Lock>> {
    let now = super::now();
    conn.execute(
        "INSERT INTO ticket_locks (ticket_id, staff_id, expires_at) VALUES (?1, ?2, ?3)
         ON CONFLICT(ticket_id) DO UPDATE SET staff_id = excluded.staff_id,
                                              expires_at = excluded.expires_at
         WHERE ticket_locks.staff_id = excluded.staff_id OR ticket_locks.expires_at <= ?4",
        params![ticket, staff, now + ttl_secs, now],
    )
    .ctx(|| format!("locking ticket {ticket}"))?;
    current(conn, ticket)
}

/// Drop the lock if `staff` holds it.
pub fn release(conn: &Connection, ticket: TicketId, staff: StaffId) -> StoreResult<()> {
    conn.execute(
        "DELETE FROM ticket_locks WHERE ticket_id = ?1 AND staff_id = ?2",
        params![ticket, staff],
    )
    .ctx(|| format!("unlocking ticket {ticket}"))?;
    Ok(())
}
