//! Auto-assignment of new tickets nobody was named for, per department:
//! none, round robin among available agents, or the agent with the fewest
//! active tickets. Available: active, not away, member of the department.

use rusqlite::Connection;

use crate::model::{DepartmentId, StaffId, TicketId};
use crate::store::sla::AssignStrategy;
use crate::store::{self, sla_tickets::Candidate};
use crate::tickets::events::{self, Actor, TicketEvent};
use crate::tickets::TicketError;

/// Assign a new ticket by its department's strategy, recording an
/// Assigned event (the agent's alert follows from it). Returns the agent.
pub(crate) fn auto_assign(
    tx: &Connection,
    ticket: TicketId,
    department: DepartmentId,
) -> Result<Option<StaffId>, TicketError> {
    let (strategy, cursor) = store::sla_tickets::assignment(tx, department)?;
    let strategy = AssignStrategy::parse(&strategy).unwrap_or(AssignStrategy::None);
    if strategy == AssignStrategy::None {
        return Ok(None);
    }
    let candidates = store::sla_tickets::assign_candidates(tx, department)?;
    let Some(staff) = pick(strategy, &candidates, cursor.map(StaffId)) else {
        return Ok(None);
    };
    store::sla_tickets::set_assign_cursor(tx, department, staff)?;
    store::tickets::set_assignee(tx, ticket, Some(staff), store::now())?;
    events::record(
        tx,
        &Actor::System,
        &TicketEvent::Assigned {
            ticket,
            from: None,
            to: Some(staff),
        },
    )?;
    Ok(Some(staff))
}

/// The agent a strategy picks from `candidates` (sorted by id) after the
/// round-robin `cursor` (the last agent picked). Least-open breaks ties in
/// round-robin order too, so equally loaded agents take turns.
pub fn pick(
    strategy: AssignStrategy,
    candidates: &[Candidate],
    cursor: Option<StaffId>,
) -> Option<StaffId> {
    let pool: Vec<&Candidate> = match strategy {
        AssignStrategy::None => return None,
        AssignStrategy::RoundRobin => candidates.iter().collect(),
        AssignStrategy::LeastOpen => {
            let least = candidates.iter().map(|c| c.open_tickets).min()?;
            candidates
                .iter()
                .filter(|c| c.open_tickets == least)
                .collect()
        }
    };
    let after = |c: &&&Candidate| cursor.is_none_or(|cur| c.staff > cur);
    pool.iter()
        .find(after)
        .or_else(|| pool.first())
        .map(|c| c.staff)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(id: i64, open: i64) -> Candidate {
        Candidate {
            staff: StaffId(id),
            open_tickets: open,
        }
    }

    #[test]
    fn round_robin_takes_turns_and_wraps() {
        let all = [c(2, 5), c(4, 0), c(9, 1)];
        let rr = AssignStrategy::RoundRobin;
        assert_eq!(pick(rr, &all, None), Some(StaffId(2)));
        assert_eq!(pick(rr, &all, Some(StaffId(2))), Some(StaffId(4)));
        assert_eq!(pick(rr, &all, Some(StaffId(4))), Some(StaffId(9)));
        assert_eq!(pick(rr, &all, Some(StaffId(9))), Some(StaffId(2)));
        // The last agent picked went away: the next one after them.
        assert_eq!(pick(rr, &all, Some(StaffId(3))), Some(StaffId(4)));
    }

    #[test]
    fn least_open_prefers_the_lightest_load_then_takes_turns() {
        let all = [c(2, 3), c(4, 1), c(9, 1)];
        let lo = AssignStrategy::LeastOpen;
        assert_eq!(pick(lo, &all, None), Some(StaffId(4)));
        assert_eq!(pick(lo, &all, Some(StaffId(4))), Some(StaffId(9)));
        assert_eq!(pick(lo, &all, Some(StaffId(9))), Some(StaffId(4)));
    }

    #[test]
    fn nobody_available_or_no_strategy() {
        assert_eq!(pick(AssignStrategy::RoundRobin, &[], None), None);
        assert_eq!(pick(AssignStrategy::LeastOpen, &[], None), None);
        assert_eq!(pick(AssignStrategy::None, &[c(1, 0)], None), None);
    }
}
