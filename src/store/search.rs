//! Full-text search over subjects, thread bodies and customer addresses
//! (the FTS5 tables of 0001), scoped to the viewer, with snippets.
//!
//! Two phases keep it fast on big databases: candidates come newest first
//! from each FTS index with a cap, and snippets are computed only for the
//! page that is shown.

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use super::queues::{queue_row, QueueRow, Scope, ROW_COLS, ROW_JOINS};
use super::{Context, StoreResult};
use crate::model::TicketId;

/// Marks around matched words in snippets; the web layer escapes the text
/// and turns them into `<mark>`.
pub const MARK_START: char = '\u{2}';
pub const MARK_END: char = '\u{3}';

/// How many candidates each index yields before scoping.
const CANDIDATES: i64 = 200;

#[derive(Debug, Clone, Serialize)]
pub struct Hit {
    #[serde(flatten)]
    pub row: QueueRow,
    /// Which field matched: subject, body or email.
    pub field: String,
    pub snippet: String,
}

/// Turn what the user typed into an FTS5 query: every word quoted (so
/// operators and punctuation are literal) and required. A word is a prefix
/// only when the user ends it with `*` and it keeps at least three
/// characters: FTS5 answers a prefix by merging the whole doclist of every
/// matching term before it can stop at the first rows, which took seconds
/// per search (and again per snippet) at a million tickets, while an exact
/// word stops after the rows it needs.
pub fn fts_query(input: &str) -> Option<String> {
    let words: Vec<String> = input
        .split_whitespace()
        .filter(|w| w.chars().any(char::is_alphanumeric))
        .take(12)
        .map(|w| {
            let stem = w.trim_end_matches('*');
            let quoted = format!("\"{}\"", stem.replace('"', "\"\""));
            let alnum = stem.chars().filter(|c| c.is_alphanumeric()).count();
            if stem.len() < w.len() && alnum >= 3 {
                quoted + "*"
            } else {
                quoted
            }
        })
        .filter(|w| w != "\"\"")
        .collect();
    if words.is_empty() {
        return None;
    }
    Some(words.join(" "))
}

pub fn search(conn: &Connection, scope: Scope, input: &str, limit: i64) -> StoreResult<Vec<Hit>> {
    let Some(q) = fts_query(input) else {
        return Ok(Vec::new());
    };
    let what = || format!("searching for {input:?}");
    // Candidates newest first per index, with their snippets: snippet() is
    // cheap while the FTS cursor is on the row, but a later lookup by rowid
    // re-reads the whole doclist of a common word. CROSS JOIN keeps the few
    // hits as the outer loop: otherwise the planner may walk every ticket in
    // update order and probe the hits.
    let snip = |table: &str| format!("snippet({table}, 0, char(2), char(3), '…', 16)");
    let sql = format!(
        "WITH hits(ticket_id, field, snip) AS MATERIALIZED (
            SELECT * FROM (SELECT rowid, 'subject', {s1} FROM tickets_fts
                           WHERE tickets_fts MATCH ?2 ORDER BY rowid DESC LIMIT {CANDIDATES})
            UNION ALL
            SELECT e.ticket_id, 'body', f.snip FROM
                (SELECT rowid AS id, {s2} AS snip FROM entries_fts WHERE entries_fts MATCH ?2
                 ORDER BY rowid DESC LIMIT {CANDIDATES}) f
                JOIN entries e ON e.id = f.id
            UNION ALL
            SELECT t2.id, 'email', f.snip FROM
                (SELECT rowid AS id, {s3} AS snip FROM identities_fts WHERE identities_fts MATCH ?2
                 ORDER BY rowid DESC LIMIT {CANDIDATES}) f
                JOIN customer_identities ci ON ci.id = f.id
                JOIN tickets t2 ON t2.customer_id = ci.customer_id
        )
        SELECT t.id, h.field, h.snip FROM hits h CROSS JOIN tickets t ON t.id = h.ticket_id
        WHERE t.is_spam = 0 AND {scope}
        ORDER BY t.updated_at DESC, t.id DESC,
                 CASE h.field WHEN 'subject' THEN 0 WHEN 'body' THEN 1 ELSE 2 END",
        s1 = snip("tickets_fts"),
        s2 = snip("entries_fts"),
        s3 = snip("identities_fts"),
        scope = scope.sql(1)
    );
    let mut stmt = conn.prepare_cached(&sql).ctx(what)?;
    let all: Vec<(TicketId, String, String)> = stmt
        .query_map(params![scope.staff, q], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .ctx(what)?
        .collect::<Result<_, _>>()
        .ctx(what)?;
    // One hit per ticket: the best field (rows come best first).
    let mut candidates: Vec<(TicketId, String, String)> = Vec::new();
    for hit in all {
        if candidates.len() as i64 >= limit {
            break;
        }
        if !candidates.iter().any(|c| c.0 == hit.0) {
            candidates.push(hit);
        }
    }
    let row_sql = format!("SELECT {ROW_COLS} FROM tickets t {ROW_JOINS} WHERE t.id = ?1");
    let mut out = Vec::with_capacity(candidates.len());
    for (id, field, snippet) in candidates {
        let Some(row) = conn
            .prepare_cached(&row_sql)
            .and_then(|mut s| s.query_row([id], queue_row).optional())
            .ctx(what)?
        else {
            continue;
        };
        out.push(Hit {
            row,
            field,
            snippet,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod fts_query_tests {
    use super::fts_query;

    #[test]
    fn words_are_exact_unless_the_user_asks_for_a_prefix() {
        assert_eq!(
            fts_query("mailbox full").as_deref(),
            Some("\"mailbox\" \"full\"")
        );
        assert_eq!(fts_query("certif*").as_deref(), Some("\"certif\"*"));
        // Too short to be a useful prefix: searched as a word.
        assert_eq!(fts_query("ce*").as_deref(), Some("\"ce\""));
        assert_eq!(
            fts_query("a\"b OR c").as_deref(),
            Some("\"a\"\"b\" \"OR\" \"c\"")
        );
        assert_eq!(fts_query("سایت").as_deref(), Some("\"سایت\""));
        assert_eq!(fts_query("  ** -- ").as_deref(), None);
    }
}
