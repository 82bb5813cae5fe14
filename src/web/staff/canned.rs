//! Canned responses: list, add (personal, or shared by staff whose role
//! allows managing canned responses), delete.

use rocket::form::Form;
use rocket::response::content::RawHtml;
use rocket::response::Redirect;
use rocket::{get, post, routes, FromForm, Route, State};

use super::ticket::denied;
use super::{page, render};
use crate::store::{canned, Store};
use crate::tickets::permissions::{self, Permission};
use crate::web::auth::StaffSession;
use crate::web::templates::Templates;
use crate::web::{db, i18n, WebError};

pub fn routes() -> Vec<Route> {
    routes![list, create, delete]
}

#[get("/canned")]
async fn list(
    store: &State<Store>,
    templates: &State<Templates>,
    me: StaffSession,
) -> Result<RawHtml<String>, WebError> {
    let sid = me.staff_id;
    let scope = me.scope();
    let (items, perms) = db(store, move |c| {
        Ok((canned::list_for(c, sid)?, permissions::anywhere(c, scope)?))
    })
    .await?;
    let mut ctx = page(store, &me, "canned").await?;
    ctx.insert("items", &items);
    ctx.insert("may_share", &perms.has(Permission::Canned));
    render(templates, "staff/canned.html", &ctx)
}

/// Whether the viewer may add and delete shared canned responses.
async fn may_manage(store: &Store, me: &StaffSession) -> Result<bool, WebError> {
    let scope = me.scope();
    Ok(db(store, move |c| permissions::anywhere(c, scope))
        .await?
        .has(Permission::Canned))
}

#[derive(FromForm)]
struct CannedForm<'r> {
    title: &'r str,
    body: &'r str,
    shared: Option<bool>,
}

#[post("/canned", data = "<form>")]
async fn create(
    store: &State<Store>,
    me: StaffSession,
    form: Form<CannedForm<'_>>,
) -> Result<Redirect, WebError> {
    let (title, body) = (form.title.trim().to_string(), form.body.to_string());
    if title.is_empty() || body.trim().is_empty() {
        return Err(WebError::BadRequest(i18n::t(&me.lang, "canned.empty", &[])));
    }
    let shared = form.shared == Some(true);
    if shared && !may_manage(store, &me).await? {
        return Err(denied(&me.lang, Permission::Canned));
    }
    let owner = (!shared).then_some(me.staff_id);
    db(store, move |c| canned::create(c, owner, &title, &body)).await?;
    Ok(Redirect::to("/canned"))
}

#[post("/canned/<id>/delete")]
async fn delete(store: &State<Store>, me: StaffSession, id: i64) -> Result<Redirect, WebError> {
    let sid = me.staff_id;
    let manage = may_manage(store, &me).await?;
    db(store, move |c| canned::delete(c, id, sid, manage)).await?;
    Ok(Redirect::to("/canned"))
}
