//! Assigning a ticket to a team, and correcting its subject (the two
//! ticket changes that came with roles and teams). The team assignment sits
//! beside the agent assignment: a ticket may have both (the team owns it,
//! one member works it), either, or neither.

use rusqlite::Connection;

use super::events::{self, Actor, TicketEvent};
use super::{load_open_for_change, with_tx, TicketError};
use crate::model::{TeamId, TicketId};
use crate::store::{self, Store};

pub fn assign_team(
    store: &Store,
    actor: &Actor,
    ticket: TicketId,
    to: Option<TeamId>,
) -> Result<(), TicketError> {
    with_tx(store, |tx| assign_team_in(tx, actor, ticket, to))
}

/// Assign the ticket to an active team, or take it from its team (None).
/// The members are alerted (outbound mail, per `mail.alert_assigned`).
pub fn assign_team_in(
    tx: &Connection,
    actor: &Actor,
    ticket: TicketId,
    to: Option<TeamId>,
) -> Result<(), TicketError> {
    let t = load_open_for_change(tx, ticket)?;
    if let Some(team) = to {
        if !store::teams::is_active(tx, team)? {
            return Err(TicketError::invalid(
                "team",
                format!("team {team} does not exist or is disabled"),
            ));
        }
    }
    let from = store::teams::ticket_team(tx, t.id)?;
    if from == to {
        return Ok(());
    }
    store::teams::set_ticket_team(tx, t.id, to, store::now())?;
    events::record(
        tx,
        actor,
        &TicketEvent::TeamAssigned {
            ticket: t.id,
            from,
            to,
        },
    )?;
    Ok(())
}

/// Longest subject staff may set (mail subjects are kept whole on intake).
const MAX_SUBJECT_CHARS: usize = 255;

pub fn set_subject(
    store: &Store,
    actor: &Actor,
    ticket: TicketId,
    subject: &str,
) -> Result<(), TicketError> {
    with_tx(store, |tx| set_subject_in(tx, actor, ticket, subject))
}

/// Change the subject; the search index follows (a trigger).
pub fn set_subject_in(
    tx: &Connection,
    actor: &Actor,
    ticket: TicketId,
    subject: &str,
) -> Result<(), TicketError> {
    let t = load_open_for_change(tx, ticket)?;
    let subject = subject.trim();
    if subject.is_empty() {
        return Err(TicketError::invalid("subject", "a subject is required"));
    }
    if subject.chars().count() > MAX_SUBJECT_CHARS {
        return Err(TicketError::invalid(
            "subject",
            format!("a subject has at most {MAX_SUBJECT_CHARS} characters"),
        ));
    }
    if t.subject == subject {
        return Ok(());
    }
    store::tickets::set_subject(tx, t.id, subject, store::now())?;
    events::record(
        tx,
        actor,
        &TicketEvent::SubjectChanged {
            ticket: t.id,
            from: t.subject,
            to: subject.to_string(),
        },
    )?;
    Ok(())
}
