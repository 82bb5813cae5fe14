//! Staff sessions and the sign-in failure log used for throttling.

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use super::{Context, StoreResult};
use crate::model::StaffId;

/// The signed-in staff member behind a session token.
#[derive(Debug, Clone)]
pub struct SessionStaff {
    pub session_id: i64,
    pub staff_id: StaffId,
    pub email: String,
    pub name: String,
    pub is_admin: bool,
    pub must_change_password: bool,
    pub last_seen_at: i64,
    /// The agent's chosen UI language, if any.
    pub locale: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SessionInfo {
    pub id: i64,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub ip: String,
    pub user_agent: String,
}

pub fn create(
    conn: &Connection,
    token_hash: &str,
    staff: StaffId,
    ip: &str,
    user_agent: &str,
    lifetime_secs: i64,
) -> StoreResult<i64> {
    let now = super::now();
    conn.execute(
        "INSERT INTO staff_sessions (token_hash, staff_id, created_at, last_seen_at, expires_at, ip, user_agent)
         VALUES (?1, ?2, ?3, ?3, ?4, ?5, ?6)",
        params![token_hash, staff, now, now + lifetime_secs, ip, user_agent],
    )
    .ctx(|| format!("starting a session for staff {staff}"))?;
    Ok(conn.last_insert_rowid())
}

/// The live session with this token hash, if its account is still active.
pub fn find(conn: &Connection, token_hash: &str) -> StoreResult<Option<SessionStaff>> {
    conn.prepare_cached(
        "SELECT s.id, st.id, st.email, st.name, st.is_admin, st.must_change_password, s.last_seen_at, st.locale
         FROM staff_sessions s JOIN staff st ON st.id = s.staff_id
         WHERE s.token_hash = ?1 AND s.expires_at > ?2 AND st.active = 1",
    )
    .and_then(|mut stmt| {
        stmt.query_row(params![token_hash, super::now()], |r| {
            Ok(SessionStaff {
                session_id: r.get(0)?,
                staff_id: r.get(1)?,
                email: r.get(2)?,
                name: r.get(3)?,
                is_admin: r.get(4)?,
                must_change_password: r.get(5)?,
                last_seen_at: r.get(6)?,
                locale: r.get(7)?,
            })
        })
        .optional()
    })
    .ctx(|| "loading a session".into())
}

/// Mark the session as used now and slide its expiry.
pub fn touch(conn: &Connection, session_id: i64, lifetime_secs: i64) -> StoreResult<()> {
    let now = super::now();
    conn.execute(
        "UPDATE staff_sessions SET last_seen_at = ?2, expires_at = ?3 WHERE id = ?1",
        params![session_id, now, now + lifetime_secs],
    )
    .ctx(|| format!("renewing session {session_id}"))?;
    Ok(())
}

pub fn list_for(conn: &Connection, staff: StaffId) -> StoreResult<Vec<SessionInfo>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT id, created_at, last_seen_at, ip, user_agent FROM staff_sessions
             WHERE staff_id = ?1 AND expires_at > ?2 ORDER BY last_seen_at DESC",
        )
        .ctx(|| format!("listing sessions of staff {staff}"))?;
    let rows = stmt
        .query_map(params![staff, super::now()], |r| {
            Ok(SessionInfo {
                id: r.get(0)?,
                created_at: r.get(1)?,
                last_seen_at: r.get(2)?,
                ip: r.get(3)?,
                user_agent: r.get(4)?,
            })
        })
        .ctx(|| format!("listing sessions of staff {staff}"))?;
    rows.collect::<Result<_, _>>()
        .ctx(|| format!("listing sessions of staff {staff}"))
}

pub fn delete(conn: &Connection, session_id: i64) -> StoreResult<()> {
    conn.execute("DELETE FROM staff_sessions WHERE id = ?1", [session_id])
        .ctx(|| format!("ending session {session_id}"))?;
    Ok(())
}

/// End every session of `staff` except `keep`.
pub fn delete_others(conn: &Connection, staff: StaffId, keep: i64) -> StoreResult<usize> {
    conn.execute(
        "DELETE FROM staff_sessions WHERE staff_id = ?1 AND id != ?2",
        params![staff, keep],
    )
    .ctx(|| format!("ending other sessions of staff {staff}"))
}

pub fn delete_all_for(conn: &Connection, staff: StaffId) -> StoreResult<usize> {
    conn.execute("DELETE FROM staff_sessions WHERE staff_id = ?1", [staff])
        .ctx(|| format!("ending sessions of staff {staff}"))
}

pub fn delete_expired(conn: &Connection) -> StoreResult<usize> {
    conn.execute(
        "DELETE FROM staff_sessions WHERE expires_at <= ?1",
        [super::now()],
    )
    .ctx(|| "removing expired sessions".into())
}

pub fn record_failure(conn: &Connection, email: &str, ip: &str) -> StoreResult<()> {
    conn.execute(
        "INSERT INTO login_failures (email, ip, at) VALUES (?1, ?2, ?3)",
        params![email, ip, super::now()],
    )
    .ctx(|| "recording a failed sign-in".into())?;
    Ok(())
}

/// Failures since `since` for this account and for this address.
pub fn failures_since(
    conn: &Connection,
    email: &str,
    ip: &str,
    since: i64,
) -> StoreResult<(i64, i64)> {
    conn.query_row(
        "SELECT (SELECT COUNT(*) FROM login_failures WHERE email = ?1 AND at > ?3),
                (SELECT COUNT(*) FROM login_failures WHERE ip = ?2 AND at > ?3)",
        params![email, ip, since],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .ctx(|| "counting failed sign-ins".into())
}

/// Forget an account's failures after it signs in, and old rows generally.
pub fn clear_failures(conn: &Connection, email: &str, older_than: i64) -> StoreResult<()> {
    conn.execute(
        "DELETE FROM login_failures WHERE email = ?1 OR at <= ?2",
        params![email, older_than],
    )
    .ctx(|| "clearing failed sign-ins".into())?;
    Ok(())
}
