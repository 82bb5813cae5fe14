//! Custom form fields per help topic (defined by admins, filled in by
//! customers on the portal's new-ticket form), the values stored with
//! tickets, the help topics the portal offers, and the audit trail of field
//! configuration changes.

use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::Serialize;

use super::{Context, StoreError, StoreResult};
use crate::model::{HelpTopicId, StaffId, TicketId};

/// The kinds of field, as stored.
pub const KINDS: [&str; 7] = [
    "text",
    "long_text",
    "number",
    "choice",
    "multi_choice",
    "checkbox",
    "date",
];

#[derive(Debug, Clone, Serialize)]
pub struct FormField {
    pub id: i64,
    pub help_topic_id: HelpTopicId,
    pub label: String,
    pub kind: String,
    pub required: bool,
    pub help: String,
    pub options: Vec<String>,
    pub sort: i64,
    pub active: bool,
}

/// What an admin sets on a field.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FieldSpec {
    pub help_topic_id: HelpTopicId,
    pub label: String,
    pub kind: String,
    pub required: bool,
    pub help: String,
    pub options: Vec<String>,
}

/// A help topic as offered to customers: "Parent / Child" names.
#[derive(Debug, Clone, Serialize)]
pub struct TopicOption {
    pub id: HelpTopicId,
    pub name: String,
    pub public: bool,
    pub active: bool,
}

/// A value a ticket carries, for display.
#[derive(Debug, Clone, Serialize)]
pub struct FieldValue {
    pub field_id: i64,
    pub label: String,
    pub kind: String,
    pub value: String,
}

const FIELD_COLUMNS: &str = "id, help_topic_id, label, kind, required, help, options, sort, active";

fn field_row(r: &Row<'_>) -> rusqlite::Result<FormField> {
    let options: String = r.get(6)?;
    Ok(FormField {
        id: r.get(0)?,
        help_topic_id: r.get(1)?,
        label: r.get(2)?,
        kind: r.get(3)?,
        required: r.get(4)?,
        help: r.get(5)?,
        options: serde_json::from_str(&options).unwrap_or_default(),
        sort: r.get(7)?,
        active: r.get(8)?,
    })
}

/// id, parent, name, public, active, sort.
type TopicRow = (i64, Option<i64>, String, bool, bool, i64);

/// Every help topic with its full "Parent / Child" name, in display order.
pub fn topics(conn: &Connection) -> StoreResult<Vec<TopicOption>> {
    let rows: Vec<TopicRow> = conn
        .prepare_cached("SELECT id, parent_id, name, public, active, sort FROM help_topics")
        .and_then(|mut s| {
            s.query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })?
            .collect()
        })
        .ctx(|| "listing help topics".to_string())?;
    let by_id: std::collections::HashMap<i64, &TopicRow> = rows.iter().map(|r| (r.0, r)).collect();
    let mut out: Vec<(Vec<(i64, String)>, TopicOption)> = rows
        .iter()
        .map(|r| {
            // Walk up to the root (bounded, in case of a cycle).
            let mut path = vec![(r.5, r.2.clone())];
            let mut parent = r.1;
            let mut hops = 0;
            while let Some(p) = parent.and_then(|p| by_id.get(&p)) {
                path.push((p.5, p.2.clone()));
                parent = p.1;
                hops += 1;
                if hops > 8 {
                    break;
                }
            }
            path.reverse();
            let name = path
                .iter()
                .map(|(_, n)| n.as_str())
                .collect::<Vec<_>>()
                .join(" / ");
            (
                path,
                TopicOption {
                    id: HelpTopicId(r.0),
                    name,
                    public: r.3,
                    active: r.4,
                },
            )
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.id.0.cmp(&b.1.id.0)));
    Ok(out.into_iter().map(|(_, t)| t).collect())
}

/// The help topics a customer may choose: public and active.
pub fn public_topics(conn: &Connection) -> StoreResult<Vec<TopicOption>> {
    Ok(topics(conn)?
        .into_iter()
        .filter(|t| t.public && t.active)
        .collect())
}

/// The fields of `topic`, in order; only active ones unless `all`.
pub fn fields_for_topic(
    conn: &Connection,
    topic: HelpTopicId,
    all: bool,
) -> StoreResult<Vec<FormField>> {
    let sql = format!(
        "SELECT {FIELD_COLUMNS} FROM form_fields WHERE help_topic_id = ?1 AND (?2 OR active)
         ORDER BY sort, id"
    );
    conn.prepare_cached(&sql)
        .and_then(|mut s| s.query_map(params![topic, all], field_row)?.collect())
        .ctx(|| format!("listing the form fields of help topic {topic}"))
}

/// Every field of every topic, in order (the admin page, and the portal
/// form which renders each topic's active fields as a group).
pub fn all_fields(conn: &Connection) -> StoreResult<Vec<FormField>> {
    let sql = format!("SELECT {FIELD_COLUMNS} FROM form_fields ORDER BY help_topic_id, sort, id");
    conn.prepare_cached(&sql)
        .and_then(|mut s| s.query_map([], field_row)?.collect())
        .ctx(|| "listing form fields".to_string())
}

pub fn get_field(conn: &Connection, id: i64) -> StoreResult<FormField> {
    let sql = format!("SELECT {FIELD_COLUMNS} FROM form_fields WHERE id = ?1");
    conn.prepare_cached(&sql)
        .and_then(|mut s| s.query_row([id], field_row).optional())
        .ctx(|| format!("loading form field {id}"))?
        .ok_or_else(|| StoreError::NotFound(format!("form field {id}")))
}

fn check_spec(conn: &Connection, spec: &FieldSpec) -> StoreResult<()> {
    if !KINDS.contains(&spec.kind.as_str()) {
        return Err(StoreError::Invalid(format!(
            "{:?} is not a kind of field",
            spec.kind
        )));
    }
    let exists: bool = conn
        .prepare_cached("SELECT EXISTS(SELECT 1 FROM help_topics WHERE id = ?1)")
        .and_then(|mut s| s.query_row([spec.help_topic_id], |r| r.get(0)))
        .ctx(|| format!("checking help topic {}", spec.help_topic_id))?;
    if !exists {
        return Err(StoreError::Invalid(format!(
            "help topic {} does not exist",
            spec.help_topic_id
        )));
    }
    Ok(())
}

/// A new field, placed after the topic's last one.
pub fn create_field(conn: &Connection, spec: &FieldSpec, now: i64) -> StoreResult<i64> {
    check_spec(conn, spec)?;
    let options = serde_json::to_string(&spec.options).unwrap_or_else(|_| "[]".into());
    conn.prepare_cached(
        "INSERT INTO form_fields (help_topic_id, label, kind, required, help, options, sort,
             active, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6,
             (SELECT COALESCE(MAX(sort), 0) + 1 FROM form_fields WHERE help_topic_id = ?1),
             1, ?7, ?7)",
    )
    .and_then(|mut s| {
        s.execute(params![
            spec.help_topic_id,
            spec.label,
            spec.kind,
            spec.required,
            spec.help,
            options,
            now
        ])
    })
    .ctx(|| format!("creating the form field {:?}", spec.label))?;
    Ok(conn.last_insert_rowid())
}

/// Change a field. Moving it to another topic puts it last there.
pub fn update_field(conn: &Connection, id: i64, spec: &FieldSpec, now: i64) -> StoreResult<()> {
    check_spec(conn, spec)?;
    let old = get_field(conn, id)?;
    let options = serde_json::to_string(&spec.options).unwrap_or_else(|_| "[]".into());
    conn.prepare_cached(
        "UPDATE form_fields SET help_topic_id = ?2, label = ?3, kind = ?4, required = ?5,
             help = ?6, options = ?7, updated_at = ?8,
             sort = CASE WHEN help_topic_id = ?2 THEN sort ELSE
                 (SELECT COALESCE(MAX(sort), 0) + 1 FROM form_fields WHERE help_topic_id = ?2) END
         WHERE id = ?1",
    )
    .and_then(|mut s| {
        s.execute(params![
            id,
            spec.help_topic_id,
            spec.label,
            spec.kind,
            spec.required,
            spec.help,
            options,
            now
        ])
    })
    .ctx(|| format!("changing form field {id} ({:?})", old.label))?;
    Ok(())
}

pub fn set_active(conn: &Connection, id: i64, active: bool, now: i64) -> StoreResult<()> {
    let n = conn
        .prepare_cached("UPDATE form_fields SET active = ?2, updated_at = ?3 WHERE id = ?1")
        .and_then(|mut s| s.execute(params![id, active, now]))
        .ctx(|| format!("switching form field {id}"))?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("form field {id}")));
    }
    Ok(())
}

/// Move a field one place up (`-1`) or down (`1`) among its topic's fields.
/// Returns false when it is already first or last.
pub fn move_field(conn: &Connection, id: i64, delta: i64) -> StoreResult<bool> {
    let f = get_field(conn, id)?;
    let mut list = fields_for_topic(conn, f.help_topic_id, true)?;
    let Some(at) = list.iter().position(|x| x.id == id) else {
        return Ok(false);
    };
    let to = at as i64 + delta.signum();
    if to < 0 || to >= list.len() as i64 {
        return Ok(false);
    }
    list.swap(at, to as usize);
    // Renumber the whole topic so equal sort values cannot stall a move.
    for (i, x) in list.iter().enumerate() {
        conn.prepare_cached("UPDATE form_fields SET sort = ?2 WHERE id = ?1")
            .and_then(|mut s| s.execute(params![x.id, i as i64 + 1]))
            .ctx(|| format!("reordering form field {}", x.id))?;
    }
    Ok(true)
}

/// Store what the customer entered, with the ticket.
pub fn insert_values(
    conn: &Connection,
    ticket: TicketId,
    values: &[FieldValue],
) -> StoreResult<()> {
    for v in values {
        conn.prepare_cached(
            "INSERT INTO ticket_field_values (ticket_id, field_id, label, kind, value)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .and_then(|mut s| s.execute(params![ticket, v.field_id, v.label, v.kind, v.value]))
        .ctx(|| format!("storing field {:?} of ticket {ticket}", v.label))?;
    }
    Ok(())
}

/// The values a ticket carries, in the fields' order.
pub fn values_for_ticket(conn: &Connection, ticket: TicketId) -> StoreResult<Vec<FieldValue>> {
    conn.prepare_cached(
        "SELECT v.field_id, v.label, v.kind, v.value FROM ticket_field_values v
         LEFT JOIN form_fields f ON f.id = v.field_id
         WHERE v.ticket_id = ?1 ORDER BY f.sort, v.field_id",
    )
    .and_then(|mut s| {
        s.query_map([ticket], |r| {
            Ok(FieldValue {
                field_id: r.get(0)?,
                label: r.get(1)?,
                kind: r.get(2)?,
                value: r.get(3)?,
            })
        })?
        .collect()
    })
    .ctx(|| format!("loading the field values of ticket {ticket}"))
}

/// An audit event for a configuration change (no ticket): who, what, when.
pub fn audit(
    conn: &Connection,
    staff: StaffId,
    actor_name: &str,
    kind: &str,
    data: &serde_json::Value,
) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO events (ticket_id, staff_id, customer_id, actor, kind, data, created_at)
         VALUES (NULL, ?1, NULL, ?2, ?3, ?4, ?5)",
    )
    .and_then(|mut s| {
        s.execute(params![
            staff,
            actor_name,
            kind,
            data.to_string(),
            super::now()
        ])
    })
    .ctx(|| format!("recording the audit event {kind}"))?;
    Ok(())
}

impl FieldValue {
    /// The value as JSON for scripts: multi-choice as an array, a checkbox
    /// as a boolean, anything else as the text stored.
    pub fn json_value(&self) -> serde_json::Value {
        match self.kind.as_str() {
            "multi_choice" => serde_json::from_str::<Vec<String>>(&self.value)
                .map(serde_json::Value::from)
                .unwrap_or_else(|_| serde_json::Value::String(self.value.clone())),
            "checkbox" => serde_json::Value::Bool(self.value == "1"),
            _ => serde_json::Value::String(self.value.clone()),
        }
    }
}
