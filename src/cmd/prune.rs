//! `crmfuse prune CONFIG --keep-runs N [--yes]`: delete the undo log of every run but the
//! newest N (listed first, and confirmed unless `--yes`), in one transaction. Those runs
//! keep their history and audit events; they can no longer be rolled back.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crmfuse::{history, rollback, store};

#[derive(Args)]
pub struct PruneArgs {
    /// The pipeline config (pipeline.toml) that names the store.
    config: PathBuf,
    /// Keep the undo log of this many of the newest runs (runs, syncs and steward
    /// commands alike): a rollback can go back that far.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    keep_runs: u32,
    /// Do not ask for confirmation.
    #[arg(long)]
    yes: bool,
}

pub fn run(args: PruneArgs) -> anyhow::Result<ExitCode> {
    let path = super::load_pipeline(&args.config)?.store_path;
    let keep = args.keep_runs as usize;
    let plan = {
        let conn = store::open_existing(&path)?;
        rollback::runs_to_prune(&conn, &path, keep)?
    };
    if plan.runs.is_empty() {
        println!(
            "nothing to prune in {}: no run older than the newest {keep} has an undo log",
            path.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!(
        "deleting the undo log of {} run(s) of {} (they can no longer be rolled back):\n{}",
        plan.runs.len(),
        path.display(),
        history::format_table(&plan.runs)
    );
    if !super::confirm(args.yes, "delete these runs' undo log?", "prune")? {
        eprintln!("nothing pruned");
        return Ok(ExitCode::FAILURE);
    }
    let mut conn = store::open_rw(&path)?;
    let (pruned, rows) = rollback::prune(&mut conn, &path, keep)?;
    let ids: Vec<String> = pruned.runs.iter().map(|r| r.run_id.to_string()).collect();
    println!(
        "pruned the undo log of run(s) {} ({rows} undo rows); rollback can go back to run {}",
        ids.join(", "),
        pruned.kept_from.unwrap_or_default()
    );
    Ok(ExitCode::SUCCESS)
}
