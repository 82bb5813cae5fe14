//! Tagging tickets: staff add and remove tags on the ticket page; inbound
//! filters (plugins) tag the ticket a message is filed on. Every change is
//! recorded as a `tags_changed` event.

use rusqlite::Connection;

use super::events::{self, Actor, TicketEvent};
use super::{with_tx, TicketError};
use crate::model::TicketId;
use crate::store::{self, Store};

/// What a change did: the tags as shown, only those that changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TagChange {
    pub added: Vec<String>,
    pub removed: Vec<String>,
}

impl TagChange {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty()
    }
}

/// Add and remove tags in one transaction.
pub fn change_tags(
    store: &Store,
    actor: &Actor,
    ticket: TicketId,
    add: &[String],
    remove: &[String],
) -> Result<TagChange, TicketError> {
    with_tx(store, |tx| change_tags_in(tx, actor, ticket, add, remove))
}

/// Add and remove tags inside the caller's transaction; records one event
/// when anything changed. Tags already there (or not there) are skipped.
pub fn change_tags_in(
    tx: &Connection,
    actor: &Actor,
    ticket: TicketId,
    add: &[String],
    remove: &[String],
) -> Result<TagChange, TicketError> {
    let t = store::tickets::get(tx, ticket).map_err(super::error::not_found)?;
    let now = store::now();
    let mut change = TagChange::default();
    for name in remove {
        if let Some(shown) = store::tags::remove(tx, t.id, name)? {
            change.removed.push(shown);
        }
    }
    for name in add {
        if let Some(shown) = store::tags::add(tx, t.id, name, now)? {
            change.added.push(shown);
        }
    }
    if !change.is_empty() {
        store::tickets::touch(tx, t.id, now)?;
        events::record(
            tx,
            actor,
            &TicketEvent::TagsChanged {
                ticket: t.id,
                added: change.added.clone(),
                removed: change.removed.clone(),
            },
        )?;
    }
    Ok(change)
}
