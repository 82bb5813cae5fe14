//! CSRF protection as a fairing, so no handler can forget it: every
//! state-changing request outside the API (which authenticates with keys,
//! not cookies) must carry the token derived from the browser's session (or
//! pre-session) cookie, either in an `X-CSRF-Token` header or as the first
//! form field `_csrf`. Requests without it are rerouted to a 403.

use rocket::fairing::{Fairing, Info, Kind};
use rocket::http::uri::Origin;
use rocket::http::{Method, Status};
use rocket::{Data, Request};

use super::auth::{csrf_for, PRE_COOKIE, SESSION_COOKIE};

pub const FIELD: &str = "_csrf";
pub const HEADER: &str = "X-CSRF-Token";

pub struct CsrfFairing;

/// The `_csrf` value at the start of a urlencoded or multipart body.
fn token_in_body(body: &[u8]) -> Option<String> {
    // Lossy: a peek may cut a character at its end, and a file part (an
    // image) may start inside the peeked bytes; the token itself is ASCII.
    let text = String::from_utf8_lossy(body);
    if let Some(rest) = text.strip_prefix("_csrf=") {
        return Some(rest.split('&').next().unwrap_or("").to_string());
    }
    // multipart: the first part is `name="_csrf"`.
    let at = text.find("name=\"_csrf\"")?;
    let after = &text[at..];
    let start = after.find("\r\n\r\n")? + 4;
    let value = &after[start..];
    let end = value.find("\r\n")?;
    Some(value[..end].to_string())
}

/// Compare without an early exit.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[rocket::async_trait]
impl Fairing for CsrfFairing {
    fn info(&self) -> Info {
        Info {
            name: "CSRF check",
            kind: Kind::Request,
        }
    }

    async fn on_request(&self, req: &mut Request<'_>, data: &mut Data<'_>) {
        if matches!(req.method(), Method::Get | Method::Head | Method::Options) {
            return;
        }
        let path = req.uri().path();
        if path.starts_with("/api/") || path == "/__csrf_rejected" {
            return;
        }
        let cookie_token = req
            .cookies()
            .get(SESSION_COOKIE)
            .or_else(|| req.cookies().get(PRE_COOKIE))
            .map(|c| c.value().to_string());
        let supplied = match req.headers().get_one(HEADER) {
            Some(h) => Some(h.to_string()),
            None => token_in_body(data.peek(512).await),
        };
        let ok = match (cookie_token, supplied) {
            (Some(c), Some(s)) => same(&csrf_for(&c), &s),
            _ => false,
        };
        if !ok {
            tracing::warn!(uri = %req.uri(), "rejected a request without a valid CSRF token");
            req.set_method(Method::Post);
            req.set_uri(Origin::path_only("/__csrf_rejected"));
        }
    }
}

#[rocket::post("/__csrf_rejected")]
pub fn rejected() -> Status {
    Status::Forbidden
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_token_in_both_encodings() {
        assert_eq!(token_in_body(b"_csrf=abc&x=1").as_deref(), Some("abc"));
        let mp = b"--XyZ\r\nContent-Disposition: form-data; name=\"_csrf\"\r\n\r\nabc\r\n--XyZ\r\n";
        assert_eq!(token_in_body(mp).as_deref(), Some("abc"));
        assert_eq!(token_in_body(b"x=1&_csrf=abc"), None);
        let mut with_file = mp.to_vec();
        with_file.extend_from_slice(b"Content-Type: image/png\r\n\r\n\x89PNG\r\n\x1a\n\xff\xfe");
        assert_eq!(token_in_body(&with_file).as_deref(), Some("abc"));
        assert!(same("abc", "abc") && !same("abc", "abd") && !same("ab", "abc"));
    }
}
