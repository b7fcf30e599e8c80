//! CLI verbs, one file each.

mod check;
mod evaluate;
mod explain;
mod run;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crmfuse::config::Pipeline;

#[derive(Parser)]
#[command(
    name = "crmfuse",
    version,
    about = "Consolidate customer data from siloed systems into one trustworthy CRM store"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Read every source, cleanse, match, merge into golden profiles and load the store.
    Run(run::RunArgs),
    /// Show a customer's golden profile, source records, links with evidence, and lineage.
    Explain(explain::ExplainArgs),
    /// Compare the store's customers with a truth file: precision, recall, F1.
    Evaluate(evaluate::EvaluateArgs),
    /// Verify the store's invariants; exit 4 and list the problems when one fails.
    Check(check::CheckArgs),
}

/// Exit codes besides 0 (success): 1 for an error, 2 for a command-line mistake (clap),
/// [`check::PROBLEMS_FOUND`] when `check` finds problems, and this one when Ctrl-C stopped
/// a run before it wrote anything (128 + SIGINT, as shells report it).
pub const INTERRUPTED: u8 = 130;
pub const ERROR: u8 = 1;

/// The exit code for an error that ended a verb.
pub fn exit_code(e: &anyhow::Error) -> u8 {
    match e.downcast_ref::<crmfuse::Error>() {
        Some(crmfuse::Error::Interrupted) => INTERRUPTED,
        _ => ERROR,
    }
}

pub fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Run(a) => run::run(a),
        Command::Explain(a) => explain::run(a),
        Command::Evaluate(a) => evaluate::run(a),
        Command::Check(a) => check::run(a),
    }
}

/// Write a verb's output on stdout. A closed pipe (`crmfuse run ... | head`) is not an
/// error: the reader has what it wanted and the work is done (`println!` would panic).
pub fn emit(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => Ok(r?),
    }
}

/// Where a verb finds an existing store: the pipeline config that names it, or `--store`.
#[derive(Args, Debug, Clone)]
pub struct StoreArgs {
    /// The pipeline config (pipeline.toml) that names the store.
    #[arg(value_name = "CONFIG")]
    pub config: Option<PathBuf>,
    /// The store file, instead of a config.
    #[arg(long, value_name = "PATH", conflicts_with = "config")]
    pub store: Option<PathBuf>,
}

impl StoreArgs {
    pub fn store_path(&self) -> anyhow::Result<PathBuf> {
        match (&self.store, &self.config) {
            (Some(s), _) => Ok(s.clone()),
            (None, Some(c)) => Ok(load_pipeline(c)?.store_path),
            (None, None) => {
                anyhow::bail!("name the pipeline config (CONFIG) or the store (--store PATH)")
            }
        }
    }
}

pub fn load_pipeline(path: &Path) -> anyhow::Result<Pipeline> {
    Ok(Pipeline::load(path)?)
}
