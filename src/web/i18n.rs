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
pub fn lookup<'a>(lang: &str, key: &'a str) -> &'a str {
    let all = catalogues();
    if let Some(s) = all.get(lang).and_then(|c| c.get(key)) {
        return s;
    }
    if let Some(s) = all.get("en").and_then(|c| c.get(key)) {
        return s;
    }
    key
}

/// `lookup` with `{name}` placeholders filled in.
pub fn t(lang: &str, key: &str, args: &[(&str, String)]) -> String {
    fill(lookup(lang, key), |name| {
        args.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    })
}

/// `message` with each `{name}` that `value` knows replaced, in one pass:
/// text that came in through a value is never read for placeholders again.
/// Unknown placeholders and lone braces stay as they are.
fn fill<'v>(message: &str, value: impl Fn(&str) -> Option<&'v str>) -> String {
    let mut out = String::with_capacity(message.len() + 16);
    let mut rest = message;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find(['}', '{']) {
            Some(close) if after.as_bytes()[close] == b'}' => {
                match value(&after[..close]) {
                    Some(v) => out.push_str(v),
                    None => out.push_str(&rest[open..open + close + 2]),
                }
                rest = &after[close + 1..];
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
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
        let message = lookup(lang, key);
        if args.keys().all(|name| name == "key" || name == "lang") {
            return Ok(tera::Value::String(message.to_string()));
        }
        // Values that are not strings (numbers, mostly) as text.
        let texts: HashMap<&str, std::borrow::Cow<'_, str>> = args
            .iter()
            .filter(|(name, _)| *name != "key" && *name != "lang")
            .map(|(name, v)| {
                let text = match v {
                    tera::Value::String(s) => s.as_str().into(),
                    other => other.to_string().into(),
                };
                (name.as_str(), text)
            })
            .collect();
        Ok(tera::Value::String(fill(message, |name| {
            texts.get(name).map(|v| v.as_ref())
        })))
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

    #[test]
    fn placeholders_are_filled_once_and_strays_kept() {
        let v = |name: &str| match name {
            "n" => Some("3"),
            "t" => Some("{n} {x}"),
            _ => None,
        };
        assert_eq!(fill("{n} min", v), "3 min");
        assert_eq!(fill("{n}/{n}", v), "3/3");
        assert_eq!(fill("in {t}", v), "in {n} {x}", "a value is not read again");
        assert_eq!(fill("{x} and {n}", v), "{x} and 3");
        assert_eq!(fill("a { b {n} c }", v), "a { b 3 c }");
        assert_eq!(fill("{", v), "{");
        assert_eq!(fill("{{n}}", v), "{3}");
        assert_eq!(fill("تیکت {n} باز شد", v), "تیکت 3 باز شد");
        assert_eq!(fill("", v), "");
    }

    #[test]
    fn the_template_function_fills_numbers_and_strings() {
        use tera::Function as _;
        let call = |pairs: &[(&str, tera::Value)]| {
            let args: HashMap<String, tera::Value> = pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect();
            TeraT.call(&args).unwrap()
        };
        let key = |k: &str| ("key", tera::Value::String(k.into()));
        assert_eq!(
            call(&[key("ticket.replying"), ("name", "علی".into())]),
            tera::Value::String("علی is replying".into())
        );
        assert_eq!(
            call(&[key("queue.open"), ("lang", "en".into())]),
            tera::Value::String("Open".into())
        );
        assert_eq!(
            call(&[key("pager.page"), ("lang", "en".into()), ("n", 7.into())]),
            tera::Value::String(t("en", "pager.page", &[("n", "7".into())]))
        );
    }
}
