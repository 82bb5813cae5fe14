//! Service levels: which SLA plan a ticket runs under, its due date, the
//! overdue task and auto-assignment of new tickets.
//!
//! The due date is the deadline for the *next staff answer*; the clock
//! (`sla_started_at`) runs while the customer waits for staff:
//! - opening a ticket starts it: due = opened + the plan's grace, counted in
//!   business hours of the plan's schedule;
//! - a staff response that leaves the ticket answered or pending (or a
//!   status change to answered/pending) stops it: due date cleared, overdue
//!   marker cleared;
//! - a customer writing again after an answer (the ticket goes back to open)
//!   or a reopening restarts it from that moment; a customer adding to a
//!   ticket still waiting for staff does not push the deadline back;
//! - a response that keeps the ticket open restarts it from the response
//!   (the agent promised more: a fresh grace period);
//! - resolving or closing stops it and records `resolved_at`; reopening
//!   clears `resolved_at`;
//! - a transfer or a help-topic change re-derives an inherited plan (help
//!   topic's, else department's, else the default) and recomputes the due
//!   date from when the clock started; an explicitly named plan is kept;
//! - a due date an agent sets by hand is a promise, as in osTicket: it
//!   stops the clock (`sla_started_at` NULL) and stays through answers,
//!   messages, transfers and topic changes until the ticket is resolved or
//!   closed or the agent changes it.
//!
//! osTicket counts its due date from creation (or reopening) and keeps it
//! across answers; resetting from the last unanswered customer message is
//! what agents of Zendesk-style "next reply time" expect, and keeps the
//! Overdue queue to tickets someone actually has to act on.

pub mod assign;
pub mod hours;
pub mod overdue;

pub use hours::Hours;

use rusqlite::Connection;

use super::events::{self, Actor, TicketEvent};
use super::{with_tx, TicketError};
use crate::model::{DepartmentId, HelpTopicId, SlaPlanId, Status, TicketId};
use crate::store::{self, sla_tickets, Store};

/// The plan for a ticket: the explicitly named one (which must exist),
/// else the help topic's, the department's, the default — skipping plans
/// that are switched off. Returns (plan, explicit).
pub fn resolve_plan(
    conn: &Connection,
    explicit: Option<SlaPlanId>,
    topic: Option<HelpTopicId>,
    department: DepartmentId,
) -> Result<(Option<SlaPlanId>, bool), TicketError> {
    if let Some(id) = explicit {
        if store::sla::get_plan(conn, id)?.is_none() {
            return Err(TicketError::invalid(
                "sla_plan",
                format!("SLA plan {id} does not exist"),
            ));
        }
        return Ok((Some(id), true));
    }
    let candidates = [
        match topic {
            Some(t) => store::sla::help_topic_plan(conn, t)?,
            None => None,
        },
        store::sla::department_plan(conn, department)?,
        store::sla::default_plan(conn)?,
    ];
    for id in candidates.into_iter().flatten() {
        if store::sla::get_plan(conn, id)?.is_some_and(|p| p.active) {
            return Ok((Some(id), false));
        }
    }
    Ok((None, false))
}

/// The due date for a wait under `plan` that began at `start`. None when
/// the plan or its schedule is gone, or the schedule never opens; a
/// schedule with a broken time zone is logged and gives no due date (a
/// ticket must never be refused for it).
pub fn due_for(conn: &Connection, plan: SlaPlanId, start: i64) -> Result<Option<i64>, TicketError> {
    let Some(p) = store::sla::get_plan(conn, plan)? else {
        return Ok(None);
    };
    let Some(schedule) = store::sla::get_schedule(conn, p.schedule_id)? else {
        return Ok(None);
    };
    match Hours::from_schedule(&schedule) {
        Ok(h) => Ok(h.add(start, p.grace_minutes)),
        Err(e) => {
            tracing::warn!(plan = %plan, error = %e, "no due date");
            Ok(None)
        }
    }
}

/// After a new ticket's routing is decided and it is stored: its plan and
/// due date, then auto-assignment when nobody (no agent, no team) was named.
pub(crate) fn on_open(
    tx: &Connection,
    ticket: TicketId,
    explicit_plan: Option<SlaPlanId>,
    topic: Option<HelpTopicId>,
    department: DepartmentId,
    assignee_named: bool,
    now: i64,
) -> Result<(), TicketError> {
    let (plan, explicit) = resolve_plan(tx, explicit_plan, topic, department)?;
    sla_tickets::set_plan(tx, ticket, plan, explicit)?;
    if let Some(plan) = plan {
        let due = due_for(tx, plan, now)?;
        sla_tickets::set_clock(tx, ticket, Some(now), due, now)?;
    }
    if !assignee_named {
        assign::auto_assign(tx, ticket, department)?;
    }
    Ok(())
}

/// A due date set by hand: no clock runs, nothing recomputes it.
fn is_manual(s: &sla_tickets::TicketSla) -> bool {
    s.sla_started_at.is_none() && s.due_at.is_some()
}

/// Start (or restart) the clock at `now`, unless a hand-set due date holds.
fn start_clock(tx: &Connection, ticket: TicketId, now: i64) -> Result<(), TicketError> {
    let Some(s) = sla_tickets::get(tx, ticket)? else {
        return Ok(());
    };
    if is_manual(&s) {
        return Ok(());
    }
    let due = match s.sla_plan_id {
        Some(plan) => due_for(tx, plan, now)?,
        None => None,
    };
    sla_tickets::set_clock(tx, ticket, Some(now), due, now)?;
    Ok(())
}

/// Nobody waits for staff: no due date, no overdue marker (a hand-set due
/// date stays).
fn stop_clock(tx: &Connection, ticket: TicketId, now: i64) -> Result<(), TicketError> {
    if sla_tickets::get(tx, ticket)?.is_some_and(|s| is_manual(&s)) {
        return Ok(());
    }
    sla_tickets::set_clock(tx, ticket, None, None, now)?;
    Ok(())
}

/// Resolved or closed: every due date goes, the hand-set one too.
fn end_clock(tx: &Connection, ticket: TicketId, now: i64) -> Result<(), TicketError> {
    sla_tickets::set_clock(tx, ticket, None, None, now)?;
    Ok(())
}

/// An agent set (or cleared) the due date by hand: the clock stops.
pub(crate) fn on_manual_due(tx: &Connection, ticket: TicketId) -> Result<(), TicketError> {
    sla_tickets::clear_clock_start(tx, ticket)?;
    Ok(())
}

/// A status change (from `change::move_status`, the one place statuses
/// change).
pub(crate) fn on_status(
    tx: &Connection,
    ticket: TicketId,
    from: Status,
    to: Status,
    now: i64,
) -> Result<(), TicketError> {
    if to.is_done() {
        end_clock(tx, ticket, now)?;
        sla_tickets::set_resolved_at(tx, ticket, Some(now))?;
        return Ok(());
    }
    if from.is_done() {
        sla_tickets::set_resolved_at(tx, ticket, None)?;
    }
    match to {
        Status::Open if from != Status::Open => start_clock(tx, ticket, now),
        Status::Answered | Status::Pending => stop_clock(tx, ticket, now),
        _ => Ok(()),
    }
}

/// A staff response left the ticket in status `to`.
pub(crate) fn on_response(
    tx: &Connection,
    ticket: TicketId,
    to: Status,
    now: i64,
) -> Result<(), TicketError> {
    match to {
        Status::Open => start_clock(tx, ticket, now),
        _ => stop_clock(tx, ticket, now),
    }
}

/// The department or help topic changed: re-derive an inherited plan and
/// recompute a running clock's due date.
pub(crate) fn on_routing_changed(
    tx: &Connection,
    ticket: TicketId,
    now: i64,
) -> Result<(), TicketError> {
    let t = store::tickets::get(tx, ticket).map_err(super::error::not_found)?;
    let Some(s) = sla_tickets::get(tx, ticket)? else {
        return Ok(());
    };
    let mut plan = s.sla_plan_id;
    if !s.sla_plan_explicit {
        plan = resolve_plan(tx, None, t.help_topic_id, t.department_id)?.0;
        if plan != s.sla_plan_id {
            sla_tickets::set_plan(tx, ticket, plan, false)?;
        }
    }
    recompute(tx, &t, plan, s.sla_started_at, now)
}

fn recompute(
    tx: &Connection,
    t: &crate::model::Ticket,
    plan: Option<SlaPlanId>,
    started: Option<i64>,
    now: i64,
) -> Result<(), TicketError> {
    let Some(start) = started.filter(|_| !t.status.is_done()) else {
        return Ok(());
    };
    let due = match plan {
        Some(p) => due_for(tx, p, start)?,
        None => None,
    };
    sla_tickets::set_clock(tx, t.id, Some(start), due, now)?;
    Ok(())
}

/// Put a ticket under `plan` (None: no plan) by hand; its due date is
/// recomputed from when the current wait began.
pub fn set_plan(
    store: &Store,
    actor: &Actor,
    ticket: TicketId,
    plan: Option<SlaPlanId>,
) -> Result<(), TicketError> {
    with_tx(store, |tx| set_plan_in(tx, actor, ticket, plan))
}

pub fn set_plan_in(
    tx: &Connection,
    actor: &Actor,
    ticket: TicketId,
    plan: Option<SlaPlanId>,
) -> Result<(), TicketError> {
    let t = super::load_open_for_change(tx, ticket)?;
    if let Some(id) = plan {
        if store::sla::get_plan(tx, id)?.is_none() {
            return Err(TicketError::invalid(
                "sla_plan",
                format!("SLA plan {id} does not exist"),
            ));
        }
    }
    let Some(s) = sla_tickets::get(tx, ticket)? else {
        return Ok(());
    };
    let now = store::now();
    sla_tickets::set_plan(tx, ticket, plan, plan.is_some())?;
    recompute(tx, &t, plan, s.sla_started_at, now)?;
    store::tickets::touch(tx, ticket, now)?;
    let due = store::tickets::get(tx, ticket)?.due_at;
    if due != t.due_at {
        events::record(
            tx,
            actor,
            &TicketEvent::DueChanged {
                ticket,
                from: t.due_at,
                to: due,
            },
        )?;
    }
    Ok(())
}

/// Seconds from opening to the first staff response, and to resolution.
pub fn response_times(s: &sla_tickets::TicketSla) -> (Option<i64>, Option<i64>) {
    (
        s.first_response_at.map(|t| (t - s.created_at).max(0)),
        s.resolved_at.map(|t| (t - s.created_at).max(0)),
    )
}
