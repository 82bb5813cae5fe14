use std::process::ExitCode;

use super::Context;

#[derive(Debug, clap::Args)]
pub struct Args {}

/// Apply pending migrations and report the schema version.
pub fn run(ctx: &Context, _args: Args) -> anyhow::Result<ExitCode> {
    let store = ctx.open_store()?;
    let conn = store.conn()?;
    let version = crate::store::schema_version(&conn)?;
    println!(
        "database {} is at schema version {version}",
        store.path().display()
    );
    Ok(ExitCode::SUCCESS)
}
