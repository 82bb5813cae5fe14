//! Password reset on the portal: ask for a link by address (same answer
//! whether or not it has an account), then choose a new password with the
//! mailed single-use token.

use rocket::form::Form;
use rocket::http::{CookieJar, Status};
use rocket::response::content::RawHtml;
use rocket::{get, post, routes, FromForm, Route, State};
use serde_json::json;

use super::account::{blocking, enabled, field_error, notice};
use super::{portal_page, render, Visitor};
use crate::accounts::{self, AccountError};
use crate::store::Store;
use crate::web::templates::Templates;
use crate::web::WebError;

pub fn routes() -> Vec<Route> {
    routes![reset_page, reset_request, reset_new]
}

type Page = (Status, RawHtml<String>);

async fn reset_form(
    store: &Store,
    templates: &Templates,
    visitor: &Visitor,
    jar: &CookieJar<'_>,
    email: &str,
    errors: serde_json::Value,
) -> Result<RawHtml<String>, WebError> {
    let mut ctx = portal_page(store, visitor, jar, "account").await?;
    ctx.insert("email", email);
    ctx.insert("errors", &errors);
    render(templates, "portal/reset_request.html", &ctx)
}

async fn new_password_form(
    store: &Store,
    templates: &Templates,
    visitor: &Visitor,
    jar: &CookieJar<'_>,
    token: &str,
    errors: serde_json::Value,
) -> Result<RawHtml<String>, WebError> {
    let mut ctx = portal_page(store, visitor, jar, "account").await?;
    ctx.insert("token", token);
    ctx.insert("errors", &errors);
    ctx.insert("min", &accounts::MIN_PASSWORD);
    render(templates, "portal/reset_new.html", &ctx)
}

/// Without a token: ask for the address. With one (from the mail): choose
/// a new password, if the token is still good.
#[get("/reset?<token>")]
async fn reset_page(
    store: &State<Store>,
    templates: &State<Templates>,
    visitor: Visitor,
    jar: &CookieJar<'_>,
    token: Option<&str>,
) -> Result<Page, WebError> {
    enabled(store).await?;
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        let html = reset_form(store, templates, &visitor, jar, "", json!({})).await?;
        return Ok((Status::Ok, html));
    };
    let (s, tok) = (store.inner().clone(), token.to_string());
    match blocking(move || accounts::reset_token_valid(&s, &tok)).await? {
        Ok(true) => {
            let html = new_password_form(store, templates, &visitor, jar, token, json!({})).await?;
            Ok((Status::Ok, html))
        }
        Ok(false) => {
            notice(
                store,
                templates,
                &visitor,
                jar,
                Status::Gone,
                "account.reset_bad_title",
                "account.reset_bad",
                "reset_bad",
            )
            .await
        }
        Err(AccountError::Store(e)) => Err(e.into()),
        Err(_) => Err(WebError::NotFound),
    }
}

#[derive(FromForm)]
struct ResetRequestForm<'r> {
    email: &'r str,
}

#[post("/reset", data = "<form>")]
async fn reset_request(
    store: &State<Store>,
    templates: &State<Templates>,
    visitor: Visitor,
    jar: &CookieJar<'_>,
    form: Form<ResetRequestForm<'_>>,
) -> Result<Page, WebError> {
    enabled(store).await?;
    let (s, email, ip) = (
        store.inner().clone(),
        form.email.to_string(),
        visitor.client.ip.clone(),
    );
    match blocking(move || accounts::request_reset(&s, &email, &ip)).await? {
        Ok(()) => {
            notice(
                store,
                templates,
                &visitor,
                jar,
                Status::Ok,
                "account.reset_sent_title",
                "account.reset_sent",
                "reset_sent",
            )
            .await
        }
        Err(e) => {
            let (status, errors) = field_error(&visitor, e)?;
            let html = reset_form(store, templates, &visitor, jar, form.email, errors).await?;
            Ok((status, html))
        }
    }
}

#[derive(FromForm)]
struct NewPasswordForm<'r> {
    token: &'r str,
    password: &'r str,
    password2: &'r str,
}

#[post("/reset/new", data = "<form>")]
async fn reset_new(
    store: &State<Store>,
    templates: &State<Templates>,
    visitor: Visitor,
    jar: &CookieJar<'_>,
    form: Form<NewPasswordForm<'_>>,
) -> Result<Page, WebError> {
    enabled(store).await?;
    let outcome = if form.password != form.password2 {
        Err(AccountError::Invalid(
            "password2",
            "account.error.password_mismatch",
        ))
    } else {
        let (s, tok, pw) = (
            store.inner().clone(),
            form.token.to_string(),
            form.password.to_string(),
        );
        blocking(move || accounts::reset(&s, &tok, &pw)).await?
    };
    let (status, title, message, kind) = match outcome {
        Ok(true) => (
            Status::Ok,
            "account.reset_done_title",
            "account.reset_done",
            "reset_done",
        ),
        Ok(false) => (
            Status::Gone,
            "account.reset_bad_title",
            "account.reset_bad",
            "reset_bad",
        ),
        Err(e) => {
            let (status, errors) = field_error(&visitor, e)?;
            let html =
                new_password_form(store, templates, &visitor, jar, form.token, errors).await?;
            return Ok((status, html));
        }
    };
    notice(
        store, templates, &visitor, jar, status, title, message, kind,
    )
    .await
}
