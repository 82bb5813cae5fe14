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

/// A shared canned response as the admin area lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SharedCanned {
    pub id: i64,
    pub title: String,
    pub body: String,
    /// None: every department.
    pub department_id: Option<crate::model::DepartmentId>,
    pub department: Option<String>,
}

/// The editable fields of a shared response.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SharedFields {
    pub title: String,
    pub body: String,
    pub department_id: Option<crate::model::DepartmentId>,
}

const SHARED_COLS: &str = "c.id, c.title, c.body, c.department_id, d.name
    FROM canned_responses c LEFT JOIN departments d ON d.id = c.department_id";

fn shared_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SharedCanned> {
    Ok(SharedCanned {
        id: r.get(0)?,
        title: r.get(1)?,
        body: r.get(2)?,
        department_id: r.get(3)?,
        department: r.get(4)?,
    })
}

/// Every shared response, titles in order.
pub fn list_shared(conn: &Connection) -> StoreResult<Vec<SharedCanned>> {
    let mut stmt = conn
        .prepare(&format!(
            "SELECT {SHARED_COLS} WHERE c.staff_id IS NULL ORDER BY c.title COLLATE NOCASE"
        ))
        .ctx(|| "listing shared canned responses".into())?;
    let rows = stmt
        .query_map([], shared_row)
        .ctx(|| "listing shared canned responses".into())?;
    rows.collect::<Result<_, _>>()
        .ctx(|| "listing shared canned responses".into())
}

pub fn get_shared(conn: &Connection, id: i64) -> StoreResult<Option<SharedCanned>> {
    use rusqlite::OptionalExtension;
    conn.query_row(
        &format!("SELECT {SHARED_COLS} WHERE c.id = ?1 AND c.staff_id IS NULL"),
        [id],
        shared_row,
    )
    .optional()
    .ctx(|| format!("loading canned response {id}"))
}

pub fn create_shared(conn: &Connection, f: &SharedFields) -> StoreResult<i64> {
    let now = super::now();
    conn.execute(
        "INSERT INTO canned_responses (staff_id, title, body, department_id, created_at, updated_at)
         VALUES (NULL, ?1, ?2, ?3, ?4, ?4)",
        params![f.title, f.body, f.department_id, now],
    )
    .ctx(|| format!("saving canned response {:?}", f.title))?;
    Ok(conn.last_insert_rowid())
}

pub fn update_shared(conn: &Connection, id: i64, f: &SharedFields) -> StoreResult<()> {
    let n = conn
        .execute(
            "UPDATE canned_responses SET title = ?2, body = ?3, department_id = ?4, updated_at = ?5
             WHERE id = ?1 AND staff_id IS NULL",
            params![id, f.title, f.body, f.department_id, super::now()],
        )
        .ctx(|| format!("saving canned response {id}"))?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("canned response {id}")));
    }
    Ok(())
}

pub fn delete_shared(conn: &Connection, id: i64) -> StoreResult<()> {
    let n = conn
        .execute(
            "DELETE FROM canned_responses WHERE id = ?1 AND staff_id IS NULL",
            [id],
        )
        .ctx(|| format!("deleting canned response {id}"))?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("canned response {id}")));
    }
    Ok(())
}

/// The responses offered on a ticket of `department`: the viewer's own,
/// and the shared ones for every department or for that one.
pub fn list_for_ticket(
    conn: &Connection,
    staff: StaffId,
    department: crate::model::DepartmentId,
) -> StoreResult<Vec<Canned>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT id, title, body, staff_id IS NULL FROM canned_responses
             WHERE staff_id = ?1
                OR (staff_id IS NULL AND (department_id IS NULL OR department_id = ?2))
             ORDER BY title COLLATE NOCASE",
        )
        .ctx(|| "listing canned responses".into())?;
    let rows = stmt
        .query_map(params![staff, department], |r| {
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
