//! `crmfuse run CONFIG [--dry-run] [--json]`: the whole pipeline, loaded in one transaction.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
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
    /// Score with a saved match model (JSON) instead of training one, so that nightly runs
    /// score consistently.
    #[arg(long, value_name = "FILE")]
    model: Option<PathBuf>,
    /// Write the match model this run used (JSON).
    #[arg(long, value_name = "FILE")]
    save_model: Option<PathBuf>,
}

pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let pipeline = super::load_pipeline(&args.config)?;
    let model = match &args.model {
        Some(p) => {
            let text = std::fs::read_to_string(p).with_context(|| format!("{}", p.display()))?;
            let model: crmfuse::score::Model = serde_json::from_str(&text)
                .with_context(|| format!("{}: not a crmfuse match model", p.display()))?;
            model
                .validate()
                .map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?;
            Some(model)
        }
        None => None,
    };
    let opts = RunOptions {
        dry_run: args.dry_run,
        progress: std::io::stderr().is_terminal(),
        model,
    };
    let outcome = run_pipeline(&pipeline, &opts)?;
    if let Some(p) = &args.save_model {
        let json = serde_json::to_string_pretty(&outcome.resolution.model)?;
        std::fs::write(p, json).with_context(|| format!("{}", p.display()))?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&outcome.summary)?);
    } else {
        println!("{}", outcome.summary);
    }
    Ok(ExitCode::SUCCESS)
}
