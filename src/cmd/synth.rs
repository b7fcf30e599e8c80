//! `crmfuse synth --people N --seed S --out DIR`: a realistic multi-silo company with the
//! truth, for measuring matching and speed.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crmfuse::synth::{SynthOptions, generate};

#[derive(Args)]
pub struct SynthArgs {
    /// How many distinct people.
    #[arg(long)]
    people: usize,
    /// Same seed, same bytes.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Directory to write the exports, mappings, pipeline.toml and truth.csv into.
    #[arg(long)]
    out: PathBuf,
}

pub fn run(args: SynthArgs) -> anyhow::Result<ExitCode> {
    let started = std::time::Instant::now();
    let summary = generate(&SynthOptions {
        people: args.people,
        seed: args.seed,
        out: args.out.clone(),
    })?;
    let records: usize = summary.records_per_source.iter().map(|(_, n)| n).sum();
    println!(
        "{} people, {records} source records in {:.1} s -> {}",
        summary.people,
        started.elapsed().as_secs_f64(),
        args.out.display()
    );
    for (source, n) in &summary.records_per_source {
        println!("  {source:<12} {n}");
    }
    println!(
        "next: cd {} && crmfuse run pipeline.toml && crmfuse evaluate --truth truth.csv pipeline.toml",
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}
