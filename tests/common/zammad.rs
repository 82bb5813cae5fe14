//! Loader for the Zammad expectation files in the shared test corpus.
//!
//! The corpus (`../shared/corpus` from the repository root) holds pairs
//! `zammad/mailNNN.box` (raw message) and `zammad/mailNNN.yml` (Zammad's
//! expected parse). The `.yml` files are Ruby YAML dumps: mappings are
//! tagged `!ruby/hash:ActiveSupport::HashWithIndifferentAccess` and binary
//! attachment data is tagged `!binary` (base64). This module unwraps the tags
//! and exposes the fields our tests compare.
//!
//! Use it from an integration test with `mod common;` and
//! `common::zammad::pairs()`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde_yaml::Value;

/// The corpus directory, or None when it is missing outside CI.
///
/// In CI (`CI=true`) a missing corpus is a failure, never a silent skip.
pub fn corpus_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var("CI").map(|v| v == "true").unwrap_or(false) {
        panic!(
            "the shared email corpus is missing at {} (required in CI)",
            dir.display()
        );
    }
    eprintln!(
        "\n!!!!! SKIPPING: the shared email corpus is missing at {} !!!!!\n",
        dir.display()
    );
    None
}

/// One attachment as Zammad expects it.
#[derive(Debug, Clone)]
pub struct ExpectedAttachment {
    pub filename: String,
    /// Decoded content (`!binary` base64 is decoded; plain strings as UTF-8).
    pub data: Vec<u8>,
    /// `preferences` mapping, tags removed (Content-Type, Mime-Type,
    /// Charset, Content-ID, content-alternative, …).
    pub preferences: Value,
}

impl ExpectedAttachment {
    /// A preference as a string (e.g. "Mime-Type", "Content-ID").
    pub fn preference(&self, key: &str) -> Option<String> {
        self.preferences.get(key).and_then(scalar_string)
    }

    /// Zammad keeps the HTML body of a message as an extra attachment called
    /// `message.html` (preference `content-alternative: true`); that is a
    /// Zammad storage detail, not an attachment of the mail.
    pub fn is_zammad_body_copy(&self) -> bool {
        self.preferences
            .get("content-alternative")
            .map(|v| matches!(unwrap(v), Value::Bool(true)))
            .unwrap_or(false)
    }
}

/// Zammad's expected parse of one corpus message. Any field may be absent:
/// some expectation files are partial (subject only).
#[derive(Debug, Clone)]
pub struct Expected {
    /// File stem, e.g. `mail079`.
    pub name: String,
    /// Path of the raw `.box` message.
    pub box_path: PathBuf,
    pub from: Option<String>,
    pub from_email: Option<String>,
    pub from_display_name: Option<String>,
    pub to: Option<String>,
    pub cc: Option<String>,
    pub reply_to: Option<String>,
    pub subject: Option<String>,
    pub body: Option<String>,
    pub content_type: Option<String>,
    pub message_id: Option<String>,
    /// None when the file has no `attachments` key at all.
    pub attachments: Option<Vec<ExpectedAttachment>>,
    /// The whole document, tags removed, for anything not mapped above.
    pub raw: Value,
}

impl Expected {
    /// Reads the raw message.
    pub fn read_box(&self) -> Vec<u8> {
        std::fs::read(&self.box_path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", self.box_path.display()))
    }

    /// Attachment filenames, leaving out Zammad's own `message.html` copy
    /// of the HTML body.
    pub fn real_attachment_names(&self) -> Option<Vec<String>> {
        self.attachments.as_ref().map(|list| {
            list.iter()
                .filter(|a| !a.is_zammad_body_copy())
                .map(|a| a.filename.clone())
                .collect()
        })
    }
}

/// Every `zammad/*.yml` with its `.box`, sorted by name. Empty when the
/// corpus is missing outside CI (see [`corpus_dir`]).
pub fn pairs() -> Vec<Expected> {
    let Some(dir) = corpus_dir() else {
        return Vec::new();
    };
    pairs_in(&dir.join("zammad"))
}

/// Every `*.yml` in `dir` with its `.box`, sorted by name.
pub fn pairs_in(dir: &Path) -> Vec<Expected> {
    let entries =
        std::fs::read_dir(dir).unwrap_or_else(|e| panic!("listing {}: {e}", dir.display()));
    let mut out: Vec<Expected> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yml"))
        .map(|yml| load(&yml))
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// Loads one expectation file; its message is the `.box` beside it.
pub fn load(yml: &Path) -> Expected {
    let text = std::fs::read(yml).unwrap_or_else(|e| panic!("reading {}: {e}", yml.display()));
    let doc: Value =
        serde_yaml::from_slice(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", yml.display()));
    let doc = strip_tags(doc);
    let name = yml
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let field = |k: &str| doc.get(k).and_then(scalar_string);
    let attachments = doc.get("attachments").map(|list| match list {
        Value::Sequence(items) => items.iter().map(attachment).collect(),
        _ => Vec::new(),
    });
    Expected {
        box_path: yml.with_extension("box"),
        name,
        from: field("from"),
        from_email: field("from_email"),
        from_display_name: field("from_display_name"),
        to: field("to"),
        cc: field("cc"),
        reply_to: field("reply-to"),
        subject: field("subject"),
        body: field("body"),
        content_type: field("content_type"),
        message_id: field("message_id"),
        attachments,
        raw: doc,
    }
}

fn attachment(v: &Value) -> ExpectedAttachment {
    let filename = v
        .get("filename")
        .and_then(scalar_string)
        .unwrap_or_default();
    let data = match v.get("data") {
        Some(Value::String(s)) => s.clone().into_bytes(),
        Some(Value::Tagged(t)) => match &t.value {
            Value::String(s) if t.tag == "binary" || t.tag == "!binary" => {
                let clean: String = s.chars().filter(|c| !c.is_whitespace()).collect();
                base64::engine::general_purpose::STANDARD
                    .decode(clean.as_bytes())
                    .unwrap_or_else(|e| panic!("bad !binary data for {filename}: {e}"))
            }
            other => scalar_string(other).unwrap_or_default().into_bytes(),
        },
        Some(other) => scalar_string(other).unwrap_or_default().into_bytes(),
        None => Vec::new(),
    };
    ExpectedAttachment {
        filename,
        data,
        preferences: v.get("preferences").cloned().unwrap_or(Value::Null),
    }
}

/// Removes every tag except `!binary` (kept so attachment data can be
/// base64-decoded).
fn strip_tags(v: Value) -> Value {
    match v {
        Value::Tagged(t) => {
            if t.tag == "binary" || t.tag == "!binary" {
                Value::Tagged(t)
            } else {
                strip_tags(t.value)
            }
        }
        Value::Mapping(m) => Value::Mapping(
            m.into_iter()
                .map(|(k, v)| (strip_tags(k), strip_tags(v)))
                .collect(),
        ),
        Value::Sequence(s) => Value::Sequence(s.into_iter().map(strip_tags).collect()),
        other => other,
    }
}

fn unwrap(v: &Value) -> &Value {
    match v {
        Value::Tagged(t) => unwrap(&t.value),
        other => other,
    }
}

/// A scalar as a string (numbers and booleans too: `subject: 123` is a
/// subject); None for null, mappings and sequences.
pub fn scalar_string(v: &Value) -> Option<String> {
    match unwrap(v) {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Collapses every run of whitespace (including non-breaking spaces) to one
/// space and trims: the basis of the loose body comparison.
pub fn normalise_ws(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for word in s.split(|c: char| c.is_whitespace() || c == '\u{a0}') {
        if word.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// Crude HTML → text for Zammad's HTML bodies: tags become spaces, the
/// common entities are decoded.
pub fn strip_html(h: &str) -> String {
    let mut out = String::with_capacity(h.len());
    let mut in_tag = false;
    for c in h.chars() {
        match c {
            '<' => {
                in_tag = true;
                out.push(' ');
            }
            '>' if in_tag => in_tag = false,
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// Character bigrams of a text for the loose comparison: letters and digits
/// only, lowercased. Bigrams rather than words so that Chinese and Japanese
/// text (no spaces) compares as fairly as European text.
fn bigrams(s: &str) -> Vec<(char, char)> {
    let chars: Vec<char> = s
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect();
    chars.windows(2).map(|w| (w[0], w[1])).collect()
}

/// Share of the expected bigrams found in ours (1.0 when nothing is
/// expected). Zammad post-processes bodies (signatures, quote markers, HTML
/// cleanup), so presence is the fair measure, not equality. `BODY_DEBUG=1`
/// prints what is missing.
pub fn body_score(expected: &str, ours: &str) -> f64 {
    let exp = bigrams(expected);
    if exp.is_empty() {
        return 1.0;
    }
    let ours: std::collections::HashSet<(char, char)> = bigrams(ours).into_iter().collect();
    let hit = exp.iter().filter(|w| ours.contains(*w)).count();
    if std::env::var("BODY_DEBUG").is_ok() {
        let miss: String = exp
            .iter()
            .filter(|w| !ours.contains(*w))
            .map(|w| w.0)
            .collect();
        eprintln!("missing bigrams start with: {miss}");
    }
    hit as f64 / exp.len() as f64
}
