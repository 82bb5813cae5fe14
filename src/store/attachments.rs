//! Attachments and the blobs holding their bytes, deduplicated by SHA-256.

use rusqlite::{params, Connection, OptionalExtension, Row};
use sha2::{Digest, Sha256};

use super::{Context, StoreResult};
use crate::model::{Attachment, AttachmentId, BlobId, EntryId, TicketId};

/// Store `data` once: an identical file already stored is reused.
/// Returns the blob and the hex SHA-256.
pub fn put_blob(conn: &Connection, data: &[u8]) -> StoreResult<(BlobId, String)> {
    let sha = hex::encode(Sha256::digest(data));
    let existing: Option<BlobId> = conn
        .prepare_cached("SELECT id FROM blobs WHERE sha256 = ?1")
        .and_then(|mut s| s.query_row([&sha], |r| r.get(0)).optional())
        .ctx(|| format!("looking up blob {sha}"))?;
    if let Some(id) = existing {
        return Ok((id, sha));
    }
    conn.prepare_cached("INSERT INTO blobs (sha256, size, data) VALUES (?1, ?2, ?3)")
        .and_then(|mut s| s.execute(params![sha, data.len() as i64, data]))
        .ctx(|| format!("storing blob {sha}"))?;
    Ok((BlobId(conn.last_insert_rowid()), sha))
}

/// The description of a new attachment.
#[derive(Debug, Clone)]
pub struct NewAttachmentRow<'a> {
    pub entry_id: EntryId,
    pub blob_id: BlobId,
    pub filename: &'a str,
    pub mime_type: &'a str,
    pub size: i64,
    pub inline: bool,
    pub content_id: Option<&'a str>,
    pub now: i64,
}

pub fn insert(conn: &Connection, a: &NewAttachmentRow<'_>) -> StoreResult<AttachmentId> {
    conn.prepare_cached(
        "INSERT INTO attachments (entry_id, blob_id, filename, mime_type, size, inline,
             content_id, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )
    .and_then(|mut s| {
        s.execute(params![
            a.entry_id,
            a.blob_id,
            a.filename,
            a.mime_type,
            a.size,
            a.inline,
            a.content_id,
            a.now
        ])
    })
    .ctx(|| format!("attaching {} to entry {}", a.filename, a.entry_id))?;
    Ok(AttachmentId(conn.last_insert_rowid()))
}

const COLUMNS: &str = "a.id, a.entry_id, a.blob_id, a.filename, a.mime_type, a.size, b.sha256,
    a.inline, a.content_id, a.created_at";

fn from_row(r: &Row<'_>) -> rusqlite::Result<Attachment> {
    Ok(Attachment {
        id: r.get(0)?,
        entry_id: r.get(1)?,
        blob_id: r.get(2)?,
        filename: r.get(3)?,
        mime_type: r.get(4)?,
        size: r.get(5)?,
        sha256: r.get(6)?,
        inline: r.get(7)?,
        content_id: r.get(8)?,
        created_at: r.get(9)?,
    })
}

/// Every attachment of a ticket's thread (metadata only), by entry.
pub fn list_for_ticket(conn: &Connection, ticket: TicketId) -> StoreResult<Vec<Attachment>> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM entries e
             JOIN attachments a ON a.entry_id = e.id
             JOIN blobs b ON b.id = a.blob_id
             WHERE e.ticket_id = ?1
             ORDER BY a.entry_id, a.id"
        ))
        .ctx(|| format!("loading the attachments of ticket id {ticket}"))?;
    let rows = stmt
        .query_map([ticket], from_row)
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        .ctx(|| format!("loading the attachments of ticket id {ticket}"))?;
    Ok(rows)
}

/// The attachments of one entry (metadata only).
pub fn list_for_entry(conn: &Connection, entry: EntryId) -> StoreResult<Vec<Attachment>> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM attachments a JOIN blobs b ON b.id = a.blob_id
             WHERE a.entry_id = ?1 ORDER BY a.id"
        ))
        .ctx(|| format!("loading the attachments of entry {entry}"))?;
    let rows = stmt
        .query_map([entry], from_row)
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        .ctx(|| format!("loading the attachments of entry {entry}"))?;
    Ok(rows)
}

pub fn get(conn: &Connection, id: AttachmentId) -> StoreResult<Option<Attachment>> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM attachments a JOIN blobs b ON b.id = a.blob_id WHERE a.id = ?1"
    ))
    .and_then(|mut s| s.query_row([id], from_row).optional())
    .ctx(|| format!("loading attachment {id}"))
}

/// The contents of blob `id`.
pub fn blob_data(conn: &Connection, id: BlobId) -> StoreResult<Option<Vec<u8>>> {
    conn.prepare_cached("SELECT data FROM blobs WHERE id = ?1")
        .and_then(|mut s| s.query_row([id], |r| r.get(0)).optional())
        .ctx(|| format!("loading blob {id}"))
}

/// The blobs of `entry`'s attachments, in the order they were stored.
pub fn blob_ids_for_entry(conn: &Connection, entry: EntryId) -> StoreResult<Vec<BlobId>> {
    conn.prepare_cached("SELECT blob_id FROM attachments WHERE entry_id = ?1 ORDER BY id")
        .and_then(|mut s| s.query_map([entry], |r| r.get(0))?.collect())
        .ctx(|| format!("loading the files of entry {entry}"))
}

/// The bytes of an attachment.
pub fn data(conn: &Connection, id: AttachmentId) -> StoreResult<Option<Vec<u8>>> {
    conn.prepare_cached(
        "SELECT b.data FROM attachments a JOIN blobs b ON b.id = a.blob_id WHERE a.id = ?1",
    )
    .and_then(|mut s| s.query_row([id], |r| r.get(0)).optional())
    .ctx(|| format!("loading the contents of attachment {id}"))
}
