//! Anti-spam for the portal's forms without third-party services: a
//! honeypot field, a signed time token and (in the store) a per-address
//! hourly limit.
//!
//! The time token is `issued_at.hex(HMAC-SHA256(secret, domain ‖ issued_at))`
//! with the access-link secret and its own domain string, so it can never
//! be confused with an access link. A form sent sooner than `MIN_SECONDS`
//! after it was served is too fast for a person; one older than
//! `MAX_SECONDS` is stale.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The name of the honeypot input: hidden from people, tempting for bots.
pub const HONEYPOT: &str = "website";
pub const MIN_SECONDS: i64 = 3;
pub const MAX_SECONDS: i64 = 24 * 3600;

const DOMAIN: &[u8] = b"oxidesk portal form v1\0";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    /// Missing, damaged or not signed by us.
    Forged,
    TooFast,
    Expired,
}

fn signature(secret: &[u8], issued: i64) -> String {
    let Ok(mut m) = Hmac::<Sha256>::new_from_slice(secret) else {
        // HMAC takes keys of any length; this branch is never taken.
        return String::new();
    };
    m.update(DOMAIN);
    m.update(issued.to_string().as_bytes());
    hex::encode(m.finalize().into_bytes())
}

/// A token saying the form was served at `issued` (Unix seconds).
pub fn issue(secret: &[u8], issued: i64) -> String {
    format!("{issued}.{}", signature(secret, issued))
}

/// When the form was served, if the token is ours and its age acceptable.
pub fn check(secret: &[u8], token: &str, now: i64) -> Result<i64, TokenError> {
    let (issued, sig) = token.trim().split_once('.').ok_or(TokenError::Forged)?;
    let issued: i64 = issued.parse().map_err(|_| TokenError::Forged)?;
    let given = hex::decode(sig).map_err(|_| TokenError::Forged)?;
    let mut m = Hmac::<Sha256>::new_from_slice(secret).map_err(|_| TokenError::Forged)?;
    m.update(DOMAIN);
    m.update(issued.to_string().as_bytes());
    // verify_slice compares in constant time.
    m.verify_slice(&given).map_err(|_| TokenError::Forged)?;
    let age = now - issued;
    if age < MIN_SECONDS {
        return Err(TokenError::TooFast);
    }
    if age > MAX_SECONDS {
        return Err(TokenError::Expired);
    }
    Ok(issued)
}

/// What the hourly limit counts by: the address itself for IPv4, the /64
/// network for IPv6 (one customer line usually gets a whole /64, so
/// counting single IPv6 addresses would let one sender rotate freely).
pub fn rate_key(ip: &str) -> String {
    match ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        _ => ip.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_is_counted_per_network() {
        assert_eq!(rate_key("203.0.113.9"), "203.0.113.9");
        assert_eq!(rate_key("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(rate_key("2001:db8:1:2:bbbb::7"), "2001:db8:1:2::/64");
        assert_eq!(rate_key("::ffff:198.51.100.4"), "198.51.100.4");
        assert_eq!(rate_key(""), "");
    }

    #[test]
    fn tokens_age_and_cannot_be_forged() {
        let s = b"secret";
        let t = issue(s, 1000);
        assert_eq!(check(s, &t, 1010), Ok(1000));
        assert_eq!(check(s, &t, 1001), Err(TokenError::TooFast));
        assert_eq!(
            check(s, &t, 1000 + MAX_SECONDS + 1),
            Err(TokenError::Expired)
        );
        assert_eq!(check(b"other", &t, 1010), Err(TokenError::Forged));
        let moved = t.replacen("1000", "900", 1);
        assert_eq!(check(s, &moved, 1010), Err(TokenError::Forged));
        assert_eq!(check(s, "", 1010), Err(TokenError::Forged));
        assert_eq!(check(s, "1000.zz", 1010), Err(TokenError::Forged));
    }
}
