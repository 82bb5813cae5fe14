//! Reading one ticket for the staff ticket page: the ticket, its thread,
//! attachments, events and the customer panel. Every lookup takes the
//! viewer's `Scope`, so a ticket outside it is simply not found.

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use super::queues::{queue_row, QueueRow, Scope, ROW_COLS, ROW_COUNT, ROW_JOINS};
use super::{Context, StoreResult};
use crate::model::{
    AttachmentId, CustomerId, DepartmentId, EntryId, PriorityId, StaffId, TicketId,
};

#[derive(Debug, Clone, Serialize)]
pub struct TicketHead {
    #[serde(flatten)]
    pub row: QueueRow,
    pub department_id: DepartmentId,
    pub priority_id: PriorityId,
    pub assignee_id: Option<StaffId>,
    pub customer_id: CustomerId,
    pub is_spam: bool,
    pub merged_into_id: Option<TicketId>,
    pub merged_into_number: Option<String>,
    pub team_id: Option<crate::model::TeamId>,
    pub team: Option<String>,
    pub help_topic_id: Option<crate::model::HelpTopicId>,
}

/// The ticket, if the viewer may see it.
pub fn head(conn: &Connection, scope: Scope, id: TicketId) -> StoreResult<Option<TicketHead>> {
    let sql = format!(
        "SELECT {ROW_COLS}, t.department_id, t.priority_id, t.assignee_id, t.customer_id,
                t.is_spam, t.merged_into_id,
                (SELECT number FROM tickets m WHERE m.id = t.merged_into_id),
                t.team_id, (SELECT name FROM teams WHERE id = t.team_id), t.help_topic_id
         FROM tickets t {ROW_JOINS} WHERE t.id = ?2 AND {}",
        scope.sql(1)
    );
    conn.prepare_cached(&sql)
        .and_then(|mut stmt| {
            stmt.query_row(params![scope.staff, id], |r| {
                Ok(TicketHead {
                    row: queue_row(r)?,
                    department_id: r.get(ROW_COUNT)?,
                    priority_id: r.get(ROW_COUNT + 1)?,
                    assignee_id: r.get(ROW_COUNT + 2)?,
                    customer_id: r.get(ROW_COUNT + 3)?,
                    is_spam: r.get(ROW_COUNT + 4)?,
                    merged_into_id: r.get(ROW_COUNT + 5)?,
                    merged_into_number: r.get(ROW_COUNT + 6)?,
                    team_id: r.get(ROW_COUNT + 7)?,
                    team: r.get(ROW_COUNT + 8)?,
                    help_topic_id: r.get(ROW_COUNT + 9)?,
                })
            })
            .optional()
        })
        .ctx(|| format!("loading ticket {id}"))
}

/// A ticket id by its number, if the viewer may see it.
pub fn id_by_number(
    conn: &Connection,
    scope: Scope,
    number: &str,
) -> StoreResult<Option<TicketId>> {
    let sql = format!(
        "SELECT t.id FROM tickets t WHERE t.number = ?2 AND {}",
        scope.sql(1)
    );
    // Cached: every search tries the words as a ticket number first.
    conn.prepare_cached(&sql)
        .and_then(|mut s| {
            s.query_row(params![scope.staff, number], |r| r.get(0))
                .optional()
        })
        .ctx(|| format!("looking up ticket number {number}"))
}

#[derive(Debug, Clone, Serialize)]
pub struct AttachmentMeta {
    pub id: AttachmentId,
    pub entry_id: EntryId,
    pub filename: String,
    pub mime_type: String,
    pub size: i64,
    pub inline: bool,
    pub content_id: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ThreadEntry {
    pub id: EntryId,
    pub kind: String,
    pub staff_id: Option<StaffId>,
    pub author_name: String,
    pub author_email: Option<String>,
    pub body_text: String,
    pub body_html: Option<String>,
    pub is_auto_reply: bool,
    pub created_at: i64,
    pub attachments: Vec<AttachmentMeta>,
}

/// The whole thread in order, each entry with its attachments.
pub fn thread(conn: &Connection, ticket: TicketId) -> StoreResult<Vec<ThreadEntry>> {
    let what = || format!("loading the thread of ticket {ticket}");
    let mut stmt = conn
        .prepare_cached(
            "SELECT id, kind, staff_id, author_name, author_email, body_text, body_html,
                    is_auto_reply, created_at
             FROM entries WHERE ticket_id = ?1 ORDER BY id",
        )
        .ctx(what)?;
    let mut entries: Vec<ThreadEntry> = stmt
        .query_map([ticket], |r| {
            Ok(ThreadEntry {
                id: r.get(0)?,
                kind: r.get(1)?,
                staff_id: r.get(2)?,
                author_name: r.get(3)?,
                author_email: r.get(4)?,
                body_text: r.get(5)?,
                body_html: r.get(6)?,
                is_auto_reply: r.get(7)?,
                created_at: r.get(8)?,
                attachments: Vec::new(),
            })
        })
        .ctx(what)?
        .collect::<Result<_, _>>()
        .ctx(what)?;
    let mut stmt = conn
        .prepare_cached(
            "SELECT a.id, a.entry_id, a.filename, a.mime_type, a.size, a.inline, a.content_id
             FROM attachments a JOIN entries e ON e.id = a.entry_id
             WHERE e.ticket_id = ?1 ORDER BY a.id",
        )
        .ctx(what)?;
    let atts = stmt
        .query_map([ticket], attachment_meta)
        .ctx(what)?
        .collect::<Result<Vec<_>, _>>()
        .ctx(what)?;
    for a in atts {
        if let Some(e) = entries.iter_mut().find(|e| e.id == a.entry_id) {
            e.attachments.push(a);
        }
    }
    Ok(entries)
}

fn attachment_meta(r: &rusqlite::Row<'_>) -> rusqlite::Result<AttachmentMeta> {
    Ok(AttachmentMeta {
        id: r.get(0)?,
        entry_id: r.get(1)?,
        filename: r.get(2)?,
        mime_type: r.get(3)?,
        size: r.get(4)?,
        inline: r.get(5)?,
        content_id: r.get(6)?,
    })
}

/// The newest entry id, so a form can tell whether the thread has changed
/// since the page was loaded.
pub fn last_entry_id(conn: &Connection, ticket: TicketId) -> StoreResult<i64> {
    conn.query_row(
        "SELECT COALESCE(MAX(id), 0) FROM entries WHERE ticket_id = ?1",
        [ticket],
        |r| r.get(0),
    )
    .ctx(|| format!("reading the thread of ticket {ticket}"))
}

/// An attachment and its bytes, if the viewer may see its ticket.
pub fn attachment(
    conn: &Connection,
    scope: Scope,
    id: AttachmentId,
) -> StoreResult<Option<(AttachmentMeta, Vec<u8>)>> {
    let sql = format!(
        "SELECT a.id, a.entry_id, a.filename, a.mime_type, a.size, a.inline, a.content_id, b.data
         FROM attachments a
         JOIN entries e ON e.id = a.entry_id
         JOIN tickets t ON t.id = e.ticket_id
         JOIN blobs b ON b.id = a.blob_id
         WHERE a.id = ?2 AND {}",
        scope.sql(1)
    );
    conn.query_row(&sql, params![scope.staff, id], |r| {
        Ok((attachment_meta(r)?, r.get::<_, Vec<u8>>(7)?))
    })
    .optional()
    .ctx(|| format!("loading attachment {id}"))
}

#[derive(Debug, Clone, Serialize)]
pub struct EventRow {
    pub kind: String,
    pub actor: String,
    pub data: serde_json::Value,
    pub created_at: i64,
}

pub fn events(conn: &Connection, ticket: TicketId) -> StoreResult<Vec<EventRow>> {
    let what = || format!("loading the history of ticket {ticket}");
    let mut stmt = conn
        .prepare_cached(
            "SELECT kind, actor, data, created_at FROM events WHERE ticket_id = ?1 ORDER BY id",
        )
        .ctx(what)?;
    let rows = stmt
        .query_map([ticket], |r| {
            let data: String = r.get(2)?;
            Ok(EventRow {
                kind: r.get(0)?,
                actor: r.get(1)?,
                data: serde_json::from_str(&data).unwrap_or(serde_json::Value::Null),
                created_at: r.get(3)?,
            })
        })
        .ctx(what)?;
    rows.collect::<Result<_, _>>().ctx(what)
}

#[derive(Debug, Clone, Serialize)]
pub struct CustomerPanel {
    pub id: CustomerId,
    pub name: String,
    pub emails: Vec<String>,
    pub created_at: i64,
    pub ticket_count: i64,
    /// The customer's other tickets the viewer may see, newest first.
    pub other_tickets: Vec<OtherTicket>,
}

/// One of the customer's other tickets, as the panel lists it.
#[derive(Debug, Clone, Serialize)]
pub struct OtherTicket {
    pub id: TicketId,
    pub number: String,
    pub subject: String,
    pub status: String,
    /// The custom status it shows, if any (see statuses).
    pub status_id: Option<i64>,
}

pub fn customer_panel(
    conn: &Connection,
    scope: Scope,
    customer: CustomerId,
    except: TicketId,
) -> StoreResult<Option<CustomerPanel>> {
    let what = || format!("loading customer {customer}");
    let Some((name, created_at)) = conn
        .prepare_cached("SELECT name, created_at FROM customers WHERE id = ?1")
        .and_then(|mut s| {
            s.query_row([customer], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
            })
            .optional()
        })
        .ctx(what)?
    else {
        return Ok(None);
    };
    let mut stmt = conn
        .prepare_cached("SELECT email FROM customer_identities WHERE customer_id = ?1 ORDER BY id")
        .ctx(what)?;
    let emails = stmt
        .query_map([customer], |r| r.get(0))
        .ctx(what)?
        .collect::<Result<Vec<String>, _>>()
        .ctx(what)?;
    let ticket_count: i64 = conn
        .prepare_cached("SELECT COUNT(*) FROM tickets WHERE customer_id = ?1")
        .and_then(|mut s| s.query_row([customer], |r| r.get(0)))
        .ctx(what)?;
    // Only what the panel shows: no joins to the customer (this one), the
    // assignee or the department for each row.
    let sql = format!(
        "SELECT t.id, t.number, t.subject, t.status, t.status_id FROM tickets t
         WHERE t.customer_id = ?2 AND t.id != ?3 AND {}
         ORDER BY t.created_at DESC LIMIT 10",
        scope.sql(1)
    );
    let mut stmt = conn.prepare_cached(&sql).ctx(what)?;
    let other_tickets = stmt
        .query_map(params![scope.staff, customer, except], |r| {
            Ok(OtherTicket {
                id: r.get(0)?,
                number: r.get(1)?,
                subject: r.get(2)?,
                status: r.get(3)?,
                status_id: r.get(4)?,
            })
        })
        .ctx(what)?
        .collect::<Result<Vec<_>, _>>()
        .ctx(what)?;
    Ok(Some(CustomerPanel {
        id: customer,
        name,
        emails,
        created_at,
        ticket_count,
        other_tickets,
    }))
}
