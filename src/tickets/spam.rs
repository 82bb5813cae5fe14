//! Marking tickets as spam and releasing false positives. Spam tickets are
//! kept (nothing is lost), hidden from queues, and get no auto-response; the
//! inbound filter marks them as they arrive, staff can do it by hand.

use rusqlite::{Connection, TransactionBehavior};

use super::events::{self, Actor, TicketEvent};
use crate::store::{self, Context, StoreError, StoreResult};

/// Clear the spam mark of ticket `number` and record who did it. Returns
/// false when the ticket was not marked spam (nothing changes).
pub fn release(conn: &mut Connection, number: &str, actor: &Actor) -> StoreResult<bool> {
    set(conn, number, actor, false)
}

/// Mark ticket `number` as spam. Returns false when it already was.
pub fn mark(conn: &mut Connection, number: &str, actor: &Actor) -> StoreResult<bool> {
    set(conn, number, actor, true)
}

fn set(conn: &mut Connection, number: &str, actor: &Actor, spam: bool) -> StoreResult<bool> {
    let what = || format!("changing the spam mark of ticket {number}");
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .ctx(what)?;
    let Some((ticket, is_spam)) = store::spam::find(&tx, number)? else {
        return Err(StoreError::NotFound(format!("ticket {number}")));
    };
    if is_spam == spam {
        return Ok(false);
    }
    store::spam::set(&tx, ticket, spam, store::now())?;
    let event = if spam {
        TicketEvent::MarkedSpam { ticket }
    } else {
        TicketEvent::SpamReleased { ticket }
    };
    events::record(&tx, actor, &event)?;
    tx.commit().ctx(what)?;
    Ok(true)
}
