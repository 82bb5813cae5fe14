//! /admin/statuses: custom status labels, each mapped to one of the five
//! states (open, answered, pending, resolved, closed). Every state keeps at
//! least one label; the first of a state (by order) is its default.

use rocket::form::Form;
use rocket::response::content::RawHtml;
use rocket::{get, post, routes, FromForm, Route, State};

use super::{actor, admin_page, check_name, in_tx, msg, Errors, Submitted};
use crate::model::Status;
use crate::store::statuses::{self as st, StatusFields};
use crate::store::{audit, Store, StoreError};
use crate::web::auth::AdminSession;
use crate::web::staff::render;
use crate::web::templates::Templates;
use crate::web::{db, WebError};

pub fn routes() -> Vec<Route> {
    routes![list, create, edit, update, delete]
}

#[derive(FromForm)]
pub struct StatusForm<'r> {
    name: &'r str,
    state: &'r str,
    sort: Option<&'r str>,
}

fn values(f: &StatusForm<'_>) -> serde_json::Value {
    serde_json::json!({ "name": f.name, "state": f.state, "sort": f.sort.unwrap_or("0") })
}

async fn parse(
    store: &Store,
    me: &AdminSession,
    f: &StatusForm<'_>,
    id: Option<i64>,
) -> Result<Result<StatusFields, Errors>, WebError> {
    let mut errors = Errors::default();
    let name = f.name.trim().to_string();
    check_name(me, &mut errors, "name", &name, 60);
    let state = Status::parse(f.state.trim());
    if state.is_none() {
        errors.add("state", msg(me, "admin.err.choose", &[]));
    }
    let sort = match f.sort.map(str::trim).filter(|s| !s.is_empty()) {
        None => 0,
        Some(s) => match s.parse::<i64>() {
            Ok(n) if (-100_000..=100_000).contains(&n) => n,
            _ => {
                errors.add("sort", msg(me, "admin.err.number", &[]));
                0
            }
        },
    };
    let n2 = name.clone();
    let (taken, current) = db(store, move |c| {
        let taken = !n2.is_empty() && st::name_taken(c, &n2, id)?;
        let current = match id {
            Some(id) => st::get_with_count(c, id)?,
            None => None,
        };
        let others = match &current {
            Some(cur) => st::count_for_state(c, cur.state)?,
            None => 0,
        };
        Ok((taken, current.map(|c| (c, others))))
    })
    .await?;
    if taken {
        errors.add("name", msg(me, "admin.err.name_taken", &[]));
    }
    if let (Some((cur, same_state)), Some(state)) = (&current, state) {
        if cur.state != state {
            if cur.tickets.unwrap_or(0) > 0 {
                errors.add("state", msg(me, "admin.status.state_in_use", &[]));
            } else if *same_state <= 1 {
                errors.add("state", msg(me, "admin.status.last_of_state", &[]));
            }
        }
    }
    match state {
        Some(state) if errors.is_empty() => Ok(Ok(StatusFields { name, state, sort })),
        _ => Ok(Err(errors)),
    }
}

async fn list_page(
    store: &Store,
    templates: &Templates,
    me: &AdminSession,
    values: serde_json::Value,
    errors: &Errors,
) -> Result<RawHtml<String>, WebError> {
    let list = db(store, |c| st::list_with_counts(c)).await?;
    let mut ctx = admin_page(store, me, "statuses").await?;
    ctx.insert("statuses", &list);
    ctx.insert("states", &Status::ALL);
    ctx.insert("values", &values);
    ctx.insert("errors", &errors.0);
    render(templates, "admin/statuses.html", &ctx)
}

#[get("/statuses")]
async fn list(
    store: &State<Store>,
    templates: &State<Templates>,
    me: AdminSession,
) -> Result<RawHtml<String>, WebError> {
    let values = serde_json::json!({ "name": "", "state": "pending", "sort": "0" });
    list_page(store, templates, &me, values, &Errors::default()).await
}

#[post("/statuses", data = "<form>")]
async fn create(
    store: &State<Store>,
    templates: &State<Templates>,
    me: AdminSession,
    form: Form<StatusForm<'_>>,
) -> Result<Submitted, WebError> {
    let fields = match parse(store, &me, &form, None).await? {
        Ok(f) => f,
        Err(errors) => {
            let page = list_page(store, templates, &me, values(&form), &errors).await?;
            return Ok(Submitted::Invalid(page));
        }
    };
    let who = actor(&me);
    in_tx(store, move |c| {
        let id = st::create(c, &fields)?;
        audit::record(
            c,
            &who,
            "config.status_created",
            &serde_json::json!({ "id": id, "before": null, "after": fields }),
        )?;
        Ok(())
    })
    .await?;
    Ok(Submitted::to("/admin/statuses"))
}

async fn edit_page(
    store: &Store,
    templates: &Templates,
    me: &AdminSession,
    id: i64,
    values: Option<serde_json::Value>,
    errors: &Errors,
) -> Result<RawHtml<String>, WebError> {
    let (s, same_state) = db(store, move |c| {
        let s = st::get_with_count(c, id)?
            .ok_or_else(|| StoreError::NotFound(format!("status {id}")))?;
        let n = st::count_for_state(c, s.state)?;
        Ok((s, n))
    })
    .await?;
    let mut ctx = admin_page(store, me, "statuses").await?;
    ctx.insert(
        "values",
        &values.unwrap_or_else(
            || serde_json::json!({ "name": s.name, "state": s.state, "sort": s.sort.to_string() }),
        ),
    );
    ctx.insert("s", &s);
    ctx.insert("last_of_state", &(same_state <= 1));
    ctx.insert("states", &Status::ALL);
    ctx.insert("errors", &errors.0);
    render(templates, "admin/status.html", &ctx)
}

#[get("/statuses/<id>")]
async fn edit(
    store: &State<Store>,
    templates: &State<Templates>,
    me: AdminSession,
    id: i64,
) -> Result<RawHtml<String>, WebError> {
    edit_page(store, templates, &me, id, None, &Errors::default()).await
}

#[post("/statuses/<id>", data = "<form>")]
async fn update(
    store: &State<Store>,
    templates: &State<Templates>,
    me: AdminSession,
    id: i64,
    form: Form<StatusForm<'_>>,
) -> Result<Submitted, WebError> {
    let fields = match parse(store, &me, &form, Some(id)).await? {
        Ok(f) => f,
        Err(errors) => {
            let page = edit_page(store, templates, &me, id, Some(values(&form)), &errors).await?;
            return Ok(Submitted::Invalid(page));
        }
    };
    let who = actor(&me);
    in_tx(store, move |c| {
        let s = st::get_with_count(c, id)?
            .ok_or_else(|| StoreError::NotFound(format!("status {id}")))?;
        let before = StatusFields {
            name: s.name,
            state: s.state,
            sort: s.sort,
        };
        if before == fields {
            return Ok(());
        }
        st::update(c, id, &fields)?;
        audit::record(
            c,
            &who,
            "config.status_updated",
            &serde_json::json!({ "id": id, "before": before, "after": fields }),
        )?;
        Ok(())
    })
    .await?;
    Ok(Submitted::to("/admin/statuses"))
}

#[post("/statuses/<id>/delete")]
async fn delete(
    store: &State<Store>,
    templates: &State<Templates>,
    me: AdminSession,
    id: i64,
) -> Result<Submitted, WebError> {
    let who = actor(&me);
    let blocked = in_tx(store, move |c| {
        let s = st::get_with_count(c, id)?
            .ok_or_else(|| StoreError::NotFound(format!("status {id}")))?;
        if st::count_for_state(c, s.state)? <= 1 {
            return Ok(true);
        }
        st::delete(c, id)?;
        audit::record(
            c,
            &who,
            "config.status_deleted",
            &serde_json::json!({
                "id": id,
                "before": { "name": s.name, "state": s.state, "sort": s.sort },
                "after": null,
            }),
        )?;
        Ok(false)
    })
    .await?;
    if !blocked {
        return Ok(Submitted::to("/admin/statuses"));
    }
    let mut errors = Errors::default();
    errors.add("delete", msg(&me, "admin.status.last_of_state", &[]));
    let page = edit_page(store, templates, &me, id, None, &errors).await?;
    Ok(Submitted::Invalid(page))
}

/// The name shown for a status: the built-in ones (named as the English
/// state) in the viewer's language, the admin's own as written.
pub fn display_name(lang: &str, s: &st::StatusRow) -> String {
    let key = format!("status.{}", s.state.as_str());
    if s.name == crate::web::i18n::t("en", &key, &[]) {
        crate::web::i18n::t(lang, &key, &[])
    } else {
        s.name.clone()
    }
}

/// What a ticket shows: its own status, else the first of its state.
pub fn label_of(
    all: &[st::StatusRow],
    state: Status,
    status_id: Option<i64>,
) -> Option<&st::StatusRow> {
    status_id
        .and_then(|id| all.iter().find(|s| s.id == id && s.state == state))
        .or_else(|| all.iter().find(|s| s.state == state))
}
