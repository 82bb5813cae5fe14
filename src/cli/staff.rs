//! `oxidesk staff add|list|passwd`: manage staff accounts from the shell.

use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;

use anyhow::{bail, Context as _};

use super::Context;
use crate::store::{sessions, staff};
use crate::web::auth;
use crate::web::staff::account::MIN_PASSWORD;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Add a staff account.
    Add {
        email: String,
        /// Display name.
        #[arg(long)]
        name: String,
        /// Make the account an administrator.
        #[arg(long)]
        admin: bool,
        /// Read the password from the first line of stdin instead of
        /// prompting.
        #[arg(long)]
        password_stdin: bool,
        /// Add the account to every department.
        #[arg(long)]
        all_departments: bool,
    },
    /// List staff accounts.
    List,
    /// Set a staff member's password (signs out their sessions).
    Passwd {
        email: String,
        #[arg(long)]
        password_stdin: bool,
    },
}

fn read_password(from_stdin: bool) -> anyhow::Result<String> {
    let password = if from_stdin || !std::io::stdin().is_terminal() {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("cannot read the password from stdin")?;
        line.trim_end_matches(['\r', '\n']).to_string()
    } else {
        let first = rpassword::prompt_password("Password: ").context("cannot read the password")?;
        let again =
            rpassword::prompt_password("Password again: ").context("cannot read the password")?;
        if first != again {
            bail!("the two passwords differ");
        }
        first
    };
    if password.chars().count() < MIN_PASSWORD {
        bail!("the password needs at least {MIN_PASSWORD} characters");
    }
    Ok(password)
}

pub fn run(ctx: &Context, cmd: Command) -> anyhow::Result<ExitCode> {
    let store = ctx.open_store()?;
    let conn = store.conn()?;
    match cmd {
        Command::Add {
            email,
            name,
            admin,
            password_stdin,
            all_departments,
        } => {
            if !email.contains('@') {
                bail!("{email:?} is not an email address");
            }
            if staff::find_by_email(&conn, &email)?.is_some() {
                bail!("a staff account with the address {email} already exists");
            }
            let password = read_password(password_stdin)?;
            let hash = auth::hash_password(&password).map_err(anyhow::Error::msg)?;
            let id = staff::create(&conn, &email, &name, &hash, admin, false)?;
            if all_departments || admin {
                for d in staff::list_departments(&conn)? {
                    staff::set_membership(&conn, id, d.id, true)?;
                }
            }
            println!(
                "Added {} <{email}>{}.",
                name,
                if admin { " as an administrator" } else { "" }
            );
        }
        Command::List => {
            let list = staff::list(&conn)?;
            if list.is_empty() {
                println!("No staff accounts yet: `oxidesk serve` creates the first administrator.");
            }
            for s in list {
                // Each department with the member's role in it.
                let depts: Vec<String> = crate::store::roles::memberships_of(&conn, s.id)?
                    .into_iter()
                    .map(|m| format!("{} ({})", m.department, m.role.unwrap_or_default()))
                    .collect();
                println!(
                    "{:>4}  {:<32} {:<24} {}{}  departments: {}",
                    s.id.0,
                    s.email,
                    s.name,
                    if s.is_admin { "admin" } else { "agent" },
                    if s.active { "" } else { " (inactive)" },
                    if depts.is_empty() {
                        "none".to_string()
                    } else {
                        depts.join(", ")
                    }
                );
            }
        }
        Command::Passwd {
            email,
            password_stdin,
        } => {
            let Some(s) = staff::find_by_email(&conn, &email)? else {
                bail!("there is no staff account with the address {email}");
            };
            let password = read_password(password_stdin)?;
            let hash = auth::hash_password(&password).map_err(anyhow::Error::msg)?;
            staff::set_password(&conn, s.id, &hash, false)?;
            sessions::delete_all_for(&conn, s.id)?;
            println!("Password of {email} changed; their sessions were signed out.");
        }
    }
    Ok(ExitCode::SUCCESS)
}
