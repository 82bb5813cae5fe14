//! Changes to a ticket's fields: assignment, department, status, priority,
//! due date, merging and spam. Each records its event; a change to the
//! current value is a no-op without an event.

use rusqlite::Connection;

use super::events::{self, Actor, TicketEvent};
use super::{load_open_for_change, with_tx, TicketError};
use crate::model::{DepartmentId, PriorityId, StaffId, Status, TicketId};
use crate::store::{self, Store};

pub fn assign(
    store: &Store,
    actor: &Actor,
    ticket: TicketId,
    to: Option<StaffId>,
) -> Result<(), TicketError> {
    with_tx(store, |tx| assign_in(tx, actor, ticket, to))
}

/// Assign the ticket to an active staff member, or unassign it (None).
pub fn assign_in(
    tx: &Connection,
    actor: &Actor,
    ticket: TicketId,
    to: Option<StaffId>,
) -> Result<(), TicketError> {
    let t = load_open_for_change(tx, ticket)?;
    if let Some(staff) = to {
        if !store::ticket_refs::staff_active(tx, staff)? {
            return Err(TicketError::invalid(
                "assignee",
                format!("staff member {staff} does not exist or is not active"),
            ));
        }
    }
    if t.assignee_id == to {
        return Ok(());
    }
    store::tickets::set_assignee(tx, t.id, to, store::now())?;
    events::record(
        tx,
        actor,
        &TicketEvent::Assigned {
            ticket: t.id,
            from: t.assignee_id,
            to,
        },
    )?;
    Ok(())
}

pub fn transfer(
    store: &Store,
    actor: &Actor,
    ticket: TicketId,
    to: DepartmentId,
) -> Result<(), TicketError> {
    with_tx(store, |tx| transfer_in(tx, actor, ticket, to))
}

pub fn transfer_in(
    tx: &Connection,
    actor: &Actor,
    ticket: TicketId,
    to: DepartmentId,
) -> Result<(), TicketError> {
    let t = load_open_for_change(tx, ticket)?;
    if !store::ticket_refs::department_exists(tx, to)? {
        return Err(TicketError::invalid(
            "department",
            format!("department {to} does not exist"),
        ));
    }
    if t.department_id == to {
        return Ok(());
    }
    store::tickets::set_department(tx, t.id, to, store::now())?;
    super::sla::on_routing_changed(tx, t.id, store::now())?;
    events::record(
        tx,
        actor,
        &TicketEvent::Transferred {
            ticket: t.id,
            from: t.department_id,
            to,
        },
    )?;
    Ok(())
}

pub fn set_status(
    store: &Store,
    actor: &Actor,
    ticket: TicketId,
    to: Status,
) -> Result<(), TicketError> {
    with_tx(store, |tx| set_status_in(tx, actor, ticket, to))
}

/// Change the status; resolving or closing sets `closed_at`, reopening
/// clears it.
pub fn set_status_in(
    tx: &Connection,
    actor: &Actor,
    ticket: TicketId,
    to: Status,
) -> Result<(), TicketError> {
    let t = load_open_for_change(tx, ticket)?;
    if t.status == to {
        return Ok(());
    }
    move_status(tx, actor, t.id, t.status, to, store::now())
}

/// Move a ticket from status `from` to `to` and record it: the one place a
/// status changes, whoever causes it (a staff action, a reply, a customer
/// message reopening the ticket).
pub(crate) fn move_status(
    tx: &Connection,
    actor: &Actor,
    ticket: TicketId,
    from: Status,
    to: Status,
    now: i64,
) -> Result<(), TicketError> {
    store::tickets::set_status(tx, ticket, to, now)?;
    super::sla::on_status(tx, ticket, from, to, now)?;
    events::record(tx, actor, &TicketEvent::StatusChanged { ticket, from, to })?;
    Ok(())
}

pub fn set_priority(
    store: &Store,
    actor: &Actor,
    ticket: TicketId,
    to: PriorityId,
) -> Result<(), TicketError> {
    with_tx(store, |tx| set_priority_in(tx, actor, ticket, to))
}

pub fn set_priority_in(
    tx: &Connection,
    actor: &Actor,
    ticket: TicketId,
    to: PriorityId,
) -> Result<(), TicketError> {
    let t = load_open_for_change(tx, ticket)?;
    if !store::ticket_refs::priority_exists(tx, to)? {
        return Err(TicketError::invalid(
            "priority",
            format!("priority {to} does not exist"),
        ));
    }
    if t.priority_id == to {
        return Ok(());
    }
    store::tickets::set_priority(tx, t.id, to, store::now())?;
    events::record(
        tx,
        actor,
        &TicketEvent::PriorityChanged {
            ticket: t.id,
            from: t.priority_id,
            to,
        },
    )?;
    Ok(())
}

pub fn set_due(
    store: &Store,
    actor: &Actor,
    ticket: TicketId,
    due: Option<i64>,
) -> Result<(), TicketError> {
    with_tx(store, |tx| set_due_in(tx, actor, ticket, due))
}

/// Set (Unix seconds) or clear the due date.
pub fn set_due_in(
    tx: &Connection,
    actor: &Actor,
    ticket: TicketId,
    due: Option<i64>,
) -> Result<(), TicketError> {
    let t = load_open_for_change(tx, ticket)?;
    if let Some(d) = due {
        // Between 2000-01-01 and 3000-01-01: anything else is a unit mistake.
        if !(946_684_800..32_503_680_000).contains(&d) {
            return Err(TicketError::invalid(
                "due",
                format!("{d} is not a plausible date (Unix seconds)"),
            ));
        }
    }
    if t.due_at == due {
        return Ok(());
    }
    store::tickets::set_due(tx, t.id, due, store::now())?;
    super::sla::on_manual_due(tx, t.id)?;
    events::record(
        tx,
        actor,
        &TicketEvent::DueChanged {
            ticket: t.id,
            from: t.due_at,
            to: due,
        },
    )?;
    Ok(())
}

pub fn merge(
    store: &Store,
    actor: &Actor,
    ticket: TicketId,
    into: TicketId,
) -> Result<(), TicketError> {
    with_tx(store, |tx| merge_in(tx, actor, ticket, into))
}

/// Merge `ticket` into `into`: its whole thread (and raw mail) moves to
/// `into`, so replies to any of its messages thread there; `ticket` is
/// closed with `merged_into_id` set, and its subject token keeps leading to
/// `into`.
pub fn merge_in(
    tx: &Connection,
    actor: &Actor,
    ticket: TicketId,
    into: TicketId,
) -> Result<(), TicketError> {
    if ticket == into {
        return Err(TicketError::invalid(
            "into",
            "a ticket cannot be merged into itself",
        ));
    }
    let a = load_open_for_change(tx, ticket)?;
    let b = load_open_for_change(tx, into)?;
    let now = store::now();
    store::entries::move_thread(tx, a.id, b.id)?;
    store::raw_messages::move_ticket(tx, a.id, b.id)?;
    let latest = |x: Option<i64>, y: Option<i64>| x.max(y);
    let earliest = |x: Option<i64>, y: Option<i64>| match (x, y) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    };
    store::tickets::set_activity_times(
        tx,
        b.id,
        latest(a.last_message_at, b.last_message_at),
        latest(a.last_response_at, b.last_response_at),
        earliest(a.first_response_at, b.first_response_at),
        now,
    )?;
    store::tickets::set_merged(tx, a.id, b.id, now)?;
    events::record(
        tx,
        actor,
        &TicketEvent::Merged {
            ticket: a.id,
            into: b.id,
        },
    )?;
    Ok(())
}

pub fn mark_spam(store: &Store, actor: &Actor, ticket: TicketId) -> Result<(), TicketError> {
    with_tx(store, |tx| mark_spam_in(tx, actor, ticket))
}

/// Flag the ticket as spam and close it.
pub fn mark_spam_in(tx: &Connection, actor: &Actor, ticket: TicketId) -> Result<(), TicketError> {
    let t = store::tickets::get(tx, ticket).map_err(super::error::not_found)?;
    if t.is_spam {
        return Ok(());
    }
    store::tickets::mark_spam(tx, t.id, store::now())?;
    events::record(tx, actor, &TicketEvent::MarkedSpam { ticket: t.id })?;
    Ok(())
}
