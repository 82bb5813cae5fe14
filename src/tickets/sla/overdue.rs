//! The overdue task: marks active tickets past their due date, records an
//! Overdue event (the alert to the assignee and department manager follows
//! from it, once per overdue episode: only unmarked tickets are picked) and
//! applies the plan's escalation. `serve` runs it every 30 seconds;
//! `oxidesk sla run` runs it once, for cron.
//!
//! The marker is cleared by the domain when the due date moves into the
//! future or goes away (answer, resolution): the next time it falls due is
//! a new episode, with a new alert.

use std::time::Duration;

use rusqlite::Connection;
use serde::Serialize;

use crate::model::TicketId;
use crate::store::{self, sla_tickets, Store};
use crate::tickets::events::{self, Actor, TicketEvent};
use crate::tickets::{with_tx, TicketError};

/// How often `serve` looks for tickets falling due.
pub const INTERVAL: Duration = Duration::from_secs(30);

/// Tickets marked per batch (one transaction each, short write locks).
const BATCH: u32 = 200;

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RunSummary {
    pub marked: u32,
    pub priority_raised: u32,
    pub reassigned: u32,
}

/// Mark every ticket due at or before `now`.
pub fn run(store: &Store, now: i64) -> Result<RunSummary, TicketError> {
    let mut summary = RunSummary::default();
    loop {
        let ids = {
            let conn = store.conn()?;
            sla_tickets::due_unmarked(&conn, now, BATCH)?
        };
        let mut progressed = false;
        for id in &ids {
            let done = with_tx(store, |tx| mark_one(tx, *id, now))?;
            if let Some(s) = done {
                progressed = true;
                summary.marked += 1;
                summary.priority_raised += u32::from(s.priority_raised);
                summary.reassigned += u32::from(s.reassigned);
            }
        }
        if ids.len() < BATCH as usize || !progressed {
            return Ok(summary);
        }
    }
}

#[derive(Debug, Default)]
struct Marked {
    priority_raised: bool,
    reassigned: bool,
}

/// Mark one ticket, alert, escalate. None when it was no longer due (an
/// answer came in between) or another task marked it first.
fn mark_one(tx: &Connection, id: TicketId, now: i64) -> Result<Option<Marked>, TicketError> {
    if !sla_tickets::mark_overdue(tx, id, now)? {
        return Ok(None);
    }
    let system = Actor::System;
    events::record(tx, &system, &TicketEvent::Overdue { ticket: id })?;
    let mut marked = Marked::default();
    let Some((raise, reassign_to)) = sla_tickets::escalation(tx, id)? else {
        return Ok(Some(marked));
    };
    let t = store::tickets::get(tx, id)?;
    if raise {
        if let Some(up) = sla_tickets::next_priority(tx, t.priority_id)? {
            crate::tickets::set_priority_in(tx, &system, id, up)?;
            marked.priority_raised = true;
        }
    }
    if let Some(staff) = reassign_to {
        if t.assignee_id != Some(staff) && store::ticket_refs::staff_active(tx, staff)? {
            crate::tickets::assign_in(tx, &system, id, Some(staff))?;
            marked.reassigned = true;
        }
    }
    Ok(Some(marked))
}

use crate::background::TaskHandle;

/// Run the overdue task every `interval` until the handle drops.
pub fn spawn(store: Store, interval: Duration) -> TaskHandle {
    crate::background::every("sla-overdue", interval, move || {
        match run(&store, store::now()) {
            Ok(s) if s.marked > 0 => tracing::info!(
                marked = s.marked,
                priority_raised = s.priority_raised,
                reassigned = s.reassigned,
                "tickets marked overdue"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "the overdue task failed; retrying"),
        }
    })
}
