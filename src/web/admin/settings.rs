//! /admin/settings: every helpdesk setting in one form (validated by
//! `crate::settings`, the same checks as `oxidesk settings set`), and the
//! portal logo upload.

use std::collections::HashMap;

use rocket::form::Form;
use rocket::fs::TempFile;
use rocket::response::content::RawHtml;
use rocket::response::Redirect;
use rocket::{get, post, routes, FromForm, Route, State};

use super::{actor, admin_page, in_tx, msg, Errors, Submitted};
use crate::settings::{self as keys, Kind};
use crate::store::{attachments, help_topics, priorities, staff, Store};
use crate::web::auth::AdminSession;
use crate::web::staff::render;
use crate::web::templates::Templates;
use crate::web::{db, WebError};

/// Largest logo accepted: it is sent with every portal page view.
const MAX_LOGO: usize = 512 * 1024;

pub fn routes() -> Vec<Route> {
    routes![show, save, upload_logo, remove_logo]
}

/// Form field names cannot hold '.', which Rocket reads as nesting.
fn field(key: &str) -> String {
    key.replace('.', "-")
}

async fn settings_page(
    store: &Store,
    templates: &Templates,
    me: &AdminSession,
    typed: Option<&HashMap<String, String>>,
    errors: &Errors,
    saved: bool,
) -> Result<RawHtml<String>, WebError> {
    let (current, departments, prios, plans) = db(store, |c| {
        let current: Vec<(String, String)> = keys::current(c)?
            .into_iter()
            .map(|(k, v)| (k.name.to_string(), v))
            .collect();
        Ok((
            current,
            staff::list_departments(c)?,
            priorities::list(c)?,
            help_topics::sla_plan_choices(c).unwrap_or_default(),
        ))
    })
    .await?;
    let items: Vec<serde_json::Value> = current
        .iter()
        .filter_map(|(name, stored)| {
            let key = keys::find(name)?;
            let f = field(name);
            let value = typed
                .map(|t| t.get(&f).cloned().unwrap_or_default())
                .filter(|_| key.kind != Kind::Blob)
                .unwrap_or_else(|| stored.clone());
            let kind = match key.kind {
                Kind::Text { max, .. } if max > 200 => "textarea",
                Kind::Text { .. } | Kind::NumberFormat | Kind::DateFormat | Kind::FileTypes => {
                    "text"
                }
                Kind::Bool => "bool",
                Kind::Int { .. } => "number",
                Kind::Url => "url",
                Kind::TimeZone => "timezone",
                Kind::Department => "department",
                Kind::Priority => "priority",
                Kind::SlaPlan => "sla_plan",
                Kind::Choice(_) => "choice",
                Kind::Color => "color",
                Kind::Blob => "blob",
            };
            let choices = match key.kind {
                Kind::Choice(words) => words.to_vec(),
                _ => Vec::new(),
            };
            Some(serde_json::json!({
                "key": name,
                "field": f,
                "group": name.split('.').next().unwrap_or(""),
                "kind": kind,
                "value": value,
                "choices": choices,
                "on": matches!(value.as_str(), "true" | "on" | "1" | "yes"),
                "error": errors.0.get(&f),
            }))
        })
        .collect();
    let zones: Vec<&str> = chrono_tz::TZ_VARIANTS.iter().map(|z| z.name()).collect();
    let mut ctx = admin_page(store, me, "settings").await?;
    ctx.insert("items", &items);
    ctx.insert(
        "groups",
        &["helpdesk", "tickets", "attachments", "mail", "portal"],
    );
    ctx.insert("departments", &departments);
    ctx.insert("priorities", &prios);
    ctx.insert("sla_plans", &plans);
    ctx.insert("zones", &zones);
    ctx.insert("errors", &errors.0);
    ctx.insert("saved", &saved);
    render(templates, "admin/settings.html", &ctx)
}

#[get("/settings?<saved>")]
async fn show(
    store: &State<Store>,
    templates: &State<Templates>,
    me: AdminSession,
    saved: Option<bool>,
) -> Result<RawHtml<String>, WebError> {
    settings_page(
        store,
        templates,
        &me,
        None,
        &Errors::default(),
        saved == Some(true),
    )
    .await
}

/// Save every setting of the form, or none when one is refused. Unchecked
/// boxes are absent from a form: a boolean key missing means false.
#[post("/settings", data = "<form>")]
async fn save(
    store: &State<Store>,
    templates: &State<Templates>,
    me: AdminSession,
    form: Form<HashMap<String, String>>,
) -> Result<Submitted, WebError> {
    let typed = form.into_inner();
    let mut wanted: Vec<(&'static str, String)> = Vec::new();
    for key in keys::KEYS {
        let f = field(key.name);
        match (key.kind, typed.get(&f)) {
            (Kind::Blob, _) => {}
            (Kind::Bool, v) => wanted.push((
                key.name,
                if v.is_some_and(|v| v != "false") {
                    "true".into()
                } else {
                    "false".into()
                },
            )),
            (_, Some(v)) => wanted.push((key.name, v.clone())),
            (_, None) => {}
        }
    }
    let who = actor(&me);
    let lang = me.0.lang.clone();
    let refused = in_tx(store, move |c| {
        let mut refused = Vec::new();
        for (name, value) in &wanted {
            if let Some(key) = keys::find(name) {
                if let Err(e) = keys::validate(c, key, value)? {
                    refused.push((field(name), e.0));
                }
            }
        }
        if refused.is_empty() {
            for (name, value) in &wanted {
                // Validated above; a refusal here is a race with another
                // admin and is reported the same way.
                if let Err(e) = keys::set(c, &who, name, value)? {
                    refused.push((field(name), e.0));
                }
            }
        }
        Ok(refused)
    })
    .await?;
    if refused.is_empty() {
        // Pages show dates with the saved zone and format from now on.
        crate::display::invalidate();
        return Ok(Submitted::to("/admin/settings?saved=true"));
    }
    let mut errors = Errors::default();
    for (f, m) in refused {
        errors.add(
            &f,
            crate::web::i18n::t(&lang, "admin.settings.refused", &[("reason", m)]),
        );
    }
    let page = settings_page(store, templates, &me, Some(&typed), &errors, false).await?;
    Ok(Submitted::Invalid(page))
}

#[derive(FromForm)]
pub struct LogoForm<'r> {
    logo: TempFile<'r>,
}

/// PNG, JPEG, GIF or WebP, recognised by their first bytes (never SVG,
/// which can carry script).
fn is_raster_image(data: &[u8]) -> bool {
    data.starts_with(b"\x89PNG\r\n\x1a\n")
        || data.starts_with(&[0xff, 0xd8, 0xff])
        || data.starts_with(b"GIF87a")
        || data.starts_with(b"GIF89a")
        || (data.len() > 12 && &data[..4] == b"RIFF" && &data[8..12] == b"WEBP")
}

#[post("/settings/logo", data = "<form>")]
async fn upload_logo(
    store: &State<Store>,
    templates: &State<Templates>,
    me: AdminSession,
    form: Form<LogoForm<'_>>,
) -> Result<Submitted, WebError> {
    use rocket::tokio::io::AsyncReadExt;
    let mut data = Vec::new();
    let too_big = form.logo.len() as usize > MAX_LOGO;
    if !too_big && form.logo.len() > 0 {
        let mut reader = form
            .logo
            .open()
            .await
            .map_err(|e| WebError::Internal(format!("reading the uploaded logo: {e}")))?;
        reader
            .read_to_end(&mut data)
            .await
            .map_err(|e| WebError::Internal(format!("reading the uploaded logo: {e}")))?;
    }
    let problem = if too_big || data.len() > MAX_LOGO {
        Some(msg(
            &me,
            "admin.settings.logo_too_big",
            &[("max", (MAX_LOGO / 1024).to_string())],
        ))
    } else if !is_raster_image(&data) {
        Some(msg(&me, "admin.settings.logo_type", &[]))
    } else {
        None
    };
    if let Some(m) = problem {
        let mut errors = Errors::default();
        errors.add("logo", m);
        let page = settings_page(store, templates, &me, None, &errors, false).await?;
        return Ok(Submitted::Invalid(page));
    }
    let who = actor(&me);
    in_tx(store, move |c| {
        let (blob, _) = attachments::put_blob(c, &data)?;
        keys::set(c, &who, "portal.logo_blob", &blob.0.to_string())?
            .map_err(|e| crate::store::StoreError::Invalid(e.0))?;
        Ok(())
    })
    .await?;
    Ok(Submitted::to("/admin/settings?saved=true"))
}

#[post("/settings/logo/delete")]
async fn remove_logo(store: &State<Store>, me: AdminSession) -> Result<Redirect, WebError> {
    let who = actor(&me);
    in_tx(store, move |c| {
        keys::set(c, &who, "portal.logo_blob", "")?
            .map_err(|e| crate::store::StoreError::Invalid(e.0))?;
        Ok(())
    })
    .await?;
    Ok(Redirect::to("/admin/settings?saved=true"))
}
