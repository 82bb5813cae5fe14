use std::process::ExitCode;

use super::Context;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Placeholder until this command lands.
    List,
}

pub fn run(_ctx: &Context, _cmd: Command) -> anyhow::Result<ExitCode> {
    anyhow::bail!("this command is not available in this build yet")
}
