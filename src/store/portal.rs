//! What the customer portal reads and writes outside the ticket tables:
//! the logo blob and the per-address submission counter.

use rusqlite::{Connection, OptionalExtension};

use super::{Context, StoreResult};

/// The portal's settings and their defaults (what an unset key means), for
/// the admin settings page.
pub const SETTING_DEFAULTS: &[(&str, &str)] = &[
    ("attachments.max_files", "5"),
    ("attachments.max_file_bytes", "10485760"),
    // Comma-separated extensions or MIME types (image/*); empty: anything
    // but executables.
    ("attachments.allowed_types", ""),
    ("portal.rate_limit_per_hour", "10"),
    // A blob id (store::attachments::put_blob); PNG, JPEG, GIF or WebP.
    ("portal.logo_blob", ""),
    // #rgb or #rrggbb; anything else is ignored.
    ("portal.accent_color", ""),
    ("portal.footer", ""),
];

pub const DEFAULT_MAX_FILES: i64 = 5;
pub const DEFAULT_MAX_FILE_BYTES: i64 = 10 << 20;
pub const DEFAULT_RATE_LIMIT_PER_HOUR: i64 = 10;

/// The bytes of blob `id` (the portal logo), if it exists.
pub fn blob(conn: &Connection, id: i64) -> StoreResult<Option<Vec<u8>>> {
    conn.prepare_cached("SELECT data FROM blobs WHERE id = ?1")
        .and_then(|mut s| s.query_row([id], |r| r.get(0)).optional())
        .ctx(|| format!("reading blob {id}"))
}

/// How many new-ticket submissions came from `ip` since `since`.
pub fn submissions_since(conn: &Connection, ip: &str, since: i64) -> StoreResult<i64> {
    conn.prepare_cached(
        "SELECT COUNT(*) FROM portal_submissions WHERE ip = ?1 AND created_at >= ?2",
    )
    .and_then(|mut s| s.query_row(rusqlite::params![ip, since], |r| r.get(0)))
    .ctx(|| format!("counting portal submissions from {ip}"))
}

/// Count a ticket opened from `ip` with the form token `token_hash`,
/// forgetting submissions older than `keep_after`.
pub fn record_submission(
    conn: &Connection,
    ip: &str,
    token_hash: &str,
    ticket: crate::model::TicketId,
    now: i64,
    keep_after: i64,
) -> StoreResult<()> {
    conn.prepare_cached("DELETE FROM portal_submissions WHERE created_at < ?1")
        .and_then(|mut s| s.execute([keep_after]))
        .ctx(|| "forgetting old portal submissions".to_string())?;
    conn.prepare_cached(
        "INSERT INTO portal_submissions (ip, token_hash, ticket_id, created_at)
         VALUES (?1, ?2, ?3, ?4)",
    )
    .and_then(|mut s| s.execute(rusqlite::params![ip, token_hash, ticket, now]))
    .ctx(|| format!("counting a portal submission from {ip}"))?;
    Ok(())
}

/// The ticket (id and number) already opened with this form token, if any.
pub fn ticket_for_token(
    conn: &Connection,
    token_hash: &str,
) -> StoreResult<Option<(crate::model::TicketId, String)>> {
    conn.prepare_cached(
        "SELECT t.id, t.number FROM portal_submissions p JOIN tickets t ON t.id = p.ticket_id
         WHERE p.token_hash = ?1 ORDER BY p.id LIMIT 1",
    )
    .and_then(|mut s| {
        s.query_row([token_hash], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
    })
    .ctx(|| "looking up a sent portal form".to_string())
}

/// True when a mail of `kind` was queued for `ticket` (did opening it send
/// the auto-response, which carries the access link?).
pub fn mail_queued(
    conn: &Connection,
    ticket: crate::model::TicketId,
    kind: &str,
) -> StoreResult<bool> {
    conn.prepare_cached("SELECT EXISTS(SELECT 1 FROM outbox WHERE ticket_id = ?1 AND kind = ?2)")
        .and_then(|mut s| s.query_row(rusqlite::params![ticket, kind], |r| r.get(0)))
        .ctx(|| format!("looking for {kind} mail of ticket {ticket}"))
}

/// Give a customer without a language the one they used on the portal, so
/// mail to them is in it.
pub fn set_locale_if_unset(
    conn: &Connection,
    customer: crate::model::CustomerId,
    locale: &str,
) -> StoreResult<()> {
    conn.prepare_cached(
        "UPDATE customers SET locale = ?2 WHERE id = ?1 AND (locale IS NULL OR locale = '')",
    )
    .and_then(|mut s| s.execute(rusqlite::params![customer, locale]))
    .ctx(|| format!("setting the language of customer {customer}"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn defaults_agree() {
        let get = |k: &str| {
            super::SETTING_DEFAULTS
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.parse::<i64>().unwrap_or(-1))
        };
        assert_eq!(get("attachments.max_files"), Some(super::DEFAULT_MAX_FILES));
        assert_eq!(
            get("attachments.max_file_bytes"),
            Some(super::DEFAULT_MAX_FILE_BYTES)
        );
        assert_eq!(
            get("portal.rate_limit_per_hour"),
            Some(super::DEFAULT_RATE_LIMIT_PER_HOUR)
        );
    }
}
