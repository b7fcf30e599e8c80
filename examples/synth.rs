//! Runs the synthetic data generator without the CLI and reports time and size:
//! `cargo run --release --example synth -- PEOPLE SEED OUT_DIR`.

use std::time::Instant;

use crmfuse::synth::{SynthOptions, generate};

fn main() {
    let mut args = std::env::args().skip(1);
    let people: usize = args.next().map_or(10_000, |s| s.parse().expect("PEOPLE"));
    let seed: u64 = args.next().map_or(42, |s| s.parse().expect("SEED"));
    let out = args.next().unwrap_or_else(|| "synth-out".into()).into();
    let opts = SynthOptions { people, seed, out };
    let start = Instant::now();
    let summary = match generate(&opts) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    let elapsed = start.elapsed();
    let total: usize = summary.records_per_source.iter().map(|(_, n)| n).sum();
    let bytes: u64 = summary
        .files
        .iter()
        .map(|f| std::fs::metadata(f).map_or(0, |m| m.len()))
        .sum();
    for (src, n) in &summary.records_per_source {
        println!("{src:<12} {n:>10}");
    }
    println!(
        "{people} people, {total} records ({:.3} per person), {:.1} MiB in {:.2?}",
        total as f64 / people as f64,
        bytes as f64 / (1024.0 * 1024.0),
        elapsed
    );
}
