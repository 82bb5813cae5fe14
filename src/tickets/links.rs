//! Signed access links: a customer who holds one may see exactly one ticket,
//! without an account, until it expires.
//!
//! A token is `base64url(payload) . base64url(HMAC-SHA256(secret, payload))`
//! with payload `ticket_id:expires:identity`, the identity being the
//! customer's email address in lower case. The secret comes from the
//! configuration (`server.secret`) or is generated once and kept in the
//! settings (`security.secret`).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rusqlite::Connection;
use sha2::Sha256;

use crate::model::TicketId;
use crate::store::{self, StoreResult};

type HmacSha256 = Hmac<Sha256>;

/// Separates these signatures from anything else signed with the secret.
const DOMAIN: &[u8] = b"oxidesk access link v1\0";
const SECRET_SETTING: &str = "security.secret";

/// What a valid token grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessClaims {
    pub ticket: TicketId,
    /// The customer's email address, lower case.
    pub identity: String,
    /// Unix seconds.
    pub expires: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("the access link is damaged or incomplete")]
    Malformed,
    #[error("the access link is not valid (it was not issued by this helpdesk or was altered)")]
    Forged,
    #[error("the access link expired; ask for a new one")]
    Expired,
}

/// The signing secret: `server.secret` when configured, else the one kept in
/// the settings, generated on first use.
pub fn secret(conn: &Connection, configured: &str) -> StoreResult<Vec<u8>> {
    if !configured.trim().is_empty() {
        return Ok(configured.trim().as_bytes().to_vec());
    }
    if let Some(s) = store::settings::get(conn, SECRET_SETTING)? {
        if !s.is_empty() {
            return Ok(s.into_bytes());
        }
    }
    let mut bytes = [0u8; 32];
    rand::Rng::fill(&mut rand::thread_rng(), &mut bytes);
    let generated = hex::encode(bytes);
    // Another process may have just created one: keep whichever came first.
    let kept = store::settings::set_if_absent(conn, SECRET_SETTING, &generated)?;
    if kept.is_empty() {
        // The setting exists but was emptied: replace it.
        store::settings::set(conn, SECRET_SETTING, &generated)?;
        return Ok(generated.into_bytes());
    }
    Ok(kept.into_bytes())
}

fn mac(secret: &[u8]) -> HmacSha256 {
    // HMAC is defined for keys of every length: this cannot fail.
    let mut m = HmacSha256::new_from_slice(secret).expect("HMAC accepts keys of any length");
    m.update(DOMAIN);
    m
}

/// A token for `ticket`, granted to `identity`, valid until `expires`.
pub fn sign(secret: &[u8], ticket: TicketId, identity: &str, expires: i64) -> String {
    let payload = format!(
        "{}:{}:{}",
        ticket.0,
        expires,
        identity.trim().to_lowercase()
    );
    let mut m = mac(secret);
    m.update(payload.as_bytes());
    let tag = m.finalize().into_bytes();
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(payload.as_bytes()),
        URL_SAFE_NO_PAD.encode(tag)
    )
}

/// Check a token's signature, then its expiry, against `now`.
pub fn verify(secret: &[u8], token: &str, now: i64) -> Result<AccessClaims, LinkError> {
    let (payload_b64, tag_b64) = token.trim().split_once('.').ok_or(LinkError::Malformed)?;
    let payload = URL_SAFE_NO_PAD
        .decode(payload_b64)
        .map_err(|_| LinkError::Malformed)?;
    let tag = URL_SAFE_NO_PAD
        .decode(tag_b64)
        .map_err(|_| LinkError::Malformed)?;
    let mut m = mac(secret);
    m.update(&payload);
    m.verify_slice(&tag).map_err(|_| LinkError::Forged)?;
    let payload = String::from_utf8(payload).map_err(|_| LinkError::Malformed)?;
    let mut parts = payload.splitn(3, ':');
    let ticket: i64 = parts
        .next()
        .and_then(|p| p.parse().ok())
        .ok_or(LinkError::Malformed)?;
    let expires: i64 = parts
        .next()
        .and_then(|p| p.parse().ok())
        .ok_or(LinkError::Malformed)?;
    let identity = parts.next().ok_or(LinkError::Malformed)?.to_string();
    if now >= expires {
        return Err(LinkError::Expired);
    }
    Ok(AccessClaims {
        ticket: TicketId(ticket),
        identity,
        expires,
    })
}

/// The portal URL for a ticket: `{base}/portal/tickets/{number}?t={token}`.
pub fn url(base_url: &str, number: &str, token: &str) -> String {
    format!(
        "{}/portal/tickets/{}?t={}",
        base_url.trim_end_matches('/'),
        percent_encoding::utf8_percent_encode(number, percent_encoding::NON_ALPHANUMERIC),
        token
    )
}

/// The public base URL for links in mail and pages: the helpdesk URL an
/// admin set (`helpdesk.url`), else `server.base_url`, else
/// `http://{server.listen}`.
pub fn public_base(conn: &Connection, configured_base: &str, listen: &str) -> StoreResult<String> {
    let set = store::settings::get_or(conn, "helpdesk.url", "")?;
    let set = set.trim().trim_end_matches('/');
    if set.is_empty() {
        Ok(base_url(configured_base, listen))
    } else {
        Ok(set.to_string())
    }
}

/// The configured base URL: `server.base_url`, or `http://{server.listen}`.
pub fn base_url(configured_base: &str, listen: &str) -> String {
    let b = configured_base.trim().trim_end_matches('/');
    if b.is_empty() {
        format!("http://{}", listen.trim())
    } else {
        b.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let t = sign(b"k", TicketId(42), "Ali@Example.COM", 1000);
        let c = verify(b"k", &t, 999).unwrap();
        assert_eq!(c.ticket, TicketId(42));
        assert_eq!(c.identity, "ali@example.com");
        assert_eq!(c.expires, 1000);
    }

    #[test]
    fn expired_and_forged_are_told_apart() {
        let t = sign(b"k", TicketId(42), "a@b.c", 1000);
        assert_eq!(verify(b"k", &t, 1000), Err(LinkError::Expired));
        assert_eq!(verify(b"other", &t, 10), Err(LinkError::Forged));
        // Another ticket id with the old signature.
        let (_, tag) = t.split_once('.').unwrap();
        let forged = format!("{}.{}", URL_SAFE_NO_PAD.encode(b"43:1000:a@b.c"), tag);
        assert_eq!(verify(b"k", &forged, 10), Err(LinkError::Forged));
        // A later expiry with the old signature.
        let forged = format!("{}.{}", URL_SAFE_NO_PAD.encode(b"42:9999:a@b.c"), tag);
        assert_eq!(verify(b"k", &forged, 10), Err(LinkError::Forged));
        assert_eq!(verify(b"k", "nonsense", 10), Err(LinkError::Malformed));
        assert_eq!(verify(b"k", "a.b!", 10), Err(LinkError::Malformed));
    }

    #[test]
    fn urls() {
        assert_eq!(base_url("", "127.0.0.1:8080"), "http://127.0.0.1:8080");
        assert_eq!(
            url("https://help.example.com/", "123456", "x.y"),
            "https://help.example.com/portal/tickets/123456?t=x.y"
        );
    }
}
