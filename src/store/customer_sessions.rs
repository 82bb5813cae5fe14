//! Sessions of signed-in portal customers, apart from staff sessions.

use rusqlite::{params, Connection, OptionalExtension};

use super::{Context, StoreResult};
use crate::model::CustomerId;

/// The signed-in customer behind a session token.
#[derive(Debug, Clone)]
pub struct SessionCustomer {
    pub session_id: i64,
    pub customer_id: CustomerId,
    pub name: String,
    /// The customer's first address.
    pub email: String,
    pub locale: Option<String>,
    pub last_seen_at: i64,
}

pub fn create(
    conn: &Connection,
    token_hash: &str,
    customer: CustomerId,
    ip: &str,
    user_agent: &str,
    now: i64,
    lifetime_secs: i64,
) -> StoreResult<i64> {
    conn.prepare_cached(
        "INSERT INTO customer_sessions
             (token_hash, customer_id, created_at, last_seen_at, expires_at, ip, user_agent)
         VALUES (?1, ?2, ?3, ?3, ?4, ?5, ?6)",
    )
    .and_then(|mut s| {
        s.execute(params![
            token_hash,
            customer,
            now,
            now + lifetime_secs,
            ip,
            user_agent
        ])
    })
    .ctx(|| format!("starting a portal session for customer {customer}"))?;
    Ok(conn.last_insert_rowid())
}

/// The live session with this token hash, if its account is verified.
pub fn find(conn: &Connection, token_hash: &str, now: i64) -> StoreResult<Option<SessionCustomer>> {
    conn.prepare_cached(
        "SELECT s.id, c.id, c.name,
                (SELECT email FROM customer_identities WHERE customer_id = c.id ORDER BY id LIMIT 1),
                c.locale, s.last_seen_at
         FROM customer_sessions s
         JOIN customers c ON c.id = s.customer_id
         JOIN customer_accounts a ON a.customer_id = c.id
         WHERE s.token_hash = ?1 AND s.expires_at > ?2 AND a.verified_at IS NOT NULL",
    )
    .and_then(|mut s| {
        s.query_row(params![token_hash, now], |r| {
            Ok(SessionCustomer {
                session_id: r.get(0)?,
                customer_id: r.get(1)?,
                name: r.get(2)?,
                email: r.get::<_, Option<String>>(3)?.unwrap_or_default(),
                locale: r.get(4)?,
                last_seen_at: r.get(5)?,
            })
        })
        .optional()
    })
    .ctx(|| "loading a portal session".into())
}

/// Mark the session as used now and slide its expiry.
pub fn touch(conn: &Connection, session_id: i64, now: i64, lifetime_secs: i64) -> StoreResult<()> {
    conn.prepare_cached(
        "UPDATE customer_sessions SET last_seen_at = ?2, expires_at = ?3 WHERE id = ?1",
    )
    .and_then(|mut s| s.execute(params![session_id, now, now + lifetime_secs]))
    .ctx(|| format!("renewing portal session {session_id}"))?;
    Ok(())
}

pub fn delete(conn: &Connection, session_id: i64) -> StoreResult<()> {
    conn.prepare_cached("DELETE FROM customer_sessions WHERE id = ?1")
        .and_then(|mut s| s.execute([session_id]))
        .ctx(|| format!("ending portal session {session_id}"))?;
    Ok(())
}

/// End every session of a customer (after a password reset).
pub fn delete_all_for(conn: &Connection, customer: CustomerId) -> StoreResult<usize> {
    conn.prepare_cached("DELETE FROM customer_sessions WHERE customer_id = ?1")
        .and_then(|mut s| s.execute([customer]))
        .ctx(|| format!("ending the portal sessions of customer {customer}"))
}

pub fn delete_expired(conn: &Connection, now: i64) -> StoreResult<usize> {
    conn.prepare_cached("DELETE FROM customer_sessions WHERE expires_at <= ?1")
        .and_then(|mut s| s.execute([now]))
        .ctx(|| "removing expired portal sessions".into())
}
