//! `crmfuse check (CONFIG | --store PATH) [--json]`: verify the store's invariants.
//!
//! Exit 0 when every invariant holds, 4 when a problem is found (each is listed), 1 when
//! the store cannot be checked at all (no file there, or a file with no tables: no store
//! yet).

use std::process::ExitCode;

use clap::Args;

use crmfuse::check;

use super::StoreArgs;

/// The exit code of a check that found problems.
pub const PROBLEMS_FOUND: u8 = 4;

#[derive(Args)]
pub struct CheckArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let path = args.store.store_path()?;
    let report = check::check_store(&path)?;
    if args.json {
        super::emit(serde_json::to_string_pretty(&report)?)?;
    } else {
        super::emit(&report)?;
    }
    Ok(if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(PROBLEMS_FOUND)
    })
}
