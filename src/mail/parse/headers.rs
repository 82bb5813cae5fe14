//! The header block: splitting it off the body, unfolding, and decoding
//! values (raw 8-bit bytes and RFC 2047 encoded words) to UTF-8.
//!
//! mailparse's header parser is not used for this: it rejects a lone CR
//! and a leading space, decodes undeclared 8-bit bytes as Latin-1 (mojibake
//! for the GB2312, Shift_JIS and Windows-1251 headers the corpus carries)
//! and cannot skip a leading non-header line. This one never fails.

use encoding_rs::Encoding;

use super::charset;
use super::transfer;

/// One header as found: name (ASCII) and the raw, still folded value.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawHeader<'a> {
    pub name: &'a str,
    pub value: &'a [u8],
}

/// The header block of a message or a MIME part.
#[derive(Debug, Default)]
pub(crate) struct Block<'a> {
    pub headers: Vec<RawHeader<'a>>,
    /// Offset of the body in the input.
    pub body_start: usize,
    /// Non-header lines skipped before the first header (mbox `From ` line,
    /// a stray first line).
    pub skipped: usize,
    /// Headers found glued to the previous one and split apart.
    pub repaired: usize,
}

impl<'a> Block<'a> {
    pub fn get(&self, name: &str) -> Option<&'a [u8]> {
        self.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value)
    }
}

/// Length of a valid header name at the start of `line` followed by
/// optional blanks and a colon: (name end, value start).
fn header_name(line: &[u8]) -> Option<(usize, usize)> {
    let end = line
        .iter()
        .position(|&b| !(33..=126).contains(&b) || b == b':')?;
    if end == 0 || end > 100 {
        return None;
    }
    let mut i = end;
    while i < line.len() && (line[i] == b' ' || line[i] == b'\t') {
        i += 1;
    }
    (line.get(i) == Some(&b':')).then_some((end, i + 1))
}

/// Headers that, glued right after a digit at the end of a Date value
/// (`Date: … +0200Received: from …`), start a new header.
const GLUE_REPAIR: [&[u8]; 6] = [
    b"Received:",
    b"Subject:",
    b"From:",
    b"To:",
    b"Message-ID:",
    b"Date:",
];

/// Splits the header block off `raw`. `top` is true for a whole message
/// (where an mbox `From ` line and a few stray leading lines are skipped);
/// for a MIME part, a first line that is not a header means the part has no
/// headers.
pub(crate) fn split(raw: &[u8], top: bool) -> Block<'_> {
    let mut block = Block::default();
    let mut pos = 0;
    // (name, value start, value end) of the header being read.
    let mut current: Option<(&str, usize, usize)> = None;
    let mut headers: Vec<RawHeader<'_>> = Vec::new();
    let mut skipped = 0;
    let mut repaired = 0;
    while pos < raw.len() {
        let nl = raw[pos..].iter().position(|&b| b == b'\n');
        let line_end = nl.map_or(raw.len(), |i| pos + i);
        let next = nl.map_or(raw.len(), |i| pos + i + 1);
        let mut line = &raw[pos..line_end];
        if let Some(l) = line.strip_suffix(b"\r") {
            line = l;
        }
        if line.is_empty() {
            if current.is_none() && headers.is_empty() && top && skipped > 0 {
                // Blank line before any header: keep looking a little.
                skipped += 1;
                pos = next;
                if skipped > 5 {
                    break;
                }
                continue;
            }
            finish(&mut headers, current.take(), raw, &mut repaired);
            block.headers = headers;
            block.body_start = next;
            block.skipped = skipped;
            block.repaired = repaired;
            return block;
        }
        let continuation = matches!(line[0], b' ' | b'\t');
        if continuation {
            if let Some(c) = current.as_mut() {
                c.2 = pos + line.len();
            } else if headers.is_empty() && !top {
                break;
            } else {
                skipped += 1;
            }
        } else if let Some((name_end, value_start)) = header_name(line) {
            finish(&mut headers, current.take(), raw, &mut repaired);
            // Header names are ASCII by construction.
            let name = std::str::from_utf8(&line[..name_end]).unwrap_or("X-Invalid");
            let mut vs = pos + value_start;
            while vs < pos + line.len() && matches!(raw[vs], b' ' | b'\t') {
                vs += 1;
            }
            current = Some((name, vs, pos + line.len()));
        } else if let Some(c) = current.as_mut() {
            // A non-indented line without a colon inside the header block
            // (broken folding, seen in the wild): part of the value.
            c.2 = pos + line.len();
        } else if top && skipped < 5 {
            skipped += 1;
        } else {
            break;
        }
        pos = next;
    }
    if current.is_none() && headers.is_empty() {
        // No header at all: everything is body.
        block.body_start = 0;
        block.skipped = skipped;
        return block;
    }
    finish(&mut headers, current.take(), raw, &mut repaired);
    block.headers = headers;
    block.body_start = if pos >= raw.len() { raw.len() } else { pos };
    block.skipped = skipped;
    block.repaired = repaired;
    block
}

fn finish<'a>(
    headers: &mut Vec<RawHeader<'a>>,
    cur: Option<(&'a str, usize, usize)>,
    raw: &'a [u8],
    repaired: &mut usize,
) {
    let Some((name, s, e)) = cur else { return };
    let value = &raw[s..e];
    // Repair `Date: … +0200Received: from …`. Only a Date value is
    // searched: a date never contains a header name, free text might.
    let glue_candidates: &[&[u8]] = if name.eq_ignore_ascii_case("Date") {
        &GLUE_REPAIR
    } else {
        &[]
    };
    for glued in glue_candidates {
        if let Some(i) = find(value, glued) {
            if i > 0 && (value[i - 1].is_ascii_digit() || value[i - 1] == b')') {
                headers.push(RawHeader {
                    name,
                    value: trim_end(&value[..i]),
                });
                *repaired += 1;
                let gname = std::str::from_utf8(&glued[..glued.len() - 1]).unwrap_or("X-Invalid");
                let mut vs = i + glued.len();
                while vs < value.len() && matches!(value[vs], b' ' | b'\t') {
                    vs += 1;
                }
                headers.push(RawHeader {
                    name: gname,
                    value: &value[vs..],
                });
                return;
            }
        }
    }
    headers.push(RawHeader { name, value });
}

fn trim_end(b: &[u8]) -> &[u8] {
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(0, |p| p + 1);
    &b[..end]
}

pub(crate) fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Unfolds a raw value: line breaks followed by blanks are removed (the
/// blank stays); a line break with no blank becomes a space.
pub(crate) fn unfold(value: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    if !value.contains(&b'\n') && !value.contains(&b'\r') {
        return std::borrow::Cow::Borrowed(value);
    }
    let mut out = Vec::with_capacity(value.len());
    let mut i = 0;
    while i < value.len() {
        let c = value[i];
        if c == b'\r' && value.get(i + 1) == Some(&b'\n') {
            i += 1;
            continue;
        }
        if c == b'\n' || c == b'\r' {
            if !matches!(value.get(i + 1), Some(b' ') | Some(b'\t')) {
                out.push(b' ');
            }
            i += 1;
            continue;
        }
        out.push(c);
        i += 1;
    }
    std::borrow::Cow::Owned(out)
}

/// Raw header bytes → text: UTF-8 when valid, else the message's guessed
/// header encoding (see [`guess_header_encoding`]).
pub(crate) fn text(value: &[u8], fallback: Option<&'static Encoding>) -> String {
    let unfolded = unfold(value);
    match std::str::from_utf8(&unfolded) {
        Ok(s) => s.to_string(),
        Err(_) => charset::decode_with_fallback(&unfolded, "", fallback).0,
    }
}

/// One guess for all undeclared 8-bit header bytes of a message (a short
/// subject alone is too little for a detector), None when every header is
/// ASCII or valid UTF-8.
pub(crate) fn guess_header_encoding(headers: &[RawHeader<'_>]) -> Option<&'static Encoding> {
    let mut det: Option<chardetng::EncodingDetector> = None;
    for h in headers {
        if !h.value.is_ascii() && std::str::from_utf8(h.value).is_err() {
            let d = det.get_or_insert_with(|| {
                chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Allow)
            });
            d.feed(h.value, false);
            d.feed(b" ", false);
        }
    }
    det.map(|mut d| {
        d.feed(b"", true);
        d.guess(None, chardetng::Utf8Detection::Deny)
    })
}

/// Decodes RFC 2047 encoded words in `s` (leniently: literal spaces inside
/// a word, any case, B padding errors). Whitespace between adjacent encoded
/// words is dropped; adjacent words in the same charset are joined before
/// charset decoding so a character split across words survives. Returns the
/// text and whether any word needed a charset fallback.
pub(crate) fn decode_words(s: &str) -> (String, bool) {
    if !s.contains("=?") {
        return (s.to_string(), false);
    }
    let mut out = String::with_capacity(s.len());
    let mut fallback = false;
    let mut pending: Option<(String, Vec<u8>)> = None;
    let mut gap_start = 0; // start of literal text not yet written
    let mut i = 0;
    let flush = |out: &mut String, pending: &mut Option<(String, Vec<u8>)>, fb: &mut bool| {
        if let Some((cs, bytes)) = pending.take() {
            let (t, note) = charset::decode(&bytes, &cs);
            *fb |= note != charset::Note::Clean;
            out.push_str(&t);
        }
    };
    while let Some(off) = s[i..].find("=?") {
        let p = i + off;
        match encoded_word(&s[p..]) {
            Some((cs, bytes, len)) => {
                let gap = &s[gap_start..p];
                let gap_blank = gap.chars().all(char::is_whitespace);
                if !(gap_blank && pending.is_some()) {
                    flush(&mut out, &mut pending, &mut fallback);
                    out.push_str(gap);
                }
                match pending.as_mut() {
                    Some((pcs, pb)) if pcs.eq_ignore_ascii_case(cs) => pb.extend(bytes),
                    _ => {
                        flush(&mut out, &mut pending, &mut fallback);
                        pending = Some((cs.to_string(), bytes));
                    }
                }
                i = p + len;
                gap_start = i;
            }
            None => {
                i = p + 2;
            }
        }
    }
    flush(&mut out, &mut pending, &mut fallback);
    out.push_str(&s[gap_start..]);
    (out, fallback)
}

/// Longest encoded text accepted in one word (RFC 2047 says 75 for the
/// whole word; real mail exceeds that, never by this much).
const MAX_WORD: usize = 4096;

/// Parses one encoded word at the start of `s`: (charset, decoded bytes,
/// length in `s`).
fn encoded_word(s: &str) -> Option<(&str, Vec<u8>, usize)> {
    let rest = s.strip_prefix("=?")?;
    let q1 = rest.find('?')?;
    let cs = &rest[..q1];
    if cs.is_empty() || cs.len() > 40 || cs.contains(|c: char| c.is_whitespace() || c == '=') {
        return None;
    }
    let after = &rest[q1 + 1..];
    let mut chars = after.chars();
    let enc = chars.next()?;
    if chars.next()? != '?' {
        return None;
    }
    let body = &after[2..];
    // Bounded search: an unterminated "=?" must not make decoding a long
    // header quadratic.
    let window = &body.as_bytes()[..body.len().min(MAX_WORD)];
    let end = find(window, b"?=")?;
    let text = &body[..end];
    if text.contains("=?") {
        return None;
    }
    let bytes = match enc {
        'B' | 'b' => transfer::base64(text.as_bytes()),
        'Q' | 'q' => transfer::q_word(text.as_bytes()),
        _ => return None,
    };
    Some((cs, bytes, 2 + q1 + 1 + 2 + end + 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_headers_and_body() {
        let b = split(b"From: a@b\r\nSubject: x\r\n  y\r\n\r\nbody", true);
        assert_eq!(b.headers.len(), 2);
        assert_eq!(b.headers[1].value, b"x\r\n  y");
        assert_eq!(b.body_start, 30);
    }

    #[test]
    fn skips_mbox_line_and_stray_first_line() {
        let b = split(
            b"From x Mon\n---- Original ----\nSubject: s\nFrom: a@b\n\nhi",
            true,
        );
        assert_eq!(b.headers.len(), 2);
        assert_eq!(b.skipped, 2);
    }

    #[test]
    fn repairs_headers_run_together() {
        let b = split(
            b"Date: Fri, 07 Apr 2023 17:30:44 +0200Received: from x\n\tby y\nSubject: t\n\n",
            true,
        );
        let names: Vec<_> = b.headers.iter().map(|h| h.name).collect();
        assert_eq!(names, ["Date", "Received", "Subject"]);
        assert_eq!(b.headers[0].value, b"Fri, 07 Apr 2023 17:30:44 +0200");
    }

    #[test]
    fn no_headers_means_all_body() {
        let b = split(b"Lorem ipsum dolor sit amet\nconsectetur\n", true);
        assert!(b.headers.is_empty());
        let b = split(b"\nbody", false);
        assert!(b.headers.is_empty());
        assert_eq!(b.body_start, 1);
    }

    #[test]
    fn headers_only_without_body() {
        let b = split(b"From: a@b\nSubject: x", true);
        assert_eq!(b.headers.len(), 2);
        assert_eq!(b.body_start, 20);
    }

    #[test]
    fn encoded_words() {
        assert_eq!(
            decode_words("=?iso-8859-1?Q?=A1Hola,_se=F1or!?=").0,
            "¡Hola, señor!"
        );
        // Adjacent words: whitespace between them dropped, different charsets.
        assert_eq!(
            decode_words("=?windows-1252?Q?Andr=E9?= =?iso-8859-15?Q?_=A4?=").0,
            "André €"
        );
        // A UTF-8 character split across two B words.
        assert_eq!(decode_words("=?UTF-8?B?w6?= =?UTF-8?B?pOKCrA==?=").0, "ä€");
        // Literal spaces inside a word (non-compliant but common).
        assert_eq!(
            decode_words("=?us-ascii?Q?ABC / 123 / West?=").0,
            "ABC / 123 / West"
        );
        // Text around words is kept, broken words stay literal.
        assert_eq!(
            decode_words("Re: =?utf-8?Q?caf=C3=A9?= ok").0,
            "Re: café ok"
        );
        assert_eq!(decode_words("=?utf-8?X?abc?= =?").0, "=?utf-8?X?abc?= =?");
        // Extra padding.
        assert_eq!(decode_words("=?utf-8?B?YWJj==?=").0, "abc");
    }
}
