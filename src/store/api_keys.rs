//! API keys. Only the SHA-256 of a key is stored; the key itself is shown
//! once, when it is created.

use rusqlite::{params, Connection, OptionalExtension};

use super::{Context, StoreResult};
use crate::model::{ApiKey, ApiKeyId};

pub fn insert(
    conn: &Connection,
    name: &str,
    key_hash: &str,
    key_prefix: &str,
    now: i64,
) -> StoreResult<ApiKeyId> {
    conn.prepare_cached(
        "INSERT INTO api_keys (name, key_hash, key_prefix, created_at) VALUES (?1, ?2, ?3, ?4)",
    )
    .and_then(|mut s| s.execute(params![name, key_hash, key_prefix, now]))
    .ctx(|| format!("creating the API key {name}"))?;
    Ok(ApiKeyId(conn.last_insert_rowid()))
}

pub fn list(conn: &Connection) -> StoreResult<Vec<ApiKey>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT id, name, key_prefix, created_at, last_used_at, revoked_at
             FROM api_keys ORDER BY id",
        )
        .ctx(|| "listing API keys".into())?;
    let rows = stmt
        .query_map([], |r| {
            Ok(ApiKey {
                id: r.get(0)?,
                name: r.get(1)?,
                key_prefix: r.get(2)?,
                created_at: r.get(3)?,
                last_used_at: r.get(4)?,
                revoked_at: r.get(5)?,
            })
        })
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        .ctx(|| "listing API keys".into())?;
    Ok(rows)
}

/// Revoke a key; false when no active key has that id.
pub fn revoke(conn: &Connection, id: ApiKeyId, now: i64) -> StoreResult<bool> {
    let n = conn
        .prepare_cached("UPDATE api_keys SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL")
        .and_then(|mut s| s.execute(params![id, now]))
        .ctx(|| format!("revoking API key {id}"))?;
    Ok(n > 0)
}

/// The active key with this hash: (id, last used).
pub fn find_active(
    conn: &Connection,
    key_hash: &str,
) -> StoreResult<Option<(ApiKeyId, Option<i64>)>> {
    conn.prepare_cached(
        "SELECT id, last_used_at FROM api_keys WHERE key_hash = ?1 AND revoked_at IS NULL",
    )
    .and_then(|mut s| {
        s.query_row([key_hash], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
    })
    .ctx(|| "looking up an API key".into())
}

pub fn touch(conn: &Connection, id: ApiKeyId, now: i64) -> StoreResult<()> {
    conn.prepare_cached("UPDATE api_keys SET last_used_at = ?2 WHERE id = ?1")
        .and_then(|mut s| s.execute(params![id, now]))
        .ctx(|| format!("recording the use of API key {id}"))?;
    Ok(())
}

/// A new random key and the prefix shown in lists. Keys look like
/// `oxk_` followed by 43 URL-safe characters (256 random bits).
pub fn generate() -> (String, String) {
    use base64::Engine;
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let key = format!(
        "oxk_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    );
    let prefix = key.chars().take(12).collect();
    (key, prefix)
}

/// What is stored for a key: its SHA-256, hex.
pub fn hash(key: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(key.as_bytes()))
}
