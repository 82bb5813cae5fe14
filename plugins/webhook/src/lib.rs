//! Webhooks: POST a JSON document for chosen ticket events to configured
//! URLs, signed with HMAC-SHA256 of the body.
//!
//! ```toml
//! [plugins.webhook]
//! enabled = true
//! urls = ["https://billing.example.com/hooks/helpdesk"]
//! secret = "a long random string shared with the receiver"
//! events = ["created", "message_received", "response_added"]   # empty: all
//! include_spam = false
//! request_timeout_secs = 10
//! ```
//!
//! Each (event, URL) pair is one job in the helpdesk's durable queue, so a
//! receiver that is down gets the delivery later (exponential backoff) and a
//! restart loses nothing. The receiver checks `X-Oxidesk-Signature:
//! sha256=<hex>` against HMAC-SHA256(secret, body) (see [`verify`]) and may
//! use `X-Oxidesk-Delivery` (stable across retries) to drop duplicates.

use std::time::Duration;

use hmac::{Hmac, Mac};
use oxidesk_plugin::{
    Factory, Job, JobDone, JobRun, Plugin, PluginConfig, PluginError, TicketEvent,
};
use serde::Deserialize;
use sha2::Sha256;

pub const SIGNATURE_HEADER: &str = "X-Oxidesk-Signature";

pub const FACTORY: Factory = Factory {
    name: "webhook",
    description: "POSTs signed JSON for ticket events to configured URLs",
    build,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    urls: Vec<String>,
    secret: String,
    #[serde(default)]
    events: Vec<String>,
    #[serde(default)]
    include_spam: bool,
    #[serde(default = "default_timeout")]
    request_timeout_secs: u64,
}

fn default_timeout() -> u64 {
    10
}

pub struct Webhook {
    settings: Settings,
    agent: ureq::Agent,
}

fn build(config: &PluginConfig) -> Result<Box<dyn Plugin>, PluginError> {
    let settings: Settings = config.parse()?;
    if settings.secret.trim().is_empty() {
        return Err(PluginError::config(
            "secret must be set: receivers verify deliveries with it",
        ));
    }
    if settings.urls.is_empty() {
        return Err(PluginError::config("urls lists no address to deliver to"));
    }
    for url in &settings.urls {
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(PluginError::config(format!(
                "{url:?} is not an http:// or https:// URL"
            )));
        }
    }
    let timeout = Duration::from_secs(settings.request_timeout_secs.clamp(1, 120));
    let agent = ureq::AgentBuilder::new()
        .timeout_connect(timeout)
        .timeout(timeout)
        .redirects(0)
        .user_agent(concat!("oxidesk-webhook/", env!("CARGO_PKG_VERSION")))
        .build();
    Ok(Box::new(Webhook { settings, agent }))
}

/// `sha256=<hex of HMAC-SHA256(secret, body)>`.
pub fn sign(secret: &str, body: &[u8]) -> String {
    // new_from_slice only fails for fixed-size keys; HMAC takes any length.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Check a signature header in constant time, as a receiver should.
pub fn verify(secret: &str, body: &[u8], header: &str) -> bool {
    let Some(hex_sig) = header.trim().strip_prefix("sha256=") else {
        return false;
    };
    let Ok(sig) = hex::decode(hex_sig) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&sig).is_ok()
}

impl Plugin for Webhook {
    fn on_event(&self, event: &TicketEvent) -> Result<Vec<Job>, PluginError> {
        let wanted = self.settings.events.is_empty()
            || self.settings.events.iter().any(|k| k == &event.kind);
        if !wanted || (event.is_spam && !self.settings.include_spam) {
            return Ok(Vec::new());
        }
        let body = serde_json::to_string(event)
            .map_err(|e| PluginError::permanent(format!("cannot encode the event: {e}")))?;
        Ok(self
            .settings
            .urls
            .iter()
            .map(|url| Job {
                target: url.clone(),
                body: body.clone(),
            })
            .collect())
    }

    fn run_job(&self, job: &JobRun) -> Result<JobDone, PluginError> {
        let signature = sign(&self.settings.secret, job.body.as_bytes());
        let result = self
            .agent
            .post(&job.target)
            .set("Content-Type", "application/json")
            .set(SIGNATURE_HEADER, &signature)
            .set("X-Oxidesk-Event", &job.event_kind)
            .set("X-Oxidesk-Delivery", &job.id.to_string())
            .send_string(&job.body);
        match result {
            Ok(response) if (200..300).contains(&response.status()) => Ok(JobDone {
                status: Some(response.status()),
                note: format!("delivered to {}", job.target),
            }),
            // Redirects are not followed: a signed POST should not wander.
            Ok(response) => Err(PluginError::permanent(format!(
                "{} answered HTTP {} (redirects are not followed; configure the final URL)",
                job.target,
                response.status()
            ))
            .with_status(response.status())),
            Err(ureq::Error::Status(code, _)) => {
                let message = format!("{} answered HTTP {code}", job.target);
                // Server trouble and rate limits pass; other refusals won't.
                let err = if code >= 500 || code == 408 || code == 429 {
                    PluginError::temporary(message)
                } else {
                    PluginError::permanent(message)
                };
                Err(err.with_status(code))
            }
            Err(ureq::Error::Transport(t)) => Err(PluginError::temporary(format!(
                "cannot reach {}: {t}",
                job.target
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: &str, is_spam: bool) -> TicketEvent {
        TicketEvent {
            id: 7,
            kind: kind.into(),
            ticket_number: "123456".into(),
            subject: "Hello".into(),
            status: "open".into(),
            department: "Support".into(),
            customer_name: "Ann".into(),
            customer_email: Some("ann@example.com".into()),
            actor: "system".into(),
            timestamp: 1,
            excerpt: None,
            is_spam,
            details: serde_json::json!({}),
        }
    }

    fn plugin(extra: serde_json::Value) -> Box<dyn Plugin> {
        let mut config = serde_json::json!({
            "urls": ["http://127.0.0.1:9/a", "http://127.0.0.1:9/b"],
            "secret": "s3cret",
        });
        if let (Some(c), Some(e)) = (config.as_object_mut(), extra.as_object()) {
            c.extend(e.clone());
        }
        match build(&PluginConfig::new(config)) {
            Ok(p) => p,
            Err(e) => panic!("build failed: {e}"),
        }
    }

    #[test]
    fn signature_round_trips_and_rejects_tampering() {
        let sig = sign("key", b"{\"a\":1}");
        assert!(sig.starts_with("sha256="));
        assert_eq!(sig.len(), 7 + 64);
        assert!(verify("key", b"{\"a\":1}", &sig));
        assert!(!verify("key", b"{\"a\":2}", &sig));
        assert!(!verify("other", b"{\"a\":1}", &sig));
        assert!(!verify("key", b"{\"a\":1}", "md5=00"));
    }

    #[test]
    fn one_job_per_url_for_chosen_events_only() {
        let p = plugin(serde_json::json!({"events": ["created"]}));
        let jobs = p.on_event(&event("created", false)).unwrap();
        assert_eq!(jobs.len(), 2);
        assert_eq!(jobs[0].target, "http://127.0.0.1:9/a");
        let body: serde_json::Value = serde_json::from_str(&jobs[0].body).unwrap();
        assert_eq!(body["kind"], "created");
        assert_eq!(body["ticket_number"], "123456");
        assert!(p.on_event(&event("note_added", false)).unwrap().is_empty());
        assert!(p.on_event(&event("created", true)).unwrap().is_empty());
    }

    #[test]
    fn unreachable_receiver_is_temporary() {
        let p = plugin(serde_json::json!({"request_timeout_secs": 1}));
        let err = p
            .run_job(&JobRun {
                id: 1,
                attempt: 1,
                event_kind: "created".into(),
                target: "http://127.0.0.1:9/".into(),
                body: "{}".into(),
            })
            .unwrap_err();
        assert!(err.is_temporary(), "{err}");
    }

    #[test]
    fn settings_are_checked() {
        let bad = |v: serde_json::Value| build(&PluginConfig::new(v)).err().map(|e| e.message);
        assert!(bad(serde_json::json!({"urls": ["http://x"], "secret": ""}))
            .unwrap()
            .contains("secret"));
        assert!(bad(serde_json::json!({"urls": ["ftp://x"], "secret": "k"}))
            .unwrap()
            .contains("ftp://x"));
        assert!(bad(serde_json::json!({"urls": ["http://x"], "secret": "k", "typo": 1})).is_some());
    }
}
