//! Address lists (From, To, Cc, Reply-To), leniently.
//!
//! Works on the header text before RFC 2047 decoding, so that an encoded
//! word can only ever become part of a display name: an encoded word in
//! the address itself (`=?utf-8?Q?agent?=@example.com`) is kept literally,
//! never decoded into a different address (a spoofing vector).
//!
//! mailparse's `addrparse` is not used: it rejects the malformed headers
//! real mail carries (`Test test@example.com`, `"x"@example.com>`, an
//! address in a comment, spaces inside angle brackets) where we must still
//! find the sender.

use super::headers::decode_words;
use super::Address;

/// One parsed mailbox and what was odd about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Parsed {
    pub addr: Address,
    /// The address contained an encoded word, kept literally.
    pub encoded_local: bool,
    /// The address needed repair (stray brackets, trailing dot, no angle
    /// brackets around it next to a name, spaces in the local part).
    pub repaired: bool,
}

/// Splits an address list at commas and semicolons outside quotes, angle
/// brackets, comments and encoded words; strips group labels.
fn split_list(s: &str) -> Vec<&str> {
    let b = s.as_bytes();
    let mut parts = Vec::new();
    let (mut quoted, mut angle, mut depth) = (false, false, 0usize);
    let mut start = 0;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if quoted {
            match c {
                b'\\' => i += 1,
                b'"' => quoted = false,
                _ => {}
            }
        } else if depth > 0 {
            match c {
                b'\\' => i += 1,
                b'(' => depth += 1,
                b')' => depth -= 1,
                _ => {}
            }
        } else {
            match c {
                b'"' => quoted = true,
                b'(' => depth = 1,
                b'<' => angle = true,
                b'>' => angle = false,
                b'=' if b.get(i + 1) == Some(&b'?') => {
                    // Skip an encoded word whole: its text may hold commas.
                    let rest = &b[i + 2..];
                    let window = &rest[..rest.len().min(4096)];
                    if let Some(end) = window.windows(2).position(|w| w == b"?=") {
                        let word = &s[i..i + 2 + end + 2];
                        if word.matches('?').count() >= 4 && !word.contains(char::is_whitespace) {
                            i += word.len();
                            continue;
                        }
                    }
                }
                b',' | b';' if !angle => {
                    parts.push(&s[start..i]);
                    start = i + 1;
                }
                _ => {}
            }
        }
        i += 1;
    }
    parts.push(&s[start..]);
    parts
        .into_iter()
        .map(strip_group_label)
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect()
}

/// `Group name: a@b` → `a@b` (a colon outside quotes before any `<`/`@`).
fn strip_group_label(s: &str) -> &str {
    let mut quoted = false;
    for (i, c) in s.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '<' | '@' | '(' if !quoted => return s,
            ':' if !quoted => return &s[i + 1..],
            _ => {}
        }
    }
    s
}

/// Parses every mailbox in an address header; unusable entries are
/// skipped.
pub(crate) fn parse_list(s: &str) -> Vec<Parsed> {
    split_list(s)
        .into_iter()
        .filter_map(parse_mailbox)
        .collect()
}

/// Removes comments from `s`, returning (rest, comment texts).
fn strip_comments(s: &str) -> (String, Vec<String>) {
    let mut rest = String::with_capacity(s.len());
    let mut comments = Vec::new();
    let mut cur = String::new();
    let (mut depth, mut quoted, mut esc) = (0usize, false, false);
    for c in s.chars() {
        if esc {
            if depth > 0 {
                cur.push(c);
            } else {
                rest.push(c);
            }
            esc = false;
            continue;
        }
        match c {
            '\\' if quoted || depth > 0 => {
                esc = true;
                if depth == 0 {
                    rest.push(c);
                }
            }
            '"' if depth == 0 => {
                quoted = !quoted;
                rest.push(c);
            }
            '(' if !quoted => {
                if depth > 0 {
                    cur.push(c);
                }
                depth += 1;
            }
            ')' if !quoted && depth > 0 => {
                depth -= 1;
                if depth == 0 {
                    comments.push(std::mem::take(&mut cur));
                    rest.push(' ');
                } else {
                    cur.push(c);
                }
            }
            _ if depth > 0 => cur.push(c),
            _ => rest.push(c),
        }
    }
    if !cur.is_empty() {
        comments.push(cur);
    }
    (rest, comments)
}

/// The token containing `@` outside quotes, extended over adjacent
/// non-blank text and quoted strings: (start, end) in `s`.
fn addr_span(s: &str) -> Option<(usize, usize)> {
    let b = s.as_bytes();
    let mut quoted = false;
    let mut at = None;
    for (i, &c) in b.iter().enumerate() {
        match c {
            b'"' => quoted = !quoted,
            b'@' if !quoted => {
                at = Some(i);
                break;
            }
            _ => {}
        }
    }
    let at = at?;
    // Walk left: non-blank chars; a quoted string directly before is kept.
    let mut start = at;
    while start > 0 {
        let c = b[start - 1];
        if c == b'"' {
            // Find the opening quote.
            match s[..start - 1].rfind('"') {
                Some(open) => start = open,
                None => break,
            }
        } else if c.is_ascii_whitespace() {
            break;
        } else {
            start -= 1;
        }
    }
    let mut end = at + 1;
    while end < b.len() && !b[end].is_ascii_whitespace() {
        end += 1;
    }
    Some((start, end))
}

fn parse_mailbox(seg: &str) -> Option<Parsed> {
    let (rest, comments) = strip_comments(seg);
    let mut repaired = false;
    let (name_raw, addr_raw): (String, String) = match angle(&rest) {
        Some((lt, gt)) => {
            let inner = rest[lt + 1..gt].to_string();
            let name = format!("{} {}", &rest[..lt], rest.get(gt + 1..).unwrap_or(""));
            (name, inner)
        }
        None => match addr_span(&rest) {
            Some((s, e)) => {
                let name = format!("{} {}", &rest[..s], &rest[e..]);
                if !name.trim().is_empty() {
                    repaired = true;
                }
                (name, rest[s..e].to_string())
            }
            None => {
                // The address may sit in a comment: `Name (a@b)`.
                let c = comments.iter().find(|c| c.contains('@'))?;
                let (s, e) = addr_span(c)?;
                repaired = true;
                (rest.clone(), c[s..e].to_string())
            }
        },
    };
    let (email, fixed) = clean_addr(&addr_raw)?;
    repaired |= fixed;
    let mut name = display_name(&name_raw);
    if name.is_empty() {
        if let Some(c) = comments.iter().find(|c| !c.contains('@')) {
            name = display_name(c);
        }
    }
    let encoded_local = email.contains("=?") && email.contains("?=");
    Some(Parsed {
        addr: Address { name, email },
        encoded_local,
        repaired,
    })
}

/// Position of `<` and its `>` (or the end) outside quotes.
fn angle(s: &str) -> Option<(usize, usize)> {
    let mut quoted = false;
    for (i, c) in s.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '<' if !quoted => {
                let gt = s[i..].find('>').map_or(s.len(), |g| i + g);
                return Some((i, gt));
            }
            _ => {}
        }
    }
    None
}

/// Normalises an addr-spec; None when it is not usable.
fn clean_addr(a: &str) -> Option<(String, bool)> {
    let mut fixed = false;
    let t = a.trim();
    let t2 = t.trim_matches(|c: char| c == '<' || c == '>' || c.is_whitespace());
    fixed |= t2.len() != t.len();
    let t = t2
        .strip_prefix("mailto:")
        .or_else(|| t2.strip_prefix("MAILTO:"))
        .unwrap_or(t2);
    let at = t.rfind('@')?;
    let (local, domain) = (t[..at].trim(), t[at + 1..].trim());
    let domain_clean = domain.trim_end_matches('.');
    fixed |= domain_clean.len() != domain.len();
    if local.is_empty()
        || domain_clean.is_empty()
        || domain_clean.contains(|c: char| {
            c.is_whitespace() || matches!(c, '<' | '>' | '@' | '"' | ',' | ';' | '(' | ')')
        })
    {
        return None;
    }
    let bare = if local.len() >= 2 && local.starts_with('"') && local.ends_with('"') {
        local[1..local.len() - 1]
            .replace("\\\"", "\"")
            .replace("\\\\", "\\")
    } else {
        local.to_string()
    };
    if bare.is_empty() || bare.contains(['\r', '\n', '\0']) {
        return None;
    }
    let needs_quotes = bare.starts_with('.')
        || bare.ends_with('.')
        || bare.contains("..")
        || bare.contains(|c: char| c.is_whitespace() || "\"(),:;<>@[\\]".contains(c));
    let local = if needs_quotes {
        if !(local.starts_with('"') && local.ends_with('"')) {
            fixed = true;
        }
        format!("\"{}\"", bare.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        bare
    };
    Some((format!("{local}@{domain_clean}"), fixed))
}

/// A display name: quotes removed, encoded words decoded (also inside
/// quotes, a common non-compliance), blanks collapsed.
pub(crate) fn display_name(raw: &str) -> String {
    let mut unq = String::with_capacity(raw.len());
    let mut esc = false;
    for c in raw.chars() {
        if esc {
            unq.push(c);
            esc = false;
        } else if c == '\\' {
            esc = true;
        } else if c != '"' {
            unq.push(c);
        }
    }
    let (decoded, _) = decode_words(&unq);
    let collapsed = decoded
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let t = collapsed.trim();
    let t = if t.len() >= 2 && t.starts_with('\'') && t.ends_with('\'') {
        t[1..t.len() - 1].trim()
    } else {
        t
    };
    t.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(s: &str) -> (String, String) {
        let p = parse_list(s);
        let a = &p.first().expect("an address").addr;
        (a.name.clone(), a.email.clone())
    }

    #[test]
    fn ordinary_forms() {
        assert_eq!(one("a@b.c"), ("".into(), "a@b.c".into()));
        assert_eq!(
            one("\"Smith, J\" <j@x.org>"),
            ("Smith, J".into(), "j@x.org".into())
        );
        assert_eq!(
            one("J Smith <j@x.org>"),
            ("J Smith".into(), "j@x.org".into())
        );
        assert_eq!(
            one("MAILER-DAEMON@example.com (Mail Delivery System)"),
            (
                "Mail Delivery System".into(),
                "MAILER-DAEMON@example.com".into()
            )
        );
        assert_eq!(
            one("+123@example.com"),
            ("".into(), "+123@example.com".into())
        );
    }

    #[test]
    fn lists_and_groups() {
        let l = parse_list("\"Yangzhou ABC \" <bob@example.com>, \"LTD\" <ly@example.com>");
        assert_eq!(l.len(), 2);
        assert_eq!(l[0].addr.name, "Yangzhou ABC");
        assert_eq!(l[1].addr.email, "ly@example.com");
        let l = parse_list("Team: a@x.org, b@x.org; c@x.org, undisclosed-recipients:;");
        let emails: Vec<_> = l.iter().map(|p| p.addr.email.as_str()).collect();
        assert_eq!(emails, ["a@x.org", "b@x.org", "c@x.org"]);
    }

    #[test]
    fn encoded_names_with_commas() {
        assert_eq!(
            one("=?iso-8859-1?Q?B=FCrling,=20Andreas?= <smith@example.com>"),
            ("Bürling, Andreas".into(), "smith@example.com".into())
        );
        assert_eq!(
            one("=?Windows-1252?Q?Hans_B=C4KO?= =?iso-8859-15?q?Sch=F6nland?= <me@bogen.net>"),
            ("Hans BÄKOSchönland".into(), "me@bogen.net".into())
        );
    }

    #[test]
    fn malformed_from_headers() {
        assert_eq!(
            one("Test test@example.com"),
            ("Test".into(), "test@example.com".into())
        );
        assert_eq!(
            one("\"Millions Lottery Spain transfer\"@example.com>"),
            (
                "".into(),
                "\"Millions Lottery Spain transfer\"@example.com".into()
            )
        );
        assert_eq!(
            one("=?iso-8859-2?Q?Namedy=F1ski?= (hans@example.com)"),
            ("Namedyński".into(), "hans@example.com".into())
        );
        assert_eq!(
            one("\"your secret past\" <power quadrant system@example.com>"),
            (
                "your secret past".into(),
                "\"power quadrant system\"@example.com".into()
            )
        );
        assert_eq!(one("\"C\" <c.s@yahoo.com.>").1, "c.s@yahoo.com");
        assert!(parse_list("just a name").is_empty());
        assert!(parse_list("<@>").is_empty());
    }

    #[test]
    fn encoded_word_never_becomes_an_address() {
        let p = parse_list("=?utf-8?Q?agent?=@example.com");
        assert_eq!(p[0].addr.email, "=?utf-8?Q?agent?=@example.com");
        assert!(p[0].encoded_local);
        let p = parse_list("=?utf-8?Q?attacker?Q?agent?=@victim.example");
        assert_eq!(
            p[0].addr.email,
            "=?utf-8?Q?attacker?Q?agent?=@victim.example"
        );
        assert!(p[0].encoded_local);
        // An encoded word may still be a display name.
        let p = parse_list("=?utf-8?Q?agent=40example.com?= <real@sender.org>");
        assert_eq!(p[0].addr.email, "real@sender.org");
        assert_eq!(p[0].addr.name, "agent@example.com");
    }
}
