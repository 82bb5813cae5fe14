//! The inbound decoder against the shared corpus of real-world mail
//! (`../shared/corpus`, see its README): every file parses without a panic,
//! and every Zammad message matches Zammad's expected parse on sender,
//! subject, body and attachment names, except for the documented
//! deliberate differences below.
//!
//! Run: `cargo test --test parse_corpus -- --nocapture` prints the
//! per-file comparison table.

#[allow(dead_code)] // each test file uses some of the shared helpers
mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::zammad::{self, body_score, normalise_ws, strip_html, Expected};
use oxidesk::mail::parse::{self, Inbound, ParseError};

/// Files that are not mail at all (see the corpus README).
const NOT_MAIL: [&str; 2] = ["rt/lorem-ipsum", "rt/ms-outlook__expected-output-1"];

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(bytes))
}

/// MANIFEST.tsv: path → sha256.
fn manifest(dir: &Path) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(dir.join("MANIFEST.tsv")).expect("reading MANIFEST.tsv");
    text.lines()
        .filter_map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            (cols.len() >= 3 && cols[0] != "path")
                .then(|| (cols[0].to_string(), cols[2].to_string()))
        })
        .collect()
}

#[test]
fn every_corpus_message_parses_without_panic() {
    let Some(dir) = zammad::corpus_dir() else {
        return;
    };
    let sums = manifest(&dir);
    let mut seen = 0;
    for sub in ["rt", "zammad"] {
        let mut files: Vec<_> = std::fs::read_dir(dir.join(sub))
            .expect("listing corpus")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_none_or(|x| x != "yml"))
            .collect();
        files.sort();
        for path in files {
            let rel = format!("{sub}/{}", path.file_name().unwrap().to_string_lossy());
            let raw = std::fs::read(&path).expect("reading corpus file");
            assert_eq!(
                sums.get(&rel).map(String::as_str),
                Some(sha256_hex(&raw).as_str()),
                "{rel}: not as listed in MANIFEST.tsv"
            );
            let result = std::panic::catch_unwind(|| (parse::parse(&raw), parse::dedupe_key(&raw)));
            let (parsed, key) = result.unwrap_or_else(|_| panic!("{rel}: the parser panicked"));
            assert_eq!(key.len(), 64, "{rel}: dedupe key");
            if NOT_MAIL.contains(&rel.as_str()) {
                assert_eq!(parsed.err(), Some(ParseError::NoHeaders), "{rel}");
            } else {
                let m = parsed.unwrap_or_else(|e| panic!("{rel}: {e}"));
                assert!(m.from.email.contains('@'), "{rel}: sender {:?}", m.from);
                assert!(
                    !m.text.contains('\u{fffd}') || rel.contains("gb18030"),
                    "{rel}: replacement characters in the text"
                );
                assert!(
                    !m.subject.contains('\u{fffd}'),
                    "{rel}: replacement characters in the subject"
                );
                for a in &m.attachments {
                    assert!(!a.filename.is_empty(), "{rel}: empty attachment name");
                }
            }
            seen += 1;
        }
    }
    assert_eq!(seen, 93, "33 RT files and 60 Zammad messages");
}

/// Deliberate differences from Zammad's expectations, and why.
/// (file, field) → reason.
const DIFFERENCES: &[(&str, &str, &str)] = &[
    ("mail046", "from_display_name",
     "the From header carries undeclared raw GB2312 bytes; Zammad shows Latin-1 mojibake 'ÎäŔźłÉ', we detect GB2312: '武兰成'"),
    ("mail089", "subject",
     "Zammad drops the colon after 'INC678439'; we keep the subject exactly as sent"),
    ("mail096", "message_id",
     "the Message-ID header is empty; Zammad stores a generated id, we report none (the store keys duplicates on the raw bytes, not on a made-up id)"),
    ("mail065", "from_display_name",
     "Zammad splits the encoded word at its comma and keeps '=20Andreas?='; we decode the whole word: 'Bürling, Andreas'"),
    ("mail076", "from_email",
     "Zammad keeps the stray '>' in the address; we drop it: '\"Millions Lottery Spain transfer\"@example.com'"),
    ("mail076", "from_display_name",
     "Zammad invents a display name out of the address; the header has none"),
    ("mail087", "from_email",
     "'From: Test test@example.com' has no angle brackets; Zammad takes the whole text as the address, we take test@example.com"),
    ("mail087", "from_display_name",
     "as above: our display name is 'Test'"),
    ("mail087", "body",
     "the text part has no Content-Type (RFC 2045 default text/plain); Zammad files it as an attachment 'file' and shows no body, we show the fax notice as the body"),
    ("mail087", "attachments",
     "as above: the text part is our body, so only fax_1234.pdf is an attachment"),
    ("mail071", "from_email",
     "'<power quadrant system@example.com>' has spaces in the local part; we quote it to a valid address"),
    ("mail071", "attachments",
     "the multipart has no parts at all; Zammad stores an empty attachment 'file', we store nothing"),
    ("mail044", "from_email",
     "trailing dot in the domain (yahoo.com.) removed, so the customer matches their other mail"),
    ("mail105", "attachments",
     "multipart/mixed without any delimiter: Zammad stores the body as an attachment 'file', we read it as the text body"),
    ("mail105", "body",
     "as above: Zammad shows no body, we show the text"),
    ("mail117", "from_email",
     "security: the local part is an encoded word; Zammad decodes it into a different address, we keep it literally"),
    ("mail118", "from_email",
     "security: '=?utf-8?Q?agent?=@example.com' would decode to agent@example.com (spoofing); we keep it literally"),
    ("mail025", "body",
     "the inline uuencoded CSV becomes an attachment (rulesets-report.csv) instead of staying in the text"),
];

fn deliberate(name: &str, field: &str) -> Option<&'static str> {
    DIFFERENCES
        .iter()
        .find(|(n, f, _)| *n == name && *f == field)
        .map(|(_, _, why)| *why)
}

#[derive(Default)]
struct Tally {
    compared: usize,
    matched: usize,
    deliberate: usize,
}

fn compare(
    tallies: &mut BTreeMap<&'static str, Tally>,
    failures: &mut Vec<String>,
    notes: &mut Vec<String>,
    e: &Expected,
    field: &'static str,
    ok: bool,
    detail: String,
) {
    let t = tallies.entry(field).or_default();
    t.compared += 1;
    if ok {
        t.matched += 1;
        if deliberate(&e.name, field).is_some() {
            failures.push(format!(
                "{} {field}: listed as a deliberate difference but matches; update DIFFERENCES",
                e.name
            ));
        }
    } else if let Some(why) = deliberate(&e.name, field) {
        t.deliberate += 1;
        notes.push(format!("{} {field}: {why} ({detail})", e.name));
    } else {
        failures.push(format!("{} {field}: {detail}", e.name));
    }
}

#[test]
fn zammad_expectations() {
    let pairs = zammad::pairs();
    if pairs.is_empty() {
        return;
    }
    let mut tallies: BTreeMap<&'static str, Tally> = BTreeMap::new();
    let mut failures = Vec::new();
    let mut notes = Vec::new();
    for e in &pairs {
        let m: Inbound = match parse::parse(&e.read_box()) {
            Ok(m) => m,
            Err(err) => {
                failures.push(format!("{}: does not parse: {err}", e.name));
                continue;
            }
        };
        if let Some(x) = &e.from_email {
            let ok = m.from.email == *x;
            compare(
                &mut tallies,
                &mut failures,
                &mut notes,
                e,
                "from_email",
                ok,
                format!("expected {x:?}, got {:?}", m.from.email),
            );
        }
        if let Some(x) = &e.from_display_name {
            let ok = normalise_ws(&m.from.name) == normalise_ws(x);
            compare(
                &mut tallies,
                &mut failures,
                &mut notes,
                e,
                "from_display_name",
                ok,
                format!("expected {x:?}, got {:?}", m.from.name),
            );
        }
        if let Some(x) = &e.subject {
            let ok = normalise_ws(&m.subject) == normalise_ws(x);
            compare(
                &mut tallies,
                &mut failures,
                &mut notes,
                e,
                "subject",
                ok,
                format!("expected {x:?}, got {:?}", m.subject),
            );
        }
        for (field, expected, ours) in [
            ("to", &e.to, m.to.clone()),
            ("cc", &e.cc, m.cc.clone()),
            (
                "reply_to",
                &e.reply_to,
                m.reply_to.clone().into_iter().collect(),
            ),
        ] {
            if let Some(x) = expected {
                let want = emails_in(x);
                let got: Vec<String> = ours.iter().map(|a| a.email.to_lowercase()).collect();
                compare(
                    &mut tallies,
                    &mut failures,
                    &mut notes,
                    e,
                    field,
                    want == got,
                    format!("expected {want:?}, got {got:?}"),
                );
            }
        }
        if let Some(x) = &e.message_id {
            let want = x.trim().trim_start_matches('<').trim_end_matches('>');
            let ok = m.message_id.as_deref() == Some(want);
            compare(
                &mut tallies,
                &mut failures,
                &mut notes,
                e,
                "message_id",
                ok,
                format!("expected {want:?}, got {:?}", m.message_id),
            );
        }
        if let Some(x) = &e.body {
            // When Zammad shows the HTML side, compare with our HTML side (our
            // `text` prefers the text/plain alternative, which may differ:
            // mail085); otherwise with our text.
            // Some files lack content_type but carry an HTML body (mail016).
            let html_expected = e.content_type.as_deref() == Some("text/html")
                || (e.content_type.is_none() && x.contains("</"));
            let (expected, ours) = if html_expected {
                (
                    strip_html(x),
                    m.html
                        .as_deref()
                        .map(strip_html)
                        .unwrap_or_else(|| m.text.clone()),
                )
            } else {
                (x.clone(), m.text.clone())
            };
            let (ok, detail) = if normalise_ws(&expected) == "no visible content" {
                (
                    m.text.trim().is_empty(),
                    format!("expected no text, got {:?}", truncate(&m.text)),
                )
            } else {
                let score = body_score(&expected, &ours);
                (
                    score >= 0.9,
                    format!("bigram score {score:.2}; ours starts {:?}", truncate(&ours)),
                )
            };
            compare(
                &mut tallies,
                &mut failures,
                &mut notes,
                e,
                "body",
                ok,
                detail,
            );
        }
        if let Some(mut x) = e.real_attachment_names() {
            let mut ours: Vec<String> = m.attachments.iter().map(|a| a.filename.clone()).collect();
            x.sort();
            ours.sort();
            let ok = ours == x;
            compare(
                &mut tallies,
                &mut failures,
                &mut notes,
                e,
                "attachments",
                ok,
                format!("expected {x:?}, got {ours:?}"),
            );
        }
    }
    eprintln!("\nZammad corpus comparison ({} messages):", pairs.len());
    for (field, t) in &tallies {
        eprintln!(
            "  {field:<18} compared {:>2}  match {:>2}  deliberate difference {:>2}",
            t.compared, t.matched, t.deliberate
        );
    }
    for n in &notes {
        eprintln!("  deliberate: {n}");
    }
    for f in &failures {
        eprintln!("  MISMATCH: {f}");
    }
    assert!(
        failures.is_empty(),
        "{} unexpected mismatches (see above)",
        failures.len()
    );
}

/// Addresses in one of Zammad's address strings ("Name <a@b>, c@d"),
/// lowercased, in order: per comma-separated entry (commas inside quotes
/// do not split), the `<…>` part, else the token with an '@'.
fn emails_in(s: &str) -> Vec<String> {
    let mut entries = Vec::new();
    let (mut quoted, mut cur) = (false, String::new());
    for c in s.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                cur.push(c);
            }
            ',' if !quoted => entries.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    entries.push(cur);
    entries
        .iter()
        .filter_map(|e| {
            let addr = match (e.rfind('<'), e.rfind('>')) {
                (Some(l), Some(r)) if l < r => e[l + 1..r].to_string(),
                _ => e
                    .split(|c: char| c.is_whitespace())
                    .find(|t| t.contains('@'))?
                    .to_string(),
            };
            let addr = addr
                .trim_matches(|c: char| "<>\"'();".contains(c))
                .to_lowercase();
            addr.contains('@').then_some(addr)
        })
        .collect()
}

fn truncate(s: &str) -> String {
    s.chars().take(120).collect()
}

#[test]
fn rt_outlook_html_is_cleaned_like_rt_does() {
    let Some(dir) = zammad::corpus_dir() else {
        return;
    };
    let raw = std::fs::read(dir.join("rt/ms-outlook__input-msg-1")).expect("reading RT input");
    let expected = std::fs::read_to_string(dir.join("rt/ms-outlook__expected-output-1"))
        .expect("reading RT expected output");
    let m = parse::parse(&raw).expect("parses");
    let html = m.html.expect("an HTML body");
    // RT removes Outlook's markup (o:p, MsoNormal classes, styles) and keeps
    // the text; compare the visible text, and check the markup is gone.
    let score = body_score(&strip_html(&expected), &strip_html(&html));
    assert!(score >= 0.9, "visible text differs: {score:.2}\n{html}");
    assert!(
        !html.contains("<o:p>") && !html.contains("MsoNormal"),
        "{html}"
    );
    assert!(!html.contains("<script"), "{html}");
}

#[test]
fn every_zammad_expectation_loads() {
    let pairs = zammad::pairs();
    if pairs.is_empty() {
        return;
    }
    assert_eq!(pairs.len(), 60, "the corpus has 60 Zammad pairs");
    for p in &pairs {
        assert!(p.box_path.is_file(), "{} has no .box", p.name);
        assert!(p.subject.is_some(), "{} has no subject", p.name);
    }
    let m079 = pairs.iter().find(|p| p.name == "mail079").expect("mail079");
    let atts = m079.attachments.as_ref().expect("mail079 attachments");
    assert_eq!(atts.len(), 2);
    assert!(atts[0].is_zammad_body_copy());
    assert_eq!(atts[1].filename, "a.jpg");
    assert_eq!(&atts[1].data[..2], &[0xff, 0xd8], "!binary data is decoded");
    assert_eq!(
        m079.real_attachment_names(),
        Some(vec!["a.jpg".to_string()])
    );
}

/// Every corpus message cut short at several points (an MTA or a client
/// dying mid-message) and with bytes overwritten still parses or fails
/// cleanly: never a panic.
#[test]
fn damaged_corpus_messages_never_panic() {
    let Some(dir) = zammad::corpus_dir() else {
        return;
    };
    for sub in ["rt", "zammad"] {
        for entry in std::fs::read_dir(dir.join(sub)).expect("listing corpus") {
            let path = entry.expect("corpus entry").path();
            if path.extension().is_some_and(|x| x == "yml") {
                continue;
            }
            let raw = std::fs::read(&path).expect("reading corpus file");
            for k in 1..8 {
                let cut = raw.len() * k / 8;
                let prefix = &raw[..cut];
                let ok = std::panic::catch_unwind(|| {
                    let _ = parse::parse(prefix);
                    let mut damaged = raw.clone();
                    for i in (cut % 7..damaged.len()).step_by(97) {
                        damaged[i] = [0, b'\n', b'=', b'?', 0xff, b'-', b'<'][i % 7];
                    }
                    let _ = parse::parse(&damaged);
                });
                assert!(
                    ok.is_ok(),
                    "{} damaged at {cut}: the parser panicked",
                    path.display()
                );
            }
        }
    }
}
