//! WAL checkpoints off the commit path, for the long-running server.
//!
//! In WAL mode every commit appends pages to the `-wal` file, and now and
//! then those pages must be copied back into the database file (a
//! checkpoint). SQLite's default runs the checkpoint inside the commit that
//! takes the log past 1,000 pages, so that commit also copies the whole log
//! and syncs the database file before it returns. For a piped message of a
//! few megabytes that was a fifth of its time, paid by whichever message
//! happened to cross the line, and the MTA (or the agent) waited for it.
//!
//! Every connection the store opens gets `on_commit` as its WAL hook instead
//! of SQLite's. While a checkpointer started by `spawn` runs in the process
//! (`oxidesk serve` starts one), the hook only wakes it; the checkpoint then
//! runs on its own thread and connection while the writer answers, and
//! writers go on appending to the log meanwhile (a checkpoint blocks
//! neither). In any other process (`oxidesk pipe` filing a message itself,
//! the CLI, tests) the hook does what SQLite's own does: checkpoint in the
//! commit. One process runs one store's checkpointer; `serve` opens one
//! store.

use std::os::raw::c_int;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use rusqlite::hooks::Wal;

use super::Store;

/// Log size, in pages, that calls for a checkpoint (SQLite's default).
pub const PAGES: c_int = 1000;

struct Signal {
    state: Mutex<State>,
    wake: Condvar,
}

struct State {
    /// Checkpointers running in this process.
    running: usize,
    /// A commit left the log at `PAGES` or more since the last checkpoint
    /// began.
    wanted: bool,
}

static SIGNAL: Signal = Signal {
    state: Mutex::new(State {
        running: 0,
        wanted: false,
    }),
    wake: Condvar::new(),
};

/// Checkpoints the background threads have run (the tests watch it).
pub static COMPLETED: AtomicU64 = AtomicU64::new(0);

fn state() -> std::sync::MutexGuard<'static, State> {
    SIGNAL.state.lock().unwrap_or_else(|p| p.into_inner())
}

/// The WAL hook (see the module comment): called after every commit with
/// the number of pages in the log.
pub(super) fn on_commit(wal: &Wal, pages: c_int) -> rusqlite::Result<()> {
    if pages < PAGES {
        return Ok(());
    }
    {
        let mut s = state();
        if s.running > 0 {
            s.wanted = true;
            SIGNAL.wake.notify_all();
            return Ok(());
        }
    }
    // As SQLite's own hook: a checkpoint that cannot finish now (a reader
    // still needs old pages) is simply tried again after the next commit,
    // and its failure is no failure of the commit that already happened.
    let _ = wal.checkpoint();
    Ok(())
}

/// A running checkpointer; dropping it stops the thread (after the
/// checkpoint in progress) and commits checkpoint inline again.
pub struct Checkpointer {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// Start checkpointing `store` on a thread of its own.
pub fn spawn(store: Store) -> Checkpointer {
    let stop = Arc::new(AtomicBool::new(false));
    state().running += 1;
    let flag = stop.clone();
    let thread = std::thread::Builder::new()
        .name("oxidesk-checkpoint".into())
        .spawn(move || run(&store, &flag))
        .map_err(|e| {
            state().running -= 1;
            tracing::warn!(error = %e, "cannot start the checkpointer; commits checkpoint themselves");
        })
        .ok();
    Checkpointer { stop, thread }
}

fn run(store: &Store, stop: &AtomicBool) {
    loop {
        {
            let mut s = state();
            while !s.wanted && !stop.load(Ordering::SeqCst) {
                s = SIGNAL.wake.wait(s).unwrap_or_else(|p| p.into_inner());
            }
            if stop.load(Ordering::SeqCst) {
                return;
            }
            s.wanted = false;
        }
        match checkpoint(store) {
            Ok(_) => {
                COMPLETED.fetch_add(1, Ordering::SeqCst);
            }
            Err(e) => {
                tracing::warn!(error = %e, "checkpointing the database log failed; will retry after the next commit")
            }
        }
    }
}

/// Copy what the log holds into the database file, without waiting for
/// readers or writers: (pages in the log, pages now in the database).
pub fn checkpoint(store: &Store) -> super::StoreResult<(i64, i64)> {
    let conn = store.conn()?;
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
        Ok((r.get(1)?, r.get(2)?))
    })
    .map_err(|e| super::StoreError::wrap("checkpointing the database log", e))
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        let Some(thread) = self.thread.take() else {
            return;
        };
        self.stop.store(true, Ordering::SeqCst);
        {
            let mut s = state();
            s.running -= 1;
            SIGNAL.wake.notify_all();
        }
        let _ = thread.join();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreOptions;
    use std::time::{Duration, Instant};

    fn write_pages(store: &Store, rows: usize) {
        let conn = store.conn().unwrap();
        conn.execute_batch("CREATE TABLE IF NOT EXISTS filler(x BLOB)")
            .unwrap();
        for _ in 0..rows {
            conn.execute("INSERT INTO filler VALUES (zeroblob(200000))", [])
                .unwrap();
        }
    }

    fn file_len(path: &std::path::Path) -> u64 {
        std::fs::metadata(path).unwrap().len()
    }

    /// Checkpointers are process-wide; both cases share one test so that
    /// no other test of this module changes what it sees. Until a page is
    /// checkpointed it lives only in the log, so the database file's size
    /// shows what was checkpointed.
    #[test]
    fn commits_checkpoint_inline_until_a_checkpointer_runs() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("inline.db");
        let store = Store::open(&StoreOptions::new(&a)).unwrap();
        // 60 rows of 200 KB: about 3,000 pages, three times the threshold.
        write_pages(&store, 60);
        assert!(
            file_len(&a) > 8_000_000,
            "the commits copied the log into the file themselves: {} bytes",
            file_len(&a)
        );
        drop(store);

        let b = dir.path().join("background.db");
        let store = Store::open(&StoreOptions::new(&b)).unwrap();
        let before = COMPLETED.load(Ordering::SeqCst);
        let ck = spawn(store.clone());
        write_pages(&store, 60);
        let deadline = Instant::now() + Duration::from_secs(20);
        while file_len(&b) < 8_000_000 {
            assert!(
                Instant::now() < deadline,
                "the checkpointer never copied the log: {} bytes",
                file_len(&b)
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(COMPLETED.load(Ordering::SeqCst) > before);
        drop(ck);
        assert_eq!(state().running, 0, "stopping unregisters the checkpointer");
    }
}
