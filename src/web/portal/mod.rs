//! The customer portal under `/portal`: public pages branded from settings,
//! in the visitor's language. `Visitor` resolves the language once per
//! request (a `?lang=xx` link sets a cookie; else the cookie; else
//! Accept-Language; else English) and `portal_page` builds the context every
//! portal page starts from (lang, dir, CSRF token, branding).

pub mod access;
pub mod account;
pub mod antispam;
pub mod customer;
pub mod open;
pub mod reset;
pub mod submit;
pub mod ticket;
pub mod uploads;
pub mod validate;

use rocket::http::{ContentType, Cookie, CookieJar, SameSite, Status};
use rocket::request::{FromRequest, Outcome};
use rocket::response::content::RawHtml;
use rocket::{get, routes, Request, Route, State};

use super::auth::{self, Client};
use super::templates::Templates;
use super::{db, i18n, WebError};
use crate::store::{portal as store_portal, settings, Store};

/// The cookie remembering a visitor's chosen language.
pub const LANG_COOKIE: &str = "oxd_lang";

pub fn routes() -> Vec<Route> {
    let mut r = routes![home, logo];
    r.extend(open::routes());
    r
}

/// A visitor of the portal: language, direction and where they came from.
#[derive(Debug, Clone)]
pub struct Visitor {
    pub lang: String,
    pub client: Client,
}

impl Visitor {
    pub fn dir(&self) -> &'static str {
        i18n::dir(&self.lang)
    }

    pub fn t(&self, key: &str) -> String {
        i18n::t(&self.lang, key, &[])
    }
}

/// A language we have a catalogue for, exactly (`fa-IR` → `fa`), or None.
fn known_language(tag: &str) -> Option<&'static str> {
    let tag = tag.trim();
    if tag.is_empty() || tag.len() > 16 {
        return None;
    }
    let lower = tag.to_ascii_lowercase();
    let base = lower.split(['-', '_']).next().unwrap_or("");
    let langs = i18n::languages();
    if langs.iter().any(|l| *l == lower || l == base) {
        let r = i18n::resolve(Some(&lower));
        return Some(r);
    }
    None
}

/// The best catalogue language in an Accept-Language header, by q-value.
pub fn from_accept_language(header: &str) -> Option<&'static str> {
    let mut tags: Vec<(f32, usize, &str)> = header
        .split(',')
        .enumerate()
        .filter_map(|(i, part)| {
            let mut bits = part.split(';');
            let tag = bits.next()?.trim();
            let q = bits
                .find_map(|b| b.trim().strip_prefix("q="))
                .map(|q| q.trim().parse::<f32>().unwrap_or(0.0))
                .unwrap_or(1.0);
            (q > 0.0 && tag != "*").then_some((q, i, tag))
        })
        .collect();
    tags.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    tags.into_iter().find_map(|(_, _, tag)| known_language(tag))
}

fn lang_cookie(lang: &str, https: bool) -> Cookie<'static> {
    Cookie::build((LANG_COOKIE, lang.to_string()))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(https)
        .max_age(rocket::time::Duration::days(365))
        .build()
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Visitor {
    type Error = ();
    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, ()> {
        let client = auth::client_of(req);
        let asked = req
            .query_value::<&str>("lang")
            .and_then(|r| r.ok())
            .and_then(known_language);
        let lang = if let Some(l) = asked {
            req.cookies().add(lang_cookie(l, client.https));
            l
        } else if let Some(l) = req
            .cookies()
            .get(LANG_COOKIE)
            .and_then(|c| known_language(c.value()))
        {
            l
        } else {
            req.headers()
                .get_one("Accept-Language")
                .and_then(from_accept_language)
                .unwrap_or("en")
        };
        Outcome::Success(Visitor {
            lang: lang.to_string(),
            client,
        })
    }
}

/// The CSRF token for a portal form. The CSRF fairing checks against the
/// staff session cookie when there is one (a signed-in agent looking at the
/// portal), else against the pre-session cookie, which is set here if
/// missing.
pub fn portal_csrf(jar: &CookieJar<'_>, https: bool) -> String {
    match jar.get(auth::SESSION_COOKIE) {
        Some(c) => auth::csrf_for(c.value()),
        None => auth::pre_session_csrf(jar, https),
    }
}

/// The portal's branding, read from settings.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Branding {
    pub name: String,
    pub logo_url: Option<String>,
    /// A validated CSS colour (`#rgb`/`#rrggbb`), or None for the default.
    pub accent: Option<String>,
    pub footer: String,
}

/// `#rgb`, `#rrggbb` (and with alpha) only: the value is put into a style
/// element, so nothing else gets through.
pub fn valid_color(s: &str) -> Option<String> {
    let s = s.trim();
    let hex = s.strip_prefix('#')?;
    (matches!(hex.len(), 3 | 4 | 6 | 8) && hex.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| s.to_ascii_lowercase())
}

pub fn branding(conn: &rusqlite::Connection) -> crate::store::StoreResult<Branding> {
    let name = settings::get_or(conn, "helpdesk.name", "Oxidesk")?;
    let logo = settings::get(conn, "portal.logo_blob")?
        .and_then(|v| v.trim().parse::<i64>().ok())
        .filter(|id| *id > 0);
    let accent = settings::get(conn, "portal.accent_color")?.and_then(|c| valid_color(&c));
    let footer = settings::get_or(conn, "portal.footer", "")?;
    Ok(Branding {
        name,
        logo_url: logo.map(|id| format!("/portal/logo?v={id}")),
        accent,
        footer,
    })
}

/// The context every portal page starts from: `lang`, `dir`, `csrf`,
/// `brand` (name, logo_url, accent, footer), `helpdesk` (the name),
/// `languages` (for the switcher: code and own name) and `active` (which
/// navigation item to highlight).
pub async fn portal_page(
    store: &Store,
    visitor: &Visitor,
    jar: &CookieJar<'_>,
    active: &str,
) -> Result<tera::Context, WebError> {
    let brand = db(store, |c| branding(c)).await?;
    let mut ctx = tera::Context::new();
    ctx.insert("lang", &visitor.lang);
    ctx.insert("dir", visitor.dir());
    ctx.insert("csrf", &portal_csrf(jar, visitor.client.https));
    ctx.insert("helpdesk", &brand.name);
    ctx.insert("brand", &brand);
    let languages: Vec<serde_json::Value> = i18n::languages()
        .into_iter()
        .map(|code| {
            let name = i18n::t(&code, "portal.language_name", &[]);
            serde_json::json!({ "code": code, "name": name, "dir": i18n::dir(&code) })
        })
        .collect();
    ctx.insert("languages", &languages);
    ctx.insert("active", active);
    account::nav_context(store, jar, &mut ctx).await?;
    Ok(ctx)
}

pub fn render(
    templates: &Templates,
    name: &str,
    ctx: &tera::Context,
) -> Result<RawHtml<String>, WebError> {
    templates
        .render(name, ctx)
        .map_err(|_| WebError::Internal(format!("rendering {name} failed")))
}

/// A ticket's custom field values as label and text, in `lang`: the
/// "Details" block of the staff ticket page.
pub fn details(values: &[crate::store::forms::FieldValue], lang: &str) -> Vec<serde_json::Value> {
    values
        .iter()
        .map(|v| {
            let text = match v.json_value() {
                serde_json::Value::Bool(b) => {
                    i18n::t(lang, if b { "portal.yes" } else { "portal.no" }, &[])
                }
                serde_json::Value::Array(a) => a
                    .iter()
                    .filter_map(|x| x.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                other => other.as_str().unwrap_or_default().to_string(),
            };
            serde_json::json!({ "label": v.label, "kind": v.kind, "value": text })
        })
        .collect()
}

#[get("/")]
async fn home(
    store: &State<Store>,
    templates: &State<Templates>,
    visitor: Visitor,
    jar: &CookieJar<'_>,
) -> Result<RawHtml<String>, WebError> {
    let ctx = portal_page(store, &visitor, jar, "home").await?;
    render(templates, "portal/home.html", &ctx)
}

/// The logo named by `portal.logo_blob`, served only when it is a raster
/// image we recognise (never SVG or HTML from the database).
#[get("/logo")]
async fn logo(store: &State<Store>) -> Result<(Status, (ContentType, Vec<u8>)), WebError> {
    let data = db(store, |c| {
        let id = settings::get(c, "portal.logo_blob")?.and_then(|v| v.trim().parse::<i64>().ok());
        match id {
            Some(id) => store_portal::blob(c, id),
            None => Ok(None),
        }
    })
    .await?
    .ok_or(WebError::NotFound)?;
    let ct = image_type(&data).ok_or(WebError::NotFound)?;
    Ok((Status::Ok, (ct, data)))
}

fn image_type(data: &[u8]) -> Option<ContentType> {
    if data.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(ContentType::PNG)
    } else if data.starts_with(&[0xff, 0xd8, 0xff]) {
        Some(ContentType::JPEG)
    } else if data.starts_with(b"GIF87a") || data.starts_with(b"GIF89a") {
        Some(ContentType::GIF)
    } else if data.len() > 12 && &data[..4] == b"RIFF" && &data[8..12] == b"WEBP" {
        Some(ContentType::WEBP)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_and_colours() {
        assert_eq!(from_accept_language("fa-IR,fa;q=0.9,en;q=0.8"), Some("fa"));
        assert_eq!(from_accept_language("de;q=1, en;q=0.5"), Some("en"));
        assert_eq!(from_accept_language("en;q=0.2, fa;q=0.9"), Some("fa"));
        assert_eq!(from_accept_language("xx, *"), None);
        assert_eq!(valid_color("#A0b1C2").as_deref(), Some("#a0b1c2"));
        assert_eq!(valid_color("red;}body{"), None);
        assert_eq!(valid_color("#12345"), None);
    }
}
