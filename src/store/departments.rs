//! Departments as the admin area manages them: every column, members,
//! and the checks a deletion needs.

use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::Serialize;

use super::{Context, StoreError, StoreResult};
use crate::model::{DepartmentId, StaffId};

/// A department with everything the admin form edits.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DepartmentRow {
    pub id: DepartmentId,
    pub name: String,
    pub email: Option<String>,
    pub email_name: Option<String>,
    pub manager_id: Option<StaffId>,
    pub manager_name: Option<String>,
    pub public: bool,
    pub auto_response: bool,
    /// Tickets in the department (any state).
    pub tickets: i64,
    pub members: i64,
}

/// The editable fields of a department.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DepartmentFields {
    pub name: String,
    pub email: Option<String>,
    pub email_name: Option<String>,
    pub manager_id: Option<StaffId>,
    pub public: bool,
    pub auto_response: bool,
}

impl DepartmentRow {
    pub fn fields(&self) -> DepartmentFields {
        DepartmentFields {
            name: self.name.clone(),
            email: self.email.clone(),
            email_name: self.email_name.clone(),
            manager_id: self.manager_id,
            public: self.public,
            auto_response: self.auto_response,
        }
    }
}

const COLS: &str = "d.id, d.name, d.email, d.email_name, d.manager_id, m.name, d.public,
    d.auto_response,
    (SELECT COUNT(*) FROM tickets t WHERE t.department_id = d.id),
    (SELECT COUNT(*) FROM staff_departments sd WHERE sd.department_id = d.id)";

fn row(r: &Row<'_>) -> rusqlite::Result<DepartmentRow> {
    Ok(DepartmentRow {
        id: r.get(0)?,
        name: r.get(1)?,
        email: r.get(2)?,
        email_name: r.get(3)?,
        manager_id: r.get(4)?,
        manager_name: r.get(5)?,
        public: r.get(6)?,
        auto_response: r.get(7)?,
        tickets: r.get(8)?,
        members: r.get(9)?,
    })
}

pub fn list(conn: &Connection) -> StoreResult<Vec<DepartmentRow>> {
    let mut stmt = conn
        .prepare(&format!(
            "SELECT {COLS} FROM departments d LEFT JOIN staff m ON m.id = d.manager_id
             ORDER BY d.name COLLATE NOCASE"
        ))
        .ctx(|| "listing departments".into())?;
    let rows = stmt
        .query_map([], row)
        .ctx(|| "listing departments".into())?;
    rows.collect::<Result<_, _>>()
        .ctx(|| "listing departments".into())
}

pub fn get(conn: &Connection, id: DepartmentId) -> StoreResult<Option<DepartmentRow>> {
    conn.query_row(
        &format!(
            "SELECT {COLS} FROM departments d LEFT JOIN staff m ON m.id = d.manager_id
             WHERE d.id = ?1"
        ),
        [id],
        row,
    )
    .optional()
    .ctx(|| format!("loading department {id}"))
}

/// True when another department than `except` has this name.
pub fn name_taken(
    conn: &Connection,
    name: &str,
    except: Option<DepartmentId>,
) -> StoreResult<bool> {
    conn.query_row(
        "SELECT EXISTS(SELECT 1 FROM departments WHERE name = ?1 COLLATE NOCASE
                       AND id IS NOT ?2)",
        params![name, except],
        |r| r.get(0),
    )
    .ctx(|| format!("looking up department {name}"))
}

pub fn create(conn: &Connection, f: &DepartmentFields) -> StoreResult<DepartmentId> {
    conn.execute(
        "INSERT INTO departments (name, email, email_name, manager_id, public, auto_response,
                                  created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            f.name,
            f.email,
            f.email_name,
            f.manager_id,
            f.public,
            f.auto_response,
            super::now()
        ],
    )
    .ctx(|| format!("creating department {}", f.name))?;
    Ok(DepartmentId(conn.last_insert_rowid()))
}

pub fn update(conn: &Connection, id: DepartmentId, f: &DepartmentFields) -> StoreResult<()> {
    let n = conn
        .execute(
            "UPDATE departments SET name = ?2, email = ?3, email_name = ?4, manager_id = ?5,
                    public = ?6, auto_response = ?7
             WHERE id = ?1",
            params![
                id,
                f.name,
                f.email,
                f.email_name,
                f.manager_id,
                f.public,
                f.auto_response
            ],
        )
        .ctx(|| format!("saving department {id}"))?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("department {id}")));
    }
    Ok(())
}

/// Delete a department with no tickets. Help topics pointing to it lose
/// their department (ON DELETE SET NULL); memberships go with it.
pub fn delete(conn: &Connection, id: DepartmentId) -> StoreResult<()> {
    let n = conn
        .execute("DELETE FROM departments WHERE id = ?1", [id])
        .ctx(|| format!("deleting department {id}"))?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("department {id}")));
    }
    Ok(())
}

/// A member of a department, for its page.
#[derive(Debug, Clone, Serialize)]
pub struct Member {
    pub id: StaffId,
    pub name: String,
    pub email: String,
    pub role: String,
    pub active: bool,
}

pub fn members(conn: &Connection, id: DepartmentId) -> StoreResult<Vec<Member>> {
    let mut stmt = conn
        .prepare(
            "SELECT s.id, s.name, s.email, sd.role, s.active FROM staff_departments sd
             JOIN staff s ON s.id = sd.staff_id
             WHERE sd.department_id = ?1 ORDER BY s.name COLLATE NOCASE",
        )
        .ctx(|| format!("listing members of department {id}"))?;
    let rows = stmt
        .query_map([id], |r| {
            Ok(Member {
                id: r.get(0)?,
                name: r.get(1)?,
                email: r.get(2)?,
                role: r.get(3)?,
                active: r.get(4)?,
            })
        })
        .ctx(|| format!("listing members of department {id}"))?;
    rows.collect::<Result<_, _>>()
        .ctx(|| format!("listing members of department {id}"))
}
