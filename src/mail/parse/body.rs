//! The MIME walk: which parts are the body, which are attachments.
//!
//! Our own walker rather than `mailparse::parse_mail`: that one fails the
//! whole message on a lone CR or a header line starting with a blank,
//! cannot tell an unterminated multipart from a complete one, and splits
//! parameters at `;` inside quotes. Here nothing fails: broken structure is
//! repaired and noted in the warnings.
//!
//! Body rules (close to Zammad's): multipart/alternative gives the
//! text/plain side as text and the HTML side as HTML; multipart/mixed (and
//! anything unknown) concatenates its inline text and HTML parts in order;
//! multipart/related shows its root and keeps the rest as (inline)
//! attachments; message/rfc822 is kept whole as an `.eml` attachment;
//! multipart/report shows the human-readable part and keeps the delivery
//! status and returned message as attachments.

use encoding_rs::Encoding;

use super::filename::{extension_for, mime_for_name, sanitise_filename};
use super::headers;
use super::params::{self, Params};
use super::{charset, transfer, uuencode, Base64Lines, EncodedSource, InboundAttachment};

const MAX_DEPTH: usize = 40;
const MAX_PARTS: usize = 2_000;

/// A piece of body content, in document order.
#[derive(Debug)]
pub(crate) enum Piece {
    Text(String),
    /// Raw (unsanitised) HTML.
    Html(String),
    /// Two renderings of the same content (multipart/alternative).
    Alt {
        text: Option<String>,
        html: Option<String>,
    },
}

pub(crate) struct Walker {
    pub attachments: Vec<InboundAttachment>,
    pub warnings: Vec<String>,
    header_fallback: Option<&'static Encoding>,
    parts: usize,
    /// Addresses of the raw message's bytes, to tell where a part's body
    /// sits in it (see `EncodedSource`).
    origin: std::ops::Range<usize>,
}

/// Everything about one part's headers that the walk needs.
struct PartInfo {
    ctype: Params,
    cte: String,
    disposition: Params,
    content_id: Option<String>,
    description: Option<String>,
}

impl PartInfo {
    fn read(
        block: &headers::Block<'_>,
        default_type: &str,
        fallback: Option<&'static Encoding>,
    ) -> PartInfo {
        let hv = |name: &str| block.get(name).map(|v| headers::text(v, fallback));
        let mut ctype = hv("Content-Type")
            .map(|v| params::params(&v))
            .unwrap_or_default();
        let valid = {
            let v = &ctype.value;
            v.split_once('/').is_some_and(|(a, b)| {
                !a.is_empty() && !b.is_empty() && !v.contains(char::is_whitespace)
            })
        };
        if !valid {
            // Missing or junk (`Content-Type: text`): RFC 2045 default.
            ctype.value = default_type.to_string();
        }
        PartInfo {
            ctype,
            cte: hv("Content-Transfer-Encoding")
                .map(|v| v.trim().to_ascii_lowercase())
                .unwrap_or_default(),
            disposition: hv("Content-Disposition")
                .map(|v| params::params(&v))
                .unwrap_or_default(),
            content_id: hv("Content-ID")
                .map(|v| {
                    v.trim()
                        .trim_start_matches('<')
                        .trim_end_matches('>')
                        .trim()
                        .to_string()
                })
                .filter(|v| !v.is_empty()),
            description: hv("Content-Description")
                .map(|v| headers::decode_words(&v).0.trim().to_string())
                .filter(|v| !v.is_empty()),
        }
    }

    fn filename(&self) -> Option<String> {
        self.disposition
            .get("filename")
            .or_else(|| self.ctype.get("name"))
            .map(sanitise_filename)
            .filter(|n| !n.is_empty())
    }
}

/// Splits a multipart body at `--boundary` lines: (parts, whether the
/// closing `--boundary--` was seen, whether there was text before the first
/// delimiter).
fn split_multipart<'a>(body: &'a [u8], boundary: &[u8]) -> (Vec<&'a [u8]>, bool) {
    let mut parts = Vec::new();
    let mut start: Option<usize> = None;
    let mut pos = 0;
    let mut closed = false;
    while pos < body.len() {
        let nl = body[pos..].iter().position(|&b| b == b'\n');
        let line_end = nl.map_or(body.len(), |i| pos + i);
        let next = nl.map_or(body.len(), |i| pos + i + 1);
        let line = &body[pos..line_end];
        if line.len() >= 2 + boundary.len()
            && line.starts_with(b"--")
            && &line[2..2 + boundary.len()] == boundary
        {
            let rest = &line[2 + boundary.len()..];
            let is_close = rest.starts_with(b"--");
            let rest_ok = is_close || rest.iter().all(|b| b.is_ascii_whitespace());
            if rest_ok {
                if let Some(s) = start {
                    // The line break before the delimiter belongs to it.
                    let mut end = pos;
                    if end > s && body[end - 1] == b'\n' {
                        end -= 1;
                        if end > s && body[end - 1] == b'\r' {
                            end -= 1;
                        }
                    }
                    parts.push(&body[s..end.max(s)]);
                }
                if is_close {
                    closed = true;
                    start = None;
                    break;
                }
                start = Some(next);
            }
        }
        pos = next;
    }
    if let Some(s) = start {
        if s <= body.len() {
            parts.push(&body[s..]);
        }
    }
    (parts, closed)
}

/// Undoes the Content-Transfer-Encoding. Identity encodings borrow.
fn decode_cte<'a>(cte: &str, body: &'a [u8]) -> std::borrow::Cow<'a, [u8]> {
    match cte {
        "base64" => std::borrow::Cow::Owned(transfer::base64(body)),
        "quoted-printable" => std::borrow::Cow::Owned(transfer::quoted_printable(body)),
        "x-uuencode" | "uuencode" | "x-uue" => std::borrow::Cow::Owned(uuencode::decode(body).1),
        _ => std::borrow::Cow::Borrowed(body),
    }
}

/// RFC 3676 format=flowed: soft line breaks (a line ending in a space) are
/// joined; space-stuffing is removed.
fn unflow(text: &str, delsp: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let line = line.strip_prefix(' ').unwrap_or(line);
        if line.ends_with(' ') && line != "-- " {
            let l = if delsp { &line[..line.len() - 1] } else { line };
            out.push_str(l);
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    if out.ends_with('\n') {
        out.pop();
    }
    out
}

impl Walker {
    pub fn new(header_fallback: Option<&'static Encoding>) -> Walker {
        Walker {
            attachments: Vec::new(),
            warnings: Vec::new(),
            header_fallback,
            parts: 0,
            origin: 0..0,
        }
    }

    /// The raw message the walked slices come from.
    pub fn set_origin(&mut self, raw: &[u8]) {
        let start = raw.as_ptr() as usize;
        self.origin = start..start + raw.len();
    }

    /// Where a base64 `body` sits in the raw message, when encoding `data`
    /// again gives it back exactly. Short bodies are not worth a reference.
    fn encoded_source(&self, body: &[u8], data: &[u8]) -> Option<EncodedSource> {
        const WORTH_IT: usize = 1024;
        let at = body.as_ptr() as usize;
        if body.len() < WORTH_IT || at < self.origin.start || at + body.len() > self.origin.end {
            return None;
        }
        Some(EncodedSource {
            start: at - self.origin.start,
            len: body.len(),
            lines: Base64Lines::detect(body, data)?,
        })
    }

    fn warn(&mut self, w: impl Into<String>) {
        if self.warnings.len() < 50 {
            self.warnings.push(w.into());
        }
    }

    /// Walks the whole message (its header block already split off).
    pub fn message(&mut self, raw: &[u8], block: &headers::Block<'_>) -> Vec<Piece> {
        let info = PartInfo::read(block, "text/plain", self.header_fallback);
        self.entity(info, &raw[block.body_start.min(raw.len())..], 0, false)
    }

    fn part(
        &mut self,
        raw: &[u8],
        depth: usize,
        in_digest: bool,
        force_attachment: bool,
    ) -> Vec<Piece> {
        self.parts += 1;
        if self.parts > MAX_PARTS {
            if self.parts == MAX_PARTS + 1 {
                self.warn("too many MIME parts; the rest were ignored");
            }
            return Vec::new();
        }
        let block = headers::split(raw, false);
        let default = if in_digest {
            "message/rfc822"
        } else {
            "text/plain"
        };
        let info = PartInfo::read(&block, default, self.header_fallback);
        self.entity(
            info,
            &raw[block.body_start.min(raw.len())..],
            depth,
            force_attachment,
        )
    }

    fn entity(
        &mut self,
        info: PartInfo,
        body: &[u8],
        depth: usize,
        force_attachment: bool,
    ) -> Vec<Piece> {
        let mime = info.ctype.value.clone();
        if let Some(sub) = mime.strip_prefix("multipart/") {
            return self.multipart(sub, info, body, depth, force_attachment);
        }
        if mime == "message/rfc822" || mime == "message/global" {
            self.message_attachment(&info, body);
            return Vec::new();
        }
        let is_body_type = mime == "text/plain" || mime == "text/html";
        let as_attachment = force_attachment
            || !is_body_type
            || info.disposition.value == "attachment"
            || info.filename().is_some();
        if as_attachment {
            self.attachment(&info, body);
            return Vec::new();
        }
        let bytes = decode_cte(&info.cte, body);
        let label = info.ctype.get("charset").unwrap_or("");
        // A short undeclared body ("ТЕСТ") is too little for a detector;
        // the message's undeclared header bytes come from the same client.
        let context = if charset::for_label(label).is_none()
            && bytes.iter().filter(|b| !b.is_ascii()).count() < 200
        {
            self.header_fallback
        } else {
            None
        };
        let (mut text, note) = charset::decode_with_fallback(&bytes, label, context);
        if let Some(w) = note.warning(&format!("{mime} part")) {
            self.warn(w);
        }
        if mime == "text/html" {
            return vec![Piece::Html(text)];
        }
        if info
            .ctype
            .get("format")
            .is_some_and(|f| f.eq_ignore_ascii_case("flowed"))
        {
            let delsp = info
                .ctype
                .get("delsp")
                .is_some_and(|d| d.eq_ignore_ascii_case("yes"));
            text = unflow(&text, delsp);
        }
        let (text, blocks) = uuencode::extract(&text);
        for b in blocks {
            self.warn(format!(
                "inline uuencoded file {:?} taken out of the text",
                b.filename
            ));
            self.attachments.push(InboundAttachment {
                filename: sanitise_filename(&b.filename),
                mime_type: mime_for_name(&b.filename).to_string(),
                data: b.data,
                inline: false,
                content_id: None,
                source: None,
            });
        }
        vec![Piece::Text(text)]
    }

    fn multipart(
        &mut self,
        sub: &str,
        info: PartInfo,
        body: &[u8],
        depth: usize,
        force_attachment: bool,
    ) -> Vec<Piece> {
        if depth >= MAX_DEPTH {
            self.warn("MIME nesting too deep; inner parts ignored");
            return Vec::new();
        }
        let boundary = info.ctype.get("boundary").unwrap_or("").trim().to_string();
        let (parts, closed) = if boundary.is_empty() {
            (Vec::new(), false)
        } else {
            split_multipart(body, boundary.as_bytes())
        };
        if parts.is_empty() {
            if body.iter().all(|b| b.is_ascii_whitespace()) {
                self.warn(format!("multipart/{sub} without any part"));
                return Vec::new();
            }
            // Declared multipart, but no delimiter: read it as text.
            self.warn(format!(
                "multipart/{sub} without boundary delimiters read as text"
            ));
            let mut text_info = info;
            text_info.ctype.value = "text/plain".to_string();
            text_info.ctype.params.retain(|(k, _)| k == "charset");
            return self.entity(text_info, body, depth + 1, force_attachment);
        }
        if !closed {
            self.warn(format!("multipart/{sub} not terminated"));
        }
        let d = depth + 1;
        match sub {
            "alternative" => {
                let mut text: Option<String> = None;
                let mut html: Option<String> = None;
                for p in parts {
                    let pieces = self.part(p, d, false, force_attachment);
                    if pieces.is_empty() {
                        continue;
                    }
                    let has_html = pieces
                        .iter()
                        .any(|p| matches!(p, Piece::Html(_) | Piece::Alt { html: Some(_), .. }));
                    if has_html {
                        // The last HTML alternative wins (RFC 2046: best last).
                        html = Some(join_html(&pieces));
                        if text.is_none() {
                            // Keep a text side only from a real text part.
                            let t = join_plain_only(&pieces);
                            if !t.trim().is_empty() {
                                text = Some(t);
                            }
                        }
                    } else {
                        let t = join_plain_only(&pieces);
                        if text.as_deref().is_none_or(|old| old.trim().is_empty()) {
                            text = Some(t);
                        }
                    }
                }
                if text.is_none() && html.is_none() {
                    return Vec::new();
                }
                vec![Piece::Alt { text, html }]
            }
            "related" => {
                let start = info.ctype.get("start").map(|s| {
                    s.trim()
                        .trim_start_matches('<')
                        .trim_end_matches('>')
                        .to_string()
                });
                let root = start
                    .and_then(|s| {
                        parts.iter().position(|p| {
                            let b = headers::split(p, false);
                            b.get("Content-ID")
                                .is_some_and(|v| String::from_utf8_lossy(v).contains(s.as_str()))
                        })
                    })
                    .unwrap_or(0);
                let mut out = Vec::new();
                for (i, p) in parts.into_iter().enumerate() {
                    let pieces = self.part(p, d, false, force_attachment || i != root);
                    out.extend(pieces);
                }
                out
            }
            "report" => {
                let mut out = Vec::new();
                for (i, p) in parts.into_iter().enumerate() {
                    out.extend(self.part(p, d, false, force_attachment || i > 0));
                }
                out
            }
            _ => {
                let digest = sub == "digest";
                let mut out = Vec::new();
                for p in parts {
                    out.extend(self.part(p, d, digest, force_attachment));
                }
                out
            }
        }
    }

    fn attachment(&mut self, info: &PartInfo, body: &[u8]) {
        let mut data = decode_cte(&info.cte, body).into_owned();
        let mut filename = info.filename();
        if filename.is_none() && matches!(info.cte.as_str(), "x-uuencode" | "uuencode" | "x-uue") {
            filename = uuencode::decode(body).0.map(|n| sanitise_filename(&n));
        }
        let mime = info.ctype.value.clone();
        let filename = filename.unwrap_or_else(|| {
            let ext = extension_for(&mime);
            let status = mime == "message/delivery-status" || mime == "text/rfc822-headers";
            match &info.description {
                // "Delivery report.txt": a DSN's description names it well;
                // other descriptions are often boilerplate ("MIME Versions
                // Identification").
                Some(d) if status && d.len() <= 100 => sanitise_filename(&format!("{d}{ext}")),
                _ if mime == "message/delivery-status" => "delivery-status.txt".to_string(),
                _ => format!("file{ext}"),
            }
        });
        data.shrink_to_fit();
        let source = if info.cte == "base64" {
            self.encoded_source(body, &data)
        } else {
            None
        };
        self.attachments.push(InboundAttachment {
            filename,
            mime_type: mime,
            data,
            inline: false,
            content_id: info.content_id.clone(),
            source,
        });
    }

    fn message_attachment(&mut self, info: &PartInfo, body: &[u8]) {
        let data = decode_cte(&info.cte, body).into_owned();
        let filename = info.filename().unwrap_or_else(|| {
            let inner = headers::split(&data, true);
            let subject = inner
                .get("Subject")
                .map(|v| headers::decode_words(&headers::text(v, self.header_fallback)).0)
                .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
                .unwrap_or_default();
            let name = sanitise_filename(&subject);
            if name.is_empty() {
                "Mail.eml".to_string()
            } else {
                name
            }
        });
        let filename = if filename.to_ascii_lowercase().ends_with(".eml") {
            filename
        } else {
            format!("{filename}.eml")
        };
        self.attachments.push(InboundAttachment {
            filename,
            mime_type: "message/rfc822".to_string(),
            data,
            inline: false,
            content_id: info.content_id.clone(),
            source: None,
        });
    }
}

/// Plain text of pieces that came from text/plain parts only.
fn join_plain_only(pieces: &[Piece]) -> String {
    let mut out = String::new();
    for p in pieces {
        let t = match p {
            Piece::Text(t) | Piece::Alt { text: Some(t), .. } => t.as_str(),
            _ => continue,
        };
        if !out.is_empty() && !t.is_empty() {
            out.push_str("\n\n");
        }
        out.push_str(t);
    }
    out
}

/// Raw HTML of pieces, text pieces converted to HTML.
fn join_html(pieces: &[Piece]) -> String {
    let mut out = String::new();
    for p in pieces {
        match p {
            Piece::Html(h) | Piece::Alt { html: Some(h), .. } => out.push_str(h),
            Piece::Text(t)
            | Piece::Alt {
                html: None,
                text: Some(t),
            } => out.push_str(&super::html::from_text(t)),
            Piece::Alt {
                html: None,
                text: None,
            } => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn walk(raw: &[u8]) -> (Vec<Piece>, Walker) {
        let block = headers::split(raw, true);
        let mut w = Walker::new(None);
        let pieces = w.message(raw, &block);
        (pieces, w)
    }

    #[test]
    fn splits_multipart_with_crlf_and_preamble() {
        let (parts, closed) = split_multipart(
            b"preamble\r\n--b\r\nA\r\n--b \r\nB\r\n--b--\r\nepilogue",
            b"b",
        );
        assert_eq!(parts, vec![&b"A"[..], &b"B"[..]]);
        assert!(closed);
        let (parts, closed) = split_multipart(b"--b\nA\n--bx\nstill A\n", b"b");
        assert_eq!(parts, vec![&b"A\n--bx\nstill A\n"[..]]);
        assert!(!closed);
    }

    #[test]
    fn alternative_prefers_plain_text_and_keeps_html() {
        let raw = b"Content-Type: multipart/alternative; boundary=x\n\n--x\nContent-Type: text/plain\n\nplain\n--x\nContent-Type: text/html\n\n<b>html</b>\n--x--\n";
        let (pieces, _) = walk(raw);
        match &pieces[..] {
            [Piece::Alt {
                text: Some(t),
                html: Some(h),
            }] => {
                assert_eq!(t, "plain");
                assert_eq!(h, "<b>html</b>");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn related_images_and_rfc822_become_attachments() {
        let raw = b"Content-Type: multipart/mixed; boundary=m\n\n--m\nContent-Type: multipart/related; boundary=r\n\n--r\nContent-Type: text/html\n\n<img src=\"cid:i1\">\n--r\nContent-Type: image/png\nContent-ID: <i1>\nContent-Transfer-Encoding: base64\n\niVBORw==\n--r--\n--m\nContent-Type: message/rfc822\n\nSubject: Fwd =?utf-8?Q?=C3=A4?=\n\ninner\n--m--\n";
        let (pieces, w) = walk(raw);
        assert_eq!(pieces.len(), 1);
        assert_eq!(w.attachments.len(), 2);
        assert_eq!(w.attachments[0].content_id.as_deref(), Some("i1"));
        assert_eq!(w.attachments[0].data, b"\x89PNG");
        assert_eq!(w.attachments[0].filename, "file.png");
        assert_eq!(w.attachments[1].filename, "Fwd ä.eml");
        assert_eq!(
            w.attachments[1].data,
            b"Subject: Fwd =?utf-8?Q?=C3=A4?=\n\ninner"
        );
    }

    #[test]
    fn broken_multiparts() {
        // No delimiter at all: read as text.
        let (pieces, w) = walk(b"Content-Type: multipart/mixed; boundary=zz\n\nhello\n");
        assert!(matches!(&pieces[..], [Piece::Text(t)] if t == "hello\n"));
        assert!(!w.warnings.is_empty());
        // No body at all.
        let (pieces, _) = walk(b"Content-Type: multipart/mixed; boundary=zz\n\n");
        assert!(pieces.is_empty());
        // Unterminated, nested.
        let (pieces, w) = walk(b"Content-Type: multipart/mixed; boundary=a\n\n--a\nContent-Type: multipart/alternative; boundary=b\n\n--b\nContent-Type: text/plain\n\nhi\n");
        assert!(matches!(&pieces[..], [Piece::Alt { text: Some(t), .. }] if t.trim() == "hi"));
        assert!(w.warnings.iter().any(|w| w.contains("not terminated")));
    }

    #[test]
    fn rfc2231_and_encoded_filenames() {
        let raw = b"Content-Type: multipart/mixed; boundary=m\n\n--m\nContent-Type: text/plain; name=\"=?UTF-8?Q?Erkl=C3=A4rung.txt?=\"\nContent-Disposition: attachment; filename*=utf-8''Erkl%C3%A4rung.txt\n\nx\n--m--\n";
        let (_, w) = walk(raw);
        assert_eq!(w.attachments[0].filename, "Erklärung.txt");
    }

    #[test]
    fn flowed_text() {
        assert_eq!(unflow("a \nb\n>c\n -- \nd", false), "a b\n>c\n-- \nd");
    }
}
