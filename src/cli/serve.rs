//! `oxidesk serve`: the web server (staff UI, and what other areas mount).

use std::process::ExitCode;

use anyhow::Context as _;

use super::Context;
use crate::store::{staff, Store};
use crate::web::auth;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address and port to listen on (overrides server.listen).
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: Option<String>,
}

/// When no staff exist, create an administrator with a one-time password
/// (changed at first sign-in). Returns the address and password.
pub fn first_run_admin(store: &Store) -> anyhow::Result<Option<(String, String)>> {
    let conn = store.conn()?;
    if staff::count(&conn)? > 0 {
        return Ok(None);
    }
    let email = std::env::var("OXIDESK_ADMIN_EMAIL")
        .ok()
        .map(|e| e.trim().to_string())
        .filter(|e| e.contains('@'))
        .unwrap_or_else(|| "admin@localhost".to_string());
    let password = auth::random_password();
    let hash = auth::hash_password(&password).map_err(anyhow::Error::msg)?;
    let id = staff::create(&conn, &email, "Administrator", &hash, true, true)?;
    // The first administrator works in the default department.
    for d in staff::list_departments(&conn)? {
        staff::set_membership(&conn, id, d.id, true)?;
    }
    Ok(Some((email, password)))
}

/// Threads of the runtime's blocking pool (database work, plugin calls).
const BLOCKING_THREADS: usize = 8;

/// glibc gives each thread that allocates its own malloc arena (up to eight
/// per core), and memory freed in one arena is not reused by another: under
/// load the server's resident memory grew by an arena's worth per blocking
/// thread. Two arenas are plenty for two async workers and a few database
/// threads.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn limit_malloc_arenas() {
    /// `M_ARENA_MAX` from glibc's malloc.h.
    const M_ARENA_MAX: i32 = -8;
    extern "C" {
        fn mallopt(param: i32, value: i32) -> i32;
    }
    // SAFETY: mallopt only sets an allocator parameter; it is called once,
    // before the server's threads start.
    unsafe {
        mallopt(M_ARENA_MAX, 2);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn limit_malloc_arenas() {}

pub fn run(ctx: &Context, args: Args) -> anyhow::Result<ExitCode> {
    limit_malloc_arenas();
    let mut config = ctx.config.clone();
    if let Some(listen) = args.listen {
        config.server.listen = listen;
    }
    let store = ctx.open_store().with_context(|| {
        format!(
            "cannot open the database {}",
            config.database.path.display()
        )
    })?;
    let base = if config.server.base_url.trim().is_empty() {
        format!("http://{}", config.server.listen)
    } else {
        config.server.base_url.trim_end_matches('/').to_string()
    };
    if let Some((email, password)) = first_run_admin(&store)? {
        println!("No staff accounts existed, so an administrator was created.");
        println!("  Sign in at: {base}/login");
        println!("  Email:      {email}");
        println!(
            "  Password:   {password}   (one-time: you will choose your own at first sign-in)"
        );
    }
    // Background work beside the web server: the outbox worker delivers
    // queued mail, the plugin dispatcher feeds events to plugins. Both stop
    // when their handles drop, after the server has shut down.
    let outbox = crate::mail::send::worker::spawn(store.clone(), config.clone());
    // The overdue task marks tickets past due within a minute.
    let overdue =
        crate::tickets::sla::overdue::spawn(store.clone(), crate::tickets::sla::overdue::INTERVAL);
    // Memory back to the kernel while the web UI goes unused.
    let trimmer = crate::web::idle::spawn(store.clone());
    // Commits append to the log; this thread copies it into the database
    // file, so no request or piped message waits for that.
    // Declared before the intake socket, so it stops after the socket's last
    // commits.
    let _checkpointer = crate::store::checkpoint::spawn(store.clone());
    let (registry, dispatcher) = crate::plugin::start(&config, &store)
        .context("cannot start the plugin event dispatcher")?;
    // `oxidesk pipe` hands messages to this process when it can.
    let _intake_socket = config
        .mail
        .intake_socket
        .then(|| {
            let opts = crate::tickets::intake::IntakeOptions {
                max_message_bytes: config.mail.max_message_bytes,
                plugins: Some(std::sync::Arc::clone(&registry)),
            };
            match crate::intake_socket::Server::start(store.clone(), opts, &config.database.path) {
                Ok(server) => {
                    tracing::info!(socket = %server.path().display(), "taking piped mail on the intake socket");
                    Some(server)
                }
                Err(e) => {
                    tracing::warn!(error = %e, "no intake socket: `oxidesk pipe` will open the database itself");
                    None
                }
            }
        })
        .flatten();
    let rocket = crate::web::build(store, config.clone())?.manage(registry);
    let runtime = rocket::tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        // Writes, and reads that find no idle connection, run on the
        // blocking pool (web::db, web::read), and the store holds few
        // connections: more threads than that only
        // queue for a connection, each with its own stack and malloc arena
        // (tokio's default allows 512).
        .max_blocking_threads(BLOCKING_THREADS)
        .thread_name("oxidesk-web")
        // A worker going idle hands back the memory it freed under load
        // when the idle trimmer asked for it (web::idle).
        .on_thread_park(|| {
            crate::alloc::trim_if_asked();
        })
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    crate::web::idle::set_runtime(runtime.handle().clone());
    println!("Oxidesk is listening on {base}");
    tracing::info!(listen = %config.server.listen, "serving");
    runtime.block_on(async move {
        rocket
            .launch()
            .await
            .map(|_| ())
            .map_err(|e| anyhow::anyhow!("the web server stopped: {e}"))
    })?;
    drop(trimmer);
    drop(dispatcher);
    drop(outbox);
    drop(overdue);
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}
