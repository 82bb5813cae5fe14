//! "Check ticket status": the visitor gives an email address and a ticket
//! number; when they match, an access link is mailed to that address. The
//! answer is the same whether or not they match, and the form is
//! rate-limited per IP address.

use rocket::form::Form;
use rocket::http::{CookieJar, Status};
use rocket::response::content::RawHtml;
use rocket::{get, post, routes, FromForm, Route, State};

use super::{portal_page, render, Visitor};
use crate::accounts::{self, AccountError};
use crate::store::Store;
use crate::web::templates::Templates;
use crate::web::{i18n, WebError};

pub fn routes() -> Vec<Route> {
    routes![status_page, status_request]
}

type Page = (Status, RawHtml<String>);

async fn form_page(
    store: &Store,
    templates: &Templates,
    visitor: &Visitor,
    jar: &CookieJar<'_>,
    number: &str,
    email: &str,
    errors: serde_json::Value,
) -> Result<RawHtml<String>, WebError> {
    let mut ctx = portal_page(store, visitor, jar, "status").await?;
    ctx.insert("number", number);
    ctx.insert("email", email);
    ctx.insert("errors", &errors);
    ctx.insert("link_problem", &false);
    ctx.insert("expired", &false);
    render(templates, "portal/status.html", &ctx)
}

#[get("/status?<number>")]
async fn status_page(
    store: &State<Store>,
    templates: &State<Templates>,
    visitor: Visitor,
    jar: &CookieJar<'_>,
    number: Option<&str>,
) -> Result<RawHtml<String>, WebError> {
    let number = number.unwrap_or("");
    form_page(
        store,
        templates,
        &visitor,
        jar,
        number,
        "",
        serde_json::json!({}),
    )
    .await
}

#[derive(FromForm)]
struct StatusForm<'r> {
    email: &'r str,
    number: &'r str,
}

#[post("/status", data = "<form>")]
async fn status_request(
    store: &State<Store>,
    templates: &State<Templates>,
    visitor: Visitor,
    jar: &CookieJar<'_>,
    form: Form<StatusForm<'_>>,
) -> Result<Page, WebError> {
    let (number, email, ip) = (
        form.number.to_string(),
        form.email.to_string(),
        visitor.client.ip.clone(),
    );
    let s = store.inner().clone();
    let outcome = rocket::tokio::task::spawn_blocking(move || {
        accounts::request_access(&s, &number, &email, &ip)
    })
    .await
    .map_err(|e| WebError::Internal(format!("a status request failed: {e}")))?;
    let lang = visitor.lang.clone();
    let (status, errors) = match outcome {
        Ok(()) => {
            let mut ctx = portal_page(store, &visitor, jar, "status").await?;
            ctx.insert("email", form.email.trim());
            return Ok((
                Status::Ok,
                render(templates, "portal/status_sent.html", &ctx)?,
            ));
        }
        Err(AccountError::Invalid(field, key)) => (
            Status::UnprocessableEntity,
            serde_json::json!({ field: i18n::t(&lang, key, &[]) }),
        ),
        Err(AccountError::Throttled) => (
            Status::TooManyRequests,
            serde_json::json!({ "form": i18n::t(&lang, "account.error.throttled", &[]) }),
        ),
        Err(AccountError::Store(e)) => return Err(e.into()),
    };
    let html = form_page(
        store,
        templates,
        &visitor,
        jar,
        form.number,
        form.email,
        errors,
    )
    .await?;
    Ok((status, html))
}
