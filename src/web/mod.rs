//! The web server (Rocket): staff UI, portal, admin area and API.
//!
//! Handlers reach shared state through Rocket's managed state:
//! `&State<crate::store::Store>` and `&State<crate::config::Config>`.
//! `build` is the one place the server is put together; `oxidesk serve` and
//! the route tests both use it.

pub mod api;

pub mod admin;
pub mod assets;
pub mod auth;
pub mod blocking;
pub mod csrf;
pub mod health;
pub mod i18n;
pub mod idle;
pub mod metrics;
pub mod portal;
pub mod render;
pub mod request_id;
pub mod staff;
pub mod templates;

use std::collections::HashSet;
use std::net::SocketAddr;

use rocket::config::{LogLevel, Shutdown, Sig};
use rocket::fairing::{Fairing, Info, Kind};
use rocket::http::Header;
use rocket::response::Redirect;
use rocket::{catch, catchers, Build, Request, Response, Rocket};

use crate::config::Config;
use crate::store::Store;

pub use blocking::{db, domain, read, WebError};

/// Largest upload accepted in one form (reply attachments).
pub const MAX_UPLOAD: u64 = 25 * 1024 * 1024;

/// Rocket's own settings, made from our configuration only: no Rocket.toml
/// and no ROCKET_* variables are read.
pub fn rocket_config(config: &Config) -> anyhow::Result<rocket::Config> {
    let listen = config.server.listen.trim();
    let addr: SocketAddr = listen.parse().map_err(|_| {
        anyhow::anyhow!(
            "server.listen must be an address and port like 127.0.0.1:8080, not {listen:?}"
        )
    })?;
    let limits = rocket::data::Limits::default()
        .limit("form", rocket::data::ByteUnit::Kibibyte(256))
        .limit("data-form", rocket::data::ByteUnit::Byte(MAX_UPLOAD))
        .limit("file", rocket::data::ByteUnit::Byte(MAX_UPLOAD))
        .limit("json", rocket::data::ByteUnit::Mebibyte(1));
    Ok(rocket::Config {
        address: addr.ip(),
        port: addr.port(),
        workers: 4,
        ip_header: None,
        limits,
        log_level: LogLevel::Off,
        cli_colors: false,
        temp_dir: std::env::temp_dir().into(),
        shutdown: Shutdown {
            ctrlc: true,
            signals: HashSet::from([Sig::Term, Sig::Int]),
            grace: 5,
            mercy: 5,
            ..Shutdown::default()
        },
        ..rocket::Config::default()
    })
}

/// The whole web application on `store`.
pub fn build(store: Store, config: Config) -> anyhow::Result<Rocket<Build>> {
    let templates = templates::Templates::load().map_err(|e| {
        let mut msg = e.to_string();
        let mut src = std::error::Error::source(&e);
        while let Some(s) = src {
            msg.push_str(": ");
            msg.push_str(&s.to_string());
            src = s.source();
        }
        anyhow::anyhow!("the embedded templates do not load: {msg}")
    })?;
    crate::display::attach(store.clone());
    let rocket = rocket::custom(rocket_config(&config)?)
        .manage(store)
        .manage(config)
        .manage(templates)
        .manage(api::mail::IntakeRegistry::default())
        .attach(csrf::CsrfFairing)
        .attach(portal::account::SignInFirst)
        .attach(SecurityHeaders)
        .attach(WholeBodies)
        .attach(request_id::RequestLog)
        .mount("/", rocket::routes![metrics::metrics])
        .mount(
            "/",
            rocket::routes![
                assets::serve,
                assets::favicon,
                health::healthz,
                csrf::rejected
            ],
        )
        .mount("/", staff::routes())
        .mount("/admin", admin::routes())
        .mount("/admin", admin::plugins::routes())
        .mount("/admin", admin::sla::routes())
        .mount("/admin", admin::schedules::routes())
        .mount("/admin", admin::sla_departments::routes())
        .mount("/admin", admin::filters::routes())
        .mount("/admin", admin::filter_test::routes())
        .mount("/admin", admin::bans::routes())
        .mount("/admin", admin::staff_accounts::routes())
        .mount("/admin", admin::roles::routes())
        .mount("/admin", admin::teams::routes())
        .mount("/admin", admin::fields::routes())
        .mount("/admin", admin::spam::routes())
        .mount("/api/v1", api::routes())
        .mount("/portal", portal::routes())
        .mount("/portal", portal::access::routes())
        .mount("/portal", portal::account::routes())
        .mount("/portal", portal::reset::routes())
        .mount("/portal", portal::ticket::routes())
        .register(
            "/",
            catchers![
                unauthorized,
                forbidden,
                not_found,
                bad_request,
                server_error,
                unavailable
            ],
        );
    Ok(rocket)
}

/// The largest piece of a response body handed to the connection at once.
const MAX_BODY_CHUNK: usize = 64 * 1024;

/// Send a body whose size is known in pieces of up to [`MAX_BODY_CHUNK`].
///
/// Rocket reads a body 4 KB at a time, and each piece crosses a channel to
/// the connection's task and goes out in a write of its own: a 44 KB queue
/// page took eleven `writev` calls and woke the other task about as often.
/// With this, a page goes out in one write; large downloads in 64 KB ones.
struct WholeBodies;

#[rocket::async_trait]
impl Fairing for WholeBodies {
    fn info(&self) -> Info {
        Info {
            name: "whole bodies",
            kind: Kind::Response,
        }
    }

    async fn on_response<'r>(&self, _req: &'r Request<'_>, res: &mut Response<'r>) {
        if let Some(size) = res.body().preset_size() {
            res.set_max_chunk_size(
                size.clamp(rocket::response::Body::DEFAULT_MAX_CHUNK, MAX_BODY_CHUNK),
            );
        }
    }
}

/// Headers on every response: no MIME sniffing, no framing, a strict
/// content policy for our pages (remote images in mail stay blocked).
struct SecurityHeaders;

#[rocket::async_trait]
impl Fairing for SecurityHeaders {
    fn info(&self) -> Info {
        Info {
            name: "security headers",
            kind: Kind::Response,
        }
    }

    async fn on_response<'r>(&self, _req: &'r Request<'_>, res: &mut Response<'r>) {
        res.set_header(Header::new("X-Content-Type-Options", "nosniff"));
        res.set_header(Header::new("X-Frame-Options", "DENY"));
        res.set_header(Header::new("Referrer-Policy", "same-origin"));
        if res.content_type().is_some_and(|c| c.is_html()) {
            res.set_header(Header::new(
                "Content-Security-Policy",
                "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; \
                 script-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; \
                 form-action 'self'",
            ));
            res.set_header(Header::new("Cache-Control", "no-store"));
        }
    }
}

#[catch(401)]
fn unauthorized(req: &Request<'_>) -> Redirect {
    match req.local_cache(|| auth::AuthFailure::None) {
        auth::AuthFailure::MustChangePassword => Redirect::to("/account/password"),
        _ => {
            let path = req.uri().to_string();
            // A visitor without a staff session asking for the site's root
            // is most likely a customer: show the portal; staff sign in
            // from its footer (or at /login directly).
            if req.method() == rocket::http::Method::Get && req.uri().path() == "/" {
                return Redirect::to("/portal");
            }
            if req.method() == rocket::http::Method::Get && path != "/" {
                let next = percent_encoding::utf8_percent_encode(
                    &path,
                    percent_encoding::NON_ALPHANUMERIC,
                )
                .to_string();
                Redirect::to(format!("/login?next={next}"))
            } else {
                Redirect::to("/login")
            }
        }
    }
}

fn error_page(
    req: &Request<'_>,
    status: u16,
    key: &str,
) -> rocket::response::content::RawHtml<String> {
    let lang = "en";
    let msg = req
        .local_cache(blocking::ErrorMessage::default)
        .0
        .clone()
        .unwrap_or_else(|| i18n::t(lang, key, &[]));
    let title = i18n::t(lang, &format!("error.{status}"), &[]);
    let mut ctx = tera::Context::new();
    ctx.insert("lang", lang);
    ctx.insert("dir", i18n::dir(lang));
    ctx.insert("status", &status);
    ctx.insert("title", &title);
    ctx.insert("message", &msg);
    let body = req
        .rocket()
        .state::<templates::Templates>()
        .and_then(|t| t.tera(lang).render("staff/error.html", &ctx).ok())
        .unwrap_or_else(|| format!("<!doctype html><title>{status}</title><p>{status}</p>"));
    rocket::response::content::RawHtml(body)
}

#[catch(403)]
fn forbidden(req: &Request<'_>) -> rocket::response::content::RawHtml<String> {
    error_page(req, 403, "error.forbidden")
}

#[catch(404)]
fn not_found(req: &Request<'_>) -> rocket::response::content::RawHtml<String> {
    error_page(req, 404, "error.not_found")
}

#[catch(400)]
fn bad_request(req: &Request<'_>) -> rocket::response::content::RawHtml<String> {
    error_page(req, 400, "error.bad_request")
}

#[catch(500)]
fn server_error(req: &Request<'_>) -> rocket::response::content::RawHtml<String> {
    error_page(req, 500, "error.server")
}

#[catch(503)]
fn unavailable(req: &Request<'_>) -> rocket::response::content::RawHtml<String> {
    error_page(req, 503, "error.unavailable")
}
