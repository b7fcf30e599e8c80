//! `crmfuse profile CONFIG [--json]`: the quality of each source before it is consolidated.
//! Per source and mapped column: fill rate, distinct values, top values, character patterns
//! and the validity rate after cleansing. Streams every file (bounded memory).

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use chrono::Utc;
use clap::Args;

use crmfuse::profile;

#[derive(Args)]
pub struct ProfileArgs {
    /// The pipeline config (pipeline.toml) that names the sources.
    config: PathBuf,
    /// Print the profile as JSON on stdout.
    #[arg(long)]
    json: bool,
}

pub fn run(args: ProfileArgs) -> anyhow::Result<ExitCode> {
    let pipeline = super::load_pipeline(&args.config)?;
    let p = profile::profile(&pipeline, Utc::now().date_naive())?;
    let text = if args.json {
        serde_json::to_string_pretty(&p)? + "\n"
    } else {
        p.to_string()
    };
    // A reader that stops early (`| head`) is not an error.
    match io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(ExitCode::SUCCESS),
    }
}
