//! `oxidesk apikey`: keys for the HTTP API (e.g. `POST /api/v1/mail` from an
//! MTA on another host). Only a key's SHA-256 is stored; the key is printed
//! once, when created.

use std::fmt::Write as _;
use std::process::ExitCode;

use anyhow::Context as _;

use super::Context;
use crate::model::ApiKeyId;
use crate::store::{self, api_keys};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Create a key and print it (it cannot be shown again).
    Create {
        /// What the key is for, e.g. "mx2 intake".
        name: String,
    },
    /// List keys (without the keys themselves).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Revoke a key by its id.
    Revoke { id: i64 },
}

pub fn run(ctx: &Context, cmd: Command) -> anyhow::Result<ExitCode> {
    let store = ctx.open_store()?;
    let conn = store.conn()?;
    let mut out = String::new();
    match cmd {
        Command::Create { name } => {
            let name = name.trim();
            if name.is_empty() || name.chars().count() > 100 {
                anyhow::bail!("the key name must be 1 to 100 characters");
            }
            let (key, prefix) = api_keys::generate();
            let id = api_keys::insert(&conn, name, &api_keys::hash(&key), &prefix, store::now())?;
            eprintln!("API key {id} ({name}) created. Store it now: it is not shown again.");
            let _ = writeln!(out, "{key}");
        }
        Command::List { json } => {
            let keys = api_keys::list(&conn)?;
            if json {
                let _ = writeln!(out, "{}", serde_json::to_string_pretty(&keys)?);
            } else {
                let _ = writeln!(
                    out,
                    "{:>4}  {:<12}  {:<16}  {:<16}  {:<16}  NAME",
                    "ID", "PREFIX", "CREATED", "LAST USED", "REVOKED"
                );
                for k in keys {
                    let _ = writeln!(
                        out,
                        "{:>4}  {:<12}  {:<16}  {:<16}  {:<16}  {}",
                        k.id,
                        k.key_prefix,
                        super::ticket::when(Some(k.created_at)),
                        super::ticket::when(k.last_used_at),
                        super::ticket::when(k.revoked_at),
                        k.name
                    );
                }
            }
        }
        Command::Revoke { id } => {
            let revoked = api_keys::revoke(&conn, ApiKeyId(id), store::now())
                .with_context(|| format!("revoking API key {id}"))?;
            if !revoked {
                anyhow::bail!("there is no active API key {id}");
            }
            let _ = writeln!(out, "API key {id} revoked");
        }
    }
    super::ticket::emit(&out)?;
    Ok(ExitCode::SUCCESS)
}
