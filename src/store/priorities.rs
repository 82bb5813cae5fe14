//! Priorities as the admin area manages them: ordered by rank (higher is
//! more urgent), with a colour; removable only when nothing uses them.

use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::Serialize;

use super::{Context, StoreError, StoreResult};
use crate::model::PriorityId;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PriorityRow {
    pub id: PriorityId,
    pub name: String,
    pub rank: i64,
    pub color: String,
    pub tickets: i64,
    pub topics: i64,
}

/// The editable fields of a priority (its rank changes by reordering).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PriorityFields {
    pub name: String,
    pub color: String,
}

const COLS: &str = "p.id, p.name, p.rank, p.color,
    (SELECT COUNT(*) FROM tickets t WHERE t.priority_id = p.id),
    (SELECT COUNT(*) FROM help_topics h WHERE h.priority_id = p.id)";

fn row(r: &Row<'_>) -> rusqlite::Result<PriorityRow> {
    Ok(PriorityRow {
        id: r.get(0)?,
        name: r.get(1)?,
        rank: r.get(2)?,
        color: r.get(3)?,
        tickets: r.get(4)?,
        topics: r.get(5)?,
    })
}

/// Every priority, least urgent first.
pub fn list(conn: &Connection) -> StoreResult<Vec<PriorityRow>> {
    let mut stmt = conn
        .prepare(&format!(
            "SELECT {COLS} FROM priorities p ORDER BY p.rank, p.id"
        ))
        .ctx(|| "listing priorities".into())?;
    let rows = stmt
        .query_map([], row)
        .ctx(|| "listing priorities".into())?;
    rows.collect::<Result<_, _>>()
        .ctx(|| "listing priorities".into())
}

pub fn get(conn: &Connection, id: PriorityId) -> StoreResult<Option<PriorityRow>> {
    conn.query_row(
        &format!("SELECT {COLS} FROM priorities p WHERE p.id = ?1"),
        [id],
        row,
    )
    .optional()
    .ctx(|| format!("loading priority {id}"))
}

pub fn name_taken(conn: &Connection, name: &str, except: Option<PriorityId>) -> StoreResult<bool> {
    conn.query_row(
        "SELECT EXISTS(SELECT 1 FROM priorities WHERE name = ?1 COLLATE NOCASE AND id IS NOT ?2)",
        params![name, except],
        |r| r.get(0),
    )
    .ctx(|| format!("looking up priority {name}"))
}

/// Add a priority as the most urgent one.
pub fn create(conn: &Connection, f: &PriorityFields) -> StoreResult<PriorityId> {
    conn.execute(
        "INSERT INTO priorities (name, rank, color)
         VALUES (?1, (SELECT COALESCE(MAX(rank), 0) + 1 FROM priorities), ?2)",
        params![f.name, f.color],
    )
    .ctx(|| format!("creating priority {}", f.name))?;
    Ok(PriorityId(conn.last_insert_rowid()))
}

pub fn update(conn: &Connection, id: PriorityId, f: &PriorityFields) -> StoreResult<()> {
    let n = conn
        .execute(
            "UPDATE priorities SET name = ?2, color = ?3 WHERE id = ?1",
            params![id, f.name, f.color],
        )
        .ctx(|| format!("saving priority {id}"))?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("priority {id}")));
    }
    Ok(())
}

/// Swap a priority's rank with its neighbour: `up` = more urgent. Returns
/// false when it already is at that end.
pub fn move_rank(conn: &Connection, id: PriorityId, up: bool) -> StoreResult<bool> {
    let list = list(conn)?;
    let Some(i) = list.iter().position(|p| p.id == id) else {
        return Err(StoreError::NotFound(format!("priority {id}")));
    };
    let j = if up {
        i + 1
    } else if i == 0 {
        return Ok(false);
    } else {
        i - 1
    };
    if j >= list.len() {
        return Ok(false);
    }
    // Ranks are renumbered 1..n in the new order, so ties cannot survive.
    let mut order: Vec<PriorityId> = list.iter().map(|p| p.id).collect();
    order.swap(i, j);
    let mut stmt = conn
        .prepare("UPDATE priorities SET rank = ?2 WHERE id = ?1")
        .ctx(|| "reordering priorities".into())?;
    for (n, pid) in order.iter().enumerate() {
        stmt.execute(params![pid, n as i64 + 1])
            .ctx(|| format!("reordering priority {pid}"))?;
    }
    Ok(true)
}

pub fn delete(conn: &Connection, id: PriorityId) -> StoreResult<()> {
    let n = conn
        .execute("DELETE FROM priorities WHERE id = ?1", [id])
        .ctx(|| format!("deleting priority {id}"))?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("priority {id}")));
    }
    Ok(())
}
