//! What the customer portal reads and writes outside the ticket tables:
//! the logo blob and the per-address submission counter.

use rusqlite::{Connection, OptionalExtension};

use super::{Context, StoreResult};

/// The bytes of blob `id` (the portal logo), if it exists.
pub fn blob(conn: &Connection, id: i64) -> StoreResult<Option<Vec<u8>>> {
    conn.prepare_cached("SELECT data FROM blobs WHERE id = ?1")
        .and_then(|mut s| s.query_row([id], |r| r.get(0)).optional())
        .ctx(|| format!("reading blob {id}"))
}
