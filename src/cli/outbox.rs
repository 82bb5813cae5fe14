//! `oxidesk outbox`: look at outgoing mail, deliver what is due (for cron
//! setups without `serve`), and queue failed mail again.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context as _;

use super::{sysexits, Context};
use crate::mail::send::transport::Transport;
use crate::mail::send::worker;
use crate::store;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// List outgoing mail, newest first (failed mail shows the server's answer).
    List {
        /// Only this state: queued, sending, sent or failed.
        #[arg(long)]
        state: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: i64,
        #[arg(long)]
        json: bool,
    },
    /// Show one message; `--raw` prints it exactly as it will be sent.
    Show {
        id: i64,
        #[arg(long)]
        raw: bool,
    },
    /// Deliver every message that is due now, then exit (for cron).
    Run,
    /// Queue a failed message again, due now.
    Retry { id: i64 },
    /// Send a test message to ADDRESS right away (not through the outbox)
    /// and print the server's answer: checks the [smtp] settings.
    Test { address: String },
}

pub fn run(ctx: &Context, cmd: Command) -> anyhow::Result<ExitCode> {
    crate::mail::send::configure(&ctx.config);
    let store = ctx.open_store()?;
    match cmd {
        Command::List { state, limit, json } => {
            if let Some(s) = &state {
                if !["queued", "sending", "sent", "failed"].contains(&s.as_str()) {
                    anyhow::bail!("--state must be queued, sending, sent or failed, not {s:?}");
                }
            }
            let conn = store.conn()?;
            let rows = store::outbox::list(&conn, state.as_deref(), limit.max(1))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
                return Ok(ExitCode::SUCCESS);
            }
            if rows.is_empty() {
                println!("the outbox is empty");
            }
            for r in rows {
                println!(
                    "{:>6}  {:<7}  {:<17}  to {}  {}",
                    r.id,
                    r.state,
                    r.kind,
                    r.recipients.join(", "),
                    r.subject
                );
                let attempts = match r.attempts {
                    1 => "1 attempt".to_string(),
                    n => format!("{n} attempts"),
                };
                let when = match r.state.as_str() {
                    "sent" => format!("sent {}", time(r.sent_at.unwrap_or(r.created_at))),
                    "queued" => format!("next try {}", time(r.next_attempt_at)),
                    "sending" => format!(
                        "being sent, lease until {}",
                        time(r.lease_until.unwrap_or(0))
                    ),
                    _ => format!("queued {}", time(r.created_at)),
                };
                match r.last_answer.as_deref() {
                    Some(a) if !a.is_empty() => {
                        println!("        {attempts}; {when}; last answer: {a}")
                    }
                    _ => println!("        {attempts}; {when}"),
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Show { id, raw } => {
            let conn = store.conn()?;
            if raw {
                if store::outbox::is_unrendered(&conn, id)? {
                    anyhow::bail!(
                        "outgoing mail {id} is built by the outbox worker just before it is sent; \
                         run `oxidesk outbox run` (or let `serve` send it) and look again"
                    );
                }
                let data = store::outbox::raw(&conn, id)?
                    .with_context(|| format!("there is no outgoing mail {id}"))?;
                std::io::stdout().write_all(&data)?;
                return Ok(ExitCode::SUCCESS);
            }
            let row = store::outbox::get(&conn, id)?
                .with_context(|| format!("there is no outgoing mail {id}"))?;
            println!("{}", serde_json::to_string_pretty(&row)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Run => {
            let transport = match Transport::from_config(&ctx.config.smtp) {
                Ok(t) => t,
                Err(e) => {
                    eprintln!("oxidesk: {e}");
                    return Ok(ExitCode::from(sysexits::EX_CONFIG));
                }
            };
            let summary = worker::run_due(&store, &ctx.config, &transport, &|| false)?;
            println!(
                "{} sent, {} to retry later, {} failed",
                summary.sent, summary.retrying, summary.failed
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Test { address } => {
            let transport = match Transport::from_config(&ctx.config.smtp) {
                Ok(t) => t,
                Err(e) => {
                    eprintln!("oxidesk: {e}");
                    return Ok(ExitCode::from(sysexits::EX_CONFIG));
                }
            };
            let conn = store.conn()?;
            let helpdesk = store::settings::get_or(&conn, "helpdesk.name", "Oxidesk")?;
            let text = format!("This is a test message from {helpdesk}: outgoing mail works.\n");
            let html = format!(
                "<p>This is a test message from <span dir=\"auto\">{}</span>: outgoing mail works.</p>",
                tera::escape_html(&helpdesk)
            );
            let built = crate::mail::send::build_mail(
                &conn,
                &crate::mail::send::OutgoingMail {
                    kind: "test".into(),
                    to: vec![(String::new(), address.clone())],
                    subject: format!("{helpdesk}: test message"),
                    text,
                    html,
                    auto_submitted: Some("auto-generated"),
                    ..Default::default()
                },
            )?;
            match transport.deliver(&built.envelope_from, &built.recipients, &built.raw) {
                Ok(answer) => {
                    println!("sent from {} to {address}: {answer}", built.envelope_from);
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("oxidesk: the test message to {address} was not sent: {e}");
                    Ok(ExitCode::from(sysexits::EX_TEMPFAIL))
                }
            }
        }
        Command::Retry { id } => {
            let conn = store.conn()?;
            let before = match store::outbox::retry(&conn, id) {
                Err(e) if e.is_not_found() => anyhow::bail!("there is no outgoing mail {id}"),
                other => other?,
            };
            match before.as_str() {
                "sent" => anyhow::bail!("mail {id} was already sent; it is not sent twice"),
                "sending" => anyhow::bail!("mail {id} is being delivered right now"),
                _ => println!("mail {id} is queued again and will be sent on the next run"),
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn time(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M:%SZ").to_string())
        .unwrap_or_else(|| unix.to_string())
}
