//! Pair scoring and the comparators: `cargo bench --bench score` (figures in
//! `benches/README.md`).
//!
//! The inputs are real candidate pairs: a `crmfuse synth` company (generated into a
//! temporary directory, nothing stored) is resolved once, and its blocked pairs are scored
//! again with the trained model, on one thread and on every core.

use std::sync::OnceLock;

use chrono::NaiveDate;
use crmfuse::block::CandidatePair;
use crmfuse::config::Pipeline;
use crmfuse::pipeline::{self, Resolution, ResolveOptions};
use crmfuse::progress::Progress;
use crmfuse::score::{self, MatchRecord};
use crmfuse::synth::{self, SynthOptions};
use divan::Bencher;
use divan::counter::ItemsCount;

/// The binary's allocator (src/main.rs), so that the figures are the pipeline's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    divan::main();
}

/// People in the generated company (`CRMFUSE_BENCH_PEOPLE`, default 20,000; CI runs the
/// benches once, as tests, at a few hundred).
fn people() -> usize {
    std::env::var("CRMFUSE_BENCH_PEOPLE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000)
}

struct Company {
    res: Resolution,
    records: Vec<MatchRecord>,
    pairs: Vec<CandidatePair>,
}

fn company() -> &'static Company {
    static COMPANY: OnceLock<Company> = OnceLock::new();
    COMPANY.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a temporary directory");
        synth::generate(&SynthOptions {
            people: people(),
            seed: 1,
            out: dir.path().to_path_buf(),
        })
        .expect("synth");
        let pipeline = Pipeline::load(&dir.path().join("pipeline.toml")).expect("config");
        let opts = ResolveOptions {
            today: NaiveDate::from_ymd_opt(2026, 11, 23).expect("a date"),
            model: None,
            decisions: Default::default(),
            counts: None,
            keep_pairs: true,
        };
        let res = pipeline::resolve(&pipeline, &opts, &mut Progress::new(false)).expect("run");
        let records = res.records.iter().map(MatchRecord::from_customer).collect();
        let pairs: Vec<CandidatePair> = res.scored.iter().map(|p| p.pair).collect();
        // A bench over no pairs would measure nothing.
        assert!(
            !pairs.is_empty(),
            "the generated company has no candidate pairs"
        );
        Company {
            res,
            records,
            pairs,
        }
    })
}

/// The match records afresh, as a run has them: what scoring works out about a record on
/// first use (whether a phone is a mobile) is part of the measured cost.
fn fresh_records(c: &Company) -> Vec<MatchRecord> {
    c.res
        .records
        .iter()
        .map(MatchRecord::from_customer)
        .collect()
}

/// Every candidate pair, scored one after the other on one thread.
#[divan::bench(sample_count = 20)]
fn pairs_one_thread(bencher: Bencher) {
    let c = company();
    bencher
        .counter(ItemsCount::new(c.pairs.len()))
        .with_inputs(|| fresh_records(c))
        .bench_refs(|records| {
            c.pairs
                .iter()
                .map(|&p| {
                    score::score_pair(
                        &c.res.model,
                        &c.res.tf,
                        &records[p.a as usize],
                        &records[p.b as usize],
                        p,
                    )
                    .weight
                })
                .sum::<f64>()
        });
}

/// Every candidate pair, as the score stage runs them (rayon, every core).
#[divan::bench(sample_count = 20)]
fn pairs_parallel(bencher: Bencher) {
    let c = company();
    bencher
        .counter(ItemsCount::new(c.pairs.len()))
        .with_inputs(|| fresh_records(c))
        .bench_refs(|records| score::score_all(&c.res.model, &c.res.tf, records, &c.pairs));
}

/// Each comparison alone over every candidate pair, one thread: which comparator costs what.
#[divan::bench(sample_count = 20, args = comparisons())]
fn comparison(bencher: Bencher, name: &str) {
    let c = company();
    let cmp = c
        .res
        .model
        .comparisons
        .iter()
        .find(|m| format!("{:?}", m.comparison) == name)
        .expect("a comparison of the model")
        .comparison;
    bencher.counter(ItemsCount::new(c.pairs.len())).bench(|| {
        c.pairs
            .iter()
            .filter_map(|&p| {
                score::compare(cmp, &c.records[p.a as usize], &c.records[p.b as usize])
            })
            .count()
    });
}

fn comparisons() -> Vec<String> {
    score::Model::default_model(0.9)
        .comparisons
        .iter()
        .map(|m| format!("{:?}", m.comparison))
        .collect()
}
