//! Ticket filters (rules) with their conditions and actions, and the events
//! filters write: "filter applied" on a ticket, rejections, and the audit
//! log of changes made on the admin page.

use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::Serialize;

use super::{Context, StoreError, StoreResult};
use crate::model::{EventId, TicketId};
use crate::tickets::events::Actor;

/// One condition as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ConditionRow {
    pub field: String,
    pub header: String,
    pub op: String,
    pub value: String,
}

/// One action as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ActionRow {
    pub kind: String,
    pub value: String,
}

/// A filter as stored.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FilterRow {
    pub id: i64,
    pub name: String,
    pub position: i64,
    pub active: bool,
    pub match_all: bool,
    pub stop_processing: bool,
    /// Comma separated; empty means every source.
    pub sources: String,
    pub notes: String,
    pub conditions: Vec<ConditionRow>,
    pub actions: Vec<ActionRow>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// What the admin form saves.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FilterSpec {
    pub name: String,
    pub active: bool,
    pub match_all: bool,
    pub stop_processing: bool,
    pub sources: String,
    pub notes: String,
    pub conditions: Vec<ConditionRow>,
    pub actions: Vec<ActionRow>,
}

/// A filter's settings as the form saves them: audit events compare these,
/// not the stored row's bookkeeping (position, timestamps).
impl From<&FilterRow> for FilterSpec {
    fn from(r: &FilterRow) -> FilterSpec {
        FilterSpec {
            name: r.name.clone(),
            active: r.active,
            match_all: r.match_all,
            stop_processing: r.stop_processing,
            sources: r.sources.clone(),
            notes: r.notes.clone(),
            conditions: r.conditions.clone(),
            actions: r.actions.clone(),
        }
    }
}

const COLS: &str = "id, name, position, active, match_all, stop_processing, sources, notes, \
                    created_at, updated_at";

fn filter_row(r: &Row<'_>) -> rusqlite::Result<FilterRow> {
    Ok(FilterRow {
        id: r.get(0)?,
        name: r.get(1)?,
        position: r.get(2)?,
        active: r.get(3)?,
        match_all: r.get(4)?,
        stop_processing: r.get(5)?,
        sources: r.get(6)?,
        notes: r.get(7)?,
        created_at: r.get(8)?,
        updated_at: r.get(9)?,
        conditions: Vec::new(),
        actions: Vec::new(),
    })
}

/// Every filter with its conditions and actions, in evaluation order.
/// `active_only` is what ticket intake asks for.
pub fn list(conn: &Connection, active_only: bool) -> StoreResult<Vec<FilterRow>> {
    let sql = format!(
        "SELECT {COLS} FROM filters {} ORDER BY position, id",
        if active_only { "WHERE active = 1" } else { "" }
    );
    let mut filters: Vec<FilterRow> = conn
        .prepare_cached(&sql)
        .and_then(|mut s| s.query_map([], filter_row)?.collect())
        .ctx(|| "listing filters".into())?;
    if filters.is_empty() {
        return Ok(filters);
    }
    // Two queries for all conditions and actions rather than two per filter.
    let mut conds = conn
        .prepare_cached(
            "SELECT filter_id, field, header, op, value FROM filter_conditions
             ORDER BY filter_id, position, id",
        )
        .ctx(|| "listing filter conditions".into())?;
    let rows = conds
        .query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                ConditionRow {
                    field: r.get(1)?,
                    header: r.get(2)?,
                    op: r.get(3)?,
                    value: r.get(4)?,
                },
            ))
        })
        .ctx(|| "listing filter conditions".into())?;
    for row in rows {
        let (id, c) = row.ctx(|| "listing filter conditions".into())?;
        if let Some(f) = filters.iter_mut().find(|f| f.id == id) {
            f.conditions.push(c);
        }
    }
    let mut acts = conn
        .prepare_cached(
            "SELECT filter_id, kind, value FROM filter_actions ORDER BY filter_id, position, id",
        )
        .ctx(|| "listing filter actions".into())?;
    let rows = acts
        .query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                ActionRow {
                    kind: r.get(1)?,
                    value: r.get(2)?,
                },
            ))
        })
        .ctx(|| "listing filter actions".into())?;
    for row in rows {
        let (id, a) = row.ctx(|| "listing filter actions".into())?;
        if let Some(f) = filters.iter_mut().find(|f| f.id == id) {
            f.actions.push(a);
        }
    }
    Ok(filters)
}

/// True when at least one filter is active: intake skips loading filters
/// otherwise.
pub fn any_active(conn: &Connection) -> StoreResult<bool> {
    conn.prepare_cached("SELECT EXISTS(SELECT 1 FROM filters WHERE active = 1)")
        .and_then(|mut s| s.query_row([], |r| r.get(0)))
        .ctx(|| "checking for active filters".into())
}

pub fn get(conn: &Connection, id: i64) -> StoreResult<Option<FilterRow>> {
    let sql = format!("SELECT {COLS} FROM filters WHERE id = ?1");
    let Some(mut f) = conn
        .prepare_cached(&sql)
        .and_then(|mut s| s.query_row([id], filter_row).optional())
        .ctx(|| format!("loading filter {id}"))?
    else {
        return Ok(None);
    };
    f.conditions = conn
        .prepare_cached(
            "SELECT field, header, op, value FROM filter_conditions WHERE filter_id = ?1
             ORDER BY position, id",
        )
        .and_then(|mut s| {
            s.query_map([id], |r| {
                Ok(ConditionRow {
                    field: r.get(0)?,
                    header: r.get(1)?,
                    op: r.get(2)?,
                    value: r.get(3)?,
                })
            })?
            .collect()
        })
        .ctx(|| format!("loading the conditions of filter {id}"))?;
    f.actions = conn
        .prepare_cached(
            "SELECT kind, value FROM filter_actions WHERE filter_id = ?1 ORDER BY position, id",
        )
        .and_then(|mut s| {
            s.query_map([id], |r| {
                Ok(ActionRow {
                    kind: r.get(0)?,
                    value: r.get(1)?,
                })
            })?
            .collect()
        })
        .ctx(|| format!("loading the actions of filter {id}"))?;
    Ok(Some(f))
}

fn name_taken(conn: &Connection, name: &str, except: Option<i64>) -> StoreResult<bool> {
    conn.prepare_cached("SELECT EXISTS(SELECT 1 FROM filters WHERE name = ?1 AND id IS NOT ?2)")
        .and_then(|mut s| s.query_row(params![name, except], |r| r.get(0)))
        .ctx(|| format!("checking the filter name {name}"))
}

/// Create a filter, last in order. A name already in use is `Invalid`.
pub fn create(conn: &Connection, spec: &FilterSpec) -> StoreResult<i64> {
    if name_taken(conn, &spec.name, None)? {
        return Err(StoreError::Invalid(format!(
            "a filter named {} already exists",
            spec.name
        )));
    }
    let now = super::now();
    conn.prepare_cached(
        "INSERT INTO filters (name, position, active, match_all, stop_processing, sources, notes,
             created_at, updated_at)
         VALUES (?1, (SELECT COALESCE(MAX(position), 0) + 1 FROM filters), ?2, ?3, ?4, ?5, ?6,
             ?7, ?7)",
    )
    .and_then(|mut s| {
        s.execute(params![
            spec.name,
            spec.active,
            spec.match_all,
            spec.stop_processing,
            spec.sources,
            spec.notes,
            now
        ])
    })
    .ctx(|| format!("creating filter {}", spec.name))?;
    let id = conn.last_insert_rowid();
    write_parts(conn, id, spec)?;
    Ok(id)
}

/// Replace a filter's settings, conditions and actions (its place in the
/// order is kept). False when there is no such filter.
pub fn update(conn: &Connection, id: i64, spec: &FilterSpec) -> StoreResult<bool> {
    if name_taken(conn, &spec.name, Some(id))? {
        return Err(StoreError::Invalid(format!(
            "a filter named {} already exists",
            spec.name
        )));
    }
    let n = conn
        .prepare_cached(
            "UPDATE filters SET name = ?2, active = ?3, match_all = ?4, stop_processing = ?5,
                 sources = ?6, notes = ?7, updated_at = ?8
             WHERE id = ?1",
        )
        .and_then(|mut s| {
            s.execute(params![
                id,
                spec.name,
                spec.active,
                spec.match_all,
                spec.stop_processing,
                spec.sources,
                spec.notes,
                super::now()
            ])
        })
        .ctx(|| format!("updating filter {id}"))?;
    if n == 0 {
        return Ok(false);
    }
    conn.prepare_cached("DELETE FROM filter_conditions WHERE filter_id = ?1")
        .and_then(|mut s| s.execute([id]))
        .ctx(|| format!("replacing the conditions of filter {id}"))?;
    conn.prepare_cached("DELETE FROM filter_actions WHERE filter_id = ?1")
        .and_then(|mut s| s.execute([id]))
        .ctx(|| format!("replacing the actions of filter {id}"))?;
    write_parts(conn, id, spec)?;
    Ok(true)
}

fn write_parts(conn: &Connection, id: i64, spec: &FilterSpec) -> StoreResult<()> {
    for (i, c) in spec.conditions.iter().enumerate() {
        conn.prepare_cached(
            "INSERT INTO filter_conditions (filter_id, position, field, header, op, value)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .and_then(|mut s| s.execute(params![id, i as i64, c.field, c.header, c.op, c.value]))
        .ctx(|| format!("saving a condition of filter {id}"))?;
    }
    for (i, a) in spec.actions.iter().enumerate() {
        conn.prepare_cached(
            "INSERT INTO filter_actions (filter_id, position, kind, value)
             VALUES (?1, ?2, ?3, ?4)",
        )
        .and_then(|mut s| s.execute(params![id, i as i64, a.kind, a.value]))
        .ctx(|| format!("saving an action of filter {id}"))?;
    }
    Ok(())
}

/// Turn a filter on or off; false when there is no such filter.
pub fn set_active(conn: &Connection, id: i64, active: bool) -> StoreResult<bool> {
    let n = conn
        .prepare_cached("UPDATE filters SET active = ?2, updated_at = ?3 WHERE id = ?1")
        .and_then(|mut s| s.execute(params![id, active, super::now()]))
        .ctx(|| format!("switching filter {id}"))?;
    Ok(n > 0)
}

/// Delete a filter with its conditions and actions.
pub fn delete(conn: &Connection, id: i64) -> StoreResult<bool> {
    let n = conn
        .prepare_cached("DELETE FROM filters WHERE id = ?1")
        .and_then(|mut s| s.execute([id]))
        .ctx(|| format!("deleting filter {id}"))?;
    Ok(n > 0)
}

/// Swap a filter with its neighbour above (`up`) or below. Returns the
/// neighbour's id, None when the filter is already first (last) or missing.
pub fn move_filter(conn: &Connection, id: i64, up: bool) -> StoreResult<Option<i64>> {
    let order: Vec<(i64, i64)> = conn
        .prepare_cached("SELECT id, position FROM filters ORDER BY position, id")
        .and_then(|mut s| s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
        .ctx(|| "reading the filter order".into())?;
    let Some(i) = order.iter().position(|(fid, _)| *fid == id) else {
        return Ok(None);
    };
    let j = if up {
        match i.checked_sub(1) {
            Some(j) => j,
            None => return Ok(None),
        }
    } else if i + 1 < order.len() {
        i + 1
    } else {
        return Ok(None);
    };
    // Renumber densely so equal positions (older data) cannot stall a move.
    let mut ids: Vec<i64> = order.iter().map(|(fid, _)| *fid).collect();
    ids.swap(i, j);
    for (pos, fid) in ids.iter().enumerate() {
        conn.prepare_cached("UPDATE filters SET position = ?2 WHERE id = ?1")
            .and_then(|mut s| s.execute(params![fid, pos as i64 + 1]))
            .ctx(|| "saving the filter order".into())?;
    }
    Ok(Some(order[j].0))
}

/// Write an event row, on a ticket or with none ("ticket_rejected": a new
/// ticket a filter or the ban list refused). Configuration changes go to
/// `store::audit` instead. Filter events are history, not changes others
/// react to, so no mail follows them.
pub fn record_event(
    conn: &Connection,
    ticket: Option<TicketId>,
    actor: &Actor,
    kind: &str,
    data: &serde_json::Value,
) -> StoreResult<EventId> {
    insert_event(conn, ticket, actor, actor.display_name(), kind, data)
}

/// "Filter X applied" on a ticket: the filter, by name, is the actor the
/// history shows ("Invoices: filter applied").
pub fn record_applied(
    conn: &Connection,
    ticket: TicketId,
    filter: &str,
    data: &serde_json::Value,
) -> StoreResult<EventId> {
    insert_event(
        conn,
        Some(ticket),
        &Actor::System,
        filter,
        "filter_applied",
        data,
    )
}

fn insert_event(
    conn: &Connection,
    ticket: Option<TicketId>,
    actor: &Actor,
    actor_name: &str,
    kind: &str,
    data: &serde_json::Value,
) -> StoreResult<EventId> {
    let (staff_id, customer_id) = match actor {
        Actor::Staff { id, .. } => (Some(id.0), None),
        Actor::Customer { id, .. } => (None, Some(id.0)),
        Actor::System => (None, None),
    };
    let data = serde_json::to_string(data).unwrap_or_else(|_| "{}".into());
    conn.prepare_cached(
        "INSERT INTO events (ticket_id, staff_id, customer_id, actor, kind, data, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .and_then(|mut s| {
        s.execute(params![
            ticket,
            staff_id,
            customer_id,
            actor_name,
            kind,
            data,
            super::now()
        ])
    })
    .ctx(|| format!("recording the event {kind}"))?;
    Ok(EventId(conn.last_insert_rowid()))
}

/// Names of things a filter action can point to, for the admin form.
#[derive(Debug, Clone, Serialize)]
pub struct Choice {
    pub id: i64,
    pub name: String,
}

fn choices(conn: &Connection, sql: &str, what: &str) -> StoreResult<Vec<Choice>> {
    conn.prepare(sql)
        .and_then(|mut s| {
            s.query_map([], |r| {
                Ok(Choice {
                    id: r.get(0)?,
                    name: r.get(1)?,
                })
            })?
            .collect()
        })
        .ctx(|| format!("listing {what}"))
}

fn table_exists(conn: &Connection, table: &str) -> StoreResult<bool> {
    conn.prepare_cached(
        "SELECT EXISTS(SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1)",
    )
    .and_then(|mut s| s.query_row([table], |r| r.get(0)))
    .ctx(|| format!("looking for table {table}"))
}

pub fn departments(conn: &Connection) -> StoreResult<Vec<Choice>> {
    choices(
        conn,
        "SELECT id, name FROM departments ORDER BY name",
        "departments",
    )
}

pub fn help_topics(conn: &Connection) -> StoreResult<Vec<Choice>> {
    choices(
        conn,
        "SELECT id, name FROM help_topics WHERE active = 1 ORDER BY sort, name",
        "help topics",
    )
}

pub fn priorities(conn: &Connection) -> StoreResult<Vec<Choice>> {
    choices(
        conn,
        "SELECT id, name FROM priorities ORDER BY rank DESC",
        "priorities",
    )
}

pub fn staff(conn: &Connection) -> StoreResult<Vec<Choice>> {
    choices(
        conn,
        "SELECT id, name FROM staff WHERE active = 1 ORDER BY name",
        "staff",
    )
}

/// SLA plans and teams have their own tables (their own areas); a database
/// without them offers none.
pub fn sla_plans(conn: &Connection) -> StoreResult<Vec<Choice>> {
    if !table_exists(conn, "sla_plans")? {
        return Ok(Vec::new());
    }
    choices(
        conn,
        "SELECT id, name FROM sla_plans ORDER BY name",
        "SLA plans",
    )
}

pub fn teams(conn: &Connection) -> StoreResult<Vec<Choice>> {
    if !table_exists(conn, "teams")? {
        return Ok(Vec::new());
    }
    choices(
        conn,
        "SELECT id, name FROM teams WHERE active = 1 ORDER BY name",
        "teams",
    )
}

/// Does the row an action points to exist (and, for staff, is active)?
/// `table` is one of the fixed names below, never user input.
pub fn target_exists(conn: &Connection, kind: &str, id: i64) -> StoreResult<bool> {
    let (table, extra) = match kind {
        "set_department" => ("departments", ""),
        "set_help_topic" => ("help_topics", " AND active = 1"),
        "set_priority" => ("priorities", ""),
        "set_sla_plan" => ("sla_plans", " AND active = 1"),
        "assign_staff" => ("staff", " AND active = 1"),
        "assign_team" => ("teams", " AND active = 1"),
        _ => return Ok(true),
    };
    if !table_exists(conn, table)? {
        return Ok(false);
    }
    let sql = format!("SELECT EXISTS(SELECT 1 FROM {table} WHERE id = ?1{extra})");
    conn.prepare_cached(&sql)
        .and_then(|mut s| s.query_row([id], |r| r.get(0)))
        .ctx(|| format!("looking up {table} {id}"))
}

/// A help topic's name (for help topic conditions).
pub fn help_topic_name(
    conn: &Connection,
    id: crate::model::HelpTopicId,
) -> StoreResult<Option<String>> {
    conn.prepare_cached("SELECT name FROM help_topics WHERE id = ?1")
        .and_then(|mut s| s.query_row([id], |r| r.get(0)).optional())
        .ctx(|| format!("looking up help topic {id}"))
}
