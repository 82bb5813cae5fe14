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

#[cfg(all(test, target_env = "musl"))]
mod tests {
    #[test]
    fn the_purge_delay_option_is_the_one_we_set() {
        // mimalloc 3's default purge delay is 1000 ms; no other option of
        // its enum defaults to 1000 (guards against a renumbering).
        let value = unsafe { libmimalloc_sys::mi_option_get(super::MI_OPTION_PURGE_DELAY) };
        assert_eq!(value, 1000);
    }
}
