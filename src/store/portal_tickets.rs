//! Reading tickets for the customer portal. Every lookup takes the
//! visitor's `PortalScope` (a signed-in customer, and/or access grants for
//! single tickets) in the query itself, so a ticket outside it is simply not
//! found; internal notes and their attachments are left out in the SQL.

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use super::ticket_page::AttachmentMeta;
use super::{Context, StoreResult};
use crate::model::{AttachmentId, CustomerId, EntryId, TicketId};

/// What a portal visitor may see: every ticket of `customer` (a signed-in,
/// verified customer) and the single tickets of `granted` (access links).
#[derive(Debug, Clone, Default)]
pub struct PortalScope {
    pub customer: Option<CustomerId>,
    pub granted: Vec<TicketId>,
}

impl PortalScope {
    /// A SQL condition on the tickets alias `t`, with `?{n}` the customer
    /// and `?{n+1}` the granted ids as a JSON array (see `binds`).
    fn sql(n: usize) -> String {
        format!(
            "(t.customer_id = ?{n} OR t.id IN (SELECT value FROM json_each(?{})))",
            n + 1
        )
    }

    fn binds(&self) -> (Option<CustomerId>, String) {
        let ids: Vec<i64> = self.granted.iter().map(|t| t.0).collect();
        (
            self.customer,
            serde_json::to_string(&ids).unwrap_or_else(|_| "[]".into()),
        )
    }
}

/// The ticket whose number is `number` and whose customer owns `email`
/// (the "check ticket status" form). Spam is never answered.
pub fn find_for_status(
    conn: &Connection,
    number: &str,
    email: &str,
) -> StoreResult<Option<TicketId>> {
    conn.prepare_cached(
        "SELECT t.id FROM tickets t
         JOIN customer_identities i ON i.customer_id = t.customer_id
         WHERE t.number = ?1 AND i.email = ?2 AND t.is_spam = 0",
    )
    .and_then(|mut s| s.query_row(params![number, email], |r| r.get(0)).optional())
    .ctx(|| format!("looking up ticket {number} for a status request"))
}

/// Whether `email` is an address of the customer of `ticket` (a link's
/// identity must still belong to the ticket).
pub fn email_owns(conn: &Connection, ticket: TicketId, email: &str) -> StoreResult<bool> {
    conn.prepare_cached(
        "SELECT EXISTS(SELECT 1 FROM tickets t
         JOIN customer_identities i ON i.customer_id = t.customer_id
         WHERE t.id = ?1 AND i.email = ?2)",
    )
    .and_then(|mut s| s.query_row(params![ticket, email], |r| r.get(0)))
    .ctx(|| format!("checking the owner of ticket {ticket}"))
}

/// One ticket as its customer sees it.
#[derive(Debug, Clone, Serialize)]
pub struct PortalTicket {
    pub id: TicketId,
    pub number: String,
    pub subject: String,
    pub status: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub department: String,
    /// The assigned agent's display name.
    pub assignee: Option<String>,
    pub customer_id: CustomerId,
    pub customer_name: String,
    pub merged_into_number: Option<String>,
}

/// The ticket numbered `number`, if the visitor may see it.
pub fn head(
    conn: &Connection,
    scope: &PortalScope,
    number: &str,
) -> StoreResult<Option<PortalTicket>> {
    let sql = format!(
        "SELECT t.id, t.number, t.subject, t.status, t.created_at, t.updated_at, d.name,
                s.name, t.customer_id, c.name,
                (SELECT m.number FROM tickets m WHERE m.id = t.merged_into_id)
         FROM tickets t
         JOIN departments d ON d.id = t.department_id
         JOIN customers c ON c.id = t.customer_id
         LEFT JOIN staff s ON s.id = t.assignee_id
         WHERE t.number = ?1 AND t.is_spam = 0 AND {}",
        PortalScope::sql(2)
    );
    let (customer, granted) = scope.binds();
    conn.prepare_cached(&sql)
        .and_then(|mut s| {
            s.query_row(params![number, customer, granted], |r| {
                Ok(PortalTicket {
                    id: r.get(0)?,
                    number: r.get(1)?,
                    subject: r.get(2)?,
                    status: r.get(3)?,
                    created_at: r.get(4)?,
                    updated_at: r.get(5)?,
                    department: r.get(6)?,
                    assignee: r.get(7)?,
                    customer_id: r.get(8)?,
                    customer_name: r.get(9)?,
                    merged_into_number: r.get(10)?,
                })
            })
            .optional()
        })
        .ctx(|| format!("loading ticket {number} for the portal"))
}

/// One visible thread entry: a customer message or a staff response.
#[derive(Debug, Clone, Serialize)]
pub struct PortalEntry {
    pub id: EntryId,
    pub kind: String,
    pub author_name: String,
    pub body_text: String,
    pub body_html: Option<String>,
    pub created_at: i64,
    pub attachments: Vec<AttachmentMeta>,
}

/// Messages and responses of a ticket the visitor may see, in order, each
/// with its attachments. Notes are never selected.
pub fn thread(
    conn: &Connection,
    scope: &PortalScope,
    ticket: TicketId,
) -> StoreResult<Vec<PortalEntry>> {
    let what = || format!("loading the portal thread of ticket {ticket}");
    let (customer, granted) = scope.binds();
    let sql = format!(
        "SELECT e.id, e.kind, e.author_name, e.body_text, e.body_html, e.created_at
         FROM entries e JOIN tickets t ON t.id = e.ticket_id
         WHERE e.ticket_id = ?1 AND e.kind IN ('message', 'response') AND {}
         ORDER BY e.id",
        PortalScope::sql(2)
    );
    let mut stmt = conn.prepare_cached(&sql).ctx(what)?;
    let mut entries: Vec<PortalEntry> = stmt
        .query_map(params![ticket, customer, granted], |r| {
            Ok(PortalEntry {
                id: r.get(0)?,
                kind: r.get(1)?,
                author_name: r.get(2)?,
                body_text: r.get(3)?,
                body_html: r.get(4)?,
                created_at: r.get(5)?,
                attachments: Vec::new(),
            })
        })
        .ctx(what)?
        .collect::<Result<_, _>>()
        .ctx(what)?;
    let sql = format!(
        "SELECT a.id, a.entry_id, a.filename, a.mime_type, a.size, a.inline, a.content_id
         FROM attachments a
         JOIN entries e ON e.id = a.entry_id
         JOIN tickets t ON t.id = e.ticket_id
         WHERE e.ticket_id = ?1 AND e.kind IN ('message', 'response') AND {}
         ORDER BY a.id",
        PortalScope::sql(2)
    );
    let mut stmt = conn.prepare_cached(&sql).ctx(what)?;
    let atts = stmt
        .query_map(params![ticket, customer, granted], attachment_meta)
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

/// An attachment and its bytes, if it belongs to a message or response of
/// a ticket the visitor may see.
pub fn attachment(
    conn: &Connection,
    scope: &PortalScope,
    id: AttachmentId,
) -> StoreResult<Option<(AttachmentMeta, Vec<u8>)>> {
    let sql = format!(
        "SELECT a.id, a.entry_id, a.filename, a.mime_type, a.size, a.inline, a.content_id, b.data
         FROM attachments a
         JOIN entries e ON e.id = a.entry_id
         JOIN tickets t ON t.id = e.ticket_id
         JOIN blobs b ON b.id = a.blob_id
         WHERE a.id = ?1 AND e.kind IN ('message', 'response') AND t.is_spam = 0 AND {}",
        PortalScope::sql(2)
    );
    let (customer, granted) = scope.binds();
    conn.query_row(&sql, params![id, customer, granted], |r| {
        Ok((attachment_meta(r)?, r.get::<_, Vec<u8>>(7)?))
    })
    .optional()
    .ctx(|| format!("loading attachment {id} for the portal"))
}

/// A row of "my tickets".
#[derive(Debug, Clone, Serialize)]
pub struct MyTicket {
    pub number: String,
    pub subject: String,
    pub status: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Every ticket of a customer (all of its addresses), newest activity
/// first. At most `limit`.
pub fn list_for_customer(
    conn: &Connection,
    customer: CustomerId,
    limit: i64,
) -> StoreResult<Vec<MyTicket>> {
    let what = || format!("listing the tickets of customer {customer}");
    let mut stmt = conn
        .prepare_cached(
            "SELECT t.number, t.subject, t.status, t.created_at, t.updated_at
             FROM tickets t WHERE t.customer_id = ?1 AND t.is_spam = 0
             ORDER BY t.updated_at DESC, t.id DESC LIMIT ?2",
        )
        .ctx(what)?;
    let rows = stmt
        .query_map(params![customer, limit], |r| {
            Ok(MyTicket {
                number: r.get(0)?,
                subject: r.get(1)?,
                status: r.get(2)?,
                created_at: r.get(3)?,
                updated_at: r.get(4)?,
            })
        })
        .ctx(what)?;
    rows.collect::<Result<_, _>>().ctx(what)
}
