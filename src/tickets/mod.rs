//! The ticket domain: every change to a ticket goes through a function here,
//! whoever calls it (mail pipe, HTTP intake, portal, staff UI, plugins).
pub mod events;

mod change;
mod content;
mod error;
pub mod intake;
pub mod links;
pub mod numbers;
mod open;
pub mod raw_mail;
mod reply;
pub mod spam;

pub use change::*;
pub use content::{Body, MailInfo, NewAttachment};
pub use error::TicketError;
pub use open::*;
pub use reply::*;
pub use spam::{release_spam, release_spam_in};

use rusqlite::{Connection, TransactionBehavior};

use crate::model::{Ticket, TicketId};
use crate::store::{self, StoreError};

/// Run `f` in one immediate transaction: the write lock is taken up front,
/// so a busy database fails at once (as a temporary error) instead of
/// half-way through.
pub fn with_tx<T>(
    store: &store::Store,
    f: impl FnOnce(&Connection) -> Result<T, TicketError>,
) -> Result<T, TicketError> {
    let mut conn = store.conn()?;
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| StoreError::wrap("starting a transaction", e))?;
    let value = f(&tx)?;
    tx.commit()
        .map_err(|e| StoreError::wrap("committing the change", e))?;
    Ok(value)
}

/// Load a ticket that may still be changed: it exists and was not merged
/// into another.
fn load_open_for_change(tx: &Connection, id: TicketId) -> Result<Ticket, TicketError> {
    let t = store::tickets::get(tx, id).map_err(error::not_found)?;
    if let Some(into) = t.merged_into_id {
        let number = store::tickets::number_of(tx, into)?.unwrap_or_default();
        return Err(TicketError::invalid(
            "ticket",
            format!("ticket {} was merged into ticket {number}", t.number),
        ));
    }
    Ok(t)
}
pub mod permissions;
pub mod removal;
pub mod rules;
pub mod rules_apply;
pub use error::Rejection;
pub mod sla;
mod topic;
pub use topic::{set_help_topic, set_help_topic_in};
mod team;
pub use team::{assign_team, assign_team_in, set_subject, set_subject_in};
pub mod statuses;
pub mod tags;
pub use statuses::{set_status_label, set_status_label_in};
