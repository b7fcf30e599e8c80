//! `crmfuse run CONFIG [--dry-run] [--json]`: the whole pipeline, loaded in one transaction.
//!
//! Ctrl-C (or SIGTERM) stops the run at the next stage boundary, or at the latest just
//! before it commits, and rolls back: exit 130, nothing written. A second Ctrl-C exits at
//! once, which is just as safe (the store is transactional) but gives no summary.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crmfuse::interrupt;
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
    ctrlc::set_handler(|| {
        if interrupt::request() {
            eprintln!("crmfuse: interrupted again, stopping now; nothing was written");
            std::process::exit(i32::from(super::INTERRUPTED));
        }
        eprintln!("crmfuse: interrupt received, stopping before anything is written...");
    })?;
    let pipeline = super::load_pipeline(&args.config)?;
    let opts = RunOptions {
        dry_run: args.dry_run,
        progress: std::io::stderr().is_terminal(),
    };
    let outcome = run_pipeline(&pipeline, &opts)?;
    if interrupt::requested() && !args.dry_run {
        eprintln!(
            "crmfuse: the interrupt came after run {} was committed; the store holds the whole run",
            outcome.summary.run_id
        );
    }
    if args.json {
        super::emit(&format!(
            "{}\n",
            serde_json::to_string_pretty(&outcome.summary)?
        ))?;
    } else {
        super::emit(&format!("{}\n", outcome.summary))?;
    }
    Ok(ExitCode::SUCCESS)
}
