//! Periodic tasks beside the web server (the overdue check, the idle
//! trimmer): a named thread runs a job at a fixed interval until its handle
//! drops.

use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

/// A running periodic task; dropping the handle stops it and waits for the
/// current run to finish.
pub struct TaskHandle {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for TaskHandle {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Run `job` at once and then every `interval`, on a thread named `name`,
/// until the handle drops. A thread that cannot start is logged, and the
/// server runs on without the task.
pub fn every(name: &str, interval: Duration, mut job: impl FnMut() + Send + 'static) -> TaskHandle {
    let (tx, rx) = mpsc::channel::<()>();
    let thread = std::thread::Builder::new()
        .name(name.into())
        .spawn(move || loop {
            job();
            match rx.recv_timeout(interval) {
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                _ => return,
            }
        })
        .map_err(|e| tracing::error!(task = name, error = %e, "cannot start a background task"))
        .ok();
    TaskHandle {
        stop: Some(tx),
        thread,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;

    #[test]
    fn runs_at_once_then_stops_when_dropped() {
        let runs = Arc::new(AtomicU32::new(0));
        let counter = runs.clone();
        let handle = every("test-task", Duration::from_secs(3600), move || {
            counter.fetch_add(1, Ordering::SeqCst);
        });
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while runs.load(Ordering::SeqCst) == 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        // Dropping returns promptly although the next run is an hour away.
        let t0 = std::time::Instant::now();
        drop(handle);
        assert!(t0.elapsed() < Duration::from_secs(5));
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    }
}
