//! Staff accounts, departments and membership.

use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::Serialize;

use super::{Context, StoreError, StoreResult};
use crate::model::{DepartmentId, StaffId};

/// A staff account as lists and the session guard see it.
#[derive(Debug, Clone, Serialize)]
pub struct Staff {
    pub id: StaffId,
    pub email: String,
    pub name: String,
    pub is_admin: bool,
    pub active: bool,
    pub must_change_password: bool,
    pub last_login_at: Option<i64>,
}

const STAFF_COLS: &str = "id, email, name, is_admin, active, must_change_password, last_login_at";

fn staff_row(r: &Row<'_>) -> rusqlite::Result<Staff> {
    Ok(Staff {
        id: r.get(0)?,
        email: r.get(1)?,
        name: r.get(2)?,
        is_admin: r.get(3)?,
        active: r.get(4)?,
        must_change_password: r.get(5)?,
        last_login_at: r.get(6)?,
    })
}

#[derive(Debug, Clone, Serialize)]
pub struct Department {
    pub id: DepartmentId,
    pub name: String,
}

pub fn count(conn: &Connection) -> StoreResult<i64> {
    conn.query_row("SELECT COUNT(*) FROM staff", [], |r| r.get(0))
        .ctx(|| "counting staff".into())
}

/// Create an account; an address already in use is `Invalid`.
pub fn create(
    conn: &Connection,
    email: &str,
    name: &str,
    password_hash: &str,
    is_admin: bool,
    must_change_password: bool,
) -> StoreResult<StaffId> {
    if find_by_email(conn, email)?.is_some() {
        return Err(StoreError::Invalid(format!(
            "a staff account with the address {email} already exists"
        )));
    }
    conn.execute(
        "INSERT INTO staff (email, name, password_hash, is_admin, must_change_password, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            email,
            name,
            password_hash,
            is_admin,
            must_change_password,
            super::now()
        ],
    )
    .ctx(|| format!("creating staff account {email}"))?;
    Ok(StaffId(conn.last_insert_rowid()))
}

pub fn find_by_email(conn: &Connection, email: &str) -> StoreResult<Option<Staff>> {
    conn.query_row(
        &format!("SELECT {STAFF_COLS} FROM staff WHERE email = ?1"),
        [email],
        staff_row,
    )
    .optional()
    .ctx(|| format!("looking up staff {email}"))
}

pub fn get(conn: &Connection, id: StaffId) -> StoreResult<Option<Staff>> {
    conn.query_row(
        &format!("SELECT {STAFF_COLS} FROM staff WHERE id = ?1"),
        [id],
        staff_row,
    )
    .optional()
    .ctx(|| format!("loading staff {id}"))
}

/// The stored password hash of an active account, by address.
pub fn password_hash_by_email(
    conn: &Connection,
    email: &str,
) -> StoreResult<Option<(StaffId, String)>> {
    conn.query_row(
        "SELECT id, password_hash FROM staff WHERE email = ?1 AND active = 1",
        [email],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()
    .ctx(|| format!("reading the password of {email}"))
}

pub fn password_hash(conn: &Connection, id: StaffId) -> StoreResult<Option<String>> {
    conn.query_row("SELECT password_hash FROM staff WHERE id = ?1", [id], |r| {
        r.get(0)
    })
    .optional()
    .ctx(|| format!("reading the password of staff {id}"))
}

pub fn set_password(
    conn: &Connection,
    id: StaffId,
    password_hash: &str,
    must_change_password: bool,
) -> StoreResult<()> {
    let n = conn
        .execute(
            "UPDATE staff SET password_hash = ?2, must_change_password = ?3 WHERE id = ?1",
            params![id, password_hash, must_change_password],
        )
        .ctx(|| format!("changing the password of staff {id}"))?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("staff {id}")));
    }
    Ok(())
}

pub fn touch_login(conn: &Connection, id: StaffId) -> StoreResult<()> {
    conn.execute(
        "UPDATE staff SET last_login_at = ?2 WHERE id = ?1",
        params![id, super::now()],
    )
    .ctx(|| format!("recording the sign-in of staff {id}"))?;
    Ok(())
}

pub fn list(conn: &Connection) -> StoreResult<Vec<Staff>> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {STAFF_COLS} FROM staff ORDER BY name COLLATE NOCASE"
        ))
        .ctx(|| "listing staff".into())?;
    let rows = stmt
        .query_map([], staff_row)
        .ctx(|| "listing staff".into())?;
    rows.collect::<Result<_, _>>()
        .ctx(|| "listing staff".into())
}

/// Active staff, for "assign to" lists.
pub fn list_active(conn: &Connection) -> StoreResult<Vec<Staff>> {
    Ok(list(conn)?.into_iter().filter(|s| s.active).collect())
}

pub fn departments_of(conn: &Connection, id: StaffId) -> StoreResult<Vec<DepartmentId>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT department_id FROM staff_departments WHERE staff_id = ?1 ORDER BY department_id",
        )
        .ctx(|| format!("listing departments of staff {id}"))?;
    let rows = stmt
        .query_map([id], |r| r.get(0))
        .ctx(|| format!("listing departments of staff {id}"))?;
    rows.collect::<Result<_, _>>()
        .ctx(|| format!("listing departments of staff {id}"))
}

pub fn list_departments(conn: &Connection) -> StoreResult<Vec<Department>> {
    let mut stmt = conn
        .prepare_cached("SELECT id, name FROM departments ORDER BY name COLLATE NOCASE")
        .ctx(|| "listing departments".into())?;
    let rows = stmt
        .query_map([], |r| {
            Ok(Department {
                id: r.get(0)?,
                name: r.get(1)?,
            })
        })
        .ctx(|| "listing departments".into())?;
    rows.collect::<Result<_, _>>()
        .ctx(|| "listing departments".into())
}

pub fn create_department(conn: &Connection, name: &str) -> StoreResult<DepartmentId> {
    let exists: bool = conn
        .query_row(
            "SELECT EXISTS(SELECT 1 FROM departments WHERE name = ?1)",
            [name],
            |r| r.get(0),
        )
        .ctx(|| format!("looking up department {name}"))?;
    if exists {
        return Err(StoreError::Invalid(format!(
            "a department named {name} already exists"
        )));
    }
    conn.execute(
        "INSERT INTO departments (name, created_at) VALUES (?1, ?2)",
        params![name, super::now()],
    )
    .ctx(|| format!("creating department {name}"))?;
    Ok(DepartmentId(conn.last_insert_rowid()))
}

pub fn set_membership(
    conn: &Connection,
    staff: StaffId,
    department: DepartmentId,
    member: bool,
) -> StoreResult<()> {
    if member {
        conn.execute(
            "INSERT OR IGNORE INTO staff_departments (staff_id, department_id) VALUES (?1, ?2)",
            params![staff, department],
        )
    } else {
        conn.execute(
            "DELETE FROM staff_departments WHERE staff_id = ?1 AND department_id = ?2",
            params![staff, department],
        )
    }
    .ctx(|| format!("changing membership of staff {staff} in department {department}"))?;
    Ok(())
}

/// Every (staff, department) membership, for the admin page.
pub fn memberships(conn: &Connection) -> StoreResult<Vec<(StaffId, DepartmentId)>> {
    let mut stmt = conn
        .prepare_cached("SELECT staff_id, department_id FROM staff_departments")
        .ctx(|| "listing memberships".into())?;
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .ctx(|| "listing memberships".into())?;
    rows.collect::<Result<_, _>>()
        .ctx(|| "listing memberships".into())
}
