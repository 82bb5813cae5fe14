//! Raw inbound mail, kept byte for byte, without a second copy of its
//! attachments.
//!
//! The attachments of a filed message are stored decoded (and deduplicated)
//! as blobs. A base64 attachment's text in the raw copy would hold the same
//! file again, and it is most of a large message: a 2 MB message with a
//! 1.5 MB file was 3.5 MB to write and to keep. When the parser found that
//! encoding the decoded file again gives back exactly the text the message
//! carried, the raw copy leaves that text out and lists where it goes
//! (`raw_message_parts`); `original` puts it back. Anything irregular stays
//! in the raw copy as it came.

use rusqlite::Connection;

use crate::mail::parse::EncodedSource;
use crate::model::{EntryId, RawMessageId};
use crate::store::raw_messages::RawCut;
use crate::store::{self, StoreError, StoreResult};

/// The stretches of the raw message to leave out: one per attachment of
/// `entry` whose source the parser found (`sources` is in the order the
/// attachments were stored). If the entry's attachments do not line up
/// with `sources`, nothing is left out.
pub(crate) fn cuts(
    conn: &Connection,
    entry: EntryId,
    sources: &[Option<EncodedSource>],
) -> StoreResult<Vec<RawCut>> {
    if sources.iter().all(Option::is_none) {
        return Ok(Vec::new());
    }
    let blobs = store::attachments::blob_ids_for_entry(conn, entry)?;
    if blobs.len() != sources.len() {
        return Ok(Vec::new());
    }
    Ok(sources
        .iter()
        .zip(blobs)
        .filter_map(|(source, blob)| {
            source.map(|s| RawCut {
                start: s.start,
                len: s.len,
                blob,
                lines: s.lines,
            })
        })
        .collect())
}

/// Raw message `id` exactly as it was received.
pub fn original(conn: &Connection, id: RawMessageId) -> StoreResult<Option<Vec<u8>>> {
    let Some(stored) = store::raw_messages::data(conn, id)? else {
        return Ok(None);
    };
    let parts = store::raw_messages::parts(conn, id)?;
    if parts.is_empty() {
        return Ok(Some(stored));
    }
    let mut out = Vec::new();
    let mut at = 0;
    for p in parts {
        let position = p.position.clamp(at, stored.len());
        out.extend_from_slice(&stored[at..position]);
        at = position;
        let file = store::attachments::blob_data(conn, p.blob)?
            .ok_or_else(|| StoreError::NotFound(format!("file {} of raw message {id}", p.blob)))?;
        p.lines.write(&file, &mut out);
    }
    out.extend_from_slice(&stored[at..]);
    Ok(Some(out))
}
