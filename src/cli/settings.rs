//! `oxidesk settings`: read and change the helpdesk settings from a shell
//! (installers, provisioning scripts). Values are checked exactly as on the
//! admin settings page, and each change is written to the audit log.

use std::fmt::Write as _;
use std::process::ExitCode;

use super::{sysexits, Context};
use crate::settings as keys;
use crate::tickets::events::Actor;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Every setting with its current value.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Print one setting's value.
    Get { key: String },
    /// Change one setting (checked as on the admin settings page).
    Set { key: String, value: String },
}

pub fn run(ctx: &Context, cmd: Command) -> anyhow::Result<ExitCode> {
    let store = ctx.open_store()?;
    let mut conn = store.conn()?;
    let mut out = String::new();
    match cmd {
        Command::List { json } => {
            let current = keys::current(&conn)?;
            if json {
                let map: serde_json::Map<String, serde_json::Value> = current
                    .into_iter()
                    .map(|(k, v)| (k.name.to_string(), serde_json::Value::String(v)))
                    .collect();
                let _ = writeln!(out, "{}", serde_json::to_string_pretty(&map)?);
            } else {
                for (k, v) in current {
                    let _ = writeln!(out, "{} = {}", k.name, v.replace('\n', "\\n"));
                }
            }
        }
        Command::Get { key } => {
            let Some(k) = keys::find(&key) else {
                eprintln!(
                    "oxidesk: there is no setting called {key:?} (see `oxidesk settings list`)"
                );
                return Ok(ExitCode::from(sysexits::EX_USAGE));
            };
            let value = crate::store::settings::get_or(&conn, k.name, k.default)?;
            let _ = writeln!(out, "{value}");
        }
        Command::Set { key, value } => {
            if keys::find(&key).is_none() {
                eprintln!(
                    "oxidesk: there is no setting called {key:?} (see `oxidesk settings list`)"
                );
                return Ok(ExitCode::from(sysexits::EX_USAGE));
            }
            let tx = conn.transaction()?;
            let actor = Actor::System;
            match keys::set(&tx, &actor, &key, &value)? {
                Ok(stored) => {
                    tx.commit()?;
                    let _ = writeln!(out, "{key} = {stored}");
                }
                Err(e) => {
                    eprintln!("oxidesk: {key} not changed: the value {e}");
                    return Ok(ExitCode::from(sysexits::EX_DATAERR));
                }
            }
        }
    }
    super::ticket::emit(&out)?;
    Ok(ExitCode::SUCCESS)
}
