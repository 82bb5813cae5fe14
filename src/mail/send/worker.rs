//! The outbox worker: claims due messages, hands them to the transport and
//! records the outcome.
//!
//! Exactly-once, as far as SMTP allows: a row is claimed (state `sending`,
//! a lease, a claim token) in one statement before any network traffic, so
//! two workers never send the same message; once the server accepts it, the
//! row is marked sent in its own tiny statement straight away. A crash
//! between the server's "250 OK" and that statement is the only way a
//! message can go out twice: the lease expires, another worker sends it
//! again with the same Message-ID (fixed at queue time), which mail clients
//! and our own intake treat as the same message. A crash before acceptance
//! loses nothing: the lease expires and the message is sent then.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use serde::Serialize;

use super::deferred::{self, RenderError};
use super::transport::{DeliveryError, Transport};
use crate::config::Config;
use crate::store::{self, Store, StoreResult};

/// Deliveries by this process's workers since it started, by result (for
/// `/metrics`).
pub static OUTBOX_SENT: AtomicU64 = AtomicU64::new(0);
pub static OUTBOX_RETRIED: AtomicU64 = AtomicU64::new(0);
pub static OUTBOX_FAILED: AtomicU64 = AtomicU64::new(0);

/// What one pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RunSummary {
    pub sent: u32,
    pub retrying: u32,
    pub failed: u32,
}

/// How long a claimed message belongs to its worker. Longer than any
/// delivery can take (every SMTP step has `timeout_seconds`), so a live
/// worker never loses its claim; a dead one's claim expires.
pub fn lease_seconds(config: &Config) -> i64 {
    (config.smtp.timeout_seconds as i64 * 10).max(300)
}

/// Delay before attempt `attempts + 1`: base doubling, capped.
pub fn backoff(config: &Config, attempts: i64) -> i64 {
    let base = config.smtp.retry_base_seconds.max(1) as i64;
    let max = config.smtp.retry_max_seconds.max(1) as i64;
    let exp = (attempts - 1).clamp(0, 30) as u32;
    base.saturating_mul(1i64 << exp).min(max)
}

fn claim_token() -> String {
    let mut bytes = [0u8; 12];
    rand::Rng::fill(&mut rand::thread_rng(), &mut bytes);
    format!("{}-{}", std::process::id(), hex::encode(bytes))
}

/// Record an outcome, retrying briefly if the database is busy: after the
/// server accepted a message, failing to record it is what could send it
/// twice.
fn record<T>(mut f: impl FnMut() -> StoreResult<T>) -> StoreResult<T> {
    let mut tries = 0;
    loop {
        match f() {
            Err(e) if e.is_temporary() && tries < 20 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(250));
            }
            other => return other,
        }
    }
}

/// Deliver every message that is due now, then return. `stop` is checked
/// between messages.
pub fn run_due(
    store: &Store,
    config: &Config,
    transport: &Transport,
    stop: &dyn Fn() -> bool,
) -> StoreResult<RunSummary> {
    let mut summary = RunSummary::default();
    let token = claim_token();
    let lease = lease_seconds(config);
    let give_up = config.smtp.give_up_hours as i64 * 3600;
    while !stop() {
        let claimed = {
            let conn = store.conn()?;
            store::outbox::claim_next(&conn, store::now(), lease, &token)?
        };
        let Some(mut mail) = claimed else { break };
        if mail.render.is_some() {
            let conn = store.conn()?;
            match deferred::render(&conn, &mail) {
                Ok(r) => {
                    let stored = record(|| {
                        store::outbox::set_rendered(
                            &conn,
                            mail.id,
                            &mail.claim,
                            &r.subject,
                            &r.built.raw,
                        )
                    })?;
                    if !stored {
                        tracing::warn!(id = mail.id, "lost the claim on a mail while rendering it");
                        continue;
                    }
                    mail.raw = r.built.raw;
                    mail.render = None;
                }
                Err(RenderError::Store(e)) if e.is_temporary() => {
                    let next = store::now() + backoff(config, mail.attempts);
                    let why = format!("could not render the mail yet: {e}");
                    record(|| store::outbox::reschedule(&conn, mail.id, &mail.claim, next, &why))?;
                    summary.retrying += 1;
                    continue;
                }
                Err(e) => {
                    let why = format!("the mail could not be rendered: {e}");
                    record(|| store::outbox::mark_failed(&conn, mail.id, &mail.claim, &why))?;
                    tracing::warn!(id = mail.id, %why, "mail not sent");
                    summary.failed += 1;
                    continue;
                }
            }
        }
        let result = transport.deliver(&mail.envelope_from, &mail.recipients, &mail.raw);
        let conn = store.conn()?;
        match result {
            Ok(answer) => {
                if !record(|| store::outbox::mark_sent(&conn, mail.id, &mail.claim, &answer))? {
                    tracing::warn!(
                        id = mail.id,
                        "mail delivered after its lease expired; another worker may send it again"
                    );
                }
                tracing::info!(id = mail.id, to = %mail.recipients.join(", "), %answer, "mail sent");
                summary.sent += 1;
                OUTBOX_SENT.fetch_add(1, Ordering::Relaxed);
            }
            Err(DeliveryError::Permanent(answer)) => {
                record(|| store::outbox::mark_failed(&conn, mail.id, &mail.claim, &answer))?;
                tracing::warn!(id = mail.id, to = %mail.recipients.join(", "), %answer, "mail refused for good");
                summary.failed += 1;
                OUTBOX_FAILED.fetch_add(1, Ordering::Relaxed);
            }
            Err(DeliveryError::Temporary(answer)) => {
                let now = store::now();
                let next = now + backoff(config, mail.attempts);
                if next > mail.queued_at + give_up {
                    let why = format!(
                        "gave up after {} attempts over {} hours; last answer: {answer}",
                        mail.attempts, config.smtp.give_up_hours
                    );
                    record(|| store::outbox::mark_failed(&conn, mail.id, &mail.claim, &why))?;
                    tracing::warn!(id = mail.id, %why, "mail given up");
                    summary.failed += 1;
                    OUTBOX_FAILED.fetch_add(1, Ordering::Relaxed);
                } else {
                    record(|| {
                        store::outbox::reschedule(&conn, mail.id, &mail.claim, next, &answer)
                    })?;
                    tracing::info!(id = mail.id, %answer, retry_in = next - now, "mail delivery failed; will retry");
                    summary.retrying += 1;
                    OUTBOX_RETRIED.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
    let conn = store.conn()?;
    let keep_days = store::settings::get_i64(&conn, "mail.keep_sent_days", 30)?.max(1);
    store::outbox::prune_sent(&conn, store::now() - keep_days * 86400)?;
    Ok(summary)
}

struct Shared {
    /// (stop requested, wake requested)
    state: Mutex<(bool, bool)>,
    cv: Condvar,
}

/// The running worker. Dropping it stops it too.
pub struct WorkerHandle {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl WorkerHandle {
    /// Look at the outbox now rather than at the next poll (call after
    /// queueing mail in this process).
    pub fn wake(&self) {
        let mut s = self.shared.state.lock().unwrap_or_else(|e| e.into_inner());
        s.1 = true;
        self.shared.cv.notify_all();
    }

    /// Finish the message being delivered, then stop and wait for the thread.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        {
            let mut s = self.shared.state.lock().unwrap_or_else(|e| e.into_inner());
            s.0 = true;
            self.shared.cv.notify_all();
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for WorkerHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Start the worker thread for `serve`.
pub fn spawn(store: Store, config: Config) -> WorkerHandle {
    super::configure(&config);
    let shared = Arc::new(Shared {
        state: Mutex::new((false, false)),
        cv: Condvar::new(),
    });
    let inner = shared.clone();
    let thread = std::thread::Builder::new()
        .name("outbox".into())
        .spawn(move || worker_loop(&store, &config, &inner))
        .map_err(|e| tracing::error!(error = %e, "cannot start the outbox worker"))
        .ok();
    WorkerHandle { shared, thread }
}

fn worker_loop(store: &Store, config: &Config, shared: &Shared) {
    let stopped = || shared.state.lock().map(|s| s.0).unwrap_or(true);
    let transport = match Transport::from_config(&config.smtp) {
        Ok(t) => Some(t),
        Err(e) => {
            tracing::warn!(error = %e, "outgoing mail stays in the outbox");
            None
        }
    };
    let poll = Duration::from_secs(config.smtp.poll_seconds.max(1));
    while !stopped() {
        let mut wait = poll;
        if let Some(t) = &transport {
            match run_due(store, config, t, &stopped) {
                Ok(_) => {
                    // Sleep until the next retry is due, if that is sooner.
                    if let Ok(conn) = store.conn() {
                        if let Ok(Some(due)) = store::outbox::next_due(&conn) {
                            let secs = (due - store::now()).max(1) as u64;
                            wait = wait.min(Duration::from_secs(secs));
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "the outbox worker could not read the outbox"),
            }
        }
        let guard = shared.state.lock().unwrap_or_else(|e| e.into_inner());
        let (mut guard, _) = shared
            .cv
            .wait_timeout_while(guard, wait, |s| !s.0 && !s.1)
            .unwrap_or_else(|e| e.into_inner());
        guard.1 = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_the_cap() {
        let c = Config::default();
        assert_eq!(backoff(&c, 1), 60);
        assert_eq!(backoff(&c, 2), 120);
        assert_eq!(backoff(&c, 5), 960);
        assert_eq!(backoff(&c, 12), 6 * 3600);
        assert_eq!(backoff(&c, 1000), 6 * 3600);
    }
}
