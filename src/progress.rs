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
    /// `--memory-limit`: the run stops between stages rather than grow past it.
    pub memory_limit_mib: Option<u64>,
}

/// What a run needs at its peak beyond what it holds once its sources are read: the
/// forecast behind `--memory-limit` is this much per million source records plus
/// [`MIB_FIXED`], with a margin over what was measured (benches/README.md, eleventh
/// session: 207 -> 477 MiB for 149,880 records, 1,127 -> 1,801 MiB for 1,001,153 and
/// 10,673 -> 18,436 MiB for 10,004,722; the forecast says 612, 2,384 and 20,933 MiB).
pub const MIB_PER_MILLION_RECORDS: u64 = 1_000;

/// The part of the forecast that does not grow with the records (the store's page cache,
/// the model, the reference tables).
pub const MIB_FIXED: u64 = 256;

/// What planning a whole run into a store that already holds source records adds, per
/// million of them: the plan compares every table with the stored rows, and holds the
/// stored customers, cross-references and lineage values meanwhile (twelfth session: a
/// 1M run into the 1M store grew from 1,805 MiB after survivorship to 6,495 and 7,179 MiB
/// in two runs: 4,690-5,374 MiB per million).
pub const MIB_PER_MILLION_STORED: u64 = 6_000;

/// The process's resident set size now, in MiB (`None` off Linux).
pub fn memory_mib() -> Option<u64> {
    status_mib("VmRSS:")
}

/// The process's peak resident set size so far, in MiB (`None` off Linux).
pub fn peak_memory_mib() -> Option<u64> {
    status_mib("VmHWM:")
}

/// A `kB` line of /proc/self/status, in MiB.
fn status_mib(key: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
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
            memory_limit_mib: None,
        }
    }

    /// Between stages: stop on Ctrl-C, or when the run has grown past its memory limit
    /// (better a clear stop than being killed by the system halfway through a load).
    pub fn between_stages(&self) -> crate::error::Result<()> {
        crate::interrupt::check()?;
        if let (Some(limit), Some(now)) = (self.memory_limit_mib, memory_mib())
            && now > limit
        {
            let stage = self.timings.0.last().map_or("start", |t| t.0);
            return Err(crate::error::Error::MemoryLimit {
                what: format!("the run's memory after the {stage} stage"),
                needed_mib: now,
                limit_mib: limit,
            });
        }
        Ok(())
    }

    /// After ingest, before the dear stages: stop early when `records` source records
    /// would need more than the memory limit at the run's peak.
    pub fn forecast(&self, records: usize) -> crate::error::Result<()> {
        let extra =
            MIB_FIXED + (records as u64).saturating_mul(MIB_PER_MILLION_RECORDS) / 1_000_000;
        self.check_forecast(extra, || {
            format!(
                "{records} source records need about {MIB_PER_MILLION_RECORDS} MiB per million, \
                 and {MIB_FIXED} MiB besides, at the run's peak"
            )
        })
    }

    /// Before a whole run is planned against a store that holds `stored` source records
    /// (`customer_sources` rows): stop early when the memory held now and what the plan
    /// adds ([`MIB_PER_MILLION_STORED`]) would pass the limit. A sync that re-resolves
    /// only what changed reads only those customers, and is not forecast.
    pub fn forecast_plan(&self, stored: u64) -> crate::error::Result<()> {
        let extra = stored.saturating_mul(MIB_PER_MILLION_STORED) / 1_000_000;
        self.check_forecast(extra, || {
            format!(
                "comparing the run with the {stored} source records the store holds, \
                 about {MIB_PER_MILLION_STORED} MiB per million, besides what the run holds"
            )
        })
    }

    /// Whether a memory limit was given (a forecast that costs a query is made only then).
    pub fn has_memory_limit(&self) -> bool {
        self.memory_limit_mib.is_some()
    }

    /// After blocking, when every scored pair is to be kept
    /// ([`crate::pipeline::ResolveOptions::keep_pairs`], for benchmarks and error
    /// analysis): stop early when the memory held now and `pairs` scored pairs of
    /// `bytes_per_pair` would pass the limit. (Otherwise only the links are kept, a few
    /// per record; a report needs only their digest.)
    pub fn forecast_pairs(&self, pairs: u64, bytes_per_pair: u64) -> crate::error::Result<()> {
        let extra = pairs.saturating_mul(bytes_per_pair) / (1 << 20);
        self.check_forecast(extra, || {
            format!(
                "keeping all {pairs} scored candidate pairs, {bytes_per_pair} bytes each, \
                 besides what the run holds"
            )
        })
    }

    /// Stop when the memory held now and `extra_mib` more would pass the limit; `what`
    /// names the extra for the error.
    fn check_forecast(
        &self,
        extra_mib: u64,
        what: impl FnOnce() -> String,
    ) -> crate::error::Result<()> {
        let Some(limit) = self.memory_limit_mib else {
            return Ok(());
        };
        let needed = memory_mib().unwrap_or(0) + extra_mib;
        if needed > limit {
            return Err(crate::error::Error::MemoryLimit {
                what: what(),
                needed_mib: needed,
                limit_mib: limit,
            });
        }
        Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeping_every_pair_is_forecast_against_the_limit() {
        let mut p = Progress::new(false);
        p.forecast_pairs(u64::MAX / 64, 40).unwrap(); // no limit: no forecast
        let Some(now) = memory_mib() else {
            return; // not Linux: no figure to forecast from
        };
        // Margins wide enough for what the tests running beside this one allocate.
        p.memory_limit_mib = Some(now + 1_000);
        p.forecast_pairs(1_000_000, 40).unwrap(); // 38 MiB
        let e = p.forecast_pairs(100_000_000, 40).unwrap_err().to_string(); // 3,815 MiB
        assert!(
            e.contains("all 100000000 scored candidate pairs") && e.contains("nothing was written"),
            "{e}"
        );
    }

    #[test]
    fn planning_against_a_loaded_store_is_forecast_against_the_limit() {
        let mut p = Progress::new(false);
        assert!(!p.has_memory_limit());
        p.forecast_plan(u64::MAX / 8192).unwrap(); // no limit: no forecast
        let Some(now) = memory_mib() else {
            return;
        };
        p.memory_limit_mib = Some(now + 1_000);
        assert!(p.has_memory_limit());
        p.forecast_plan(10_000).unwrap(); // 60 MiB
        let e = p.forecast_plan(1_000_000).unwrap_err().to_string(); // 6,000 MiB
        assert!(
            e.contains("the 1000000 source records the store holds")
                && e.contains("nothing was written"),
            "{e}"
        );
    }
}
