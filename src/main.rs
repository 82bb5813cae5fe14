//! The `oxidesk` binary: parse the command line and dispatch.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = oxidesk::cli::Cli::parse();
    oxidesk::cli::run(cli)
}
