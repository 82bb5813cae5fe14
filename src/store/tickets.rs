//! Tickets: the row itself, lookups by id and number, field updates and the
//! lists the CLI and the staff UI read.

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::{Context, StoreError, StoreResult};
use crate::model::{
    CustomerId, DepartmentId, HelpTopicId, PriorityId, Source, StaffId, Status, Ticket, TicketId,
    TicketLabels, TicketSummary,
};

const COLUMNS: &str = "id, number, subject, status, priority_id, department_id, help_topic_id,
    assignee_id, customer_id, source, is_spam, is_overdue, created_at, updated_at,
    last_message_at, last_response_at, first_response_at, due_at, closed_at, merged_into_id";

fn from_row(r: &Row<'_>) -> rusqlite::Result<Ticket> {
    Ok(Ticket {
        id: r.get(0)?,
        number: r.get(1)?,
        subject: r.get(2)?,
        status: r.get(3)?,
        priority_id: r.get(4)?,
        department_id: r.get(5)?,
        help_topic_id: r.get(6)?,
        assignee_id: r.get(7)?,
        customer_id: r.get(8)?,
        source: r.get(9)?,
        is_spam: r.get(10)?,
        is_overdue: r.get(11)?,
        created_at: r.get(12)?,
        updated_at: r.get(13)?,
        last_message_at: r.get(14)?,
        last_response_at: r.get(15)?,
        first_response_at: r.get(16)?,
        due_at: r.get(17)?,
        closed_at: r.get(18)?,
        merged_into_id: r.get(19)?,
    })
}

/// The fields of a new ticket row.
#[derive(Debug, Clone)]
pub struct NewTicketRow<'a> {
    pub number: &'a str,
    pub subject: &'a str,
    pub status: Status,
    pub priority_id: PriorityId,
    pub department_id: DepartmentId,
    pub help_topic_id: Option<HelpTopicId>,
    pub assignee_id: Option<StaffId>,
    pub customer_id: CustomerId,
    pub source: Source,
    pub now: i64,
    pub last_message_at: Option<i64>,
}

pub fn insert(conn: &Connection, t: &NewTicketRow<'_>) -> StoreResult<TicketId> {
    conn.prepare_cached(
        "INSERT INTO tickets (number, subject, status, priority_id, department_id, help_topic_id,
             assignee_id, customer_id, source, created_at, updated_at, last_message_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10, ?11)",
    )
    .and_then(|mut s| {
        s.execute(params![
            t.number,
            t.subject,
            t.status,
            t.priority_id,
            t.department_id,
            t.help_topic_id,
            t.assignee_id,
            t.customer_id,
            t.source,
            t.now,
            t.last_message_at
        ])
    })
    .ctx(|| format!("creating ticket {}", t.number))?;
    Ok(TicketId(conn.last_insert_rowid()))
}

pub fn number_exists(conn: &Connection, number: &str) -> StoreResult<bool> {
    conn.prepare_cached("SELECT EXISTS(SELECT 1 FROM tickets WHERE number = ?1)")
        .and_then(|mut s| s.query_row([number], |r| r.get(0)))
        .ctx(|| format!("checking whether ticket number {number} is taken"))
}

pub fn get(conn: &Connection, id: TicketId) -> StoreResult<Ticket> {
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM tickets WHERE id = ?1"))
        .and_then(|mut s| s.query_row([id], from_row).optional())
        .ctx(|| format!("loading ticket id {id}"))?
        .ok_or_else(|| StoreError::NotFound(format!("ticket id {id}")))
}

pub fn find_by_number(conn: &Connection, number: &str) -> StoreResult<Option<Ticket>> {
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM tickets WHERE number = ?1"))
        .and_then(|mut s| s.query_row([number], from_row).optional())
        .ctx(|| format!("loading ticket {number}"))
}

/// Record that something changed.
pub fn touch(conn: &Connection, id: TicketId, now: i64) -> StoreResult<()> {
    exec(
        conn,
        "UPDATE tickets SET updated_at = ?2 WHERE id = ?1",
        params![id, now],
        || format!("updating ticket id {id}"),
    )
}

/// A customer message arrived.
pub fn note_message(conn: &Connection, id: TicketId, now: i64) -> StoreResult<()> {
    exec(
        conn,
        "UPDATE tickets SET updated_at = ?2, last_message_at = ?2 WHERE id = ?1",
        params![id, now],
        || format!("updating ticket id {id} for a new message"),
    )
}

/// A staff response went out.
pub fn note_response(conn: &Connection, id: TicketId, now: i64) -> StoreResult<()> {
    exec(
        conn,
        "UPDATE tickets SET updated_at = ?2, last_response_at = ?2,
             first_response_at = COALESCE(first_response_at, ?2)
         WHERE id = ?1",
        params![id, now],
        || format!("updating ticket id {id} for a response"),
    )
}

/// Set the status; `closed_at` is set when the ticket becomes done and
/// cleared when it is reopened.
pub fn set_status(conn: &Connection, id: TicketId, status: Status, now: i64) -> StoreResult<()> {
    let closed_at = status.is_done().then_some(now);
    exec(
        conn,
        "UPDATE tickets SET status = ?2, closed_at = ?3, updated_at = ?4 WHERE id = ?1",
        params![id, status, closed_at, now],
        || format!("setting the status of ticket id {id}"),
    )
}

pub fn set_assignee(
    conn: &Connection,
    id: TicketId,
    staff: Option<StaffId>,
    now: i64,
) -> StoreResult<()> {
    exec(
        conn,
        "UPDATE tickets SET assignee_id = ?2, updated_at = ?3 WHERE id = ?1",
        params![id, staff, now],
        || format!("assigning ticket id {id}"),
    )
}

pub fn set_department(
    conn: &Connection,
    id: TicketId,
    department: DepartmentId,
    now: i64,
) -> StoreResult<()> {
    exec(
        conn,
        "UPDATE tickets SET department_id = ?2, updated_at = ?3 WHERE id = ?1",
        params![id, department, now],
        || format!("transferring ticket id {id}"),
    )
}

pub fn set_priority(
    conn: &Connection,
    id: TicketId,
    priority: PriorityId,
    now: i64,
) -> StoreResult<()> {
    exec(
        conn,
        "UPDATE tickets SET priority_id = ?2, updated_at = ?3 WHERE id = ?1",
        params![id, priority, now],
        || format!("setting the priority of ticket id {id}"),
    )
}

pub fn set_subject(conn: &Connection, id: TicketId, subject: &str, now: i64) -> StoreResult<()> {
    exec(
        conn,
        "UPDATE tickets SET subject = ?2, updated_at = ?3 WHERE id = ?1",
        params![id, subject, now],
        || format!("changing the subject of ticket id {id}"),
    )
}

/// Set or clear the due date; a new due date also clears the overdue flag.
pub fn set_due(conn: &Connection, id: TicketId, due: Option<i64>, now: i64) -> StoreResult<()> {
    exec(
        conn,
        "UPDATE tickets SET due_at = ?2, is_overdue = 0, updated_at = ?3 WHERE id = ?1",
        params![id, due, now],
        || format!("setting the due date of ticket id {id}"),
    )
}

pub fn mark_spam(conn: &Connection, id: TicketId, now: i64) -> StoreResult<()> {
    exec(
        conn,
        "UPDATE tickets SET is_spam = 1, status = 'closed', closed_at = ?2, updated_at = ?2
         WHERE id = ?1",
        params![id, now],
        || format!("marking ticket id {id} as spam"),
    )
}

/// Close `id` as merged into `into`.
pub fn set_merged(conn: &Connection, id: TicketId, into: TicketId, now: i64) -> StoreResult<()> {
    exec(
        conn,
        "UPDATE tickets SET merged_into_id = ?2, status = 'closed', closed_at = ?3,
             updated_at = ?3
         WHERE id = ?1",
        params![id, into, now],
        || format!("merging ticket id {id} into ticket id {into}"),
    )
}

/// Set the activity times (after a merge, the surviving ticket's times
/// cover both threads).
pub fn set_activity_times(
    conn: &Connection,
    id: TicketId,
    last_message_at: Option<i64>,
    last_response_at: Option<i64>,
    first_response_at: Option<i64>,
    now: i64,
) -> StoreResult<()> {
    exec(
        conn,
        "UPDATE tickets SET last_message_at = ?2, last_response_at = ?3,
             first_response_at = ?4, updated_at = ?5
         WHERE id = ?1",
        params![
            id,
            last_message_at,
            last_response_at,
            first_response_at,
            now
        ],
        || format!("updating the activity times of ticket id {id}"),
    )
}

/// What a ticket list asks for.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub status: Option<Status>,
    pub limit: u32,
}

/// Tickets, most recently updated first.
pub fn list(conn: &Connection, filter: &ListFilter) -> StoreResult<Vec<TicketSummary>> {
    let limit = if filter.limit == 0 { 50 } else { filter.limit };
    let mut stmt = conn
        .prepare_cached(
            "SELECT t.id, t.number, t.subject, t.status, p.name, d.name, s.name, c.name,
                 (SELECT email FROM customer_identities i WHERE i.customer_id = c.id
                  ORDER BY i.id LIMIT 1),
                 t.source, t.is_spam, t.created_at, t.updated_at, t.due_at
             FROM tickets t
             JOIN priorities p ON p.id = t.priority_id
             JOIN departments d ON d.id = t.department_id
             JOIN customers c ON c.id = t.customer_id
             LEFT JOIN staff s ON s.id = t.assignee_id
             WHERE (?1 IS NULL OR t.status = ?1)
             ORDER BY t.updated_at DESC, t.id DESC
             LIMIT ?2",
        )
        .ctx(|| "listing tickets".into())?;
    let rows = stmt
        .query_map(params![filter.status, limit], |r| {
            Ok(TicketSummary {
                id: r.get(0)?,
                number: r.get(1)?,
                subject: r.get(2)?,
                status: r.get(3)?,
                priority: r.get(4)?,
                department: r.get(5)?,
                assignee: r.get(6)?,
                customer_name: r.get(7)?,
                customer_email: r.get(8)?,
                source: r.get(9)?,
                is_spam: r.get(10)?,
                created_at: r.get(11)?,
                updated_at: r.get(12)?,
                due_at: r.get(13)?,
            })
        })
        .ctx(|| "listing tickets".into())?;
    rows.collect::<Result<_, _>>()
        .ctx(|| "listing tickets".into())
}

/// The names a ticket's ids point to, for display.
pub fn labels(conn: &Connection, t: &Ticket) -> StoreResult<TicketLabels> {
    conn.prepare_cached(
        "SELECT p.name, d.name, h.name, s.name, s.email
         FROM tickets t
         JOIN priorities p ON p.id = t.priority_id
         JOIN departments d ON d.id = t.department_id
         LEFT JOIN help_topics h ON h.id = t.help_topic_id
         LEFT JOIN staff s ON s.id = t.assignee_id
         WHERE t.id = ?1",
    )
    .and_then(|mut s| {
        s.query_row([t.id], |r| {
            Ok(TicketLabels {
                priority: r.get(0)?,
                department: r.get(1)?,
                help_topic: r.get(2)?,
                assignee_name: r.get(3)?,
                assignee_email: r.get(4)?,
            })
        })
    })
    .ctx(|| format!("loading the labels of ticket {}", t.number))
}

/// The number of a ticket id (for messages), if it exists.
pub fn number_of(conn: &Connection, id: TicketId) -> StoreResult<Option<String>> {
    conn.prepare_cached("SELECT number FROM tickets WHERE id = ?1")
        .and_then(|mut s| s.query_row([id], |r| r.get(0)).optional())
        .ctx(|| format!("loading the number of ticket id {id}"))
}

fn exec(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    context: impl FnOnce() -> String,
) -> StoreResult<()> {
    conn.prepare_cached(sql)
        .and_then(|mut s| s.execute(params))
        .ctx(context)?;
    Ok(())
}
