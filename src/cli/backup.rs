//! `oxidesk backup FILE` and `oxidesk restore FILE [--force]`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;

use super::Context;
use crate::store::backup;

#[derive(Debug, clap::Args)]
pub struct BackupArgs {
    /// Where to write the copy.
    pub file: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct RestoreArgs {
    /// The backup to restore from.
    pub file: PathBuf,
    /// Overwrite even when the database seems to be in use.
    #[arg(long)]
    pub force: bool,
}

/// Write a consistent copy of the database while the helpdesk keeps running.
pub fn run_backup(ctx: &Context, args: BackupArgs) -> anyhow::Result<ExitCode> {
    let db = &ctx.config.database.path;
    if !db.is_file() {
        anyhow::bail!("there is no database at {} to back up", db.display());
    }
    if same_file(db, &args.file) {
        anyhow::bail!("the backup file must not be the database itself");
    }
    // Open the store the normal way: a database from an older binary is
    // migrated (with its own pre-migration copy) so the backup is current.
    let store = ctx.open_store()?;
    let conn = store.conn()?;
    let info = backup::backup_to(&conn, &args.file)
        .with_context(|| format!("backing up to {}", args.file.display()))?;
    println!(
        "backed up {} to {} ({} bytes, schema version {})",
        db.display(),
        info.path.display(),
        info.bytes,
        info.schema_version
    );
    Ok(ExitCode::SUCCESS)
}

/// Replace the database with a verified backup, refusing to touch a database
/// that is in use unless forced.
pub fn run_restore(ctx: &Context, args: RestoreArgs) -> anyhow::Result<ExitCode> {
    let db = &ctx.config.database.path;
    if same_file(db, &args.file) {
        anyhow::bail!("the backup file is the database itself");
    }
    let version = backup::verify(&args.file)
        .with_context(|| format!("checking the backup {}", args.file.display()))?;
    if db.exists() && !args.force {
        if let Some(why) = backup::in_use(db) {
            anyhow::bail!(
                "refusing to overwrite {}: it is in use ({why}); stop the helpdesk first, or pass --force",
                db.display()
            );
        }
    }
    let timeout = Duration::from_millis(ctx.config.database.busy_timeout_ms);
    backup::restore_from(&args.file, db, timeout)
        .with_context(|| format!("restoring {} into {}", args.file.display(), db.display()))?;
    println!(
        "restored {} from {} (schema version {version}; newer migrations apply on the next start)",
        db.display(),
        args.file.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn same_file(a: &std::path::Path, b: &std::path::Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}
