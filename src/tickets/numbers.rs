//! Public ticket numbers: random digits in the shape of the
//! `tickets.number_format` setting (`#` is a random digit, anything else is
//! kept), unique. Random rather than sequential so numbers reveal nothing
//! about volume and cannot be walked.

use rand::Rng;
use rusqlite::Connection;

use crate::store::{self, StoreResult};

/// The format used when the setting is missing or has no `#`.
pub const DEFAULT_FORMAT: &str = "######";

/// Tries per width before widening: when the space is crowded enough that
/// this many random picks in a row are taken, one more digit makes room.
const TRIES_PER_WIDTH: usize = 4;
const MAX_EXTRA_DIGITS: usize = 12;

/// A ticket number not used by any ticket yet.
pub fn allocate(conn: &Connection) -> StoreResult<String> {
    let format = store::settings::get_or(conn, "tickets.number_format", DEFAULT_FORMAT)?;
    allocate_with(conn, &format)
}

pub fn allocate_with(conn: &Connection, format: &str) -> StoreResult<String> {
    let mut format = normalise(format);
    let mut rng = rand::thread_rng();
    for _ in 0..=MAX_EXTRA_DIGITS {
        for _ in 0..TRIES_PER_WIDTH {
            let candidate = fill(&format, &mut rng);
            if !store::tickets::number_exists(conn, &candidate)? {
                return Ok(candidate);
            }
        }
        widen(&mut format);
    }
    Err(store::StoreError::Invalid(format!(
        "no free ticket number in the format {format:?}"
    )))
}

/// Check a format an admin typed: up to 32 letters, digits, `-`, `_`, `.`
/// and `#`, with at least four `#` (enough numbers before widening, and
/// what `subject_tokens` recognises in a reply's subject).
pub fn validate_format(format: &str) -> Result<(), String> {
    let format = format.trim();
    if format.chars().count() > 32 {
        return Err("is longer than 32 characters".into());
    }
    if let Some(c) = format
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '#' | '-' | '_' | '.')))
    {
        return Err(format!(
            "may only hold letters, digits, '-', '_', '.' and '#', not {c:?}"
        ));
    }
    if format.matches('#').count() < 4 {
        return Err("needs at least four '#' (each is a random digit)".into());
    }
    Ok(())
}

fn normalise(format: &str) -> String {
    let format: String = format
        .trim()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '#' | '-' | '_' | '.'))
        .take(32)
        .collect();
    if format.contains('#') {
        format
    } else {
        format!("{format}{DEFAULT_FORMAT}")
    }
}

/// Replace each `#` with a digit; a number never starts with 0 (leading
/// zeros get lost in spreadsheets and when typed).
fn fill(format: &str, rng: &mut impl Rng) -> String {
    format
        .chars()
        .enumerate()
        .map(|(i, c)| match c {
            '#' if i == 0 => char::from(b'1' + rng.gen_range(0..9u8)),
            '#' => char::from(b'0' + rng.gen_range(0..10u8)),
            other => other,
        })
        .collect()
}

/// One more digit, next to the last `#`.
fn widen(format: &mut String) {
    if let Some(i) = format.rfind('#') {
        format.insert(i, '#');
    }
}

/// Ticket numbers written as `[#NUMBER]` in a subject, in order.
pub fn subject_tokens(subject: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = subject;
    while let Some(i) = rest.find("[#") {
        rest = &rest[i + 2..];
        let Some(end) = rest.find(']') else { break };
        let token = rest[..end].trim();
        if !token.is_empty()
            && token.len() <= 40
            && token
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            out.push(token);
        }
        rest = &rest[end..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_follows_the_format() {
        let mut rng = rand::thread_rng();
        for _ in 0..200 {
            let n = fill("######", &mut rng);
            assert_eq!(n.len(), 6);
            assert!(n.chars().all(|c| c.is_ascii_digit()));
            assert_ne!(n.as_bytes()[0], b'0');
            let p = fill("OX-####", &mut rng);
            assert!(p.starts_with("OX-") && p.len() == 7, "{p}");
        }
    }

    #[test]
    fn formats_are_validated() {
        assert!(validate_format("######").is_ok());
        assert!(validate_format("OX-####").is_ok());
        assert!(validate_format("###").is_err());
        assert!(validate_format("OX ####").is_err());
        assert!(validate_format("[####]").is_err());
        assert!(validate_format(&"#".repeat(33)).is_err());
    }

    #[test]
    fn widen_adds_one_digit() {
        let mut f = "OX-###-A".to_string();
        widen(&mut f);
        assert_eq!(f, "OX-####-A");
        assert_eq!(normalise("abc"), "abc######");
    }

    #[test]
    fn tokens_are_found_in_subjects() {
        assert_eq!(
            subject_tokens("Re: [#123456] printer [#x y] [#OX-1]"),
            vec!["123456", "OX-1"]
        );
        assert!(subject_tokens("[# ] [#").is_empty());
        assert!(subject_tokens("no token").is_empty());
    }
}
