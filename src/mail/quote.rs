//! Quoted history in customers' replies, trimmed for display.
//!
//! Mail clients append the message being answered below a header line ("On
//! … wrote:", "-----Original Message-----", Outlook's "From: … Sent: …"
//! block) or prefix it with ">". The thread shows only the new text and
//! keeps the rest behind a toggle; the stored body is never changed.

/// A customer message split for display: `visible` is the new text,
/// `quoted` the history below it (empty when none was found).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trimmed {
    pub visible: String,
    pub quoted: String,
}

/// Split `text` at the first reply header or at the trailing block of
/// ">"-quoted lines. A message that would show nothing (it starts with the
/// quote) is returned whole.
pub fn trim(text: &str) -> Trimmed {
    let lines: Vec<&str> = text.lines().collect();
    let cut = find_cut(&lines);
    match cut {
        Some(i) if !lines[..i].iter().all(|l| l.trim().is_empty()) => {
            let visible = lines[..i].join("\n").trim_end().to_string();
            let quoted = lines[i..].join("\n").trim_end().to_string();
            Trimmed { visible, quoted }
        }
        Some(i) => bottom_posted(&lines, i).unwrap_or_else(|| Trimmed {
            visible: text.trim_end().to_string(),
            quoted: String::new(),
        }),
        None => Trimmed {
            visible: text.trim_end().to_string(),
            quoted: String::new(),
        },
    }
}

/// A reply written below the quote ("On … wrote:", "> …" lines, then the
/// new text): show the text after the quote.
fn bottom_posted(lines: &[&str], header: usize) -> Option<Trimmed> {
    let mut j = header + 1;
    while j < lines.len() && (lines[j].trim().is_empty() || lines[j].trim_start().starts_with('>'))
    {
        j += 1;
    }
    let quoted_lines = lines[header + 1..j]
        .iter()
        .filter(|l| !l.trim().is_empty())
        .count();
    let rest = lines[j..].join("\n").trim().to_string();
    if quoted_lines == 0 || rest.is_empty() {
        return None;
    }
    Some(Trimmed {
        visible: rest,
        quoted: lines[header..j].join("\n").trim_end().to_string(),
    })
}

fn find_cut(lines: &[&str]) -> Option<usize> {
    let tail = quoted_tail_start(lines);
    for (i, raw) in lines.iter().enumerate() {
        let line = raw
            .trim()
            .trim_matches('\u{200f}')
            .trim_matches('\u{200e}')
            .trim();
        if is_separator(line) {
            return Some(i);
        }
        if is_wrote_line(line) {
            return Some(i);
        }
        // "On Mon, 3 Jan 2022 at 10:00, Someone <x@y>" wrapped onto two lines.
        if starts_like_on(line) {
            if let Some(next) = lines.get(i + 1) {
                let joined = format!("{line} {}", next.trim());
                if ends_wrote(&joined) {
                    return Some(i);
                }
            }
        }
        if is_outlook_header(lines, i) {
            return Some(i);
        }
        if line.starts_with('>') && i >= tail {
            return Some(i);
        }
    }
    None
}

fn is_separator(line: &str) -> bool {
    let l = line.to_lowercase();
    let core = l.trim_matches(|c: char| c == '-' || c == '_' || c == '=' || c.is_whitespace());
    let dashed = l.starts_with("---") || l.starts_with("___") || l.starts_with("===");
    dashed
        && [
            "original message",
            "forwarded message",
            "پیام اصلی",
            "الرسالة الأصلية",
            "رسالة أصلية",
            "ዋናው መልእክት",
        ]
        .iter()
        .any(|m| core.contains(m))
}

fn starts_like_on(line: &str) -> bool {
    let l = line.to_lowercase();
    [
        "on ",
        "le ",
        "am ",
        "el ",
        "在 ",
        "در ",
        "في ",
        "بتاریخ",
        "بتاريخ",
    ]
    .iter()
    .any(|p| l.starts_with(p))
}

const WROTE: &[&str] = &[
    "wrote",
    "a écrit",
    "schrieb",
    "escribió",
    "写道",
    "نوشت",
    "نوشته است",
    "كتب",
    "كتبت",
    "ጻፈ",
    "ፃፈ",
];

/// The verb that ends a reply header, in the languages our customers write.
fn ends_wrote(line: &str) -> bool {
    let l = line.to_lowercase();
    let l = l.trim_end().trim_end_matches(':').trim_end();
    WROTE.iter().any(|w| l.ends_with(w))
}

/// Arabic puts the verb first: "في 3 يناير 2022، كتب الدعم:".
fn has_wrote_word(line: &str) -> bool {
    let l = line.to_lowercase();
    l.split(|c: char| c.is_whitespace() || c == '،' || c == ',')
        .any(|w| WROTE.contains(&w))
}

fn is_wrote_line(line: &str) -> bool {
    line.ends_with(':')
        && line.chars().count() < 250
        && (ends_wrote(line) || (starts_like_on(line) && has_wrote_word(line)))
}

/// Outlook: a "From:" line followed within a few lines by "Sent:"/"Date:"
/// and "To:"/"Subject:" (also in Persian and Arabic Outlook).
fn is_outlook_header(lines: &[&str], i: usize) -> bool {
    let first = lines[i].trim().trim_start_matches('*').to_lowercase();
    let from = ["from:", "از:", "من:"];
    if !from.iter().any(|p| first.starts_with(p)) {
        return false;
    }
    let follow = [
        "sent:",
        "date:",
        "to:",
        "subject:",
        "ارسال:",
        "تاریخ:",
        "به:",
        "موضوع:",
        "مرسل:",
        "التاريخ:",
        "إلى:",
        "الموضوع:",
        "تم الإرسال:",
    ];
    lines
        .iter()
        .skip(i + 1)
        .take(4)
        .filter(|l| {
            let l = l.trim().trim_start_matches('*').to_lowercase();
            follow.iter().any(|p| l.starts_with(p))
        })
        .count()
        >= 2
}

/// Where the quoted tail starts: from that index on there are only ">"
/// lines and blank lines. One pass from the end, so a long message with many
/// quoted lines in its middle costs no more than one without.
fn quoted_tail_start(lines: &[&str]) -> usize {
    lines
        .iter()
        .rposition(|l| !(l.trim().is_empty() || l.trim_start().starts_with('>')))
        .map_or(0, |last_other| last_other + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gmail_style() {
        let t = trim("Thanks, it works.\n\nOn Mon, Jan 3, 2022 at 10:00 AM Support <s@x.com> wrote:\n> old\n> text\n");
        assert_eq!(t.visible, "Thanks, it works.");
        assert!(t.quoted.starts_with("On Mon"));
        assert!(t.quoted.contains("> text"));
    }

    #[test]
    fn wrapped_on_line() {
        let t = trim("Yes.\n\nOn Mon, Jan 3, 2022 at 10:00 AM Support Team <support@example.com>\nwrote:\n> old\n");
        assert_eq!(t.visible, "Yes.");
    }

    #[test]
    fn outlook_and_original_message() {
        let t = trim("New text\n\n-----Original Message-----\nFrom: a\nold");
        assert_eq!(t.visible, "New text");
        let t =
            trim("New text\n\nFrom: Support <s@x.com>\nSent: Monday\nTo: me\nSubject: hi\n\nold");
        assert_eq!(t.visible, "New text");
        assert!(t.quoted.starts_with("From: Support"));
    }

    #[test]
    fn persian_and_arabic() {
        let t = trim("سلام، مشکل حل شد.\n\nدر تاریخ ۱۴۰۲/۱۰/۱۲ پشتیبانی نوشت:\n> متن قبلی");
        assert_eq!(t.visible, "سلام، مشکل حل شد.");
        let t = trim("شكرا\n\nفي 3 يناير 2022، كتب الدعم:\n> نص");
        assert_eq!(t.visible, "شكرا");
        let t = trim("متن جدید\n\nاز: پشتیبانی\nارسال: دوشنبه\nبه: من\nموضوع: سلام\n\nقدیمی");
        assert_eq!(t.visible, "متن جدید");
    }

    #[test]
    fn inline_quotes_kept_trailing_quotes_cut() {
        let text = "> question one\nanswer one\n> question two\nanswer two";
        assert_eq!(trim(text).quoted, "");
        let t = trim("answer\n\n> old 1\n> old 2\n");
        assert_eq!(t.visible, "answer");
        assert_eq!(t.quoted, "> old 1\n> old 2");
    }

    #[test]
    fn nothing_to_trim_or_all_quote() {
        let t = trim("Just a message.\nTwo lines.");
        assert_eq!(t.visible, "Just a message.\nTwo lines.");
        assert_eq!(t.quoted, "");
        let t = trim("On Mon, X wrote:\n> all quoted");
        assert_eq!(t.visible, "On Mon, X wrote:\n> all quoted");
        assert_eq!(t.quoted, "");
    }

    #[test]
    fn bottom_posted_reply_shows_the_text_below_the_quote() {
        let t = trim(
            "Am 07.05.2012 08:10, schrieb Support:\n> Is it fixed?\n>\n\nYes, it works now.\n",
        );
        assert_eq!(t.visible, "Yes, it works now.");
        assert_eq!(
            t.quoted,
            "Am 07.05.2012 08:10, schrieb Support:\n> Is it fixed?\n>"
        );
    }
}
