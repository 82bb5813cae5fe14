//! Custom statuses: labels an admin names, each mapped to one of the five
//! ticket states. A ticket's `status_id` names its label; NULL means the
//! first status of its state.

use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::Serialize;

use super::{Context, StoreError, StoreResult};
use crate::model::{Status, TicketId};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatusRow {
    pub id: i64,
    pub name: String,
    pub state: Status,
    pub sort: i64,
    /// Tickets showing this label; counted only for the admin page
    /// ([`list_with_counts`], [`get`]), None where pages just need labels.
    pub tickets: Option<i64>,
}

/// The editable fields of a status.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatusFields {
    pub name: String,
    pub state: Status,
    pub sort: i64,
}

const COLS: &str = "s.id, s.name, s.state, s.sort,
    (SELECT COUNT(*) FROM tickets t WHERE t.status_id = s.id)";

/// The same without the count: every queue and ticket page reads the
/// labels, and counting would scan the tickets table each time.
const LABEL_COLS: &str = "s.id, s.name, s.state, s.sort, NULL";

fn row(r: &Row<'_>) -> rusqlite::Result<StatusRow> {
    Ok(StatusRow {
        id: r.get(0)?,
        name: r.get(1)?,
        state: r.get(2)?,
        sort: r.get(3)?,
        tickets: r.get(4)?,
    })
}

/// Every status, by sort then name.
pub fn list(conn: &Connection) -> StoreResult<Vec<StatusRow>> {
    list_cols(conn, LABEL_COLS)
}

/// Every status with the number of tickets showing it (the admin page).
pub fn list_with_counts(conn: &Connection) -> StoreResult<Vec<StatusRow>> {
    list_cols(conn, COLS)
}

fn list_cols(conn: &Connection, cols: &str) -> StoreResult<Vec<StatusRow>> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {cols} FROM statuses s ORDER BY s.sort, s.name COLLATE NOCASE, s.id"
        ))
        .ctx(|| "listing statuses".into())?;
    let rows = stmt.query_map([], row).ctx(|| "listing statuses".into())?;
    rows.collect::<Result<_, _>>()
        .ctx(|| "listing statuses".into())
}

pub fn get(conn: &Connection, id: i64) -> StoreResult<Option<StatusRow>> {
    get_cols(conn, id, LABEL_COLS)
}

/// One status with the number of tickets showing it (the admin page).
pub fn get_with_count(conn: &Connection, id: i64) -> StoreResult<Option<StatusRow>> {
    get_cols(conn, id, COLS)
}

fn get_cols(conn: &Connection, id: i64, cols: &str) -> StoreResult<Option<StatusRow>> {
    conn.query_row(
        &format!("SELECT {cols} FROM statuses s WHERE s.id = ?1"),
        [id],
        row,
    )
    .optional()
    .ctx(|| format!("loading status {id}"))
}

pub fn name_taken(conn: &Connection, name: &str, except: Option<i64>) -> StoreResult<bool> {
    conn.query_row(
        "SELECT EXISTS(SELECT 1 FROM statuses WHERE name = ?1 AND id IS NOT ?2)",
        params![name, except],
        |r| r.get(0),
    )
    .ctx(|| format!("looking up status {name}"))
}

pub fn create(conn: &Connection, f: &StatusFields) -> StoreResult<i64> {
    let now = super::now();
    conn.execute(
        "INSERT INTO statuses (name, state, sort, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?4)",
        params![f.name, f.state, f.sort, now],
    )
    .ctx(|| format!("creating status {}", f.name))?;
    Ok(conn.last_insert_rowid())
}

pub fn update(conn: &Connection, id: i64, f: &StatusFields) -> StoreResult<()> {
    let n = conn
        .execute(
            "UPDATE statuses SET name = ?2, state = ?3, sort = ?4, updated_at = ?5 WHERE id = ?1",
            params![id, f.name, f.state, f.sort, super::now()],
        )
        .ctx(|| format!("saving status {id}"))?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("status {id}")));
    }
    Ok(())
}

/// Delete a status; tickets showing it fall back to their state's first
/// label (ON DELETE SET NULL).
pub fn delete(conn: &Connection, id: i64) -> StoreResult<()> {
    let n = conn
        .execute("DELETE FROM statuses WHERE id = ?1", [id])
        .ctx(|| format!("deleting status {id}"))?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("status {id}")));
    }
    Ok(())
}

/// How many statuses map to `state`.
pub fn count_for_state(conn: &Connection, state: Status) -> StoreResult<i64> {
    conn.query_row(
        "SELECT COUNT(*) FROM statuses WHERE state = ?1",
        [state],
        |r| r.get(0),
    )
    .ctx(|| format!("counting statuses of state {}", state.as_str()))
}

/// The label a ticket shows (its status id), None for its state's default.
pub fn of_ticket(conn: &Connection, ticket: TicketId) -> StoreResult<Option<i64>> {
    conn.query_row(
        "SELECT status_id FROM tickets WHERE id = ?1",
        [ticket],
        |r| r.get(0),
    )
    .optional()
    .ctx(|| format!("loading the status label of ticket {ticket}"))
    .map(Option::flatten)
}

/// Set the label of a ticket (after its state was set to the label's).
pub fn set_ticket_label(conn: &Connection, ticket: TicketId, id: Option<i64>) -> StoreResult<()> {
    conn.execute(
        "UPDATE tickets SET status_id = ?2 WHERE id = ?1",
        params![ticket, id],
    )
    .ctx(|| format!("setting the status label of ticket {ticket}"))?;
    Ok(())
}

/// Note in the ticket's history that its label changed within one state
/// (a state change is recorded by the domain as `status_changed`).
pub fn record_label_change(
    conn: &Connection,
    actor: &crate::tickets::events::Actor,
    ticket: TicketId,
    from: &str,
    to: &str,
) -> StoreResult<()> {
    use crate::tickets::events::Actor;
    let (staff_id, customer_id) = match actor {
        Actor::Staff { id, .. } => (Some(id.0), None),
        Actor::Customer { id, .. } => (None, Some(id.0)),
        Actor::System => (None, None),
    };
    let data = serde_json::json!({ "ticket": ticket, "from": from, "to": to }).to_string();
    conn.execute(
        "INSERT INTO events (ticket_id, staff_id, customer_id, actor, kind, data, created_at)
         VALUES (?1, ?2, ?3, ?4, 'status_label_changed', ?5, ?6)",
        params![
            ticket,
            staff_id,
            customer_id,
            actor.display_name(),
            data,
            super::now()
        ],
    )
    .ctx(|| format!("recording the status label change of ticket {ticket}"))?;
    Ok(())
}

/// The label shown for `state` when a ticket names none: the first status
/// of that state.
pub fn default_for_state(conn: &Connection, state: Status) -> StoreResult<Option<StatusRow>> {
    conn.query_row(
        &format!(
            "SELECT {COLS} FROM statuses s WHERE s.state = ?1
             ORDER BY s.sort, s.name COLLATE NOCASE, s.id LIMIT 1"
        ),
        [state],
        row,
    )
    .optional()
    .ctx(|| format!("loading the default status of {}", state.as_str()))
}
