//! Memory back to the system while nobody uses the web UI.
//!
//! Under load each pooled database connection fills its page cache and
//! keeps its prepared statements; that is what makes the next page fast.
//! A helpdesk is idle most of the night and often most of the day, and on a
//! 512 MB VPS the memory is worth more to the rest of the machine then:
//! after `IDLE` without a request, the trimmer closes the idle connections
//! (caches, statements, schema and all) and hands the freed pages back to
//! the kernel. The first request afterwards opens a connection, reads its
//! pages from the kernel's cache and prepares its statements again, about a
//! millisecond.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::background::TaskHandle;
use crate::store::Store;

/// How long the web UI must go without a request before the trim.
pub const IDLE: Duration = Duration::from_secs(20);

/// How often the trimmer looks.
const TICK: Duration = Duration::from_secs(5);

fn start() -> Instant {
    static START: OnceLock<Instant> = OnceLock::new();
    *START.get_or_init(Instant::now)
}

/// Milliseconds since `start()` at the latest request.
static LAST_REQUEST_MS: AtomicU64 = AtomicU64::new(0);

fn now_ms() -> u64 {
    u64::try_from(start().elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Note a request (the request fairing calls this for every request).
pub fn touch() {
    LAST_REQUEST_MS.store(now_ms(), Ordering::Relaxed);
}

/// What the trimmer decides at one tick: trim once per quiet spell, when the
/// last request is `IDLE` old and came after the previous trim.
fn due(last_request_ms: u64, last_trim_ms: Option<u64>, now_ms: u64, idle: Duration) -> bool {
    let quiet = now_ms.saturating_sub(last_request_ms) >= idle.as_millis() as u64;
    quiet && last_trim_ms.is_none_or(|t| last_request_ms > t)
}

/// The web server's async runtime, whose workers the trimmer wakes.
static RUNTIME: OnceLock<rocket::tokio::runtime::Handle> = OnceLock::new();

/// Tasks spawned to wake the workers: more than there are workers, since
/// one idle worker may take several.
const WAKE_TASKS: usize = 8;

/// Let the trimmer wake the workers of `runtime` (`serve` does).
pub fn set_runtime(runtime: rocket::tokio::runtime::Handle) {
    let _ = RUNTIME.set(runtime);
}

/// Start the trimmer for `store` (`serve` does); it stops when the handle
/// drops.
pub fn spawn(store: Store) -> TaskHandle {
    touch();
    let mut last_trim: Option<u64> = None;
    crate::background::every("oxidesk-idle", TICK, move || {
        let now = now_ms();
        if !due(
            LAST_REQUEST_MS.load(Ordering::Relaxed),
            last_trim,
            now,
            IDLE,
        ) {
            return;
        }
        let trimmed = store.release_idle_memory();
        crate::web::staff::ticket_html::forget_sanitised();
        crate::alloc::trim_everywhere();
        // The workers are asleep: give each something to wake for, so
        // they trim when they go back to sleep (see `serve`).
        if let Some(runtime) = RUNTIME.get() {
            for _ in 0..WAKE_TASKS {
                runtime.spawn(async {});
            }
        }
        last_trim = Some(now);
        tracing::debug!(
            connections = trimmed,
            "idle: closed idle connections, released cached memory"
        );
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_once_per_quiet_spell() {
        let idle = Duration::from_secs(20);
        // Busy: the last request is recent.
        assert!(!due(100_000, None, 110_000, idle));
        // Quiet for 20 s, never trimmed: trim.
        assert!(due(100_000, None, 120_000, idle));
        // Trimmed at 120 s with no request since: not again.
        assert!(!due(100_000, Some(120_000), 180_000, idle));
        // A request at 130 s, quiet until 150 s: trim again.
        assert!(!due(130_000, Some(120_000), 140_000, idle));
        assert!(due(130_000, Some(120_000), 150_000, idle));
    }

    /// Bytes of page cache the connection holds (SQLITE_DBSTATUS_CACHE_USED).
    fn cache_used(c: &rusqlite::Connection) -> i32 {
        let (mut cur, mut hi) = (0, 0);
        // SAFETY: the handle is valid while `c` lives; sqlite3_db_status
        // only reads counters.
        let rc = unsafe { rusqlite::ffi::sqlite3_db_status(c.handle(), 1, &mut cur, &mut hi, 0) };
        assert_eq!(rc, 0);
        cur
    }

    #[test]
    fn idle_connections_are_closed() {
        let dir = tempfile::tempdir().unwrap();
        let store =
            Store::open(&crate::store::StoreOptions::new(dir.path().join("idle.db"))).unwrap();
        let before = {
            let conn = store.conn().unwrap();
            conn.query_row("SELECT count(*) FROM tickets", [], |r| r.get::<_, i64>(0))
                .unwrap();
            // A temporary table lives exactly as long as its connection.
            conn.execute_batch("CREATE TEMP TABLE marker(x)").unwrap();
            cache_used(&conn)
        };
        assert!(before > 0, "the query read pages into the cache");
        let has_marker = |c: &rusqlite::Connection| {
            c.query_row(
                "SELECT count(*) FROM temp.sqlite_schema WHERE name = 'marker'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .unwrap()
                == 1
        };
        assert!(has_marker(&store.conn().unwrap()), "the pool kept it");
        assert_eq!(store.release_idle_memory(), 1);
        let conn = store.conn().unwrap();
        assert!(!has_marker(&conn), "the idle connection was closed");
        let after = cache_used(&conn);
        assert!(after < before, "cache {after} B after, {before} B before");
        // Nothing left idle to close while this one is in use.
        assert_eq!(store.release_idle_memory(), 0);
    }
}
