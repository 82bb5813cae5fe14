//! Plugins: optional extensions compiled in behind Cargo features and
//! switched on at run time by a `[plugins.NAME]` configuration section.
//!
//! The contract is the `oxidesk-plugin` crate (`plugins/api`): the
//! [`Plugin`] trait and the plain data plugins see. This module holds the
//! host side:
//! - [`Registry`]: builds the enabled plugins in order and runs the
//!   synchronous hooks, the inbound-mail filter (called by the intake before
//!   a ticket is made) and the ticket-page panels, each call on a worker
//!   thread with a deadline and panics caught;
//! - [`dispatch`]: the event hook, off the request path, through a durable
//!   per-plugin cursor over the event log and a durable job queue with
//!   retries;
//! - [`overview`]: what the admin page and `oxidesk plugins` show.
//!
//! A plugin that errors, panics or times out never loses a ticket and never
//! stops the server: the failure is logged and kept (last error, when) for
//! the admin page.

pub mod dispatch;
pub mod isolate;
mod registry;

pub use dispatch::{spawn, Dispatcher, DispatcherHandle, Tally};
pub use oxidesk_plugin::{
    Factory, FilterDecision, InboundMail, PanelContext, PanelHtml, Plugin, PluginError,
    TicketEvent, Viewer,
};
pub use registry::{FilterOutcome, Listing, Loaded, Panel, Registry, SpamVerdict, BUILTIN};

use serde::Serialize;

use crate::mail::parse::Inbound;
use crate::store::{self, Store, StoreResult};

/// What `serve` needs: the registry (for panels and the admin page; keep
/// it in Rocket's managed state as `Arc<Registry>`) and the running event
/// dispatcher (keep the handle alive for as long as the server runs).
pub fn start(
    config: &crate::config::Config,
    store: &Store,
) -> std::io::Result<(std::sync::Arc<Registry>, DispatcherHandle)> {
    let registry = std::sync::Arc::new(Registry::from_config(config, Some(store.clone())));
    let handle = spawn(store.clone(), std::sync::Arc::clone(&registry))?;
    Ok((registry, handle))
}

/// The registry, as a Rocket request guard that never fails: `serve`
/// manages an `Arc<Registry>`; a server built without it (tests, tools)
/// gets `Plugins(None)` and shows no plugin content. (A plain
/// `Option<&State<..>>` would make Rocket refuse to launch without it.)
pub struct Plugins(pub Option<std::sync::Arc<Registry>>);

#[rocket::async_trait]
impl<'r> rocket::request::FromRequest<'r> for Plugins {
    type Error = std::convert::Infallible;

    async fn from_request(
        req: &'r rocket::Request<'_>,
    ) -> rocket::request::Outcome<Self, Self::Error> {
        let registry = req.rocket().state::<std::sync::Arc<Registry>>().cloned();
        rocket::request::Outcome::Success(Plugins(registry))
    }
}

/// What filters see of a decoded inbound message.
pub fn inbound_mail(inbound: &Inbound) -> InboundMail {
    InboundMail {
        headers: inbound.headers.clone(),
        from_email: inbound.from.email.clone(),
        from_name: inbound.from.name.clone(),
        to: inbound.to.iter().map(|a| a.email.clone()).collect(),
        subject: inbound.subject.clone(),
        text: inbound.text.clone(),
    }
}

/// One line of the admin page's plugin list.
#[derive(Debug, Clone, Serialize)]
pub struct Overview {
    #[serde(flatten)]
    pub listing: Listing,
    /// "running", "disabled", "failed to start", "not built in", or
    /// "error" when the last call failed after the last success.
    pub state: &'static str,
    pub last_run_at: Option<i64>,
    pub last_ok_at: Option<i64>,
    pub last_error: Option<String>,
    pub last_error_at: Option<i64>,
    pub pending_jobs: i64,
    pub failed_jobs: i64,
    pub done_jobs: i64,
}

/// The plugin list with each plugin's state, for the admin page.
pub fn overview(store: &Store, registry: &Registry) -> StoreResult<Vec<Overview>> {
    let states = store::plugins::states(&*store.conn()?)?;
    Ok(overview_of(registry, &states))
}

/// As [`overview`], from states already read (`store::plugins::states`).
pub fn overview_of(registry: &Registry, states: &[store::plugins::PluginState]) -> Vec<Overview> {
    registry
        .listings()
        .iter()
        .map(|l| {
            let s = states
                .iter()
                .find(|s| s.plugin == l.name)
                .cloned()
                .unwrap_or_default();
            let failing = match (s.last_error_at, s.last_ok_at) {
                (Some(e), Some(ok)) => e >= ok,
                (Some(_), None) => true,
                _ => false,
            };
            let state = if !l.compiled_in {
                "not built in"
            } else if !l.enabled {
                "disabled"
            } else if !l.running {
                "failed to start"
            } else if failing {
                "error"
            } else {
                "running"
            };
            Overview {
                listing: l.clone(),
                state,
                last_run_at: s.last_run_at,
                last_ok_at: s.last_ok_at,
                last_error: s.last_error,
                last_error_at: s.last_error_at,
                pending_jobs: s.pending_jobs,
                failed_jobs: s.failed_jobs,
                done_jobs: s.done_jobs,
            }
        })
        .collect()
}
