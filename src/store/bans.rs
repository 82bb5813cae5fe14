//! Banned sender addresses.

use rusqlite::{params, Connection};

use super::{Context, StoreResult};
use crate::model::{CustomerId, StaffId};

pub fn is_banned(conn: &Connection, email: &str) -> StoreResult<bool> {
    conn.query_row(
        "SELECT EXISTS(SELECT 1 FROM banned_senders WHERE email = ?1)",
        [email],
        |r| r.get(0),
    )
    .ctx(|| format!("checking whether {email} is banned"))
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
