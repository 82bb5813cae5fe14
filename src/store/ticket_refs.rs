//! The things a ticket points to (departments, priorities, help topics,
//! staff), as the ticket domain needs them to validate a change. The admin
//! screens that manage these live in their own modules.

use rusqlite::{Connection, OptionalExtension};

use super::{Context, StoreResult};
use crate::model::{DepartmentId, HelpTopicId, PriorityId, StaffId};

pub fn department_exists(conn: &Connection, id: DepartmentId) -> StoreResult<bool> {
    exists(
        conn,
        "SELECT EXISTS(SELECT 1 FROM departments WHERE id = ?1)",
        id.0,
    )
    .ctx(|| format!("looking up department {id}"))
}

pub fn priority_exists(conn: &Connection, id: PriorityId) -> StoreResult<bool> {
    exists(
        conn,
        "SELECT EXISTS(SELECT 1 FROM priorities WHERE id = ?1)",
        id.0,
    )
    .ctx(|| format!("looking up priority {id}"))
}

/// True when the staff member exists and is active.
pub fn staff_active(conn: &Connection, id: StaffId) -> StoreResult<bool> {
    exists(
        conn,
        "SELECT EXISTS(SELECT 1 FROM staff WHERE id = ?1 AND active = 1)",
        id.0,
    )
    .ctx(|| format!("looking up staff member {id}"))
}

/// A help topic's routing defaults: (department, priority), when it exists
/// and is active.
pub fn help_topic_defaults(
    conn: &Connection,
    id: HelpTopicId,
) -> StoreResult<Option<(Option<DepartmentId>, Option<PriorityId>)>> {
    conn.prepare_cached(
        "SELECT department_id, priority_id FROM help_topics WHERE id = ?1 AND active = 1",
    )
    .and_then(|mut s| s.query_row([id], |r| Ok((r.get(0)?, r.get(1)?))).optional())
    .ctx(|| format!("looking up help topic {id}"))
}

fn exists(conn: &Connection, sql: &str, id: i64) -> rusqlite::Result<bool> {
    conn.prepare_cached(sql)?.query_row([id], |r| r.get(0))
}

/// What a help topic decides for a new ticket beyond its department and
/// priority: who it is assigned to and whether the customer is answered
/// automatically (None: as the department says).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TopicRouting {
    pub assignee: Option<StaffId>,
    pub team: Option<crate::model::TeamId>,
    pub auto_response: Option<bool>,
}

/// The routing of an active help topic; a disabled assignee or team is
/// skipped (the ticket is then assigned as if the topic named none).
pub fn help_topic_routing(conn: &Connection, id: HelpTopicId) -> StoreResult<Option<TopicRouting>> {
    conn.prepare_cached(
        "SELECT (SELECT s.id FROM staff s WHERE s.id = h.auto_assign_staff_id AND s.active = 1),
                (SELECT t.id FROM teams t WHERE t.id = h.auto_assign_team_id AND t.active = 1),
                h.auto_response
         FROM help_topics h WHERE h.id = ?1 AND h.active = 1",
    )
    .and_then(|mut s| {
        s.query_row([id], |r| {
            Ok(TopicRouting {
                assignee: r.get(0)?,
                team: r.get(1)?,
                auto_response: r.get(2)?,
            })
        })
        .optional()
    })
    .ctx(|| format!("looking up the routing of help topic {id}"))
}
