//! CLI verbs, one file each.

mod check;
mod evaluate;
mod explain;
mod history;
mod overrides;
mod profile;
mod prune;
mod retire;
mod rollback;
mod run;
mod steward;
mod sync;
mod synth;

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
    /// List the runs recorded in the store, with their counts.
    History(history::HistoryArgs),
    /// Restore the store to its state before a run (and every later run).
    Rollback(rollback::RollbackArgs),
    /// Delete the undo log of all but the newest runs (they can then no longer be rolled back).
    Prune(prune::PruneArgs),
    /// The nightly job: compare the sources with the store, report new / changed /
    /// unchanged / disappeared rows, apply each source's on_disappear policy and load.
    Sync(run::RunArgs),
    /// Steward override: customers ID1 and ID2 are one (from the next run on).
    Link(steward::LinkArgs),
    /// Steward override: split a source record (SOURCE:KEY) off a customer.
    Unlink(steward::UnlinkArgs),
    /// Steward override: a golden value that survivorship may not change.
    Pin(steward::PinArgs),
    /// Deactivate a steward override (link, unlink, pin, retire_source) from the next run on.
    Revoke(steward::RevokeArgs),
    /// List the steward overrides with their ids, active or revoked.
    Overrides(overrides::OverridesArgs),
    /// What retiring a source would lose; --apply records the retirement.
    Retire(retire::RetireArgs),
    /// Write a synthetic multi-silo company with truth.csv and a ready pipeline.toml.
    Synth(synth::SynthArgs),
    /// Verify the store's invariants; exit 4 and list the problems when one fails.
    Check(check::CheckArgs),
    /// Report each source's quality: fill rates, distinct and top values, patterns, validity.
    Profile(profile::ProfileArgs),
}

/// Exit codes besides 0 (success): 1 for an error, 2 for a command-line mistake (clap),
/// 3 when a run's gates fail (`run::GATE_FAILED`), [`check::PROBLEMS_FOUND`] when `check`
/// finds problems, and this one when Ctrl-C stopped a run before it wrote anything (128 +
/// SIGINT, as shells report it).
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
        Command::Synth(a) => synth::run(a),
        Command::History(a) => history::run(a),
        Command::Rollback(a) => rollback::run(a),
        Command::Prune(a) => prune::run(a),
        Command::Sync(a) => sync::run(a),
        Command::Link(a) => steward::link(a),
        Command::Unlink(a) => steward::unlink(a),
        Command::Pin(a) => steward::pin(a),
        Command::Revoke(a) => steward::revoke(a),
        Command::Overrides(a) => overrides::run(a),
        Command::Retire(a) => retire::run(a),
        Command::Check(a) => check::run(a),
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

/// Print to stdout; a closed pipe (`crmfuse ... | head`) ends the output quietly instead of
/// panicking.
pub fn emit(text: impl std::fmt::Display) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}").and_then(|_| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// Ask `question` (`[y/N]`) on the terminal, unless `yes` (the verb's `--yes`) says yes
/// already. Without a terminal, refuse to `act` rather than wait for an answer.
pub fn confirm(yes: bool, question: &str, act: &str) -> anyhow::Result<bool> {
    use std::io::{BufRead, IsTerminal, Write};
    if yes {
        return Ok(true);
    }
    if !std::io::stdin().is_terminal() {
        anyhow::bail!(
            "refusing to {act} without confirmation: stdin is not a terminal; pass --yes"
        );
    }
    eprint!("{question} [y/N] ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

pub fn load_pipeline(path: &Path) -> anyhow::Result<Pipeline> {
    Ok(Pipeline::load(path)?)
}
