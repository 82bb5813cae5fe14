//! Tickets held as spam, for administrators: the list (spam is hidden from
//! every queue) and "not spam", which releases a false positive back into
//! the queues, open. Releasing is recorded on the ticket (spam_released).

use rocket::form::Form;
use rocket::response::content::RawHtml;
use rocket::response::Redirect;
use rocket::{get, post, routes, FromForm, Route, State};

use crate::model::TicketId;
use crate::store::{self, Store};
use crate::tickets;
use crate::web::auth::AdminSession;
use crate::web::staff::{page, render};
use crate::web::templates::Templates;
use crate::web::{db, domain, WebError};

/// How many held tickets the page lists.
const LIMIT: i64 = 200;

pub fn routes() -> Vec<Route> {
    routes![index, release]
}

#[get("/spam")]
async fn index(
    store: &State<Store>,
    templates: &State<Templates>,
    me: AdminSession,
) -> Result<RawHtml<String>, WebError> {
    let held = db(store, |c| store::spam::held(c, LIMIT)).await?;
    let mut ctx = page(store, &me.0, "admin").await?;
    ctx.insert("held", &held);
    ctx.insert("limit", &LIMIT);
    render(templates, "admin/spam.html", &ctx)
}

#[derive(FromForm)]
pub struct ReleaseForm {
    /// Where to go afterwards: the ticket, or back to the list.
    back: Option<String>,
}

#[post("/spam/<id>/release", data = "<form>")]
async fn release(
    store: &State<Store>,
    me: AdminSession,
    id: i64,
    form: Form<ReleaseForm>,
) -> Result<Redirect, WebError> {
    let actor = me.0.actor();
    let tid = TicketId(id);
    domain(store, move |s| tickets::release_spam(s, &actor, tid)).await?;
    Ok(match form.back.as_deref() {
        Some("ticket") => Redirect::to(format!("/tickets/{id}")),
        _ => Redirect::to("/admin/spam"),
    })
}
