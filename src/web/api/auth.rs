//! API authentication: `Authorization: Bearer <key>`, checked against the
//! SHA-256 of active keys (`oxidesk apikey create`).

use rocket::http::Status;
use rocket::request::{FromRequest, Outcome, Request};

use crate::model::ApiKeyId;
use crate::store::{self, api_keys, Store};

/// A request carrying a valid, unrevoked API key.
#[derive(Debug, Clone, Copy)]
pub struct ApiKey {
    pub id: ApiKeyId,
}

/// Why a request was not let in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthError {
    /// No key, a malformed header, or an unknown or revoked key.
    Unauthorized,
    /// The database could not be asked (busy): try again.
    Unavailable,
}

/// `last_used_at` is refreshed at most this often, so that a busy intake
/// does not write the key row on every request.
const TOUCH_EVERY_SECS: i64 = 60;

#[rocket::async_trait]
impl<'r> FromRequest<'r> for ApiKey {
    type Error = AuthError;

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        let Some(key) = bearer(req) else {
            return Outcome::Error((Status::Unauthorized, AuthError::Unauthorized));
        };
        let Some(store) = req.rocket().state::<Store>().cloned() else {
            return Outcome::Error((Status::ServiceUnavailable, AuthError::Unavailable));
        };
        let hash = api_keys::hash(&key);
        let found = rocket::tokio::task::spawn_blocking(move || {
            let conn = store.conn()?;
            let found = api_keys::find_active(&conn, &hash)?;
            if let Some((id, last_used)) = found {
                let now = store::now();
                if last_used.is_none_or(|t| now - t >= TOUCH_EVERY_SECS) {
                    // Best effort: a busy database must not refuse the request.
                    let _ = api_keys::touch(&conn, id, now);
                }
            }
            Ok::<_, store::StoreError>(found.map(|(id, _)| id))
        })
        .await;
        match found {
            Ok(Ok(Some(id))) => Outcome::Success(ApiKey { id }),
            Ok(Ok(None)) => Outcome::Error((Status::Unauthorized, AuthError::Unauthorized)),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "cannot check an API key");
                Outcome::Error((Status::ServiceUnavailable, AuthError::Unavailable))
            }
            Err(e) => {
                tracing::error!(error = %e, "API key check failed");
                Outcome::Error((Status::ServiceUnavailable, AuthError::Unavailable))
            }
        }
    }
}

fn bearer(req: &Request<'_>) -> Option<String> {
    let value = req.headers().get_one("Authorization")?.trim();
    let (scheme, key) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let key = key.trim();
    (!key.is_empty() && key.len() <= 200).then(|| key.to_string())
}
