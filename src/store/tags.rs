//! Tags on tickets: set by inbound-mail filters and by staff, shown on the
//! ticket page, usable as a queue filter. A tag is matched without regard
//! to case ("Billing" and "billing" are one tag); the first spelling seen
//! is the one shown.

use rusqlite::{params, Connection, OptionalExtension};

use super::{Context, StoreResult};
use crate::model::TicketId;

/// Longest tag kept, in characters.
pub const MAX_LEN: usize = 40;

/// A tag as typed, trimmed, inner whitespace collapsed to single spaces and
/// cut at [`MAX_LEN`] characters; `None` when nothing is left.
pub fn clean(raw: &str) -> Option<String> {
    let joined = raw
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .filter(|c| !c.is_control() && *c != ',')
        .take(MAX_LEN)
        .collect::<String>();
    let trimmed = joined.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_string())
}

/// The key a tag is matched by.
pub fn key(name: &str) -> String {
    name.to_lowercase()
}

/// The tag's id, creating it on first use.
fn ensure(conn: &Connection, name: &str, now: i64) -> StoreResult<i64> {
    let k = key(name);
    conn.execute(
        "INSERT INTO tags (name, name_key, created_at) VALUES (?1, ?2, ?3)
         ON CONFLICT(name_key) DO NOTHING",
        params![name, k, now],
    )
    .ctx(|| format!("creating the tag {name:?}"))?;
    conn.query_row("SELECT id FROM tags WHERE name_key = ?1", [&k], |r| {
        r.get(0)
    })
    .ctx(|| format!("looking up the tag {name:?}"))
}

/// Put `name` on the ticket. Returns the tag as shown when it was added,
/// `None` when it was empty after cleaning or already on the ticket.
pub fn add(
    conn: &Connection,
    ticket: TicketId,
    name: &str,
    now: i64,
) -> StoreResult<Option<String>> {
    let Some(name) = clean(name) else {
        return Ok(None);
    };
    let tag = ensure(conn, &name, now)?;
    let n = conn
        .execute(
            "INSERT OR IGNORE INTO ticket_tags (ticket_id, tag_id, created_at) VALUES (?1, ?2, ?3)",
            params![ticket, tag, now],
        )
        .ctx(|| format!("tagging ticket id {ticket} with {name:?}"))?;
    if n == 0 {
        return Ok(None);
    }
    let shown: String = conn
        .query_row("SELECT name FROM tags WHERE id = ?1", [tag], |r| r.get(0))
        .ctx(|| format!("reading the tag {name:?}"))?;
    Ok(Some(shown))
}

/// Take `name` off the ticket. Returns the tag as shown when it was there.
pub fn remove(conn: &Connection, ticket: TicketId, name: &str) -> StoreResult<Option<String>> {
    let k = key(name.trim());
    let found: Option<(i64, String)> = conn
        .query_row(
            "SELECT g.id, g.name FROM ticket_tags tt JOIN tags g ON g.id = tt.tag_id
             WHERE tt.ticket_id = ?1 AND g.name_key = ?2",
            params![ticket, k],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .ctx(|| format!("looking up the tag {name:?} on ticket id {ticket}"))?;
    let Some((tag, shown)) = found else {
        return Ok(None);
    };
    conn.execute(
        "DELETE FROM ticket_tags WHERE ticket_id = ?1 AND tag_id = ?2",
        params![ticket, tag],
    )
    .ctx(|| format!("removing the tag {shown:?} from ticket id {ticket}"))?;
    Ok(Some(shown))
}

/// Give `into` every tag of `from` (merging tickets); returns how many
/// were new to it. `from` keeps its own.
pub fn copy(conn: &Connection, from: TicketId, into: TicketId, now: i64) -> StoreResult<usize> {
    conn.execute(
        "INSERT OR IGNORE INTO ticket_tags (ticket_id, tag_id, created_at)
         SELECT ?2, tag_id, ?3 FROM ticket_tags WHERE ticket_id = ?1",
        params![from, into, now],
    )
    .ctx(|| format!("copying the tags of ticket id {from} to ticket id {into}"))
}

/// The ticket's tags, alphabetically (by key).
pub fn of_ticket(conn: &Connection, ticket: TicketId) -> StoreResult<Vec<String>> {
    let what = || format!("listing the tags of ticket id {ticket}");
    let mut stmt = conn
        .prepare_cached(
            "SELECT g.name FROM ticket_tags tt JOIN tags g ON g.id = tt.tag_id
             WHERE tt.ticket_id = ?1 ORDER BY g.name_key",
        )
        .ctx(what)?;
    let rows = stmt.query_map([ticket], |r| r.get(0)).ctx(what)?;
    rows.collect::<Result<_, _>>().ctx(what)
}

/// Tags on at least one ticket, alphabetically (for the queue filter's
/// choices). Reads the small tags table and probes the index per tag, so it
/// stays cheap however many tickets are tagged.
pub fn in_use(conn: &Connection, limit: i64) -> StoreResult<Vec<String>> {
    let what = || "listing the tags in use".to_string();
    let mut stmt = conn
        .prepare_cached(
            "SELECT g.name FROM tags g
             WHERE EXISTS (SELECT 1 FROM ticket_tags tt WHERE tt.tag_id = g.id)
             ORDER BY g.name_key LIMIT ?1",
        )
        .ctx(what)?;
    let rows = stmt.query_map([limit], |r| r.get(0)).ctx(what)?;
    rows.collect::<Result<_, _>>().ctx(what)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_trims_collapses_and_cuts() {
        assert_eq!(clean("  spam   suspect "), Some("spam suspect".into()));
        assert_eq!(clean(" \t "), None);
        assert_eq!(clean("a,b"), Some("ab".into()));
        assert_eq!(clean(&"x".repeat(100)).map(|s| s.len()), Some(MAX_LEN));
        assert_eq!(clean("صورتحساب"), Some("صورتحساب".into()));
    }
}
