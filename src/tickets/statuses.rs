//! Custom status labels on tickets: setting a label moves the ticket to
//! the label's state (recorded as any status change) and keeps the label.

use rusqlite::Connection;

use super::events::Actor;
use super::{load_open_for_change, with_tx, TicketError};
use crate::model::TicketId;
use crate::store::{self, Store};

/// Give a ticket the custom status `status_id`, in its own transaction.
pub fn set_status_label(
    store: &Store,
    actor: &Actor,
    ticket: TicketId,
    status_id: i64,
) -> Result<(), TicketError> {
    with_tx(store, |tx| {
        set_status_label_in(tx, actor, ticket, status_id)
    })
}

pub fn set_status_label_in(
    tx: &Connection,
    actor: &Actor,
    ticket: TicketId,
    status_id: i64,
) -> Result<(), TicketError> {
    let label = store::statuses::get(tx, status_id)?.ok_or_else(|| {
        TicketError::invalid("status", format!("status {status_id} does not exist"))
    })?;
    let t = load_open_for_change(tx, ticket)?;
    let current = store::statuses::of_ticket(tx, t.id)?;
    if t.status != label.state {
        super::change::move_status(tx, actor, t.id, t.status, label.state, store::now())?;
    } else {
        let shown = match current {
            Some(id) => store::statuses::get(tx, id)?,
            None => store::statuses::default_for_state(tx, t.status)?,
        };
        if shown.as_ref().map(|s| s.id) == Some(label.id) {
            if current.is_none() {
                store::statuses::set_ticket_label(tx, t.id, Some(label.id))?;
            }
            return Ok(());
        }
        let from = shown.map(|s| s.name).unwrap_or_default();
        store::statuses::record_label_change(tx, actor, t.id, &from, &label.name)?;
    }
    store::statuses::set_ticket_label(tx, t.id, Some(label.id))?;
    Ok(())
}
