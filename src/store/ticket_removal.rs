//! Deleting tickets for good (bulk delete in the staff UI).

use rusqlite::Connection;

use super::{Context, StoreError, StoreResult};
use crate::model::TicketId;

/// Delete a ticket with its thread, attachments and events (cascades);
/// merged tickets pointing at it lose the link. Blobs stay: they are
/// shared by content hash.
pub fn delete(conn: &Connection, id: TicketId) -> StoreResult<()> {
    let n = conn
        .execute("DELETE FROM tickets WHERE id = ?1", [id])
        .ctx(|| format!("deleting ticket {id}"))?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("ticket {id}")));
    }
    Ok(())
}
