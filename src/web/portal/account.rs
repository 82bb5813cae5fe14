//! Customer accounts on the portal (per `portal.accounts`): register,
//! confirm the address, sign in and out, reset the password, and "my
//! tickets". With accounts off these pages do not exist (404).

use rocket::form::Form;
use rocket::http::{Cookie, CookieJar, Status};
use rocket::response::content::RawHtml;
use rocket::response::Redirect;
use rocket::{get, post, routes, Either, FromForm, Route, State};
use serde_json::json;

use super::customer::{customer_cookie, Access, CustomerSession, CUSTOMER_COOKIE};
use super::{portal_page, render, Visitor};
use crate::accounts::{self, AccountError, AccountsMode, Login};
use crate::store::{portal_tickets as pt, Store};
use crate::web::templates::Templates;
use crate::web::{db, i18n, WebError};

pub fn routes() -> Vec<Route> {
    routes![
        register_page,
        register,
        verify,
        login_page,
        login,
        logout,
        my_tickets,
        sign_in_first
    ]
}

/// With `portal.accounts = required`, a visitor who is not signed in is
/// sent to sign in before the new-ticket form (GET or POST `/portal/open`):
/// the request is rerouted to a redirect, like the CSRF fairing does, so the
/// form's own handlers need not know about accounts.
pub struct SignInFirst;

const SIGN_IN_FIRST: &str = "/portal/__sign_in_first";
const SIGN_IN_FOR_OPEN: &str = "/portal/login?next=%2Fportal%2Fopen&why=required";

#[rocket::async_trait]
impl rocket::fairing::Fairing for SignInFirst {
    fn info(&self) -> rocket::fairing::Info {
        rocket::fairing::Info {
            name: "portal: sign in before opening a ticket",
            kind: rocket::fairing::Kind::Request,
        }
    }

    async fn on_request(&self, req: &mut rocket::Request<'_>, _: &mut rocket::Data<'_>) {
        if req.uri().path() != "/portal/open" {
            return;
        }
        let Some(store) = req.rocket().state::<Store>() else {
            return;
        };
        if !matches!(mode(store).await, Ok(AccountsMode::Required)) {
            return;
        }
        if req.guard::<CustomerSession>().await.is_success() {
            return;
        }
        req.set_method(rocket::http::Method::Get);
        req.set_uri(rocket::http::uri::Origin::path_only(SIGN_IN_FIRST));
    }
}

#[get("/__sign_in_first")]
fn sign_in_first() -> Redirect {
    Redirect::to(SIGN_IN_FOR_OPEN)
}

type Page = (Status, RawHtml<String>);

/// Run blocking account work off the async workers.
pub(super) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, AccountError> + Send + 'static,
) -> Result<Result<T, AccountError>, WebError> {
    rocket::tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| WebError::Internal(format!("an account task failed: {e}")))
}

async fn mode(store: &Store) -> Result<AccountsMode, WebError> {
    db(store, |c| accounts::mode(c)).await
}

/// 404 when accounts are off.
pub(super) async fn enabled(store: &Store) -> Result<AccountsMode, WebError> {
    match mode(store).await? {
        AccountsMode::Off => Err(WebError::NotFound),
        m => Ok(m),
    }
}

/// What the navigation shows about accounts, for every portal page:
/// `account_nav` = { enabled, signed_in, name }.
pub async fn nav_context(
    store: &Store,
    jar: &CookieJar<'_>,
    ctx: &mut tera::Context,
) -> Result<(), WebError> {
    let token = jar.get(CUSTOMER_COOKIE).map(|c| c.value().to_string());
    let s = store.clone();
    let (mode, me) = db(store, move |c| {
        let mode = accounts::mode(c)?;
        let me = match token {
            Some(t) if mode != AccountsMode::Off => accounts::session(&s, &t)?,
            _ => None,
        };
        Ok((mode, me))
    })
    .await?;
    ctx.insert(
        "account_nav",
        &json!({
            "enabled": mode != AccountsMode::Off,
            "required": mode == AccountsMode::Required,
            "signed_in": me.is_some(),
            "name": me.map(|m| m.name).unwrap_or_default(),
        }),
    );
    Ok(())
}

/// Sign-in only returns to portal pages.
fn portal_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with("/portal")
                && !n.starts_with("//")
                && !n.contains('\\')
                && !n.contains("://") =>
        {
            n.to_string()
        }
        _ => "/portal/tickets".to_string(),
    }
}

/// A page with a title, a message and links onwards.
#[allow(clippy::too_many_arguments)]
pub(super) async fn notice(
    store: &Store,
    templates: &Templates,
    visitor: &Visitor,
    jar: &CookieJar<'_>,
    status: Status,
    title: &str,
    message: &str,
    kind: &str,
) -> Result<Page, WebError> {
    let mut ctx = portal_page(store, visitor, jar, "account").await?;
    ctx.insert("title", &visitor.t(title));
    ctx.insert("message", &visitor.t(message));
    ctx.insert("kind", kind);
    Ok((status, render(templates, "portal/notice.html", &ctx)?))
}

pub(super) fn field_error(
    visitor: &Visitor,
    e: AccountError,
) -> Result<(Status, serde_json::Value), WebError> {
    match e {
        AccountError::Invalid(field, key) => Ok((
            Status::UnprocessableEntity,
            json!({ field: visitor.t(key) }),
        )),
        AccountError::Throttled => Ok((
            Status::TooManyRequests,
            json!({ "form": visitor.t("account.error.throttled") }),
        )),
        AccountError::Store(e) => Err(e.into()),
    }
}

// --- register --------------------------------------------------------------

async fn register_form(
    store: &Store,
    templates: &Templates,
    visitor: &Visitor,
    jar: &CookieJar<'_>,
    name: &str,
    email: &str,
    errors: serde_json::Value,
) -> Result<RawHtml<String>, WebError> {
    let mut ctx = portal_page(store, visitor, jar, "account").await?;
    ctx.insert("name", name);
    ctx.insert("email", email);
    ctx.insert("errors", &errors);
    ctx.insert("min", &accounts::MIN_PASSWORD);
    render(templates, "portal/register.html", &ctx)
}

#[get("/register")]
async fn register_page(
    store: &State<Store>,
    templates: &State<Templates>,
    visitor: Visitor,
    jar: &CookieJar<'_>,
) -> Result<RawHtml<String>, WebError> {
    enabled(store).await?;
    register_form(store, templates, &visitor, jar, "", "", json!({})).await
}

#[derive(FromForm)]
struct RegisterForm<'r> {
    name: &'r str,
    email: &'r str,
    password: &'r str,
    password2: &'r str,
}

#[post("/register", data = "<form>")]
async fn register(
    store: &State<Store>,
    templates: &State<Templates>,
    visitor: Visitor,
    jar: &CookieJar<'_>,
    form: Form<RegisterForm<'_>>,
) -> Result<Page, WebError> {
    enabled(store).await?;
    let outcome = if form.password != form.password2 {
        Err(AccountError::Invalid(
            "password2",
            "account.error.password_mismatch",
        ))
    } else {
        let (s, name, email, pw, lang, ip) = (
            store.inner().clone(),
            form.name.to_string(),
            form.email.to_string(),
            form.password.to_string(),
            visitor.lang.clone(),
            visitor.client.ip.clone(),
        );
        blocking(move || accounts::register(&s, &name, &email, &pw, &lang, &ip)).await?
    };
    match outcome {
        Ok(()) => {
            notice(
                store,
                templates,
                &visitor,
                jar,
                Status::Ok,
                "account.register_sent_title",
                "account.register_sent",
                "register_sent",
            )
            .await
        }
        Err(e) => {
            let (status, errors) = field_error(&visitor, e)?;
            let html = register_form(
                store, templates, &visitor, jar, form.name, form.email, errors,
            )
            .await?;
            Ok((status, html))
        }
    }
}

#[get("/verify?<token>")]
async fn verify(
    store: &State<Store>,
    templates: &State<Templates>,
    visitor: Visitor,
    jar: &CookieJar<'_>,
    token: Option<&str>,
) -> Result<Page, WebError> {
    enabled(store).await?;
    let (s, token) = (store.inner().clone(), token.unwrap_or("").to_string());
    let ok = blocking(move || accounts::verify(&s, &token)).await?;
    let (status, title, message, kind) = match ok {
        Ok(true) => (
            Status::Ok,
            "account.verified_title",
            "account.verified",
            "verified",
        ),
        Ok(false) => (
            Status::Gone,
            "account.verify_bad_title",
            "account.verify_bad",
            "verify_bad",
        ),
        Err(AccountError::Store(e)) => return Err(e.into()),
        Err(_) => return Err(WebError::BadRequest(visitor.t("account.verify_bad"))),
    };
    notice(
        store, templates, &visitor, jar, status, title, message, kind,
    )
    .await
}

// --- sign in and out -------------------------------------------------------

#[allow(clippy::too_many_arguments)]
async fn login_form(
    store: &Store,
    templates: &Templates,
    visitor: &Visitor,
    jar: &CookieJar<'_>,
    email: &str,
    next: &str,
    error: Option<String>,
    info: Option<String>,
) -> Result<RawHtml<String>, WebError> {
    let mut ctx = portal_page(store, visitor, jar, "account").await?;
    ctx.insert("email", email);
    ctx.insert("next", next);
    ctx.insert("error", &error);
    ctx.insert("info", &info);
    render(templates, "portal/login.html", &ctx)
}

#[get("/login?<next>&<why>")]
async fn login_page(
    store: &State<Store>,
    templates: &State<Templates>,
    visitor: Visitor,
    jar: &CookieJar<'_>,
    next: Option<&str>,
    why: Option<&str>,
) -> Result<RawHtml<String>, WebError> {
    enabled(store).await?;
    let info = (why == Some("required")).then(|| visitor.t("account.required_sign_in"));
    login_form(
        store,
        templates,
        &visitor,
        jar,
        "",
        &portal_next(next),
        None,
        info,
    )
    .await
}

#[derive(FromForm)]
struct LoginForm<'r> {
    email: &'r str,
    password: &'r str,
    next: Option<&'r str>,
}

#[post("/login", data = "<form>")]
async fn login(
    store: &State<Store>,
    templates: &State<Templates>,
    visitor: Visitor,
    jar: &CookieJar<'_>,
    form: Form<LoginForm<'_>>,
) -> Result<Either<Redirect, Page>, WebError> {
    enabled(store).await?;
    let next = portal_next(form.next);
    let (s, email, pw, ip, ua) = (
        store.inner().clone(),
        form.email.to_string(),
        form.password.to_string(),
        visitor.client.ip.clone(),
        visitor.client.user_agent.clone(),
    );
    let outcome = blocking(move || accounts::login(&s, &email, &pw, &ip, &ua)).await?;
    let (status, error, info) = match outcome {
        Ok(Login::Ok { token }) => {
            jar.add(customer_cookie(token, visitor.client.https));
            return Ok(Either::Left(Redirect::to(next)));
        }
        Ok(Login::Failed) => (
            Status::Unauthorized,
            Some(visitor.t("account.error.login_failed")),
            None,
        ),
        Ok(Login::Throttled) => (
            Status::TooManyRequests,
            Some(visitor.t("account.error.throttled")),
            None,
        ),
        Ok(Login::Unverified) => (
            Status::Forbidden,
            None,
            Some(visitor.t("account.unverified")),
        ),
        Err(AccountError::Store(e)) => return Err(e.into()),
        Err(_) => (
            Status::Unauthorized,
            Some(visitor.t("account.error.login_failed")),
            None,
        ),
    };
    let html = login_form(
        store, templates, &visitor, jar, form.email, &next, error, info,
    )
    .await?;
    Ok(Either::Right((status, html)))
}

#[post("/logout")]
async fn logout(
    store: &State<Store>,
    jar: &CookieJar<'_>,
    me: Option<CustomerSession>,
) -> Result<Redirect, WebError> {
    if let Some(me) = me {
        let (s, id) = (store.inner().clone(), me.session_id);
        rocket::tokio::task::spawn_blocking(move || accounts::logout(&s, id))
            .await
            .map_err(|e| WebError::Internal(format!("signing out failed: {e}")))??;
    }
    jar.remove(Cookie::build(CUSTOMER_COOKIE).path("/").build());
    Ok(Redirect::to("/portal/"))
}

// --- my tickets ------------------------------------------------------------

/// Every ticket of the signed-in customer (all of their addresses).
#[get("/tickets")]
async fn my_tickets(
    store: &State<Store>,
    templates: &State<Templates>,
    visitor: Visitor,
    access: Access,
    jar: &CookieJar<'_>,
) -> Result<Either<Redirect, RawHtml<String>>, WebError> {
    enabled(store).await?;
    let Some(me) = access.customer else {
        return Ok(Either::Left(Redirect::to(
            "/portal/login?next=%2Fportal%2Ftickets",
        )));
    };
    let id = me.customer_id;
    let rows = db(store, move |c| pt::list_for_customer(c, id, 500)).await?;
    let tickets: Vec<serde_json::Value> = rows
        .into_iter()
        .map(|r| {
            let label = i18n::t(&visitor.lang, &format!("account.status.{}", r.status), &[]);
            json!({
                "number": r.number, "subject": r.subject, "status": r.status,
                "status_label": label, "created_at": r.created_at, "updated_at": r.updated_at,
                "url": super::ticket::ticket_url(&r.number),
            })
        })
        .collect();
    let mut ctx = portal_page(store, &visitor, jar, "mine").await?;
    ctx.insert("tickets", &tickets);
    ctx.insert("me", &json!({ "name": me.name, "email": me.email }));
    Ok(Either::Right(render(
        templates,
        "portal/my_tickets.html",
        &ctx,
    )?))
}
