//! Sign in and out, with throttling per account and per address.

use rocket::form::Form;
use rocket::http::{Cookie, CookieJar, Status};
use rocket::response::content::RawHtml;
use rocket::response::Redirect;
use rocket::{get, post, routes, FromForm, Route, State};

use super::{render, safe_next};
use crate::store::{self, sessions, settings, staff, Store};
use crate::web::auth::{self, Client, StaffSession, PRE_COOKIE, SESSION_COOKIE};
use crate::web::templates::Templates;
use crate::web::{db, i18n, WebError};

/// Failures allowed per account, and per address, within the window.
pub const MAX_FAILURES_PER_ACCOUNT: i64 = 5;
pub const MAX_FAILURES_PER_IP: i64 = 20;
pub const FAILURE_WINDOW: i64 = 15 * 60;

pub fn routes() -> Vec<Route> {
    routes![login_page, login, logout]
}

async fn login_form(
    store: &Store,
    templates: &Templates,
    jar: &CookieJar<'_>,
    client: &Client,
    email: &str,
    next: Option<&str>,
    error: Option<String>,
) -> Result<RawHtml<String>, WebError> {
    let helpdesk = db(store, |c| settings::get_or(c, "helpdesk.name", "Oxidesk")).await?;
    let lang = "en";
    let mut ctx = tera::Context::new();
    ctx.insert("lang", lang);
    ctx.insert("dir", i18n::dir(lang));
    ctx.insert("helpdesk", &helpdesk);
    ctx.insert("csrf", &auth::pre_session_csrf(jar, client.https));
    ctx.insert("email", email);
    ctx.insert("next", &next.unwrap_or(""));
    ctx.insert("error", &error);
    render(templates, "staff/login.html", &ctx)
}

#[get("/login?<next>")]
async fn login_page(
    store: &State<Store>,
    templates: &State<Templates>,
    jar: &CookieJar<'_>,
    client: Client,
    next: Option<&str>,
) -> Result<RawHtml<String>, WebError> {
    login_form(store, templates, jar, &client, "", next, None).await
}

#[derive(FromForm)]
struct LoginForm<'r> {
    email: &'r str,
    password: &'r str,
    next: Option<&'r str>,
}

enum Attempt {
    Throttled,
    Failed,
    Ok(crate::model::StaffId),
}

#[post("/login", data = "<form>")]
async fn login(
    store: &State<Store>,
    templates: &State<Templates>,
    jar: &CookieJar<'_>,
    client: Client,
    form: Form<LoginForm<'_>>,
) -> Result<Result<Redirect, (Status, RawHtml<String>)>, WebError> {
    let email = form.email.trim().to_string();
    let password = form.password.to_string();
    let ip = client.ip.clone();
    let attempt = {
        let (email, ip) = (email.clone(), ip.clone());
        db(store, move |c| {
            let since = store::now() - FAILURE_WINDOW;
            let (by_account, by_ip) = sessions::failures_since(c, &email, &ip, since)?;
            if by_account >= MAX_FAILURES_PER_ACCOUNT || by_ip >= MAX_FAILURES_PER_IP {
                return Ok(Attempt::Throttled);
            }
            // Argon2 is deliberately slow: this runs on the blocking pool.
            let ok = match staff::password_hash_by_email(c, &email)? {
                Some((id, hash)) if auth::verify_password(&password, &hash) => Some(id),
                Some(_) => None,
                None => {
                    auth::verify_dummy(&password);
                    None
                }
            };
            match ok {
                Some(id) => {
                    sessions::clear_failures(c, &email, since)?;
                    Ok(Attempt::Ok(id))
                }
                None => {
                    sessions::record_failure(c, &email, &ip)?;
                    Ok(Attempt::Failed)
                }
            }
        })
        .await?
    };
    let next = form.next.filter(|n| !n.is_empty());
    let error = match attempt {
        Attempt::Ok(id) => {
            let token = auth::random_token();
            let hash = auth::sha256_hex(&token);
            let ua = client.user_agent.clone();
            db(store, move |c| {
                sessions::create(c, &hash, id, &ip, &ua, auth::SESSION_LIFETIME)?;
                staff::touch_login(c, id)?;
                sessions::delete_expired(c)?;
                Ok(())
            })
            .await?;
            jar.add(auth::session_cookie(token, client.https));
            jar.remove(Cookie::from(PRE_COOKIE));
            return Ok(Ok(Redirect::to(safe_next(next))));
        }
        Attempt::Throttled => (
            Status::TooManyRequests,
            i18n::t("en", "login.throttled", &[]),
        ),
        Attempt::Failed => (Status::Unauthorized, i18n::t("en", "login.failed", &[])),
    };
    let page = login_form(store, templates, jar, &client, &email, next, Some(error.1)).await?;
    Ok(Err((error.0, page)))
}

#[post("/logout")]
async fn logout(
    store: &State<Store>,
    jar: &CookieJar<'_>,
    me: StaffSession,
) -> Result<Redirect, WebError> {
    let id = me.session_id;
    db(store, move |c| sessions::delete(c, id)).await?;
    jar.remove(Cookie::from(SESSION_COOKIE));
    Ok(Redirect::to("/login"))
}
