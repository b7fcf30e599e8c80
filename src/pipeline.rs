//! The pipeline: ingest -> cleanse -> block -> score -> cluster -> survive. Loading (and the
//! dry-run plan) is `load`'s job; this module only lists the stages.

use chrono::NaiveDate;
use rayon::prelude::*;

use crate::block::{self, CandidatePair, RuleStats};
use crate::cleanse::{self, CleanseContext};
use crate::cluster::{self, Cluster};
use crate::config::Pipeline;
use crate::error::Result;
use crate::ingest::{self, Ingested};
use crate::interrupt;
use crate::progress::Progress;
use crate::record::{Customer, Quarantined};
use crate::score::{self, MatchRecord, Model, ScoredPair};
use crate::survive::{self, GoldenProfile};

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
    /// Every scored candidate pair, in pair order.
    pub scored: Vec<ScoredPair>,
    pub clusters: Vec<Cluster>,
    /// One golden profile per cluster.
    pub profiles: Vec<GoldenProfile>,
}

impl Resolution {
    pub fn links(&self) -> impl Iterator<Item = &ScoredPair> {
        self.scored.iter().filter(|p| p.linked(&self.model))
    }
}

pub fn resolve(
    pipeline: &Pipeline,
    today: NaiveDate,
    progress: &mut Progress,
) -> Result<Resolution> {
    // Between stages, a Ctrl-C stops the run (`interrupt::check`).
    let (records, quarantined, sources) = ingest_stage(pipeline, progress)?;
    interrupt::check()?;
    let records = cleanse_stage(pipeline, records, today, progress);
    interrupt::check()?;
    let match_records = match_records(&records);
    let pairs = block_stage(pipeline, &match_records, progress)?;
    interrupt::check()?;
    let model = train_stage(pipeline, &match_records, &pairs.pairs);
    let scored = score_stage(&model, &match_records, &pairs.pairs, progress);
    interrupt::check()?;
    let clusters = cluster_stage(&model, records.len(), &scored, progress);
    let profiles = survive_stage(pipeline, &records, &clusters, progress);
    interrupt::check()?;
    Ok(Resolution {
        records,
        quarantined,
        sources,
        blocking: pairs.stats,
        model,
        scored,
        clusters,
        profiles,
    })
}

type Ingest = (
    Vec<crate::record::SourceRecord>,
    Vec<Quarantined>,
    Vec<SourceStats>,
);

fn ingest_stage(pipeline: &Pipeline, progress: &mut Progress) -> Result<Ingest> {
    let stage = progress.stage("ingest", Some(pipeline.sources.len() as u64));
    let read: Vec<Ingested> = pipeline
        .sources
        .par_iter()
        .enumerate()
        .map(|(i, s)| {
            let r = ingest::read_source(s, i as u16);
            stage.inc(1);
            r
        })
        .collect::<Result<_>>()?;
    progress.finish(stage);
    let mut stats = Vec::with_capacity(read.len());
    let mut records = Vec::new();
    let mut quarantined = Vec::new();
    for (source, ing) in pipeline.sources.iter().zip(read) {
        stats.push(SourceStats {
            name: source.name.clone(),
            rows_read: ing.rows_read(),
            records: ing.records.len() as u64,
            quarantined: ing.quarantined.len() as u64,
            checksum: ing.checksum,
            bytes: ing.bytes,
        });
        records.extend(ing.records);
        quarantined.extend(ing.quarantined);
    }
    records.par_sort_unstable_by(|a, b| (a.source, &a.key).cmp(&(b.source, &b.key)));
    Ok((records, quarantined, stats))
}

fn cleanse_stage(
    pipeline: &Pipeline,
    records: Vec<crate::record::SourceRecord>,
    today: NaiveDate,
    progress: &mut Progress,
) -> Vec<Customer> {
    let stage = progress.stage("cleanse", Some(records.len() as u64));
    let contexts: Vec<CleanseContext<'_>> = pipeline
        .sources
        .iter()
        .map(|s| CleanseContext::new(&s.mapping, today))
        .collect();
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

fn match_records(records: &[Customer]) -> Vec<MatchRecord> {
    records.par_iter().map(MatchRecord::from_customer).collect()
}

fn block_stage(
    pipeline: &Pipeline,
    records: &[MatchRecord],
    progress: &mut Progress,
) -> Result<block::Blocking> {
    let stage = progress.stage("block", None);
    let m = &pipeline.matching;
    let out = block::block(
        records,
        &block::default_rules(),
        m.max_block_size,
        m.pair_budget,
    )?;
    progress.finish(stage);
    Ok(out)
}

fn train_stage(pipeline: &Pipeline, records: &[MatchRecord], pairs: &[CandidatePair]) -> Model {
    let mut model = Model::default_model(pipeline.matching.threshold);
    model.prior_weight = score::estimate_prior(records, pairs);
    model
}

fn score_stage(
    model: &Model,
    records: &[MatchRecord],
    pairs: &[CandidatePair],
    progress: &mut Progress,
) -> Vec<ScoredPair> {
    let stage = progress.stage("score", Some(pairs.len() as u64));
    let out = score::score_all(model, records, pairs);
    stage.inc(pairs.len() as u64);
    progress.finish(stage);
    out
}

fn cluster_stage(
    model: &Model,
    n: usize,
    scored: &[ScoredPair],
    progress: &mut Progress,
) -> Vec<Cluster> {
    let stage = progress.stage("cluster", None);
    let links: Vec<(CandidatePair, f64)> = scored
        .iter()
        .filter(|p| p.linked(model))
        .map(|p| (p.pair, p.weight))
        .collect();
    let cannot: Vec<CandidatePair> = scored.iter().filter(|p| p.vetoed).map(|p| p.pair).collect();
    let out = cluster::constrained_components(n, &links, &cannot);
    progress.finish(stage);
    out
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
