//! The translation layer: flat JSON catalogues embedded from `assets/i18n/`
//! (`en.json` first), looked up by key with English as the fallback and the
//! key itself as the last resort. `{name}` placeholders are filled from the
//! arguments. Templates call it as `t(key="...", lang=lang, name=...)`.

use std::collections::HashMap;
use std::sync::OnceLock;

use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "assets/i18n/"]
#[include = "*.json"]
struct Catalogues;

type Catalogue = HashMap<String, String>;

fn catalogues() -> &'static HashMap<String, Catalogue> {
    static ALL: OnceLock<HashMap<String, Catalogue>> = OnceLock::new();
    ALL.get_or_init(|| {
        let mut out = HashMap::new();
        for file in Catalogues::iter() {
            let Some(lang) = file.strip_suffix(".json") else {
                continue;
            };
            let Some(body) = Catalogues::get(&file) else {
                continue;
            };
            match serde_json::from_slice::<Catalogue>(&body.data) {
                Ok(c) => {
                    out.insert(lang.to_string(), c);
                }
                Err(e) => tracing::error!(file = %file, error = %e, "a translation catalogue is not valid JSON"),
            }
        }
        out
    })
}

/// Languages with a catalogue.
pub fn languages() -> Vec<String> {
    let mut v: Vec<String> = catalogues().keys().cloned().collect();
    v.sort();
    v
}

/// The best catalogue language for a requested locale ("fa-IR" → "fa").
pub fn resolve(locale: Option<&str>) -> &'static str {
    let all = catalogues();
    if let Some(l) = locale {
        let l = l.trim().to_ascii_lowercase();
        let base = l.split(['-', '_']).next().unwrap_or("");
        if let Some((k, _)) = all.get_key_value(l.as_str()) {
            return k;
        }
        if let Some((k, _)) = all.get_key_value(base) {
            return k;
        }
    }
    "en"
}

/// Text direction of a language.
pub fn dir(lang: &str) -> &'static str {
    match lang.split(['-', '_']).next().unwrap_or("") {
        "ar" | "fa" | "he" | "ur" | "ps" | "ckb" | "yi" | "dv" => "rtl",
        _ => "ltr",
    }
}

/// The message for `key` in `lang`, falling back to English, then the key.
pub fn lookup<'a>(lang: &str, key: &'a str) -> std::borrow::Cow<'a, str> {
    let all = catalogues();
    if let Some(s) = all.get(lang).and_then(|c| c.get(key)) {
        return s.clone().into();
    }
    if let Some(s) = all.get("en").and_then(|c| c.get(key)) {
        return s.clone().into();
    }
    key.into()
}

/// `lookup` with `{name}` placeholders filled in.
pub fn t(lang: &str, key: &str, args: &[(&str, String)]) -> String {
    let mut s = lookup(lang, key).into_owned();
    for (name, value) in args {
        s = s.replace(&format!("{{{name}}}"), value);
    }
    s
}

/// The tera function `t(key=..., lang=..., any=...)`.
pub struct TeraT;

impl tera::Function for TeraT {
    fn call(&self, args: &HashMap<String, tera::Value>) -> tera::Result<tera::Value> {
        let key = args
            .get("key")
            .and_then(|v| v.as_str())
            .ok_or_else(|| tera::Error::msg("t() needs key=\"...\""))?;
        let lang = args.get("lang").and_then(|v| v.as_str()).unwrap_or("en");
        let mut s = lookup(lang, key).into_owned();
        for (name, value) in args {
            if name == "key" || name == "lang" {
                continue;
            }
            let text = match value {
                tera::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            s = s.replace(&format!("{{{name}}}"), &text);
        }
        Ok(tera::Value::String(s))
    }

    fn is_safe(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn english_fallback_and_placeholders() {
        assert_eq!(lookup("xx", "queue.open"), "Open");
        assert_eq!(lookup("en", "no.such.key"), "no.such.key");
        assert_eq!(
            t("en", "ticket.replying", &[("name", "Ana".into())]),
            "Ana is replying"
        );
        assert_eq!(resolve(Some("en-GB")), "en");
        assert_eq!(dir("fa"), "rtl");
        assert_eq!(dir("en"), "ltr");
    }
}
