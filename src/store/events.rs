//! The event log.

use rusqlite::{params, Connection};

use super::{Context, StoreResult};
use crate::model::EventId;
use crate::tickets::events::{Actor, TicketEvent};

pub fn insert(conn: &Connection, actor: &Actor, event: &TicketEvent) -> StoreResult<EventId> {
    let (staff_id, customer_id) = match actor {
        Actor::Staff { id, .. } => (Some(id.0), None),
        Actor::Customer { id, .. } => (None, Some(id.0)),
        Actor::System => (None, None),
    };
    let data = serde_json::to_string(event).unwrap_or_else(|_| "{}".into());
    conn.execute(
        "INSERT INTO events (ticket_id, staff_id, customer_id, actor, kind, data, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            event.ticket(),
            staff_id,
            customer_id,
            actor.display_name(),
            event.kind(),
            data,
            super::now()
        ],
    )
    .ctx(|| {
        format!(
            "recording a {} event for ticket {}",
            event.kind(),
            event.ticket()
        )
    })?;
    Ok(EventId(conn.last_insert_rowid()))
}

/// A configuration change (no ticket): `kind` is "config.*", `data` what
/// changed. The audit log reads these rows.
pub fn insert_config(
    conn: &Connection,
    actor: &Actor,
    kind: &str,
    data: &serde_json::Value,
) -> StoreResult<EventId> {
    let staff_id = match actor {
        Actor::Staff { id, .. } => Some(id.0),
        _ => None,
    };
    conn.execute(
        "INSERT INTO events (ticket_id, staff_id, actor, kind, data, created_at)
         VALUES (NULL, ?1, ?2, ?3, ?4, ?5)",
        params![
            staff_id,
            actor.display_name(),
            kind,
            data.to_string(),
            super::now()
        ],
    )
    .ctx(|| format!("recording the configuration change {kind}"))?;
    Ok(EventId(conn.last_insert_rowid()))
}
