//! Calling into a plugin without trusting it: each call runs on its own
//! thread, panics are caught, and the caller waits only until a deadline.
//!
//! A call that overruns keeps its thread until the plugin returns (a thread
//! cannot be killed safely); the caller has moved on. So that a plugin that
//! hangs for ever cannot pile up threads, a plugin with too many calls still
//! running is not called again until they finish.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use oxidesk_plugin::{Plugin, PluginError};

/// At most this many calls into one plugin may be running at once.
const MAX_IN_FLIGHT: usize = 8;

/// Why a call into a plugin did not produce a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    /// The plugin returned an error.
    Failed(PluginError),
    /// The plugin panicked; the message is the panic's.
    Panicked(String),
    /// No answer before the deadline.
    TimedOut(Duration),
    /// Too many earlier calls are still running; not called.
    Busy,
}

impl CallError {
    /// Worth trying again later (queued jobs): everything but a permanent
    /// or configuration error.
    pub fn is_temporary(&self) -> bool {
        match self {
            CallError::Failed(e) => e.is_temporary(),
            _ => true,
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            CallError::Failed(e) => e.status,
            _ => None,
        }
    }
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Failed(e) => write!(f, "{e}"),
            CallError::Panicked(m) => write!(f, "the plugin panicked: {m}"),
            CallError::TimedOut(d) => write!(f, "the plugin did not answer within {d:?}"),
            CallError::Busy => write!(
                f,
                "the plugin still has {MAX_IN_FLIGHT} calls running; not called"
            ),
        }
    }
}

/// A plugin with the bookkeeping isolation needs.
#[derive(Clone)]
pub struct Guarded {
    pub name: String,
    plugin: Arc<dyn Plugin>,
    in_flight: Arc<AtomicUsize>,
}

/// A call started on its own thread.
pub struct Pending<T> {
    rx: Option<mpsc::Receiver<Result<T, CallError>>>,
    started: Instant,
    early: Option<CallError>,
}

impl Guarded {
    pub fn new(name: String, plugin: Box<dyn Plugin>) -> Guarded {
        Guarded {
            name,
            plugin: Arc::from(plugin),
            in_flight: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Call `f` with the plugin and wait at most `timeout` for it.
    pub fn call<T, F>(&self, timeout: Duration, f: F) -> Result<T, CallError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Plugin) -> Result<T, PluginError> + Send + 'static,
    {
        self.start(f).wait(timeout)
    }

    /// Start `f` on its own thread; collect the answer with [`Pending::wait`].
    pub fn start<T, F>(&self, f: F) -> Pending<T>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Plugin) -> Result<T, PluginError> + Send + 'static,
    {
        let started = Instant::now();
        if self.in_flight.fetch_add(1, Ordering::SeqCst) >= MAX_IN_FLIGHT {
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            return Pending {
                rx: None,
                started,
                early: Some(CallError::Busy),
            };
        }
        let (tx, rx) = mpsc::sync_channel(1);
        let plugin = Arc::clone(&self.plugin);
        let in_flight = Arc::clone(&self.in_flight);
        let spawned = std::thread::Builder::new()
            .name(format!("plugin-{}", self.name))
            .spawn(move || {
                let outcome = catch_unwind(AssertUnwindSafe(|| f(&*plugin)));
                in_flight.fetch_sub(1, Ordering::SeqCst);
                let result = match outcome {
                    Ok(Ok(v)) => Ok(v),
                    Ok(Err(e)) => Err(CallError::Failed(e)),
                    Err(payload) => Err(CallError::Panicked(panic_message(payload.as_ref()))),
                };
                // The caller may have given up waiting; that is fine.
                let _ = tx.send(result);
            });
        match spawned {
            Ok(_) => Pending {
                rx: Some(rx),
                started,
                early: None,
            },
            Err(e) => {
                self.in_flight.fetch_sub(1, Ordering::SeqCst);
                Pending {
                    rx: None,
                    started,
                    early: Some(CallError::Failed(PluginError::temporary(format!(
                        "cannot start a thread for the plugin: {e}"
                    )))),
                }
            }
        }
    }
}

impl<T> Pending<T> {
    /// Wait until `timeout` after the call started.
    pub fn wait(self, timeout: Duration) -> Result<T, CallError> {
        if let Some(e) = self.early {
            return Err(e);
        }
        let Some(rx) = self.rx else {
            return Err(CallError::Busy);
        };
        let left = timeout.saturating_sub(self.started.elapsed());
        match rx.recv_timeout(left) {
            Ok(result) => result,
            Err(mpsc::RecvTimeoutError::Timeout) => Err(CallError::TimedOut(timeout)),
            // The thread ended without sending: only if unwinding failed.
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                Err(CallError::Panicked("the plugin thread died".into()))
            }
        }
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "no message".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxidesk_plugin::{FilterDecision, InboundMail};

    struct Sleepy;
    impl Plugin for Sleepy {
        fn filter_inbound(&self, _: &InboundMail) -> Result<FilterDecision, PluginError> {
            std::thread::sleep(Duration::from_millis(300));
            Ok(FilterDecision::Accept)
        }
    }

    #[test]
    fn panics_timeouts_and_errors_become_values() {
        let g = Guarded::new("t".into(), Box::new(Sleepy));
        let mail = InboundMail::default();
        let m = mail.clone();
        let r = g.call(Duration::from_millis(20), move |p| p.filter_inbound(&m));
        assert_eq!(r, Err(CallError::TimedOut(Duration::from_millis(20))));
        let r = g.call(Duration::from_secs(5), move |p| p.filter_inbound(&mail));
        assert_eq!(r, Ok(FilterDecision::Accept));
        let r: Result<(), _> = g.call(Duration::from_secs(5), |_| panic!("boom"));
        assert_eq!(r, Err(CallError::Panicked("boom".into())));
        let r: Result<(), _> = g.call(Duration::from_secs(5), |_| {
            Err(PluginError::permanent("no"))
        });
        assert!(matches!(r, Err(CallError::Failed(e)) if e.message == "no"));
    }

    #[test]
    fn a_hung_plugin_is_not_called_without_bound() {
        let g = Guarded::new("t".into(), Box::new(Sleepy));
        let pending: Vec<_> = (0..MAX_IN_FLIGHT)
            .map(|_| {
                g.start(|p| {
                    std::thread::sleep(Duration::from_millis(200));
                    p.filter_inbound(&InboundMail::default())
                })
            })
            .collect();
        let r = g.call(Duration::from_secs(1), |p| {
            p.filter_inbound(&InboundMail::default())
        });
        assert_eq!(r, Err(CallError::Busy));
        for p in pending {
            assert!(p.wait(Duration::from_secs(5)).is_ok());
        }
    }
}
