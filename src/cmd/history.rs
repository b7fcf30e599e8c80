//! `crmfuse history CONFIG|--store PATH [--json]`: the runs recorded in the store, with
//! their counts, oldest first.

use std::process::ExitCode;

use clap::Args;

use crmfuse::{history, store};

#[derive(Args)]
pub struct HistoryArgs {
    #[command(flatten)]
    store: super::StoreArgs,
    /// Print the runs as JSON on stdout.
    #[arg(long)]
    json: bool,
}

pub fn run(args: HistoryArgs) -> anyhow::Result<ExitCode> {
    let path = args.store.store_path()?;
    let runs = match store::open_ro(&path)? {
        Some(conn) => history::runs(&conn, &path)?,
        None => Vec::new(),
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&runs)?);
    } else if runs.is_empty() {
        println!("no runs in {}", path.display());
    } else {
        print!("{}", history::format_table(&runs));
    }
    Ok(ExitCode::SUCCESS)
}
