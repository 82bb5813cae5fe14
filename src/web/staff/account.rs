//! The signed-in agent's own account: change password, sessions.

use rocket::form::Form;
use rocket::http::Status;
use rocket::response::content::RawHtml;
use rocket::response::Redirect;
use rocket::{get, post, routes, FromForm, Route, State};

use super::{page, render};
use crate::store::{sessions, staff, Store};
use crate::web::auth::{self, StaffSession};
use crate::web::templates::Templates;
use crate::web::{db, i18n, WebError};

pub const MIN_PASSWORD: usize = 10;

pub fn routes() -> Vec<Route> {
    routes![
        password_page,
        change_password,
        sessions_page,
        logout_others,
        set_away
    ]
}

async fn password_form(
    store: &Store,
    templates: &Templates,
    me: &StaffSession,
    error: Option<String>,
    done: bool,
) -> Result<RawHtml<String>, WebError> {
    let id = me.staff_id;
    let away = db(store, move |c| crate::store::sla_tickets::is_away(c, id)).await?;
    let mut ctx = page(store, me, "account").await?;
    ctx.insert("away", &away);
    ctx.insert("error", &error);
    ctx.insert("done", &done);
    ctx.insert("forced", &me.must_change_password);
    ctx.insert("min", &MIN_PASSWORD);
    render(templates, "staff/password.html", &ctx)
}

#[get("/account/password?<done>")]
async fn password_page(
    store: &State<Store>,
    templates: &State<Templates>,
    me: StaffSession,
    done: Option<bool>,
) -> Result<RawHtml<String>, WebError> {
    password_form(store, templates, &me, None, done.unwrap_or(false)).await
}

#[derive(FromForm)]
struct PasswordForm<'r> {
    current: &'r str,
    new: &'r str,
    confirm: &'r str,
}

#[post("/account/password", data = "<form>")]
async fn change_password(
    store: &State<Store>,
    templates: &State<Templates>,
    me: StaffSession,
    form: Form<PasswordForm<'_>>,
) -> Result<Result<Redirect, (Status, RawHtml<String>)>, WebError> {
    let lang = me.lang.clone();
    let error = if form.new.chars().count() < MIN_PASSWORD {
        Some(i18n::t(
            &lang,
            "password.too_short",
            &[("n", MIN_PASSWORD.to_string())],
        ))
    } else if form.new != form.confirm {
        Some(i18n::t(&lang, "password.mismatch", &[]))
    } else if form.new == form.current {
        Some(i18n::t(&lang, "password.same", &[]))
    } else {
        None
    };
    if let Some(e) = error {
        let page = password_form(store, templates, &me, Some(e), false).await?;
        return Ok(Err((Status::BadRequest, page)));
    }
    let (id, session) = (me.staff_id, me.session_id);
    let (current, new) = (form.current.to_string(), form.new.to_string());
    let changed = db(store, move |c| {
        let Some(hash) = staff::password_hash(c, id)? else {
            return Ok(false);
        };
        if !auth::verify_password(&current, &hash) {
            return Ok(false);
        }
        let new_hash = auth::hash_password(&new).map_err(crate::store::StoreError::Invalid)?;
        staff::set_password(c, id, &new_hash, false)?;
        // A new password ends every other session.
        sessions::delete_others(c, id, session)?;
        Ok(true)
    })
    .await?;
    if !changed {
        let e = i18n::t(&lang, "password.wrong_current", &[]);
        let page = password_form(store, templates, &me, Some(e), false).await?;
        return Ok(Err((Status::BadRequest, page)));
    }
    Ok(Ok(Redirect::to("/account/password?done=true")))
}

#[get("/account/sessions")]
async fn sessions_page(
    store: &State<Store>,
    templates: &State<Templates>,
    me: StaffSession,
) -> Result<RawHtml<String>, WebError> {
    let id = me.staff_id;
    let list = db(store, move |c| sessions::list_for(c, id)).await?;
    let mut ctx = page(store, &me, "account").await?;
    ctx.insert("sessions", &list);
    ctx.insert("current", &me.session_id);
    render(templates, "staff/sessions.html", &ctx)
}

#[post("/account/sessions/logout-others")]
async fn logout_others(store: &State<Store>, me: StaffSession) -> Result<Redirect, WebError> {
    let (id, keep) = (me.staff_id, me.session_id);
    db(store, move |c| sessions::delete_others(c, id, keep)).await?;
    Ok(Redirect::to("/account/sessions"))
}

#[derive(FromForm)]
struct AwayForm {
    away: bool,
}

/// Away agents get no auto-assigned tickets (they keep the ones they have).
#[post("/account/away", data = "<form>")]
async fn set_away(
    store: &State<Store>,
    me: StaffSession,
    form: Form<AwayForm>,
) -> Result<Redirect, WebError> {
    let (id, away) = (me.staff_id, form.away);
    db(store, move |c| {
        crate::store::sla_tickets::set_away(c, id, away)
    })
    .await?;
    Ok(Redirect::to("/account/password"))
}
