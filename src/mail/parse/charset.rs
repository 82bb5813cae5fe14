//! Bytes in some charset → UTF-8, with sensible fallbacks.
//!
//! The rules, in order:
//! 1. pure ASCII (no ESC byte) is returned as is;
//! 2. bytes carrying ISO-2022-JP escape sequences decode as ISO-2022-JP when
//!    that decodes cleanly, whatever the label says (labels are often
//!    missing: `Content-Type: text/plain;`);
//! 3. valid UTF-8 stays UTF-8, even under a legacy label: a legacy label on
//!    valid multi-byte UTF-8 is far more often wrong than right, and decoding
//!    it as the label says is exactly the "Ã¶" mojibake we must never make;
//! 4. a known label decodes when it decodes without errors;
//! 5. otherwise (no label, `us-ascii` on 8-bit data, unknown label, or
//!    errors under the label) the encoding is guessed with chardetng, the
//!    detector Firefox uses, and the guess is used when it decodes cleanly;
//! 6. last resort: the label (or the guess) with U+FFFD replacements.

use encoding_rs::{Encoding, ISO_2022_JP, UTF_8, WINDOWS_1252};

/// What happened while decoding, for the message's warnings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Note {
    /// Decoded as labelled (or plain ASCII).
    Clean,
    /// A different charset than the label (or none) was used.
    Fallback { label: String, used: &'static str },
    /// Nothing decoded cleanly; U+FFFD replacements were made.
    Lossy { label: String, used: &'static str },
}

impl Note {
    pub(crate) fn warning(&self, what: &str) -> Option<String> {
        match self {
            Note::Clean => None,
            Note::Fallback { label, used } if label.is_empty() => {
                Some(format!("{what}: no charset declared, read as {used}"))
            }
            Note::Fallback { label, used } => Some(format!(
                "{what}: charset {label:?} did not fit, read as {used}"
            )),
            Note::Lossy { label, used } => Some(format!(
                "{what}: undecodable bytes replaced (label {label:?}, read as {used})"
            )),
        }
    }
}

/// The encoding for a MIME charset label, with the aliases mail carries
/// beyond the WHATWG label list. `us-ascii` yields None: it promises ASCII,
/// so 8-bit bytes under it are undeclared.
pub(crate) fn for_label(label: &str) -> Option<&'static Encoding> {
    let l = label.trim().trim_matches(|c| c == '"' || c == '\'').trim();
    // RFC 2231 language suffix in encoded words: "utf-8*en".
    let l = l.split('*').next().unwrap_or(l);
    let lower = l.to_ascii_lowercase();
    match lower.as_str() {
        "" | "us-ascii" | "ascii" | "ansi_x3.4-1968" | "us" | "646" | "iso646-us" | "7bit"
        | "8bit" | "unknown" | "unknown-8bit" | "x-unknown" | "default" | "charset" => return None,
        "cp932" | "ms932" | "windows-932" | "x-ms-cp932" | "shift-jisx0213" => {
            return Some(encoding_rs::SHIFT_JIS)
        }
        "iso-2022-jp-1" | "iso-2022-jp-2" | "iso-2022-jp-3" | "cp50220" | "cp50221" | "cp50222"
        | "csiso2022jp" | "iso-2022-jp-ms" => return Some(ISO_2022_JP),
        "utf8" | "utf-8" | "unicode-1-1-utf-8" | "x-utf8" => return Some(UTF_8),
        "cp949" | "ks_c_5601" | "ks_c_5601-1989" | "ksc5601" | "uhc" => {
            return Some(encoding_rs::EUC_KR)
        }
        "cp936" | "windows-936" | "gb_2312-80" | "x-gbk" => return Some(encoding_rs::GBK),
        "big5-hkscs" | "cp950" | "x-x-big5" => return Some(encoding_rs::BIG5),
        "cp1252" | "windows1252" => return Some(WINDOWS_1252),
        "cp1251" | "windows1251" => return Some(encoding_rs::WINDOWS_1251),
        "cp1250" | "windows1250" => return Some(encoding_rs::WINDOWS_1250),
        "latin-1" | "iso8859-1" | "iso_8859_1" => return Some(WINDOWS_1252),
        _ => {}
    }
    if let Some(e) = Encoding::for_label_no_replacement(lower.as_bytes()) {
        return Some(e);
    }
    // "iso8859-15", "iso_8859-2", "iso-8859-2:1987": normalise and retry.
    if let Some(rest) = lower
        .strip_prefix("iso8859")
        .or_else(|| lower.strip_prefix("iso_8859"))
        .or_else(|| lower.strip_prefix("iso-8859"))
    {
        let num: String = rest
            .trim_start_matches(['-', '_'])
            .chars()
            .take_while(|c| c.is_ascii_digit())
            .collect();
        if !num.is_empty() {
            return Encoding::for_label_no_replacement(format!("iso-8859-{num}").as_bytes());
        }
    }
    None
}

fn has_iso2022_escape(bytes: &[u8]) -> bool {
    bytes.windows(3).any(|w| {
        w[0] == 0x1b
            && matches!(
                (w[1], w[2]),
                (b'$', b'B') | (b'$', b'@') | (b'(', b'J') | (b'(', b'B') | (b'(', b'I')
            )
    })
}

/// Decode `bytes` labelled `label` (empty when undeclared).
pub(crate) fn decode(bytes: &[u8], label: &str) -> (String, Note) {
    decode_with_fallback(bytes, label, None)
}

/// Like [`decode`], with a fallback encoding already guessed for the
/// context (e.g. from all undeclared header bytes of one message) that is
/// preferred over a fresh guess on a short string.
pub(crate) fn decode_with_fallback(
    bytes: &[u8],
    label: &str,
    context_guess: Option<&'static Encoding>,
) -> (String, Note) {
    let ascii = bytes.is_ascii();
    if ascii && !bytes.contains(&0x1b) {
        // ASCII is valid UTF-8: no copy beyond the String itself.
        return (String::from_utf8_lossy(bytes).into_owned(), Note::Clean);
    }
    let declared = for_label(label);
    if bytes.contains(&0x1b) && has_iso2022_escape(bytes) && ascii {
        if let Some(s) = clean(ISO_2022_JP, bytes) {
            let note = if declared == Some(ISO_2022_JP) {
                Note::Clean
            } else {
                Note::Fallback {
                    label: label.to_string(),
                    used: ISO_2022_JP.name(),
                }
            };
            return (s, note);
        }
    }
    if let Ok(s) = std::str::from_utf8(bytes) {
        let note = match declared {
            Some(e) if e == UTF_8 => Note::Clean,
            None if label.trim().is_empty() => Note::Clean,
            _ if ascii => Note::Clean,
            _ => Note::Fallback {
                label: label.to_string(),
                used: UTF_8.name(),
            },
        };
        return (s.to_string(), note);
    }
    if let Some(e) = declared {
        if let Some(s) = clean(e, bytes) {
            return (s, Note::Clean);
        }
    }
    let guess = context_guess.unwrap_or_else(|| guess(bytes));
    if Some(guess) != declared {
        if let Some(s) = clean(guess, bytes) {
            return (
                s,
                Note::Fallback {
                    label: label.to_string(),
                    used: guess.name(),
                },
            );
        }
    }
    let used = declared.unwrap_or(guess);
    let (s, _) = used.decode_without_bom_handling(bytes);
    (
        s.into_owned(),
        Note::Lossy {
            label: label.to_string(),
            used: used.name(),
        },
    )
}

fn clean(e: &'static Encoding, bytes: &[u8]) -> Option<String> {
    e.decode_without_bom_handling_and_without_replacement(bytes)
        .map(|c| c.into_owned())
}

/// Best guess for undeclared non-UTF-8 bytes (never UTF-8 itself: callers
/// test UTF-8 validity first).
pub(crate) fn guess(bytes: &[u8]) -> &'static Encoding {
    let mut det = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Allow);
    det.feed(bytes, true);
    det.guess(None, chardetng::Utf8Detection::Deny)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_aliases() {
        assert_eq!(for_label("ks_c_5601-1987"), Some(encoding_rs::EUC_KR));
        assert_eq!(for_label("\"UTF-8\""), Some(UTF_8));
        assert_eq!(for_label("utf-8*en"), Some(UTF_8));
        assert_eq!(for_label("gb2312"), Some(encoding_rs::GBK));
        assert_eq!(for_label("iso8859-15"), Some(encoding_rs::ISO_8859_15));
        assert_eq!(for_label("ISO_8859-2:1987"), Some(encoding_rs::ISO_8859_2));
        assert_eq!(for_label("cp932"), Some(encoding_rs::SHIFT_JIS));
        assert_eq!(for_label("us-ascii"), None);
        assert_eq!(for_label("x-bogus"), None);
    }

    #[test]
    fn valid_utf8_is_never_mojibake() {
        let (s, note) = decode("Grüße".as_bytes(), "iso-8859-1");
        assert_eq!(s, "Grüße");
        assert!(matches!(note, Note::Fallback { .. }));
        let (s, note) = decode("Grüße".as_bytes(), "");
        assert_eq!(s, "Grüße");
        assert_eq!(note, Note::Clean);
    }

    #[test]
    fn labelled_legacy_charsets() {
        assert_eq!(decode(b"Gr\xfc\xdfe", "iso-8859-1").0, "Grüße");
        assert_eq!(decode(b"\xa4", "iso-8859-15").0, "€");
        assert_eq!(decode(b"\xf0\xd2\xc9\xd7\xc5\xd4", "koi8-r").0, "Привет");
        assert_eq!(decode(b"\xc4\xe3\xba\xc3", "gb2312").0, "你好");
        assert_eq!(decode(b"\x82\xb1\x82\xf1", "shift_jis").0, "こん");
    }

    #[test]
    fn iso_2022_jp_without_label_and_nec_extension() {
        // "テスト" in ISO-2022-JP, no label.
        let (s, _) = decode(b"\x1b$B%F%9%H\x1b(B", "");
        assert_eq!(s, "テスト");
        // NEC row 13: circled digit one.
        let (s, note) = decode(b"\x1b$B-!\x1b(B", "iso-2022-jp");
        assert_eq!(s, "①");
        assert_eq!(note, Note::Clean);
    }

    #[test]
    fn undeclared_8bit_is_detected() {
        // Windows-1251 Russian with no label.
        let (s, note) = decode(
            b"\xcf\xf0\xe8\xe2\xe5\xf2, \xea\xe0\xea \xe4\xe5\xeb\xe0? \xdd\xf2\xee \xf2\xe5\xf1\xf2.",
            "",
        );
        assert_eq!(s, "Привет, как дела? Это тест.");
        assert!(matches!(note, Note::Fallback { .. }));
    }

    #[test]
    fn wrong_multibyte_label_falls_back() {
        // Shift_JIS bytes labelled ISO-2022-JP (corpus mail093).
        let (s, _) = decode(b"\x83\x65\x83\x58\x83\x67", "iso-2022-jp");
        assert_eq!(s, "テスト");
    }
}
