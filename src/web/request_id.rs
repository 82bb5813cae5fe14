//! Request ids and the access log.
//!
//! Every request gets an id: the `X-Request-Id` a trusted proxy sent (one
//! of `server.trusted_proxies`, when the value is a sane token), or a new
//! random one. The id is sent back in the `X-Request-Id` header, every log
//! line written while the request's handler runs carries it (a `request`
//! tracing span with `id`, method and path), and one access log line per
//! request records method, path, status, duration and id, in the human or
//! JSON log format alike. The same fairing feeds the request metrics
//! (`web::metrics`).
//!
//! Rocket 0.5 has no hook around a handler's future, which is what a span
//! must wrap to follow the handler across await points and worker threads.
//! So at ignition every mounted route is mounted again, its handler wrapped
//! in [`Traced`], ranked ahead of the original (a fixed offset keeps the
//! routes' order among themselves). The originals stay as they were; a
//! request only reaches one when every wrapped route before it forwarded,
//! and then behaves exactly as it would have.

use std::net::IpAddr;
use std::time::Instant;

use rocket::fairing::{self, Fairing, Info, Kind};
use rocket::http::Header;
use rocket::route::{Handler, Outcome};
use rocket::{Build, Data, Request, Response, Rocket, Route};
use tracing::Instrument;

use crate::config::Config;

/// How far ahead of its original a wrapped route is ranked. Route ranks in
/// this product lie well within ±RANK_SHIFT/2.
const RANK_SHIFT: isize = 10_000;

/// Longest id taken from a proxy.
const MAX_ID_LEN: usize = 64;

/// The id of the request being handled (request-local).
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// What the fairing keeps per request.
struct Started {
    id: String,
    at: Instant,
    span: tracing::Span,
}

/// A new random id: 16 hex digits.
fn new_id() -> String {
    let mut bytes = [0u8; 8];
    rand::Rng::fill(&mut rand::thread_rng(), &mut bytes);
    hex::encode(bytes)
}

/// A proxy's id is used only when it is a short token of safe characters
/// (it ends up in logs and a response header).
fn acceptable(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

fn from_trusted_proxy(req: &Request<'_>) -> bool {
    let remote: Option<IpAddr> = req.remote().map(|a| a.ip());
    match (remote, req.rocket().state::<Config>()) {
        (Some(ip), Some(cfg)) => cfg
            .server
            .trusted_proxies
            .iter()
            .any(|p| p.trim().parse::<IpAddr>().ok() == Some(ip)),
        _ => false,
    }
}

/// The request's id as the fairing assigned it ("-" before it ran).
pub fn of(req: &Request<'_>) -> String {
    req.local_cache(|| None::<Started>)
        .as_ref()
        .map(|s| s.id.clone())
        .unwrap_or_else(|| "-".into())
}

/// The fairing: ids, spans, access log, metrics.
pub struct RequestLog;

#[rocket::async_trait]
impl Fairing for RequestLog {
    fn info(&self) -> Info {
        Info {
            name: "request ids and access log",
            kind: Kind::Ignite | Kind::Request | Kind::Response,
        }
    }

    async fn on_ignite(&self, rocket: Rocket<Build>) -> fairing::Result {
        let wrapped: Vec<Route> = rocket.routes().map(traced).collect();
        super::metrics::register_routes(wrapped.iter());
        Ok(rocket.mount("/", wrapped))
    }

    async fn on_request(&self, req: &mut Request<'_>, _: &mut Data<'_>) {
        super::idle::touch();
        let id = req
            .headers()
            .get_one("X-Request-Id")
            .map(str::trim)
            .filter(|id| acceptable(id))
            .filter(|_| from_trusted_proxy(req))
            .map(str::to_string)
            .unwrap_or_else(new_id);
        let span = tracing::info_span!(
            "request",
            id = %id,
            method = %req.method(),
            path = %req.uri().path()
        );
        req.local_cache(|| {
            Some(Started {
                id,
                at: Instant::now(),
                span,
            })
        });
    }

    async fn on_response<'r>(&self, req: &'r Request<'_>, res: &mut Response<'r>) {
        let Some(started) = req.local_cache(|| None::<Started>).as_ref() else {
            return;
        };
        let elapsed = started.at.elapsed();
        let status = res.status().code;
        res.set_header(Header::new("X-Request-Id", started.id.clone()));
        super::metrics::record_request(req, status, elapsed);
        // Milliseconds to one decimal: a number in JSON logs.
        let ms = (elapsed.as_secs_f64() * 10_000.0).round() / 10.0;
        let path = req.uri().path().as_str();
        let _guard = started.span.enter();
        if status >= 500 {
            tracing::warn!(
                target: "oxidesk::access",
                method = %req.method(),
                path,
                status,
                duration_ms = ms,
                id = %started.id,
                "request"
            );
        } else {
            tracing::info!(
                target: "oxidesk::access",
                method = %req.method(),
                path,
                status,
                duration_ms = ms,
                id = %started.id,
                "request"
            );
        }
    }
}

/// `route` again, its handler running inside the request's span, ranked
/// ahead of the original.
fn traced(route: &Route) -> Route {
    let mut r = route.clone();
    r.handler = Box::new(Traced(route.handler.clone()));
    r.rank -= RANK_SHIFT;
    r
}

/// A handler that runs the wrapped one inside the request's span.
#[derive(Clone)]
pub struct Traced(Box<dyn Handler>);

#[rocket::async_trait]
impl Handler for Traced {
    async fn handle<'r>(&self, req: &'r Request<'_>, data: Data<'r>) -> Outcome<'r> {
        let span = req
            .local_cache(|| None::<Started>)
            .as_ref()
            .map(|s| s.span.clone())
            .unwrap_or_else(tracing::Span::none);
        self.0.handle(req, data).instrument(span).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_safe_proxy_ids_are_taken() {
        assert!(acceptable("3f9a-17.b_c:1"));
        assert!(!acceptable(""));
        assert!(!acceptable("a b"));
        assert!(!acceptable("x\r\nSet-Cookie: a=b"));
        assert!(!acceptable(&"a".repeat(65)));
        assert_eq!(new_id().len(), 16);
    }
}
