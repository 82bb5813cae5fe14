//! The contract between Oxidesk and its plugins.
//!
//! A plugin is a value implementing [`Plugin`], built from its configuration
//! section (`[plugins.NAME]`) by a [`Factory`]. It sees only the plain data in
//! this crate, never the helpdesk's internals, so a plugin crate depends on
//! this small crate alone and the helpdesk can change freely behind it.
//!
//! Every hook has a default that does nothing; a plugin implements the ones it
//! needs:
//! - [`Plugin::on_event`] turns a ticket event into [`Job`]s (quick, no I/O);
//!   the host stores them in a durable queue and later calls
//!   [`Plugin::run_job`] for each (network I/O happens here), retrying with
//!   backoff on a [`PluginError::temporary`] error.
//! - [`Plugin::filter_inbound`] inspects a message before it becomes a ticket.
//! - [`Plugin::ticket_panel`] renders a block of HTML beside a ticket.
//!
//! The host calls every hook on a worker thread with a deadline and catches
//! panics, so a misbehaving plugin cannot lose a ticket or stop the server.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A plugin. Implementations must be cheap to share between threads.
pub trait Plugin: Send + Sync + 'static {
    /// Turn a ticket event into work to do later. Called off the request
    /// path, once per event; should not do network I/O.
    fn on_event(&self, event: &TicketEvent) -> Result<Vec<Job>, PluginError> {
        let _ = event;
        Ok(Vec::new())
    }

    /// Carry out one job produced by [`Plugin::on_event`]. A temporary error
    /// is retried with exponential backoff; a permanent one is not.
    fn run_job(&self, job: &JobRun) -> Result<JobDone, PluginError> {
        let _ = job;
        Err(PluginError::permanent("this plugin does not run jobs"))
    }

    /// Inspect an inbound message before a ticket is made from it.
    fn filter_inbound(&self, mail: &InboundMail) -> Result<FilterDecision, PluginError> {
        let _ = mail;
        Ok(FilterDecision::Accept)
    }

    /// A block of HTML for the ticket page's side panel, or None.
    fn ticket_panel(&self, ctx: &PanelContext) -> Result<Option<PanelHtml>, PluginError> {
        let _ = ctx;
        Ok(None)
    }
}

/// How the host builds a plugin: a name (the config section, `[plugins.NAME]`),
/// a one-line description and a constructor.
#[derive(Clone, Copy)]
pub struct Factory {
    pub name: &'static str,
    pub description: &'static str,
    pub build: fn(&PluginConfig) -> Result<Box<dyn Plugin>, PluginError>,
}

impl fmt::Debug for Factory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Factory").field("name", &self.name).finish()
    }
}

/// A plugin's configuration section as JSON-like data. The keys in
/// [`HOST_KEYS`] belong to the host; everything else is the plugin's.
#[derive(Debug, Clone, Default)]
pub struct PluginConfig {
    value: serde_json::Value,
}

/// Keys of a `[plugins.NAME]` section the host reads: whether the plugin
/// runs, its place in the order, the deadline of each hook call and of each
/// queued job, and the retry policy of its queued jobs.
pub const HOST_KEYS: [&str; 6] = [
    "enabled",
    "order",
    "timeout_ms",
    "job_timeout_ms",
    "max_attempts",
    "retry_secs",
];

impl PluginConfig {
    pub fn new(value: serde_json::Value) -> PluginConfig {
        PluginConfig { value }
    }

    /// Deserialize the section into the plugin's own settings struct. Unknown
    /// keys are ignored unless the struct says otherwise.
    pub fn parse<T: serde::de::DeserializeOwned>(&self) -> Result<T, PluginError> {
        let mut value = self.value.clone();
        if let Some(map) = value.as_object_mut() {
            for key in HOST_KEYS {
                map.remove(key);
            }
        }
        serde_json::from_value(value)
            .map_err(|e| PluginError::config(format!("invalid settings: {e}")))
    }

    pub fn raw(&self) -> &serde_json::Value {
        &self.value
    }
}

/// A ticket event as plugins see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TicketEvent {
    /// The event's id in the helpdesk's event log (increasing).
    pub id: i64,
    /// `created`, `message_received`, `response_added`, `note_added`,
    /// `assigned`, `transferred`, `status_changed`, `priority_changed`,
    /// `due_changed`, `merged`, `marked_spam`, `spam_released`, `overdue`,
    /// `help_topic_changed`.
    pub kind: String,
    pub ticket_number: String,
    pub subject: String,
    pub status: String,
    pub department: String,
    pub customer_name: String,
    pub customer_email: Option<String>,
    /// Who caused it: a staff or customer name, or `system`.
    pub actor: String,
    /// Unix seconds.
    pub timestamp: i64,
    /// The start of the thread entry the event is about, if any. Internal
    /// notes are included: plugins run with staff trust.
    pub excerpt: Option<String>,
    pub is_spam: bool,
    /// The event's own details (e.g. `from`/`to` of a status change).
    pub details: serde_json::Value,
}

/// An inbound message as filters see it, before it becomes a ticket.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InboundMail {
    /// Every header, decoded, in order.
    pub headers: Vec<(String, String)>,
    pub from_email: String,
    pub from_name: String,
    pub to: Vec<String>,
    pub subject: String,
    /// Plain-text body.
    pub text: String,
}

impl InboundMail {
    /// The first header called `name` (case-insensitive).
    pub fn header<'a>(&'a self, name: &'a str) -> Option<&'a str> {
        self.headers_named(name).next()
    }

    /// Every header called `name` (case-insensitive), in order.
    pub fn headers_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The sender's domain, lower-case.
    pub fn sender_domain(&self) -> Option<String> {
        let (_, domain) = self.from_email.rsplit_once('@')?;
        Some(domain.trim().trim_end_matches('>').to_ascii_lowercase())
    }
}

/// What a filter decides about an inbound message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum FilterDecision {
    Accept,
    /// Accept and label the ticket.
    Tag(Vec<String>),
    /// Accept into another department (by name).
    Reroute {
        department: String,
    },
    /// Keep the ticket but hide it from queues and send no auto-response.
    MarkSpam {
        score: f64,
        reason: String,
    },
    /// Do not make a ticket; the raw message is kept as rejected.
    Reject {
        reason: String,
    },
}

/// Who is looking at a panel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Viewer {
    Staff,
    Customer,
}

/// What a panel is rendered for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PanelContext {
    pub customer_email: String,
    pub customer_name: String,
    pub ticket_number: Option<String>,
    pub viewer: Viewer,
}

/// HTML a plugin hands to a page. Build it from escaped pieces with
/// [`escape`]; the host inserts it as is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PanelHtml(String);

impl PanelHtml {
    /// Markup the plugin built itself; every piece of data in it must have
    /// gone through [`escape`].
    pub fn from_markup(html: String) -> PanelHtml {
        PanelHtml(html)
    }

    /// A paragraph of plain text, escaped.
    pub fn note(text: &str) -> PanelHtml {
        PanelHtml(format!("<p class=\"plugin-note\">{}</p>", escape(text)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// Escape text for HTML element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A unit of work queued by [`Plugin::on_event`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    /// Where it goes (a URL, a channel…), shown in the delivery log.
    pub target: String,
    /// What to send; opaque to the host.
    pub body: String,
}

/// A queued job being run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRun {
    /// Stable across retries: use it as an idempotency key.
    pub id: i64,
    /// 1 on the first try.
    pub attempt: u32,
    pub event_kind: String,
    pub target: String,
    pub body: String,
}

/// A job that succeeded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobDone {
    /// A protocol status worth logging (e.g. the HTTP status).
    pub status: Option<u16>,
    pub note: String,
}

/// Whether trying again may help.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Network trouble, a 5xx, a timeout: retry later.
    Temporary,
    /// A 4xx, bad data: retrying will not help.
    Permanent,
    /// The plugin's settings are wrong.
    Config,
}

/// Something a plugin could not do, as one sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginError {
    pub kind: ErrorKind,
    pub message: String,
    /// A protocol status worth logging (e.g. the HTTP status).
    pub status: Option<u16>,
}

impl PluginError {
    pub fn temporary(message: impl Into<String>) -> PluginError {
        PluginError {
            kind: ErrorKind::Temporary,
            message: message.into(),
            status: None,
        }
    }

    pub fn permanent(message: impl Into<String>) -> PluginError {
        PluginError {
            kind: ErrorKind::Permanent,
            message: message.into(),
            status: None,
        }
    }

    pub fn config(message: impl Into<String>) -> PluginError {
        PluginError {
            kind: ErrorKind::Config,
            message: message.into(),
            status: None,
        }
    }

    pub fn with_status(mut self, status: u16) -> PluginError {
        self.status = Some(status);
        self
    }

    pub fn is_temporary(&self) -> bool {
        self.kind == ErrorKind::Temporary
    }
}

impl fmt::Display for PluginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for PluginError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_covers_markup_characters() {
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(escape("سلام"), "سلام");
    }

    #[test]
    fn headers_are_case_insensitive() {
        let mail = InboundMail {
            headers: vec![
                ("X-Spam-Flag".into(), "YES".into()),
                ("x-spam-flag".into(), "NO".into()),
            ],
            from_email: "Someone@Example.COM".into(),
            ..InboundMail::default()
        };
        assert_eq!(mail.header("x-SPAM-flag"), Some("YES"));
        assert_eq!(mail.headers_named("X-Spam-Flag").count(), 2);
        assert_eq!(mail.sender_domain().as_deref(), Some("example.com"));
    }

    #[test]
    fn config_drops_host_keys() {
        #[derive(Debug, Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Mine {
            url: String,
        }
        let config = PluginConfig::new(serde_json::json!({
            "enabled": true, "order": 3, "timeout_ms": 100, "url": "http://x"
        }));
        let mine: Mine = config.parse().unwrap();
        assert_eq!(mine.url, "http://x");
        let bad = PluginConfig::new(serde_json::json!({"url": 5}));
        assert_eq!(bad.parse::<Mine>().unwrap_err().kind, ErrorKind::Config);
    }
}

/// The example in `plugins/README.md`, compiled and run as a test.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeExample;
