//! Which mail follows from which ticket event. Called by the domain inside
//! the transaction that records the event, so mail is queued in the outbox
//! if and only if the change is committed.

use rusqlite::Connection;

use crate::store::StoreResult;
use crate::tickets::events::{Actor, TicketEvent};

pub fn on_event(_tx: &Connection, _actor: &Actor, _event: &TicketEvent) -> StoreResult<()> {
    Ok(())
}
