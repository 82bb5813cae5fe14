//! Mail intake: raw bytes from the MTA pipe or the HTTP intake become a new
//! ticket or a message on an existing one, losing nothing.
//!
//! One message, one immediate transaction: the raw message, the ticket, the
//! entry, its attachments and the events commit together or not at all, so
//! a failed delivery the MTA retries leaves no trace, and a redelivery of a
//! stored message (same dedupe key) is recognised and stored once.

use std::borrow::Cow;
use std::sync::Arc;

use rusqlite::{Connection, Transaction, TransactionBehavior};

use super::content::{Body, MailInfo, NewAttachment};
use super::events::Actor;
use super::open::{append_message_in, open_in, resolve_customer, NewMessage, NewTicket};
use super::{numbers, TicketError};
use crate::config::Config;
use crate::mail::parse::{self, Inbound};
use crate::model::{RawMessageId, RawStatus, Source, Ticket, TicketId};
use crate::plugin::{self, FilterOutcome, Registry};
use crate::store::{self, raw_messages::NewRawRow, Store, StoreError};

/// How the message reached us (kept on the raw message).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntakeSource {
    Pipe,
    Api,
}

impl IntakeSource {
    pub fn as_str(self) -> &'static str {
        match self {
            IntakeSource::Pipe => "pipe",
            IntakeSource::Api => "api",
        }
    }
}

#[derive(Debug, Clone)]
pub struct IntakeOptions {
    /// Largest message accepted, in bytes.
    pub max_message_bytes: u64,
    /// Plugins whose inbound filters see each message before it is filed.
    pub plugins: Option<Arc<Registry>>,
}

impl IntakeOptions {
    pub fn from_config(config: &Config) -> IntakeOptions {
        IntakeOptions {
            max_message_bytes: config.mail.max_message_bytes,
            // Only when some plugin is configured: the pipe stays lean.
            plugins: (!config.plugins.is_empty())
                .then(|| Arc::new(Registry::from_config(config, None))),
        }
    }
}

/// What became of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IntakeOutcome {
    NewTicket {
        ticket: TicketId,
        number: String,
    },
    Appended {
        ticket: TicketId,
        number: String,
        reopened: bool,
    },
    /// Already stored (an MTA retry): nothing was added. `number` is None
    /// when the earlier delivery is in the quarantine.
    Duplicate {
        raw_id: RawMessageId,
        number: Option<String>,
    },
    /// Could not be filed; kept raw in the quarantine.
    Quarantined {
        raw_id: RawMessageId,
        reason: String,
    },
    /// An inbound filter (spam) refused it: no ticket; kept raw as rejected.
    Rejected {
        raw_id: RawMessageId,
        reason: String,
    },
}

impl IntakeOutcome {
    /// The name used in JSON and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            IntakeOutcome::NewTicket { .. } => "new_ticket",
            IntakeOutcome::Appended { .. } => "appended",
            IntakeOutcome::Duplicate { .. } => "duplicate",
            IntakeOutcome::Quarantined { .. } => "quarantined",
            IntakeOutcome::Rejected { .. } => "rejected",
        }
    }

    /// The ticket number the message ended up on, if any.
    pub fn number(&self) -> Option<&str> {
        match self {
            IntakeOutcome::NewTicket { number, .. } | IntakeOutcome::Appended { number, .. } => {
                Some(number)
            }
            IntakeOutcome::Duplicate { number, .. } => number.as_deref(),
            IntakeOutcome::Quarantined { .. } | IntakeOutcome::Rejected { .. } => None,
        }
    }

    /// One line for the log: "new ticket #N", "appended to #N", …
    pub fn log_line(&self) -> String {
        match self {
            IntakeOutcome::NewTicket { number, .. } => format!("new ticket #{number}"),
            IntakeOutcome::Appended {
                number, reopened, ..
            } => {
                if *reopened {
                    format!("appended to #{number} (reopened)")
                } else {
                    format!("appended to #{number}")
                }
            }
            IntakeOutcome::Duplicate {
                number: Some(n), ..
            } => format!("duplicate of #{n}"),
            IntakeOutcome::Duplicate { raw_id, .. } => {
                format!("duplicate of raw message {raw_id}, which is on no ticket")
            }
            IntakeOutcome::Quarantined { raw_id, reason } => {
                format!("quarantined as {raw_id} ({reason})")
            }
            IntakeOutcome::Rejected { raw_id, reason } => {
                format!("rejected, kept as {raw_id} ({reason})")
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    #[error(
        "the message is {size} bytes, over the limit of {limit} bytes (mail.max_message_bytes)"
    )]
    TooLarge { size: u64, limit: u64 },
    /// Busy, locked or read-only database: try again later.
    #[error("{0}")]
    Temporary(StoreError),
    #[error("{0}")]
    Failed(StoreError),
}

impl IntakeError {
    pub fn is_temporary(&self) -> bool {
        matches!(self, IntakeError::Temporary(_))
    }
}

impl From<StoreError> for IntakeError {
    fn from(e: StoreError) -> IntakeError {
        if e.is_temporary() {
            IntakeError::Temporary(e)
        } else {
            IntakeError::Failed(e)
        }
    }
}

impl From<TicketError> for IntakeError {
    fn from(e: TicketError) -> IntakeError {
        match e {
            TicketError::Store(e) => e.into(),
            other => IntakeError::Failed(StoreError::Invalid(other.to_string())),
        }
    }
}

/// File one raw message.
pub fn receive(
    store: &Store,
    raw: &[u8],
    source: IntakeSource,
    opts: &IntakeOptions,
) -> Result<IntakeOutcome, IntakeError> {
    let prepared = prepare(store, Cow::Borrowed(raw), source, opts)?;
    let mut conn = store.conn()?;
    let mut tx = begin(&mut conn)?;
    let outcome = file_prepared(&mut tx, prepared)?;
    tx.commit()
        .map_err(|e| StoreError::wrap("committing the message", e))?;
    Ok(outcome)
}

/// A message checked, parsed and filtered: the work done before taking the
/// database's write lock, ready for `file_prepared` or `file_batch`.
pub struct Prepared<'a> {
    raw: Cow<'a, [u8]>,
    source: IntakeSource,
    key: String,
    parsed: Result<Inbound, parse::ParseError>,
    verdict: Option<FilterOutcome>,
}

/// Check the size, compute the dedupe key, parse, and run the plugins'
/// inbound filters (which may take their time, up to their deadline).
pub fn prepare<'a>(
    store: &Store,
    raw: Cow<'a, [u8]>,
    source: IntakeSource,
    opts: &IntakeOptions,
) -> Result<Prepared<'a>, IntakeError> {
    let size = raw.len() as u64;
    if size > opts.max_message_bytes {
        return Err(IntakeError::TooLarge {
            size,
            limit: opts.max_message_bytes,
        });
    }
    let key = parse::dedupe_key(&raw);
    let parsed = parse::parse(&raw);
    let verdict = match (&parsed, &opts.plugins) {
        (Ok(inbound), Some(plugins)) => {
            Some(plugins.filter_inbound_with(&plugin::inbound_mail(inbound), Some(store)))
        }
        _ => None,
    };
    Ok(Prepared {
        raw,
        source,
        key,
        parsed,
        verdict,
    })
}

/// Most messages filed in one transaction by `file_batch`.
pub const MAX_BATCH: usize = 16;

/// File several prepared messages in one transaction: one commit (and one
/// fsync) for all, and the pages they share (the ends of the indexes, the
/// full-text segments) written once. Each message runs in its own
/// savepoint, so one that fails leaves the others; the messages see each
/// other in order, so a redelivery or a reply within the batch is a
/// duplicate or threads like one that came later. Results come in the
/// order of `batch`; if the transaction cannot begin or commit, every
/// message gets that error (nothing of the batch is stored).
pub fn file_batch(
    store: &Store,
    batch: Vec<Prepared<'_>>,
) -> Vec<Result<IntakeOutcome, IntakeError>> {
    let n = batch.len();
    let all_fail = |e: IntakeError| -> Vec<Result<IntakeOutcome, IntakeError>> {
        let text = e.to_string();
        (0..n)
            .map(|_| {
                Err(match &e {
                    IntakeError::Temporary(_) => {
                        IntakeError::Temporary(StoreError::Pool(text.clone()))
                    }
                    _ => IntakeError::Failed(StoreError::Invalid(text.clone())),
                })
            })
            .collect()
    };
    let mut conn = match store.conn() {
        Ok(c) => c,
        Err(e) => return all_fail(e.into()),
    };
    let mut tx = match begin(&mut conn) {
        Ok(tx) => tx,
        Err(e) => return all_fail(e),
    };
    let mut results = Vec::with_capacity(n);
    for prepared in batch {
        let result = tx
            .execute_batch("SAVEPOINT intake_batch_message")
            .map_err(|e| IntakeError::from(StoreError::wrap("storing the message", e)))
            .and_then(|()| file_prepared(&mut tx, prepared));
        let end = if result.is_ok() {
            "RELEASE intake_batch_message"
        } else {
            "ROLLBACK TO intake_batch_message; RELEASE intake_batch_message"
        };
        if let Err(e) = tx.execute_batch(end) {
            return all_fail(StoreError::wrap("storing the message", e).into());
        }
        results.push(result);
    }
    match tx.commit() {
        Ok(()) => results,
        Err(e) => all_fail(StoreError::wrap("committing the messages", e).into()),
    }
}

/// File a prepared message inside `tx` (the caller commits).
pub fn file_prepared(
    tx: &mut Transaction<'_>,
    prepared: Prepared<'_>,
) -> Result<IntakeOutcome, IntakeError> {
    let Prepared {
        raw,
        source,
        key,
        parsed,
        verdict,
    } = prepared;
    let raw: &[u8] = &raw;
    let rejected = verdict.as_ref().and_then(|v| v.reject.clone());
    if let Some((raw_id, ticket, _)) = store::raw_messages::find_by_dedupe_key(tx, &key)? {
        let number = match ticket {
            Some(t) => store::tickets::number_of(tx, t)?,
            None => None,
        };
        return Ok(IntakeOutcome::Duplicate { raw_id, number });
    }
    // Banned senders (the staff UI's "ban sender", or an admin's list) are
    // refused like a filter's rejection: kept raw, no ticket, no reply.
    let rejected = match (&parsed, rejected) {
        (_, Some(reason)) => Some(reason),
        (Ok(inbound), None) => store::bans::matching_entry(tx, &inbound.from.email)?
            .map(|entry| format!("the sender {} is banned ({entry})", inbound.from.email)),
        (Err(_), None) => None,
    };
    let message_id = parsed.as_ref().ok().and_then(|m| m.message_id.clone());
    let row = NewRawRow {
        dedupe_key: &key,
        message_id: message_id.as_deref(),
        data: raw,
        source: source.as_str(),
        status: RawStatus::Quarantined,
        error: None,
        now: store::now(),
    };
    // The raw message is written once, with its final status: updating its
    // row afterwards would rewrite the whole record, the message included
    // (twice the WAL traffic and memory for a large mail).
    let outcome = match (parsed, rejected) {
        (_, Some(reason)) => {
            let raw_id = store::raw_messages::insert(
                tx,
                &NewRawRow {
                    status: RawStatus::Rejected,
                    error: Some(&reason),
                    ..row
                },
            )?;
            IntakeOutcome::Rejected { raw_id, reason }
        }
        (Ok(inbound), None) => file_or_quarantine(tx, inbound, Raw::New(row), verdict.as_ref())?,
        (Err(e), None) => {
            let reason = e.to_string();
            let raw_id = store::raw_messages::insert(
                tx,
                &NewRawRow {
                    error: Some(&reason),
                    ..row
                },
            )?;
            IntakeOutcome::Quarantined { raw_id, reason }
        }
    };
    Ok(outcome)
}

/// Parse a quarantined message again (after a parser fix) and file it.
/// A message that still cannot be filed stays quarantined with the new
/// reason.
pub fn retry(store: &Store, raw_id: RawMessageId) -> Result<IntakeOutcome, IntakeError> {
    let (info, data) = {
        let conn = store.conn()?;
        let info = store::raw_messages::get_info(&conn, raw_id)?
            .ok_or_else(|| StoreError::NotFound(format!("raw message {raw_id}")))?;
        let data = super::raw_mail::original(&conn, raw_id)?
            .ok_or_else(|| StoreError::NotFound(format!("raw message {raw_id}")))?;
        (info, data)
    };
    if info.status != RawStatus::Quarantined {
        let number = match info.ticket_id {
            Some(t) => store::tickets::number_of(&*store.conn()?, t)?,
            None => None,
        };
        return Ok(IntakeOutcome::Duplicate { raw_id, number });
    }
    let parsed = parse::parse(&data);
    let mut conn = store.conn()?;
    let mut tx = begin(&mut conn)?;
    let outcome = match parsed {
        Ok(inbound) => file_or_quarantine(&mut tx, inbound, Raw::Stored(raw_id), None)?,
        Err(e) => quarantine(&tx, raw_id, &e.to_string())?,
    };
    tx.commit()
        .map_err(|e| StoreError::wrap("committing the message", e))?;
    Ok(outcome)
}

fn begin(conn: &mut Connection) -> Result<Transaction<'_>, IntakeError> {
    Ok(conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| StoreError::wrap("starting to store the message", e))?)
}

fn quarantine(
    tx: &Connection,
    raw_id: RawMessageId,
    reason: &str,
) -> Result<IntakeOutcome, IntakeError> {
    store::raw_messages::set_error(tx, raw_id, reason)?;
    Ok(IntakeOutcome::Quarantined {
        raw_id,
        reason: reason.to_string(),
    })
}

/// The raw message being filed: already in `raw_messages` (a quarantined
/// message retried), or new, written once its outcome is known.
enum Raw<'a> {
    Stored(RawMessageId),
    New(NewRawRow<'a>),
}

/// File a parsed message; a message the domain refuses (an unusable sender
/// address, say) is quarantined instead, its partial writes rolled back.
fn file_or_quarantine(
    tx: &mut Transaction<'_>,
    inbound: Inbound,
    raw: Raw<'_>,
    verdict: Option<&FilterOutcome>,
) -> Result<IntakeOutcome, IntakeError> {
    let sp = tx
        .savepoint()
        .map_err(|e| StoreError::wrap("storing the message", e))?;
    match file(&sp, inbound, &raw, verdict) {
        Ok(outcome) => {
            sp.commit()
                .map_err(|e| StoreError::wrap("storing the message", e))?;
            Ok(outcome)
        }
        Err(TicketError::Store(e)) => Err(e.into()),
        // A filter (or the ban list) refused it: no ticket, the raw message
        // kept as rejected with the reason, the refusal logged.
        Err(TicketError::Rejected(r)) => {
            drop(sp);
            super::rules_apply::record_rejection(tx, &r).map_err(IntakeError::from)?;
            let raw_id = match raw {
                Raw::Stored(raw_id) => {
                    store::raw_messages::mark_rejected(tx, raw_id, &r.reason)?;
                    raw_id
                }
                Raw::New(row) => store::raw_messages::insert(
                    tx,
                    &NewRawRow {
                        status: RawStatus::Rejected,
                        error: Some(&r.reason),
                        ..row
                    },
                )?,
            };
            Ok(IntakeOutcome::Rejected {
                raw_id,
                reason: r.reason,
            })
        }
        Err(refused) => {
            drop(sp); // rolls back to the savepoint
            let reason = refused.to_string();
            match raw {
                Raw::Stored(raw_id) => quarantine(tx, raw_id, &reason),
                Raw::New(row) => {
                    let row = NewRawRow {
                        status: RawStatus::Quarantined,
                        error: Some(&reason),
                        ..row
                    };
                    let raw_id = store::raw_messages::insert(tx, &row)?;
                    Ok(IntakeOutcome::Quarantined { raw_id, reason })
                }
            }
        }
    }
}

/// Thread the message onto a ticket (or open one) and record the raw
/// message as filed there. A new ticket follows the filters' verdict: spam
/// is kept but marked (closed, hidden from queues, no auto-response), a
/// reroute names its department.
fn file(
    tx: &Connection,
    mut inbound: Inbound,
    raw: &Raw<'_>,
    verdict: Option<&FilterOutcome>,
) -> Result<IntakeOutcome, TicketError> {
    let now = store::now();
    let email = super::content::validate_email(&inbound.from.email)?;
    let name = inbound.from.name.trim().to_string();
    let customer = resolve_customer(tx, &email, &name, now)?;
    let actor = Actor::Customer {
        id: customer,
        name: if name.is_empty() {
            email.clone()
        } else {
            name.clone()
        },
    };
    let existing = find_thread(tx, &inbound, &email)?;
    let mail = MailInfo {
        message_id: inbound.message_id.clone(),
        in_reply_to: inbound.in_reply_to.clone(),
        references: inbound.references.clone(),
        raw_message_id: match raw {
            Raw::Stored(id) => Some(*id),
            Raw::New(_) => None, // set below, once the row exists
        },
        auto: inbound.auto.clone(),
        recipients: super::rules::recipients_of(&inbound),
        headers: std::mem::take(&mut inbound.headers),
    };
    let body = Body {
        text: inbound.text,
        html: inbound.html,
    };
    // Where each file's base64 text sits in the raw message, when the raw
    // copy can point at the stored file instead (see `raw_mail`).
    let sources: Vec<_> = inbound.attachments.iter().map(|a| a.source).collect();
    let attachments: Vec<NewAttachment> = inbound.attachments.into_iter().map(Into::into).collect();
    let (ticket, entry, outcome) = match existing {
        Some(ticket) => {
            let a = append_message_in(
                tx,
                &actor,
                ticket.id,
                NewMessage {
                    author_email: Some(email),
                    author_name: name,
                    body,
                    attachments,
                    mail: Some(mail),
                },
            )?;
            let outcome = IntakeOutcome::Appended {
                ticket: a.ticket,
                number: a.number,
                reopened: a.reopened,
            };
            (a.ticket, a.entry, outcome)
        }
        None => {
            let mut new = NewTicket::new(Source::Email, email, name, inbound.subject, body);
            new.attachments = attachments;
            new.mail = Some(mail);
            let spam = verdict.and_then(|v| v.spam.as_ref());
            if let Some(v) = verdict {
                new.suppress_auto_response |= v.suppress_auto_response();
                new.department = match &v.department {
                    Some(d) => store::plugins::department_by_name(tx, d)?,
                    None => None,
                };
            }
            let o = open_in(tx, &actor, new)?;
            // Tags the filters put on the message go on the ticket it opens.
            if let Some(v) = verdict.filter(|v| !v.tags.is_empty()) {
                let change =
                    super::tags::change_tags_in(tx, &Actor::System, o.ticket, &v.tags, &[])?;
                tracing::info!(tags = ?change.added, "inbound filters tagged the ticket");
            }
            if let Some(spam) = spam {
                super::mark_spam_in(tx, &Actor::System, o.ticket)?;
                store::spam::withdraw_queued_mail(tx, o.ticket)?;
                tracing::info!(
                    ticket = %o.number,
                    score = spam.score,
                    "marked as spam: {}",
                    spam.reason
                );
            }
            let outcome = IntakeOutcome::NewTicket {
                ticket: o.ticket,
                number: o.number,
            };
            (o.ticket, o.entry, outcome)
        }
    };
    match raw {
        Raw::Stored(id) => store::raw_messages::mark_stored(tx, *id, ticket)?,
        Raw::New(row) => {
            let cuts = super::raw_mail::cuts(tx, entry, &sources)?;
            let id = store::raw_messages::insert_filed(tx, row, ticket, &cuts)?;
            store::entries::set_raw_message_id(tx, entry, id)?;
        }
    }
    Ok(outcome)
}

/// How many Message-IDs of a References chain to look up at most.
const MAX_THREAD_IDS: usize = 30;

/// The ticket a message belongs to: a stored entry (customer message or
/// our response) whose Message-ID the message replies to, else a subject
/// token `[#NUMBER]` naming a ticket of the same customer. Tokens alone
/// are not trusted from strangers: anyone can type a number into a subject,
/// while a Message-ID of ours is only known to those who got our mail.
fn find_thread(
    tx: &Connection,
    inbound: &Inbound,
    sender: &str,
) -> Result<Option<Ticket>, TicketError> {
    let own = inbound.message_id.as_deref();
    let candidates = inbound
        .in_reply_to
        .iter()
        .chain(inbound.references.iter().rev())
        .filter(|id| Some(id.as_str()) != own)
        .take(MAX_THREAD_IDS);
    for id in candidates {
        if let Some(t) = store::entries::ticket_by_message_id(tx, id)? {
            return Ok(Some(follow_merges(tx, store::tickets::get(tx, t)?)?));
        }
    }
    for token in numbers::subject_tokens(&inbound.subject) {
        if let Some(t) = store::tickets::find_by_number(tx, token)? {
            let t = follow_merges(tx, t)?;
            if store::customers::has_email(tx, t.customer_id, sender)? {
                return Ok(Some(t));
            }
        }
    }
    Ok(None)
}

/// A merged ticket's mail goes to the ticket it was merged into.
fn follow_merges(tx: &Connection, mut t: Ticket) -> Result<Ticket, TicketError> {
    for _ in 0..16 {
        match t.merged_into_id {
            Some(into) => t = store::tickets::get(tx, into)?,
            None => break,
        }
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreOptions;

    fn mail(id: &str, in_reply_to: Option<&str>, subject: &str) -> Vec<u8> {
        let reply = in_reply_to
            .map(|r| format!("In-Reply-To: <{r}>\r\n"))
            .unwrap_or_default();
        format!(
            "From: Dana <dana@example.org>\r\nTo: support@example.com\r\n\
             Subject: {subject}\r\nMessage-ID: <{id}>\r\n{reply}\
             Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n\r\nThe printer is on fire.\r\n"
        )
        .into_bytes()
    }

    fn desk() -> (tempfile::TempDir, Store, IntakeOptions) {
        let dir = tempfile::tempdir().unwrap();
        let mut opts = StoreOptions::new(dir.path().join("batch.db"));
        opts.busy_timeout = std::time::Duration::from_millis(100);
        let store = Store::open(&opts).unwrap();
        let intake = IntakeOptions {
            max_message_bytes: 1 << 20,
            plugins: None,
        };
        (dir, store, intake)
    }

    fn raw_count(store: &Store) -> i64 {
        store
            .conn()
            .unwrap()
            .query_row("SELECT COUNT(*) FROM raw_messages", [], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn a_batch_files_in_order_and_each_message_sees_the_ones_before() {
        let (_dir, store, opts) = desk();
        let first = mail("first@example.org", None, "Printer on fire");
        let reply = mail(
            "reply@example.org",
            Some("first@example.org"),
            "Re: Printer",
        );
        let batch = [&first, &first, &reply]
            .into_iter()
            .map(|m| prepare(&store, Cow::Owned(m.clone()), IntakeSource::Pipe, &opts).unwrap())
            .collect();
        let results = file_batch(&store, batch);
        let number = match &results[0] {
            Ok(IntakeOutcome::NewTicket { number, .. }) => number.clone(),
            other => panic!("the first opens a ticket: {other:?}"),
        };
        assert!(
            matches!(&results[1], Ok(IntakeOutcome::Duplicate { number: Some(n), .. }) if *n == number),
            "the redelivery in the same batch is a duplicate: {:?}",
            results[1]
        );
        assert!(
            matches!(&results[2], Ok(IntakeOutcome::Appended { number: n, .. }) if *n == number),
            "the reply threads onto the ticket opened earlier in the batch: {:?}",
            results[2]
        );
        assert_eq!(raw_count(&store), 2);
    }

    #[test]
    fn a_batch_that_cannot_take_the_write_lock_stores_nothing_and_fails_every_message() {
        let (dir, store, opts) = desk();
        let batch = ["one@example.org", "two@example.org"]
            .into_iter()
            .map(|id| {
                prepare(
                    &store,
                    Cow::Owned(mail(id, None, "Hello")),
                    IntakeSource::Pipe,
                    &opts,
                )
                .unwrap()
            })
            .collect();
        let mut holder = Connection::open(dir.path().join("batch.db")).unwrap();
        let lock = holder
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .unwrap();
        let results = file_batch(&store, batch);
        lock.rollback().unwrap();
        assert_eq!(results.len(), 2);
        for r in &results {
            assert!(
                matches!(r, Err(IntakeError::Temporary(_))),
                "a busy database is a temporary failure for each: {r:?}"
            );
        }
        assert_eq!(raw_count(&store), 0);
    }

    /// A message with two base64 files: one laid out regularly (CRLF,
    /// 76 characters a line), one with a ragged line.
    fn mail_with_files(id: &str, regular: &[u8], ragged: &[u8]) -> Vec<u8> {
        use base64::Engine as _;
        let b64 = |d: &[u8]| base64::engine::general_purpose::STANDARD.encode(d);
        let wrap = |t: String| -> String {
            t.as_bytes()
                .chunks(76)
                .map(|c| std::str::from_utf8(c).unwrap())
                .collect::<Vec<_>>()
                .join("\r\n")
        };
        let mut ragged_text = wrap(b64(ragged));
        if ragged_text.len() > 150 {
            ragged_text.insert_str(150, "\r\n");
        }
        format!(
            "From: Dana <dana@example.org>\r\nTo: support@example.com\r\n\
             Subject: Logs\r\nMessage-ID: <{id}>\r\nMIME-Version: 1.0\r\n\
             Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n\
             --b1\r\nContent-Type: text/plain\r\n\r\nLogs attached.\r\n\
             --b1\r\nContent-Type: application/octet-stream; name=\"a.bin\"\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n{}\r\n\
             --b1\r\nContent-Type: application/octet-stream; name=\"b.bin\"\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n{}\r\n--b1--\r\n",
            wrap(b64(regular)),
            ragged_text
        )
        .into_bytes()
    }

    #[test]
    fn the_raw_copy_points_at_stored_files_and_gives_back_every_byte() {
        let (_dir, store, opts) = desk();
        let regular: Vec<u8> = (0..60_000u32).map(|i| (i * 31 % 253) as u8).collect();
        let ragged: Vec<u8> = (0..20_000u32).map(|i| (i * 17 % 241) as u8).collect();
        let raw = mail_with_files("files@example.org", &regular, &ragged);
        let outcome = receive(&store, &raw, IntakeSource::Pipe, &opts).unwrap();
        assert!(
            matches!(outcome, IntakeOutcome::NewTicket { .. }),
            "{outcome:?}"
        );
        // A second message carrying the same regular file points at the
        // same (deduplicated) blob.
        let again = mail_with_files("again@example.org", &regular, b"other file");
        receive(&store, &again, IntakeSource::Pipe, &opts).unwrap();

        let conn = store.conn().unwrap();
        let rows: Vec<(i64, i64, i64)> = conn
            .prepare("SELECT id, size, length(data) FROM raw_messages ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(rows.len(), 2);
        for ((id, size, stored), original) in rows.iter().zip([&raw, &again]) {
            assert_eq!(*size as usize, original.len());
            let back = super::super::raw_mail::original(&conn, RawMessageId(*id))
                .unwrap()
                .unwrap();
            assert!(
                back == *original,
                "raw message {id} comes back byte for byte"
            );
            // The regular file's 80 KB of text is left out; the ragged one
            // (first message) stays.
            assert!(
                (*stored as usize) < original.len() - 79_000,
                "{stored} of {size} bytes stored"
            );
        }
        assert!(
            rows[0].2 > 26_000,
            "the ragged file's text stays in the raw copy: {} bytes",
            rows[0].2
        );
        let parts: Vec<(i64, i64)> = conn
            .prepare(
                "SELECT raw_message_id, blob_id FROM raw_message_parts ORDER BY raw_message_id",
            )
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(parts.len(), 2, "one part per message: {parts:?}");
        assert_eq!(parts[0].1, parts[1].1, "both point at the one stored file");
    }
}
