//! What administrators change about staff accounts: profile, admin flag,
//! active and away, and the audit log lines those changes leave.

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use serde_json::Value;

use super::{Context, StoreError, StoreResult};
use crate::model::{EventId, StaffId};
use crate::tickets::events::Actor;

/// A staff account as the admin edit page sees it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct StaffProfile {
    pub id: StaffId,
    pub email: String,
    pub name: String,
    pub is_admin: bool,
    pub active: bool,
    pub away: bool,
    pub must_change_password: bool,
    pub last_login_at: Option<i64>,
    pub created_at: i64,
}

const COLS: &str =
    "id, email, name, is_admin, active, away, must_change_password, last_login_at, created_at";

fn profile_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StaffProfile> {
    Ok(StaffProfile {
        id: r.get(0)?,
        email: r.get(1)?,
        name: r.get(2)?,
        is_admin: r.get(3)?,
        active: r.get(4)?,
        away: r.get(5)?,
        must_change_password: r.get(6)?,
        last_login_at: r.get(7)?,
        created_at: r.get(8)?,
    })
}

pub fn profile(conn: &Connection, id: StaffId) -> StoreResult<Option<StaffProfile>> {
    conn.query_row(
        &format!("SELECT {COLS} FROM staff WHERE id = ?1"),
        [id],
        profile_row,
    )
    .optional()
    .ctx(|| format!("loading staff {id}"))
}

/// Every account with its department and team names, for the staff list.
#[derive(Debug, Clone, Serialize)]
pub struct StaffListRow {
    #[serde(flatten)]
    pub profile: StaffProfile,
    pub departments: Option<String>,
    pub teams: Option<String>,
}

pub fn list(conn: &Connection) -> StoreResult<Vec<StaffListRow>> {
    let what = || "listing staff".to_string();
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {COLS},
                (SELECT group_concat(d.name || ' (' || COALESCE(r.name, '—') || ')', ', ')
                 FROM staff_departments sd JOIN departments d ON d.id = sd.department_id
                 LEFT JOIN roles r ON r.id = sd.role_id WHERE sd.staff_id = staff.id),
                (SELECT group_concat(t.name, ', ') FROM team_members m
                 JOIN teams t ON t.id = m.team_id WHERE m.staff_id = staff.id)
             FROM staff ORDER BY active DESC, name COLLATE NOCASE"
        ))
        .ctx(what)?;
    let rows = stmt
        .query_map([], |r| {
            Ok(StaffListRow {
                profile: profile_row(r)?,
                departments: r.get(9)?,
                teams: r.get(10)?,
            })
        })
        .ctx(what)?;
    rows.collect::<Result<_, _>>().ctx(what)
}

/// The fields an admin edits.
#[derive(Debug, Clone, Serialize)]
pub struct ProfileChange {
    pub email: String,
    pub name: String,
    pub is_admin: bool,
    pub active: bool,
    pub away: bool,
}

/// Save a profile; an address used by another account is `Invalid`.
/// Disabling an account ends its sessions in the same transaction.
pub fn update(conn: &Connection, id: StaffId, p: &ProfileChange) -> StoreResult<()> {
    let taken: bool = conn
        .query_row(
            "SELECT EXISTS(SELECT 1 FROM staff WHERE email = ?1 AND id != ?2)",
            params![p.email, id],
            |r| r.get(0),
        )
        .ctx(|| format!("looking up staff {}", p.email))?;
    if taken {
        return Err(StoreError::Invalid(format!(
            "another staff account uses the address {}",
            p.email
        )));
    }
    let n = conn
        .execute(
            "UPDATE staff SET email = ?2, name = ?3, is_admin = ?4, active = ?5, away = ?6
             WHERE id = ?1",
            params![id, p.email, p.name, p.is_admin, p.active, p.away],
        )
        .ctx(|| format!("updating staff {id}"))?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("staff {id}")));
    }
    if !p.active {
        super::sessions::delete_all_for(conn, id)?;
        // A disabled agent's reply locks would otherwise block others.
        conn.execute("DELETE FROM ticket_locks WHERE staff_id = ?1", [id])
            .ctx(|| format!("releasing the locks of staff {id}"))?;
    }
    Ok(())
}

/// How many active administrators there are (the last one may not lose
/// the flag).
pub fn active_admins(conn: &Connection) -> StoreResult<i64> {
    conn.query_row(
        "SELECT COUNT(*) FROM staff WHERE is_admin = 1 AND active = 1",
        [],
        |r| r.get(0),
    )
    .ctx(|| "counting administrators".into())
}

/// Record a configuration change in the audit log: an event without a
/// ticket, kind "config.*", `data` saying what changed.
pub fn audit(conn: &Connection, actor: &Actor, kind: &str, data: &Value) -> StoreResult<EventId> {
    if !kind.starts_with("config.") {
        return Err(StoreError::Invalid(format!(
            "an audit event kind must start with \"config.\", not {kind:?}"
        )));
    }
    let staff_id = match actor {
        Actor::Staff { id, .. } => Some(*id),
        _ => None,
    };
    let data = serde_json::to_string(data).unwrap_or_else(|_| "{}".into());
    conn.execute(
        "INSERT INTO events (ticket_id, staff_id, actor, kind, data, created_at)
         VALUES (NULL, ?1, ?2, ?3, ?4, ?5)",
        params![staff_id, actor.display_name(), kind, data, super::now()],
    )
    .ctx(|| format!("recording the audit event {kind}"))?;
    Ok(EventId(conn.last_insert_rowid()))
}
