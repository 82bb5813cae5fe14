//! Thread entries: customer messages, staff responses and internal notes.

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::{Context, StoreResult};
use crate::model::{CustomerId, Entry, EntryId, EntryKind, RawMessageId, StaffId, TicketId};

/// The fields of a new entry.
#[derive(Debug, Clone, Default)]
pub struct NewEntryRow<'a> {
    pub ticket_id: Option<TicketId>,
    pub kind: Option<EntryKind>,
    pub staff_id: Option<StaffId>,
    pub customer_id: Option<CustomerId>,
    pub author_name: &'a str,
    pub author_email: Option<&'a str>,
    pub body_text: &'a str,
    pub body_html: Option<&'a str>,
    pub message_id: Option<&'a str>,
    pub in_reply_to: Option<&'a str>,
    pub refs: Option<&'a str>,
    pub raw_message_id: Option<RawMessageId>,
    pub is_auto_reply: bool,
    pub is_bounce: bool,
    pub is_bulk: bool,
    pub now: i64,
}

pub fn insert(conn: &Connection, e: &NewEntryRow<'_>) -> StoreResult<EntryId> {
    let kind = e.kind.unwrap_or(EntryKind::Message);
    conn.prepare_cached(
        "INSERT INTO entries (ticket_id, kind, staff_id, customer_id, author_name, author_email,
             body_text, body_html, message_id, in_reply_to, refs, raw_message_id,
             is_auto_reply, is_bounce, is_bulk, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
    )
    .and_then(|mut s| {
        s.execute(params![
            e.ticket_id,
            kind,
            e.staff_id,
            e.customer_id,
            e.author_name,
            e.author_email,
            e.body_text,
            e.body_html,
            e.message_id,
            e.in_reply_to,
            e.refs,
            e.raw_message_id,
            e.is_auto_reply,
            e.is_bounce,
            e.is_bulk,
            e.now
        ])
    })
    .ctx(|| {
        format!(
            "adding a {} to ticket id {}",
            kind.as_str(),
            e.ticket_id.map(|t| t.0).unwrap_or_default()
        )
    })?;
    Ok(EntryId(conn.last_insert_rowid()))
}

/// The ticket holding an entry whose Message-ID is `message_id` (newest
/// first when several do).
pub fn ticket_by_message_id(conn: &Connection, message_id: &str) -> StoreResult<Option<TicketId>> {
    conn.prepare_cached(
        "SELECT ticket_id FROM entries WHERE message_id = ?1 ORDER BY id DESC LIMIT 1",
    )
    .and_then(|mut s| s.query_row([message_id], |r| r.get(0)).optional())
    .ctx(|| format!("looking up the entry with Message-ID {message_id}"))
}

/// Link an entry to the raw message it was made from.
pub fn set_raw_message_id(conn: &Connection, id: EntryId, raw: RawMessageId) -> StoreResult<()> {
    conn.prepare_cached("UPDATE entries SET raw_message_id = ?2 WHERE id = ?1")
        .and_then(|mut s| s.execute(params![id, raw]))
        .ctx(|| format!("linking entry {id} to raw message {raw}"))?;
    Ok(())
}

/// Record the Message-ID an outgoing response was sent with, so replies to
/// it thread onto the ticket.
pub fn set_message_id(conn: &Connection, id: EntryId, message_id: &str) -> StoreResult<()> {
    conn.prepare_cached("UPDATE entries SET message_id = ?2 WHERE id = ?1")
        .and_then(|mut s| s.execute(params![id, message_id]))
        .ctx(|| format!("recording the Message-ID of entry {id}"))?;
    Ok(())
}

const COLUMNS: &str = "id, ticket_id, kind, staff_id, customer_id, author_name, author_email,
    body_text, body_html, message_id, in_reply_to, refs, raw_message_id, is_auto_reply,
    is_bounce, is_bulk, created_at";

fn from_row(r: &Row<'_>) -> rusqlite::Result<Entry> {
    Ok(Entry {
        id: r.get(0)?,
        ticket_id: r.get(1)?,
        kind: r.get(2)?,
        staff_id: r.get(3)?,
        customer_id: r.get(4)?,
        author_name: r.get(5)?,
        author_email: r.get(6)?,
        body_text: r.get(7)?,
        body_html: r.get(8)?,
        message_id: r.get(9)?,
        in_reply_to: r.get(10)?,
        refs: r.get(11)?,
        raw_message_id: r.get(12)?,
        is_auto_reply: r.get(13)?,
        is_bounce: r.get(14)?,
        is_bulk: r.get(15)?,
        created_at: r.get(16)?,
    })
}

pub fn get(conn: &Connection, id: EntryId) -> StoreResult<Option<Entry>> {
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM entries WHERE id = ?1"))
        .and_then(|mut s| s.query_row([id], from_row).optional())
        .ctx(|| format!("loading entry {id}"))
}

/// A ticket's whole thread, oldest first.
pub fn list_for_ticket(conn: &Connection, ticket: TicketId) -> StoreResult<Vec<Entry>> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM entries WHERE ticket_id = ?1 ORDER BY id"
        ))
        .ctx(|| format!("loading the thread of ticket id {ticket}"))?;
    let rows = stmt
        .query_map([ticket], from_row)
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        .ctx(|| format!("loading the thread of ticket id {ticket}"))?;
    Ok(rows)
}

/// Move a whole thread to another ticket (merging).
pub fn move_thread(conn: &Connection, from: TicketId, to: TicketId) -> StoreResult<usize> {
    conn.prepare_cached("UPDATE entries SET ticket_id = ?2 WHERE ticket_id = ?1")
        .and_then(|mut s| s.execute(params![from, to]))
        .ctx(|| format!("moving the thread of ticket id {from} to ticket id {to}"))
}
