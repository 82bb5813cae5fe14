//! `oxidesk check`: is this installation sane? Configuration, database
//! integrity, schema version and search index consistency, in a short
//! report; a non-zero exit when anything is wrong (for cron and monitors).

use std::process::ExitCode;

use super::Context;
use crate::store::{self, health, Store};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Rebuild search indexes found inconsistent.
    #[arg(long)]
    pub repair: bool,
}

pub fn run(ctx: &Context, args: Args) -> anyhow::Result<ExitCode> {
    // The configuration was loaded before we got here.
    println!("ok    configuration loaded");
    let mut problems = 0;
    let path = ctx.config.database.path.clone();
    if !path.exists() {
        println!(
            "FAIL  database {} does not exist (run `oxidesk migrate` to create it)",
            path.display()
        );
        return Ok(ExitCode::from(1));
    }
    let mut opts = ctx.config.store_options();
    opts.migrate = false;
    opts.max_connections = 1;
    let store = match Store::open(&opts) {
        Ok(s) => s,
        Err(e) => {
            println!("FAIL  database {} cannot be opened: {e}", path.display());
            return Ok(ExitCode::from(1));
        }
    };
    println!("ok    database {} opens", path.display());
    let conn = store.conn()?;
    let mut report = |ok: bool, line: String| {
        if ok {
            println!("ok    {line}");
        } else {
            println!("FAIL  {line}");
            problems += 1;
        }
    };

    match health::quick_check(&conn) {
        Ok(msgs) if msgs == ["ok"] => report(true, "integrity (PRAGMA quick_check)".into()),
        Ok(msgs) => report(false, format!("integrity: {}", msgs.join("; "))),
        Err(e) => report(false, format!("integrity check failed: {e}")),
    }
    let latest = health::latest_schema_version();
    match (
        store::schema_version(&conn),
        store::pending_migrations(&conn),
    ) {
        (Ok(v), Ok(p)) if p.is_empty() && v <= latest => {
            report(true, format!("schema version {v} is current"))
        }
        (Ok(_), Ok(p)) if !p.is_empty() => {
            let list: Vec<String> = p
                .iter()
                .map(|m| format!("{:04}_{}", m.version, m.name))
                .collect();
            report(
                false,
                format!(
                    "migrations not applied: {}: run `oxidesk migrate`",
                    list.join(", ")
                ),
            )
        }
        (Ok(v), Ok(_)) => report(
            false,
            format!(
                "schema version {v} is newer than this binary knows ({latest}): upgrade oxidesk"
            ),
        ),
        (Err(e), _) | (_, Err(e)) => report(false, format!("schema version unreadable: {e}")),
    }
    for table in health::FTS_TABLES {
        match health::fts_check(&conn, table) {
            Ok(()) => report(true, format!("search index {table} matches its table")),
            Err(e) if args.repair => match health::fts_rebuild(&conn, table) {
                Ok(()) => println!("fixed search index {table} was inconsistent and is rebuilt"),
                Err(r) => report(
                    false,
                    format!("search index {table}: {e}; rebuild failed: {r}"),
                ),
            },
            Err(e) => report(
                false,
                format!("search index {table} is inconsistent ({e}): run `oxidesk check --repair`"),
            ),
        }
    }
    match health::journal_mode(&conn) {
        Ok(m) => report(m.eq_ignore_ascii_case("wal"), format!("journal mode {m}")),
        Err(e) => report(false, format!("journal mode unreadable: {e}")),
    }
    match health::quarantined_count(&conn) {
        Ok(0) => report(true, "quarantine is empty".into()),
        Ok(n) => println!("note  {n} message(s) in quarantine (oxidesk quarantine list)"),
        Err(e) => report(false, format!("quarantine unreadable: {e}")),
    }
    if problems > 0 {
        println!("{problems} problem(s) found");
        Ok(ExitCode::from(1))
    } else {
        println!("all checks passed");
        Ok(ExitCode::SUCCESS)
    }
}
