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
