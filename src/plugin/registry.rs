//! The registry: which plugins this helpdesk runs, built from the
//! `[plugins.NAME]` sections of the configuration, and the synchronous hooks
//! (inbound filter, ticket panels), each call isolated.

use std::time::Duration;

use oxidesk_plugin::{Factory, FilterDecision, InboundMail, PanelContext, PluginConfig, Viewer};
use serde::Serialize;

use super::isolate::{CallError, Guarded};
use crate::config::Config;
use crate::store::{self, Store};

const DEFAULT_ORDER: i64 = 100;
const DEFAULT_TIMEOUT_MS: u64 = 5_000;
const DEFAULT_JOB_TIMEOUT_MS: u64 = 30_000;
const DEFAULT_MAX_ATTEMPTS: u32 = 12;
const DEFAULT_RETRY_SECS: i64 = 30;

/// A plugin that is enabled and was built.
#[derive(Clone)]
pub struct Loaded {
    pub guarded: Guarded,
    pub order: i64,
    /// Deadline of hook calls (filter, panel, on_event).
    pub timeout: Duration,
    /// Deadline of one queued job.
    pub job_timeout: Duration,
    pub max_attempts: u32,
    /// First retry delay; doubled after each failure.
    pub retry_secs: i64,
}

impl Loaded {
    pub fn name(&self) -> &str {
        &self.guarded.name
    }
}

/// What `oxidesk plugins` and the admin page list: every plugin built into
/// this binary or named in the configuration.
#[derive(Debug, Clone, Serialize)]
pub struct Listing {
    pub name: String,
    pub description: String,
    /// Built into this binary (its Cargo feature was on).
    pub compiled_in: bool,
    /// Asked for in the configuration.
    pub enabled: bool,
    /// Enabled and built without error: its hooks are called.
    pub running: bool,
    pub order: i64,
    /// Why an enabled plugin is not running.
    pub problem: Option<String>,
}

/// The enabled plugins, in order.
#[derive(Default)]
pub struct Registry {
    loaded: Vec<Loaded>,
    listings: Vec<Listing>,
    store: Option<Store>,
}

/// The plugins compiled into this binary, each behind its Cargo feature.
pub const BUILTIN: &[Factory] = &[
    #[cfg(feature = "plugin-webhook")]
    oxidesk_plugin_webhook::FACTORY,
    #[cfg(feature = "plugin-spam")]
    oxidesk_plugin_spam::FACTORY,
    #[cfg(feature = "plugin-hosting")]
    oxidesk_plugin_hosting::FACTORY,
];

/// The combined verdict of the inbound filters.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FilterOutcome {
    /// Set when a filter rejected the message: no ticket is made and the raw
    /// message is kept as rejected. Carries the plugin's reason.
    pub reject: Option<String>,
    /// Set when a filter marked it spam: the ticket is kept, hidden from
    /// queues, and gets no auto-response.
    pub spam: Option<SpamVerdict>,
    /// Labels for the ticket.
    pub tags: Vec<String>,
    /// A department (by name) to file the ticket in instead.
    pub department: Option<String>,
    /// Filters that failed (plugin, error); the message went on without them.
    pub errors: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpamVerdict {
    pub score: f64,
    pub reason: String,
}

impl FilterOutcome {
    pub fn is_spam(&self) -> bool {
        self.spam.is_some()
    }

    /// No auto-response may go to spam (it confirms the address to spammers).
    pub fn suppress_auto_response(&self) -> bool {
        self.is_spam()
    }
}

/// A plugin's block of HTML for a ticket page.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Panel {
    pub plugin: String,
    /// Ready to insert: the plugin escaped its data.
    pub html: String,
}

fn record(store: Option<&Store>, plugin: &str, error: Option<&str>) {
    let Some(store) = store else { return };
    let result = store
        .conn()
        .and_then(|conn| store::plugins::record_run(&conn, plugin, error, store::now()));
    if let Err(e) = result {
        tracing::warn!(plugin, "cannot record the plugin's run: {e}");
    }
}

fn int_key(section: &toml::Table, key: &str) -> Option<i64> {
    section.get(key).and_then(toml::Value::as_integer)
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.loaded.iter().map(Loaded::name).collect();
        f.debug_struct("Registry").field("running", &names).finish()
    }
}

impl Registry {
    /// The plugins of this binary, configured from `config`. `store` is where
    /// failures are recorded for the admin page (None: log only).
    pub fn from_config(config: &Config, store: Option<Store>) -> Registry {
        Registry::build(config, BUILTIN, store)
    }

    /// As [`Registry::from_config`] with a given set of factories.
    pub fn build(config: &Config, factories: &[Factory], store: Option<Store>) -> Registry {
        let mut loaded = Vec::new();
        let mut listings = Vec::new();
        for factory in factories {
            let section = config.plugins.get(factory.name);
            let enabled = section.is_some_and(|s| {
                s.get("enabled")
                    .and_then(toml::Value::as_bool)
                    .unwrap_or(true)
            });
            let order = section
                .and_then(|s| int_key(s, "order"))
                .unwrap_or(DEFAULT_ORDER);
            let mut listing = Listing {
                name: factory.name.to_string(),
                description: factory.description.to_string(),
                compiled_in: true,
                enabled,
                running: false,
                order,
                problem: None,
            };
            if let (true, Some(section)) = (enabled, section) {
                let ms = |key, default: u64| {
                    int_key(section, key)
                        .and_then(|v| u64::try_from(v).ok())
                        .unwrap_or(default)
                        .max(1)
                };
                let json = serde_json::to_value(section).unwrap_or(serde_json::Value::Null);
                match (factory.build)(&PluginConfig::new(json)) {
                    Ok(plugin) => {
                        listing.running = true;
                        loaded.push(Loaded {
                            guarded: Guarded::new(factory.name.to_string(), plugin),
                            order,
                            timeout: Duration::from_millis(ms("timeout_ms", DEFAULT_TIMEOUT_MS)),
                            job_timeout: Duration::from_millis(ms(
                                "job_timeout_ms",
                                DEFAULT_JOB_TIMEOUT_MS,
                            )),
                            max_attempts: u32::try_from(ms(
                                "max_attempts",
                                DEFAULT_MAX_ATTEMPTS.into(),
                            ))
                            .unwrap_or(DEFAULT_MAX_ATTEMPTS),
                            retry_secs: i64::try_from(ms("retry_secs", DEFAULT_RETRY_SECS as u64))
                                .unwrap_or(DEFAULT_RETRY_SECS),
                        });
                    }
                    Err(e) => {
                        tracing::error!(plugin = factory.name, "plugin not started: {e}");
                        listing.problem = Some(format!("not started: {e}"));
                    }
                }
            }
            listings.push(listing);
        }
        for name in config.plugins.keys() {
            if !factories.iter().any(|f| f.name == name) {
                tracing::warn!(plugin = %name, "configured plugin is not built into this binary");
                listings.push(Listing {
                    name: name.clone(),
                    description: String::new(),
                    compiled_in: false,
                    enabled: true,
                    running: false,
                    order: config
                        .plugins
                        .get(name)
                        .and_then(|s| int_key(s, "order"))
                        .unwrap_or(DEFAULT_ORDER),
                    problem: Some("not built into this binary".into()),
                });
            }
        }
        loaded.sort_by(|a, b| (a.order, a.name()).cmp(&(b.order, b.name())));
        listings.sort_by(|a, b| (a.order, &a.name).cmp(&(b.order, &b.name)));
        let registry = Registry {
            loaded,
            listings,
            store,
        };
        registry.ensure_states();
        registry
    }

    /// Give each running plugin its cursor row, so events recorded from now
    /// on reach it even before a dispatcher first runs.
    fn ensure_states(&self) {
        let Some(store) = &self.store else { return };
        if self.loaded.is_empty() {
            return;
        }
        let result = store.conn().and_then(|conn| {
            self.loaded
                .iter()
                .try_for_each(|l| store::plugins::ensure_state(&conn, l.name(), store::now()))
        });
        if let Err(e) = result {
            tracing::warn!("cannot record plugin states: {e}");
        }
    }

    /// Running plugins, in order.
    pub fn loaded(&self) -> &[Loaded] {
        &self.loaded
    }

    pub fn listings(&self) -> &[Listing] {
        &self.listings
    }

    pub fn store(&self) -> Option<&Store> {
        self.store.as_ref()
    }

    /// Log a failed call and keep it for the admin page.
    pub fn record_failure(&self, plugin: &str, hook: &str, error: &CallError) {
        tracing::warn!(plugin, hook, "plugin call failed: {error}");
        self.record(plugin, Some(&format!("{hook}: {error}")));
    }

    /// Note a successful run for the admin page.
    pub fn record_success(&self, plugin: &str) {
        self.record(plugin, None);
    }

    fn record(&self, plugin: &str, error: Option<&str>) {
        record(self.store.as_ref(), plugin, error);
    }

    /// Run the inbound filters in order. A rejection stops the chain; a
    /// filter that fails is skipped (and recorded): mail is never lost
    /// because of a plugin.
    pub fn filter_inbound(&self, mail: &InboundMail) -> FilterOutcome {
        self.filter_inbound_with(mail, self.store.as_ref())
    }

    /// As [`Registry::filter_inbound`], recording failures in `store`.
    pub fn filter_inbound_with(&self, mail: &InboundMail, store: Option<&Store>) -> FilterOutcome {
        let mut outcome = FilterOutcome::default();
        for l in &self.loaded {
            let m = mail.clone();
            match l.guarded.call(l.timeout, move |p| p.filter_inbound(&m)) {
                Ok(decision) => match decision {
                    FilterDecision::Accept => {}
                    FilterDecision::Tag(tags) => {
                        for t in tags {
                            if !outcome.tags.contains(&t) {
                                outcome.tags.push(t);
                            }
                        }
                    }
                    FilterDecision::Reroute { department } => {
                        // The first plugin in order decides.
                        outcome.department.get_or_insert(department);
                    }
                    FilterDecision::MarkSpam { score, reason } => {
                        let reason = format!("{}: {reason}", l.name());
                        match &mut outcome.spam {
                            Some(v) => {
                                v.score = v.score.max(score);
                                v.reason = format!("{}; {reason}", v.reason);
                            }
                            None => outcome.spam = Some(SpamVerdict { score, reason }),
                        }
                    }
                    FilterDecision::Reject { reason } => {
                        outcome.reject = Some(format!("{}: {reason}", l.name()));
                        return outcome;
                    }
                },
                Err(e) => {
                    tracing::warn!(plugin = l.name(), "inbound filter failed: {e}");
                    record(store, l.name(), Some(&format!("inbound filter: {e}")));
                    outcome.errors.push((l.name().to_string(), e.to_string()));
                }
            }
        }
        outcome
    }

    /// The running plugins' panels for a ticket page, in order. All plugins
    /// are asked at once; one that fails or is slow shows a short note.
    pub fn ticket_panels(&self, ctx: &PanelContext) -> Vec<Panel> {
        let started: Vec<_> = self
            .loaded
            .iter()
            .map(|l| {
                let c = ctx.clone();
                (l, l.guarded.start(move |p| p.ticket_panel(&c)))
            })
            .collect();
        let mut panels = Vec::new();
        for (l, pending) in started {
            match pending.wait(l.timeout) {
                Ok(Some(html)) => panels.push(Panel {
                    plugin: l.name().to_string(),
                    html: html.into_string(),
                }),
                Ok(None) => {}
                Err(e) => {
                    self.record_failure(l.name(), "ticket panel", &e);
                    let note = match ctx.viewer {
                        Viewer::Staff => format!("This panel is unavailable: {e}"),
                        Viewer::Customer => continue,
                    };
                    panels.push(Panel {
                        plugin: l.name().to_string(),
                        html: oxidesk_plugin::PanelHtml::note(&note).into_string(),
                    });
                }
            }
        }
        panels
    }
}
