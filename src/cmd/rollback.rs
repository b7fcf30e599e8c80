//! `crmfuse rollback RUN_ID CONFIG [--yes]`: restore the store to its state before run
//! RUN_ID, removing that run and every later one (listed first, and confirmed unless
//! `--yes`), in one transaction.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crmfuse::{history, rollback, store};

#[derive(Args)]
pub struct RollbackArgs {
    /// The first run to undo (`crmfuse history` lists them); later runs are undone too.
    run_id: i64,
    /// The pipeline config (pipeline.toml) that names the store.
    config: PathBuf,
    /// Do not ask for confirmation.
    #[arg(long)]
    yes: bool,
}

pub fn run(args: RollbackArgs) -> anyhow::Result<ExitCode> {
    let path = super::load_pipeline(&args.config)?.store_path;
    let runs = {
        let conn = store::open_existing(&path)?;
        rollback::runs_to_remove(&conn, &path, args.run_id)?
    };
    eprintln!(
        "rolling back {} run(s) of {}:\n{}",
        runs.len(),
        path.display(),
        history::format_table(&runs)
    );
    if !super::confirm(args.yes, "roll back these runs?", "roll back")? {
        eprintln!("nothing rolled back");
        return Ok(ExitCode::FAILURE);
    }
    let mut conn = store::open_rw(&path)?;
    let removed = rollback::rollback(&mut conn, &path, args.run_id)?;
    println!(
        "rolled back run(s) {}: the store is as it was before run {}",
        removed
            .iter()
            .map(|r| r.run_id.to_string())
            .collect::<Vec<_>>()
            .join(", "),
        args.run_id
    );
    Ok(ExitCode::SUCCESS)
}
