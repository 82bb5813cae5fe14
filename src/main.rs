//! The `oxidesk` binary: parse the command line and dispatch.

use std::process::ExitCode;

use clap::Parser;

/// The static musl build uses mimalloc. musl's own allocator takes a lock
/// on every call and hands memory back to the kernel eagerly, so under
/// the web server's threads each page spent much of its time in malloc,
/// free and munmap: the shipped binary served the queue page at a third of
/// the rate of a glibc build. `no_thp`: mimalloc would otherwise ask for
/// transparent huge pages, and each touched 2 MiB region then counts whole
/// in resident memory (about 30 MB more at idle).
#[cfg(target_env = "musl")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = oxidesk::cli::Cli::parse();
    oxidesk::cli::run(cli)
}
