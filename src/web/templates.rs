//! Tera templates, embedded from `assets/templates/`. `foo.html.tera` is
//! registered as `foo.html`, so Tera escapes it as HTML.
//!
//! Each catalogue language gets its own set of the templates, in which the
//! fixed labels (`{{ t(key='…', lang=lang) }}` with a literal key and no
//! arguments) are already replaced by their translation. A page has about a
//! hundred of them; through `t()` each cost an argument map, two lookups
//! and a copy on every render, about a tenth of the server's time on the
//! pages agents load all day. The set for the default language is built at
//! start, another language's when a page is first shown in it (each about
//! 2.3 MB). Labels with placeholders, or with keys computed at render time,
//! still go through `t()`.

use std::collections::HashMap;
use std::sync::OnceLock;

use rocket::http::Status;
use rocket::response::content::RawHtml;
use rust_embed::RustEmbed;
use tera::{Tera, Value};

use super::{assets, i18n};

#[derive(RustEmbed)]
#[folder = "assets/templates/"]
#[include = "*.tera"]
struct Files;

/// The language whose set is built at start.
const DEFAULT_LANG: &str = "en";

pub struct Templates {
    /// One set per catalogue language, built on first use.
    sets: HashMap<&'static str, OnceLock<Tera>>,
}

impl Templates {
    /// Load the templates, failing if any does not parse.
    pub fn load() -> Result<Templates, tera::Error> {
        let mut sets = HashMap::new();
        for lang in i18n::languages() {
            let lang = i18n::resolve(Some(&lang));
            sets.insert(lang, OnceLock::new());
        }
        let default = build(Some(DEFAULT_LANG))?;
        sets.entry(DEFAULT_LANG)
            .or_insert_with(OnceLock::new)
            .get_or_init(|| default);
        Ok(Templates { sets })
    }

    /// The set for `lang` (a language without a catalogue gets the
    /// default's, as `t()` falls back to it).
    pub fn tera(&self, lang: &str) -> &Tera {
        let lang = i18n::resolve(Some(lang));
        let cell = self
            .sets
            .get(lang)
            .or_else(|| self.sets.get(DEFAULT_LANG))
            .expect("the default language's set is built at load");
        cell.get_or_init(|| {
            // The default language's set, built from the same files, parsed:
            // this cannot fail unless a translation breaks a template, and
            // then the labels are looked up at render time instead.
            build(Some(lang)).unwrap_or_else(|e| {
                tracing::error!(lang, error = %e, "translating the templates' labels failed");
                build(None).unwrap_or_default()
            })
        })
    }

    /// Render `name` in the language of the context's `lang`.
    pub fn render(&self, name: &str, ctx: &tera::Context) -> Result<RawHtml<String>, Status> {
        let lang = ctx
            .get("lang")
            .and_then(Value::as_str)
            .unwrap_or(DEFAULT_LANG);
        self.tera(lang).render(name, ctx).map(RawHtml).map_err(|e| {
            let mut msg = e.to_string();
            let mut src = std::error::Error::source(&e);
            while let Some(s) = src {
                msg.push_str(": ");
                msg.push_str(&s.to_string());
                src = s.source();
            }
            tracing::error!(template = name, error = %msg, "rendering a page failed");
            Status::InternalServerError
        })
    }
}

/// All embedded templates, with their fixed labels in `lang` when given.
fn build(lang: Option<&str>) -> Result<Tera, tera::Error> {
    let mut tera = Tera::default();
    let mut raw: Vec<(String, String)> = Vec::new();
    for file in Files::iter() {
        let Some(data) = Files::get(&file) else {
            continue;
        };
        let text = String::from_utf8_lossy(&data.data);
        let name = file.trim_end_matches(".tera").to_string();
        let text = match lang {
            Some(lang) => translate_labels(&text, lang, escapes(&name)),
            None => text.into_owned(),
        };
        raw.push((name, text));
    }
    tera.add_raw_templates(raw)?;
    drop_parse_copies(&mut tera);
    // The copies were allocated among the parts kept, so the memory
    // they held stays scattered through the allocator's pages; a fresh
    // copy of what is left packs it together and lets those pages go.
    let mut tera = tera.clone();
    tera.set_escape_fn(super::render::escape_html);
    tera.register_function("t", i18n::TeraT);
    tera.register_function("asset", |args: &HashMap<String, Value>| {
        let path = args
            .get("path")
            .and_then(Value::as_str)
            .ok_or_else(|| tera::Error::msg("asset() needs path=\"...\""))?;
        Ok(Value::String(assets::asset_url(path)))
    });
    tera.register_function("timezone", |_: &HashMap<String, Value>| {
        Ok(Value::String(crate::display::zone_name()))
    });
    tera.register_filter("datetime", datetime);
    tera.register_filter("ago", ago);
    tera.register_filter("filesize", filesize);
    tera.register_filter("dtlocal", dtlocal);
    tera.register_filter("trunc", trunc);
    Ok(tera)
}

/// Whether Tera escapes what the template `name` prints (its default
/// rule, by the name's ending).
fn escapes(name: &str) -> bool {
    [".html", ".htm", ".xml"]
        .iter()
        .any(|end| name.ends_with(end))
}

/// `source` with each `{{ t(key='K', lang=lang) }}` (or `key="K"`) replaced
/// by K's message in `lang`, escaped when the template is: what `t()` would
/// print there. Left as it is: a call with other arguments, filters,
/// whitespace control or a computed key, and a message holding a brace
/// (placeholders, or text Tera would read as a tag).
pub fn translate_labels(source: &str, lang: &str, escape: bool) -> String {
    let mut out = String::with_capacity(source.len());
    let mut rest = source;
    while let Some(open) = rest.find("{{") {
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else {
            break;
        };
        out.push_str(&rest[..open]);
        let message = fixed_label(&after[..close])
            .map(|key| i18n::lookup(lang, key))
            .filter(|m| !m.contains(['{', '}']));
        match message {
            Some(m) if escape => super::render::escape_html_into(&mut out, m),
            Some(m) => out.push_str(m),
            None => out.push_str(&rest[open..open + 2 + close + 2]),
        }
        rest = &after[close + 2..];
    }
    out.push_str(rest);
    out
}

/// The key of an expression that is exactly `t(key='K', lang=lang)`.
fn fixed_label(expression: &str) -> Option<&str> {
    let call = expression.trim().strip_prefix("t(")?.strip_suffix(')')?;
    let (key_arg, lang_arg) = call.split_once(',')?;
    if lang_arg.split_whitespace().collect::<String>() != "lang=lang" {
        return None;
    }
    let quoted = key_arg
        .trim()
        .strip_prefix("key")?
        .trim_start()
        .strip_prefix('=')?;
    let quoted = quoted.trim();
    let quote = quoted.chars().next().filter(|q| *q == '\'' || *q == '"')?;
    let key = quoted.strip_prefix(quote)?.strip_suffix(quote)?;
    key.chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        .then_some(key)
        .filter(|k| !k.is_empty())
}

/// Free the parts of the parsed templates that rendering never reads.
///
/// Tera keeps each template's syntax tree three times over: as parsed
/// (`ast`), per block (`blocks`, read only while it links child templates
/// to their parents) and per block again for every level of inheritance
/// (`blocks_definitions`, which is what rendering reads). A template that
/// extends another is rendered from its root's tree and its own block
/// definitions, so its own `ast` is never read either. Dropping those
/// copies takes the loaded templates from 5.9 MB of heap to 2.3 MB, about
/// a seventh of the idle server. All templates are added at once above,
/// and none later, so the links are never built again.
///
/// `Tera::templates` is public but hidden from Tera's documentation, so a
/// Tera upgrade may change it: the tests below render inheritance, include
/// and macros with and without this step, and fail if it stops applying.
fn drop_parse_copies(tera: &mut Tera) {
    for template in tera.templates.values_mut() {
        template.blocks = HashMap::new();
        if !template.parents.is_empty() {
            template.ast = Vec::new();
        }
    }
}

fn as_ts(v: &Value) -> Option<i64> {
    v.as_i64()
}

/// `ts | datetime` → "2026-11-23 14:05", in the helpdesk's time zone and
/// date format (crate::display).
fn datetime(v: &Value, _: &HashMap<String, Value>) -> tera::Result<Value> {
    let Some(ts) = as_ts(v) else {
        return Ok(Value::String(String::new()));
    };
    Ok(Value::String(crate::display::datetime(ts)))
}

/// `ts | ago(lang=lang)` → "5 min", "3 h", "2 d" (short, for dense tables).
fn ago(v: &Value, args: &HashMap<String, Value>) -> tera::Result<Value> {
    let Some(ts) = as_ts(v) else {
        return Ok(Value::String(String::new()));
    };
    let lang = args.get("lang").and_then(Value::as_str).unwrap_or("en");
    Ok(Value::String(ago_text(ts, lang)))
}

/// "5 minutes ago" / "in 2 days" for a timestamp, in `lang` (the `ago`
/// filter).
pub fn ago_text(ts: i64, lang: &str) -> String {
    ago_words(ago_parts(ts), lang)
}

/// How long ago (or ahead) `ts` is: an amount, its unit's message key, and
/// whether it lies in the future.
fn ago_parts(ts: i64) -> (i64, &'static str, bool) {
    let d = crate::store::now() - ts;
    let future = d < 0;
    let d = d.abs();
    let (n, key) = if d < 60 {
        (d, "time.seconds")
    } else if d < 3600 {
        (d / 60, "time.minutes")
    } else if d < 86400 {
        (d / 3600, "time.hours")
    } else {
        (d / 86400, "time.days")
    };
    (n, key, future)
}

fn ago_words((n, unit, future): (i64, &'static str, bool), lang: &str) -> String {
    let amount = i18n::t(lang, unit, &[("n", n.to_string())]);
    let key = if future { "time.in" } else { "time.ago" };
    i18n::t(lang, key, &[("t", amount)])
}

/// [`ago_text`] for the many timestamps of one page: a queue of 50 rows
/// shows 100 of them, most of them the same few words ("3 days ago").
pub struct AgoMemo<'a> {
    lang: &'a str,
    seen: HashMap<(i64, &'static str, bool), String>,
}

impl<'a> AgoMemo<'a> {
    pub fn new(lang: &'a str) -> Self {
        AgoMemo {
            lang,
            seen: HashMap::new(),
        }
    }

    pub fn text(&mut self, ts: i64) -> &str {
        let lang = self.lang;
        let parts = ago_parts(ts);
        self.seen
            .entry(parts)
            .or_insert_with(|| ago_words(parts, lang))
    }
}

fn filesize(v: &Value, _: &HashMap<String, Value>) -> tera::Result<Value> {
    Ok(Value::String(filesize_text(v.as_f64().unwrap_or(0.0))))
}

/// "512 B", "12 KB", "3.4 MB" (the `filesize` filter).
pub fn filesize_text(n: f64) -> String {
    if n < 1024.0 {
        format!("{n} B")
    } else if n < 1024.0 * 1024.0 {
        format!("{:.0} KB", n / 1024.0)
    } else {
        format!("{:.1} MB", n / 1024.0 / 1024.0)
    }
}

/// `ts | dtlocal` → "2026-11-23T14:05", the value of a datetime-local input
/// in the helpdesk's time zone.
fn dtlocal(v: &Value, _: &HashMap<String, Value>) -> tera::Result<Value> {
    let Some(ts) = as_ts(v) else {
        return Ok(Value::String(String::new()));
    };
    Ok(Value::String(crate::display::input_value(ts)))
}

/// `s | trunc(length=80)`: at most that many characters, with "…".
fn trunc(v: &Value, args: &HashMap<String, Value>) -> tera::Result<Value> {
    let s = v.as_str().unwrap_or("");
    let n = args.get("length").and_then(Value::as_u64).unwrap_or(80) as usize;
    if s.chars().count() <= n {
        return Ok(Value::String(s.to_string()));
    }
    let mut out: String = s.chars().take(n).collect();
    out.push('…');
    Ok(Value::String(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `{% if x %}` on a string makes Tera escape the whole string (a copy)
    /// only to test it: for the queue's 30 KB of rows that was 7% of the
    /// server's time. Values holding HTML are tested as `x | safe`.
    #[test]
    fn html_values_are_not_escaped_to_be_tested() {
        let test =
            regex::Regex::new(r"\{%-?\s*(?:el)?if\s+(?:not\s+)?([\w.]*html)\s*-?%\}").unwrap();
        let mut found = Vec::new();
        for name in Files::iter() {
            let text = String::from_utf8_lossy(&Files::get(&name).unwrap().data).into_owned();
            for m in test.captures_iter(&text) {
                found.push(format!("{name}: {}", &m[0]));
            }
        }
        assert!(found.is_empty(), "test these with `| safe`: {found:?}");
    }

    fn three_levels() -> Tera {
        let mut tera = Tera::default();
        tera.add_raw_templates(vec![
            (
                "base.html",
                "<title>{% block title %}Base{% endblock title %}</title>\
                 <nav>{{ who }}</nav>{% block main %}<p>base main</p>{% endblock main %}",
            ),
            (
                "page.html",
                "{% extends \"base.html\" %}{% block title %}Page · {{ super() }}{% endblock title %}\
                 {% block main %}{{ super() }}<p>page {{ who }}</p>{% endblock main %}",
            ),
            (
                "sub.html",
                "{% extends \"page.html\" %}\
                 {% block main %}{{ super() }}{% include \"part.html\" %}{% endblock main %}",
            ),
            (
                "macro_user.html",
                "{% extends \"base.html\" %}{% import \"m.html\" as m %}\
                 {% block main %}{{ m::hi(n=who) }}{% endblock main %}",
            ),
            ("m.html", "{% macro hi(n) %}<b>hi {{ n }}</b>{% endmacro hi %}"),
            ("part.html", "<i>{{ who }}</i>"),
        ])
        .unwrap();
        tera
    }

    #[test]
    fn dropping_parse_copies_renders_the_same() {
        let full = three_levels();
        let mut pruned = three_levels();
        drop_parse_copies(&mut pruned);
        assert!(pruned.templates["sub.html"].ast.is_empty());
        assert!(pruned.templates["page.html"].blocks.is_empty());
        assert!(!pruned.templates["base.html"].ast.is_empty());
        let mut ctx = tera::Context::new();
        ctx.insert("who", "مریم <3");
        for name in [
            "base.html",
            "page.html",
            "sub.html",
            "macro_user.html",
            "part.html",
        ] {
            let want = full.render(name, &ctx).unwrap();
            assert_eq!(pruned.render(name, &ctx).unwrap(), want, "{name}");
        }
        assert!(pruned
            .render("sub.html", &ctx)
            .unwrap()
            .contains("<p>base main</p><p>page مریم &lt;3</p><i>مریم &lt;3</i>"));
        assert!(pruned
            .render("macro_user.html", &ctx)
            .unwrap()
            .contains("<b>hi مریم &lt;3</b>"));
    }

    #[test]
    fn the_embedded_templates_load_and_are_pruned() {
        let t = Templates::load().unwrap();
        let children = t
            .tera("en")
            .templates
            .values()
            .filter(|t| !t.parents.is_empty());
        assert!(children.clone().count() > 20);
        assert!(children.clone().all(|t| t.ast.is_empty()));
    }

    #[test]
    fn fixed_labels_are_recognised_exactly() {
        assert_eq!(
            fixed_label(" t(key='search.label', lang=lang) "),
            Some("search.label")
        );
        assert_eq!(fixed_label("t(key=\"a_b-c\",lang = lang)"), Some("a_b-c"));
        for other in [
            "t(key='x', lang=lang, n=3)",
            "t(key='x' ~ y, lang=lang)",
            "t(key=k, lang=lang)",
            "t(key='x', lang=other)",
            "t(key='x', lang=lang) | upper",
            "- t(key='x', lang=lang) -",
            "t(key='', lang=lang)",
            "t(key='x\", lang=lang)",
            "asset(path='x', lang=lang)",
        ] {
            assert_eq!(fixed_label(other), None, "{other}");
        }
    }

    #[test]
    fn fixed_labels_become_text_and_the_rest_is_kept() {
        let src = "<b title=\"{{ t(key='search.label', lang=lang) }}\">{{ t(key='search.label', lang=lang, n=1) }}</b>\
                   {{ who }}{{ t(key='ticket.customer_since', lang=lang) }}{{ t(key='no.such.key', lang=lang) }} {{ tail";
        let out = translate_labels(src, "en", true);
        let open = crate::web::render::escape_html(i18n::lookup("en", "search.label"));
        assert_ne!(open, "search.label", "the catalogue has the key");
        assert!(
            out.starts_with(&format!(
                "<b title=\"{open}\">{{{{ t(key='search.label', lang=lang, n=1) }}}}</b>"
            )),
            "{out}"
        );
        assert!(out.contains("{{ who }}"));
        // A message with a placeholder stays a call; an unknown key prints
        // itself, as t() would.
        assert!(out.contains("{{ t(key='ticket.customer_since', lang=lang) }}"));
        assert!(out.ends_with("no.such.key {{ tail"), "{out}");
        assert_eq!(
            translate_labels("a & {{ t(key='x<', lang=lang) }}", "en", true),
            "a & {{ t(key='x<', lang=lang) }}"
        );
    }

    /// Every template, in every language, prints the same with its labels
    /// translated at load as with them looked up at render time.
    #[test]
    fn translated_sets_render_as_the_plain_templates_do() {
        let plain = build(None).unwrap();
        let names: Vec<String> = plain.get_template_names().map(str::to_string).collect();
        let mut compared = 0;
        for lang in i18n::languages() {
            let translated = build(Some(&lang)).unwrap();
            let mut ctx = tera::Context::new();
            for (k, v) in [
                ("lang", lang.as_str()),
                ("dir", i18n::dir(&lang)),
                ("csrf", "tok"),
                ("helpdesk", "Desk"),
                ("title", "T"),
                ("message", "M"),
                ("email", "e@x"),
                ("error", ""),
                ("next", "/"),
                ("page", "x"),
            ] {
                ctx.insert(k, v);
            }
            ctx.insert("status", &404);
            for name in &names {
                let Ok(want) = plain.render(name, &ctx) else {
                    continue;
                };
                assert_eq!(
                    translated.render(name, &ctx).unwrap(),
                    want,
                    "{lang} {name}"
                );
                compared += 1;
            }
        }
        assert!(compared >= 6, "only {compared} renders compared");
    }

    #[test]
    fn remembered_ago_texts_match_fresh_ones() {
        let now = crate::store::now();
        for lang in ["en", "fa"] {
            let mut memo = AgoMemo::new(lang);
            for ts in [
                now,
                now - 30,
                now - 600,
                now - 7200,
                now - 86400 * 3,
                now + 4000,
                now - 601,
            ] {
                assert_eq!(memo.text(ts), ago_text(ts, lang), "{lang} {ts}");
                assert_eq!(memo.text(ts), ago_text(ts, lang), "{lang} {ts} again");
            }
        }
    }
}
