//! Mail templates: defaults embedded from `assets/templates/mail/{lang}/`,
//! overridable per template and language by admins (`mail_templates`).
//!
//! Each template has a subject, a text body and an HTML fragment; the
//! fragment is wrapped in `layout.html.tera`, which sets `lang` and `dir`.
//! HTML is rendered with escaping on; text and subject without.

use std::sync::Mutex;

use rusqlite::Connection;
use rust_embed::RustEmbed;
use serde::Serialize;

use crate::store::{self, StoreError};

#[derive(RustEmbed)]
#[folder = "assets/templates/mail/"]
#[include = "*.tera"]
struct Defaults;

/// Every template the product sends, with what it is for (admin page).
pub const TEMPLATES: &[(&str, &str)] = &[
    (
        "auto_response",
        "Auto-response to the customer on a new ticket",
    ),
    ("response", "Staff reply to the customer"),
    ("alert_new_ticket", "Alert to the department: new ticket"),
    (
        "alert_new_message",
        "Alert to the assignee or department: new customer message",
    ),
    ("alert_assigned", "Alert to the assignee: ticket assigned"),
    (
        "alert_team_assigned",
        "Alert to a team's members: ticket assigned to the team",
    ),
    (
        "alert_transferred",
        "Alert to the new department: ticket transferred",
    ),
    (
        "alert_overdue",
        "Alert to the assignee and department manager: ticket overdue",
    ),
    (
        "access_link",
        "Access link to a ticket, sent on request from the portal",
    ),
    ("password_reset", "Password reset link"),
    (
        "account_verify",
        "Address verification for a new portal account",
    ),
];

const DEFAULT_LANG: &str = "en";
const RTL: &[&str] = &["ar", "fa", "he", "ur", "ps", "ckb", "yi", "dv", "sd", "ug"];

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    /// A complete HTML document.
    pub html: String,
}

/// Template sources before rendering.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Source {
    pub subject: String,
    pub body_text: String,
    pub body_html: String,
    /// "default" or "custom"
    pub origin: &'static str,
    /// For an embedded default: its name in the compiled set ("en/response").
    #[serde(skip)]
    compiled: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("there is no mail template named {0}")]
    Unknown(String),
    #[error("the mail template {name} ({part}) cannot be rendered: {message}")]
    Render {
        name: String,
        part: &'static str,
        message: String,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// "fa-IR", "fa_IR", "FA" → "fa"; empty → "en".
pub fn language(locale: Option<&str>) -> String {
    let primary = locale
        .unwrap_or("")
        .split(['-', '_', '.'])
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if primary.is_empty() || !primary.chars().all(|c| c.is_ascii_alphabetic()) {
        DEFAULT_LANG.to_string()
    } else {
        primary
    }
}

pub fn direction(lang: &str) -> &'static str {
    if RTL.contains(&language(Some(lang)).as_str()) {
        "rtl"
    } else {
        "ltr"
    }
}

fn embedded(path: &str) -> Option<String> {
    Defaults::get(path).map(|f| String::from_utf8_lossy(&f.data).into_owned())
}

/// The embedded default for `name` in `lang`, falling back to English.
pub fn default_source(name: &str, lang: &str) -> Option<Source> {
    let lang = language(Some(lang));
    for l in [lang.as_str(), DEFAULT_LANG] {
        let part = |ext: &str| embedded(&format!("{l}/{name}.{ext}.tera"));
        if let (Some(subject), Some(body_text), Some(body_html)) =
            (part("subject"), part("txt"), part("html"))
        {
            return Some(Source {
                subject,
                body_text,
                body_html,
                origin: "default",
                compiled: Some(format!("{l}/{name}")),
            });
        }
    }
    None
}

/// What will be used for `name` in `lang`: the admin's version if any,
/// else the embedded default.
pub fn source(conn: &Connection, name: &str, lang: &str) -> Result<Source, TemplateError> {
    let lang = language(Some(lang));
    if let Some(t) = store::mail_templates::find(conn, name, &lang)? {
        return Ok(Source {
            subject: t.subject,
            body_text: t.body_text,
            body_html: t.body_html,
            origin: "custom",
            compiled: None,
        });
    }
    default_source(name, &lang).ok_or_else(|| TemplateError::Unknown(name.to_string()))
}

/// Embedded templates, each parsed on first use and kept for the life of
/// the process (parsing costs more than rendering). Names are the file
/// paths without ".tera"; tera escapes the ".html" ones.
static COMPILED: Mutex<Option<tera::Tera>> = Mutex::new(None);

/// Render the embedded template `path` (e.g. "en/response.txt"); None when
/// there is no such file.
fn render_embedded(path: &str, ctx: &tera::Context) -> Option<tera::Result<String>> {
    let mut guard = COMPILED.lock().unwrap_or_else(|e| e.into_inner());
    let tera = guard.get_or_insert_with(tera::Tera::default);
    if !tera.get_template_names().any(|n| n == path) {
        let src = embedded(&format!("{path}.tera"))?;
        if let Err(e) = tera.add_raw_template(path, &src) {
            return Some(Err(e));
        }
    }
    Some(tera.render(path, ctx))
}

fn error_message(e: &tera::Error) -> String {
    // tera's top-level message is generic; the cause says what failed.
    let mut message = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        message = format!("{message}: {c}");
        cause = c.source();
    }
    message
}

/// Render one part: from the compiled set when `compiled` names it, else
/// by parsing `src`.
fn render_part(
    name: &str,
    part: &'static str,
    src: &str,
    compiled_name: Option<String>,
    ctx: &tera::Context,
    escape: bool,
) -> Result<String, TemplateError> {
    let result = match compiled_name.and_then(|n| render_embedded(&n, ctx)) {
        Some(r) => r,
        None => tera::Tera::one_off(src, ctx, escape),
    };
    result.map_err(|e| TemplateError::Render {
        name: name.to_string(),
        part,
        message: error_message(&e),
    })
}

/// Render one source with `ctx` (which gets `lang`, `dir` and `align`).
pub fn render_source(
    name: &str,
    src: &Source,
    lang: &str,
    ctx: &tera::Context,
) -> Result<Rendered, TemplateError> {
    let lang = language(Some(lang));
    let dir = direction(&lang);
    let mut ctx = ctx.clone();
    ctx.insert("lang", &lang);
    ctx.insert("dir", dir);
    ctx.insert("align", if dir == "rtl" { "right" } else { "left" });
    let key = |ext: &str| src.compiled.as_ref().map(|c| format!("{c}.{ext}"));
    let subject = render_part(name, "subject", &src.subject, key("subject"), &ctx, false)?;
    // One line: a template's trailing newline must not end up in the header.
    let subject = subject.split_whitespace().collect::<Vec<_>>().join(" ");
    let text = render_part(name, "text", &src.body_text, key("txt"), &ctx, false)?;
    let content = render_part(name, "html", &src.body_html, key("html"), &ctx, true)?;
    ctx.insert("content", &content);
    ctx.insert("subject", &subject);
    let layout = embedded("layout.html.tera").unwrap_or_else(|| "{{ content | safe }}".into());
    let html = render_part(
        name,
        "layout",
        &layout,
        Some("layout.html".into()),
        &ctx,
        true,
    )?;
    Ok(Rendered {
        subject,
        text: text.trim_end().to_string() + "\n",
        html,
    })
}

/// Render `name` for sending. A custom template that fails to render (an
/// admin's mistake) falls back to the embedded default, so mail still goes
/// out; the error is logged.
pub fn render(
    conn: &Connection,
    name: &str,
    lang: &str,
    ctx: &tera::Context,
) -> Result<Rendered, TemplateError> {
    let src = source(conn, name, lang)?;
    match render_source(name, &src, lang, ctx) {
        Ok(r) => Ok(r),
        Err(e) if src.origin == "custom" => {
            tracing::error!(template = name, lang, error = %e, "custom mail template failed; using the default");
            let default =
                default_source(name, lang).ok_or_else(|| TemplateError::Unknown(name.into()))?;
            render_source(name, &default, lang, ctx)
        }
        Err(e) => Err(e),
    }
}

/// Render `name` in `lang` with sample data, for the admin page's preview.
/// Unlike [`render`], errors in a custom template are returned, not hidden.
pub fn render_preview(
    conn: &Connection,
    name: &str,
    lang: &str,
) -> Result<Rendered, TemplateError> {
    let src = source(conn, name, lang)?;
    render_source(name, &src, lang, &sample_context(conn, lang)?)
}

/// The same, for a version being edited (not yet saved).
pub fn preview_source(
    conn: &Connection,
    name: &str,
    lang: &str,
    subject: &str,
    body_text: &str,
    body_html: &str,
) -> Result<Rendered, TemplateError> {
    let src = Source {
        subject: subject.to_string(),
        body_text: body_text.to_string(),
        body_html: body_html.to_string(),
        origin: "custom",
        compiled: None,
    };
    render_source(name, &src, lang, &sample_context(conn, lang)?)
}

/// Every variable templates may use, with plausible values.
pub fn sample_context(conn: &Connection, lang: &str) -> Result<tera::Context, TemplateError> {
    let helpdesk = store::settings::get_or(conn, "helpdesk.name", "Oxidesk")?;
    let config = super::config();
    let base =
        crate::tickets::links::public_base(conn, &config.server.base_url, &config.server.listen)?;
    let rtl = direction(lang) == "rtl";
    let (customer, subject, text) = if rtl {
        (
            "مریم احمدی",
            "مشکل در ورود به حساب",
            "سلام، نمی‌توانم وارد حساب کاربری‌ام شوم.",
        )
    } else {
        (
            "Jane Doe",
            "Cannot log in to my account",
            "Hello, I cannot log in to my account since yesterday.",
        )
    };
    let mut ctx = tera::Context::new();
    ctx.insert("helpdesk", &serde_json::json!({ "name": helpdesk }));
    ctx.insert(
        "ticket",
        &serde_json::json!({
            "number": "123456",
            "subject": subject,
            "status": "open",
            "department": "Support",
            "access_link": crate::tickets::links::url(&base, "123456", "SAMPLE.TOKEN"),
            "staff_url": format!("{base}/staff/tickets/123456"),
        }),
    );
    ctx.insert(
        "customer",
        &serde_json::json!({ "name": customer, "email": "customer@example.com" }),
    );
    ctx.insert(
        "recipient",
        &serde_json::json!({ "name": "Alex Agent", "email": "agent@example.com" }),
    );
    ctx.insert("actor", &serde_json::json!({ "name": "Sam Supervisor" }));
    ctx.insert(
        "entry",
        &serde_json::json!({
            "author": "Alex Agent",
            "text": text,
            "visible": text,
            "html": format!("<p>{}</p>", tera::escape_html(text)),
        }),
    );
    ctx.insert("reopened", &false);
    ctx.insert("signature", "Alex Agent\nSupport team");
    ctx.insert("link", &format!("{base}/staff/reset?t=SAMPLE.TOKEN"));
    Ok(ctx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_has_an_english_default() {
        let ctx = tera::Context::new();
        for path in Defaults::iter() {
            let name = path.trim_end_matches(".tera");
            // Parse errors show here; missing variables are fine.
            if let Some(Err(e)) = render_embedded(name, &ctx) {
                assert!(
                    !error_message(&e).contains("Failed to parse"),
                    "{path}: {}",
                    error_message(&e)
                );
            }
        }
        for (name, _) in TEMPLATES {
            assert!(default_source(name, "en").is_some(), "{name}");
            assert!(default_source(name, "am").is_some(), "{name} falls back");
        }
        assert_eq!(
            default_source("auto_response", "fa-IR").map(|s| s.subject.contains("ticket.number")),
            Some(true)
        );
    }

    #[test]
    fn language_and_direction() {
        assert_eq!(language(Some("fa_IR")), "fa");
        assert_eq!(language(None), "en");
        assert_eq!(language(Some("../x")), "en");
        assert_eq!(direction("ar"), "rtl");
        assert_eq!(direction("am"), "ltr");
    }
}
