//! `crmfuse run CONFIG [--dry-run] [--json]`: the whole pipeline, loaded in one transaction.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crmfuse::run::{RunOptions, run as run_pipeline};

#[derive(Args)]
pub struct RunArgs {
    /// The pipeline config (pipeline.toml).
    config: PathBuf,
    /// Do every stage but write nothing; print what the run would do.
    #[arg(long)]
    dry_run: bool,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    json: bool,
}

pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let pipeline = super::load_pipeline(&args.config)?;
    let opts = RunOptions {
        dry_run: args.dry_run,
        progress: std::io::stderr().is_terminal(),
    };
    let outcome = run_pipeline(&pipeline, &opts)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&outcome.summary)?);
    } else {
        println!("{}", outcome.summary);
    }
    Ok(ExitCode::SUCCESS)
}
