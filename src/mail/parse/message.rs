//! Raw bytes → [`Inbound`]: the header fields, the body walk, the final
//! text and sanitised HTML, and the auto-reply flags.

use super::address::{self, Parsed};
use super::body::{Piece, Walker};
use super::headers::{self, Block};
use super::{auto, html, Address, Inbound, ParseError};

/// Headers that show a header block belongs to a mail (a text that merely
/// starts with `Word:` does not make a message).
const MAIL_HEADERS: [&str; 14] = [
    "from",
    "to",
    "cc",
    "subject",
    "date",
    "message-id",
    "received",
    "return-path",
    "mime-version",
    "content-type",
    "sender",
    "reply-to",
    "delivered-to",
    "in-reply-to",
];

pub(super) fn parse(raw: &[u8]) -> Result<Inbound, ParseError> {
    let block = headers::split(raw, true);
    if !block
        .headers
        .iter()
        .any(|h| MAIL_HEADERS.iter().any(|m| h.name.eq_ignore_ascii_case(m)))
    {
        return Err(ParseError::NoHeaders);
    }
    let mut warnings = Vec::new();
    if block.skipped > 0 {
        warnings.push(format!(
            "{} line(s) before the first header skipped",
            block.skipped
        ));
    }
    if block.repaired > 0 {
        warnings.push("headers run together on one line split apart".to_string());
    }
    let fallback = headers::guess_header_encoding(&block.headers);
    if let Some(e) = fallback {
        warnings.push(format!(
            "undeclared 8-bit bytes in headers read as {}",
            e.name()
        ));
    }
    // Every header as text (charset-decoded, unfolded), words not decoded.
    let texts: Vec<(&str, String)> = block
        .headers
        .iter()
        .map(|h| (h.name, headers::text(h.value, fallback)))
        .collect();
    let first = |name: &str| {
        texts
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };

    let from = sender(&texts, &mut warnings).ok_or(ParseError::NoSender)?;
    let addresses = |name: &str, warnings: &mut Vec<String>| -> Vec<Address> {
        texts
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .flat_map(|(_, v)| address::parse_list(v))
            .map(|p| checked(p, name, warnings))
            .collect()
    };
    let reply_to = addresses("Reply-To", &mut warnings).into_iter().next();
    let to = addresses("To", &mut warnings);
    let cc = addresses("Cc", &mut warnings);

    let subject = first("Subject")
        .map(|s| clean_subject(&headers::decode_words(s).0))
        .unwrap_or_default();
    let message_id = first("Message-ID").and_then(|v| ids(v).into_iter().next());
    let in_reply_to = first("In-Reply-To").map(ids).unwrap_or_default();
    let references = texts
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("References"))
        .flat_map(|(_, v)| ids(v))
        .collect();
    let date = first("Date").and_then(parse_date);
    if first("Date").is_some() && date.is_none() {
        warnings.push("invalid Date header ignored".to_string());
    }

    let decoded_headers: Vec<(String, String)> = texts
        .iter()
        .map(|(n, v)| (n.to_string(), headers::decode_words(v).0))
        .collect();

    let mut walker = Walker::new(fallback);
    let pieces = walker.message(raw, &block);
    let (text, html_body) = assemble(&pieces);
    let mut attachments = walker.attachments;
    warnings.extend(walker.warnings);
    if let Some(h) = &html_body {
        for a in &mut attachments {
            if let Some(cid) = &a.content_id {
                a.inline = h.contains(&format!("cid:{cid}"));
            }
        }
    }

    let top = content_type(&block, fallback);
    let auto = auto::flags(
        &decoded_headers,
        &top.value,
        top.get("report-type"),
        Some(&from),
        &subject,
    );

    Ok(Inbound {
        message_id,
        in_reply_to,
        references,
        from,
        reply_to,
        to,
        cc,
        subject,
        date,
        text,
        html: html_body,
        attachments,
        auto,
        headers: decoded_headers,
        warnings,
    })
}

fn content_type(
    block: &Block<'_>,
    fallback: Option<&'static encoding_rs::Encoding>,
) -> headers::Params {
    block
        .get("Content-Type")
        .map(|v| headers::params(&headers::text(v, fallback)))
        .unwrap_or_default()
}

fn checked(p: Parsed, header: &str, warnings: &mut Vec<String>) -> Address {
    if p.encoded_local {
        warnings.push(format!(
            "{header}: encoded word in the address {:?} kept literally, not decoded",
            p.addr.email
        ));
    }
    if p.repaired {
        warnings.push(format!(
            "{header}: malformed address repaired to {:?}",
            p.addr.email
        ));
    }
    p.addr
}

/// The first usable mailbox of From; Sender, then Reply-To when From has
/// none.
fn sender(texts: &[(&str, String)], warnings: &mut Vec<String>) -> Option<Address> {
    for name in ["From", "Sender", "Reply-To"] {
        let found = texts
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .flat_map(|(_, v)| address::parse_list(v))
            .next();
        if let Some(p) = found {
            if name != "From" {
                warnings.push(format!("no usable From address; sender taken from {name}"));
            }
            return Some(checked(p, name, warnings));
        }
    }
    None
}

/// Control characters (a decoded word may carry CRLF) become spaces; the
/// ends are trimmed. Nothing is cut: long subjects are kept whole.
fn clean_subject(s: &str) -> String {
    let mapped: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    mapped.trim().to_string()
}

/// Message ids from a Message-ID/In-Reply-To/References value: every
/// `<…>`; without brackets, every blank-separated token.
fn ids(v: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = v;
    while let Some(lt) = rest.find('<') {
        let after = &rest[lt + 1..];
        let Some(gt) = after.find('>') else { break };
        let id: String = after[..gt].chars().filter(|c| !c.is_whitespace()).collect();
        if !id.is_empty() {
            out.push(id);
        }
        rest = &after[gt + 1..];
    }
    if out.is_empty() && !v.contains('<') {
        out = v
            .split_whitespace()
            .map(|t| {
                t.trim_matches(|c| c == '<' || c == '>' || c == ',')
                    .to_string()
            })
            .filter(|t| t.contains('@') || t.len() > 4)
            .collect();
    }
    out
}

/// Unix seconds of a Date header; None when it is not a real date (hour 29,
/// month 13, garbage).
fn parse_date(v: &str) -> Option<i64> {
    let v = v.trim();
    if let Ok(d) = chrono::DateTime::parse_from_rfc2822(v) {
        return Some(d.timestamp());
    }
    // Looser forms (no weekday, two-digit year, named zones): mailparse,
    // with the clock checked since it does not range-check it.
    let ts = mailparse::dateparse(v).ok()?;
    let has_clock = v.split_whitespace().any(|tok| {
        tok.split(':').count() >= 2
            && tok
                .split(':')
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    });
    let clock_ok = has_clock
        && v.split_whitespace().all(|tok| {
            let parts: Vec<&str> = tok.split(':').collect();
            if parts.len() < 2
                || !parts
                    .iter()
                    .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
            {
                return true;
            }
            let n: Vec<u32> = parts.iter().filter_map(|p| p.parse().ok()).collect();
            n.len() == parts.len() && n[0] < 24 && n[1] < 60 && n.get(2).is_none_or(|s| *s < 61)
        });
    clock_ok.then_some(ts)
}

/// Final text and sanitised HTML from the body pieces.
fn assemble(pieces: &[Piece]) -> (String, Option<String>) {
    let has_html = pieces
        .iter()
        .any(|p| matches!(p, Piece::Html(_) | Piece::Alt { html: Some(_), .. }));
    let mut text = String::new();
    let mut out_html = String::new();
    let mut push_text = |t: &str| {
        let t = t.trim_end();
        if t.trim().is_empty() {
            return;
        }
        if !text.is_empty() {
            text.push_str("\n\n");
        }
        text.push_str(t.trim_start_matches(['\n', '\r']));
    };
    for p in pieces {
        match p {
            Piece::Text(t) => {
                push_text(t);
                if has_html {
                    out_html.push_str(&html::from_text(t));
                }
            }
            Piece::Html(h) => {
                let clean = html::sanitise(h);
                push_text(&html::to_text(&clean));
                out_html.push_str(&clean);
            }
            Piece::Alt { text: t, html: h } => {
                let clean = h.as_deref().map(html::sanitise);
                match (t, &clean) {
                    (Some(t), _) => push_text(t),
                    (None, Some(c)) => push_text(&html::to_text(c)),
                    (None, None) => {}
                }
                match (&clean, t) {
                    (Some(c), _) => out_html.push_str(c),
                    (None, Some(t)) if has_html => out_html.push_str(&html::from_text(t)),
                    _ => {}
                }
            }
        }
    }
    (text, has_html.then_some(out_html))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids() {
        assert_eq!(ids("<a@b>"), ["a@b"]);
        assert_eq!(ids(" <a@b>\n <c@d>"), ["a@b", "c@d"]);
        assert_eq!(
            ids("20200123.05D7@example.com"),
            ["20200123.05D7@example.com"]
        );
        assert!(ids("").is_empty());
        assert!(ids("<>").is_empty());
    }

    #[test]
    fn dates() {
        assert_eq!(parse_date("Thu, 1 Jan 1970 00:00:10 +0000"), Some(10));
        assert_eq!(parse_date("1 Jan 1970 01:00:10 +0100"), Some(10));
        assert_eq!(parse_date("Mon, 29 Jan 2018 29:61:00 +0100"), None);
        assert_eq!(parse_date("yesterday"), None);
    }

    #[test]
    fn subjects() {
        assert_eq!(clean_subject("\r\n蠭龕 x\t y "), "蠭龕 x  y");
    }
}
