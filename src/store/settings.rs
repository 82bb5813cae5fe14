//! Helpdesk settings kept in the database (editable by admins at run time),
//! as opposed to the deployment configuration in the TOML file.

use rusqlite::{params, Connection, OptionalExtension};

use super::{Context, StoreResult};

pub fn get(conn: &Connection, key: &str) -> StoreResult<Option<String>> {
    // Cached: every staff page reads at least the helpdesk's name.
    conn.prepare_cached("SELECT value FROM settings WHERE key = ?1")
        .and_then(|mut s| s.query_row([key], |r| r.get(0)).optional())
        .ctx(|| format!("reading setting {key}"))
}

pub fn get_or(conn: &Connection, key: &str, default: &str) -> StoreResult<String> {
    Ok(get(conn, key)?.unwrap_or_else(|| default.to_string()))
}

/// A boolean setting: "true", "1", "yes" and "on" are true.
pub fn get_bool(conn: &Connection, key: &str, default: bool) -> StoreResult<bool> {
    Ok(match get(conn, key)? {
        Some(v) => matches!(v.trim(), "true" | "1" | "yes" | "on"),
        None => default,
    })
}

pub fn get_i64(conn: &Connection, key: &str, default: i64) -> StoreResult<i64> {
    Ok(get(conn, key)?
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default))
}

pub fn set(conn: &Connection, key: &str, value: &str) -> StoreResult<()> {
    conn.execute(
        "INSERT INTO settings (key, value, updated_at) VALUES (?1, ?2, ?3)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        params![key, value, super::now()],
    )
    .ctx(|| format!("saving setting {key}"))?;
    Ok(())
}

/// Store `value` unless the key already has one; returns the value kept.
/// Two processes racing to create a value (a generated secret) end up
/// with the same one.
pub fn set_if_absent(conn: &Connection, key: &str, value: &str) -> StoreResult<String> {
    conn.execute(
        "INSERT INTO settings (key, value, updated_at) VALUES (?1, ?2, ?3)
         ON CONFLICT(key) DO NOTHING",
        params![key, value, super::now()],
    )
    .ctx(|| format!("saving setting {key}"))?;
    Ok(get(conn, key)?.unwrap_or_else(|| value.to_string()))
}

/// Every setting, sorted by key.
pub fn all(conn: &Connection) -> StoreResult<Vec<(String, String)>> {
    let mut stmt = conn
        .prepare("SELECT key, value FROM settings ORDER BY key")
        .ctx(|| "listing settings".into())?;
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .ctx(|| "listing settings".into())?;
    rows.collect::<Result<_, _>>()
        .ctx(|| "listing settings".into())
}
