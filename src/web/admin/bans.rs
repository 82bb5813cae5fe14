//! /admin/bans: the ban list (addresses and whole domains). Mail from a
//! banned sender is kept raw as rejected; web submissions get a polite
//! refusal. Adding and lifting bans write audit events.

use rocket::form::Form;
use rocket::response::content::RawHtml;
use rocket::response::Redirect;
use rocket::{get, post, routes, FromForm, Route, State};
use serde_json::json;

use super::filters::in_tx;
use crate::store::{bans, Store};
use crate::web::auth::AdminSession;
use crate::web::staff::render;
use crate::web::templates::Templates;
use crate::web::{db, i18n, WebError};

pub fn routes() -> Vec<Route> {
    routes![index, add, remove]
}

/// Most entries shown at once; the search box finds the rest.
const PAGE: i64 = 500;

#[derive(Debug, Default, FromForm)]
struct ListQuery<'r> {
    q: Option<&'r str>,
    done: Option<&'r str>,
}

#[get("/bans?<query..>")]
async fn index(
    store: &State<Store>,
    templates: &State<Templates>,
    me: AdminSession,
    query: ListQuery<'_>,
) -> Result<RawHtml<String>, WebError> {
    let done = query
        .done
        .filter(|d| matches!(*d, "added" | "exists" | "removed"))
        .map(str::to_string);
    let q = query.q.unwrap_or("").to_string();
    show(store, templates, &me, &q, done, "", "", None).await
}

#[allow(clippy::too_many_arguments)]
async fn show(
    store: &Store,
    templates: &Templates,
    me: &AdminSession,
    q: &str,
    done: Option<String>,
    entry: &str,
    note: &str,
    error: Option<String>,
) -> Result<RawHtml<String>, WebError> {
    let search = q.to_string();
    let list = db(store, move |c| bans::list(c, &search, PAGE)).await?;
    let mut ctx = super::admin_page(store, me, "bans").await?;
    ctx.insert("bans", &list);
    ctx.insert("q", q);
    ctx.insert("done", &done);
    ctx.insert("entry", entry);
    ctx.insert("note", note);
    ctx.insert("error", &error);
    render(templates, "admin/bans.html", &ctx)
}

#[derive(Debug, FromForm)]
struct AddForm {
    #[field(default = String::new())]
    entry: String,
    #[field(default = String::new())]
    note: String,
}

/// Either a redirect after the change or the form again with its error.
// Built once per request and returned at once: its size does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(rocket::Responder)]
enum Answer {
    Done(Redirect),
    #[response(status = 422)]
    Invalid(RawHtml<String>),
}

#[post("/bans", data = "<form>")]
async fn add(
    store: &State<Store>,
    templates: &State<Templates>,
    me: AdminSession,
    form: Form<AddForm>,
) -> Result<Answer, WebError> {
    let note = form.note.trim().to_string();
    let entry = match bans::normalise(&form.entry) {
        Ok(e) if note.chars().count() <= 500 => e,
        Ok(_) => {
            let msg = i18n::t(&me.0.lang, "rules.bans_note_long", &[]);
            let html = show(
                store,
                templates,
                &me,
                "",
                None,
                &form.entry,
                &note,
                Some(msg),
            )
            .await?;
            return Ok(Answer::Invalid(html));
        }
        Err(_) => {
            let msg = i18n::t(&me.0.lang, "rules.bans_bad_entry", &[]);
            let html = show(
                store,
                templates,
                &me,
                "",
                None,
                &form.entry,
                &note,
                Some(msg),
            )
            .await?;
            return Ok(Answer::Invalid(html));
        }
    };
    let actor = me.0.actor();
    let staff = me.0.staff_id;
    let added = db(store, move |c| {
        in_tx(c, |tx| {
            let added = bans::add(tx, &entry, &note, Some(staff))?;
            if added {
                crate::store::audit::record(
                    tx,
                    &actor,
                    "config.ban_added",
                    &json!({ "entry": entry, "note": note }),
                )?;
            }
            Ok(added)
        })
    })
    .await?;
    Ok(Answer::Done(Redirect::to(if added {
        "/admin/bans?done=added"
    } else {
        "/admin/bans?done=exists"
    })))
}

#[derive(Debug, FromForm)]
struct RemoveForm {
    entry: String,
}

#[post("/bans/remove", data = "<form>")]
async fn remove(
    store: &State<Store>,
    me: AdminSession,
    form: Form<RemoveForm>,
) -> Result<Redirect, WebError> {
    let entry = form.into_inner().entry;
    let actor = me.0.actor();
    let removed = db(store, move |c| {
        in_tx(c, |tx| {
            let removed = bans::remove(tx, &entry)?;
            if removed {
                crate::store::audit::record(
                    tx,
                    &actor,
                    "config.ban_removed",
                    &json!({ "entry": entry }),
                )?;
            }
            Ok(removed)
        })
    })
    .await?;
    if !removed {
        return Err(WebError::NotFound);
    }
    Ok(Redirect::to("/admin/bans?done=removed"))
}
