//! Raw inbound mail, kept byte for byte; the quarantine is the set of raw
//! messages that could not be filed.

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::{Context, StoreResult};
use crate::mail::parse::Base64Lines;
use crate::model::{BlobId, RawMessageId, RawMessageInfo, RawStatus, TicketId};

/// A raw message already stored under this dedupe key: (id, ticket, status).
pub fn find_by_dedupe_key(
    conn: &Connection,
    key: &str,
) -> StoreResult<Option<(RawMessageId, Option<TicketId>, RawStatus)>> {
    conn.prepare_cached("SELECT id, ticket_id, status FROM raw_messages WHERE dedupe_key = ?1")
        .and_then(|mut s| {
            s.query_row([key], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .optional()
        })
        .ctx(|| "looking up an earlier delivery of the message".into())
}

#[derive(Debug, Clone)]
pub struct NewRawRow<'a> {
    pub dedupe_key: &'a str,
    pub message_id: Option<&'a str>,
    pub data: &'a [u8],
    pub source: &'a str,
    pub status: RawStatus,
    pub error: Option<&'a str>,
    pub now: i64,
}

pub fn insert(conn: &Connection, m: &NewRawRow<'_>) -> StoreResult<RawMessageId> {
    conn.prepare_cached(
        "INSERT INTO raw_messages (dedupe_key, message_id, size, data, source, status, error,
             received_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )
    .and_then(|mut s| {
        s.execute(params![
            m.dedupe_key,
            m.message_id,
            m.data.len() as i64,
            m.data,
            m.source,
            m.status,
            m.error,
            m.now
        ])
    })
    .ctx(|| "storing the raw message".into())?;
    Ok(RawMessageId(conn.last_insert_rowid()))
}

/// A stretch of a raw message that is an attachment's base64 text, exactly
/// as `blob` encoded with this layout gives it (see `raw_message_parts`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawCut {
    /// Byte offset and length in the original message.
    pub start: usize,
    pub len: usize,
    pub blob: BlobId,
    pub lines: Base64Lines,
}

/// Store a message already filed on `ticket` (status stored), in one
/// write: the message is not rewritten by a later status update. The
/// stretches in `cuts` are left out of the stored bytes and listed in
/// `raw_message_parts`; overlapping or out-of-range ones are ignored.
pub fn insert_filed(
    conn: &Connection,
    m: &NewRawRow<'_>,
    ticket: TicketId,
    cuts: &[RawCut],
) -> StoreResult<RawMessageId> {
    let mut cuts: Vec<RawCut> = cuts
        .iter()
        .copied()
        .filter(|c| {
            c.len > 0
                && c.start
                    .checked_add(c.len)
                    .is_some_and(|e| e <= m.data.len())
        })
        .collect();
    cuts.sort_by_key(|c| c.start);
    let mut kept: Vec<(usize, RawCut)> = Vec::with_capacity(cuts.len());
    let mut stored: Vec<u8> = Vec::new();
    let data: &[u8] = if cuts.is_empty() {
        m.data
    } else {
        let mut at = 0;
        stored.reserve(m.data.len() - cuts.iter().map(|c| c.len).sum::<usize>().min(m.data.len()));
        for c in cuts {
            if c.start < at {
                continue;
            }
            stored.extend_from_slice(&m.data[at..c.start]);
            kept.push((stored.len(), c));
            at = c.start + c.len;
        }
        stored.extend_from_slice(&m.data[at..]);
        &stored
    };
    conn.prepare_cached(
        "INSERT INTO raw_messages (dedupe_key, message_id, size, data, source, status, error,
             received_at, ticket_id)
         VALUES (?1, ?2, ?3, ?4, ?5, 'stored', NULL, ?6, ?7)",
    )
    .and_then(|mut s| {
        s.execute(params![
            m.dedupe_key,
            m.message_id,
            m.data.len() as i64,
            data,
            m.source,
            m.now,
            ticket
        ])
    })
    .ctx(|| "storing the raw message".into())?;
    let id = RawMessageId(conn.last_insert_rowid());
    for (position, c) in kept {
        conn.prepare_cached(
            "INSERT INTO raw_message_parts
                 (raw_message_id, position, blob_id, line_length, crlf, final_break)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .and_then(|mut s| {
            s.execute(params![
                id,
                position as i64,
                c.blob,
                c.lines.line_length,
                c.lines.crlf,
                c.lines.final_break
            ])
        })
        .ctx(|| "storing the raw message".into())?;
    }
    Ok(id)
}

/// A stretch left out of a stored raw message: put back at `position` of
/// the stored bytes, `blob` encoded with the layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredPart {
    pub position: usize,
    pub blob: BlobId,
    pub lines: Base64Lines,
}

/// The stretches left out of raw message `id`, in order.
pub fn parts(conn: &Connection, id: RawMessageId) -> StoreResult<Vec<StoredPart>> {
    conn.prepare_cached(
        "SELECT position, blob_id, line_length, crlf, final_break FROM raw_message_parts
         WHERE raw_message_id = ?1 ORDER BY position",
    )
    .and_then(|mut s| {
        s.query_map([id], |r| {
            Ok(StoredPart {
                position: usize::try_from(r.get::<_, i64>(0)?).unwrap_or(usize::MAX),
                blob: r.get(1)?,
                lines: Base64Lines {
                    line_length: r.get(2)?,
                    crlf: r.get(3)?,
                    final_break: r.get(4)?,
                },
            })
        })?
        .collect()
    })
    .ctx(|| format!("loading the parts of raw message {id}"))
}

/// The message was filed on `ticket`.
pub fn mark_stored(conn: &Connection, id: RawMessageId, ticket: TicketId) -> StoreResult<()> {
    conn.prepare_cached(
        "UPDATE raw_messages SET status = 'stored', error = NULL, ticket_id = ?2 WHERE id = ?1",
    )
    .and_then(|mut s| s.execute(params![id, ticket]))
    .ctx(|| format!("marking raw message {id} as filed"))?;
    Ok(())
}

/// Keep a quarantined message quarantined, with the latest reason.
pub fn set_error(conn: &Connection, id: RawMessageId, error: &str) -> StoreResult<()> {
    conn.prepare_cached("UPDATE raw_messages SET error = ?2 WHERE id = ?1")
        .and_then(|mut s| s.execute(params![id, error]))
        .ctx(|| format!("updating raw message {id}"))?;
    Ok(())
}

/// Point the raw messages of a merged ticket at the surviving one.
pub fn move_ticket(conn: &Connection, from: TicketId, to: TicketId) -> StoreResult<()> {
    conn.prepare_cached("UPDATE raw_messages SET ticket_id = ?2 WHERE ticket_id = ?1")
        .and_then(|mut s| s.execute(params![from, to]))
        .ctx(|| format!("moving the raw messages of ticket id {from}"))?;
    Ok(())
}

const COLUMNS: &str = "id, message_id, size, source, status, error, ticket_id, received_at";

fn from_row(r: &Row<'_>) -> rusqlite::Result<RawMessageInfo> {
    Ok(RawMessageInfo {
        id: r.get(0)?,
        message_id: r.get(1)?,
        size: r.get(2)?,
        source: r.get(3)?,
        status: r.get(4)?,
        error: r.get(5)?,
        ticket_id: r.get(6)?,
        received_at: r.get(7)?,
    })
}

/// Raw messages in one state, newest first.
pub fn list_by_status(
    conn: &Connection,
    status: RawStatus,
    limit: u32,
) -> StoreResult<Vec<RawMessageInfo>> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM raw_messages WHERE status = ?1
             ORDER BY received_at DESC, id DESC LIMIT ?2"
        ))
        .ctx(|| format!("listing {} messages", status.as_str()))?;
    let rows = stmt
        .query_map(params![status, limit], from_row)
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        .ctx(|| format!("listing {} messages", status.as_str()))?;
    Ok(rows)
}

/// Bytes of each listed message read for its summary: the header block of
/// nearly every message, without reading a large body.
pub const HEAD_BYTES: i64 = 16 * 1024;

/// Raw messages in one state, newest first, `limit` from `offset`, each
/// with its first `HEAD_BYTES` bytes (for the sender and subject).
pub fn list_with_heads(
    conn: &Connection,
    status: RawStatus,
    limit: u32,
    offset: u32,
) -> StoreResult<Vec<(RawMessageInfo, Vec<u8>)>> {
    let what = || format!("listing {} messages", status.as_str());
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS}, substr(data, 1, {HEAD_BYTES}) FROM raw_messages WHERE status = ?1
             ORDER BY received_at DESC, id DESC LIMIT ?2 OFFSET ?3"
        ))
        .ctx(what)?;
    let rows = stmt
        .query_map(params![status, limit, offset], |r| {
            Ok((from_row(r)?, r.get::<_, Vec<u8>>(8)?))
        })
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        .ctx(what)?;
    Ok(rows)
}

/// How many raw messages are in a state (an index range, not a scan).
pub fn count_by_status(conn: &Connection, status: RawStatus) -> StoreResult<i64> {
    conn.prepare_cached("SELECT COUNT(*) FROM raw_messages WHERE status = ?1")
        .and_then(|mut s| s.query_row([status], |r| r.get(0)))
        .ctx(|| format!("counting {} messages", status.as_str()))
}

/// Delete a message that is on no ticket (quarantined or rejected): an
/// admin clearing junk. A filed message is its ticket's source and stays.
/// Returns the deleted message, or None when there was none to delete.
pub fn delete_unfiled(conn: &Connection, id: RawMessageId) -> StoreResult<Option<RawMessageInfo>> {
    let what = || format!("deleting raw message {id}");
    let info = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM raw_messages
             WHERE id = ?1 AND status IN ('quarantined', 'rejected')"
        ))
        .and_then(|mut s| s.query_row([id], from_row).optional())
        .ctx(what)?;
    if info.is_some() {
        conn.prepare_cached("DELETE FROM raw_messages WHERE id = ?1")
            .and_then(|mut s| s.execute([id]))
            .ctx(what)?;
    }
    Ok(info)
}

pub fn get_info(conn: &Connection, id: RawMessageId) -> StoreResult<Option<RawMessageInfo>> {
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM raw_messages WHERE id = ?1"))
        .and_then(|mut s| s.query_row([id], from_row).optional())
        .ctx(|| format!("loading raw message {id}"))
}

/// The bytes stored for a raw message: the whole message, less the
/// stretches `parts` lists (`tickets::raw_mail::original` puts them back).
pub fn data(conn: &Connection, id: RawMessageId) -> StoreResult<Option<Vec<u8>>> {
    conn.prepare_cached("SELECT data FROM raw_messages WHERE id = ?1")
        .and_then(|mut s| s.query_row([id], |r| r.get(0)).optional())
        .ctx(|| format!("loading the contents of raw message {id}"))
}

/// A filter (or the ban list) refused the message after it was stored:
/// keep it as rejected, with the reason.
pub fn mark_rejected(conn: &Connection, id: RawMessageId, reason: &str) -> StoreResult<()> {
    conn.prepare_cached(
        "UPDATE raw_messages SET status = 'rejected', error = ?2, ticket_id = NULL WHERE id = ?1",
    )
    .and_then(|mut s| s.execute(params![id, reason]))
    .ctx(|| format!("marking raw message {id} as rejected"))?;
    Ok(())
}
