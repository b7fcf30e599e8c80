//! Gates: `(GatesConfig, Resolution[, LoadPlan]) -> Vec<GateResult>`: the go-live checks.
//!
//! Each configured gate gives one result per scope (per source where it is a per-source
//! gate) with the limit, the value found and, when it fails, a reason in plain words. Gates
//! on the sources and the matching are judged on the `Resolution`, before the store is
//! opened; `max_overwrites` needs the `LoadPlan`.

use serde::Serialize;

use crate::config::{GatesConfig, Pipeline};
use crate::load::LoadPlan;
use crate::pipeline::Resolution;
use crate::quality;
use crate::record::Field;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GateResult {
    /// The config key, such as `max_quarantine_rate`.
    pub gate: &'static str,
    /// The source the result is about; `None` for a run-wide gate.
    pub source: Option<String>,
    pub passed: bool,
    /// The limit, as configured.
    pub limit: String,
    /// What the run found.
    pub actual: String,
    /// One sentence a person can act on.
    pub reason: String,
}

impl GateResult {
    /// `gate` or `gate[source]`.
    pub fn label(&self) -> String {
        match &self.source {
            Some(s) => format!("{}[{s}]", self.gate),
            None => self.gate.to_string(),
        }
    }
}

pub fn all_passed(results: &[GateResult]) -> bool {
    results.iter().all(|r| r.passed)
}

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

/// The gates that judge the sources and the matching.
pub fn check_resolution(
    gates: &GatesConfig,
    pipeline: &Pipeline,
    res: &Resolution,
) -> Vec<GateResult> {
    let mut out = Vec::new();
    if gates.reconciliation_must_balance {
        for s in &res.sources {
            let passed = s.rows_read == s.records + s.quarantined;
            out.push(GateResult {
                gate: "reconciliation_must_balance",
                source: Some(s.name.clone()),
                passed,
                limit: "read = loaded + quarantined".into(),
                actual: format!("{} = {} + {}", s.rows_read, s.records, s.quarantined),
                reason: if passed {
                    "every row read is loaded or quarantined".into()
                } else {
                    format!(
                        "{} rows read but {} loaded and {} quarantined: rows went missing",
                        s.rows_read, s.records, s.quarantined
                    )
                },
            });
        }
    }
    if let Some(max) = gates.max_quarantine_rate {
        for s in &res.sources {
            let rate = if s.rows_read == 0 {
                0.0
            } else {
                s.quarantined as f64 / s.rows_read as f64
            };
            let passed = rate <= max;
            out.push(GateResult {
                gate: "max_quarantine_rate",
                source: Some(s.name.clone()),
                passed,
                limit: format!("at most {}", pct(max)),
                actual: format!("{} ({} of {} rows)", pct(rate), s.quarantined, s.rows_read),
                reason: if passed {
                    "quarantine within the limit".into()
                } else {
                    format!(
                        "{} of {} rows ({}) could not be read, more than the {} allowed; see the quarantine reasons",
                        s.quarantined,
                        s.rows_read,
                        pct(rate),
                        pct(max)
                    )
                },
            });
        }
    }
    for (name, &min) in &gates.min_rows {
        let Some(s) = res.sources.iter().find(|s| &s.name == name) else {
            continue;
        };
        let passed = s.rows_read >= min;
        out.push(GateResult {
            gate: "min_rows",
            source: Some(name.clone()),
            passed,
            limit: format!("at least {min} rows"),
            actual: format!("{} rows", s.rows_read),
            reason: if passed {
                "the export has the expected size".into()
            } else {
                format!(
                    "the export has only {} rows, fewer than the {min} expected: is the file truncated or an old export?",
                    s.rows_read
                )
            },
        });
    }
    if let Some(max) = gates.max_cluster_size {
        let largest = res.clusters.iter().map(Vec::len).max().unwrap_or(0) as u64;
        let over = res.clusters.iter().filter(|c| c.len() as u64 > max).count();
        let passed = largest <= max;
        out.push(GateResult {
            gate: "max_cluster_size",
            source: None,
            passed,
            limit: format!("at most {max} records per customer"),
            actual: format!("largest customer has {largest} records"),
            reason: if passed {
                "no customer merges an implausible number of records".into()
            } else {
                format!(
                    "{over} customer(s) merge more than {max} source records (largest {largest}): likely over-merging through a shared placeholder value; see the largest clusters"
                )
            },
        });
    }
    if let Some(min) = gates.min_email_validity {
        for q in quality::measure(pipeline, &res.records) {
            let Some(f) = q.field(Field::Email) else {
                continue;
            };
            let Some(validity) = f.validity else {
                continue;
            };
            let passed = validity >= min;
            out.push(GateResult {
                gate: "min_email_validity",
                source: Some(q.source.clone()),
                passed,
                limit: format!("at least {}", pct(min)),
                actual: format!(
                    "{} ({} of {} records with an e-mail)",
                    pct(validity),
                    f.valid,
                    f.filled
                ),
                reason: if passed {
                    "e-mail addresses are mostly valid".into()
                } else {
                    format!(
                        "only {} of the e-mail addresses are valid, less than the {} required: is the e-mail column mapped right?",
                        pct(validity),
                        pct(min)
                    )
                },
            });
        }
    }
    out
}

/// The gates that judge what the load would do to the store.
pub fn check_plan(gates: &GatesConfig, plan: &LoadPlan) -> Vec<GateResult> {
    let mut out = Vec::new();
    if let Some(max) = gates.max_disappeared_rate {
        for d in &plan.source_changes {
            // The rows the store held from the source (new rows it never had).
            let held = d.unchanged + d.changed + d.disappeared;
            if held == 0 {
                continue;
            }
            let rate = d.disappeared as f64 / held as f64;
            let passed = rate <= max;
            out.push(GateResult {
                gate: "max_disappeared_rate",
                source: Some(d.source.clone()),
                passed,
                limit: format!("at most {}", pct(max)),
                actual: format!("{} ({} of {} rows held)", pct(rate), d.disappeared, held),
                reason: if passed {
                    "no more rows disappeared from the export than allowed".into()
                } else {
                    format!(
                        "{} of the {} rows the store holds from this source are gone from its export ({}, more than the {} allowed): is the export complete? Their policy would {} them",
                        d.disappeared,
                        held,
                        pct(rate),
                        pct(max),
                        match d.on_disappear {
                            "ignore" => "keep",
                            "mark_deleted" => "mark deleted",
                            _ => "detach",
                        }
                    )
                },
            });
        }
    }
    if let Some(max) = gates.max_overwrites {
        let n = plan.overwrites.len() as u64;
        let passed = n <= max;
        out.push(GateResult {
            gate: "max_overwrites",
            source: None,
            passed,
            limit: format!("at most {max} overwritten values"),
            actual: format!("{n} value(s) would be overwritten"),
            reason: if passed {
                "no more existing values are overwritten than allowed".into()
            } else {
                format!(
                    "the load would replace {n} existing value(s) with different ones (more than {max}): edits made in the CRM would be lost; see the overwrites"
                )
            },
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{MatchingConfig, SurvivorshipConfig};
    use crate::decisions::DecisionOutcome;
    use crate::load::{AuditEvent, CustomerCounts};
    use crate::pipeline::SourceStats;
    use crate::score::Model;

    fn stats(name: &str, rows_read: u64, records: u64, quarantined: u64) -> SourceStats {
        SourceStats {
            name: name.into(),
            rows_read,
            records,
            quarantined,
            checksum: String::new(),
            bytes: 0,
        }
    }

    fn resolution(sources: Vec<SourceStats>, clusters: Vec<Vec<u32>>) -> Resolution {
        Resolution {
            records: vec![],
            quarantined: vec![],
            sources,
            blocking: vec![],
            model: Model::default_model(0.95),
            training: None,
            tf: Default::default(),
            scored: vec![],
            digest: crate::digest::PairDigest::new(&Model::default_model(0.95)),
            candidate_pairs: 0,
            clusters,
            profiles: vec![],
            decided: vec![],
            decisions: DecisionOutcome::default(),
            term_counts: None,
            incremental: None,
        }
    }

    fn pipeline(gates: GatesConfig) -> Pipeline {
        Pipeline {
            config_path: "pipeline.toml".into(),
            config_hash: String::new(),
            store_path: "crm.db".into(),
            store_page_size: crate::store::PAGE_SIZE,
            sources: vec![],
            matching: MatchingConfig::default(),
            survivorship: SurvivorshipConfig::default(),
            gates,
            sync: Default::default(),
        }
    }

    #[test]
    fn each_gate_fails_on_its_own_condition() {
        let res = resolution(
            vec![stats("erp", 100, 90, 10), stats("shop", 50, 48, 1)],
            vec![vec![0, 1, 2], vec![3]],
        );
        // (gates, the (gate, source) results that fail)
        type Failed<'a> = Vec<(&'a str, Option<&'a str>)>;
        let cases: Vec<(GatesConfig, Failed)> = vec![
            // The default checks the balance only; shop lost a row.
            (
                GatesConfig::default(),
                vec![("reconciliation_must_balance", Some("shop"))],
            ),
            (
                GatesConfig {
                    reconciliation_must_balance: false,
                    max_quarantine_rate: Some(0.05),
                    ..GatesConfig::default()
                },
                vec![("max_quarantine_rate", Some("erp"))],
            ),
            (
                GatesConfig {
                    reconciliation_must_balance: false,
                    min_rows: [("erp".to_string(), 100), ("shop".to_string(), 51)].into(),
                    ..GatesConfig::default()
                },
                vec![("min_rows", Some("shop"))],
            ),
            (
                GatesConfig {
                    reconciliation_must_balance: false,
                    max_cluster_size: Some(2),
                    ..GatesConfig::default()
                },
                vec![("max_cluster_size", None)],
            ),
            (
                GatesConfig {
                    reconciliation_must_balance: false,
                    max_cluster_size: Some(3),
                    max_quarantine_rate: Some(0.1),
                    ..GatesConfig::default()
                },
                vec![],
            ),
        ];
        for (gates, want) in cases {
            let results = check_resolution(&gates, &pipeline(gates.clone()), &res);
            let failed: Failed = results
                .iter()
                .filter(|r| !r.passed)
                .map(|r| (r.gate, r.source.as_deref()))
                .collect();
            assert_eq!(failed, want, "{gates:?}");
            assert!(results.iter().all(|r| !r.reason.is_empty()));
        }
    }

    #[test]
    fn max_overwrites_judges_the_plan() {
        let plan = |n: usize| LoadPlan {
            run_id: 1,
            cluster_ids: vec![],
            counts: CustomerCounts::default(),
            events: vec![],
            deltas: vec![],
            next_customer_number: 1,
            source_changes: vec![],
            conflicts: vec![],
            pinned: Default::default(),
            overwrites: vec![
                AuditEvent {
                    customer_id: Some("C00000001".into()),
                    event: "update",
                    field: Some("email"),
                    before: Some("a@x.de".into()),
                    after: Some("b@x.de".into()),
                    detail: None,
                };
                n
            ],
        };
        let gates = GatesConfig {
            max_overwrites: Some(0),
            ..GatesConfig::default()
        };
        assert!(all_passed(&check_plan(&gates, &plan(0))));
        let r = check_plan(&gates, &plan(2));
        assert!(!all_passed(&r));
        assert_eq!(r[0].label(), "max_overwrites");
        assert!(check_plan(&GatesConfig::default(), &plan(5)).is_empty());
    }
}
