//! `oxidesk plugins`: list plugins with their state, run the event
//! dispatcher once, read the delivery log, and release spam.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;

use super::Context;
use crate::plugin::{self, Dispatcher, Registry};
use crate::store;
use crate::tickets::{self, events::Actor};

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Print JSON instead of a table (listing only).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// List plugins with their state (the default).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Hand new events to the plugins and run due jobs once, then exit
    /// (`serve` does this continuously).
    Run,
    /// The delivery log: queued, done and failed jobs, newest first.
    Jobs {
        #[arg(long)]
        plugin: Option<String>,
        /// pending, done or failed.
        #[arg(long)]
        state: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: i64,
        #[arg(long)]
        json: bool,
    },
    /// Put a failed job back in the queue.
    Retry { job: i64 },
    /// Spam: release false positives, or mark a ticket by hand.
    #[command(subcommand)]
    Spam(SpamCommand),
}

#[derive(Debug, clap::Subcommand)]
pub enum SpamCommand {
    /// Clear the spam mark of a ticket: it shows in queues again.
    Release { number: String },
    /// Mark a ticket as spam: it is kept but hidden from queues.
    Mark { number: String },
}

pub fn run(ctx: &Context, args: Args) -> anyhow::Result<ExitCode> {
    let store = ctx.open_store()?;
    match args.command.unwrap_or(Command::List { json: args.json }) {
        Command::List { json } => {
            let registry = Registry::from_config(&ctx.config, Some(store.clone()));
            let rows = plugin::overview(&store, &registry)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
                return Ok(ExitCode::SUCCESS);
            }
            if rows.is_empty() {
                println!("No plugins are built into this binary.");
            }
            println!(
                "{:<10} {:<16} {:>5} {:>8} {:>7}  last error",
                "plugin", "state", "order", "pending", "failed"
            );
            for r in rows {
                let error = match (&r.listing.problem, &r.last_error) {
                    (Some(p), _) => p.clone(),
                    (None, Some(e)) if r.state == "error" => e.clone(),
                    _ => String::new(),
                };
                println!(
                    "{:<10} {:<16} {:>5} {:>8} {:>7}  {}",
                    r.listing.name, r.state, r.listing.order, r.pending_jobs, r.failed_jobs, error
                );
            }
        }
        Command::Run => {
            let registry = Arc::new(Registry::from_config(&ctx.config, Some(store.clone())));
            let tally = Dispatcher::new(store, registry).run_once(store::now())?;
            println!(
                "{} events read, {} jobs queued, {} delivered, {} to retry, {} failed",
                tally.events, tally.queued, tally.delivered, tally.retrying, tally.failed
            );
        }
        Command::Jobs {
            plugin,
            state,
            limit,
            json,
        } => {
            let conn = store.conn()?;
            let jobs = store::plugins::list_jobs(
                &conn,
                plugin.as_deref(),
                state.as_deref(),
                limit.clamp(1, 10_000),
            )?;
            if json {
                println!("{}", serde_json::to_string_pretty(&jobs)?);
                return Ok(ExitCode::SUCCESS);
            }
            for j in jobs {
                println!(
                    "#{} {} {} {} → {} [{}] tries {} status {} {}",
                    j.id,
                    j.plugin,
                    j.event_kind,
                    j.event_id.map(|e| e.to_string()).unwrap_or_default(),
                    j.target,
                    j.state,
                    j.attempts,
                    j.last_status.map(|s| s.to_string()).unwrap_or("-".into()),
                    j.last_error.unwrap_or_default()
                );
            }
        }
        Command::Retry { job } => {
            let conn = store.conn()?;
            if !store::plugins::retry_job(&conn, job, store::now())? {
                anyhow::bail!("job {job} does not exist or has not failed");
            }
            println!("Job {job} is queued again.");
        }
        Command::Spam(cmd) => {
            let (number, mark) = match &cmd {
                SpamCommand::Release { number } => (number, false),
                SpamCommand::Mark { number } => (number, true),
            };
            let ticket = store::tickets::find_by_number(&*store.conn()?, number)?
                .ok_or_else(|| anyhow::anyhow!("there is no ticket {number}"))?;
            let what = || format!("cannot change the spam mark of ticket {number}");
            let changed = if mark {
                let was = ticket.is_spam;
                tickets::mark_spam(&store, &Actor::System, ticket.id).with_context(what)?;
                !was
            } else {
                tickets::release_spam(&store, &Actor::System, ticket.id).with_context(what)?
            };
            match (changed, mark) {
                (true, false) => println!("Ticket {number} is no longer marked as spam."),
                (true, true) => println!("Ticket {number} is marked as spam."),
                (false, false) => println!("Ticket {number} was not marked as spam."),
                (false, true) => println!("Ticket {number} was already marked as spam."),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
