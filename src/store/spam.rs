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

/// Withdraw the mail queued for a ticket that is still being filed (its
/// new-ticket alerts to staff): a ticket the spam filter caught must not
/// page anyone. Only called in the transaction that opens the ticket, so
/// nothing else can have been queued for it.
pub fn withdraw_queued_mail(conn: &Connection, id: TicketId) -> StoreResult<usize> {
    conn.execute(
        "DELETE FROM outbox WHERE ticket_id = ?1 AND state = 'queued'",
        [id],
    )
    .ctx(|| format!("withdrawing the mail queued for spam ticket id {id}"))
}
