//! What outbound mail needs to know about a ticket, its thread and the people
//! around it: read inside the transaction that records the event, so a mail
//! describes exactly the committed change.

use rusqlite::{params, Connection, OptionalExtension};

use super::{Context, StoreResult};
use crate::model::{CustomerId, DepartmentId, EntryId, StaffId, TicketId};

#[derive(Debug, Clone)]
pub struct TicketFacts {
    pub id: TicketId,
    pub number: String,
    pub subject: String,
    pub status: String,
    pub due_at: Option<i64>,
    pub department_id: DepartmentId,
    pub department_name: String,
    pub department_email: Option<String>,
    pub department_email_name: Option<String>,
    /// The help topic's auto-response override, else the department's.
    pub department_auto_response: bool,
    pub department_manager_id: Option<StaffId>,
    pub assignee_id: Option<StaffId>,
    pub customer_id: CustomerId,
    pub customer_name: String,
    pub customer_locale: Option<String>,
}

#[derive(Debug, Clone)]
pub struct EntryFacts {
    pub id: EntryId,
    pub ticket_id: TicketId,
    pub kind: String,
    pub staff_id: Option<StaffId>,
    pub author_name: String,
    pub author_email: Option<String>,
    pub body_text: String,
    pub body_html: Option<String>,
    pub message_id: Option<String>,
    pub refs: Option<String>,
}

#[derive(Debug, Clone)]
pub struct AttachmentData {
    pub filename: String,
    pub mime_type: String,
    pub inline: bool,
    pub content_id: Option<String>,
    pub data: Vec<u8>,
}

/// A staff member as a mail recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffContact {
    pub id: StaffId,
    pub name: String,
    pub email: String,
    pub locale: Option<String>,
}

pub fn ticket(conn: &Connection, id: TicketId) -> StoreResult<Option<TicketFacts>> {
    conn.query_row(
        "SELECT t.id, t.number, t.subject, t.status, t.due_at,
                d.id, d.name, d.email, d.email_name,
                COALESCE((SELECT h.auto_response FROM help_topics h WHERE h.id = t.help_topic_id), d.auto_response),
                d.manager_id,
                t.assignee_id, c.id, c.name, c.locale
         FROM tickets t
         JOIN departments d ON d.id = t.department_id
         JOIN customers c ON c.id = t.customer_id
         WHERE t.id = ?1",
        [id],
        |r| {
            Ok(TicketFacts {
                id: r.get(0)?,
                number: r.get(1)?,
                subject: r.get(2)?,
                status: r.get(3)?,
                due_at: r.get(4)?,
                department_id: r.get(5)?,
                department_name: r.get(6)?,
                department_email: r.get(7)?,
                department_email_name: r.get(8)?,
                department_auto_response: r.get(9)?,
                department_manager_id: r.get(10)?,
                assignee_id: r.get(11)?,
                customer_id: r.get(12)?,
                customer_name: r.get(13)?,
                customer_locale: r.get(14)?,
            })
        },
    )
    .optional()
    .ctx(|| format!("loading ticket {id} for mail"))
}

pub fn entry(conn: &Connection, id: EntryId) -> StoreResult<Option<EntryFacts>> {
    conn.query_row(
        "SELECT id, ticket_id, kind, staff_id, author_name, author_email, body_text, body_html,
                message_id, refs
         FROM entries WHERE id = ?1",
        [id],
        |r| {
            Ok(EntryFacts {
                id: r.get(0)?,
                ticket_id: r.get(1)?,
                kind: r.get(2)?,
                staff_id: r.get(3)?,
                author_name: r.get(4)?,
                author_email: r.get(5)?,
                body_text: r.get(6)?,
                body_html: r.get(7)?,
                message_id: r.get(8)?,
                refs: r.get(9)?,
            })
        },
    )
    .optional()
    .ctx(|| format!("loading thread entry {id} for mail"))
}

/// The entry's files with their contents, in the order they were added.
pub fn attachments(conn: &Connection, entry: EntryId) -> StoreResult<Vec<AttachmentData>> {
    let mut stmt = conn
        .prepare(
            "SELECT a.filename, a.mime_type, a.inline, a.content_id, b.data
             FROM attachments a JOIN blobs b ON b.id = a.blob_id
             WHERE a.entry_id = ?1 ORDER BY a.id",
        )
        .ctx(|| format!("loading the attachments of entry {entry}"))?;
    let rows = stmt
        .query_map([entry], |r| {
            Ok(AttachmentData {
                filename: r.get(0)?,
                mime_type: r.get(1)?,
                inline: r.get(2)?,
                content_id: r.get(3)?,
                data: r.get(4)?,
            })
        })
        .ctx(|| format!("loading the attachments of entry {entry}"))?;
    rows.collect::<Result<_, _>>()
        .ctx(|| format!("loading the attachments of entry {entry}"))
}

/// The customer's latest message in the ticket that has a Message-ID
/// (what a response replies to): (message_id, references).
pub fn last_customer_message(
    conn: &Connection,
    ticket: TicketId,
) -> StoreResult<Option<(String, Option<String>)>> {
    conn.query_row(
        "SELECT message_id, refs FROM entries
         WHERE ticket_id = ?1 AND kind = 'message' AND message_id IS NOT NULL AND message_id != ''
         ORDER BY id DESC LIMIT 1",
        [ticket],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()
    .ctx(|| format!("finding the last customer message of ticket {ticket}"))
}

/// The address the customer wrote from in this ticket (their latest
/// message's sender), else their oldest identity.
pub fn customer_address(
    conn: &Connection,
    ticket: TicketId,
    customer: CustomerId,
) -> StoreResult<Option<String>> {
    let from_thread: Option<String> = conn
        .query_row(
            "SELECT author_email FROM entries
             WHERE ticket_id = ?1 AND kind = 'message' AND customer_id = ?2
               AND author_email IS NOT NULL AND author_email != ''
             ORDER BY id DESC LIMIT 1",
            params![ticket, customer],
            |r| r.get(0),
        )
        .optional()
        .ctx(|| format!("finding the customer's address in ticket {ticket}"))?;
    if from_thread.is_some() {
        return Ok(from_thread);
    }
    conn.query_row(
        "SELECT email FROM customer_identities WHERE customer_id = ?1 ORDER BY id LIMIT 1",
        [customer],
        |r| r.get(0),
    )
    .optional()
    .ctx(|| format!("finding an address of customer {customer}"))
}

/// Record the Message-ID an outgoing mail carries on its thread entry, so a
/// reply to it threads by header.
pub fn set_entry_message_id(
    conn: &Connection,
    entry: EntryId,
    message_id: &str,
) -> StoreResult<()> {
    conn.execute(
        "UPDATE entries SET message_id = ?2 WHERE id = ?1",
        params![entry, message_id],
    )
    .ctx(|| format!("recording the Message-ID of entry {entry}"))?;
    Ok(())
}

/// An active staff member.
pub fn staff(conn: &Connection, id: StaffId) -> StoreResult<Option<StaffContact>> {
    conn.query_row(
        "SELECT id, name, email, locale FROM staff WHERE id = ?1 AND active = 1",
        [id],
        |r| {
            Ok(StaffContact {
                id: r.get(0)?,
                name: r.get(1)?,
                email: r.get(2)?,
                locale: r.get(3)?,
            })
        },
    )
    .optional()
    .ctx(|| format!("loading staff member {id} for mail"))
}

/// Active members of a department who are not marked away.
pub fn department_members(conn: &Connection, dept: DepartmentId) -> StoreResult<Vec<StaffContact>> {
    let mut stmt = conn
        .prepare(
            "SELECT s.id, s.name, s.email, s.locale FROM staff s
             JOIN staff_departments sd ON sd.staff_id = s.id
             WHERE sd.department_id = ?1 AND s.active = 1 AND s.away = 0
             ORDER BY s.id",
        )
        .ctx(|| format!("listing the members of department {dept}"))?;
    let rows = stmt
        .query_map([dept], |r| {
            Ok(StaffContact {
                id: r.get(0)?,
                name: r.get(1)?,
                email: r.get(2)?,
                locale: r.get(3)?,
            })
        })
        .ctx(|| format!("listing the members of department {dept}"))?;
    rows.collect::<Result<_, _>>()
        .ctx(|| format!("listing the members of department {dept}"))
}

/// Every department's own address (mail to these would loop back to us).
pub fn department_addresses(conn: &Connection) -> StoreResult<Vec<String>> {
    let mut stmt = conn
        .prepare("SELECT email FROM departments WHERE email IS NOT NULL AND email != ''")
        .ctx(|| "listing department addresses".into())?;
    let rows = stmt
        .query_map([], |r| r.get(0))
        .ctx(|| "listing department addresses".into())?;
    rows.collect::<Result<_, _>>()
        .ctx(|| "listing department addresses".into())
}

/// A department's From address and name, if it has its own.
pub fn department_sender(
    conn: &Connection,
    dept: DepartmentId,
) -> StoreResult<Option<(Option<String>, Option<String>)>> {
    conn.query_row(
        "SELECT email, email_name FROM departments WHERE id = ?1",
        [dept],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()
    .ctx(|| format!("loading department {dept}"))
}

/// A staff member's signature for replies ('' when none).
pub fn staff_signature(conn: &Connection, id: StaffId) -> StoreResult<String> {
    conn.query_row("SELECT signature FROM staff WHERE id = ?1", [id], |r| {
        r.get(0)
    })
    .optional()
    .map(Option::unwrap_or_default)
    .ctx(|| format!("loading the signature of staff member {id}"))
}

/// Active administrators who are not away: told about tickets in a
/// department nobody belongs to yet (a fresh helpdesk).
pub fn admins(conn: &Connection) -> StoreResult<Vec<StaffContact>> {
    let mut stmt = conn
        .prepare(
            "SELECT id, name, email, locale FROM staff
             WHERE is_admin = 1 AND active = 1 AND away = 0 ORDER BY id",
        )
        .ctx(|| "listing administrators".into())?;
    let rows = stmt
        .query_map([], |r| {
            Ok(StaffContact {
                id: r.get(0)?,
                name: r.get(1)?,
                email: r.get(2)?,
                locale: r.get(3)?,
            })
        })
        .ctx(|| "listing administrators".into())?;
    rows.collect::<Result<_, _>>()
        .ctx(|| "listing administrators".into())
}
