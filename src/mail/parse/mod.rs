//! Inbound mail parsing: raw RFC 5322 bytes in, a decoded [`Inbound`] out.
//!
//! Everything is decoded to UTF-8 here; HTML is sanitised here; nothing below
//! this module knows about tickets or the database.

use serde::Serialize;

/// A mailbox: display name (decoded, may be empty) and address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Address {
    pub name: String,
    pub email: String,
}

/// A file carried by the message (attachment or inline part).
#[derive(Debug, Clone, Serialize)]
pub struct InboundAttachment {
    pub filename: String,
    pub mime_type: String,
    #[serde(skip)]
    pub data: Vec<u8>,
    /// Shown inside the HTML body (referenced by `cid:`) rather than listed.
    pub inline: bool,
    /// Content-ID without angle brackets.
    pub content_id: Option<String>,
    /// Where the file's base64 text sits in the raw message, when encoding
    /// `data` again gives back exactly that text.
    #[serde(skip)]
    pub source: Option<EncodedSource>,
}

/// A stretch of the raw message that is an attachment's base64 text, byte
/// for byte what `lines` writes for the attachment's data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncodedSource {
    /// Byte offset in the raw message.
    pub start: usize,
    pub len: usize,
    pub lines: Base64Lines,
}

/// Why a message looks machine-generated. Any of these means no
/// auto-response may be sent to it (mail-loop safety).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AutoFlags {
    /// Auto-Submitted, X-Autoreply, X-Autorespond, vacation notices.
    pub auto_reply: bool,
    /// Delivery status notification or a MAILER-DAEMON/postmaster sender.
    pub bounce: bool,
    /// Precedence: bulk, junk or list; List-Id.
    pub bulk: bool,
}

impl AutoFlags {
    pub fn any(&self) -> bool {
        self.auto_reply || self.bounce || self.bulk
    }
}

/// A decoded inbound message.
#[derive(Debug, Clone, Serialize)]
pub struct Inbound {
    /// Message-ID without angle brackets; None when missing or empty.
    pub message_id: Option<String>,
    pub in_reply_to: Vec<String>,
    pub references: Vec<String>,
    pub from: Address,
    pub reply_to: Option<Address>,
    pub to: Vec<Address>,
    pub cc: Vec<Address>,
    pub subject: String,
    /// The Date header as Unix seconds, when present and valid.
    pub date: Option<i64>,
    /// Plain-text body: text/plain when present, else derived from the HTML.
    pub text: String,
    /// Sanitised HTML body, when the message has one.
    pub html: Option<String>,
    pub attachments: Vec<InboundAttachment>,
    pub auto: AutoFlags,
    /// Every header, decoded, in order (for filters and plugins).
    pub headers: Vec<(String, String)>,
    /// Things the parser had to guess or repair (bad charset, broken MIME).
    pub warnings: Vec<String>,
}

/// A message that cannot become a ticket. The raw bytes are still kept
/// (quarantined) by the caller.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ParseError {
    #[error("the message has no header block")]
    NoHeaders,
    #[error("the message has no usable sender address")]
    NoSender,
    #[error("the message could not be parsed: {0}")]
    Malformed(String),
}

/// Parse a raw message. Never panics; any byte sequence yields an
/// [`Inbound`] or a [`ParseError`].
pub fn parse(raw: &[u8]) -> Result<Inbound, ParseError> {
    message::parse(raw)
}

/// Key that identifies one message across redeliveries: the same message
/// delivered twice (an MTA retry) yields the same key, even when trace
/// headers added on the way (Received, Delivered-To, Return-Path) differ;
/// two different messages sharing a Message-ID yield different keys.
pub fn dedupe_key(raw: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    const TRACE: [&str; 5] = [
        "received",
        "delivered-to",
        "return-path",
        "x-original-to",
        "x-envelope-to",
    ];
    let mut hasher = Sha256::new();
    let (header_end, body_start) = split_header_block(raw);
    let headers = &raw[..header_end];
    let mut skipping = false;
    for line in headers.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let continuation = matches!(line.first(), Some(b' ') | Some(b'\t'));
        if !continuation {
            let name = line.iter().position(|&b| b == b':').map(|i| {
                String::from_utf8_lossy(&line[..i])
                    .trim()
                    .to_ascii_lowercase()
            });
            skipping = match name {
                Some(n) => TRACE.contains(&n.as_str()) || n.starts_with("from "),
                None => line.starts_with(b"From "),
            };
        }
        if !skipping {
            hasher.update(line);
            hasher.update(b"\n");
        }
    }
    hasher.update(b"\n");
    for line in raw[body_start..].split(|&b| b == b'\n') {
        hasher.update(line.strip_suffix(b"\r").unwrap_or(line));
        hasher.update(b"\n");
    }
    hex::encode(hasher.finalize())
}

/// (end of the header block, start of the body) in `raw`.
fn split_header_block(raw: &[u8]) -> (usize, usize) {
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'\n' {
            if raw.get(i + 1) == Some(&b'\n') {
                return (i, i + 2);
            }
            if raw.get(i + 1) == Some(&b'\r') && raw.get(i + 2) == Some(&b'\n') {
                return (i, i + 3);
            }
        }
        i += 1;
    }
    (raw.len(), raw.len())
}

mod address;
mod base64_lines;
pub use base64_lines::Base64Lines;
mod auto;
mod body;
mod charset;
mod filename;
mod headers;
mod html;
mod message;
mod params;
mod summary;
pub use summary::{summary, Summary};
mod transfer;
mod uuencode;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dedupe_key_ignores_trace_headers_and_line_endings() {
        let a = b"Received: from a\nMessage-ID: <x@y>\nSubject: hi\n\nbody\n";
        let b = b"Delivered-To: s@h\r\nReceived: from b\r\n  by c\r\nMessage-ID: <x@y>\r\nSubject: hi\r\n\r\nbody\r\n";
        assert_eq!(dedupe_key(a), dedupe_key(b));
    }

    #[test]
    fn dedupe_key_differs_for_other_content_with_same_message_id() {
        let a = b"Message-ID: <x@y>\nSubject: hi\n\nbody one\n";
        let b = b"Message-ID: <x@y>\nSubject: hi\n\nbody two\n";
        assert_ne!(dedupe_key(a), dedupe_key(b));
    }
}
