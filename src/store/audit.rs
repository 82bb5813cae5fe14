//! The audit log of configuration changes: rows of `events` with no ticket,
//! a kind "config.<thing>_<verb>" (e.g. "config.department_updated") and
//! JSON data holding what changed, usually `{"before": …, "after": …}`.
//!
//! Every admin page writes one event per change, in the same transaction
//! as the change, through `record` or `record_change`.

use rusqlite::{params, Connection};
use serde::Serialize;
use serde_json::Value;

use super::{Context, StoreError, StoreResult};
use crate::model::EventId;
use crate::tickets::events::Actor;

/// Record a configuration change with free-form `data`. `kind` must start
/// with "config." so the audit log and the ticket history never mix.
pub fn record(conn: &Connection, actor: &Actor, kind: &str, data: &Value) -> StoreResult<EventId> {
    if !kind.starts_with("config.") || kind.len() <= "config.".len() {
        return Err(StoreError::Invalid(format!(
            "an audit event kind must start with \"config.\", not {kind:?}"
        )));
    }
    let (staff_id, customer_id) = match actor {
        Actor::Staff { id, .. } => (Some(id.0), None),
        Actor::Customer { id, .. } => (None, Some(id.0)),
        Actor::System => (None, None),
    };
    let data = serde_json::to_string(data).unwrap_or_else(|_| "{}".into());
    conn.prepare_cached(
        "INSERT INTO events (ticket_id, staff_id, customer_id, actor, kind, data, created_at)
         VALUES (NULL, ?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .and_then(|mut s| {
        s.execute(params![
            staff_id,
            customer_id,
            actor.display_name(),
            kind,
            data,
            super::now()
        ])
    })
    .ctx(|| format!("recording the audit event {kind}"))?;
    Ok(EventId(conn.last_insert_rowid()))
}

/// Record a change as `{"before": …, "after": …}`: `before` is None for a
/// creation, `after` None for a deletion.
pub fn record_change<B: Serialize, A: Serialize>(
    conn: &Connection,
    actor: &Actor,
    kind: &str,
    before: Option<&B>,
    after: Option<&A>,
) -> StoreResult<EventId> {
    let data = serde_json::json!({
        "before": before.and_then(|b| serde_json::to_value(b).ok()),
        "after": after.and_then(|a| serde_json::to_value(a).ok()),
    });
    record(conn, actor, kind, &data)
}

/// One audit log line.
#[derive(Debug, Clone, Serialize)]
pub struct AuditEvent {
    pub id: i64,
    pub staff_id: Option<i64>,
    pub actor: String,
    pub kind: String,
    pub data: String,
    pub created_at: i64,
}

/// A page of audit events, newest first, optionally of one kind (an exact
/// kind, or a prefix ending in '*' like "config.department_*").
pub fn list(
    conn: &Connection,
    kind: Option<&str>,
    limit: i64,
    offset: i64,
) -> StoreResult<Vec<AuditEvent>> {
    let pattern = kind_pattern(kind);
    let mut stmt = conn
        .prepare_cached(
            "SELECT id, staff_id, actor, kind, data, created_at FROM events
             WHERE ticket_id IS NULL AND kind LIKE ?1 ESCAPE '\\'
             ORDER BY id DESC LIMIT ?2 OFFSET ?3",
        )
        .ctx(|| "listing audit events".into())?;
    let rows = stmt
        .query_map(params![pattern, limit, offset], |r| {
            Ok(AuditEvent {
                id: r.get(0)?,
                staff_id: r.get(1)?,
                actor: r.get(2)?,
                kind: r.get(3)?,
                data: r.get(4)?,
                created_at: r.get(5)?,
            })
        })
        .ctx(|| "listing audit events".into())?;
    rows.collect::<Result<_, _>>()
        .ctx(|| "listing audit events".into())
}

/// The kinds present in the audit log, sorted (for the filter menu).
pub fn kinds(conn: &Connection) -> StoreResult<Vec<String>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT DISTINCT kind FROM events
             WHERE ticket_id IS NULL AND kind LIKE 'config.%' ORDER BY kind",
        )
        .ctx(|| "listing audit event kinds".into())?;
    let rows = stmt
        .query_map([], |r| r.get(0))
        .ctx(|| "listing audit event kinds".into())?;
    rows.collect::<Result<_, _>>()
        .ctx(|| "listing audit event kinds".into())
}

/// A LIKE pattern for a kind filter: exact, or a prefix with a final '*'.
fn kind_pattern(kind: Option<&str>) -> String {
    let kind = kind.map(str::trim).unwrap_or("");
    if kind.is_empty() {
        return "config.%".to_string();
    }
    let (stem, prefix) = match kind.strip_suffix('*') {
        Some(s) => (s, true),
        None => (kind, false),
    };
    let mut p = String::with_capacity(stem.len() + 1);
    for ch in stem.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(ch);
    }
    if prefix {
        p.push('%');
    }
    p
}

#[cfg(test)]
mod tests {
    use super::kind_pattern;

    #[test]
    fn kind_patterns_escape_like_wildcards() {
        assert_eq!(kind_pattern(None), "config.%");
        assert_eq!(
            kind_pattern(Some("config.department_updated")),
            "config.department\\_updated"
        );
        assert_eq!(kind_pattern(Some("config.sla*")), "config.sla%");
    }
}
