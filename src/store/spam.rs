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

/// A ticket held as spam, for the admin's review list.
#[derive(Debug, Clone, serde::Serialize)]
pub struct HeldTicket {
    pub id: TicketId,
    pub number: String,
    pub subject: String,
    pub customer_email: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    /// The spam filter's reason, when a filter (not staff) marked it.
    pub marked_by: String,
}

/// Tickets marked as spam, most recently changed first.
pub fn held(conn: &Connection, limit: i64) -> StoreResult<Vec<HeldTicket>> {
    let what = || "listing the tickets held as spam".to_string();
    let mut stmt = conn
        .prepare_cached(
            "SELECT t.id, t.number, t.subject,
                    (SELECT email FROM customer_identities WHERE customer_id = t.customer_id
                      ORDER BY id LIMIT 1),
                    t.created_at, t.updated_at,
                    COALESCE((SELECT actor FROM events WHERE ticket_id = t.id
                               AND kind = 'marked_spam' ORDER BY id DESC LIMIT 1), '')
             FROM tickets t INDEXED BY tickets_spam_updated
             WHERE t.is_spam = 1
             ORDER BY t.updated_at DESC LIMIT ?1",
        )
        .ctx(what)?;
    let rows = stmt
        .query_map([limit], |r| {
            Ok(HeldTicket {
                id: r.get(0)?,
                number: r.get(1)?,
                subject: r.get(2)?,
                customer_email: r.get(3)?,
                created_at: r.get(4)?,
                updated_at: r.get(5)?,
                marked_by: r.get(6)?,
            })
        })
        .ctx(what)?;
    rows.collect::<Result<_, _>>().ctx(what)
}
