//! Canned responses: shared (staff_id NULL) or personal to one agent.

use rusqlite::{params, Connection};
use serde::Serialize;

use super::{Context, StoreError, StoreResult};
use crate::model::StaffId;

#[derive(Debug, Clone, Serialize)]
pub struct Canned {
    pub id: i64,
    pub title: String,
    pub body: String,
    pub shared: bool,
}

/// The shared responses and the viewer's own, titles in order.
pub fn list_for(conn: &Connection, staff: StaffId) -> StoreResult<Vec<Canned>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT id, title, body, staff_id IS NULL FROM canned_responses
             WHERE staff_id IS NULL OR staff_id = ?1 ORDER BY title COLLATE NOCASE",
        )
        .ctx(|| "listing canned responses".into())?;
    let rows = stmt
        .query_map([staff], |r| {
            Ok(Canned {
                id: r.get(0)?,
                title: r.get(1)?,
                body: r.get(2)?,
                shared: r.get(3)?,
            })
        })
        .ctx(|| "listing canned responses".into())?;
    rows.collect::<Result<_, _>>()
        .ctx(|| "listing canned responses".into())
}

/// Add a response: shared when `owner` is None.
pub fn create(
    conn: &Connection,
    owner: Option<StaffId>,
    title: &str,
    body: &str,
) -> StoreResult<i64> {
    let now = super::now();
    conn.execute(
        "INSERT INTO canned_responses (staff_id, title, body, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?4)",
        params![owner, title, body, now],
    )
    .ctx(|| format!("saving canned response {title:?}"))?;
    Ok(conn.last_insert_rowid())
}

/// Delete a response the viewer owns (admins may delete shared ones).
pub fn delete(conn: &Connection, id: i64, staff: StaffId, admin: bool) -> StoreResult<()> {
    let n = conn
        .execute(
            "DELETE FROM canned_responses
             WHERE id = ?1 AND (staff_id = ?2 OR (staff_id IS NULL AND ?3))",
            params![id, staff, admin],
        )
        .ctx(|| format!("deleting canned response {id}"))?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("canned response {id}")));
    }
    Ok(())
}
