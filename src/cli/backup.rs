use std::path::PathBuf;
use std::process::ExitCode;

use super::Context;

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

pub fn run_backup(_ctx: &Context, _args: BackupArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("backup is not available in this build yet")
}

pub fn run_restore(_ctx: &Context, _args: RestoreArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("restore is not available in this build yet")
}
