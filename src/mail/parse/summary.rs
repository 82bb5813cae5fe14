//! A raw message's sender, subject and date for lists (the admin's
//! quarantine), read from its first bytes with the same header decoding
//! the parser uses: it never fails, whatever the bytes.

use super::headers;
/// What an admin list shows of a raw message: sender, subject and date as
/// its header says, decoded; `None` where the header is missing or does not
/// parse (the message may not be mail at all).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    pub from: Option<String>,
    pub subject: Option<String>,
    pub date: Option<String>,
}

/// The summary of a message from its first bytes (`head` may stop in the
/// middle of the header block: only whole lines are read).
pub fn summary(head: &[u8]) -> Summary {
    // Up to the end of the header block, or the last whole line.
    let end = head
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 4)
        .or_else(|| head.windows(2).position(|w| w == b"\n\n").map(|i| i + 2))
        .or_else(|| head.iter().rposition(|&b| b == b'\n').map(|i| i + 1))
        .unwrap_or(0);
    let block = headers::split(&head[..end], true);
    let fallback = headers::guess_header_encoding(&block.headers);
    let get = |name: &str| {
        block
            .get(name)
            .map(|v| headers::decode_words(&headers::text(v, fallback)).0)
            .map(|v| clip(v.trim(), 200))
            .filter(|v| !v.is_empty())
    };
    Summary {
        from: get("From"),
        subject: get("Subject"),
        date: get("Date"),
    }
}

/// At most `max` characters, without control characters.
fn clip(s: &str, max: usize) -> String {
    let mut out: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max)
        .collect();
    if s.chars().count() > max {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod summary_tests {
    use super::{summary, Summary};

    #[test]
    fn reads_the_decoded_sender_and_subject_even_from_a_cut_header() {
        let raw = b"From: =?UTF-8?B?2YXYsduM2YU=?= <maryam@example.ir>\r\n\
                    Subject: =?UTF-8?Q?Caf=C3=A9?= down\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n\r\nBody";
        let s = summary(raw);
        assert_eq!(s.from.as_deref(), Some("مریم <maryam@example.ir>"));
        assert_eq!(s.subject.as_deref(), Some("Café down"));
        assert_eq!(s.date.as_deref(), Some("Mon, 23 Nov 2026 10:00:00 +0000"));
        // Cut inside the Date line: the whole lines before it still count.
        let cut = &raw[..raw.iter().position(|&b| b == b'D').unwrap() + 5];
        let s = summary(cut);
        assert_eq!(s.subject.as_deref(), Some("Café down"));
        assert_eq!(s.date, None);
        // Not mail: nothing, and no panic.
        assert_eq!(summary(b"\x00\x01 binary"), Summary::default());
        assert_eq!(summary(b""), Summary::default());
        // Control characters do not reach the page.
        let s = summary(b"Subject: a\x07b\r\n\r\n");
        assert_eq!(s.subject.as_deref(), Some("a b"));
    }
}
