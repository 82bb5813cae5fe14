//! /admin/filters: the ticket filters in evaluation order, with create,
//! edit, enable/disable, move up/down and delete. Every change writes an
//! audit event ("config.filter_*") in the same transaction.

use rocket::form::Form;
use rocket::response::content::RawHtml;
use rocket::response::Redirect;
use rocket::{get, post, routes, FromForm, Route, State};
use rusqlite::{Connection, TransactionBehavior};
use serde::Serialize;
use serde_json::json;

use super::filter_form::{self, Choices, FilterForm, FormView};
use crate::store::filters::{self as sf, FilterRow, FilterSpec};
use crate::store::{Store, StoreError, StoreResult};
use crate::tickets::events::Actor;
use crate::web::auth::AdminSession;
use crate::web::staff::render;
use crate::web::templates::Templates;
use crate::web::{db, WebError};

pub fn routes() -> Vec<Route> {
    routes![
        index,
        new_form,
        create,
        edit_form,
        update,
        toggle,
        move_filter,
        delete
    ]
}

/// A filter as the list shows it.
#[derive(Debug, Serialize)]
struct ListRow {
    #[serde(flatten)]
    row: FilterRow,
    /// Conditions in words ("Subject contains invoice").
    conditions_text: Vec<String>,
    actions_text: Vec<String>,
}

fn condition_text(c: &sf::ConditionRow, lang: &str) -> String {
    let field = if c.field == "header" {
        format!(
            "{}: {}",
            crate::web::i18n::t(lang, "rules.field.header", &[]),
            c.header
        )
    } else {
        crate::web::i18n::t(lang, &format!("rules.field.{}", c.field), &[])
    };
    let op = crate::web::i18n::t(lang, &format!("rules.op.{}", c.op), &[]);
    format!("{field} {op} “{}”", c.value)
}

#[derive(Debug, FromForm)]
struct Flash<'r> {
    done: Option<&'r str>,
}

#[get("/filters?<flash..>")]
async fn index(
    store: &State<Store>,
    templates: &State<Templates>,
    me: AdminSession,
    flash: Flash<'_>,
) -> Result<RawHtml<String>, WebError> {
    let lang = me.0.lang.clone();
    let (rows, choices) = db(store, move |c| {
        Ok((sf::list(c, false)?, filter_form::choices(c, &lang)?))
    })
    .await?;
    let lang = &me.0.lang;
    let list: Vec<ListRow> = rows
        .into_iter()
        .map(|row| ListRow {
            conditions_text: row
                .conditions
                .iter()
                .map(|c| condition_text(c, lang))
                .collect(),
            actions_text: row
                .actions
                .iter()
                .map(|a| filter_form::describe(&choices, &a.kind, &a.value, lang))
                .collect(),
            row,
        })
        .collect();
    let done = flash
        .done
        .filter(|d| matches!(*d, "created" | "saved" | "deleted"))
        .map(str::to_string);
    let mut ctx = super::admin_page(store, &me, "filters").await?;
    ctx.insert("filters", &list);
    ctx.insert("done", &done);
    render(templates, "admin/filters.html", &ctx)
}

async fn form_page(
    store: &Store,
    templates: &Templates,
    me: &AdminSession,
    view: &FormView,
    choices: &Choices,
) -> Result<RawHtml<String>, WebError> {
    let mut ctx = super::admin_page(store, me, "filters").await?;
    ctx.insert("f", view);
    ctx.insert("invalid", &view.has_errors());
    ctx.insert("choices", choices);
    render(templates, "admin/filter_edit.html", &ctx)
}

#[get("/filters/new")]
async fn new_form(
    store: &State<Store>,
    templates: &State<Templates>,
    me: AdminSession,
) -> Result<RawHtml<String>, WebError> {
    let lang = me.0.lang.clone();
    let choices = db(store, move |c| filter_form::choices(c, &lang)).await?;
    form_page(store, templates, &me, &FormView::new_filter(), &choices).await
}

#[get("/filters/<id>")]
async fn edit_form(
    store: &State<Store>,
    templates: &State<Templates>,
    me: AdminSession,
    id: i64,
) -> Result<RawHtml<String>, WebError> {
    let lang = me.0.lang.clone();
    let (row, choices) = db(store, move |c| {
        Ok((sf::get(c, id)?, filter_form::choices(c, &lang)?))
    })
    .await?;
    let row = row.ok_or(WebError::NotFound)?;
    form_page(store, templates, &me, &FormView::from_row(&row), &choices).await
}

/// What saving a form led to.
enum Saved {
    Done(i64),
    /// Shown again with its errors.
    Invalid(Box<FormView>, Box<Choices>),
    NotFound,
}

/// Check and save the form in one immediate transaction with its audit
/// event. A name already in use is an error beside the name.
fn save(
    conn: &mut Connection,
    actor: &Actor,
    id: Option<i64>,
    form: &FilterForm,
    lang: &str,
) -> StoreResult<Saved> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| StoreError::wrap("starting to save a filter", e))?;
    let (view, spec) = filter_form::check(&tx, id, form, lang)?;
    let Some(spec) = spec else {
        let choices = filter_form::choices(&tx, lang)?;
        return Ok(Saved::Invalid(Box::new(view), Box::new(choices)));
    };
    let invalid = |mut view: FormView, msg: String| -> StoreResult<Saved> {
        view.errors.insert("name".into(), msg);
        let choices = filter_form::choices(&tx, lang)?;
        Ok(Saved::Invalid(Box::new(view), Box::new(choices)))
    };
    let saved_id = match id {
        None => match sf::create(&tx, &spec) {
            Ok(new_id) => {
                audit(&tx, actor, "config.filter_created", None, &spec, new_id)?;
                new_id
            }
            Err(StoreError::Invalid(msg)) => return invalid(view, msg),
            Err(e) => return Err(e),
        },
        Some(id) => {
            let Some(before) = sf::get(&tx, id)? else {
                return Ok(Saved::NotFound);
            };
            match sf::update(&tx, id, &spec) {
                Ok(_) => {
                    audit(
                        &tx,
                        actor,
                        "config.filter_updated",
                        Some(&before),
                        &spec,
                        id,
                    )?;
                    id
                }
                Err(StoreError::Invalid(msg)) => return invalid(view, msg),
                Err(e) => return Err(e),
            }
        }
    };
    tx.commit()
        .map_err(|e| StoreError::wrap("saving a filter", e))?;
    Ok(Saved::Done(saved_id))
}

fn audit(
    conn: &Connection,
    actor: &Actor,
    kind: &str,
    before: Option<&FilterRow>,
    after: &sf::FilterSpec,
    id: i64,
) -> StoreResult<()> {
    crate::store::audit::record(
        conn,
        actor,
        kind,
        &json!({ "id": id, "before": before.map(FilterSpec::from), "after": after }),
    )?;
    Ok(())
}

async fn save_and_answer(
    store: &Store,
    templates: &Templates,
    me: AdminSession,
    id: Option<i64>,
    form: FilterForm,
) -> Result<Result<Redirect, RawHtml<String>>, WebError> {
    let actor = me.0.actor();
    let lang = me.0.lang.clone();
    let saved = db(store, move |c| save(c, &actor, id, &form, &lang)).await?;
    match saved {
        Saved::Done(saved) => {
            let done = if id.is_some() { "saved" } else { "created" };
            Ok(Ok(Redirect::to(format!(
                "/admin/filters?done={done}#filter-{saved}"
            ))))
        }
        Saved::Invalid(view, choices) => {
            let html = form_page(store, templates, &me, &view, &choices).await?;
            Ok(Err(html))
        }
        Saved::NotFound => Err(WebError::NotFound),
    }
}

/// Either a redirect after saving or the form again with its errors (422).
// Built once per request and returned at once: its size does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(rocket::Responder)]
enum Answer {
    Saved(Redirect),
    #[response(status = 422)]
    Invalid(RawHtml<String>),
}

impl From<Result<Redirect, RawHtml<String>>> for Answer {
    fn from(r: Result<Redirect, RawHtml<String>>) -> Answer {
        match r {
            Ok(r) => Answer::Saved(r),
            Err(h) => Answer::Invalid(h),
        }
    }
}

#[post("/filters/new", data = "<form>")]
async fn create(
    store: &State<Store>,
    templates: &State<Templates>,
    me: AdminSession,
    form: Form<FilterForm>,
) -> Result<Answer, WebError> {
    Ok(
        save_and_answer(store, templates, me, None, form.into_inner())
            .await?
            .into(),
    )
}

#[post("/filters/<id>", data = "<form>")]
async fn update(
    store: &State<Store>,
    templates: &State<Templates>,
    me: AdminSession,
    id: i64,
    form: Form<FilterForm>,
) -> Result<Answer, WebError> {
    Ok(
        save_and_answer(store, templates, me, Some(id), form.into_inner())
            .await?
            .into(),
    )
}

#[derive(Debug, FromForm)]
struct ToggleForm {
    active: bool,
}

#[post("/filters/<id>/active", data = "<form>")]
async fn toggle(
    store: &State<Store>,
    me: AdminSession,
    id: i64,
    form: Form<ToggleForm>,
) -> Result<Redirect, WebError> {
    let actor = me.0.actor();
    let active = form.active;
    let found = db(store, move |c| {
        in_tx(c, |tx| {
            let Some(before) = sf::get(tx, id)? else {
                return Ok(false);
            };
            sf::set_active(tx, id, active)?;
            let kind = if active {
                "config.filter_enabled"
            } else {
                "config.filter_disabled"
            };
            crate::store::audit::record(
                tx,
                &actor,
                kind,
                &json!({ "id": id, "name": before.name,
                         "before": { "active": before.active }, "after": { "active": active } }),
            )?;
            Ok(true)
        })
    })
    .await?;
    if !found {
        return Err(WebError::NotFound);
    }
    Ok(Redirect::to("/admin/filters"))
}

#[derive(Debug, FromForm)]
struct MoveForm<'r> {
    direction: &'r str,
}

#[post("/filters/<id>/move", data = "<form>")]
async fn move_filter(
    store: &State<Store>,
    me: AdminSession,
    id: i64,
    form: Form<MoveForm<'_>>,
) -> Result<Redirect, WebError> {
    let up = match form.direction {
        "up" => true,
        "down" => false,
        _ => return Err(WebError::BadRequest("direction must be up or down".into())),
    };
    let actor = me.0.actor();
    db(store, move |c| {
        in_tx(c, |tx| {
            let Some(f) = sf::get(tx, id)? else {
                return Ok(());
            };
            if let Some(other) = sf::move_filter(tx, id, up)? {
                crate::store::audit::record(
                    tx,
                    &actor,
                    "config.filter_moved",
                    &json!({ "id": id, "name": f.name,
                             "direction": if up { "up" } else { "down" }, "swapped_with": other }),
                )?;
            }
            Ok(())
        })
    })
    .await?;
    Ok(Redirect::to(format!("/admin/filters#filter-{id}")))
}

#[post("/filters/<id>/delete")]
async fn delete(store: &State<Store>, me: AdminSession, id: i64) -> Result<Redirect, WebError> {
    let actor = me.0.actor();
    let found = db(store, move |c| {
        in_tx(c, |tx| {
            let Some(before) = sf::get(tx, id)? else {
                return Ok(false);
            };
            sf::delete(tx, id)?;
            crate::store::audit::record(
                tx,
                &actor,
                "config.filter_deleted",
                &json!({ "id": id, "before": FilterSpec::from(&before), "after": null }),
            )?;
            Ok(true)
        })
    })
    .await?;
    if !found {
        return Err(WebError::NotFound);
    }
    Ok(Redirect::to("/admin/filters?done=deleted"))
}

/// Run `f` in one immediate transaction.
pub(super) fn in_tx<T>(
    conn: &mut Connection,
    f: impl FnOnce(&Connection) -> StoreResult<T>,
) -> StoreResult<T> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| StoreError::wrap("starting a change", e))?;
    let value = f(&tx)?;
    tx.commit()
        .map_err(|e| StoreError::wrap("committing a change", e))?;
    Ok(value)
}
