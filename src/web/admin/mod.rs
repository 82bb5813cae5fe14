//! The admin area: a menu of sections (/admin), and what every admin page
//! shares: the section navigation, transactions that write the audit
//! event with the change, and forms that come back with their errors.
//! Staff accounts, roles and teams have their own pages (staff_accounts,
//! roles, teams).

use std::collections::BTreeMap;

use rocket::http::Status;
use rocket::response::content::RawHtml;
use rocket::response::{self, Redirect, Responder};
use rocket::{get, routes, Request, Route, State};
use rusqlite::{Connection, TransactionBehavior};

pub mod audit;
pub mod canned;
pub mod departments;
pub mod fields;
pub mod form_support;
pub mod plugins;
pub mod priorities;
pub mod quarantine;
pub mod roles;
pub mod schedules;
pub mod settings;
pub mod sla;
pub mod sla_departments;
pub mod spam;
pub mod staff_accounts;
pub mod statuses;
pub mod teams;
pub mod topics;

use crate::store::{Conn, Store};
use crate::store::{StoreError, StoreResult};
use crate::web::auth::AdminSession;
use crate::web::staff::{page, render};
use crate::web::templates::Templates;
use crate::web::{db, i18n, WebError};

pub fn routes() -> Vec<Route> {
    let mut r = routes![index];
    r.extend(departments::routes());
    r.extend(topics::routes());
    r.extend(priorities::routes());
    r.extend(statuses::routes());
    r.extend(canned::routes());
    r.extend(settings::routes());
    r.extend(audit::routes());
    r.extend(quarantine::routes());
    r
}

/// The sections of the admin menu: (key, address). Keys name the
/// catalogue entries `admin.section.KEY` and `admin.section.KEY_help`.
pub const SECTIONS: &[(&str, &str)] = &[
    ("staff", "/admin/staff"),
    ("roles", "/admin/roles"),
    ("teams", "/admin/teams"),
    ("departments", "/admin/departments"),
    ("topics", "/admin/topics"),
    ("priorities", "/admin/priorities"),
    ("statuses", "/admin/statuses"),
    ("sla", "/admin/sla"),
    ("schedules", "/admin/schedules"),
    ("sla_departments", "/admin/sla/departments"),
    ("filters", "/admin/filters"),
    ("bans", "/admin/bans"),
    ("spam", "/admin/spam"),
    ("quarantine", "/admin/quarantine"),
    ("fields", "/admin/fields"),
    ("canned", "/admin/canned"),
    ("settings", "/admin/settings"),
    ("plugins", "/admin/plugins"),
    ("audit", "/admin/audit"),
];

/// The context of an admin page: the staff frame plus the admin sections
/// (`admin_sections`) and which one is shown (`section`).
pub async fn admin_page(
    store: &Store,
    me: &AdminSession,
    section: &str,
) -> Result<tera::Context, WebError> {
    let mut ctx = page(store, &me.0, "admin").await?;
    let sections: Vec<serde_json::Value> = SECTIONS
        .iter()
        .map(|(key, href)| serde_json::json!({ "key": key, "href": href }))
        .collect();
    ctx.insert("admin_sections", &sections);
    ctx.insert("section", section);
    // Mail waiting in the quarantine shows on every admin page, so it is
    // seen without visiting the section (an index range, not a scan).
    let quarantined = db(store, |c| {
        crate::store::raw_messages::count_by_status(c, crate::model::RawStatus::Quarantined)
    })
    .await?;
    ctx.insert("quarantined", &quarantined);
    ctx.insert("errors", &Errors::default().0);
    Ok(ctx)
}

/// Run `f` in one immediate transaction (the change and its audit event
/// commit together or not at all).
pub async fn in_tx<T, F>(store: &Store, f: F) -> Result<T, WebError>
where
    T: Send + 'static,
    F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
{
    db(store, move |c: &mut Conn| {
        let tx = c
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| StoreError::wrap("starting a transaction", e))?;
        let value = f(&tx)?;
        tx.commit()
            .map_err(|e| StoreError::wrap("committing the change", e))?;
        Ok(value)
    })
    .await
}

/// Field errors of a form: field name → sentence shown beside it.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Errors(pub BTreeMap<String, String>);

impl Errors {
    pub fn add(&mut self, field: &str, msg: String) {
        self.0.entry(field.to_string()).or_insert(msg);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A form submission's answer: back to a page, or the form again with its
/// errors (422, so scripts and tests can tell).
pub enum Submitted {
    Done(Box<Redirect>),
    Invalid(RawHtml<String>),
}

impl Submitted {
    /// Done: see `url`.
    pub fn to(url: impl Into<String>) -> Submitted {
        Submitted::Done(Box::new(Redirect::to(url.into())))
    }
}

impl<'r> Responder<'r, 'static> for Submitted {
    fn respond_to(self, req: &'r Request<'_>) -> response::Result<'static> {
        match self {
            Submitted::Done(r) => r.respond_to(req),
            Submitted::Invalid(html) => {
                let mut res = html.respond_to(req)?;
                res.set_status(Status::UnprocessableEntity);
                Ok(res)
            }
        }
    }
}

/// A translated message from the admin catalogue.
pub fn msg(me: &AdminSession, key: &str, args: &[(&str, String)]) -> String {
    i18n::t(&me.0.lang, key, args)
}

/// The admin as the author of audit events.
pub fn actor(me: &AdminSession) -> crate::tickets::events::Actor {
    me.0.actor()
}

/// An optional id from a select ("" is none); a non-number is an error.
pub fn opt_id(v: Option<&str>) -> Result<Option<i64>, NotANumber> {
    match v.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => s.parse::<i64>().map(Some).map_err(|_| NotANumber),
    }
}

/// A select's value that is not an id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotANumber;

/// A name field: required, at most `max` characters, no control characters.
pub fn check_name(me: &AdminSession, errors: &mut Errors, field: &str, v: &str, max: usize) {
    if v.is_empty() {
        errors.add(field, msg(me, "admin.err.required", &[]));
    } else if v.chars().count() > max {
        errors.add(
            field,
            msg(me, "admin.err.too_long", &[("max", max.to_string())]),
        );
    } else if v.chars().any(char::is_control) {
        errors.add(field, msg(me, "admin.err.control", &[]));
    }
}

/// An email address as departments use it: one '@', a dotted domain, no
/// spaces.
pub fn valid_email(v: &str) -> bool {
    let Some((local, domain)) = v.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && v.len() <= 254
        && !v
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "<>,;\"".contains(c))
}

#[get("/")]
async fn index(
    store: &State<Store>,
    templates: &State<Templates>,
    me: AdminSession,
) -> Result<RawHtml<String>, WebError> {
    let ctx = admin_page(store, &me, "index").await?;
    render(templates, "admin/index.html", &ctx)
}
pub mod bans;
pub mod filter_form;
pub mod filter_test;
pub mod filters;
