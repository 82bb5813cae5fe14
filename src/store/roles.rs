//! Roles (named sets of permissions), department memberships with a role
//! each, and the role that applies to an agent on one ticket.

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use super::{Context, StoreError, StoreResult};
use crate::model::{DepartmentId, RoleId, StaffId, TicketId};

/// The setting naming the role new memberships get, and the role an agent
/// acts with on tickets outside their departments (assigned to them or to
/// one of their teams).
pub const DEFAULT_ROLE_KEY: &str = "roles.default_role_id";

#[derive(Debug, Clone, Serialize)]
pub struct Role {
    pub id: RoleId,
    pub name: String,
    /// Permission names, sorted.
    pub permissions: Vec<String>,
    /// How many department memberships use it.
    pub memberships: i64,
    pub is_default: bool,
}

pub fn list(conn: &Connection) -> StoreResult<Vec<Role>> {
    let what = || "listing roles".to_string();
    let default = default_role(conn)?;
    let mut stmt = conn
        .prepare_cached(
            "SELECT r.id, r.name,
                    (SELECT COUNT(*) FROM staff_departments sd WHERE sd.role_id = r.id)
             FROM roles r ORDER BY r.name COLLATE NOCASE",
        )
        .ctx(what)?;
    let rows: Vec<(RoleId, String, i64)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .ctx(what)?
        .collect::<Result<_, _>>()
        .ctx(what)?;
    rows.into_iter()
        .map(|(id, name, memberships)| {
            Ok(Role {
                id,
                name,
                permissions: permissions_of(conn, id)?,
                memberships,
                is_default: default == Some(id),
            })
        })
        .collect()
}

pub fn get(conn: &Connection, id: RoleId) -> StoreResult<Option<Role>> {
    Ok(list(conn)?.into_iter().find(|r| r.id == id))
}

/// The permission names a role grants, sorted.
pub fn permissions_of(conn: &Connection, id: RoleId) -> StoreResult<Vec<String>> {
    let what = || format!("loading the permissions of role {id}");
    let mut stmt = conn
        .prepare_cached(
            "SELECT permission FROM role_permissions WHERE role_id = ?1 ORDER BY permission",
        )
        .ctx(what)?;
    let rows = stmt.query_map([id], |r| r.get(0)).ctx(what)?;
    rows.collect::<Result<_, _>>().ctx(what)
}

fn name_taken(conn: &Connection, name: &str, except: Option<RoleId>) -> StoreResult<bool> {
    conn.query_row(
        "SELECT EXISTS(SELECT 1 FROM roles WHERE name = ?1 AND id IS NOT ?2)",
        params![name, except],
        |r| r.get(0),
    )
    .ctx(|| format!("looking up role {name}"))
}

fn write_permissions(conn: &Connection, id: RoleId, permissions: &[&str]) -> StoreResult<()> {
    let what = || format!("saving the permissions of role {id}");
    conn.execute("DELETE FROM role_permissions WHERE role_id = ?1", [id])
        .ctx(what)?;
    let mut stmt = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO role_permissions (role_id, permission) VALUES (?1, ?2)",
        )
        .ctx(what)?;
    for p in permissions {
        stmt.execute(params![id, p]).ctx(what)?;
    }
    Ok(())
}

/// Create a role; a name in use is `Invalid`.
pub fn create(conn: &Connection, name: &str, permissions: &[&str]) -> StoreResult<RoleId> {
    if name_taken(conn, name, None)? {
        return Err(StoreError::Invalid(format!(
            "a role named {name} already exists"
        )));
    }
    let now = super::now();
    conn.execute(
        "INSERT INTO roles (name, created_at, updated_at) VALUES (?1, ?2, ?2)",
        params![name, now],
    )
    .ctx(|| format!("creating role {name}"))?;
    let id = RoleId(conn.last_insert_rowid());
    write_permissions(conn, id, permissions)?;
    Ok(id)
}

pub fn update(conn: &Connection, id: RoleId, name: &str, permissions: &[&str]) -> StoreResult<()> {
    if name_taken(conn, name, Some(id))? {
        return Err(StoreError::Invalid(format!(
            "a role named {name} already exists"
        )));
    }
    let n = conn
        .execute(
            "UPDATE roles SET name = ?2, updated_at = ?3 WHERE id = ?1",
            params![id, name, super::now()],
        )
        .ctx(|| format!("updating role {id}"))?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("role {id}")));
    }
    write_permissions(conn, id, permissions)
}

/// Delete a role no membership uses and that is not the default.
pub fn delete(conn: &Connection, id: RoleId) -> StoreResult<()> {
    let Some(role) = get(conn, id)? else {
        return Err(StoreError::NotFound(format!("role {id}")));
    };
    if role.is_default {
        return Err(StoreError::Invalid(format!(
            "{} is the default role: choose another default first",
            role.name
        )));
    }
    if role.memberships > 0 {
        return Err(StoreError::Invalid(format!(
            "{} is used by {} department membership(s): give them another role first",
            role.name, role.memberships
        )));
    }
    conn.execute("DELETE FROM roles WHERE id = ?1", [id])
        .ctx(|| format!("deleting role {id}"))?;
    Ok(())
}

/// The default role, if the setting names an existing role.
pub fn default_role(conn: &Connection) -> StoreResult<Option<RoleId>> {
    conn.query_row(
        "SELECT r.id FROM roles r JOIN settings s ON s.key = ?1
         WHERE r.id = CAST(s.value AS INTEGER)",
        [DEFAULT_ROLE_KEY],
        |r| r.get(0),
    )
    .optional()
    .ctx(|| "reading the default role".into())
}

pub fn set_default_role(conn: &Connection, id: RoleId) -> StoreResult<()> {
    if get(conn, id)?.is_none() {
        return Err(StoreError::NotFound(format!("role {id}")));
    }
    super::settings::set(conn, DEFAULT_ROLE_KEY, &id.0.to_string())
}

/// One department membership of an agent.
#[derive(Debug, Clone, Serialize)]
pub struct Membership {
    pub department_id: DepartmentId,
    pub department: String,
    pub role_id: Option<RoleId>,
    pub role: Option<String>,
}

/// An agent's memberships, by department name.
pub fn memberships_of(conn: &Connection, staff: StaffId) -> StoreResult<Vec<Membership>> {
    let what = || format!("listing the memberships of staff {staff}");
    let mut stmt = conn
        .prepare_cached(
            "SELECT sd.department_id, d.name, sd.role_id, r.name
             FROM staff_departments sd
             JOIN departments d ON d.id = sd.department_id
             LEFT JOIN roles r ON r.id = sd.role_id
             WHERE sd.staff_id = ?1 ORDER BY d.name COLLATE NOCASE",
        )
        .ctx(what)?;
    let rows = stmt
        .query_map([staff], |r| {
            Ok(Membership {
                department_id: r.get(0)?,
                department: r.get(1)?,
                role_id: r.get(2)?,
                role: r.get(3)?,
            })
        })
        .ctx(what)?;
    rows.collect::<Result<_, _>>().ctx(what)
}

/// Replace an agent's memberships with `wanted` (department, role).
pub fn set_memberships(
    conn: &Connection,
    staff: StaffId,
    wanted: &[(DepartmentId, RoleId)],
) -> StoreResult<()> {
    let what = || format!("saving the memberships of staff {staff}");
    conn.execute("DELETE FROM staff_departments WHERE staff_id = ?1", [staff])
        .ctx(what)?;
    let mut stmt = conn
        .prepare_cached(
            "INSERT INTO staff_departments (staff_id, department_id, role_id) VALUES (?1, ?2, ?3)
             ON CONFLICT (staff_id, department_id) DO UPDATE SET role_id = excluded.role_id",
        )
        .ctx(what)?;
    for (d, r) in wanted {
        stmt.execute(params![staff, d, r]).ctx(what)?;
    }
    Ok(())
}

/// The permissions an agent (not an administrator) has on a ticket they
/// can see: those of their role in its department; outside their
/// departments (the ticket is assigned to them or a team of theirs), those
/// of the default role. None when the ticket does not exist.
pub fn ticket_permissions(
    conn: &Connection,
    staff: StaffId,
    ticket: TicketId,
) -> StoreResult<Option<Vec<String>>> {
    let what = || format!("loading the role of staff {staff} on ticket {ticket}");
    // (is a member, role id) — a membership whose role was removed grants
    // nothing rather than falling back to the default.
    let found: Option<(bool, Option<RoleId>)> = conn
        .prepare_cached(
            "SELECT sd.staff_id IS NOT NULL, sd.role_id
             FROM tickets t
             LEFT JOIN staff_departments sd
                ON sd.department_id = t.department_id AND sd.staff_id = ?1
             WHERE t.id = ?2",
        )
        .and_then(|mut s| {
            s.query_row(params![staff, ticket], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
        })
        .ctx(what)?;
    let role = match found {
        None => return Ok(None),
        Some((true, role)) => role,
        Some((false, _)) => default_role(conn)?,
    };
    Ok(Some(match role {
        Some(r) => permissions_of(conn, r)?,
        None => Vec::new(),
    }))
}

/// The permissions of an agent's role in one department (None when not a
/// member).
pub fn department_permissions(
    conn: &Connection,
    staff: StaffId,
    department: DepartmentId,
) -> StoreResult<Option<Vec<String>>> {
    let role: Option<Option<RoleId>> = conn
        .query_row(
            "SELECT role_id FROM staff_departments WHERE staff_id = ?1 AND department_id = ?2",
            params![staff, department],
            |r| r.get(0),
        )
        .optional()
        .ctx(|| format!("loading the role of staff {staff} in department {department}"))?;
    match role {
        None => Ok(None),
        Some(None) => Ok(Some(Vec::new())),
        Some(Some(r)) => permissions_of(conn, r).map(Some),
    }
}

/// Every permission any of an agent's roles grants (for what is not tied
/// to one ticket: shared canned responses, reports).
pub fn any_permissions(conn: &Connection, staff: StaffId) -> StoreResult<Vec<String>> {
    let what = || format!("loading the roles of staff {staff}");
    let mut stmt = conn
        .prepare_cached(
            "SELECT DISTINCT rp.permission FROM staff_departments sd
             JOIN role_permissions rp ON rp.role_id = sd.role_id
             WHERE sd.staff_id = ?1 ORDER BY rp.permission",
        )
        .ctx(what)?;
    let rows = stmt.query_map([staff], |r| r.get(0)).ctx(what)?;
    rows.collect::<Result<_, _>>().ctx(what)
}
