//! `oxidesk quarantine`: messages that could not be filed, kept raw.

use std::fmt::Write as _;
use std::io::Write;
use std::process::ExitCode;

use super::Context;
use crate::model::{RawMessageId, RawStatus};
use crate::store::{self, StoreError};
use crate::tickets::intake::{self, IntakeOutcome};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Quarantined messages, newest first.
    List {
        #[arg(long)]
        json: bool,
        /// List the messages refused by the ban list or a ticket filter
        /// instead (kept raw, status rejected).
        #[arg(long)]
        rejected: bool,
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// Why a message was quarantined, and the message itself.
    Show {
        id: i64,
        /// Write only the raw message (e.g. to save it to a file).
        #[arg(long)]
        raw: bool,
    },
    /// Parse a quarantined message again and file it.
    Retry { id: i64 },
}

pub fn run(ctx: &Context, cmd: Command) -> anyhow::Result<ExitCode> {
    let store = ctx.open_store()?;
    match cmd {
        Command::List {
            json,
            rejected,
            limit,
        } => {
            let conn = store.conn()?;
            let mut out = String::new();
            let status = if rejected {
                RawStatus::Rejected
            } else {
                RawStatus::Quarantined
            };
            let list = store::raw_messages::list_by_status(&conn, status, limit)?;
            if json {
                let _ = writeln!(out, "{}", serde_json::to_string_pretty(&list)?);
            } else if list.is_empty() && rejected {
                let _ = writeln!(out, "No message was rejected.");
            } else if list.is_empty() {
                let _ = writeln!(out, "The quarantine is empty.");
            } else {
                let _ = writeln!(
                    out,
                    "{:>6}  {:<16}  {:>9}  {:<6}  REASON",
                    "ID", "RECEIVED", "BYTES", "VIA"
                );
                for m in list {
                    let _ = writeln!(
                        out,
                        "{:>6}  {:<16}  {:>9}  {:<6}  {}",
                        m.id,
                        super::ticket::when(Some(m.received_at)),
                        m.size,
                        m.source,
                        m.error.unwrap_or_default()
                    );
                }
            }
            super::ticket::emit(&out)?;
        }
        Command::Show { id, raw } => {
            let conn = store.conn()?;
            let id = RawMessageId(id);
            let (Some(info), Some(data)) = (
                store::raw_messages::get_info(&conn, id)?,
                crate::tickets::raw_mail::original(&conn, id)?,
            ) else {
                eprintln!("oxidesk: there is no raw message {id}");
                return Ok(ExitCode::from(1));
            };
            let mut out = std::io::stdout().lock();
            if !raw {
                writeln!(out, "Message {id}: {}", info.status.as_str())?;
                writeln!(
                    out,
                    "Received {} via {}, {} bytes",
                    super::ticket::when(Some(info.received_at)),
                    info.source,
                    info.size
                )?;
                if let Some(e) = &info.error {
                    writeln!(out, "Reason: {e}")?;
                }
                if let Some(m) = &info.message_id {
                    writeln!(out, "Message-ID: {m}")?;
                }
                writeln!(out)?;
            }
            out.write_all(&data)?;
        }
        Command::Retry { id } => {
            let id = RawMessageId(id);
            match intake::retry(&store, id) {
                Ok(IntakeOutcome::Quarantined { reason, .. }) => {
                    eprintln!("oxidesk: message {id} still cannot be filed: {reason}");
                    return Ok(ExitCode::from(1));
                }
                Ok(IntakeOutcome::Duplicate {
                    number: Some(n), ..
                }) => {
                    println!("message {id} was already filed on #{n}");
                }
                Ok(IntakeOutcome::Duplicate { number: None, .. }) => {
                    eprintln!("oxidesk: message {id} is not in the quarantine");
                    return Ok(ExitCode::from(1));
                }
                Ok(outcome) => println!("message {id}: {}", outcome.log_line()),
                Err(intake::IntakeError::Failed(StoreError::NotFound(_))) => {
                    eprintln!("oxidesk: there is no raw message {id}");
                    return Ok(ExitCode::from(1));
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
