//! Full-text search over subjects, thread bodies and customer addresses
//! (the FTS5 tables of 0001), scoped to the viewer, with snippets.
//!
//! Two phases keep it fast on big databases: candidates come newest first
//! from each FTS index with a cap (and, for the web page, within a CPU-time
//! budget), and snippets are computed only for the page that is shown.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rusqlite::{params, Connection, ErrorCode, OptionalExtension};
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

/// How much CPU time reading the indexes may take by default. Walking a
/// word's whole doclist is the one cost that grows with the helpdesk: two
/// common words that never meet in one message ("mailbox full") make FTS5
/// read both lists to the end, about 27 ms at 5,000,000 messages. Within
/// this budget a desk of a few hundred thousand tickets searches all of its
/// mail; beyond it the search shows the newest matches it found and offers
/// to search everything.
pub const BUDGET: Duration = Duration::from_millis(8);

/// SQLite calls the budget check every this many VM instructions. FTS5
/// reads its pages through small statements, so the check also runs while
/// it walks a doclist: roughly every 0.4 ms of that walk.
const CHECK_EVERY_OPS: i32 = 64;

/// What a search found.
#[derive(Debug, Default)]
pub struct Found {
    pub hits: Vec<Hit>,
    /// False when the budget ran out before every index gave its newest
    /// candidates: older matches may exist.
    pub complete: bool,
}

/// Search subjects, message bodies and customer addresses for `input`,
/// newest first, within the viewer's `scope`. With a `budget`, reading the
/// indexes stops once it has used that much CPU time, keeping what it found
/// (`Found::complete` is then false); `None` reads them to the end.
pub fn search(
    conn: &Connection,
    scope: Scope,
    input: &str,
    limit: i64,
    budget: Option<Duration>,
) -> StoreResult<Found> {
    let Some(q) = fts_query(input) else {
        return Ok(Found {
            hits: Vec::new(),
            complete: true,
        });
    };
    let what = || format!("searching for {input:?}");
    // Candidates newest first per index, each its own statement so that a
    // stop keeps what came before it: subjects and addresses first (small
    // indexes), message bodies last. No snippet() here: FTS5 builds a
    // snippet by reading the row's text and tokenizing all of it, which was
    // nearly all of a search's time for 600 candidates when a page shows
    // 50; the snippets of the shown tickets are made below.
    let (subjects, emails, bodies, complete) = {
        let meter = Meter::start(conn, budget);
        let newest = |table: &str| {
            meter
                .ids(
                    &format!(
                        "SELECT rowid FROM {table} WHERE {table} MATCH ?1
                         ORDER BY rowid DESC LIMIT {CANDIDATES}"
                    ),
                    &q,
                )
                .ctx(what)
        };
        let subjects = newest("tickets_fts")?;
        let emails = newest("identities_fts")?;
        let bodies = newest("entries_fts")?;
        (subjects, emails, bodies, !meter.stopped())
    };
    // The candidates' tickets, scoped and newest first, with the id of the
    // row that matched (ticket, entry or address). CROSS JOIN keeps the few
    // hits as the outer loop: otherwise the planner may walk every ticket
    // in update order and probe the hits.
    let sql = format!(
        "WITH hits(ticket_id, field, source_id) AS MATERIALIZED (
            SELECT j.value, 'subject', j.value FROM json_each(?2) j
            UNION ALL
            SELECT e.ticket_id, 'body', e.id FROM json_each(?3) j
                JOIN entries e ON e.id = j.value
            UNION ALL
            SELECT t2.id, 'email', ci.id FROM json_each(?4) j
                JOIN customer_identities ci ON ci.id = j.value
                JOIN tickets t2 ON t2.customer_id = ci.customer_id
        )
        SELECT t.id, h.field, h.source_id FROM hits h CROSS JOIN tickets t ON t.id = h.ticket_id
        WHERE t.is_spam = 0 AND {scope}
        ORDER BY t.updated_at DESC, t.id DESC,
                 CASE h.field WHEN 'subject' THEN 0 WHEN 'body' THEN 1 ELSE 2 END",
        scope = scope.sql(1)
    );
    let mut stmt = conn.prepare_cached(&sql).ctx(what)?;
    let all: Vec<(TicketId, String, i64)> = stmt
        .query_map(
            params![
                scope.staff,
                // Row ids as JSON arrays, for `json_each`.
                serde_json::to_string(&subjects).unwrap_or_default(),
                serde_json::to_string(&bodies).unwrap_or_default(),
                serde_json::to_string(&emails).unwrap_or_default()
            ],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .ctx(what)?
        .collect::<Result<_, _>>()
        .ctx(what)?;
    // One hit per ticket: the best field (rows come best first).
    let mut candidates: Vec<(TicketId, String, i64)> = Vec::new();
    for hit in all {
        if candidates.len() as i64 >= limit {
            break;
        }
        if !candidates.iter().any(|c| c.0 == hit.0) {
            candidates.push(hit);
        }
    }
    let terms = snippet::terms(input);
    let row_sql = format!("SELECT {ROW_COLS} FROM tickets t {ROW_JOINS} WHERE t.id = ?1");
    let mut out = Vec::with_capacity(candidates.len());
    for (id, field, source_id) in candidates {
        let Some(row) = conn
            .prepare_cached(&row_sql)
            .and_then(|mut s| s.query_row([id], queue_row).optional())
            .ctx(what)?
        else {
            continue;
        };
        let text: Option<String> = match field.as_str() {
            "subject" => Some(row.subject.clone()),
            "body" => conn
                .prepare_cached("SELECT body_text FROM entries WHERE id = ?1")
                .and_then(|mut s| s.query_row([source_id], |r| r.get(0)).optional())
                .ctx(what)?,
            _ => conn
                .prepare_cached("SELECT email FROM customer_identities WHERE id = ?1")
                .and_then(|mut s| s.query_row([source_id], |r| r.get(0)).optional())
                .ctx(what)?,
        };
        out.push(Hit {
            row,
            field,
            snippet: snippet::make(text.as_deref().unwrap_or(""), &terms, SNIPPET_TOKENS),
        });
    }
    Ok(Found {
        hits: out,
        complete,
    })
}

/// Reads index candidates within a CPU-time budget. SQLite has one
/// progress handler per connection: the meter installs it for its
/// statements and removes it when dropped, so the pooled connection's next
/// user runs without it.
struct Meter<'c> {
    conn: &'c Connection,
    stopped: Arc<AtomicBool>,
    installed: bool,
}

impl<'c> Meter<'c> {
    fn start(conn: &'c Connection, budget: Option<Duration>) -> Self {
        let stopped = Arc::new(AtomicBool::new(false));
        let mut installed = false;
        if let Some(budget) = budget {
            let flag = Arc::clone(&stopped);
            let started = Instant::now();
            let cpu_start = thread_cpu_time();
            installed = conn
                .progress_handler(
                    CHECK_EVERY_OPS,
                    Some(move || {
                        // A thread cannot use more CPU time than the time
                        // that passed, so the cheap clock answers until the
                        // budget has passed on it; only then is the thread's
                        // CPU clock (a system call) read.
                        if started.elapsed() <= budget {
                            return false;
                        }
                        let over = thread_cpu_time().saturating_sub(cpu_start) > budget;
                        if over {
                            flag.store(true, Ordering::Relaxed);
                        }
                        over
                    }),
                )
                .is_ok();
        }
        Meter {
            conn,
            stopped,
            installed,
        }
    }

    fn stopped(&self) -> bool {
        self.stopped.load(Ordering::Relaxed)
    }

    /// The first column of `sql`'s rows until they end or the budget runs
    /// out; the rows that came before a stop are kept.
    fn ids(&self, sql: &str, q: &str) -> rusqlite::Result<Vec<i64>> {
        let mut out = Vec::new();
        if self.stopped() {
            return Ok(out);
        }
        let mut stmt = self.conn.prepare_cached(sql)?;
        let mut rows = stmt.query([q])?;
        loop {
            match rows.next() {
                Ok(Some(row)) => out.push(row.get(0)?),
                Ok(None) => break,
                Err(e)
                    if self.stopped()
                        && e.sqlite_error_code() == Some(ErrorCode::OperationInterrupted) =>
                {
                    break
                }
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }
}

impl Drop for Meter<'_> {
    fn drop(&mut self) {
        if self.installed {
            let _ = self.conn.progress_handler(0, None::<fn() -> bool>);
        }
    }
}

/// CPU time this thread has used: the work a search did, whatever else the
/// machine is doing.
fn thread_cpu_time() -> Duration {
    let ts = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Duration::new(
        u64::try_from(ts.tv_sec).unwrap_or(0),
        u32::try_from(ts.tv_nsec).unwrap_or(0),
    )
}

/// Words in a snippet, as FTS5's snippet(…, 16) showed them before.
const SNIPPET_TOKENS: usize = 16;

/// Snippets made in Rust, for the shown hits only: the window of a text
/// with the most query words, those words marked. Words are compared the
/// way the index's `unicode61 remove_diacritics 2` tokenizer compares them:
/// runs of letters and digits, case-folded, accents removed.
mod snippet {
    use unicode_normalization::char::is_combining_mark;
    use unicode_normalization::UnicodeNormalization;

    use super::{MARK_END, MARK_START};

    /// Characters of a text searched for the query's words.
    const MAX_SCAN_CHARS: usize = 100_000;

    /// A query word as the index sees it; `prefix` when typed with `*`.
    #[derive(Debug, PartialEq)]
    pub struct Term {
        pub folded: String,
        pub prefix: bool,
    }

    /// The query's words, split and folded as `fts_query` makes them.
    pub fn terms(input: &str) -> Vec<Term> {
        let mut out = Vec::new();
        for w in input
            .split_whitespace()
            .filter(|w| w.chars().any(char::is_alphanumeric))
            .take(12)
        {
            let stem = w.trim_end_matches('*');
            let alnum = stem.chars().filter(|c| c.is_alphanumeric()).count();
            let prefix = stem.len() < w.len() && alnum >= 3;
            let words: Vec<(usize, usize)> = tokens(stem).collect();
            let n = words.len();
            for (i, (a, b)) in words.into_iter().enumerate() {
                let folded = fold(&stem[a..b]);
                if !folded.is_empty() && !out.iter().any(|t: &Term| t.folded == folded) {
                    out.push(Term {
                        folded,
                        prefix: prefix && i + 1 == n,
                    });
                }
            }
        }
        out
    }

    /// Byte ranges of the words of `text`: runs of letters and digits.
    fn tokens(text: &str) -> impl Iterator<Item = (usize, usize)> + '_ {
        let mut chars = text.char_indices().peekable();
        std::iter::from_fn(move || {
            let (start, _) = chars.by_ref().find(|(_, c)| c.is_alphanumeric())?;
            let mut end = text.len();
            while let Some(&(i, c)) = chars.peek() {
                if !c.is_alphanumeric() {
                    end = i;
                    break;
                }
                chars.next();
            }
            Some((start, end))
        })
    }

    /// Lower case without accents: "Café" and "cafe" are one word.
    fn fold(word: &str) -> String {
        word.nfd()
            .filter(|c| !is_combining_mark(*c))
            .flat_map(char::to_lowercase)
            .collect()
    }

    fn matches(word: &str, terms: &[Term]) -> Option<usize> {
        if word.is_ascii() {
            // Most words: compare in place, no folding needed.
            return terms.iter().position(|t| {
                let n = t.folded.len();
                if t.prefix {
                    word.len() >= n
                        && word.as_bytes()[..n].eq_ignore_ascii_case(t.folded.as_bytes())
                } else {
                    word.eq_ignore_ascii_case(&t.folded)
                }
            });
        }
        let folded = fold(word);
        terms.iter().position(|t| {
            if t.prefix {
                folded.starts_with(&t.folded)
            } else {
                folded == t.folded
            }
        })
    }

    /// Up to `width` words of `text` around its best cluster of query
    /// words, those marked with `MARK_START`/`MARK_END`, and '…' where the
    /// text goes on.
    pub fn make(text: &str, terms: &[Term], width: usize) -> String {
        // A pasted log can be megabytes; the words sought are nearly always
        // near the start, and a snippet without them still shows the start.
        let text = match text.char_indices().nth(MAX_SCAN_CHARS) {
            Some((cut, _)) => &text[..cut],
            None => text,
        };
        let words: Vec<(usize, usize)> = tokens(text).collect();
        if words.is_empty() {
            return text.chars().take(200).collect();
        }
        let hits: Vec<(usize, usize)> = words
            .iter()
            .enumerate()
            .filter_map(|(i, &(a, b))| matches(&text[a..b], terms).map(|t| (i, t)))
            .collect();
        let width = width.max(1);
        // The window starting at each hit: most distinct words, then most
        // hits, then the earliest.
        let mut best = (0usize, 0usize, 0usize); // (distinct, count, start)
        for (k, &(start, _)) in hits.iter().enumerate() {
            let inside: Vec<usize> = hits[k..]
                .iter()
                .take_while(|(i, _)| *i < start + width)
                .map(|(_, t)| *t)
                .collect();
            let mut distinct = inside.clone();
            distinct.sort_unstable();
            distinct.dedup();
            let score = (distinct.len(), inside.len());
            if k == 0 || score > (best.0, best.1) {
                best = (score.0, score.1, start);
            }
        }
        let mut first = best.2;
        if let Some(last) = hits
            .iter()
            .map(|(i, _)| *i)
            .filter(|i| *i >= first && *i < first + width)
            .max()
        {
            // Centre the matched words in the window.
            let spare = width - (last - first + 1);
            first = first.saturating_sub(spare / 2);
        }
        first = first.min(words.len().saturating_sub(width));
        let end = (first + width).min(words.len());
        let mut out = String::new();
        if first > 0 {
            out.push('…');
        }
        let mut pos = words[first].0;
        for (i, &(a, b)) in words.iter().enumerate().take(end).skip(first) {
            out.push_str(&text[pos..a]);
            if hits.iter().any(|(h, _)| *h == i) {
                out.push(MARK_START);
                out.push_str(&text[a..b]);
                out.push(MARK_END);
            } else {
                out.push_str(&text[a..b]);
            }
            pos = b;
        }
        if end < words.len() {
            out.push('…');
        } else {
            out.push_str(&text[pos..]);
        }
        out
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn show(s: &str) -> String {
            s.replace(MARK_START, "[").replace(MARK_END, "]")
        }

        #[test]
        fn marks_whole_words_case_and_accent_blind() {
            let t = terms("CAFE invoice");
            assert_eq!(
                show(&make("The Café sent an invoice; invoices differ.", &t, 16)),
                "The [Café] sent an [invoice]; invoices differ."
            );
            let t = terms("invoic*");
            assert_eq!(
                show(&make("The invoice and the invoices.", &t, 16)),
                "The [invoice] and the [invoices]."
            );
        }

        #[test]
        fn a_window_around_the_best_cluster_with_ellipses() {
            let text = "one two three four five six seven eight nine ten refund eleven \
                        twelve thirteen fourteen fifteen sixteen seventeen eighteen \
                        nineteen twenty mailbox full twentyone twentytwo";
            let t = terms("mailbox full");
            let s = show(&make(text, &t, 6));
            assert_eq!(s, "…nineteen twenty [mailbox] [full] twentyone twentytwo");
            let s = show(&make(text, &t, 4));
            assert_eq!(s, "…twenty [mailbox] [full] twentyone…");
            // No hit (the index matched a form we do not fold): the start.
            let s = show(&make(text, &terms("zebra"), 3));
            assert_eq!(s, "one two three…");
        }

        #[test]
        fn right_to_left_and_ethiopic_words() {
            let t = terms("سایت");
            assert_eq!(
                show(&make("سلام، سایت ما باز نمی‌شود.", &t, 16)),
                "سلام، [سایت] ما باز نمی‌شود."
            );
            let t = terms("ኢሜይል");
            assert_eq!(show(&make("የኔ ኢሜይል አይሰራም", &t, 16)), "የኔ [ኢሜይል] አይሰራም");
            // Quotes and operators in the query are words or nothing.
            assert_eq!(
                terms("\"a\"\"b OR"),
                vec![
                    Term {
                        folded: "a".into(),
                        prefix: false
                    },
                    Term {
                        folded: "b".into(),
                        prefix: false
                    },
                    Term {
                        folded: "or".into(),
                        prefix: false
                    },
                ]
            );
            assert_eq!(show(&make("", &t, 16)), "");
        }
    }
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

#[cfg(test)]
mod budget_tests {
    use std::time::Duration;

    use super::{search, Scope};
    use crate::model::StaffId;
    use crate::store::{Store, StoreOptions};
    use crate::tickets::intake::{receive, IntakeOptions, IntakeSource};

    /// A desk with 40 tickets about a full mailbox, one of which says both
    /// words in one message, and one about a printer.
    fn desk() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&StoreOptions::new(dir.path().join("search.db"))).unwrap();
        let opts = IntakeOptions {
            max_message_bytes: 1 << 20,
            plugins: None,
        };
        for i in 0..40 {
            let body = if i == 7 {
                "My mailbox is full again."
            } else {
                "The mailbox rejects mail."
            };
            let raw = format!(
                "From: Dana <dana{i}@example.org>\r\nTo: support@example.com\r\n\
                 Subject: Mail trouble {i}\r\nMessage-ID: <m{i}@example.org>\r\n\
                 Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n\r\n{body}\r\n"
            );
            receive(&store, raw.as_bytes(), IntakeSource::Pipe, &opts).unwrap();
        }
        (dir, store)
    }

    #[test]
    fn a_search_out_of_budget_stops_without_error_and_leaves_the_connection_unbounded() {
        let (_dir, store) = desk();
        let conn = store.conn().unwrap();
        let admin = Scope {
            staff: StaffId(1),
            admin: true,
        };
        let ids = |found: &super::Found| found.hits.iter().map(|h| h.row.id).collect::<Vec<_>>();

        // Unbounded, and with a budget this search never reaches: the same
        // complete answer.
        let all = search(&conn, admin, "mailbox full", 50, None).unwrap();
        assert!(all.complete);
        assert_eq!(all.hits.len(), 1, "{:?}", all.hits);
        assert!(all.hits[0].snippet.contains("\u{2}full\u{3}"));
        let roomy = search(
            &conn,
            admin,
            "mailbox full",
            50,
            Some(Duration::from_secs(60)),
        )
        .unwrap();
        assert!(roomy.complete);
        assert_eq!(ids(&roomy), ids(&all));
        let every = search(&conn, admin, "mailbox", 50, None).unwrap();
        assert_eq!(every.hits.len(), 40);

        // No budget at all: the search stops at SQLite's first check and
        // says so, rather than failing.
        let cut = search(&conn, admin, "mailbox", 50, Some(Duration::ZERO)).unwrap();
        assert!(!cut.complete);
        assert!(cut.hits.len() < 40, "{}", cut.hits.len());

        // The check is gone afterwards: the pooled connection's next
        // statement, far longer than any budget, runs to the end.
        let n: i64 = conn
            .query_row(
                "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 200000)
                 SELECT COUNT(*) FROM c",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(n, 200_000);
        let again = search(&conn, admin, "mailbox", 50, None).unwrap();
        assert!(again.complete);
        assert_eq!(again.hits.len(), 40);
    }
}
