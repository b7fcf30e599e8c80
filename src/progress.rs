//! Progress output on stderr: one line per stage with its rate, hidden when stderr is not a
//! terminal (indicatif's default) and always free of customer values.

use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// Timings of the stages that ran, in order.
#[derive(Debug, Clone, Default)]
pub struct Timings(pub Vec<(&'static str, Duration)>);

pub struct Progress {
    enabled: bool,
    pub timings: Timings,
    /// The process's peak resident memory (MiB) at the end of each stage, where the
    /// system tells it (Linux).
    pub peak_memory_mib: Vec<(&'static str, u64)>,
}

/// The process's peak resident set size so far, in MiB (`VmHWM`; `None` off Linux).
pub fn peak_memory_mib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024)
}

pub struct Stage {
    name: &'static str,
    bar: ProgressBar,
    started: Instant,
}

impl Progress {
    pub fn new(enabled: bool) -> Self {
        Progress {
            enabled,
            timings: Timings::default(),
            peak_memory_mib: Vec::new(),
        }
    }

    /// Start a stage; `total` items when known, for a bar with rate and ETA.
    pub fn stage(&self, name: &'static str, total: Option<u64>) -> Stage {
        let bar = if !self.enabled {
            ProgressBar::hidden()
        } else if let Some(total) = total {
            let b = ProgressBar::new(total);
            b.set_style(
                ProgressStyle::with_template(
                    "{prefix:>9} [{bar:30}] {human_pos}/{human_len} ({per_sec}, eta {eta})",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            b
        } else {
            let b = ProgressBar::new_spinner();
            b.set_style(
                ProgressStyle::with_template("{prefix:>9} {spinner} {msg} {elapsed}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            b.enable_steady_tick(Duration::from_millis(120));
            b
        };
        bar.set_prefix(name);
        Stage {
            name,
            bar,
            started: Instant::now(),
        }
    }

    pub fn finish(&mut self, stage: Stage) {
        stage.bar.finish_and_clear();
        self.timings.0.push((stage.name, stage.started.elapsed()));
        if let Some(mib) = peak_memory_mib() {
            self.peak_memory_mib.push((stage.name, mib));
        }
    }
}

impl Stage {
    pub fn inc(&self, n: u64) {
        self.bar.inc(n);
    }
    pub fn set_message(&self, msg: String) {
        self.bar.set_message(msg);
    }
}
