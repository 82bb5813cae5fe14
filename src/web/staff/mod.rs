//! The staff UI: one file per page or resource; this module lists their
//! routes and builds what every page shares (navigation counts, the
//! signed-in agent, the CSRF token, language and direction).

pub mod account;
pub mod actions;
pub mod bulk;
pub mod canned;
pub mod delivery;
pub mod labels;
pub mod login;
pub mod nav;
pub mod queues;
pub mod sla_box;
pub mod tags;
pub mod ticket;
pub mod ticket_html;

use rocket::response::content::RawHtml;
use rocket::Route;

use super::auth::StaffSession;
use super::templates::Templates;
use super::{db, i18n, WebError};
use crate::store::{queues as q, settings, Store};

pub fn routes() -> Vec<Route> {
    let mut r = Vec::new();
    r.extend(login::routes());
    r.extend(account::routes());
    r.extend(queues::routes());
    r.extend(ticket::routes());
    r.extend(actions::routes());
    r.extend(bulk::routes());
    r.extend(canned::routes());
    r.extend(sla_box::routes());
    r.extend(tags::routes());
    r.extend(delivery::routes());
    r
}

/// What every signed-in page reads from the database: the navigation
/// counts and the helpdesk's name.
pub struct Shared {
    counts: q::Counts,
    helpdesk: String,
}

/// Read [`Shared`] on a connection a handler already holds, so a page can
/// fetch it in the same database round trip as its own data.
pub fn shared(c: &crate::store::Conn, scope: q::Scope) -> crate::store::StoreResult<Shared> {
    Ok(Shared {
        // Every staff page shows them; they change only when tickets do.
        counts: c.memo(
            &format!("queue-counts:{}:{}", scope.staff, scope.admin),
            |c| q::counts(c, scope),
        )?,
        helpdesk: settings::get_or(c, "helpdesk.name", "Oxidesk")?,
    })
}

/// The context every signed-in page starts from.
pub async fn page(
    store: &Store,
    me: &StaffSession,
    active: &str,
) -> Result<tera::Context, WebError> {
    let scope = me.scope();
    let s = db(store, move |c| shared(c, scope)).await?;
    Ok(context(me, active, &s))
}

/// The page context from [`Shared`] data already read.
pub fn context(me: &StaffSession, active: &str, s: &Shared) -> tera::Context {
    context_at(me, nav::Current::Queue(active), s)
}

/// [`context`] for a page whose place in the navigation is `current`.
pub fn context_at(me: &StaffSession, current: nav::Current<'_>, s: &Shared) -> tera::Context {
    let mut ctx = tera::Context::new();
    ctx.insert("lang", &me.lang);
    ctx.insert("dir", i18n::dir(&me.lang));
    ctx.insert("csrf", &me.csrf);
    ctx.insert(
        "me",
        &serde_json::json!({
            "id": me.staff_id, "name": me.name, "email": me.email, "is_admin": me.is_admin,
        }),
    );
    ctx.insert("nav_html", &nav::html(&s.counts, current, &me.lang));
    ctx.insert("helpdesk", &s.helpdesk);
    let active = match current {
        nav::Current::Queue(q) => q,
        nav::Current::Department(_) => "department",
    };
    ctx.insert("active", active);
    ctx
}

/// The name of department `id` as the navigation lists it, if it does.
pub fn department_name(s: &Shared, id: crate::model::DepartmentId) -> Option<&str> {
    s.counts
        .departments
        .iter()
        .find(|d| d.id == id)
        .map(|d| d.name.as_str())
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

/// Only local paths are followed after sign-in (no open redirects).
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_string(),
        _ => "/".to_string(),
    }
}
