//! Raw bytes → [`Inbound`]: the header fields, the body walk, the final
//! text and sanitised HTML, and the auto-reply flags.

use super::address::{self, Parsed};
use super::body::{Piece, Walker};
use super::headers::{self, Block};
use super::params;
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
    walker.set_origin(raw);
    let pieces = walker.message(raw, &block);
    let (text, html_body) = assemble(pieces, &mut warnings);
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
) -> params::Params {
    block
        .get("Content-Type")
        .map(|v| params::params(&headers::text(v, fallback)))
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

/// HTML too deeply nested to parse in reasonable time becomes text.
fn defuse(pieces: Vec<Piece>, warnings: &mut Vec<String>) -> Vec<Piece> {
    pieces
        .into_iter()
        .map(|p| match p {
            Piece::Html(h) if !html::parseable(&h) => {
                warnings.push("HTML nested too deeply; kept as text".to_string());
                Piece::Text(html::strip_tags(&h))
            }
            Piece::Alt {
                text,
                html: Some(h),
            } if !html::parseable(&h) => {
                warnings.push("HTML nested too deeply; kept as text".to_string());
                Piece::Alt {
                    text: text.or_else(|| Some(html::strip_tags(&h))),
                    html: None,
                }
            }
            other => other,
        })
        .collect()
}

/// Final text and sanitised HTML from the body pieces.
fn assemble(pieces: Vec<Piece>, warnings: &mut Vec<String>) -> (String, Option<String>) {
    let pieces = defuse(pieces, warnings);
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
    for p in &pieces {
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
                // An empty text/plain side (some webmail sends one) must
                // not hide the HTML's text.
                match (t, &clean) {
                    (Some(t), _) if !t.trim().is_empty() => push_text(t),
                    (_, Some(c)) => push_text(&html::to_text(c)),
                    _ => {}
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

    fn ok(raw: &[u8]) -> Inbound {
        parse(raw).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn errors() {
        assert_eq!(parse(b"").err(), Some(ParseError::NoHeaders));
        assert_eq!(
            parse(b"Lorem ipsum dolor\nsit amet\n").err(),
            Some(ParseError::NoHeaders)
        );
        assert_eq!(
            parse(b"Subject: hi\n\nbody").err(),
            Some(ParseError::NoSender)
        );
        assert_eq!(
            parse(b"From: nobody\nSubject: hi\n\nbody").err(),
            Some(ParseError::NoSender)
        );
    }

    #[test]
    fn persian_subject_in_words_kept_whole() {
        let subject = "درخواست پشتیبانی برای سرور مجازی و دامنه ".repeat(8);
        let mut encoded = String::new();
        for chunk in subject.as_bytes().chunks(30) {
            // Split on byte boundaries, inside characters: words must join.
            encoded.push_str(&format!("=?UTF-8?B?{}?=\r\n ", base64_encode(chunk)));
        }
        let raw =
            format!("From: =?UTF-8?B?2LnZhNuM?= <ali@example.ir>\r\nSubject: {encoded}\r\n\r\nسلام");
        let m = ok(raw.as_bytes());
        assert_eq!(m.subject, subject.trim());
        assert_eq!(m.from.name, "علی");
        assert_eq!(m.text, "سلام");
    }

    fn base64_encode(b: &[u8]) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(b)
    }

    #[test]
    fn header_fields() {
        let m = ok(
            b"From: \"Doe, Jane\" <jane@example.com>, other@example.com\n\
Reply-To: help <help@example.com>\nTo: a@example.com, B <b@example.com>\nCc: c@example.com\n\
Message-ID:\n <id-1@example.com>\nIn-Reply-To: <p@x>\nReferences: <r1@x>\n <p@x>\n\
Date: Thu, 1 Jan 1970 00:01:00 +0000\nSubject: =?ISO-8859-1?Q?Gr=FC=DFe?=\n\nHi\n",
        );
        assert_eq!(m.from.email, "jane@example.com");
        assert_eq!(m.from.name, "Doe, Jane");
        assert_eq!(
            m.reply_to.map(|a| a.email).as_deref(),
            Some("help@example.com")
        );
        assert_eq!(m.to.len(), 2);
        assert_eq!(m.cc[0].email, "c@example.com");
        assert_eq!(m.message_id.as_deref(), Some("id-1@example.com"));
        assert_eq!(m.in_reply_to, ["p@x"]);
        assert_eq!(m.references, ["r1@x", "p@x"]);
        assert_eq!(m.date, Some(60));
        assert_eq!(m.subject, "Grüße");
        assert_eq!(m.headers.last().map(|h| h.1.as_str()), Some("Grüße"));
        assert_eq!(m.headers[0].0, "From");
        assert!(!m.auto.any());
    }

    #[test]
    fn undeclared_latin1_header_and_empty_message_id() {
        let m =
            ok(b"From: Fran\xe7ois M\xfcller <fm@example.fr>\nMessage-ID:\nSubject: caf\xe9\n\nx");
        assert_eq!(m.from.name, "François Müller");
        assert_eq!(m.subject, "café");
        assert_eq!(m.message_id, None);
        assert!(!m.warnings.is_empty());
    }

    #[test]
    fn mixed_text_and_html_parts_are_concatenated() {
        let m = ok(b"From: a@example.com\nContent-Type: multipart/mixed; boundary=b\n\n--b\n\
Content-Type: text/plain\n\nHello there\n--b\nContent-Type: text/html\n\n<p>Signature <b>Co</b></p>\n--b--\n");
        assert_eq!(m.text, "Hello there\n\nSignature Co");
        let html = m.html.expect("html");
        assert!(
            html.contains("Hello there") && html.contains("<b>Co</b>"),
            "{html}"
        );
    }

    #[test]
    fn inline_images_are_flagged() {
        let m = ok(b"From: a@example.com\nContent-Type: multipart/related; boundary=b\n\n--b\n\
Content-Type: text/html\n\n<img src=\"cid:logo@x\"><script>x()</script>\n--b\nContent-Type: image/png; name=logo.png\n\
Content-ID: <logo@x>\nContent-Transfer-Encoding: base64\n\niVBORw==\n--b\nContent-Type: image/png; name=other.png\n\
Content-ID: <other@x>\n\nx\n--b--\n");
        assert_eq!(m.attachments.len(), 2);
        assert!(m.attachments[0].inline);
        assert!(!m.attachments[1].inline, "not referenced by the HTML");
        let html = m.html.expect("html");
        assert!(
            html.contains("cid:logo@x") && !html.contains("script"),
            "{html}"
        );
    }

    #[test]
    fn bounces_and_auto_replies() {
        let m = ok(b"From: MAILER-DAEMON@mx.example.com\nReturn-Path: <>\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=r\n\n--r\n\
Content-Type: text/plain\n\nDelivery failed\n--r\nContent-Type: message/delivery-status\n\n\
Action: failed\n--r\nContent-Type: text/rfc822-headers\n\nSubject: x\n--r--\n");
        assert!(m.auto.bounce);
        assert_eq!(m.text, "Delivery failed");
        let names: Vec<_> = m.attachments.iter().map(|a| a.filename.as_str()).collect();
        assert_eq!(names, ["delivery-status.txt", "file.txt"]);
        let m = ok(b"From: a@example.com\nAuto-Submitted: auto-replied\nSubject: Out\n\nAway");
        assert!(m.auto.auto_reply);
    }

    #[test]
    fn empty_plain_alternative_falls_back_to_html() {
        let m = ok(
            b"From: a@example.com\nContent-Type: multipart/alternative; boundary=b\n\n--b\n\
Content-Type: text/plain\n\n \n--b\nContent-Type: text/html\n\n<p>Real text</p>\n--b--\n",
        );
        assert_eq!(m.text, "Real text");
    }

    #[test]
    fn headers_only_and_no_final_newline() {
        let m = ok(b"From: a@example.com\nSubject: only headers");
        assert_eq!(m.subject, "only headers");
        assert_eq!(m.text, "");
    }

    #[test]
    fn subjects() {
        assert_eq!(clean_subject("\r\n蠭龕 x\t y "), "蠭龕 x  y");
    }
}
