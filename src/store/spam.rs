//! Releasing tickets from the spam mark. (Marking is `tickets::mark_spam`,
//! which also closes the ticket.)

use rusqlite::{params, Connection};

use super::{Context, StoreResult};
use crate::model::TicketId;

/// Clear the spam mark; with `reopen`, a closed ticket becomes open again.
pub fn release(conn: &Connection, id: TicketId, reopen: bool, now: i64) -> StoreResult<()> {
    conn.execute(
        "UPDATE tickets
         SET is_spam = 0, updated_at = ?3,
             status = CASE WHEN ?2 THEN 'open' ELSE status END,
             closed_at = CASE WHEN ?2 THEN NULL ELSE closed_at END
         WHERE id = ?1",
        params![id, reopen, now],
    )
    .ctx(|| format!("releasing ticket id {id} from the spam mark"))?;
    Ok(())
}
