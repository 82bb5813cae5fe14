//! Outbound mail: templates, the outbox worker and lettre transports.
//!
//! Mail is never sent from the request or pipe that causes it: `queue`
//! writes the complete message to the outbox inside the caller's
//! transaction, and the worker (`worker::spawn` in `serve`, or `oxidesk
//! outbox run` from cron) delivers it with retries.

use std::sync::{Arc, RwLock};

use crate::config::Config;

pub mod account;
pub mod deferred;
pub mod notify;
pub mod queue;
pub mod templates;
pub mod transport;
pub mod worker;

pub use queue::{
    build_mail, queue, BuiltMail, MailAttachment, OutgoingMail, QueueError, QueuedMail, Sender,
};

static CONFIG: RwLock<Option<Arc<Config>>> = RwLock::new(None);

/// Make the deployment configuration (From address, public URL, signing
/// secret) known to code that queues mail from inside a transaction, where
/// only the connection is passed along. Called once at start by the CLI;
/// calling it again replaces it.
pub fn configure(config: &Config) {
    let mut slot = CONFIG.write().unwrap_or_else(|e| e.into_inner());
    *slot = Some(Arc::new(config.clone()));
}

/// The configuration given to [`configure`], or the defaults.
pub fn config() -> Arc<Config> {
    let slot = CONFIG.read().unwrap_or_else(|e| e.into_inner());
    slot.clone().unwrap_or_else(|| Arc::new(Config::default()))
}
