//! Content-Transfer-Encoding decoders: lenient base64 and quoted-printable
//! (both also serve RFC 2047 encoded words). They never fail: real mail
//! carries broken padding, stray characters and bare `=` signs, and losing
//! a customer's text over a padding error is worse than keeping it.

const SKIP: u8 = 0xFF;
const PAD: u8 = 0xFE;

/// Base64 alphabet (standard and URL-safe) → 6-bit value; PAD for `=`,
/// SKIP for anything else.
static B64: [u8; 256] = {
    let mut t = [SKIP; 256];
    let mut i = 0;
    while i < 26 {
        t[b'A' as usize + i] = i as u8;
        t[b'a' as usize + i] = 26 + i as u8;
        i += 1;
    }
    let mut d = 0;
    while d < 10 {
        t[b'0' as usize + d] = 52 + d as u8;
        d += 1;
    }
    t[b'+' as usize] = 62;
    t[b'-' as usize] = 62;
    t[b'/' as usize] = 63;
    t[b'_' as usize] = 63;
    t[b'=' as usize] = PAD;
    t
};

/// Decodes base64, skipping anything outside the alphabet (line breaks,
/// spaces, junk). `=` ends the current 4-character group, so padded chunks
/// that were concatenated ("YQ==YQ==") and extra padding ("YQ====") both
/// decode. Whole groups of four take a fast path (attachments are
/// megabytes of them).
pub(crate) fn base64(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() / 4 * 3 + 3);
    let mut acc: u32 = 0;
    let mut n = 0u8;
    let mut i = 0;
    while i < input.len() {
        if n == 0 {
            if let Some(q) = input.get(i..i + 4) {
                let (a, b, c, d) = (
                    B64[q[0] as usize],
                    B64[q[1] as usize],
                    B64[q[2] as usize],
                    B64[q[3] as usize],
                );
                if (a | b | c | d) < 64 {
                    let v =
                        u32::from(a) << 18 | u32::from(b) << 12 | u32::from(c) << 6 | u32::from(d);
                    out.extend_from_slice(&[(v >> 16) as u8, (v >> 8) as u8, v as u8]);
                    i += 4;
                    continue;
                }
            }
        }
        let v = B64[input[i] as usize];
        i += 1;
        match v {
            SKIP => continue,
            PAD => {
                flush_partial(&mut out, acc, n);
                acc = 0;
                n = 0;
                continue;
            }
            _ => {}
        }
        acc = (acc << 6) | u32::from(v);
        n += 1;
        if n == 4 {
            out.extend_from_slice(&[(acc >> 16) as u8, (acc >> 8) as u8, acc as u8]);
            acc = 0;
            n = 0;
        }
    }
    flush_partial(&mut out, acc, n);
    out
}

fn flush_partial(out: &mut Vec<u8>, acc: u32, n: u8) {
    match n {
        2 => out.push((acc >> 4) as u8),
        3 => {
            out.push((acc >> 10) as u8);
            out.push((acc >> 2) as u8);
        }
        _ => {}
    }
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Decodes a quoted-printable body: `=XX` escapes, soft line breaks
/// (`=` at the end of a line, CRLF or LF), trailing whitespace on lines
/// dropped (RFC 2045 says it was added in transport). A `=` that starts no
/// valid escape is kept literally.
pub(crate) fn quoted_printable(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut lines = input.split(|&b| b == b'\n').peekable();
    while let Some(line) = lines.next() {
        let last = lines.peek().is_none();
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let trimmed_len = line
            .iter()
            .rposition(|&b| b != b' ' && b != b'\t')
            .map_or(0, |p| p + 1);
        let line = &line[..trimmed_len];
        let (content, soft) = match line.strip_suffix(b"=") {
            Some(c) => (c, true),
            None => (line, false),
        };
        let mut i = 0;
        while i < content.len() {
            let c = content[i];
            if c == b'=' {
                if let (Some(h), Some(l)) = (
                    content.get(i + 1).and_then(|&x| hex(x)),
                    content.get(i + 2).and_then(|&x| hex(x)),
                ) {
                    out.push(h << 4 | l);
                    i += 3;
                    continue;
                }
            }
            out.push(c);
            i += 1;
        }
        if !soft && !last {
            out.push(b'\n');
        }
    }
    out
}

/// Decodes the text of a `Q` encoded word: like quoted-printable, plus
/// `_` for a space.
pub(crate) fn q_word(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        let c = input[i];
        if c == b'=' {
            if let (Some(h), Some(l)) = (
                input.get(i + 1).and_then(|&x| hex(x)),
                input.get(i + 2).and_then(|&x| hex(x)),
            ) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(if c == b'_' { b' ' } else { c });
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_lenient() {
        assert_eq!(base64(b"aGVsbG8gd29ybGQ="), b"hello world");
        assert_eq!(base64(b"aGVsbG 8gd\r\n29ybGQ"), b"hello world");
        assert_eq!(base64(b"YQ==YQ=="), b"aa");
        assert_eq!(base64(b"YWJj===="), b"abc");
        assert_eq!(base64(b"!!"), b"");
        assert_eq!(base64(b"YWJjZGVm\r\nZ2hp"), b"abcdefghi");
        assert_eq!(base64(b"Y WJj"), b"abc");
        assert_eq!(base64(b"_-8="), [0xff, 0xef]);
    }

    #[test]
    fn quoted_printable_lenient() {
        assert_eq!(quoted_printable(b"a=3Db=\r\nc  \r\nd"), b"a=bc\nd");
        assert_eq!(quoted_printable(b"50% = half =zz"), b"50% = half =zz");
        assert_eq!(quoted_printable(b"end="), b"end");
        assert_eq!(quoted_printable(b"=E4=F6\n"), b"\xe4\xf6\n");
    }

    #[test]
    fn q_words() {
        assert_eq!(q_word(b"Gr=FC=DFe_aus"), b"Gr\xfc\xdfe aus");
    }
}
