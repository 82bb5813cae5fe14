//! `oxidesk pipe`: read one message on stdin, as Postfix (`|oxidesk pipe`)
//! or Exim's pipe transport deliver it, and file it.
//!
//! Exit codes (sysexits.h), which the MTA acts on:
//! - 0: stored as a new ticket, appended, recognised as a duplicate of an
//!   earlier delivery, or quarantined because it cannot be parsed (a
//!   customer's mail is never bounced because of our parser; admins see it
//!   in `oxidesk quarantine list`).
//! - 65 EX_DATAERR: the message is over `mail.max_message_bytes`. Retrying
//!   cannot help, so it is a permanent failure: the MTA bounces it to the
//!   sender, quoting our stderr line, which says why and what the limit is.
//! - 75 EX_TEMPFAIL: the database is busy, locked or not writable, stdin
//!   could not be read, or anything else went wrong on our side. The MTA
//!   keeps the message queued and retries; redelivery is idempotent.
//!
//! One line per message on stderr: "new ticket #N", "appended to #N",
//! "duplicate of #N", "quarantined as ID (why)".
//!
//! When `oxidesk serve` runs on the same database, the message is handed to
//! it over the local intake socket (src/intake_socket), which files it with
//! a warm connection; otherwise, or with `--direct`, this process opens the
//! database and files it. Either way the exit codes and lines are the same.

use std::io::Read;
use std::process::ExitCode;
use std::time::Duration;

use super::sysexits::{EX_DATAERR, EX_TEMPFAIL};
use super::Context;
use crate::store::Store;
use crate::tickets::intake::{self, IntakeError, IntakeOptions, IntakeOutcome, IntakeSource};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// File the message in this process even when `oxidesk serve` takes
    /// mail on its intake socket.
    #[arg(long)]
    pub direct: bool,
}

/// How long to wait for the server's verdict (or for it to read the
/// message) before filing the message here instead.
const HAND_OFF_TIMEOUT: Duration = Duration::from_secs(120);

/// The exit code and log line for what became of a message, shared with
/// the intake socket so that both paths say the same.
pub fn verdict(result: &Result<IntakeOutcome, IntakeError>) -> (u8, String) {
    match result {
        Ok(outcome) => (0, outcome.log_line()),
        Err(IntakeError::TooLarge { size, limit }) => (
            EX_DATAERR,
            format!(
                "message rejected: it is {size} bytes, larger than this helpdesk accepts \
                 ({limit} bytes)"
            ),
        ),
        Err(e @ IntakeError::Temporary(_)) => (
            EX_TEMPFAIL,
            format!("the database is busy, try again later: {e}"),
        ),
        // Not the sender's fault: keep the message queued at the MTA rather
        // than bounce it, and tell the admin.
        Err(e) => (
            EX_TEMPFAIL,
            format!("the message could not be stored, try again later: {e}"),
        ),
    }
}

pub fn run(ctx: &Context, args: Args) -> anyhow::Result<ExitCode> {
    let limit = ctx.config.mail.max_message_bytes;
    let mut stdin = std::io::stdin().lock();
    let mut raw = Vec::with_capacity(64 * 1024);
    if let Err(e) = (&mut stdin)
        .take(limit.saturating_add(1))
        .read_to_end(&mut raw)
    {
        eprintln!("oxidesk pipe: cannot read the message on stdin, try again later: {e}");
        return Ok(ExitCode::from(EX_TEMPFAIL));
    }
    if raw.len() as u64 > limit {
        // Read the rest so the MTA sees our exit code, not a broken pipe.
        let _ = std::io::copy(&mut stdin, &mut std::io::sink());
        eprintln!(
            "oxidesk pipe: message rejected: it is larger than this helpdesk accepts \
             ({limit} bytes); send a smaller message or share large files by link"
        );
        return Ok(ExitCode::from(EX_DATAERR));
    }

    let served = ctx.config.mail.intake_socket && !args.direct;
    if let Some(socket) = served
        .then(|| crate::intake_socket::path_for(&ctx.config.database.path))
        .flatten()
    {
        match crate::intake_socket::hand_off(&socket, &raw, HAND_OFF_TIMEOUT) {
            Ok(reply) => {
                eprintln!("oxidesk pipe: {}", reply.text);
                return Ok(ExitCode::from(reply.code));
            }
            Err(e @ crate::intake_socket::HandOffError::Unavailable(..)) => {
                tracing::debug!(error = %e, "no server takes mail: filing it here");
            }
            Err(e) => {
                tracing::warn!(error = %e, "the server did not answer: filing the message here");
            }
        }
    }

    // Built only now: with plugins configured this constructs each one,
    // which a message handed to the server does not need.
    let opts = IntakeOptions::from_config(&ctx.config);
    // One process, one message: a single connection is all it needs.
    let mut store_opts = ctx.config.store_options();
    store_opts.max_connections = 1;
    store_opts.single_connection = true;
    store_opts.cache_kib = store_opts.cache_kib.min(2048);
    let store = match Store::open(&store_opts) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("oxidesk pipe: the database cannot be opened, try again later: {e}");
            return Ok(ExitCode::from(EX_TEMPFAIL));
        }
    };
    let (code, line) = verdict(&intake::receive(&store, &raw, IntakeSource::Pipe, &opts));
    eprintln!("oxidesk pipe: {line}");
    Ok(ExitCode::from(code))
}
