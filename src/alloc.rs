//! Memory allocator tuning for the shipped static (musl) binary, which uses
//! mimalloc as its global allocator (declared in `main.rs`).

/// `mi_option_purge_delay` in mimalloc 3's `mi_option_e` (mimalloc.h). The
/// Rust bindings only name the options of mimalloc 2, whose numbering
/// differs; the test below checks this against the linked library.
#[cfg(target_env = "musl")]
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Give freed memory back to the kernel at once instead of after a delay.
///
/// mimalloc keeps freed pages for a while (and ten times longer inside its
/// arenas) so that the next allocation reuses them without a system call,
/// and only purges them when the allocator is next busy. Both of our
/// processes pay for that in resident memory rather than gaining speed:
/// - `oxidesk pipe` lives for one message: a large one (several MB of raw
///   mail, decoded attachments and SQLite's copies of both) kept every
///   buffer it had freed until exit, and peaked at 38.2 MB instead of
///   27.5 MB;
/// - `oxidesk serve` sat at 50 MB after a sign-in (argon2 verification
///   borrows 19 MiB) and three pages, 36 MB with immediate purging, while
///   wrk on the queue and ticket pages showed no difference beyond the
///   run-to-run noise (1,250-1,710 against 1,370-1,430 req/s).
pub fn release_freed_memory_at_once() {
    #[cfg(target_env = "musl")]
    // SAFETY: sets one of mimalloc's option values; any thread may call it
    // at any time.
    unsafe {
        libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0);
    }
}

/// Hand the pages freed so far back to the kernel now, from every thread's
/// heap mimalloc can reach, instead of when each thread next allocates.
pub fn return_freed_memory() {
    #[cfg(target_env = "musl")]
    // SAFETY: mi_collect may be called from any thread at any time.
    unsafe {
        libmimalloc_sys::mi_collect(true);
    }
}

/// How many times a trim has been asked of every thread (`trim_everywhere`).
static TRIMS_ASKED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

thread_local! {
    static TRIMS_DONE: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Ask every thread that calls [`trim_if_asked`] to hand its freed pages
/// back. `return_freed_memory` reaches only the calling thread's heap (and
/// the heaps of threads that ended): the web server's worker threads keep
/// the pages they emptied under load until they next allocate much, which
/// left a few MB resident in an idle server.
pub fn trim_everywhere() {
    TRIMS_ASKED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    return_freed_memory();
}

/// [`return_freed_memory`] on this thread if a trim was asked since it last
/// did one (and say whether it did); cheap otherwise. The async runtime
/// calls it when a worker goes idle.
pub fn trim_if_asked() -> bool {
    let asked = TRIMS_ASKED.load(std::sync::atomic::Ordering::Relaxed);
    TRIMS_DONE.with(|done| {
        if done.get() == asked {
            return false;
        }
        done.set(asked);
        return_freed_memory();
        true
    })
}

/// Route SQLite's own allocations through mimalloc as well.
///
/// The bundled SQLite calls the C library's `malloc` directly, and in the
/// static binary that is musl's allocator, which maps and unmaps pages for
/// almost every buffer SQLite frees. Opening the database parses the whole
/// schema into many small objects, and a piped message then prepares its
/// statements and copies pages through the WAL; each of those frees cost a
/// `munmap` and each next use a page fault. Must run before the first
/// connection opens (SQLite then initialises itself with these methods); a
/// later call is refused by SQLite and changes nothing.
pub fn route_sqlite_allocations() {
    #[cfg(target_env = "musl")]
    sqlite_mimalloc::install();
}

/// Turn off SQLite's memory statistics.
///
/// With them on (SQLite's default), every allocation and free SQLite makes
/// takes one process-wide mutex to update the counters. Full-text search
/// allocates for every doclist page it reads, so concurrent searches queued
/// on that mutex: in a frame-pointer profile of the search bench, 9% of the
/// server's time went to waking its waiters. Nothing here reads the
/// counters (`sqlite3_memory_used`, soft heap limits). Like
/// `route_sqlite_allocations`, this must run before SQLite initialises.
pub fn skip_sqlite_memory_statistics() {
    // SAFETY: SQLITE_CONFIG_MEMSTATUS takes one int. Refused with
    // SQLITE_MISUSE once SQLite is initialised, which changes nothing.
    let rc = unsafe {
        rusqlite::ffi::sqlite3_config(rusqlite::ffi::SQLITE_CONFIG_MEMSTATUS, 0 as std::ffi::c_int)
    };
    if rc != rusqlite::ffi::SQLITE_OK {
        tracing::debug!(
            rc,
            "SQLite was already initialised; it keeps its memory statistics"
        );
    }
}

#[cfg(target_env = "musl")]
mod sqlite_mimalloc {
    use libmimalloc_sys::{mi_free, mi_good_size, mi_malloc, mi_realloc, mi_usable_size};
    use rusqlite::ffi;
    use std::ffi::{c_int, c_void};

    unsafe extern "C" fn x_malloc(n: c_int) -> *mut c_void {
        // SAFETY: mimalloc returns null or a block of at least `n` bytes
        // aligned to 16, more than SQLite's required 8.
        unsafe { mi_malloc(n.max(0) as usize) }
    }

    unsafe extern "C" fn x_free(p: *mut c_void) {
        // SAFETY: SQLite only frees blocks it got from `x_malloc` or
        // `x_realloc`.
        unsafe { mi_free(p) }
    }

    unsafe extern "C" fn x_realloc(p: *mut c_void, n: c_int) -> *mut c_void {
        // SAFETY: as for `x_free`; SQLite never passes a null `p` here.
        unsafe { mi_realloc(p, n.max(0) as usize) }
    }

    unsafe extern "C" fn x_size(p: *mut c_void) -> c_int {
        // SAFETY: `p` is a live block from this allocator. SQLite never
        // asks for more than 2^31 bytes, so the size fits.
        unsafe { mi_usable_size(p) as c_int }
    }

    unsafe extern "C" fn x_roundup(n: c_int) -> c_int {
        // SAFETY: a pure function of its argument.
        let size = unsafe { mi_good_size(n.max(0) as usize) };
        c_int::try_from(size).unwrap_or(n)
    }

    unsafe extern "C" fn x_init(_: *mut c_void) -> c_int {
        ffi::SQLITE_OK
    }

    unsafe extern "C" fn x_shutdown(_: *mut c_void) {}

    pub(super) fn install() {
        let methods = ffi::sqlite3_mem_methods {
            xMalloc: Some(x_malloc),
            xFree: Some(x_free),
            xRealloc: Some(x_realloc),
            xSize: Some(x_size),
            xRoundup: Some(x_roundup),
            xInit: Some(x_init),
            xShutdown: Some(x_shutdown),
            pAppData: std::ptr::null_mut(),
        };
        // SAFETY: SQLITE_CONFIG_MALLOC takes a pointer to a methods struct
        // and copies it before returning. sqlite3_config is refused
        // (SQLITE_MISUSE) once SQLite is initialised, which leaves its
        // default allocator in place: slower, never wrong.
        let rc = unsafe {
            ffi::sqlite3_config(
                ffi::SQLITE_CONFIG_MALLOC,
                &methods as *const ffi::sqlite3_mem_methods,
            )
        };
        if rc != ffi::SQLITE_OK {
            tracing::debug!(
                rc,
                "SQLite was already initialised; it keeps its own allocator"
            );
        }
    }
}

#[cfg(all(test, target_env = "musl"))]
mod tests {
    use super::{trim_everywhere, trim_if_asked};
    use rusqlite::ffi;

    /// Set by `sqlite_allocates_from_mimalloc` for the copy of the test
    /// binary it starts: SQLite's allocator can only be chosen before
    /// SQLite initialises, and other tests in this process open databases.
    const CHILD: &str = "OXIDESK_TEST_SQLITE_ALLOCATOR_CHILD";

    #[test]
    fn sqlite_allocates_from_mimalloc() {
        if std::env::var_os(CHILD).is_some() {
            super::route_sqlite_allocations();
            let mut methods = std::mem::MaybeUninit::<ffi::sqlite3_mem_methods>::zeroed();
            // SAFETY: GETMALLOC writes the current methods into the struct.
            let rc =
                unsafe { ffi::sqlite3_config(ffi::SQLITE_CONFIG_GETMALLOC, methods.as_mut_ptr()) };
            assert_eq!(rc, ffi::SQLITE_OK);
            // SAFETY: filled in by SQLite above.
            let methods = unsafe { methods.assume_init() };
            let malloc = methods.xMalloc.expect("an xMalloc");
            let free = methods.xFree.expect("an xFree");
            // SAFETY: the pair SQLite itself would call.
            unsafe {
                let p = malloc(100);
                assert!(!p.is_null());
                assert!(libmimalloc_sys::mi_is_in_heap_region(p));
                free(p);
            }
            // And SQLite still works on top of it.
            let dir = tempfile::tempdir().unwrap();
            let conn = rusqlite::Connection::open(dir.path().join("a.db")).unwrap();
            conn.execute_batch("CREATE TABLE t(x); INSERT INTO t VALUES (randomblob(100000));")
                .unwrap();
            let n: i64 = conn
                .query_row("SELECT length(x) FROM t", [], |r| r.get(0))
                .unwrap();
            assert_eq!(n, 100_000);
            return;
        }
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "alloc::tests::sqlite_allocates_from_mimalloc",
                "--test-threads=1",
            ])
            .env(CHILD, "1")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("1 passed"),
            "child test failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    #[test]
    fn the_purge_delay_option_is_the_one_we_set() {
        // mimalloc 3's default purge delay is 1000 ms; no other option of
        // its enum defaults to 1000 (guards against a renumbering).
        let value = unsafe { libmimalloc_sys::mi_option_get(super::MI_OPTION_PURGE_DELAY) };
        assert_eq!(value, 1000);
    }

    #[test]
    fn each_thread_trims_once_per_request() {
        std::thread::spawn(|| {
            trim_everywhere();
            assert!(trim_if_asked(), "asked since this thread last trimmed");
            assert!(!trim_if_asked(), "nothing asked since");
            trim_everywhere();
            assert!(trim_if_asked());
        })
        .join()
        .unwrap();
        // Another thread has its own count.
        std::thread::spawn(|| assert!(trim_if_asked()))
            .join()
            .unwrap();
    }
}
