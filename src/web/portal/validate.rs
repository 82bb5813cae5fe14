//! Server-side checks of the new-ticket form: the address, custom field
//! values per kind, and uploads against the attachment settings. Problems
//! are translation keys with arguments; the handler words them in the
//! visitor's language.

use std::collections::HashMap;

use crate::store::forms::{FieldValue, FormField};

/// A problem with one input, as a catalogue key and its placeholders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub key: &'static str,
    pub args: Vec<(&'static str, String)>,
}

impl Problem {
    pub fn new(key: &'static str) -> Problem {
        Problem {
            key,
            args: Vec::new(),
        }
    }

    pub fn with(mut self, name: &'static str, value: impl Into<String>) -> Problem {
        self.args.push((name, value.into()));
        self
    }
}

pub const MAX_TEXT: usize = 500;
pub const MAX_LONG_TEXT: usize = 10_000;

/// An address we can mail: one `@`, something before it, a dotted domain
/// after it, no spaces or control characters.
pub fn email(raw: &str) -> Result<String, Problem> {
    let e = raw.trim();
    if e.is_empty() {
        return Err(Problem::new("portal.err_required"));
    }
    let ok = e.len() <= 254
        && !e.chars().any(|c| c.is_whitespace() || c.is_control())
        && e.matches('@').count() == 1
        && e.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && local.len() <= 64
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains("..")
                && !domain.contains(['(', ')', '<', '>', ',', ';', ':', '[', ']', '"', '\\'])
        });
    if ok {
        Ok(e.to_string())
    } else {
        Err(Problem::new("portal.err_email"))
    }
}

/// Persian and Arabic-Indic digits (and the Arabic decimal separator) as
/// ASCII, so "۱۲٫۵" is read as 12.5.
pub fn ascii_digits(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\u{06F0}'..='\u{06F9}' => char::from(b'0' + (c as u32 - 0x06F0) as u8),
            '\u{0660}'..='\u{0669}' => char::from(b'0' + (c as u32 - 0x0660) as u8),
            '\u{066B}' => '.',
            _ => c,
        })
        .collect()
}

/// The inputs for custom fields, as submitted: `"12"` → value for field 12;
/// `"12_3"` → option 3 of multi-choice field 12 was ticked.
pub type Submitted = HashMap<String, String>;

/// Check every field of the chosen topic. Returns the values to store (one
/// per field that has one) or the problems keyed by field id.
pub fn fields(
    list: &[FormField],
    given: &Submitted,
) -> Result<Vec<FieldValue>, HashMap<i64, Problem>> {
    let mut values = Vec::new();
    let mut problems = HashMap::new();
    for f in list {
        match field(f, given) {
            Ok(Some(value)) => values.push(FieldValue {
                field_id: Some(f.id),
                label: f.label.clone(),
                kind: f.kind.clone(),
                value,
            }),
            Ok(None) => {}
            Err(p) => {
                problems.insert(f.id, p);
            }
        }
    }
    if problems.is_empty() {
        Ok(values)
    } else {
        Err(problems)
    }
}

/// The ticked options of a multi-choice field, in the field's order.
pub fn ticked(f: &FormField, given: &Submitted) -> Vec<String> {
    f.options
        .iter()
        .enumerate()
        .filter(|(i, _)| given.contains_key(&format!("{}_{i}", f.id)))
        .map(|(_, o)| o.clone())
        .collect()
}

fn field(f: &FormField, given: &Submitted) -> Result<Option<String>, Problem> {
    let raw = given.get(&f.id.to_string()).map(|s| s.trim()).unwrap_or("");
    let required = || {
        if f.required {
            Err(Problem::new("portal.err_required"))
        } else {
            Ok(None)
        }
    };
    match f.kind.as_str() {
        "text" | "long_text" => {
            if raw.is_empty() {
                return required();
            }
            let max = if f.kind == "text" {
                MAX_TEXT
            } else {
                MAX_LONG_TEXT
            };
            if raw.chars().count() > max {
                return Err(Problem::new("portal.err_too_long").with("max", max.to_string()));
            }
            Ok(Some(raw.to_string()))
        }
        "number" => {
            if raw.is_empty() {
                return required();
            }
            let ascii = ascii_digits(raw).replace([',', ' '], "");
            match ascii.parse::<f64>() {
                Ok(n) if n.is_finite() && ascii.len() <= 40 => Ok(Some(ascii)),
                _ => Err(Problem::new("portal.err_number")),
            }
        }
        "date" => {
            if raw.is_empty() {
                return required();
            }
            let ascii = ascii_digits(raw);
            match chrono::NaiveDate::parse_from_str(&ascii, "%Y-%m-%d") {
                Ok(d) => Ok(Some(d.format("%Y-%m-%d").to_string())),
                Err(_) => Err(Problem::new("portal.err_date")),
            }
        }
        "choice" => {
            if raw.is_empty() {
                return required();
            }
            if f.options.iter().any(|o| o == raw) {
                Ok(Some(raw.to_string()))
            } else {
                Err(Problem::new("portal.err_choice"))
            }
        }
        "multi_choice" => {
            let picked = ticked(f, given);
            // A ticked index that is not an option is a forged form.
            let prefix = format!("{}_", f.id);
            let stray = given.keys().any(|k| {
                k.strip_prefix(&prefix)
                    .is_some_and(|i| i.parse::<usize>().map_or(true, |i| i >= f.options.len()))
            });
            if stray {
                return Err(Problem::new("portal.err_choice"));
            }
            if picked.is_empty() {
                return required();
            }
            Ok(Some(serde_json::to_string(&picked).unwrap_or_default()))
        }
        "checkbox" => {
            let on = matches!(raw, "1" | "on" | "true" | "yes");
            if !on && f.required {
                return Err(Problem::new("portal.err_checkbox"));
            }
            Ok(Some(if on { "1" } else { "0" }.to_string()))
        }
        _ => Ok(None),
    }
}

/// A file name safe to store and offer: the last path component, without
/// control characters, bidirectional overrides (which can disguise
/// "gpj.exe" as "exe.jpg"), characters Windows forbids or leading dots;
/// at most 150 characters, keeping the extension.
pub fn filename(raw: &str) -> String {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or(raw);
    let cleaned: String = base
        .chars()
        .filter(|c| {
            !c.is_control()
                && !matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
        })
        .map(|c| match c {
            '<' | '>' | ':' | '"' | '|' | '?' | '*' => '_',
            c => c,
        })
        .collect();
    let cleaned = cleaned.trim().trim_start_matches('.').trim();
    if cleaned.is_empty() {
        return "attachment".to_string();
    }
    const MAX: usize = 150;
    if cleaned.chars().count() <= MAX {
        return cleaned.to_string();
    }
    let (stem, ext) = match cleaned.rsplit_once('.') {
        Some((s, e)) if e.chars().count() <= 10 && !s.is_empty() => (s, Some(e)),
        _ => (cleaned, None),
    };
    let keep = MAX - ext.map_or(0, |e| e.chars().count() + 1);
    let mut out: String = stem.chars().take(keep).collect();
    if let Some(e) = ext {
        out.push('.');
        out.push_str(e);
    }
    out
}

/// Extensions never accepted when `attachments.allowed_types` is empty.
const EXECUTABLE: &[&str] = &[
    "exe", "com", "bat", "cmd", "scr", "pif", "msi", "msp", "dll", "cpl", "hta", "jar", "js",
    "jse", "vbs", "vbe", "wsf", "wsh", "ps1", "psm1", "reg", "lnk", "sh", "app", "apk", "gadget",
];

/// The attachment limits from settings.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_files: usize,
    pub max_file_bytes: u64,
    /// Lower-case extensions without dots and MIME types (`image/*` allowed).
    pub allowed: Vec<String>,
}

impl Limits {
    pub fn parse_allowed(s: &str) -> Vec<String> {
        s.split([',', ' ', '\n'])
            .map(|x| x.trim().trim_start_matches('.').to_ascii_lowercase())
            .filter(|x| !x.is_empty())
            .collect()
    }

    /// Is a file with this name and type acceptable?
    pub fn type_allowed(&self, name: &str, mime: &str) -> bool {
        let ext = name
            .rsplit_once('.')
            .map(|(_, e)| e.to_ascii_lowercase())
            .unwrap_or_default();
        if self.allowed.is_empty() {
            return !EXECUTABLE.contains(&ext.as_str());
        }
        let mime = mime.to_ascii_lowercase();
        let mime = mime.split(';').next().unwrap_or("").trim();
        self.allowed.iter().any(|a| {
            if let Some(major) = a.strip_suffix("/*") {
                mime.split('/').next() == Some(major)
            } else if a.contains('/') {
                a == mime
            } else {
                !ext.is_empty() && *a == ext
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::HelpTopicId;

    fn f(id: i64, kind: &str, required: bool, options: &[&str]) -> FormField {
        FormField {
            id,
            help_topic_id: HelpTopicId(1),
            label: format!("F{id}"),
            kind: kind.into(),
            required,
            help: String::new(),
            options: options.iter().map(|s| s.to_string()).collect(),
            sort: id,
            active: true,
        }
    }

    fn given(pairs: &[(&str, &str)]) -> Submitted {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn addresses() {
        assert_eq!(email(" a@b.io ").as_deref(), Ok("a@b.io"));
        assert!(email("کاربر@مثال.ایران").is_ok());
        for bad in [
            "", "a", "a@b", "a@@b.io", "a b@c.io", "@b.io", "a@.io", "a@b..io",
        ] {
            assert!(email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn kinds_and_required() {
        let list = [
            f(1, "number", true, &[]),
            f(2, "date", false, &[]),
            f(3, "choice", true, &["A", "B"]),
            f(4, "multi_choice", false, &["x", "y", "z"]),
            f(5, "checkbox", true, &[]),
        ];
        let ok = fields(
            &list,
            &given(&[
                ("1", "۱۲٫۵"),
                ("2", "2026-11-23"),
                ("3", "B"),
                ("4_0", "x"),
                ("4_2", "z"),
                ("5", "1"),
            ]),
        )
        .unwrap();
        let v: Vec<&str> = ok.iter().map(|v| v.value.as_str()).collect();
        assert_eq!(v, ["12.5", "2026-11-23", "B", "[\"x\",\"z\"]", "1"]);
        let bad = fields(
            &list,
            &given(&[
                ("1", "twelve"),
                ("2", "23/11/2026"),
                ("3", "C"),
                ("4_7", "q"),
            ]),
        )
        .unwrap_err();
        assert_eq!(bad[&1].key, "portal.err_number");
        assert_eq!(bad[&2].key, "portal.err_date");
        assert_eq!(bad[&3].key, "portal.err_choice");
        assert_eq!(bad[&4].key, "portal.err_choice");
        assert_eq!(bad[&5].key, "portal.err_checkbox");
        let missing = fields(&list, &given(&[])).unwrap_err();
        assert_eq!(missing[&1].key, "portal.err_required");
        assert_eq!(missing[&3].key, "portal.err_required");
        assert!(!missing.contains_key(&2) && !missing.contains_key(&4));
    }

    #[test]
    fn file_names_and_types() {
        assert_eq!(filename("C:\\Users\\x\\..\\report.pdf"), "report.pdf");
        assert_eq!(filename("../../etc/passwd"), "passwd");
        assert_eq!(filename("photo\u{202E}gpj.exe"), "photogpj.exe");
        assert_eq!(filename("..hidden"), "hidden");
        assert_eq!(filename("a<b>:c?.txt"), "a_b__c_.txt");
        assert_eq!(filename("\u{0}"), "attachment");
        assert_eq!(filename("گزارش.pdf"), "گزارش.pdf");
        let long = format!("{}.pdf", "x".repeat(400));
        assert!(filename(&long).ends_with(".pdf") && filename(&long).chars().count() == 150);
        let any = Limits {
            max_files: 5,
            max_file_bytes: 10,
            allowed: vec![],
        };
        assert!(any.type_allowed("a.pdf", "application/pdf"));
        assert!(!any.type_allowed("a.EXE", "application/octet-stream"));
        let some = Limits {
            allowed: Limits::parse_allowed(".pdf, image/*, text/plain"),
            ..any
        };
        assert!(some.type_allowed("x.PDF", "application/octet-stream"));
        assert!(some.type_allowed("x.png", "image/png"));
        assert!(some.type_allowed("notes", "text/plain; charset=utf-8"));
        assert!(!some.type_allowed("x.zip", "application/zip"));
    }
}
