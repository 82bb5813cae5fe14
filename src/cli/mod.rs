//! Command-line interface: one file per subcommand. Each returns an exit
//! code; errors reach the user as one sentence on stderr.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::Config;
use crate::store::{Store, StoreResult};

pub mod apikey;
pub mod backup;
pub mod check;
pub mod dev;
pub mod migrate;
pub mod outbox;
pub mod pipe;
pub mod plugins;
pub mod quarantine;
pub mod serve;
pub mod settings;
pub mod sla;
pub mod staff;
pub mod ticket;

/// sysexits.h codes used where a mail transfer agent reads our exit code.
pub mod sysexits {
    pub const EX_OK: u8 = 0;
    pub const EX_USAGE: u8 = 64;
    pub const EX_DATAERR: u8 = 65;
    pub const EX_SOFTWARE: u8 = 70;
    pub const EX_CANTCREAT: u8 = 73;
    pub const EX_IOERR: u8 = 74;
    pub const EX_TEMPFAIL: u8 = 75;
    pub const EX_CONFIG: u8 = 78;
}

#[derive(Debug, Parser)]
#[command(name = "oxidesk", version = crate::cli::version(), about = "A self-hosted support ticket system")]
pub struct Cli {
    /// The SQLite database file (default ./oxidesk.db).
    #[arg(long, global = true, env = "OXIDESK_DB", value_name = "PATH")]
    pub db: Option<PathBuf>,
    /// A TOML configuration file.
    #[arg(long, global = true, env = "OXIDESK_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the web server (staff UI, portal, API) and background workers.
    Serve(serve::Args),
    /// Read one email on stdin (as an MTA pipe delivers it) and file it.
    Pipe(pipe::Args),
    /// Apply pending database migrations.
    Migrate(migrate::Args),
    /// Manage staff accounts.
    #[command(subcommand)]
    Staff(staff::Command),
    /// Manage API keys.
    #[command(subcommand)]
    Apikey(apikey::Command),
    /// Copy the database to FILE while the helpdesk keeps running.
    Backup(backup::BackupArgs),
    /// Replace the database with a backup.
    Restore(backup::RestoreArgs),
    /// List and show tickets.
    #[command(subcommand)]
    Ticket(ticket::Command),
    /// Messages that could not be filed.
    #[command(subcommand)]
    Quarantine(quarantine::Command),
    /// Outgoing mail.
    #[command(subcommand)]
    Outbox(outbox::Command),
    /// Check the configuration and the database.
    Check(check::Args),
    /// Developer tools (seeding test data).
    #[command(subcommand)]
    Dev(dev::Command),
    /// Plugins: list them, run their queue once, delivery log, spam release.
    Plugins(plugins::Args),
    /// Helpdesk settings: list, get, set (checked as on the admin page).
    #[command(subcommand)]
    Settings(settings::Command),
    /// SLA: run the overdue task once (for cron), list plans.
    #[command(subcommand)]
    Sla(sla::Command),
}

/// Version string with the git commit the binary was built from.
pub const fn version() -> &'static str {
    concat!(
        env!("CARGO_PKG_VERSION"),
        " (commit ",
        env!("OXIDESK_GIT_COMMIT"),
        ")"
    )
}

/// What every subcommand gets: the loaded configuration.
pub struct Context {
    pub config: Config,
}

impl Context {
    /// Open the database, applying pending migrations.
    pub fn open_store(&self) -> StoreResult<Store> {
        Store::open(&self.config.store_options())
    }
}

/// Load configuration, set up logging, run the command, map errors to an
/// exit code and a sentence on stderr.
pub fn run(cli: Cli) -> ExitCode {
    crate::alloc::release_freed_memory_at_once();
    crate::alloc::route_sqlite_allocations();
    crate::alloc::skip_sqlite_memory_statistics();
    let mut config = match Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("oxidesk: {e}");
            return ExitCode::from(sysexits::EX_CONFIG);
        }
    };
    if let Some(db) = cli.db {
        config.database.path = db;
    }
    init_logging(&config);
    crate::mail::send::configure(&config);
    let ctx = Context { config };
    let result = match cli.command {
        Command::Serve(a) => serve::run(&ctx, a),
        Command::Pipe(a) => pipe::run(&ctx, a),
        Command::Migrate(a) => migrate::run(&ctx, a),
        Command::Staff(c) => staff::run(&ctx, c),
        Command::Apikey(c) => apikey::run(&ctx, c),
        Command::Backup(a) => backup::run_backup(&ctx, a),
        Command::Restore(a) => backup::run_restore(&ctx, a),
        Command::Ticket(c) => ticket::run(&ctx, c),
        Command::Quarantine(c) => quarantine::run(&ctx, c),
        Command::Outbox(c) => outbox::run(&ctx, c),
        Command::Check(a) => check::run(&ctx, a),
        Command::Dev(c) => dev::run(&ctx, c),
        Command::Plugins(a) => plugins::run(&ctx, a),
        Command::Settings(c) => settings::run(&ctx, c),
        Command::Sla(c) => sla::run(&ctx, c),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("oxidesk: {e:#}");
            ExitCode::from(sysexits::EX_SOFTWARE)
        }
    }
}

fn init_logging(config: &Config) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("OXIDESK_LOG")
        .unwrap_or_else(|_| EnvFilter::new(&config.log.level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    let _ = if config.log.format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
