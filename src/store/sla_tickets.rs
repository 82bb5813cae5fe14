//! The SLA side of a ticket row (plan, clock, overdue marker, resolution
//! time) and the questions the overdue task and auto-assignment ask.

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use super::{Context, StoreResult};
use crate::model::{DepartmentId, PriorityId, SlaPlanId, StaffId, TicketId};

/// A ticket's SLA state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TicketSla {
    pub sla_plan_id: Option<SlaPlanId>,
    pub sla_plan: Option<String>,
    /// Named for the ticket (rule, agent) rather than inherited.
    pub sla_plan_explicit: bool,
    /// When the current wait for staff began; None while nobody waits.
    pub sla_started_at: Option<i64>,
    pub due_at: Option<i64>,
    pub is_overdue: bool,
    pub first_response_at: Option<i64>,
    pub resolved_at: Option<i64>,
    pub created_at: i64,
}

pub fn get(conn: &Connection, id: TicketId) -> StoreResult<Option<TicketSla>> {
    conn.prepare_cached(
        "SELECT t.sla_plan_id, p.name, t.sla_plan_explicit, t.sla_started_at, t.due_at,
             t.is_overdue, t.first_response_at, t.resolved_at, t.created_at
         FROM tickets t LEFT JOIN sla_plans p ON p.id = t.sla_plan_id
         WHERE t.id = ?1",
    )
    .and_then(|mut s| {
        s.query_row([id], |r| {
            Ok(TicketSla {
                sla_plan_id: r.get(0)?,
                sla_plan: r.get(1)?,
                sla_plan_explicit: r.get(2)?,
                sla_started_at: r.get(3)?,
                due_at: r.get(4)?,
                is_overdue: r.get(5)?,
                first_response_at: r.get(6)?,
                resolved_at: r.get(7)?,
                created_at: r.get(8)?,
            })
        })
        .optional()
    })
    .ctx(|| format!("loading the SLA state of ticket id {id}"))
}

pub fn set_plan(
    conn: &Connection,
    id: TicketId,
    plan: Option<SlaPlanId>,
    explicit: bool,
) -> StoreResult<()> {
    conn.prepare_cached(
        "UPDATE tickets SET sla_plan_id = ?2, sla_plan_explicit = ?3 WHERE id = ?1",
    )
    .and_then(|mut s| s.execute(params![id, plan, explicit]))
    .ctx(|| format!("setting the SLA plan of ticket id {id}"))?;
    Ok(())
}

/// Set the SLA clock: when the wait began and the due date. The overdue
/// marker is cleared when the due date is gone or moved past `now`, and kept
/// otherwise (the episode goes on: no second alert).
pub fn set_clock(
    conn: &Connection,
    id: TicketId,
    started_at: Option<i64>,
    due_at: Option<i64>,
    now: i64,
) -> StoreResult<()> {
    conn.prepare_cached(
        "UPDATE tickets SET sla_started_at = ?2, due_at = ?3,
             is_overdue = CASE WHEN ?3 IS NULL OR ?3 > ?4 THEN 0 ELSE is_overdue END
         WHERE id = ?1",
    )
    .and_then(|mut s| s.execute(params![id, started_at, due_at, now]))
    .ctx(|| format!("setting the due date of ticket id {id}"))?;
    Ok(())
}

/// A hand-set due date: no clock start to recompute it from.
pub fn clear_clock_start(conn: &Connection, id: TicketId) -> StoreResult<()> {
    conn.prepare_cached("UPDATE tickets SET sla_started_at = NULL WHERE id = ?1")
        .and_then(|mut s| s.execute([id]))
        .ctx(|| format!("stopping the SLA clock of ticket id {id}"))?;
    Ok(())
}

/// Record (or clear, on reopening) when the ticket was resolved.
pub fn set_resolved_at(conn: &Connection, id: TicketId, at: Option<i64>) -> StoreResult<()> {
    conn.prepare_cached("UPDATE tickets SET resolved_at = ?2 WHERE id = ?1")
        .and_then(|mut s| s.execute(params![id, at]))
        .ctx(|| format!("recording the resolution time of ticket id {id}"))?;
    Ok(())
}

/// Active tickets past due and not yet marked, oldest due first. Reads the
/// `tickets_due_unmarked` partial index, which holds only such tickets.
pub fn due_unmarked(conn: &Connection, now: i64, limit: u32) -> StoreResult<Vec<TicketId>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT id FROM tickets INDEXED BY tickets_due_unmarked
             WHERE due_at IS NOT NULL AND is_overdue = 0
               AND status NOT IN ('resolved', 'closed') AND due_at <= ?1
             ORDER BY due_at LIMIT ?2",
        )
        .ctx(|| "listing tickets past due".into())?;
    let rows = stmt
        .query_map(params![now, limit], |r| r.get(0))
        .ctx(|| "listing tickets past due".into())?;
    rows.collect::<Result<_, _>>()
        .ctx(|| "listing tickets past due".into())
}

/// Mark a ticket overdue when it still is (past due, active, unmarked):
/// true when this call marked it, so only one task alerts for it.
pub fn mark_overdue(conn: &Connection, id: TicketId, now: i64) -> StoreResult<bool> {
    let n = conn
        .prepare_cached(
            "UPDATE tickets SET is_overdue = 1, updated_at = ?2
             WHERE id = ?1 AND is_overdue = 0 AND due_at IS NOT NULL AND due_at <= ?2
               AND status NOT IN ('resolved', 'closed') AND merged_into_id IS NULL",
        )
        .and_then(|mut s| s.execute(params![id, now]))
        .ctx(|| format!("marking ticket id {id} overdue"))?;
    Ok(n > 0)
}

/// The plan's escalation for a ticket: (raise priority, reassign to).
pub fn escalation(conn: &Connection, id: TicketId) -> StoreResult<Option<(bool, Option<StaffId>)>> {
    conn.prepare_cached(
        "SELECT p.escalate_priority, p.escalate_to_staff_id
         FROM tickets t JOIN sla_plans p ON p.id = t.sla_plan_id WHERE t.id = ?1",
    )
    .and_then(|mut s| s.query_row([id], |r| Ok((r.get(0)?, r.get(1)?))).optional())
    .ctx(|| format!("loading the escalation of ticket id {id}"))
}

/// False when the ticket's plan turns overdue alerts off.
pub fn overdue_alerts_on(conn: &Connection, id: TicketId) -> StoreResult<bool> {
    Ok(conn
        .prepare_cached(
            "SELECT p.overdue_alerts FROM tickets t JOIN sla_plans p ON p.id = t.sla_plan_id
             WHERE t.id = ?1",
        )
        .and_then(|mut s| s.query_row([id], |r| r.get(0)).optional())
        .ctx(|| format!("loading the overdue alert option of ticket id {id}"))?
        .unwrap_or(true))
}

/// The priority one rank above `id`, if any.
pub fn next_priority(conn: &Connection, id: PriorityId) -> StoreResult<Option<PriorityId>> {
    conn.prepare_cached(
        "SELECT id FROM priorities
         WHERE rank > (SELECT rank FROM priorities WHERE id = ?1)
         ORDER BY rank, id LIMIT 1",
    )
    .and_then(|mut s| s.query_row([id], |r| r.get(0)).optional())
    .ctx(|| format!("looking up the priority above {id}"))
}

/// An agent who may receive auto-assigned tickets in a department, with
/// the number of active tickets they hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate {
    pub staff: StaffId,
    pub open_tickets: i64,
}

/// Available agents of a department (active, not away, members whose role
/// lets them reply, or admins), by id.
pub fn assign_candidates(conn: &Connection, dept: DepartmentId) -> StoreResult<Vec<Candidate>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT s.id,
                 (SELECT COUNT(*) FROM tickets t
                  WHERE t.assignee_id = s.id AND t.status IN ('open', 'answered', 'pending')
                    AND t.is_spam = 0)
             FROM staff s JOIN staff_departments m ON m.staff_id = s.id
             WHERE m.department_id = ?1 AND s.active = 1 AND s.away = 0
               AND (s.is_admin = 1 OR EXISTS (
                    SELECT 1 FROM role_permissions p
                    WHERE p.role_id = m.role_id AND p.permission = 'reply'))
             ORDER BY s.id",
        )
        .ctx(|| format!("listing available agents of department {dept}"))?;
    let rows = stmt
        .query_map([dept], |r| {
            Ok(Candidate {
                staff: r.get(0)?,
                open_tickets: r.get(1)?,
            })
        })
        .ctx(|| format!("listing available agents of department {dept}"))?;
    rows.collect::<Result<_, _>>()
        .ctx(|| format!("listing available agents of department {dept}"))
}

/// The department's strategy (as stored) and round-robin cursor.
pub fn assignment(conn: &Connection, dept: DepartmentId) -> StoreResult<(String, Option<i64>)> {
    Ok(conn
        .prepare_cached("SELECT assign_strategy, assign_cursor FROM departments WHERE id = ?1")
        .and_then(|mut s| {
            s.query_row([dept], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
        })
        .ctx(|| format!("loading the assignment strategy of department {dept}"))?
        .unwrap_or_else(|| ("none".into(), None)))
}

pub fn set_assign_cursor(conn: &Connection, dept: DepartmentId, staff: StaffId) -> StoreResult<()> {
    conn.prepare_cached("UPDATE departments SET assign_cursor = ?2 WHERE id = ?1")
        .and_then(|mut s| s.execute(params![dept, staff]))
        .ctx(|| format!("moving the round-robin cursor of department {dept}"))?;
    Ok(())
}

/// An agent's away flag (away agents get no auto-assigned tickets).
pub fn is_away(conn: &Connection, staff: StaffId) -> StoreResult<bool> {
    Ok(conn
        .prepare_cached("SELECT away FROM staff WHERE id = ?1")
        .and_then(|mut s| s.query_row([staff], |r| r.get(0)).optional())
        .ctx(|| format!("loading the away flag of staff {staff}"))?
        .unwrap_or(false))
}

pub fn set_away(conn: &Connection, staff: StaffId, away: bool) -> StoreResult<()> {
    conn.prepare_cached("UPDATE staff SET away = ?2 WHERE id = ?1")
        .and_then(|mut s| s.execute(params![staff, away]))
        .ctx(|| format!("setting the away flag of staff {staff}"))?;
    Ok(())
}

pub fn set_help_topic(
    conn: &Connection,
    id: TicketId,
    topic: Option<crate::model::HelpTopicId>,
    now: i64,
) -> StoreResult<()> {
    conn.prepare_cached("UPDATE tickets SET help_topic_id = ?2, updated_at = ?3 WHERE id = ?1")
        .and_then(|mut s| s.execute(params![id, topic, now]))
        .ctx(|| format!("setting the help topic of ticket id {id}"))?;
    Ok(())
}
