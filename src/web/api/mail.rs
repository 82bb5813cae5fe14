//! `POST /api/v1/mail`: mail intake over HTTP for MTAs on other hosts (the
//! counterpart of `oxidesk pipe`). The body is the raw RFC 5322 message;
//! the semantics are the pipe's:
//!
//! - 200 `{"outcome": "new_ticket" | "appended" | "duplicate" | "quarantined",
//!   "ticket": "123456"}` (`ticket` absent when the message is not on a
//!   ticket; `reason` present when quarantined);
//! - 401 without a valid API key;
//! - 413 over `mail.max_message_bytes`;
//! - 503 with `Retry-After` when the database is busy (retry later, as the
//!   pipe's exit 75 asks an MTA to).

use std::io::Cursor;
use std::sync::{Arc, OnceLock};

use rocket::data::{Data, ToByteUnit};
use rocket::http::{ContentType, Header, Status};
use rocket::response::{self, Responder, Response};
use rocket::{Request, State};
use serde_json::json;

use super::auth::{ApiKey, AuthError};
use crate::config::Config;
use crate::plugin::Registry;
use crate::store::Store;
use crate::tickets::intake::{self, IntakeError, IntakeOptions, IntakeOutcome, IntakeSource};

/// Seconds an MTA should wait before retrying after a 503.
const RETRY_AFTER_SECS: u32 = 30;

/// The plugin registry the HTTP intake filters mail with, settled once per
/// server on the first request: the registry `serve` runs (shared with the
/// ticket-page panels and the event dispatcher), or, in a server built
/// without one (tests, tools), one built from the configuration. Building a
/// registry per request would construct every plugin (HTTP clients,
/// compiled rules) for each message.
#[derive(Default)]
pub struct IntakeRegistry(OnceLock<Option<Arc<Registry>>>);

impl IntakeRegistry {
    fn get(&self, running: Option<Arc<Registry>>, config: &Config) -> Option<Arc<Registry>> {
        self.0
            .get_or_init(|| {
                running.or_else(|| {
                    (!config.plugins.is_empty())
                        .then(|| Arc::new(Registry::from_config(config, None)))
                })
            })
            .clone()
    }
}

/// The registry for this request's filters (a guard that never fails).
pub struct IntakePlugins(Option<Arc<Registry>>);

#[rocket::async_trait]
impl<'r> rocket::request::FromRequest<'r> for IntakePlugins {
    type Error = std::convert::Infallible;

    async fn from_request(req: &'r Request<'_>) -> rocket::request::Outcome<Self, Self::Error> {
        let rocket = req.rocket();
        let running = rocket.state::<Arc<Registry>>().cloned();
        let plugins = match (rocket.state::<IntakeRegistry>(), rocket.state::<Config>()) {
            (Some(slot), Some(config)) => slot.get(running, config),
            // Mounted without `web::build` (a bare test server): no slot
            // to keep a registry in, so one per request as before.
            (None, Some(config)) => running.or_else(|| {
                (!config.plugins.is_empty()).then(|| Arc::new(Registry::from_config(config, None)))
            }),
            (_, None) => running,
        };
        rocket::request::Outcome::Success(IntakePlugins(plugins))
    }
}

#[rocket::post("/mail", data = "<body>")]
pub async fn receive(
    key: Result<ApiKey, AuthError>,
    body: Data<'_>,
    store: &State<Store>,
    config: &State<Config>,
    plugins: IntakePlugins,
) -> ApiReply {
    match key {
        Ok(_) => {}
        Err(AuthError::Unavailable) => return ApiReply::busy("the database is busy"),
        Err(AuthError::Unauthorized) => {
            return ApiReply::error(
                Status::Unauthorized,
                "a valid API key is required (Authorization: Bearer KEY)",
            )
        }
    }
    let opts = IntakeOptions {
        max_message_bytes: config.mail.max_message_bytes,
        plugins: plugins.0,
    };
    let limit = opts.max_message_bytes;
    let raw = match body.open(limit.bytes()).into_bytes().await {
        Ok(raw) if raw.is_complete() => raw.into_inner(),
        Ok(_) => return too_large(limit),
        Err(e) => {
            return ApiReply::error(
                Status::BadRequest,
                &format!("the message could not be read: {e}"),
            )
        }
    };
    if raw.is_empty() {
        return ApiReply::error(
            Status::BadRequest,
            "the request body (the message) is empty",
        );
    }
    let store = store.inner().clone();
    let result = rocket::tokio::task::spawn_blocking(move || {
        intake::receive(&store, &raw, IntakeSource::Api, &opts)
    })
    .await;
    match result {
        Ok(Ok(outcome)) => {
            tracing::info!(outcome = %outcome.log_line(), "mail received over HTTP");
            ApiReply::ok(&outcome)
        }
        Ok(Err(IntakeError::TooLarge { .. })) => too_large(limit),
        Ok(Err(e @ IntakeError::Temporary(_))) => {
            tracing::warn!(error = %e, "mail intake: database busy");
            ApiReply::busy("the database is busy")
        }
        Ok(Err(e)) => {
            tracing::error!(error = %e, "mail intake failed");
            ApiReply::busy("the message could not be stored")
        }
        Err(e) => {
            tracing::error!(error = %e, "mail intake task failed");
            ApiReply::busy("the message could not be stored")
        }
    }
}

fn too_large(limit: u64) -> ApiReply {
    ApiReply::error(
        Status::PayloadTooLarge,
        &format!("the message is larger than this helpdesk accepts ({limit} bytes)"),
    )
}

/// A JSON reply, with Retry-After on 503 and WWW-Authenticate on 401.
pub struct ApiReply {
    status: Status,
    body: serde_json::Value,
}

impl ApiReply {
    fn ok(outcome: &IntakeOutcome) -> ApiReply {
        let mut body = json!({ "outcome": outcome.kind() });
        if let Some(n) = outcome.number() {
            body["ticket"] = json!(n);
        }
        if let IntakeOutcome::Quarantined { reason, .. } = outcome {
            body["reason"] = json!(reason);
        }
        ApiReply {
            status: Status::Ok,
            body,
        }
    }

    fn error(status: Status, message: &str) -> ApiReply {
        ApiReply {
            status,
            body: json!({ "error": message }),
        }
    }

    fn busy(message: &str) -> ApiReply {
        ApiReply::error(
            Status::ServiceUnavailable,
            &format!("{message}; try again later"),
        )
    }
}

impl<'r> Responder<'r, 'static> for ApiReply {
    fn respond_to(self, _: &'r Request<'_>) -> response::Result<'static> {
        let text = self.body.to_string();
        let mut r = Response::build();
        r.status(self.status)
            .header(ContentType::JSON)
            .sized_body(text.len(), Cursor::new(text));
        if self.status == Status::ServiceUnavailable {
            r.header(Header::new("Retry-After", RETRY_AFTER_SECS.to_string()));
        }
        if self.status == Status::Unauthorized {
            r.header(Header::new("WWW-Authenticate", "Bearer"));
        }
        Ok(r.finalize())
    }
}
