//! CLI verbs, one file each.

mod evaluate;
mod explain;
mod profile;
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
    /// Report each source's quality: fill rates, distinct and top values, patterns, validity.
    Profile(profile::ProfileArgs),
}

pub fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Run(a) => run::run(a),
        Command::Explain(a) => explain::run(a),
        Command::Evaluate(a) => evaluate::run(a),
        Command::Profile(a) => profile::run(a),
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
