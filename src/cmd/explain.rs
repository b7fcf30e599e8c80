//! `crmfuse explain CUSTOMER_ID CONFIG|--store PATH [--json]`: why a customer looks the way
//! it does.

use std::process::ExitCode;

use clap::Args;

use crmfuse::{explain, store};

use super::StoreArgs;

#[derive(Args)]
pub struct ExplainArgs {
    /// The customer id, such as C00000042.
    customer_id: String,
    #[command(flatten)]
    store: StoreArgs,
    /// Print as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: ExplainArgs) -> anyhow::Result<ExitCode> {
    let path = args.store.store_path()?;
    let conn = store::open_existing(&path)?;
    let e = explain::explain(&conn, &path, &args.customer_id)?;
    if args.json {
        super::emit(serde_json::to_string_pretty(&e)?)?;
    } else {
        super::emit(e.to_string().trim_end())?;
    }
    Ok(ExitCode::SUCCESS)
}
