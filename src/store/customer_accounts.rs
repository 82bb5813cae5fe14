//! Portal accounts of customers: the password, email verification and the
//! one-time tokens mailed for verification and password resets, plus the
//! attempt log behind the portal's rate limits.

use rusqlite::{params, Connection, OptionalExtension};

use super::{Context, StoreResult};
use crate::model::CustomerId;

/// A customer's account as sign-in sees it.
#[derive(Debug, Clone)]
pub struct Account {
    pub customer_id: CustomerId,
    pub name: String,
    pub password_hash: String,
    pub verified: bool,
    pub locale: Option<String>,
}

/// The account behind any of a customer's addresses, if the customer
/// registered.
pub fn find_by_email(conn: &Connection, email: &str) -> StoreResult<Option<Account>> {
    conn.prepare_cached(
        "SELECT a.customer_id, c.name, a.password_hash, a.verified_at IS NOT NULL, c.locale
         FROM customer_identities i
         JOIN customer_accounts a ON a.customer_id = i.customer_id
         JOIN customers c ON c.id = a.customer_id
         WHERE i.email = ?1",
    )
    .and_then(|mut s| {
        s.query_row([email.trim()], |r| {
            Ok(Account {
                customer_id: r.get(0)?,
                name: r.get(1)?,
                password_hash: r.get(2)?,
                verified: r.get(3)?,
                locale: r.get(4)?,
            })
        })
        .optional()
    })
    .ctx(|| format!("looking up the portal account of {email}"))
}

/// Create the account of an existing customer, or replace the password of
/// one nobody verified yet (the address's owner registering after someone
/// else tried it). A verified account is left alone: returns false.
pub fn register(
    conn: &Connection,
    customer: CustomerId,
    password_hash: &str,
    now: i64,
) -> StoreResult<bool> {
    let changed = conn
        .prepare_cached(
            "INSERT INTO customer_accounts (customer_id, password_hash, created_at)
             VALUES (?1, ?2, ?3)
             ON CONFLICT (customer_id) DO UPDATE SET password_hash = excluded.password_hash
             WHERE customer_accounts.verified_at IS NULL",
        )
        .and_then(|mut s| s.execute(params![customer, password_hash, now]))
        .ctx(|| format!("registering customer {customer}"))?;
    Ok(changed > 0)
}

/// Remember the language a customer registered in, unless one is known.
pub fn fill_locale(conn: &Connection, customer: CustomerId, locale: &str) -> StoreResult<()> {
    conn.prepare_cached("UPDATE customers SET locale = ?2 WHERE id = ?1 AND locale IS NULL")
        .and_then(|mut s| s.execute(params![customer, locale]))
        .ctx(|| format!("setting the language of customer {customer}"))?;
    Ok(())
}

/// Mark the account and the address it was verified with as verified.
pub fn mark_verified(
    conn: &Connection,
    customer: CustomerId,
    email: &str,
    now: i64,
) -> StoreResult<()> {
    conn.prepare_cached(
        "UPDATE customer_accounts SET verified_at = COALESCE(verified_at, ?2) WHERE customer_id = ?1",
    )
    .and_then(|mut s| s.execute(params![customer, now]))
    .ctx(|| format!("verifying the account of customer {customer}"))?;
    conn.prepare_cached(
        "UPDATE customer_identities SET verified = 1 WHERE customer_id = ?1 AND email = ?2",
    )
    .and_then(|mut s| s.execute(params![customer, email]))
    .ctx(|| format!("verifying the address {email}"))?;
    Ok(())
}

pub fn set_password(conn: &Connection, customer: CustomerId, hash: &str) -> StoreResult<()> {
    conn.prepare_cached("UPDATE customer_accounts SET password_hash = ?2 WHERE customer_id = ?1")
        .and_then(|mut s| s.execute(params![customer, hash]))
        .ctx(|| format!("changing the password of customer {customer}"))?;
    Ok(())
}

pub fn touch_login(conn: &Connection, customer: CustomerId, now: i64) -> StoreResult<()> {
    conn.prepare_cached("UPDATE customer_accounts SET last_login_at = ?2 WHERE customer_id = ?1")
        .and_then(|mut s| s.execute(params![customer, now]))
        .ctx(|| format!("noting the sign-in of customer {customer}"))?;
    Ok(())
}

/// What a one-time token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Verify,
    Reset,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::Verify => "verify",
            Purpose::Reset => "reset",
        }
    }
}

/// Store a token (by its hash) for `customer`, mailed to `email`.
pub fn create_token(
    conn: &Connection,
    token_hash: &str,
    customer: CustomerId,
    purpose: Purpose,
    email: &str,
    now: i64,
    lifetime_secs: i64,
) -> StoreResult<()> {
    // The customer's spent and expired tokens are of no further use.
    conn.prepare_cached(
        "DELETE FROM customer_tokens WHERE customer_id = ?1 AND purpose = ?2
         AND (used_at IS NOT NULL OR expires_at <= ?3)",
    )
    .and_then(|mut s| s.execute(params![customer, purpose.as_str(), now]))
    .ctx(|| format!("removing old tokens of customer {customer}"))?;
    conn.prepare_cached(
        "INSERT INTO customer_tokens (token_hash, customer_id, purpose, email, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .and_then(|mut s| {
        s.execute(params![
            token_hash,
            customer,
            purpose.as_str(),
            email,
            now,
            now + lifetime_secs
        ])
    })
    .ctx(|| format!("storing a {} token for customer {customer}", purpose.as_str()))?;
    Ok(())
}

/// Use a token once: returns its customer and address when it exists, has
/// this purpose, is unused and unexpired, and marks it used (together with
/// the customer's other tokens of the same purpose).
pub fn use_token(
    conn: &Connection,
    token_hash: &str,
    purpose: Purpose,
    now: i64,
) -> StoreResult<Option<(CustomerId, String)>> {
    let found: Option<(CustomerId, String)> = conn
        .prepare_cached(
            "SELECT customer_id, email FROM customer_tokens
             WHERE token_hash = ?1 AND purpose = ?2 AND used_at IS NULL AND expires_at > ?3",
        )
        .and_then(|mut s| {
            s.query_row(params![token_hash, purpose.as_str(), now], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()
        })
        .ctx(|| format!("checking a {} token", purpose.as_str()))?;
    if let Some((customer, _)) = &found {
        conn.prepare_cached(
            "UPDATE customer_tokens SET used_at = ?3
             WHERE customer_id = ?1 AND purpose = ?2 AND used_at IS NULL",
        )
        .and_then(|mut s| s.execute(params![customer, purpose.as_str(), now]))
        .ctx(|| format!("using a {} token", purpose.as_str()))?;
    }
    Ok(found)
}

/// Whether a token is still usable, without using it (to show the form).
pub fn token_valid(
    conn: &Connection,
    token_hash: &str,
    purpose: Purpose,
    now: i64,
) -> StoreResult<bool> {
    conn.prepare_cached(
        "SELECT EXISTS(SELECT 1 FROM customer_tokens
         WHERE token_hash = ?1 AND purpose = ?2 AND used_at IS NULL AND expires_at > ?3)",
    )
    .and_then(|mut s| s.query_row(params![token_hash, purpose.as_str(), now], |r| r.get(0)))
    .ctx(|| format!("checking a {} token", purpose.as_str()))
}

/// Count an attempt of `kind` by `key` (an IP address or an email), and
/// forget this key's attempts older than a day (no window is longer).
pub fn record_attempt(conn: &Connection, kind: &str, key: &str, now: i64) -> StoreResult<()> {
    conn.prepare_cached("DELETE FROM portal_attempts WHERE kind = ?1 AND key = ?2 AND at <= ?3")
        .and_then(|mut s| s.execute(params![kind, key, now - 86400]))
        .ctx(|| format!("forgetting old portal {kind} attempts"))?;
    conn.prepare_cached("INSERT INTO portal_attempts (kind, key, at) VALUES (?1, ?2, ?3)")
        .and_then(|mut s| s.execute(params![kind, key, now]))
        .ctx(|| format!("counting a portal {kind} attempt"))?;
    Ok(())
}

/// Attempts of `kind` by `key` after `since`.
pub fn attempts_since(conn: &Connection, kind: &str, key: &str, since: i64) -> StoreResult<i64> {
    conn.prepare_cached(
        "SELECT COUNT(*) FROM portal_attempts WHERE kind = ?1 AND key = ?2 AND at > ?3",
    )
    .and_then(|mut s| s.query_row(params![kind, key, since], |r| r.get(0)))
    .ctx(|| format!("counting portal {kind} attempts"))
}

/// Forget the attempts of `kind` by `key` (a successful sign-in), and
/// every attempt older than `older_than`.
pub fn clear_attempts(
    conn: &Connection,
    kind: &str,
    key: &str,
    older_than: i64,
) -> StoreResult<()> {
    conn.prepare_cached("DELETE FROM portal_attempts WHERE (kind = ?1 AND key = ?2) OR at <= ?3")
        .and_then(|mut s| s.execute(params![kind, key, older_than]))
        .ctx(|| format!("clearing portal {kind} attempts"))?;
    Ok(())
}
