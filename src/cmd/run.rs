//! `crmfuse run CONFIG [--dry-run] [--json] [--report DIR] [--decisions FILE] [--force]`:
//! the whole pipeline, loaded in one transaction, judged by the config's gates.
//!
//! Exit codes: 0 success, 1 error, 2 bad command line, 3 a gate failed (a real run then
//! loads nothing unless `--force`), 130 interrupted (nothing written).
//!
//! Ctrl-C (or SIGTERM) stops the run at the next stage boundary, or at the latest just
//! before it commits, and rolls back. A second Ctrl-C exits at once, which is just as safe
//! (the store is transactional) but gives no summary.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use crmfuse::decisions::Decisions;
use crmfuse::interrupt;
use crmfuse::report;
use crmfuse::run::{RunOptions, run as run_pipeline};

/// The exit code of a run whose gates failed.
pub const GATE_FAILED: u8 = 3;

#[derive(Args)]
pub struct RunArgs {
    /// The pipeline config (pipeline.toml).
    config: PathBuf,
    /// Do every stage but write nothing; print what the run would do.
    #[arg(long)]
    dry_run: bool,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    json: bool,
    /// Score with a saved match model (JSON) instead of training one, so that nightly runs
    /// score consistently.
    #[arg(long, value_name = "FILE")]
    model: Option<PathBuf>,
    /// Write the match model this run used (JSON).
    #[arg(long, value_name = "FILE")]
    save_model: Option<PathBuf>,
    /// Write the reconciliation report (report.json, report.html, review.csv) into DIR.
    #[arg(long, value_name = "DIR")]
    report: Option<PathBuf>,
    /// Apply a data steward's decisions (review.csv with the decision column filled in).
    #[arg(long, value_name = "FILE")]
    decisions: Option<PathBuf>,
    /// Load even when a gate fails (the report and summary still say which).
    #[arg(long, conflicts_with = "dry_run")]
    force: bool,
    /// Stop with a clear error, writing nothing, rather than let the run grow past this
    /// much memory (e.g. 2GiB, 1500MiB; a bare number is MiB). Checked against a forecast
    /// after reading the sources and between stages.
    #[arg(long, value_name = "SIZE", value_parser = parse_mib)]
    memory_limit: Option<u64>,
    /// sync: re-resolve every record, as a run does, instead of only the new, changed and
    /// disappeared rows and the customers they touch. (A run always resolves everything.)
    #[arg(long)]
    full: bool,
}

/// A size in MiB from `2GiB`, `2G`, `1500MiB`, `1500M` or `1500`.
fn parse_mib(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (n, unit) = t.split_at(digits);
    let n: u64 = n
        .parse()
        .map_err(|_| format!("{s:?} is not a size such as 2GiB or 1500MiB"))?;
    let factor = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "m" | "mb" | "mib" => 1,
        "g" | "gb" | "gib" => 1024,
        "t" | "tb" | "tib" => 1024 * 1024,
        _ => return Err(format!("{s:?}: unit must be MiB, GiB or TiB")),
    };
    match n.checked_mul(factor) {
        Some(0) | None => Err(format!("{s:?} is not a usable memory limit")),
        Some(v) => Ok(v),
    }
}

pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    run_as(args, "run")
}

/// `run`, recorded under `command` (`run` or `sync`).
pub fn run_as(args: RunArgs, command: &'static str) -> anyhow::Result<ExitCode> {
    ctrlc::set_handler(|| {
        if interrupt::request() {
            eprintln!("crmfuse: interrupted again, stopping now; nothing was written");
            std::process::exit(i32::from(super::INTERRUPTED));
        }
        eprintln!("crmfuse: interrupt received, stopping before anything is written...");
    })?;
    let pipeline = super::load_pipeline(&args.config)?;
    let model = match &args.model {
        Some(p) => {
            let text = std::fs::read_to_string(p).with_context(|| format!("{}", p.display()))?;
            let model: crmfuse::score::Model = serde_json::from_str(&text)
                .with_context(|| format!("{}: not a crmfuse match model", p.display()))?;
            model
                .validate()
                .map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?;
            Some(model)
        }
        None => None,
    };
    let decisions = match &args.decisions {
        Some(path) => Decisions::read(path)?,
        None => Decisions::default(),
    };
    if let Some(dir) = &args.report {
        // Fail before loading, not after, when the report cannot be written there.
        std::fs::create_dir_all(dir).map_err(|e| {
            anyhow::anyhow!("{}: cannot create the report directory: {e}", dir.display())
        })?;
    }
    let opts = RunOptions {
        dry_run: args.dry_run,
        progress: std::io::stderr().is_terminal(),
        model,
        decisions,
        force: args.force,
        command: Some(command),
        memory_limit_mib: args.memory_limit,
        // The reconciliation report covers every record: a sync that writes one resolves
        // everything.
        full_sync: if args.full {
            Some("--full was given")
        } else if args.model.is_some() {
            Some("a model was given (--model): every pair is scored with it")
        } else if args.report.is_some() {
            Some("a report was asked for (it covers every record)")
        } else {
            None
        },
    };
    let outcome = run_pipeline(&pipeline, &opts)?;
    if interrupt::requested() && outcome.summary.loaded() {
        eprintln!(
            "crmfuse: the interrupt came after run {} was committed; the store holds the whole run",
            outcome.summary.run_id
        );
    }
    if let Some(p) = &args.save_model {
        let json = serde_json::to_string_pretty(&outcome.resolution.model)?;
        std::fs::write(p, json).with_context(|| format!("{}", p.display()))?;
    }
    if let Some(dir) = &args.report {
        let written = report::write(dir, &report::build(&pipeline, &outcome))?;
        eprintln!(
            "report: {} ({} and {})",
            written.html.display(),
            written.json.display(),
            written.review_csv.display()
        );
    }
    if args.json {
        super::emit(serde_json::to_string_pretty(&outcome.summary)?)?;
    } else {
        super::emit(&outcome.summary)?;
    }
    let d = &outcome.resolution.decisions;
    if !d.stale.is_empty() || !d.conflicts.is_empty() {
        eprintln!(
            "warning: {} decision(s) name records that are not in the sources and {} were overruled by other decisions; the report lists them",
            d.stale.len(),
            d.conflicts.len()
        );
    }
    let code = if outcome.summary.gates_passed || outcome.summary.forced {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(GATE_FAILED)
    };
    // The process ends now: freeing every record, pair and profile one by one would only
    // delay that (0.05 s after a sync, more after a large run). The outcome holds no file or
    // connection, only memory, which the system takes back at exit.
    std::mem::forget(outcome);
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::parse_mib;

    #[test]
    fn memory_limits_parse_in_mib() {
        for (text, mib) in [
            ("2GiB", Some(2048)),
            ("2g", Some(2048)),
            ("1500MiB", Some(1500)),
            ("1500", Some(1500)),
            ("1 TiB", Some(1024 * 1024)),
            ("0", None),
            ("GiB", None),
            ("2 KiB", None),
            ("-1", None),
            ("99999999999999999999", None),
        ] {
            assert_eq!(parse_mib(text).ok(), mib, "{text}");
        }
    }
}
