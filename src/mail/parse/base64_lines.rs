//! Base64 bodies as they were written: which line length and line breaks
//! turn a file's bytes back into exactly the text the message carried.
//!
//! A piped message is kept byte for byte, and its attachments are kept
//! decoded (deduplicated, served to agents). Most of a large message is one
//! base64 attachment, so the store would hold it twice. When encoding the
//! decoded file again with the layout found here gives back the very same
//! bytes, the raw copy can leave that stretch out and point at the stored
//! file instead; anything irregular (ragged lines, missing padding, stray
//! spaces) does not match and stays in the raw copy as it came.

use base64::Engine as _;

/// How a base64 body is broken into lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Base64Lines {
    /// Characters per line; 0 for one line without a break.
    pub line_length: u32,
    /// CRLF (true) or LF line breaks.
    pub crlf: bool,
    /// A line break after the last line too.
    pub final_break: bool,
}

impl Base64Lines {
    /// The layout `encoded` has, if encoding `decoded` with it gives back
    /// `encoded` exactly.
    pub fn detect(encoded: &[u8], decoded: &[u8]) -> Option<Base64Lines> {
        if decoded.is_empty() {
            return None;
        }
        let lines = match encoded.iter().position(|&b| b == b'\n') {
            // A break only at the very end: one line with a final break.
            Some(i) if i + 1 == encoded.len() => {
                let crlf = i > 0 && encoded[i - 1] == b'\r';
                Base64Lines {
                    line_length: 0,
                    crlf,
                    final_break: true,
                }
            }
            Some(i) => {
                let crlf = i > 0 && encoded[i - 1] == b'\r';
                let len = if crlf { i - 1 } else { i };
                Base64Lines {
                    line_length: u32::try_from(len).ok().filter(|&l| l > 0)?,
                    crlf,
                    final_break: encoded.ends_with(b"\n"),
                }
            }
            None => Base64Lines {
                line_length: 0,
                crlf: false,
                final_break: false,
            },
        };
        let mut at = 0;
        let same = lines.each_piece(decoded, |p| {
            let ok = encoded.get(at..at + p.len()) == Some(p);
            at += p.len();
            ok
        });
        (same && at == encoded.len()).then_some(lines)
    }

    /// Append `data` encoded with this layout to `out`.
    pub fn write(&self, data: &[u8], out: &mut Vec<u8>) {
        let chars = data.len().div_ceil(3) * 4;
        out.reserve(chars + chars / 38 + 2);
        self.each_piece(data, |p| {
            out.extend_from_slice(p);
            true
        });
    }

    /// Hand `data`'s encoded text to `f` piece by piece (lines and breaks,
    /// in order) until `f` returns false; whether it never did.
    fn each_piece(&self, data: &[u8], mut f: impl FnMut(&[u8]) -> bool) -> bool {
        use base64::engine::general_purpose::STANDARD;
        let eol: &[u8] = if self.crlf { b"\r\n" } else { b"\n" };
        let width = self.line_length as usize;
        let mut first = true;
        let mut line = |l: &[u8], f: &mut dyn FnMut(&[u8]) -> bool| {
            let ok = (first || f(eol)) && f(l);
            first = false;
            ok
        };
        if width > 0 && width % 4 == 0 {
            // Whole lines come from whole 3-byte groups: encode a block of
            // lines at a time into one buffer, no copy of the whole text.
            const LINES: usize = 64;
            let mut buf = vec![0u8; width * LINES];
            for block in data.chunks(width / 4 * 3 * LINES) {
                let Ok(n) = STANDARD.encode_slice(block, &mut buf) else {
                    return false;
                };
                for l in buf[..n].chunks(width) {
                    if !line(l, &mut f) {
                        return false;
                    }
                }
            }
        } else {
            let text = STANDARD.encode(data);
            let width = if width == 0 { text.len().max(1) } else { width };
            for l in text.as_bytes().chunks(width) {
                if !line(l, &mut f) {
                    return false;
                }
            }
        }
        !self.final_break || f(eol)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wrapped(data: &[u8], width: usize, eol: &str, final_break: bool) -> Vec<u8> {
        let text = base64::engine::general_purpose::STANDARD.encode(data);
        let mut lines: Vec<&str> = Vec::new();
        let mut rest = text.as_str();
        while !rest.is_empty() {
            let (a, b) = rest.split_at(width.min(rest.len()));
            lines.push(a);
            rest = b;
        }
        let mut s = lines.join(eol);
        if final_break {
            s.push_str(eol);
        }
        s.into_bytes()
    }

    #[test]
    fn common_layouts_are_found_and_written_back_exactly() {
        let data: Vec<u8> = (0..5000u32).map(|i| (i * 7 + i / 13) as u8).collect();
        for (width, eol, final_break) in [
            (76, "\r\n", true),
            (76, "\r\n", false),
            (76, "\n", true),
            (72, "\n", false),
            (64, "\r\n", true),
            (57, "\n", true),
        ] {
            let encoded = wrapped(&data, width, eol, final_break);
            let lines = Base64Lines::detect(&encoded, &data)
                .unwrap_or_else(|| panic!("{width} {eol:?} {final_break}"));
            assert_eq!(lines.line_length as usize, width);
            let mut out = Vec::new();
            lines.write(&data, &mut out);
            assert_eq!(out, encoded, "{width} {eol:?} {final_break}");
        }
        // One line, with and without a break at the end.
        for final_break in [false, true] {
            let encoded = wrapped(b"hello world", 1000, "\n", final_break);
            let lines = Base64Lines::detect(&encoded, b"hello world").unwrap();
            let mut out = Vec::new();
            lines.write(b"hello world", &mut out);
            assert_eq!(out, encoded);
        }
    }

    #[test]
    fn anything_irregular_is_left_alone() {
        let data: Vec<u8> = (0..3000u32).map(|i| (i % 251) as u8).collect();
        let good = wrapped(&data, 76, "\r\n", true);
        // A shorter line in the middle.
        let mut ragged = good.clone();
        ragged.remove(100);
        assert_eq!(Base64Lines::detect(&ragged, &data), None);
        // Trailing spaces on a line, a missing final padding, a blank
        // line at the end, a mixed break.
        let spaced = String::from_utf8(good.clone())
            .unwrap()
            .replacen("\r\n", " \r\n", 1);
        assert_eq!(Base64Lines::detect(spaced.as_bytes(), &data), None);
        let unpadded = wrapped(b"ab", 76, "\n", false);
        assert_eq!(
            Base64Lines::detect(&unpadded[..unpadded.len() - 1], b"ab"),
            None
        );
        let mut blank = good.clone();
        blank.extend_from_slice(b"\r\n");
        assert_eq!(Base64Lines::detect(&blank, &data), None);
        let mixed = String::from_utf8(good).unwrap().replacen("\r\n", "\n", 2);
        assert_eq!(Base64Lines::detect(mixed.as_bytes(), &data), None);
        // Bytes that are not what the text decodes to.
        let other = wrapped(b"something else", 76, "\n", true);
        assert_eq!(Base64Lines::detect(&other, b"something elsf"), None);
        assert_eq!(Base64Lines::detect(b"", b""), None);
    }
}
