//! Changing a ticket's help topic. The SLA plan follows the new topic
//! unless one was named for the ticket; department and priority stay (an
//! agent moves those on purpose, with transfer and priority).

use rusqlite::Connection;

use super::events::{self, Actor, TicketEvent};
use super::{load_open_for_change, with_tx, TicketError};
use crate::model::{HelpTopicId, TicketId};
use crate::store::{self, Store};

pub fn set_help_topic(
    store: &Store,
    actor: &Actor,
    ticket: TicketId,
    to: Option<HelpTopicId>,
) -> Result<(), TicketError> {
    with_tx(store, |tx| set_help_topic_in(tx, actor, ticket, to))
}

/// Set (or clear) the help topic; it must exist and be active.
pub fn set_help_topic_in(
    tx: &Connection,
    actor: &Actor,
    ticket: TicketId,
    to: Option<HelpTopicId>,
) -> Result<(), TicketError> {
    let t = load_open_for_change(tx, ticket)?;
    if let Some(id) = to {
        if store::ticket_refs::help_topic_defaults(tx, id)?.is_none() {
            return Err(TicketError::invalid(
                "help_topic",
                format!("help topic {id} does not exist"),
            ));
        }
    }
    if t.help_topic_id == to {
        return Ok(());
    }
    let now = store::now();
    store::sla_tickets::set_help_topic(tx, t.id, to, now)?;
    super::sla::on_routing_changed(tx, t.id, now)?;
    events::record(
        tx,
        actor,
        &TicketEvent::HelpTopicChanged {
            ticket: t.id,
            from: t.help_topic_id,
            to,
        },
    )?;
    Ok(())
}
