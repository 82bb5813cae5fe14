//! Banned senders: whole addresses ("user@example.com") and domains
//! ("@example.com", which bans every address at exactly that domain).

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use super::{Context, StoreError, StoreResult};
use crate::model::{CustomerId, StaffId};

/// The entry that bans `email`, if any: the address itself or its domain.
pub fn matching_entry(conn: &Connection, email: &str) -> StoreResult<Option<String>> {
    let email = email.trim();
    let domain = match email.rsplit_once('@') {
        Some((_, d)) if !d.is_empty() => format!("@{d}"),
        _ => String::new(),
    };
    conn.prepare_cached(
        "SELECT email FROM banned_senders WHERE email = ?1 OR (?2 <> '' AND email = ?2)
         ORDER BY length(email) DESC LIMIT 1",
    )
    .and_then(|mut s| s.query_row(params![email, domain], |r| r.get(0)).optional())
    .ctx(|| format!("checking whether {email} is banned"))
}

pub fn is_banned(conn: &Connection, email: &str) -> StoreResult<bool> {
    Ok(matching_entry(conn, email)?.is_some())
}

/// Ban every address of a customer; returns how many were added.
pub fn ban_customer(
    conn: &Connection,
    customer: CustomerId,
    by: Option<StaffId>,
) -> StoreResult<usize> {
    conn.execute(
        "INSERT OR IGNORE INTO banned_senders (email, staff_id, created_at)
         SELECT email, ?2, ?3 FROM customer_identities WHERE customer_id = ?1",
        params![customer, by, super::now()],
    )
    .ctx(|| format!("banning the addresses of customer {customer}"))
}

/// One ban list entry.
#[derive(Debug, Clone, Serialize)]
pub struct Ban {
    /// "user@example.com" or "@example.com".
    pub email: String,
    pub is_domain: bool,
    pub note: String,
    pub staff_id: Option<StaffId>,
    pub staff_name: Option<String>,
    pub created_at: i64,
}

/// The ban list, domains first, then addresses, alphabetically; `search`
/// (if not empty) keeps entries containing it.
pub fn list(conn: &Connection, search: &str, limit: i64) -> StoreResult<Vec<Ban>> {
    let pattern = format!(
        "%{}%",
        search
            .trim()
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    );
    conn.prepare_cached(
        "SELECT b.email, b.note, b.staff_id, s.name, b.created_at
         FROM banned_senders b LEFT JOIN staff s ON s.id = b.staff_id
         WHERE b.email LIKE ?1 ESCAPE '\\'
         ORDER BY substr(b.email, 1, 1) <> '@', b.email LIMIT ?2",
    )
    .and_then(|mut s| {
        s.query_map(params![pattern, limit], |r| {
            let email: String = r.get(0)?;
            Ok(Ban {
                is_domain: email.starts_with('@'),
                email,
                note: r.get(1)?,
                staff_id: r.get(2)?,
                staff_name: r.get(3)?,
                created_at: r.get(4)?,
            })
        })?
        .collect()
    })
    .ctx(|| "listing banned senders".into())
}

/// Turn what an admin typed into a ban entry: an address as is (lower
/// case), a domain written "@example.com", "*@example.com" or
/// "example.com" as "@example.com". The error is a sentence for the form.
pub fn normalise(input: &str) -> Result<String, String> {
    let s = input.trim().to_lowercase();
    let s = s.strip_prefix('*').unwrap_or(&s);
    let (local, domain) = match s.rsplit_once('@') {
        Some((l, d)) => (l, d),
        None => ("", s),
    };
    let domain_ok = !domain.is_empty()
        && domain.len() <= 253
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && domain
            .chars()
            .all(|c| c.is_alphanumeric() || c == '-' || c == '.');
    if !domain_ok {
        return Err("enter an address like user@example.com or a domain like @example.com".into());
    }
    if local.is_empty() {
        return Ok(format!("@{domain}"));
    }
    if local.len() > 64
        || local
            .chars()
            .any(|c| c.is_whitespace() || c == '@' || c == '<')
    {
        return Err("enter an address like user@example.com or a domain like @example.com".into());
    }
    Ok(format!("{local}@{domain}"))
}

/// Add an entry (already normalised). False when it was already there.
pub fn add(conn: &Connection, entry: &str, note: &str, by: Option<StaffId>) -> StoreResult<bool> {
    if entry.is_empty() || !entry.contains('@') {
        return Err(StoreError::Invalid(format!(
            "{entry:?} is not an address or a domain"
        )));
    }
    let n = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO banned_senders (email, staff_id, created_at, note)
             VALUES (?1, ?2, ?3, ?4)",
        )
        .and_then(|mut s| s.execute(params![entry, by, super::now(), note]))
        .ctx(|| format!("banning {entry}"))?;
    Ok(n > 0)
}

/// Remove an entry; false when it was not there.
pub fn remove(conn: &Connection, entry: &str) -> StoreResult<bool> {
    let n = conn
        .prepare_cached("DELETE FROM banned_senders WHERE email = ?1")
        .and_then(|mut s| s.execute([entry]))
        .ctx(|| format!("lifting the ban on {entry}"))?;
    Ok(n > 0)
}

#[cfg(test)]
mod tests {
    use super::normalise;

    #[test]
    fn addresses_and_domains_are_normalised() {
        assert_eq!(normalise(" User@Example.COM ").unwrap(), "user@example.com");
        assert_eq!(normalise("@example.com").unwrap(), "@example.com");
        assert_eq!(normalise("*@Example.com").unwrap(), "@example.com");
        assert_eq!(normalise("example.com").unwrap(), "@example.com");
        assert_eq!(normalise("info@مثال.ایران").unwrap(), "info@مثال.ایران");
        for bad in [
            "",
            "@",
            "user@",
            "nodot",
            "a b@example.com",
            "@.example.com",
            "x@exa mple.com",
        ] {
            assert!(normalise(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
