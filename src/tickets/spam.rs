//! Releasing false positives of the spam filter. Spam tickets are kept
//! (nothing is lost), closed and hidden from queues, and get no
//! auto-response; an admin who finds real mail among them releases it, and
//! it is back in the queue, open.

use rusqlite::Connection;

use super::events::{self, Actor, TicketEvent};
use super::{with_tx, TicketError};
use crate::model::{Status, TicketId};
use crate::store::{self, Store};

/// Release `ticket` in its own transaction. Returns false when it was not
/// marked spam (nothing changes).
pub fn release_spam(store: &Store, actor: &Actor, ticket: TicketId) -> Result<bool, TicketError> {
    with_tx(store, |tx| release_spam_in(tx, actor, ticket))
}

/// Release `ticket` inside the caller's transaction: clear the mark, reopen
/// it if marking closed it, and record both.
pub fn release_spam_in(
    tx: &Connection,
    actor: &Actor,
    ticket: TicketId,
) -> Result<bool, TicketError> {
    let t = store::tickets::get(tx, ticket).map_err(super::error::not_found)?;
    if !t.is_spam {
        return Ok(false);
    }
    let reopen = t.status == Status::Closed;
    store::spam::release(tx, t.id, reopen, store::now())?;
    events::record(tx, actor, &TicketEvent::SpamReleased { ticket: t.id })?;
    if reopen {
        events::record(
            tx,
            actor,
            &TicketEvent::StatusChanged {
                ticket: t.id,
                from: Status::Closed,
                to: Status::Open,
            },
        )?;
    }
    Ok(true)
}
