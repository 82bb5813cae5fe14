//! The event hook, off the request path: a dispatcher reads new ticket events
//! for each plugin from its durable cursor, asks the plugin what to do
//! (`on_event` → jobs), queues the jobs with the cursor move in one
//! transaction, and runs due jobs, retrying failures with exponential
//! backoff. Pages and the mail pipe only write the event row; nothing they
//! do waits for a plugin.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use oxidesk_plugin::{Job, JobRun};
use serde::Serialize;

use super::registry::{Loaded, Registry};
use crate::store::plugins::{self as sp, JobResult};
use crate::store::{self, Store, StoreResult};

/// Events read per plugin per step.
const EVENT_BATCH: i64 = 200;
/// Jobs run per pass.
const JOB_BATCH: i64 = 100;
/// Longest wait between two tries of a job.
const MAX_BACKOFF_SECS: i64 = 6 * 3600;
/// Finished deliveries stay in the log this long.
const KEEP_DONE_SECS: i64 = 30 * 86400;
/// How often the worker looks for work.
const POLL: Duration = Duration::from_secs(2);

/// What one pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    pub events: usize,
    pub queued: usize,
    pub delivered: usize,
    pub retrying: usize,
    pub failed: usize,
}

pub struct Dispatcher {
    store: Store,
    registry: Arc<Registry>,
    /// Set when the server shuts down: the job being run finishes, the
    /// rest wait in the queue for the next start.
    stop: Option<Arc<AtomicBool>>,
}

/// Delay before try number `attempts + 1`, after `attempts` failures.
pub fn backoff(retry_secs: i64, attempts: i64) -> i64 {
    let shift = attempts.saturating_sub(1).clamp(0, 30) as u32;
    retry_secs
        .max(1)
        .saturating_mul(1_i64 << shift)
        .min(MAX_BACKOFF_SECS)
}

impl Dispatcher {
    pub fn new(store: Store, registry: Arc<Registry>) -> Dispatcher {
        Dispatcher {
            store,
            registry,
            stop: None,
        }
    }

    /// Stop taking queued jobs once `flag` is set.
    pub fn with_stop(mut self, flag: Arc<AtomicBool>) -> Dispatcher {
        self.stop = Some(flag);
        self
    }

    fn stopping(&self) -> bool {
        self.stop.as_ref().is_some_and(|f| f.load(Ordering::SeqCst))
    }

    /// Hand new events to every running plugin, then run the jobs due at
    /// `now` (Unix seconds).
    pub fn run_once(&self, now: i64) -> StoreResult<Tally> {
        let mut tally = Tally::default();
        for l in self.registry.loaded() {
            self.plan(l, now, &mut tally)?;
        }
        self.run_jobs(now, &mut tally)?;
        Ok(tally)
    }

    /// Turn events after the plugin's cursor into queued jobs.
    fn plan(&self, l: &Loaded, now: i64, tally: &mut Tally) -> StoreResult<()> {
        let mut conn = self.store.conn()?;
        sp::ensure_state(&conn, l.name(), now)?;
        loop {
            let from = sp::cursor(&conn, l.name())?;
            let events = sp::events_after(&conn, from, EVENT_BATCH)?;
            let Some(last) = events.last().map(|e| e.id) else {
                return Ok(());
            };
            let mut jobs: Vec<(i64, String, Job)> = Vec::new();
            let mut failed = false;
            for event in events {
                tally.events += 1;
                let (id, kind) = (event.id, event.kind.clone());
                match l.guarded.call(l.timeout, move |p| p.on_event(&event)) {
                    Ok(new) => jobs.extend(new.into_iter().map(|j| (id, kind.clone(), j))),
                    Err(e) => {
                        // Deciding is quick and deterministic: a retry would
                        // fail the same way. Skip the event, keep the error.
                        failed = true;
                        self.registry
                            .record_failure(l.name(), &format!("event {id} ({kind})"), &e);
                    }
                }
            }
            let queued = jobs.len();
            if !sp::advance(&mut conn, l.name(), from, last, &jobs, now)? {
                // Another dispatcher moved the cursor first and queued these.
                return Ok(());
            }
            tally.queued += queued;
            if !failed {
                sp::record_run(&conn, l.name(), None, now)?;
            }
        }
    }

    fn run_jobs(&self, now: i64, tally: &mut Tally) -> StoreResult<()> {
        let loaded = self.registry.loaded();
        let names: Vec<&str> = loaded.iter().map(Loaded::name).collect();
        let conn = self.store.conn()?;
        for job in sp::due_jobs(&conn, &names, now, JOB_BATCH)? {
            if self.stopping() {
                break;
            }
            let Some(l) = loaded.iter().find(|l| l.name() == job.plugin) else {
                continue;
            };
            // A lease past the deadline: if this process dies mid-job, the
            // job is due again once the lease runs out.
            let lease = now + l.job_timeout.as_secs() as i64 + 60;
            if !sp::claim_job(&conn, job.id, job.next_attempt_at, lease)? {
                continue;
            }
            let attempts = job.attempts + 1;
            let run = JobRun {
                id: job.id,
                attempt: u32::try_from(attempts).unwrap_or(u32::MAX),
                event_kind: job.event_kind.clone(),
                target: job.target.clone(),
                body: job.body.clone(),
            };
            let result = match l.guarded.call(l.job_timeout, move |p| p.run_job(&run)) {
                Ok(done) => {
                    tally.delivered += 1;
                    self.registry.record_success(l.name());
                    JobResult {
                        state: "done",
                        attempts,
                        next_attempt_at: now,
                        last_status: done.status.map(i64::from),
                        last_error: None,
                    }
                }
                Err(e) => {
                    self.registry.record_failure(
                        l.name(),
                        &format!("job {} to {}", job.id, job.target),
                        &e,
                    );
                    let give_up = !e.is_temporary() || attempts >= i64::from(l.max_attempts);
                    if give_up {
                        tally.failed += 1;
                    } else {
                        tally.retrying += 1;
                    }
                    JobResult {
                        state: if give_up { "failed" } else { "pending" },
                        attempts,
                        next_attempt_at: now + backoff(l.retry_secs, attempts),
                        last_status: e.status().map(i64::from),
                        last_error: Some(e.to_string()),
                    }
                }
            };
            sp::finish_job(&conn, job.id, &result, now)?;
        }
        Ok(())
    }

    /// Forget finished deliveries older than the log keeps.
    pub fn prune(&self, now: i64) -> StoreResult<usize> {
        sp::prune_jobs(&*self.store.conn()?, now - KEEP_DONE_SECS)
    }
}

/// The running dispatcher worker. Dropping it stops the worker.
pub struct DispatcherHandle {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl DispatcherHandle {
    /// Ask the worker to stop and wait for its current pass to end.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}

impl Drop for DispatcherHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Start the dispatcher worker (`serve` does). Does nothing but sleep when
/// no plugin is running.
pub fn spawn(store: Store, registry: Arc<Registry>) -> std::io::Result<DispatcherHandle> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let thread = std::thread::Builder::new()
        .name("plugin-dispatcher".into())
        .spawn(move || {
            let dispatcher = Dispatcher::new(store, registry).with_stop(Arc::clone(&flag));
            let mut last_prune = 0;
            while !flag.load(Ordering::SeqCst) {
                let now = store::now();
                if let Err(e) = dispatcher.run_once(now) {
                    tracing::warn!("plugin dispatcher: {e}");
                }
                if now - last_prune > 3600 {
                    last_prune = now;
                    if let Err(e) = dispatcher.prune(now) {
                        tracing::warn!("plugin dispatcher: {e}");
                    }
                }
                std::thread::park_timeout(POLL);
            }
        })?;
    Ok(DispatcherHandle {
        stop,
        thread: Some(thread),
    })
}

#[cfg(test)]
mod tests {
    use super::backoff;

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(backoff(30, 1), 30);
        assert_eq!(backoff(30, 2), 60);
        assert_eq!(backoff(30, 5), 480);
        assert_eq!(backoff(30, 40), 6 * 3600);
        assert_eq!(backoff(0, 1), 1);
    }
}
