//! The pipeline: ingest -> cleanse -> block -> score -> cluster -> survive. Loading (and the
//! dry-run plan) is `load`'s job; this module only lists the stages. A steward's decisions
//! (`--decisions`) enter at the cluster stage as must-links and cannot-links.

use chrono::NaiveDate;
use rayon::prelude::*;

use crate::block::{self, CandidatePair, RuleStats};
use crate::cleanse::{self, CleanseContext};
use crate::cluster::{self, Cluster};
use crate::config::Pipeline;
use crate::decisions::{DecisionOutcome, Decisions, Unapplied, Verdict};
use crate::digest::PairDigest;
use crate::error::Result;
use crate::ingest::{self, Ingested};
use crate::progress::Progress;
use crate::record::{Customer, Quarantined};
use crate::score::{self, Gamma, MatchRecord, Model, ScoredPair, TermCounts, TermFrequencies};
use crate::survive::{self, GoldenProfile};
use crate::train::{self, TrainingOptions, TrainingReport};

/// Per-source facts of a run.
#[derive(Debug, Clone)]
pub struct SourceStats {
    pub name: String,
    pub rows_read: u64,
    pub records: u64,
    pub quarantined: u64,
    pub checksum: String,
    pub bytes: u64,
}

/// Everything the pipeline decided, before anything is written.
#[derive(Debug)]
pub struct Resolution {
    /// Cleansed records, sorted by (source, key): the order never depends on input order.
    pub records: Vec<Customer>,
    pub quarantined: Vec<Quarantined>,
    pub sources: Vec<SourceStats>,
    pub blocking: Vec<RuleStats>,
    pub model: Model,
    /// How the model was trained; `None` when a saved model was used.
    pub training: Option<TrainingReport>,
    pub tf: TermFrequencies,
    /// The scored candidate pairs, in pair order: every one when the options kept them
    /// ([`ResolveOptions::keep_pairs`]), else only the links (what clustering and the load
    /// use; see [`score_stage`] for why not the vetoes).
    pub scored: Vec<ScoredPair>,
    /// Counts and examples of every scored pair, kept or not: what a report shows of them.
    pub digest: PairDigest,
    /// How many candidate pairs were scored.
    pub candidate_pairs: u64,
    pub clusters: Vec<Cluster>,
    /// One golden profile per cluster.
    pub profiles: Vec<GoldenProfile>,
    /// The steward's decisions this run applied, as record pairs.
    pub decided: Vec<DecidedPair>,
    pub decisions: DecisionOutcome,
    /// The name counts `tf` was computed from, when they are this resolution's own (a run,
    /// or a sync that re-resolved everything): the load stores them for later syncs.
    pub term_counts: Option<TermCounts>,
    /// What an incremental sync re-resolved (`None`: everything was resolved).
    pub incremental: Option<crate::incremental::Delta>,
}

/// A steward's decision on a pair of this run's records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecidedPair {
    pub pair: CandidatePair,
    pub verdict: Verdict,
    /// Line in the decisions file.
    pub line: u64,
}

impl Resolution {
    pub fn links(&self) -> impl Iterator<Item = &ScoredPair> {
        self.scored.iter().filter(|p| p.linked(&self.model))
    }
}

/// What a resolution may be given besides the sources.
#[derive(Debug, Clone)]
pub struct ResolveOptions {
    /// Birth dates after this day are flagged.
    pub today: NaiveDate,
    /// A saved model to score with instead of training one on this data.
    pub model: Option<Model>,
    /// A steward's same/different decisions, applied when clustering.
    pub decisions: Decisions,
    /// Name counts to score with (a sync's: those of the store's last full resolution)
    /// instead of counting this resolution's records.
    pub counts: Option<TermCounts>,
    /// Keep every scored pair in the resolution, not only the links (at 1M records, 385k of
    /// 4.5M candidate pairs; 3.54M are vetoes): for benchmarks and error analysis. A report
    /// needs only [`Resolution::digest`].
    pub keep_pairs: bool,
}

/// Run every stage up to the golden profiles.
pub fn resolve(
    pipeline: &Pipeline,
    opts: &ResolveOptions,
    progress: &mut Progress,
) -> Result<Resolution> {
    // Between stages, a Ctrl-C or the memory limit stops the run.
    let (records, quarantined, sources) = ingest_stage(pipeline, progress)?;
    progress.forecast(records.len())?;
    progress.between_stages()?;
    let records = cleanse_stage(pipeline, records, opts.today, progress);
    progress.between_stages()?;
    // (A stage of its own: at 1M records, half a second that no stage's time showed.)
    let stage = progress.stage("match keys", None);
    let match_records = match_records(&records);
    let (counts, counts_are_own) = match &opts.counts {
        Some(c) => (c.clone(), false),
        None => (TermCounts::count(&match_records), true),
    };
    progress.finish(stage);
    let input = Cleansed {
        records,
        match_records,
        quarantined,
        sources,
    };
    let scoring = Scoring {
        model: opts.model.clone(),
        counts,
        counts_are_own,
        held: None,
        keep_pairs: opts.keep_pairs,
    };
    resolve_cleansed(pipeline, input, scoring, &opts.decisions, progress)
}

/// Cleansed records and what else ingest found, ready to be matched.
pub struct Cleansed {
    /// Sorted by (source, key).
    pub records: Vec<Customer>,
    pub match_records: Vec<MatchRecord>,
    pub quarantined: Vec<Quarantined>,
    pub sources: Vec<SourceStats>,
}

/// How [`resolve_cleansed`] scores.
pub struct Scoring<'a> {
    /// `None`: train a model on the records.
    pub model: Option<Model>,
    /// Name counts for term frequencies.
    pub counts: TermCounts,
    /// The counts are the records' own (stored for later syncs), not a stored set.
    pub counts_are_own: bool,
    /// How many records outside these share a blocking key (see [`block::block_within`]).
    pub held: Option<&'a (dyn Fn(u64) -> u64 + Sync)>,
    /// [`ResolveOptions::keep_pairs`].
    pub keep_pairs: bool,
}

/// Every stage from blocking to survivorship.
pub fn resolve_cleansed(
    pipeline: &Pipeline,
    input: Cleansed,
    scoring: Scoring<'_>,
    decisions: &Decisions,
    progress: &mut Progress,
) -> Result<Resolution> {
    let Cleansed {
        records,
        match_records,
        quarantined,
        sources,
    } = input;
    let pairs = block_stage(pipeline, &match_records, scoring.held, progress)?;
    progress.between_stages()?;
    if scoring.keep_pairs {
        // With half again as a margin: a 10M go-live dry run that kept every pair grew by
        // 6.8 GiB while scoring, and was not done, for 5.8 GiB of scored pairs
        // (benches/README.md).
        let bytes = std::mem::size_of::<ScoredPair>() as u64 * 3 / 2;
        progress.forecast_pairs(pairs.pairs.len() as u64, bytes)?;
    }
    let (model, training, gammas) = train_stage(
        pipeline,
        scoring.model,
        &match_records,
        &pairs.pairs,
        progress,
    );
    progress.between_stages()?;
    let tf = TermFrequencies::from_counts(&match_records, &scoring.counts);
    // Unless every pair is to be kept (benchmarks, error analysis), the pairs that are not
    // links are dropped as they are scored: clustering and the load never use them, and a
    // report needs only their digest.
    let (scored, digest) = score_stage(
        &model,
        &tf,
        &match_records,
        &pairs.pairs,
        gammas.as_deref(),
        scoring.keep_pairs,
        progress,
    );
    let candidate_pairs = pairs.pairs.len() as u64;
    let blocking = pairs.stats;
    drop(pairs.pairs);
    drop(gammas);
    progress.between_stages()?;
    let (decided, mut outcome) = decide_stage(pipeline, &records, decisions);
    let clusters = cluster_stage(&model, &tf, &match_records, &scored, &decided, progress);
    outcome.conflicts = conflicts(records.len(), &clusters, &decided, &records, pipeline);
    let profiles = survive_stage(pipeline, &records, &clusters, progress);
    progress.between_stages()?;
    Ok(Resolution {
        records,
        quarantined,
        sources,
        blocking,
        model,
        training,
        tf,
        scored,
        digest,
        candidate_pairs,
        clusters,
        profiles,
        decided,
        decisions: outcome,
        term_counts: scoring.counts_are_own.then_some(scoring.counts),
        incremental: None,
    })
}

/// What [`ingest_known`] gives: [`Ingest`], and per source the store's rows it found
/// unchanged, with their lines now.
type IngestKnown = (
    Vec<crate::record::SourceRecord>,
    Vec<Quarantined>,
    Vec<SourceStats>,
    Vec<Vec<(u32, u64)>>,
);

type Ingest = (
    Vec<crate::record::SourceRecord>,
    Vec<Quarantined>,
    Vec<SourceStats>,
);

pub(crate) fn ingest_stage(pipeline: &Pipeline, progress: &mut Progress) -> Result<Ingest> {
    ingest_known(pipeline, None, &ingest::HoldsNothing, progress).map(|(r, q, s, _)| (r, q, s))
}

/// [`ingest::Holds`] of every source, by the source's index in the pipeline.
pub(crate) trait HoldsIn: Sync {
    fn key(&self, source: u16, key: &str, hash: u64) -> Option<(u32, bool)>;
    fn line(&self, source: u16, hash: u64, raw: &[u8]) -> Option<u32>;
    fn holds_nothing(&self) -> bool {
        false
    }
}

impl HoldsIn for ingest::HoldsNothing {
    fn key(&self, _: u16, _: &str, _: u64) -> Option<(u32, bool)> {
        None
    }
    fn line(&self, _: u16, _: u64, _: &[u8]) -> Option<u32> {
        None
    }
    fn holds_nothing(&self) -> bool {
        true
    }
}

/// One source's view of a [`HoldsIn`].
struct HoldsOf<'a> {
    all: &'a dyn HoldsIn,
    source: u16,
}

impl ingest::Holds for HoldsOf<'_> {
    fn key(&self, key: &str, hash: u64) -> Option<(u32, bool)> {
        self.all.key(self.source, key, hash)
    }
    fn line(&self, hash: u64, raw: &[u8]) -> Option<u32> {
        self.all.line(self.source, hash, raw)
    }
    fn holds_nothing(&self) -> bool {
        self.all.holds_nothing()
    }
}

/// Ingest, skipping the rows `known` recognises as held unchanged (by their index among
/// the store's rows; they are counted in the source's records and listed, per source, in
/// the fourth element).
/// `fetched`: the sources' files, already read (one per source, in order).
pub(crate) fn ingest_known(
    pipeline: &Pipeline,
    fetched: Option<Vec<ingest::Fetched>>,
    known: &dyn HoldsIn,
    progress: &mut Progress,
) -> Result<IngestKnown> {
    let stage = progress.stage("ingest", Some(pipeline.sources.len() as u64));
    let mut fetched: Vec<Option<ingest::Fetched>> = match fetched {
        Some(f) => f.into_iter().map(Some).collect(),
        None => pipeline.sources.iter().map(|_| None).collect(),
    };
    let read: Vec<Ingested> = pipeline
        .sources
        .par_iter()
        .zip(fetched.par_iter_mut())
        .enumerate()
        .map(|(i, (s, f))| {
            let index = i as u16;
            let known = HoldsOf {
                all: known,
                source: index,
            };
            let r = match f.take() {
                Some(f) => ingest::read_fetched_known(s, f, index, &known),
                None => ingest::read_source_known(s, index, &known),
            };
            stage.inc(1);
            r
        })
        .collect::<Result<_>>()?;
    let mut stats = Vec::with_capacity(read.len());
    let mut records = Vec::new();
    let mut quarantined = Vec::new();
    let mut unchanged = Vec::with_capacity(read.len());
    for (source, mut ing) in pipeline.sources.iter().zip(read) {
        stats.push(SourceStats {
            name: source.name.clone(),
            rows_read: ing.rows_read(),
            records: (ing.records.len() + ing.unchanged.len()) as u64,
            quarantined: ing.quarantined.len() as u64,
            checksum: ing.checksum,
            bytes: ing.bytes,
        });
        unchanged.push(std::mem::take(&mut ing.unchanged));
        records.extend(ing.records);
        quarantined.extend(ing.quarantined);
    }
    records.par_sort_unstable_by(|a, b| (a.source, &a.key).cmp(&(b.source, &b.key)));
    progress.finish(stage);
    Ok((records, quarantined, stats, unchanged))
}

pub(crate) fn cleanse_stage(
    pipeline: &Pipeline,
    records: Vec<crate::record::SourceRecord>,
    today: NaiveDate,
    progress: &mut Progress,
) -> Vec<Customer> {
    let stage = progress.stage("cleanse", Some(records.len() as u64));
    // One memo for all sources: they hold the same company's places and names.
    let mut contexts: Vec<CleanseContext<'_>> = Vec::with_capacity(pipeline.sources.len());
    for s in &pipeline.sources {
        let ctx = match contexts.first() {
            Some(first) => CleanseContext::sharing_memo(&s.mapping, today, first),
            None => CleanseContext::new(&s.mapping, today),
        };
        contexts.push(ctx);
    }
    let out = records
        .into_par_iter()
        .map(|r| {
            let ctx = &contexts[r.source as usize];
            cleanse::cleanse(r, ctx)
        })
        .collect();
    stage.inc(0);
    progress.finish(stage);
    out
}

pub(crate) fn match_records(records: &[Customer]) -> Vec<MatchRecord> {
    records.par_iter().map(MatchRecord::from_customer).collect()
}

fn block_stage(
    pipeline: &Pipeline,
    records: &[MatchRecord],
    held: Option<&(dyn Fn(u64) -> u64 + Sync)>,
    progress: &mut Progress,
) -> Result<block::Blocking> {
    let stage = progress.stage("block", None);
    let m = &pipeline.matching;
    let out = block::block_within(
        records,
        &block::default_rules(),
        m.max_block_size,
        m.pair_budget,
        held,
    )?;
    progress.finish(stage);
    Ok(out)
}

/// The model, how it was trained, and the pairs' comparison vectors in pair order (training
/// works them out; scoring reads them instead of comparing every pair again). A saved model
/// is not trained: `None` twice.
fn train_stage(
    pipeline: &Pipeline,
    saved: Option<Model>,
    records: &[MatchRecord],
    pairs: &[CandidatePair],
    progress: &mut Progress,
) -> (Model, Option<TrainingReport>, Option<Vec<Gamma>>) {
    if let Some(model) = saved {
        return (model, None, None);
    }
    let stage = progress.stage("train", None);
    let m = &pipeline.matching;
    let opts = TrainingOptions {
        seed: m.seed,
        u_sample_pairs: m.u_sample_pairs,
        ..TrainingOptions::default()
    };
    let model = Model::default_model(m.threshold);
    let gammas = score::gammas(&model, records, pairs);
    let compared: Vec<score::Comparison> = model.comparisons.iter().map(|c| c.comparison).collect();
    let (trained, report) = train::train(model, records, pairs, &gammas, &opts);
    // The vectors hold a level per comparison of the untrained model: they are the trained
    // model's only while training leaves the comparisons as they are.
    assert!(
        trained
            .comparisons
            .iter()
            .map(|c| c.comparison)
            .eq(compared),
        "training changed the model's comparisons"
    );
    progress.finish(stage);
    (trained, Some(report), Some(gammas))
}

/// Score the candidate pairs: all of them (`keep_all`), or only those clustering and the
/// load use, the links (the others are never held at once). Either way, with the digest of
/// every pair that a report shows.
///
/// The vetoed pairs are not kept for clustering either: it scores every pair of records
/// that a join would make one customer, and stops the join at a veto, so it finds each
/// vetoed pair again where it matters, the one place a veto is used. A list of them would
/// only answer some of those checks without scoring, and cost gigabytes at 10M records (at
/// 1M, four in five candidate pairs are vetoes; at 10M there are 155M pairs).
fn score_stage(
    model: &Model,
    tf: &TermFrequencies,
    records: &[MatchRecord],
    pairs: &[CandidatePair],
    gammas: Option<&[Gamma]>,
    keep_all: bool,
    progress: &mut Progress,
) -> (Vec<ScoredPair>, PairDigest) {
    const CHUNK: usize = 1 << 14;
    let stage = progress.stage("score", Some(pairs.len() as u64));
    // The pair at `i`: compared again only when training did not compare it.
    let score = |i: usize, p: CandidatePair| {
        let (a, b) = (&records[p.a as usize], &records[p.b as usize]);
        match gammas {
            Some(g) => score::score_compared(model, tf, a, b, p, g[i]),
            None => score::score_pair(model, tf, a, b, p),
        }
    };
    let out = if keep_all {
        let all: Vec<ScoredPair> = pairs
            .par_iter()
            .enumerate()
            .map(|(i, &p)| score(i, p))
            .collect();
        let digest = PairDigest::of(model, &all);
        (all, digest)
    } else {
        let chunks: Vec<(Vec<ScoredPair>, PairDigest)> = pairs
            .par_chunks(CHUNK)
            .enumerate()
            .map(|(c, chunk)| {
                let mut digest = PairDigest::new(model);
                let links = chunk
                    .iter()
                    .enumerate()
                    .map(|(i, &p)| score(c * CHUNK + i, p))
                    .inspect(|s| digest.add(s))
                    .filter(|s| s.linked(model))
                    .collect::<Vec<_>>();
                (links, digest)
            })
            .collect();
        let mut links = Vec::with_capacity(chunks.iter().map(|(l, _)| l.len()).sum());
        let mut digest = PairDigest::new(model);
        for (l, d) in chunks {
            links.extend(l);
            digest = digest.merged(d);
        }
        (links, digest)
    };
    stage.inc(pairs.len() as u64);
    progress.finish(stage);
    (out.0, out.1.finish())
}

/// Find the records the decisions name: (source, key) -> record index. Records are sorted
/// by (source, key), so each look-up is a binary search.
fn decide_stage(
    pipeline: &Pipeline,
    records: &[Customer],
    decisions: &Decisions,
) -> (Vec<DecidedPair>, DecisionOutcome) {
    let mut outcome = DecisionOutcome {
        file: decisions.path.as_ref().map(|p| p.display().to_string()),
        checksum: decisions.checksum.clone(),
        read: decisions.decisions.len() as u64,
        ..DecisionOutcome::default()
    };
    let find = |r: &crate::decisions::RecordRef| -> std::result::Result<u32, String> {
        let Some(source) = pipeline.source_index(&r.source) else {
            return Err(format!("no source named `{}` in this pipeline", r.source));
        };
        records
            .binary_search_by(|c| (c.source as usize, c.key.as_str()).cmp(&(source, &r.key)))
            .map(|i| i as u32)
            .map_err(|_| {
                let hint = if r.key.chars().all(|c| c.is_ascii_digit()) {
                    " (if a spreadsheet dropped leading zeros, restore the key as text)"
                } else {
                    ""
                };
                format!("{} has no record `{}`{hint}", r.source, r.key)
            })
    };
    let mut decided = Vec::new();
    for d in &decisions.decisions {
        let unapplied = |reason: String| Unapplied {
            line: d.line,
            a: d.a.clone(),
            b: d.b.clone(),
            verdict: d.verdict,
            reason,
        };
        match (find(&d.a), find(&d.b)) {
            (Ok(a), Ok(b)) if a != b => {
                decided.push(DecidedPair {
                    pair: CandidatePair {
                        a: a.min(b),
                        b: a.max(b),
                    },
                    verdict: d.verdict,
                    line: d.line,
                });
                match d.verdict {
                    Verdict::Same => outcome.applied_same += 1,
                    Verdict::Different => outcome.applied_different += 1,
                }
            }
            (Ok(_), Ok(_)) => outcome
                .stale
                .push(unapplied("both sides name the same record".into())),
            (Err(e), _) | (_, Err(e)) => outcome.stale.push(unapplied(e)),
        }
    }
    (decided, outcome)
}

fn cluster_stage(
    model: &Model,
    tf: &TermFrequencies,
    records: &[MatchRecord],
    scored: &[ScoredPair],
    decided: &[DecidedPair],
    progress: &mut Progress,
) -> Vec<Cluster> {
    let stage = progress.stage("cluster", None);
    let of = |v: Verdict| -> std::collections::HashSet<CandidatePair> {
        decided
            .iter()
            .filter(|d| d.verdict == v)
            .map(|d| d.pair)
            .collect()
    };
    let (same, different) = (of(Verdict::Same), of(Verdict::Different));
    let links: Vec<(CandidatePair, f64)> = scored
        .iter()
        .filter(|p| p.linked(model))
        .map(|p| (p.pair, p.weight))
        .collect();
    // A steward's `different` is a cannot-link; `same` a must-link, which also overrides a
    // veto on that pair.
    let mut cannot: Vec<CandidatePair> = different.iter().copied().collect();
    let mut must: Vec<CandidatePair> = same.iter().copied().collect();
    must.sort_unstable();
    cannot.sort_unstable();
    // The vetoes: any two records a join would make one customer are scored, and a veto
    // between them (different birth dates, Jr against Sr, clearly different given names)
    // keeps them apart, whether they were a candidate pair or a link bridges them without
    // their having been compared. So the vetoed pairs need not be listed as cannot-links
    // (see `score_stage`). (Also refusing bridges over clearly contrary evidence, total
    // weight below -10, cost more recall than it gained precision on the synthetic
    // companies.)
    let bridge_conflict = |a: u32, b: u32| {
        let pair = CandidatePair { a, b };
        if same.contains(&pair) {
            return false;
        }
        let s = score::score_pair(model, tf, &records[a as usize], &records[b as usize], pair);
        s.vetoed
    };
    let out = cluster::constrained_components_checked(
        records.len(),
        &must,
        &links,
        &cannot,
        Some(&bridge_conflict),
    );
    progress.finish(stage);
    out
}

/// `different` decisions that must-links overruled.
fn conflicts(
    n: usize,
    clusters: &[Cluster],
    decided: &[DecidedPair],
    records: &[Customer],
    pipeline: &Pipeline,
) -> Vec<Unapplied> {
    let mut cluster_of = vec![0usize; n];
    for (ci, members) in clusters.iter().enumerate() {
        for &m in members {
            cluster_of[m as usize] = ci;
        }
    }
    let reference = |i: u32| {
        let r = &records[i as usize];
        crate::decisions::RecordRef {
            source: pipeline.sources[r.source as usize].name.clone(),
            key: r.key.clone(),
        }
    };
    decided
        .iter()
        .filter(|d| {
            d.verdict == Verdict::Different
                && cluster_of[d.pair.a as usize] == cluster_of[d.pair.b as usize]
        })
        .map(|d| Unapplied {
            line: d.line,
            a: reference(d.pair.a),
            b: reference(d.pair.b),
            verdict: d.verdict,
            reason: "`same` decisions on other pairs join these two records".into(),
        })
        .collect()
}

fn survive_stage(
    pipeline: &Pipeline,
    records: &[Customer],
    clusters: &[Cluster],
    progress: &mut Progress,
) -> Vec<GoldenProfile> {
    let stage = progress.stage("survive", Some(clusters.len() as u64));
    let out = clusters
        .par_iter()
        .map(|c| survive::survive(records, c, &pipeline.survivorship, &pipeline.sources))
        .collect();
    progress.finish(stage);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resolution_without_its_other_pairs_clusters_and_survives_alike() {
        // A synthetic company: unlike the demo, it has candidate pairs that are neither
        // linked nor vetoed, and vetoes that keep records apart which links would join.
        // (Clustering never reads the vetoed pairs it is given: see `score_stage`.)
        let dir = tempfile::tempdir().unwrap();
        crate::synth::generate(&crate::synth::SynthOptions {
            people: 1_500,
            seed: 7,
            out: dir.path().to_path_buf(),
        })
        .unwrap();
        let pipeline = Pipeline::load(&dir.path().join("pipeline.toml")).unwrap();
        let resolve_with = |keep_pairs| {
            let opts = ResolveOptions {
                today: NaiveDate::from_ymd_opt(2026, 11, 24).unwrap(),
                model: None,
                decisions: Decisions::default(),
                counts: None,
                keep_pairs,
            };
            resolve(&pipeline, &opts, &mut Progress::new(false)).unwrap()
        };
        let (all, kept) = (resolve_with(true), resolve_with(false));
        assert_eq!(all.candidate_pairs, all.scored.len() as u64);
        assert_eq!(kept.candidate_pairs, all.candidate_pairs);
        // Pairs of each kind, so that dropping the wrong ones would show.
        let vetoed = all.scored.iter().filter(|p| p.vetoed).count();
        let linked = all.links().count();
        assert!(
            vetoed > 0 && linked > 0 && vetoed + linked < all.scored.len(),
            "{vetoed} vetoed, {linked} linked of {}",
            all.scored.len()
        );
        let expected: Vec<CandidatePair> = all.links().map(|p| p.pair).collect();
        let got: Vec<CandidatePair> = kept.scored.iter().map(|p| p.pair).collect();
        assert_eq!(got.len(), expected.len());
        assert_eq!(got, expected);
        // What a report shows of the pairs is the same whether they were kept or not.
        assert_eq!(kept.digest, all.digest);
        assert_eq!(kept.digest.pairs, all.candidate_pairs);
        assert_eq!(kept.digest.vetoed, vetoed as u64);
        assert!(!kept.digest.above.is_empty() && !kept.digest.below.is_empty());
        // The vetoes kept some links from joining their records.
        let unconstrained =
            crate::cluster::connected_components(all.records.len(), all.links().map(|p| p.pair));
        assert!(unconstrained.len() < all.clusters.len());
        assert_eq!(kept.clusters, all.clusters);
        assert_eq!(kept.profiles, all.profiles);

        // Scoring with the comparison vectors training worked out is scoring afresh, in
        // every chunk of pairs: the candidate pairs in turn with random ones, many chunks'
        // worth, scored both ways.
        let records: Vec<MatchRecord> =
            all.records.iter().map(MatchRecord::from_customer).collect();
        let mut rng = crate::rng::Rng::new(3);
        let n = records.len() as u64;
        let mut candidates = all.scored.iter().map(|p| p.pair).cycle();
        let pairs: Vec<CandidatePair> = (0..40_000)
            .map(|i| {
                if i % 2 == 0 {
                    return candidates.next().unwrap();
                }
                let a = rng.below(n - 1) as u32;
                let b = a + 1 + rng.below(n - 1 - a as u64) as u32;
                CandidatePair { a, b }
            })
            .collect();
        let gammas = score::gammas(&all.model, &records, &pairs);
        let mut progress = Progress::new(false);
        for keep_all in [true, false] {
            let mut score = |g: Option<&[Gamma]>| {
                score_stage(
                    &all.model,
                    &all.tf,
                    &records,
                    &pairs,
                    g,
                    keep_all,
                    &mut progress,
                )
            };
            let (given, afresh) = (score(Some(&gammas)), score(None));
            assert!(afresh.0.iter().any(|p| p.linked(&all.model)), "some links");
            assert_eq!(given, afresh);
        }
    }
}
