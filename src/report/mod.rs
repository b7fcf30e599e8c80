//! Report: `(&Pipeline, &RunOutcome) -> Report -> DIR/report.json, report.html, review.csv`.
//!
//! The reconciliation report is what the people who own the data sign off before go-live:
//! every source row accounted for, data quality per field, how records were matched and
//! merged, what the load does to the store (including every existing value it overwrites),
//! which customers depend on shadow systems, and the gates' verdict. `Report` is plain data
//! (it is `report.json`); [`html`] renders it for a browser and [`review`] exports the
//! borderline pairs for a data steward.
//!
//! The report shows customer values (sample rows, names, overwritten values): keep it where
//! the store is kept.

pub mod html;
pub mod review;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::block::{CandidatePair, RuleStats};
use crate::config::Pipeline;
use crate::decisions::{DecisionOutcome, RecordRef, Verdict as Decision};
use crate::digest::{BIN_WIDTH, BORDERLINE_PER_SIDE, VETOED_FOR_REVIEW};
use crate::error::{Error, Result};
use crate::gates::GateResult;
use crate::load::CustomerCounts;
use crate::pipeline::Resolution;
use crate::quality::{self, SourceQuality};
use crate::record::{Customer, GoldenField};
use crate::run::{RunOutcome, TableChanges};
use crate::score::{self, Comparison, Evidence, MatchRecord, Model, ScoredPair};

/// Bumped when a field of `report.json` changes meaning or goes away.
pub const FORMAT_VERSION: u32 = 1;
/// Sample raw rows per source and quarantine reason.
const SAMPLES_PER_REASON: usize = 5;
/// Raw rows are cut to this many characters in the report.
const SAMPLE_CHARS: usize = 400;
const LARGEST_CLUSTERS: usize = 15;
/// Long lists (shadow customers and values) are cut here; their totals are kept.
const LIST_CAP: usize = 1000;

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub format_version: u32,
    pub verdict: Verdict,
    pub gates: Vec<GateResult>,
    pub run: RunMetadata,
    pub reconciliation: Vec<SourceReconciliation>,
    pub quality: Vec<SourceQuality>,
    pub matching: Matching,
    pub store: StoreEffect,
    pub shadow: ShadowDependency,
}

/// The verdict at the top of the report.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    /// Every gate passed.
    pub passed: bool,
    pub gates_total: u64,
    pub gates_failed: u64,
    pub dry_run: bool,
    /// The run changed the store.
    pub loaded: bool,
    /// A real run that a failed gate stopped.
    pub load_refused: bool,
    /// Loaded although a gate failed (`--force`).
    pub forced: bool,
    pub headline: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunMetadata {
    pub tool_version: String,
    pub generated_at: String,
    pub config_path: String,
    /// SHA-256 over the pipeline file and every mapping file.
    pub config_hash: String,
    pub store: String,
    /// The run's id in the store (the id it would get, when nothing was loaded).
    pub run_id: i64,
    pub inputs: Vec<InputFile>,
    pub decisions: DecisionOutcome,
    pub timings_ms: Vec<StageTiming>,
    pub total_ms: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct InputFile {
    pub source: String,
    pub path: String,
    pub format: String,
    pub mapping: String,
    pub trust: u32,
    pub shadow: bool,
    pub bytes: u64,
    pub sha256: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct StageTiming {
    pub stage: String,
    pub ms: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct SourceReconciliation {
    pub source: String,
    pub shadow: bool,
    pub rows_read: u64,
    pub loaded: u64,
    pub quarantined: u64,
    pub quarantine_rate: f64,
    /// rows_read = loaded + quarantined
    pub balanced: bool,
    /// `PASS` when balanced and every gate about this source passed, else `FAIL`.
    pub status: &'static str,
    /// Labels of the gates about this source that failed.
    pub failed_gates: Vec<String>,
    pub reasons: Vec<QuarantineGroup>,
}

#[derive(Debug, Clone, Serialize)]
pub struct QuarantineGroup {
    pub reason: String,
    pub rows: u64,
    pub samples: Vec<QuarantineSample>,
}

#[derive(Debug, Clone, Serialize)]
pub struct QuarantineSample {
    pub line: u64,
    pub key: Option<String>,
    pub detail: String,
    pub raw: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Matching {
    pub threshold: f64,
    /// The threshold as a match weight (log2 odds).
    pub threshold_weight: f64,
    pub records: u64,
    pub candidate_pairs: u64,
    /// Pairs at or above the threshold and not vetoed.
    pub linked_pairs: u64,
    pub vetoed_pairs: u64,
    pub customers: u64,
    pub blocking: Vec<RuleStats>,
    pub histogram: Vec<WeightBin>,
    /// Customers per number of source records.
    pub cluster_sizes: Vec<SizeCount>,
    pub largest_clusters: Vec<ClusterView>,
    /// Borderline pairs (and pairs a steward decided), also in review.csv.
    pub review: Vec<ReviewPair>,
}

#[derive(Debug, Clone, Serialize)]
pub struct WeightBin {
    pub from: f64,
    pub to: f64,
    /// Pairs below the threshold.
    pub below: u64,
    /// Pairs linked.
    pub linked: u64,
    /// Pairs a veto kept apart.
    pub vetoed: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct SizeCount {
    pub size: u64,
    pub customers: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ClusterView {
    pub customer_id: String,
    pub records: u64,
    pub name: Option<String>,
    /// Source -> records.
    pub sources: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReviewPair {
    /// 1-based, in the order of the report and review.csv.
    pub pair_id: u32,
    /// `above` or `below` the threshold, or `vetoed` (strong evidence, but a veto).
    pub side: &'static str,
    pub weight: f64,
    pub probability: f64,
    pub linked: bool,
    /// The steward's decision this run applied, if any.
    pub decision: Option<Decision>,
    pub a: RecordView,
    pub b: RecordView,
    pub evidence: Vec<Evidence>,
    /// The comparisons whose veto kept the pair apart.
    pub vetoed_by: Vec<Comparison>,
}

/// The key fields of a source record, for side-by-side review.
#[derive(Debug, Clone, Serialize)]
pub struct RecordView {
    pub source: String,
    pub key: String,
    pub line: u64,
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub birth_date: Option<String>,
    pub address: Option<String>,
    pub company: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StoreEffect {
    pub store: String,
    pub counts: CustomerCounts,
    /// Audit events the load records.
    pub events: u64,
    pub tables: Vec<TableChanges>,
    /// Every existing golden value the load replaces with a different one.
    pub overwrites: Vec<Overwrite>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Overwrite {
    pub customer_id: String,
    pub field: String,
    pub existing: String,
    pub new: String,
    /// The source record the new value comes from, and the survivorship rule that chose it.
    pub source: Option<String>,
    pub source_key: Option<String>,
    pub rule: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ShadowDependency {
    pub shadow_sources: Vec<String>,
    /// Customers all of whose records come from shadow sources.
    pub customers_only_in_shadow: u64,
    pub customers: Vec<ShadowCustomer>,
    /// Golden fields that only a shadow source maps at all.
    pub fields_mapped_only_by_shadow: Vec<String>,
    /// Golden field -> customers whose value for it only a shadow record provides.
    pub fields_only_from_shadow: Vec<ShadowField>,
    /// Those values, one per customer and field (cut at a thousand; the totals are above).
    pub values: Vec<ShadowValue>,
    pub values_total: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ShadowCustomer {
    pub customer_id: String,
    pub name: Option<String>,
    pub records: Vec<RecordRef>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ShadowField {
    pub field: String,
    pub customers: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ShadowValue {
    pub customer_id: String,
    pub field: String,
    pub value: String,
    pub source: String,
    pub source_key: String,
}

/// Build the report of a run.
pub fn build(pipeline: &Pipeline, outcome: &RunOutcome) -> Report {
    let res = &outcome.resolution;
    let summary = &outcome.summary;
    let failed = summary.gates.iter().filter(|g| !g.passed).count() as u64;
    Report {
        format_version: FORMAT_VERSION,
        verdict: verdict(outcome, failed),
        gates: summary.gates.clone(),
        run: metadata(pipeline, outcome),
        reconciliation: reconciliation(pipeline, res, &summary.gates),
        quality: quality::measure(pipeline, &res.records),
        matching: matching(pipeline, outcome),
        store: store_effect(pipeline, outcome),
        shadow: shadow(pipeline, outcome),
    }
}

fn verdict(outcome: &RunOutcome, failed: u64) -> Verdict {
    let s = &outcome.summary;
    let total = s.gates.len() as u64;
    let gates = if failed == 0 {
        format!("all {total} gates passed")
    } else {
        format!("{failed} of {total} gates failed")
    };
    let headline = if s.dry_run {
        if failed == 0 {
            format!("Ready to load: {gates}. Dry run: nothing was written.")
        } else {
            format!("Not ready: {gates}. Dry run: nothing was written.")
        }
    } else if s.load_refused {
        format!("Load refused: {gates}. The store was not changed.")
    } else if s.forced {
        format!("Loaded although {gates} (--force).")
    } else {
        format!("Loaded: {gates}.")
    };
    Verdict {
        passed: failed == 0,
        gates_total: total,
        gates_failed: failed,
        dry_run: s.dry_run,
        loaded: s.loaded(),
        load_refused: s.load_refused,
        forced: s.forced,
        headline,
    }
}

fn metadata(pipeline: &Pipeline, outcome: &RunOutcome) -> RunMetadata {
    let res = &outcome.resolution;
    let s = &outcome.summary;
    RunMetadata {
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        generated_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        config_path: pipeline.config_path.display().to_string(),
        config_hash: pipeline.config_hash.clone(),
        store: pipeline.store_path.display().to_string(),
        run_id: s.run_id,
        inputs: pipeline
            .sources
            .iter()
            .zip(&res.sources)
            .map(|(src, st)| InputFile {
                source: src.name.clone(),
                path: src.path.display().to_string(),
                format: format!("{:?}", src.format).to_lowercase(),
                mapping: src.mapping_path.display().to_string(),
                trust: src.trust,
                shadow: src.shadow,
                bytes: st.bytes,
                sha256: st.checksum.clone(),
            })
            .collect(),
        decisions: res.decisions.clone(),
        timings_ms: s
            .timings_ms
            .iter()
            .map(|(stage, ms)| StageTiming {
                stage: stage.clone(),
                ms: *ms,
            })
            .collect(),
        total_ms: s.timings_ms.iter().map(|t| t.1).sum(),
    }
}

fn reconciliation(
    pipeline: &Pipeline,
    res: &Resolution,
    gates: &[GateResult],
) -> Vec<SourceReconciliation> {
    let mut groups: BTreeMap<(u16, &'static str), Vec<&crate::record::Quarantined>> =
        BTreeMap::new();
    for q in &res.quarantined {
        groups
            .entry((q.source, q.reason.code()))
            .or_default()
            .push(q);
    }
    res.sources
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let balanced = s.rows_read == s.records + s.quarantined;
            let failed_gates: Vec<String> = gates
                .iter()
                .filter(|g| !g.passed && g.source.as_deref() == Some(s.name.as_str()))
                .map(GateResult::label)
                .collect();
            let reasons = groups
                .range((i as u16, "")..(i as u16 + 1, ""))
                .map(|((_, reason), rows)| {
                    let mut rows = rows.clone();
                    rows.sort_by_key(|q| q.line);
                    QuarantineGroup {
                        reason: reason.to_string(),
                        rows: rows.len() as u64,
                        samples: rows
                            .iter()
                            .take(SAMPLES_PER_REASON)
                            .map(|q| QuarantineSample {
                                line: q.line,
                                key: q.key.clone(),
                                detail: q.detail.clone(),
                                raw: cut(&q.raw, SAMPLE_CHARS),
                            })
                            .collect(),
                    }
                })
                .collect();
            SourceReconciliation {
                source: s.name.clone(),
                shadow: pipeline.sources[i].shadow,
                rows_read: s.rows_read,
                loaded: s.records,
                quarantined: s.quarantined,
                quarantine_rate: if s.rows_read == 0 {
                    0.0
                } else {
                    s.quarantined as f64 / s.rows_read as f64
                },
                balanced,
                status: if balanced && failed_gates.is_empty() {
                    "PASS"
                } else {
                    "FAIL"
                },
                failed_gates,
                reasons,
            }
        })
        .collect()
}

fn cut(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{} [...]", &s[..i]),
        None => s.to_string(),
    }
}

fn matching(pipeline: &Pipeline, outcome: &RunOutcome) -> Matching {
    let res = &outcome.resolution;
    let model = &res.model;
    let mut sizes: BTreeMap<u64, u64> = BTreeMap::new();
    for c in &res.clusters {
        *sizes.entry(c.len() as u64).or_default() += 1;
    }
    let mut by_size: Vec<usize> = (0..res.clusters.len()).collect();
    by_size.sort_by(|&x, &y| {
        res.clusters[y]
            .len()
            .cmp(&res.clusters[x].len())
            .then(x.cmp(&y))
    });
    let largest_clusters = by_size
        .into_iter()
        .take(LARGEST_CLUSTERS)
        .filter(|&ci| res.clusters[ci].len() > 1)
        .map(|ci| {
            let mut sources: BTreeMap<String, u64> = BTreeMap::new();
            for &m in &res.clusters[ci] {
                let r = &res.records[m as usize];
                *sources
                    .entry(pipeline.sources[r.source as usize].name.clone())
                    .or_default() += 1;
            }
            ClusterView {
                customer_id: outcome.plan.cluster_ids[ci].clone(),
                records: res.clusters[ci].len() as u64,
                name: res.profiles[ci]
                    .get(GoldenField::FullName, &res.records)
                    .map(str::to_string),
                sources,
            }
        })
        .collect();
    Matching {
        threshold: model.threshold,
        threshold_weight: model.threshold_weight(),
        records: res.records.len() as u64,
        candidate_pairs: res.candidate_pairs,
        linked_pairs: res.links().count() as u64,
        vetoed_pairs: res.digest.vetoed,
        customers: res.clusters.len() as u64,
        blocking: res.blocking.clone(),
        histogram: histogram(res),
        cluster_sizes: sizes
            .into_iter()
            .map(|(size, customers)| SizeCount { size, customers })
            .collect(),
        largest_clusters,
        review: review_pairs(pipeline, res),
    }
}

/// The scored pairs by weight, in bins from the lowest weight's to the highest's.
fn histogram(res: &Resolution) -> Vec<WeightBin> {
    let d = &res.digest;
    let (Some((&first, _)), Some((&last, _))) = (d.bins.first_key_value(), d.bins.last_key_value())
    else {
        return Vec::new();
    };
    let tw = d.threshold_weight;
    (first..=last)
        .map(|i| {
            let c = d.bins.get(&i).copied().unwrap_or_default();
            WeightBin {
                from: tw + i as f64 * BIN_WIDTH,
                to: tw + (i + 1) as f64 * BIN_WIDTH,
                below: c.below,
                linked: c.linked,
                vetoed: c.vetoed,
            }
        })
        .collect()
}

/// The record's key fields for review.
pub fn record_view(pipeline: &Pipeline, r: &Customer) -> RecordView {
    let join = |vs: &[crate::record::Value]| {
        let all: Vec<&str> = vs.iter().map(|v| v.display.as_str()).collect();
        (!all.is_empty()).then(|| all.join("; "))
    };
    let d = |v: &Option<crate::record::Value>| v.as_ref().map(|v| v.display.to_string());
    let place: Vec<String> = [d(&r.postcode), d(&r.city)].into_iter().flatten().collect();
    let address: Vec<String> = [
        d(&r.address_line1),
        (!place.is_empty()).then(|| place.join(" ")),
        d(&r.country),
    ]
    .into_iter()
    .flatten()
    .collect();
    RecordView {
        source: pipeline.sources[r.source as usize].name.clone(),
        key: r.key.clone(),
        line: r.line,
        name: r.full_name.as_deref().map(str::to_string),
        email: join(&r.emails),
        phone: join(&r.phones),
        birth_date: d(&r.birth_date),
        address: (!address.is_empty()).then(|| address.join(", ")),
        company: d(&r.company),
    }
}

/// Borderline pairs: the non-vetoed pairs nearest the threshold on each side, vetoed pairs
/// whose evidence alone was above it ([`crate::digest`] chose them while scoring), and
/// every pair a steward decided.
fn review_pairs(pipeline: &Pipeline, res: &Resolution) -> Vec<ReviewPair> {
    let model = &res.model;
    let d = &res.digest;
    let mut chosen: Vec<ScoredPair> = d
        .above
        .iter()
        .take(BORDERLINE_PER_SIDE)
        .chain(d.below.iter().take(BORDERLINE_PER_SIDE))
        .chain(d.vetoed_high.iter().take(VETOED_FOR_REVIEW))
        .cloned()
        .collect();
    let decided: HashMap<CandidatePair, Decision> =
        res.decided.iter().map(|d| (d.pair, d.verdict)).collect();
    let have: HashSet<CandidatePair> = chosen.iter().map(|p| p.pair).collect();
    let mut extra: Vec<CandidatePair> = decided
        .keys()
        .filter(|p| !have.contains(p))
        .copied()
        .collect();
    extra.sort_unstable();
    for pair in extra {
        let scored = res
            .scored
            .binary_search_by(|p| p.pair.cmp(&pair))
            .ok()
            .map(|i| res.scored[i].clone());
        chosen.push(scored.unwrap_or_else(|| {
            // A pair the run did not keep (it keeps its links), or one blocking never
            // proposed: scored here as the score stage scores.
            let m = |i: u32| MatchRecord::from_customer(&res.records[i as usize]);
            score::score_pair(model, &res.tf, &m(pair.a), &m(pair.b), pair)
        }));
    }
    chosen.sort_by(|x, y| y.weight.total_cmp(&x.weight).then(x.pair.cmp(&y.pair)));
    chosen
        .into_iter()
        .enumerate()
        .map(|(i, p)| ReviewPair {
            pair_id: i as u32 + 1,
            side: if p.vetoed {
                "vetoed"
            } else if p.linked(model) {
                "above"
            } else {
                "below"
            },
            weight: p.weight,
            probability: p.probability,
            linked: p.linked(model),
            decision: decided.get(&p.pair).copied(),
            a: record_view(pipeline, &res.records[p.pair.a as usize]),
            b: record_view(pipeline, &res.records[p.pair.b as usize]),
            evidence: score::evidence(model, &res.tf, &p),
            vetoed_by: vetoed_by(
                model,
                &p,
                &MatchRecord::from_customer(&res.records[p.pair.a as usize]),
                &MatchRecord::from_customer(&res.records[p.pair.b as usize]),
            ),
        })
        .collect()
}

/// The comparisons whose veto kept a pair apart: veto levels, and e-mail and phone together
/// when each record has its own of both ([`score::separate_contacts`]).
fn vetoed_by(model: &Model, p: &ScoredPair, a: &MatchRecord, b: &MatchRecord) -> Vec<Comparison> {
    let mut by: Vec<Comparison> = model
        .comparisons
        .iter()
        .zip(&p.gamma)
        .filter(|(cm, l)| cm.levels.get(**l as usize).is_some_and(|lv| lv.veto))
        .map(|(cm, _)| cm.comparison)
        .collect();
    if p.vetoed && score::separate_contacts(model, &p.gamma, a, b) {
        by.extend([Comparison::Email, Comparison::Phone]);
    }
    by
}

fn store_effect(pipeline: &Pipeline, outcome: &RunOutcome) -> StoreEffect {
    let res = &outcome.resolution;
    let plan = &outcome.plan;
    let cluster_of: HashMap<&str, usize> = plan
        .cluster_ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    let overwrites = plan
        .overwrites
        .iter()
        .map(|e| {
            let lineage = e
                .customer_id
                .as_deref()
                .and_then(|id| cluster_of.get(id))
                .zip(e.field.and_then(GoldenField::from_name))
                .and_then(|(&ci, f)| res.profiles[ci].lineage[f.index()].as_ref());
            let record = lineage.map(|l| &res.records[l.record as usize]);
            Overwrite {
                customer_id: e.customer_id.clone().unwrap_or_default(),
                field: e.field.unwrap_or_default().to_string(),
                existing: e.before.clone().unwrap_or_default(),
                new: e.after.clone().unwrap_or_default(),
                source: record.map(|r| pipeline.sources[r.source as usize].name.clone()),
                source_key: record.map(|r| r.key.clone()),
                rule: lineage.map(|l| l.rule.name().to_string()),
            }
        })
        .collect();
    StoreEffect {
        store: pipeline.store_path.display().to_string(),
        counts: plan.counts.clone(),
        events: plan.events.len() as u64,
        tables: outcome.summary.tables.clone(),
        overwrites,
    }
}

fn shadow(pipeline: &Pipeline, outcome: &RunOutcome) -> ShadowDependency {
    let res = &outcome.resolution;
    let is_shadow = |source: u16| pipeline.sources[source as usize].shadow;
    let shadow_sources: Vec<String> = pipeline
        .sources
        .iter()
        .filter(|s| s.shadow)
        .map(|s| s.name.clone())
        .collect();
    let reference = |i: u32| {
        let r = &res.records[i as usize];
        RecordRef {
            source: pipeline.sources[r.source as usize].name.clone(),
            key: r.key.clone(),
        }
    };
    let mut customers = Vec::new();
    let mut only = 0u64;
    let mut per_field: BTreeMap<GoldenField, u64> = BTreeMap::new();
    let mut values = Vec::new();
    let mut values_total = 0u64;
    if !shadow_sources.is_empty() {
        for (ci, members) in res.clusters.iter().enumerate() {
            let id = &outcome.plan.cluster_ids[ci];
            let profile = &res.profiles[ci];
            if members
                .iter()
                .all(|&m| is_shadow(res.records[m as usize].source))
            {
                only += 1;
                if customers.len() < LIST_CAP {
                    customers.push(ShadowCustomer {
                        customer_id: id.clone(),
                        name: profile
                            .get(GoldenField::FullName, &res.records)
                            .map(str::to_string),
                        records: members.iter().map(|&m| reference(m)).collect(),
                    });
                }
            }
            for f in GoldenField::ALL {
                let Some(l) = &profile.lineage[f.index()] else {
                    continue;
                };
                let from = &res.records[l.record as usize];
                if !is_shadow(from.source) {
                    continue;
                }
                let Some(value) = from.golden_value(f) else {
                    continue;
                };
                let elsewhere = members.iter().any(|&m| {
                    let r = &res.records[m as usize];
                    !is_shadow(r.source) && r.golden_value(f).is_some()
                });
                if elsewhere {
                    continue;
                }
                *per_field.entry(f).or_default() += 1;
                values_total += 1;
                if values.len() < LIST_CAP {
                    values.push(ShadowValue {
                        customer_id: id.clone(),
                        field: f.name().to_string(),
                        value: value.to_string(),
                        source: pipeline.sources[from.source as usize].name.clone(),
                        source_key: from.key.clone(),
                    });
                }
            }
        }
    }
    let mapped_by = |f: GoldenField, shadow: bool| {
        pipeline
            .sources
            .iter()
            .filter(|s| s.shadow == shadow)
            .any(|s| s.mapping.fields.iter().any(|m| feeds(m.field, f)))
    };
    let fields_mapped_only_by_shadow = GoldenField::ALL
        .into_iter()
        .filter(|&f| mapped_by(f, true) && !mapped_by(f, false))
        .map(|f| f.name().to_string())
        .collect();
    ShadowDependency {
        shadow_sources,
        customers_only_in_shadow: only,
        customers,
        fields_mapped_only_by_shadow,
        fields_only_from_shadow: per_field
            .into_iter()
            .map(|(f, customers)| ShadowField {
                field: f.name().to_string(),
                customers,
            })
            .collect(),
        values,
        values_total,
    }
}

/// Whether a mapped field can give a golden field a value: a full name is parsed into the
/// parts of the name.
fn feeds(field: crate::record::Field, golden: GoldenField) -> bool {
    use crate::record::Field;
    field.name() == golden.name()
        || (field == Field::FullName && crate::record::FieldGroup::Name.fields().contains(&golden))
}

/// The files a report was written to.
#[derive(Debug, Clone)]
pub struct Written {
    pub json: PathBuf,
    pub html: PathBuf,
    pub review_csv: PathBuf,
}

/// Write `report.json`, `report.html` and `review.csv` into `dir` (created if needed).
pub fn write(dir: &Path, report: &Report) -> Result<Written> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let written = Written {
        json: dir.join("report.json"),
        html: dir.join("report.html"),
        review_csv: dir.join("review.csv"),
    };
    let json = serde_json::to_string_pretty(report).map_err(|e| Error::Other(e.to_string()))?;
    std::fs::write(&written.json, json + "\n").map_err(|e| Error::io(&written.json, e))?;
    std::fs::write(&written.html, html::render(report)).map_err(|e| Error::io(&written.html, e))?;
    review::write(&written.review_csv, &report.matching.review)?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block::CandidatePair;

    /// The review list names what kept a pair apart: a veto level, or each record's own
    /// e-mail and mobile together.
    #[test]
    fn vetoed_pairs_name_what_kept_them_apart() {
        let model = Model {
            prior_weight: -16.0,
            ..Model::default_model(0.9)
        };
        let tf = score::TermFrequencies::default();
        let person = |given: &str, email: &str, phone: &str| MatchRecord {
            given: Some(given.into()),
            family: Some("wagner".into()),
            street: Some("lindenstr12".into()),
            postcode: Some("10115".into()),
            city: Some("berlin".into()),
            emails: vec![email.into()],
            phones: vec![phone.into()],
            ..MatchRecord::default()
        };
        let by = |a: &MatchRecord, b: &MatchRecord| {
            let p = score::score_pair(&model, &tf, a, b, CandidatePair { a: 0, b: 1 });
            assert!(p.vetoed, "{p:?}");
            vetoed_by(&model, &p, a, b)
        };
        // Father and son of one name: each his own mailbox and mobile.
        let father = person("jens", "jwagner@example.com", "+4915112345678");
        let son = person("jens", "jens.wagner1985@example.org", "+4917687654321");
        assert_eq!(
            by(&father, &son),
            vec![Comparison::Email, Comparison::Phone]
        );
        // Two given names that disagree: that comparison's veto, not the contacts'.
        let maria = person("maria", "maria.w@example.org", "+49302345678");
        let got = by(&father, &maria);
        assert!(got.contains(&Comparison::GivenName), "{got:?}");
        assert!(!got.contains(&Comparison::Email), "{got:?}");
    }
}
