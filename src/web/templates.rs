//! Tera templates, embedded from `assets/templates/` and loaded into one
//! Tera instance at start. `foo.html.tera` is registered as `foo.html`, so
//! Tera escapes it as HTML.

use std::collections::HashMap;

use rocket::http::Status;
use rocket::response::content::RawHtml;
use rust_embed::RustEmbed;
use tera::{Tera, Value};

use super::{assets, i18n};

#[derive(RustEmbed)]
#[folder = "assets/templates/"]
#[include = "*.tera"]
struct Files;

pub struct Templates {
    pub tera: Tera,
}

impl Templates {
    pub fn load() -> Result<Templates, tera::Error> {
        let mut tera = Tera::default();
        let mut raw: Vec<(String, String)> = Vec::new();
        for name in Files::iter() {
            let Some(file) = Files::get(&name) else {
                continue;
            };
            let text = String::from_utf8_lossy(&file.data).into_owned();
            raw.push((name.trim_end_matches(".tera").to_string(), text));
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
        Ok(Templates { tera })
    }

    pub fn render(&self, name: &str, ctx: &tera::Context) -> Result<RawHtml<String>, Status> {
        self.tera.render(name, ctx).map(RawHtml).map_err(|e| {
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
    let amount = i18n::t(lang, key, &[("n", n.to_string())]);
    let key = if future { "time.in" } else { "time.ago" };
    i18n::t(lang, key, &[("t", amount)])
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
        let children = t.tera.templates.values().filter(|t| !t.parents.is_empty());
        assert!(children.clone().count() > 20);
        assert!(children.clone().all(|t| t.ast.is_empty()));
    }
}
