//! `oxidesk sla`: run the overdue task once (for cron, when `serve` is not
//! running or as a belt-and-braces), and list SLA plans.

use std::fmt::Write as _;
use std::process::ExitCode;

use super::Context;
use crate::store;
use crate::tickets::sla::overdue;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Mark tickets past due as overdue, alert and escalate (what `serve`
    /// does every 30 seconds).
    Run {
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List SLA plans and schedules.
    Plans,
}

pub fn run(ctx: &Context, cmd: Command) -> anyhow::Result<ExitCode> {
    let store = ctx.open_store()?;
    let mut out = String::new();
    match cmd {
        Command::Run { json } => {
            let s = overdue::run(&store, store::now())?;
            if json {
                let _ = writeln!(out, "{}", serde_json::to_string(&s)?);
            } else {
                let _ = writeln!(
                    out,
                    "{} ticket(s) marked overdue, {} raised in priority, {} reassigned",
                    s.marked, s.priority_raised, s.reassigned
                );
            }
        }
        Command::Plans => {
            let conn = store.conn()?;
            let default = store::sla::default_plan(&conn)?;
            for p in store::sla::list_plans(&conn)? {
                let _ = writeln!(
                    out,
                    "{:>4}  {}{}  grace {}h{:02}  schedule {}{}",
                    p.id,
                    p.name,
                    if default == Some(p.id) {
                        " (default)"
                    } else {
                        ""
                    },
                    p.grace_minutes / 60,
                    p.grace_minutes % 60,
                    p.schedule_name,
                    if p.active { "" } else { "  [inactive]" }
                );
            }
            for s in store::sla::list_schedules(&conn)? {
                let _ = writeln!(
                    out,
                    "schedule {:>4}  {}  {}{}",
                    s.id,
                    s.name,
                    s.timezone,
                    if s.always_open { "  (always open)" } else { "" }
                );
            }
        }
    }
    super::ticket::emit(&out)?;
    Ok(ExitCode::SUCCESS)
}
