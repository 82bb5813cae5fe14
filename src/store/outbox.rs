//! The outbox: outgoing mail, written in the transaction of the change that
//! causes it and delivered by the worker in `mail::send::worker`.
//!
//! A row moves queued → sending (claimed with a lease) → sent, or back to
//! queued with a later `next_attempt_at` on a temporary failure, or to failed
//! on a permanent one. A `sending` row whose lease has expired belongs to a
//! worker that died and is claimed again.

use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::Serialize;

use super::{Context, StoreResult};
use crate::model::{EntryId, TicketId};

/// What `insert` stores.
#[derive(Debug, Clone)]
pub struct NewOutboxMail {
    pub kind: String,
    pub ticket: Option<TicketId>,
    pub entry: Option<EntryId>,
    pub message_id: String,
    pub envelope_from: String,
    pub recipients: Vec<String>,
    pub subject: String,
    pub raw: Vec<u8>,
}

/// One outbox row without its raw message (for listings).
#[derive(Debug, Clone, Serialize)]
pub struct OutboxRow {
    pub id: i64,
    pub kind: String,
    pub ticket_id: Option<TicketId>,
    pub entry_id: Option<EntryId>,
    pub message_id: String,
    pub envelope_from: String,
    pub recipients: Vec<String>,
    pub subject: String,
    pub state: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub lease_until: Option<i64>,
    pub last_answer: Option<String>,
    pub created_at: i64,
    pub sent_at: Option<i64>,
    pub size: i64,
}

/// A row a worker has claimed for delivery.
#[derive(Debug, Clone)]
pub struct ClaimedMail {
    pub id: i64,
    pub claim: String,
    pub envelope_from: String,
    pub recipients: Vec<String>,
    pub raw: Vec<u8>,
    pub attempts: i64,
    /// When it was queued (or queued again by an admin): the give-up clock.
    pub queued_at: i64,
    pub kind: String,
    pub ticket: Option<TicketId>,
    pub entry: Option<EntryId>,
    pub message_id: String,
    /// Set when the message is still to be rendered (`raw` is empty then):
    /// what to build, see `mail::send::deferred`.
    pub render: Option<String>,
}

const ROW_COLUMNS: &str = "id, kind, ticket_id, entry_id, message_id, envelope_from, recipients,
    subject, state, attempts, next_attempt_at, lease_until, last_answer, created_at, sent_at,
    length(raw)";

fn split_recipients(s: &str) -> Vec<String> {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

fn row(r: &Row<'_>) -> rusqlite::Result<OutboxRow> {
    let recipients: String = r.get(6)?;
    Ok(OutboxRow {
        id: r.get(0)?,
        kind: r.get(1)?,
        ticket_id: r.get(2)?,
        entry_id: r.get(3)?,
        message_id: r.get(4)?,
        envelope_from: r.get(5)?,
        recipients: split_recipients(&recipients),
        subject: r.get(7)?,
        state: r.get(8)?,
        attempts: r.get(9)?,
        next_attempt_at: r.get(10)?,
        lease_until: r.get(11)?,
        last_answer: r.get(12)?,
        created_at: r.get(13)?,
        sent_at: r.get(14)?,
        size: r.get(15)?,
    })
}

/// Queue a message, due now.
pub fn insert(conn: &Connection, mail: &NewOutboxMail) -> StoreResult<i64> {
    let now = super::now();
    let recipients: Vec<String> = mail.recipients.iter().map(|r| r.to_lowercase()).collect();
    conn.execute(
        "INSERT INTO outbox (kind, ticket_id, entry_id, message_id, envelope_from, recipients,
                             subject, raw, state, attempts, next_attempt_at, queued_at, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'queued', 0, ?9, ?9, ?9)",
        params![
            mail.kind,
            mail.ticket,
            mail.entry,
            mail.message_id,
            mail.envelope_from,
            recipients.join("\n"),
            mail.subject,
            mail.raw,
            now
        ],
    )
    .ctx(|| format!("queueing a {} mail to {}", mail.kind, recipients.join(", ")))?;
    Ok(conn.last_insert_rowid())
}

/// Queue a message to be rendered by the worker just before its first
/// delivery attempt: `mail.raw` is empty and `render` says what to build.
/// Message-ID, recipient and envelope sender are fixed now.
pub fn insert_to_render(conn: &Connection, mail: &NewOutboxMail, render: &str) -> StoreResult<i64> {
    let now = super::now();
    let recipients: Vec<String> = mail.recipients.iter().map(|r| r.to_lowercase()).collect();
    conn.prepare_cached(
        "INSERT INTO outbox (kind, ticket_id, entry_id, message_id, envelope_from, recipients,
                             subject, raw, render, state, attempts, next_attempt_at, queued_at,
                             created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, X'', ?8, 'queued', 0, ?9, ?9, ?9)",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            mail.kind,
            mail.ticket,
            mail.entry,
            mail.message_id,
            mail.envelope_from,
            recipients.join("\n"),
            mail.subject,
            render,
            now
        ])
    })
    .ctx(|| format!("queueing a {} mail to {}", mail.kind, recipients.join(", ")))?;
    Ok(conn.last_insert_rowid())
}

/// Store the message the worker rendered for a claimed row (its subject
/// and complete bytes) so every later attempt sends exactly these bytes.
/// False when the claim was lost.
pub fn set_rendered(
    conn: &Connection,
    id: i64,
    claim: &str,
    subject: &str,
    raw: &[u8],
) -> StoreResult<bool> {
    let n = conn
        .execute(
            "UPDATE outbox SET subject = ?3, raw = ?4, render = NULL,
                    lease_until = lease_until + length(?4) / 10000
             WHERE id = ?1 AND claim = ?2",
            params![id, claim, subject, raw],
        )
        .ctx(|| format!("storing the rendered outgoing mail {id}"))?;
    Ok(n == 1)
}

/// Whether a row is still waiting to be rendered by the worker.
pub fn is_unrendered(conn: &Connection, id: i64) -> StoreResult<bool> {
    conn.query_row(
        "SELECT render IS NOT NULL FROM outbox WHERE id = ?1",
        [id],
        |r| r.get(0),
    )
    .optional()
    .map(|v| v.unwrap_or(false))
    .ctx(|| format!("loading outgoing mail {id}"))
}

/// How many `kind` mails were queued for exactly `recipient` since `since`
/// (the auto-response loop limit).
pub fn count_recent(
    conn: &Connection,
    kind: &str,
    recipient: &str,
    since: i64,
) -> StoreResult<i64> {
    conn.query_row(
        "SELECT count(*) FROM outbox WHERE kind = ?1 AND recipients = ?2 AND created_at >= ?3",
        params![kind, recipient.to_lowercase(), since],
        |r| r.get(0),
    )
    .ctx(|| format!("counting recent {kind} mails to {recipient}"))
}

/// Claim the next due message: a queued row whose time has come, or a
/// `sending` row whose lease expired (its worker died mid-delivery). One
/// statement, so two workers can never claim the same row. The lease is
/// `lease_secs` plus a second per 10 kB, so a big message on a slow link
/// is not taken over while it is still being sent.
pub fn claim_next(
    conn: &Connection,
    now: i64,
    lease_secs: i64,
    claim: &str,
) -> StoreResult<Option<ClaimedMail>> {
    conn.query_row(
        "UPDATE outbox SET state = 'sending', claim = ?2,
                lease_until = ?1 + ?3 + length(raw) / 10000,
                attempts = attempts + 1
         WHERE id = (SELECT id FROM outbox
                     WHERE (state = 'queued' AND next_attempt_at <= ?1)
                        OR (state = 'sending' AND lease_until < ?1)
                     ORDER BY next_attempt_at, id LIMIT 1)
         RETURNING id, envelope_from, recipients, raw, attempts, queued_at, kind, ticket_id,
                   entry_id, message_id, render",
        params![now, claim, lease_secs],
        |r| {
            let recipients: String = r.get(2)?;
            Ok(ClaimedMail {
                id: r.get(0)?,
                claim: claim.to_string(),
                envelope_from: r.get(1)?,
                recipients: split_recipients(&recipients),
                raw: r.get(3)?,
                attempts: r.get(4)?,
                queued_at: r.get(5)?,
                kind: r.get(6)?,
                ticket: r.get(7)?,
                entry: r.get(8)?,
                message_id: r.get(9)?,
                render: r.get(10)?,
            })
        },
    )
    .optional()
    .ctx(|| "claiming the next outgoing mail".into())
}

/// The server accepted the message. Returns false when the claim was lost
/// (another worker took the row over after the lease expired).
pub fn mark_sent(conn: &Connection, id: i64, claim: &str, answer: &str) -> StoreResult<bool> {
    let n = conn
        .execute(
            "UPDATE outbox SET state = 'sent', sent_at = ?3, claim = NULL, lease_until = NULL,
                    last_answer = NULLIF(?4, '')
             WHERE id = ?1 AND claim = ?2",
            params![id, claim, super::now(), answer],
        )
        .ctx(|| format!("marking outgoing mail {id} sent"))?;
    Ok(n == 1)
}

/// A temporary failure: try again at `next_attempt_at`.
pub fn reschedule(
    conn: &Connection,
    id: i64,
    claim: &str,
    next_attempt_at: i64,
    error: &str,
) -> StoreResult<bool> {
    let n = conn
        .execute(
            "UPDATE outbox SET state = 'queued', next_attempt_at = ?3, claim = NULL,
                    lease_until = NULL, last_answer = ?4
             WHERE id = ?1 AND claim = ?2",
            params![id, claim, next_attempt_at, error],
        )
        .ctx(|| format!("rescheduling outgoing mail {id}"))?;
    Ok(n == 1)
}

/// A permanent failure (or retries exhausted): stop and keep the answer.
pub fn mark_failed(conn: &Connection, id: i64, claim: &str, error: &str) -> StoreResult<bool> {
    let n = conn
        .execute(
            "UPDATE outbox SET state = 'failed', claim = NULL, lease_until = NULL, last_answer = ?3
             WHERE id = ?1 AND claim = ?2",
            params![id, claim, error],
        )
        .ctx(|| format!("marking outgoing mail {id} failed"))?;
    Ok(n == 1)
}

/// The mails of a ticket's staff replies, oldest first (the outbox's
/// ticket index): how each reply's mail to the customer is doing, for the
/// ticket view.
pub fn deliveries_of_ticket(conn: &Connection, ticket: TicketId) -> StoreResult<Vec<OutboxRow>> {
    let what = || format!("loading the deliveries of ticket {ticket}");
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {ROW_COLUMNS} FROM outbox
             WHERE ticket_id = ?1 AND kind = 'response' AND entry_id IS NOT NULL ORDER BY id"
        ))
        .ctx(what)?;
    let rows = stmt.query_map([ticket], row).ctx(what)?;
    rows.collect::<Result<_, _>>().ctx(what)
}

/// Queue a failed (or waiting) message again, due now, and return the state
/// it was in. A sent message or one being sent is left alone: it must never
/// go out twice.
pub fn retry(conn: &Connection, id: i64) -> StoreResult<String> {
    let state: Option<String> = conn
        .query_row("SELECT state FROM outbox WHERE id = ?1", [id], |r| r.get(0))
        .optional()
        .ctx(|| format!("loading outgoing mail {id}"))?;
    let Some(state) = state else {
        return Err(super::StoreError::NotFound(format!("outgoing mail {id}")));
    };
    if state == "failed" || state == "queued" {
        // A fresh try restarts the give-up clock and the backoff.
        let now = super::now();
        conn.execute(
            "UPDATE outbox SET state = 'queued', next_attempt_at = ?2, queued_at = ?2, attempts = 0
             WHERE id = ?1 AND state IN ('failed', 'queued')",
            params![id, now],
        )
        .ctx(|| format!("queueing outgoing mail {id} again"))?;
    }
    Ok(state)
}

/// Rows for the admin page and `oxidesk outbox list`, newest first;
/// `state` None lists every state.
pub fn list(conn: &Connection, state: Option<&str>, limit: i64) -> StoreResult<Vec<OutboxRow>> {
    let sql = format!(
        "SELECT {ROW_COLUMNS} FROM outbox WHERE (?1 IS NULL OR state = ?1)
         ORDER BY id DESC LIMIT ?2"
    );
    let mut stmt = conn.prepare(&sql).ctx(|| "listing the outbox".into())?;
    let rows = stmt
        .query_map(params![state, limit], row)
        .ctx(|| "listing the outbox".into())?;
    rows.collect::<Result<_, _>>()
        .ctx(|| "listing the outbox".into())
}

pub fn get(conn: &Connection, id: i64) -> StoreResult<Option<OutboxRow>> {
    let sql = format!("SELECT {ROW_COLUMNS} FROM outbox WHERE id = ?1");
    conn.query_row(&sql, [id], row)
        .optional()
        .ctx(|| format!("loading outgoing mail {id}"))
}

/// The complete message as queued.
pub fn raw(conn: &Connection, id: i64) -> StoreResult<Option<Vec<u8>>> {
    conn.query_row("SELECT raw FROM outbox WHERE id = ?1", [id], |r| r.get(0))
        .optional()
        .ctx(|| format!("loading outgoing mail {id}"))
}

/// Number of rows per state (for the admin page and `check`).
pub fn counts(conn: &Connection) -> StoreResult<Vec<(String, i64)>> {
    let mut stmt = conn
        .prepare("SELECT state, count(*) FROM outbox GROUP BY state ORDER BY state")
        .ctx(|| "counting the outbox".into())?;
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .ctx(|| "counting the outbox".into())?;
    rows.collect::<Result<_, _>>()
        .ctx(|| "counting the outbox".into())
}

/// When the next queued message is due, if any (the worker sleeps until then).
pub fn next_due(conn: &Connection) -> StoreResult<Option<i64>> {
    conn.query_row(
        "SELECT min(CASE state WHEN 'queued' THEN next_attempt_at ELSE lease_until END)
         FROM outbox WHERE state IN ('queued', 'sending')",
        [],
        |r| r.get(0),
    )
    .ctx(|| "finding the next due outgoing mail".into())
}

/// Forget messages sent before `before` (their raw copy is the bulk of the
/// table); queued and failed mail is always kept.
pub fn prune_sent(conn: &Connection, before: i64) -> StoreResult<usize> {
    conn.execute(
        "DELETE FROM outbox WHERE state = 'sent' AND sent_at < ?1",
        [before],
    )
    .ctx(|| "pruning sent mail from the outbox".into())
}

/// A queued message taken out of the outbox before it went out.
#[derive(Debug, Clone, Serialize)]
pub struct WithdrawnMail {
    pub id: i64,
    pub kind: String,
    pub recipients: Vec<String>,
    pub subject: String,
}

/// Take the alerts and auto-responses still queued (not yet being sent)
/// for a ticket out of the outbox, and return what was taken. A message a
/// worker is already delivering (`sending`) cannot be called back and
/// stays; replies written by staff stay too.
pub fn withdraw_notifications(
    conn: &Connection,
    ticket: TicketId,
) -> StoreResult<Vec<WithdrawnMail>> {
    let what = || format!("withdrawing the mail queued for ticket id {ticket}");
    let mut stmt = conn
        .prepare_cached(
            "DELETE FROM outbox
             WHERE ticket_id = ?1 AND state = 'queued'
               AND (kind = 'auto_response' OR kind LIKE 'alert\\_%' ESCAPE '\\')
             RETURNING id, kind, recipients, subject",
        )
        .ctx(what)?;
    let rows = stmt
        .query_map([ticket], |r| {
            let recipients: String = r.get(2)?;
            Ok(WithdrawnMail {
                id: r.get(0)?,
                kind: r.get(1)?,
                recipients: split_recipients(&recipients),
                subject: r.get(3)?,
            })
        })
        .ctx(what)?;
    let mut out: Vec<WithdrawnMail> = rows.collect::<Result<_, _>>().ctx(what)?;
    out.sort_by_key(|m| m.id);
    Ok(out)
}
