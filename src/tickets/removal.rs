//! Staff operations the rest of the domain does not cover: deleting a
//! ticket and banning its sender. (Added by the staff UI; kept apart so the
//! core files stay untouched.)

use super::events::Actor;
use super::{with_tx, TicketError};
use crate::model::TicketId;
use crate::store::{self, Store};

/// Delete a ticket for good. Only administrators should be offered this;
/// the caller checks the viewer's rights.
pub fn delete(store: &Store, actor: &Actor, ticket: TicketId) -> Result<(), TicketError> {
    with_tx(store, |tx| {
        let t = store::tickets::get(tx, ticket).map_err(|e| match e {
            store::StoreError::NotFound(w) => TicketError::NotFound(w),
            other => TicketError::Store(other),
        })?;
        store::ticket_removal::delete(tx, t.id)?;
        tracing::info!(ticket = %t.number, by = actor.display_name(), "ticket deleted");
        Ok(())
    })
}

/// Mark the ticket as spam (which closes it) and ban every address of its
/// customer, in one transaction.
pub fn mark_spam_and_ban(
    store: &Store,
    actor: &Actor,
    ticket: TicketId,
) -> Result<usize, TicketError> {
    with_tx(store, |tx| {
        super::mark_spam_in(tx, actor, ticket)?;
        let t = store::tickets::get(tx, ticket)?;
        let by = match actor {
            Actor::Staff { id, .. } => Some(*id),
            _ => None,
        };
        Ok(store::bans::ban_customer(tx, t.customer_id, by)?)
    })
}
