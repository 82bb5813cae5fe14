//! Hosting account panel: shows the customer's billing account from a
//! WHMCS-compatible API beside their ticket: client id, active services and
//! domains with status and due dates, and what they owe.
//!
//! ```toml
//! [plugins.hosting]
//! enabled = true
//! url = "https://billing.example.com"        # {url}/includes/api.php
//! identifier = "API credential identifier"
//! secret = "API credential secret"
//! accesskey = ""                  # optional, if WHMCS requires one
//! admin_url = "https://billing.example.com/admin"   # optional: links for staff
//! cache_secs = 120
//! request_timeout_secs = 2
//! show_to_customers = false       # also show it in the portal
//! ```
//!
//! Answers are cached in memory for `cache_secs` (failures for a few
//! seconds) so opening a ticket twice does not call the API twice. When the
//! API cannot be reached the panel says so in one line; the page renders.

mod render;
mod whmcs;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use oxidesk_plugin::{Factory, PanelContext, PanelHtml, Plugin, PluginConfig, PluginError, Viewer};
use serde::Deserialize;

pub use whmcs::{Client, Domain, Service, Summary, Unpaid};

pub const FACTORY: Factory = Factory {
    name: "hosting",
    description: "Shows the customer's WHMCS billing account beside the ticket",
    build,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    url: String,
    identifier: String,
    secret: String,
    #[serde(default)]
    accesskey: String,
    #[serde(default)]
    admin_url: String,
    #[serde(default = "default_cache")]
    cache_secs: u64,
    #[serde(default = "default_timeout")]
    request_timeout_secs: u64,
    #[serde(default)]
    show_to_customers: bool,
}

fn default_cache() -> u64 {
    120
}

/// Two round trips (client, then the three lists at once) fit in the
/// host's default 5 s deadline, so a slow billing system still gets a
/// cached answer or note.
fn default_timeout() -> u64 {
    2
}

/// How long a failed lookup is remembered, so a down API does not make
/// every page wait for the timeout.
const FAILURE_TTL: Duration = Duration::from_secs(15);

type Lookup = Result<Option<Summary>, String>;

pub struct Hosting {
    settings: Settings,
    api: whmcs::Api,
    cache: Mutex<HashMap<String, (Instant, Lookup)>>,
}

fn build(config: &PluginConfig) -> Result<Box<dyn Plugin>, PluginError> {
    let settings: Settings = config.parse()?;
    if !(settings.url.starts_with("https://") || settings.url.starts_with("http://")) {
        return Err(PluginError::config(format!(
            "url {:?} is not an http:// or https:// address",
            settings.url
        )));
    }
    if settings.identifier.is_empty() || settings.secret.is_empty() {
        return Err(PluginError::config(
            "identifier and secret (WHMCS API credentials) must be set",
        ));
    }
    let api = whmcs::Api::new(
        &settings.url,
        &settings.identifier,
        &settings.secret,
        &settings.accesskey,
        Duration::from_secs(settings.request_timeout_secs.clamp(1, 60)),
    );
    Ok(Box::new(Hosting {
        settings,
        api,
        cache: Mutex::new(HashMap::new()),
    }))
}

impl Hosting {
    fn lookup(&self, email: &str) -> Lookup {
        let key = email.trim().to_lowercase();
        let ttl = Duration::from_secs(self.settings.cache_secs);
        if let Ok(cache) = self.cache.lock() {
            if let Some((at, found)) = cache.get(&key) {
                let fresh = match found {
                    Ok(_) => at.elapsed() < ttl,
                    Err(_) => at.elapsed() < FAILURE_TTL.min(ttl),
                };
                if fresh {
                    return found.clone();
                }
            }
        }
        let found = self.api.summary(&key);
        if let Ok(mut cache) = self.cache.lock() {
            // Bounded: drop expired entries when the map grows.
            if cache.len() > 1000 {
                cache.retain(|_, (at, _)| at.elapsed() < ttl);
            }
            cache.insert(key, (Instant::now(), found.clone()));
        }
        found
    }
}

impl Plugin for Hosting {
    fn ticket_panel(&self, ctx: &PanelContext) -> Result<Option<PanelHtml>, PluginError> {
        if ctx.viewer == Viewer::Customer && !self.settings.show_to_customers {
            return Ok(None);
        }
        if ctx.customer_email.trim().is_empty() {
            return Ok(None);
        }
        let admin_url = match ctx.viewer {
            Viewer::Staff if !self.settings.admin_url.is_empty() => {
                Some(self.settings.admin_url.trim_end_matches('/'))
            }
            _ => None,
        };
        Ok(Some(match self.lookup(&ctx.customer_email) {
            Ok(Some(summary)) => render::summary(&summary, admin_url),
            Ok(None) => PanelHtml::note("No billing account uses this email address."),
            Err(why) => {
                PanelHtml::note(&format!("Billing details are unavailable right now: {why}"))
            }
        }))
    }
}
