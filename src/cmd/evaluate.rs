//! `crmfuse evaluate --truth truth.csv (CONFIG | --store PATH) [--json]`: how well the
//! store's customers recover the true people.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crmfuse::{evaluate, store};

use super::StoreArgs;

#[derive(Args)]
pub struct EvaluateArgs {
    /// CSV with source,source_key,person_id for every source row.
    #[arg(long)]
    truth: PathBuf,
    #[command(flatten)]
    store: StoreArgs,
    /// Print as JSON (top-level keys precision, recall, f1 are pairwise).
    #[arg(long)]
    json: bool,
}

pub fn run(args: EvaluateArgs) -> anyhow::Result<ExitCode> {
    let path = args.store.store_path()?;
    let conn = store::open_existing(&path)?;
    let truth = evaluate::read_truth(&args.truth)?;
    let predicted =
        evaluate::store_assignment(&conn).map_err(|e| crmfuse::Error::store(&path, e))?;
    let e = evaluate::evaluate(&truth, &predicted);
    if args.json {
        super::emit(serde_json::to_string_pretty(&e)?)?;
    } else {
        super::emit(e.to_string().trim_end())?;
    }
    Ok(ExitCode::SUCCESS)
}
