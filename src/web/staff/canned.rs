//! Canned responses: list, add (personal, or shared by admins), delete.

use rocket::form::Form;
use rocket::response::content::RawHtml;
use rocket::response::Redirect;
use rocket::{get, post, routes, FromForm, Route, State};

use super::{page, render};
use crate::store::{canned, Store};
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
    let items = db(store, move |c| canned::list_for(c, sid)).await?;
    let mut ctx = page(store, &me, "canned").await?;
    ctx.insert("items", &items);
    render(templates, "staff/canned.html", &ctx)
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
    if shared && !me.is_admin {
        return Err(WebError::Forbidden);
    }
    let owner = (!shared).then_some(me.staff_id);
    db(store, move |c| canned::create(c, owner, &title, &body)).await?;
    Ok(Redirect::to("/canned"))
}

#[post("/canned/<id>/delete")]
async fn delete(store: &State<Store>, me: StaffSession, id: i64) -> Result<Redirect, WebError> {
    let (sid, admin) = (me.staff_id, me.is_admin);
    db(store, move |c| canned::delete(c, id, sid, admin)).await?;
    Ok(Redirect::to("/canned"))
}
