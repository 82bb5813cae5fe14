//! Customers and their identities (email addresses, matched
//! case-insensitively).

use rusqlite::{params, Connection, OptionalExtension};

use super::{Context, StoreError, StoreResult};
use crate::model::{Customer, CustomerId};

/// The customer owning `email`, if any.
pub fn find_by_email(conn: &Connection, email: &str) -> StoreResult<Option<CustomerId>> {
    conn.prepare_cached("SELECT customer_id FROM customer_identities WHERE email = ?1")
        .and_then(|mut s| s.query_row([email], |r| r.get(0)).optional())
        .ctx(|| format!("looking up the customer with address {email}"))
}

/// A new customer with one identity.
pub fn create(conn: &Connection, name: &str, email: &str, now: i64) -> StoreResult<CustomerId> {
    conn.prepare_cached("INSERT INTO customers (name, created_at) VALUES (?1, ?2)")
        .and_then(|mut s| s.execute(params![name, now]))
        .ctx(|| format!("creating the customer {email}"))?;
    let id = CustomerId(conn.last_insert_rowid());
    add_identity(conn, id, email, now)?;
    Ok(id)
}

pub fn add_identity(conn: &Connection, id: CustomerId, email: &str, now: i64) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO customer_identities (customer_id, email, created_at) VALUES (?1, ?2, ?3)",
    )
    .and_then(|mut s| s.execute(params![id, email, now]))
    .ctx(|| format!("adding the address {email} to customer {id}"))?;
    Ok(())
}

/// Give a nameless customer the name a message carried.
pub fn fill_name(conn: &Connection, id: CustomerId, name: &str) -> StoreResult<()> {
    conn.prepare_cached("UPDATE customers SET name = ?2 WHERE id = ?1 AND name = ''")
        .and_then(|mut s| s.execute(params![id, name]))
        .ctx(|| format!("naming customer {id}"))?;
    Ok(())
}

/// True when `email` is one of the customer's identities.
pub fn has_email(conn: &Connection, id: CustomerId, email: &str) -> StoreResult<bool> {
    conn.prepare_cached(
        "SELECT EXISTS(SELECT 1 FROM customer_identities WHERE email = ?2 AND customer_id = ?1)",
    )
    .and_then(|mut s| s.query_row(params![id, email], |r| r.get(0)))
    .ctx(|| format!("checking the addresses of customer {id}"))
}

pub fn get(conn: &Connection, id: CustomerId) -> StoreResult<Customer> {
    let (name, created_at): (String, i64) = conn
        .prepare_cached("SELECT name, created_at FROM customers WHERE id = ?1")
        .and_then(|mut s| s.query_row([id], |r| Ok((r.get(0)?, r.get(1)?))).optional())
        .ctx(|| format!("loading customer {id}"))?
        .ok_or_else(|| StoreError::NotFound(format!("customer {id}")))?;
    let mut stmt = conn
        .prepare_cached("SELECT email FROM customer_identities WHERE customer_id = ?1 ORDER BY id")
        .ctx(|| format!("loading the addresses of customer {id}"))?;
    let emails = stmt
        .query_map([id], |r| r.get(0))
        .and_then(|rows| rows.collect::<Result<Vec<String>, _>>())
        .ctx(|| format!("loading the addresses of customer {id}"))?;
    Ok(Customer {
        id,
        name,
        emails,
        created_at,
    })
}
