//! Train: `(Model, &[MatchRecord], &[CandidatePair]) -> (Model, TrainingReport)`.
//!
//! Unsupervised Fellegi–Sunter estimation, needing no labelled data:
//! - a first prior from deterministic rules (`score::estimate_prior`), replaced by the one EM
//!   finds among the blocked pairs;
//! - u probabilities (how often non-matches agree at each level) from random record pairs,
//!   which are almost all non-matches, drawn with a fixed seed;
//! - m probabilities (how often matches agree at each level) by expectation-maximisation
//!   over the blocked pairs, with u held fixed and the defaults as a weak prior so that a
//!   small or odd data set cannot push a level to an absurd value.
//!
//! Everything is deterministic: sampling uses the seeded generator, EM runs over comparison
//! vector patterns in sorted order.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;

use rayon::prelude::*;
use serde::Serialize;

use crate::block::CandidatePair;
use crate::hash::KeyHasher;
use crate::rng::Rng;
use crate::score::{self, Gamma, MatchRecord, Model, NULL_LEVEL};

#[derive(Debug, Clone)]
pub struct TrainingOptions {
    pub seed: u64,
    /// Random pairs drawn to estimate u.
    pub u_sample_pairs: usize,
    pub max_iterations: u32,
    /// Weight of the default m values, in pseudo-pairs.
    pub prior_strength: f64,
}

impl Default for TrainingOptions {
    fn default() -> Self {
        TrainingOptions {
            seed: 42,
            u_sample_pairs: 500_000,
            max_iterations: 25,
            prior_strength: 50.0,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct TrainingReport {
    pub u_sample_pairs: u64,
    pub em_iterations: u32,
    pub converged: bool,
    /// Share of blocked pairs the model takes for matches.
    pub blocked_match_rate: f64,
    /// Share of all record pairs the model takes for matches: the prior.
    pub global_match_rate: f64,
    pub distinct_patterns: u64,
    /// u of an exact e-mail agreement counted from the blocked pairs (see
    /// [`shared_mailbox_u`]); `None` when it could not be counted.
    pub email_exact_u_from_collisions: Option<f64>,
}

/// `gammas` are the pairs' comparison vectors ([`score::gammas`] with `model`'s
/// comparisons), in pair order; scoring reads them again.
pub fn train(
    mut model: Model,
    records: &[MatchRecord],
    pairs: &[CandidatePair],
    gammas: &[Gamma],
    opts: &TrainingOptions,
) -> (Model, TrainingReport) {
    assert_eq!(pairs.len(), gammas.len(), "a comparison vector per pair");
    let mut report = TrainingReport::default();
    // Which level each comparison puts a pair at depends on the comparisons, not on m and
    // u: the patterns are counted once, for the first prior and both rounds of EM.
    let patterns = count_patterns(gammas);
    model.prior_weight = prior_from_patterns(&model, records.len(), &patterns)
        .unwrap_or_else(|| score::estimate_prior(records, pairs));
    let sample = sample_levels(&model, records, opts);
    report.u_sample_pairs = sample.pairs;
    let shared_mailbox_u = shared_mailbox_u(&model, records.len(), &patterns);
    report.email_exact_u_from_collisions = shared_mailbox_u;
    set_u(&mut model, &sample, 0.0);
    set_email_exact_u(&mut model, shared_mailbox_u);
    estimate_m(&mut model, &patterns, opts, &mut report);
    // The matches among all pairs: those EM finds among the blocked pairs (blocking is
    // built to miss few). That is the prior; with it, u is corrected for the matches in
    // the random sample, and m refitted once.
    let n = records.len() as f64;
    let all_pairs = (n * (n - 1.0) / 2.0).max(1.0);
    if !pairs.is_empty() {
        let matches = (report.blocked_match_rate * pairs.len() as f64).max(1.0);
        let rate = (matches / all_pairs).clamp(1e-12, 0.5);
        model.prior_weight = (rate / (1.0 - rate)).log2();
        report.global_match_rate = rate;
        set_u(&mut model, &sample, rate);
        set_email_exact_u(&mut model, shared_mailbox_u);
        estimate_m(&mut model, &patterns, opts, &mut report);
    }
    (model, report)
}

type PatternCounts = HashMap<Gamma, u64, BuildHasherDefault<KeyHasher>>;

/// How many blocked pairs have each comparison vector, sorted by vector; counted on every
/// core.
fn count_patterns(gammas: &[Gamma]) -> Vec<(Gamma, u64)> {
    let counts = gammas
        .par_iter()
        .fold(PatternCounts::default, |mut counts, &g| {
            *counts.entry(g).or_default() += 1;
            counts
        })
        .reduce(PatternCounts::default, |mut a, mut b| {
            if a.len() < b.len() {
                std::mem::swap(&mut a, &mut b);
            }
            for (g, k) in b {
                *a.entry(g).or_default() += k;
            }
            a
        });
    sorted_patterns(counts)
}

/// [`score::estimate_prior`] read from the counted patterns instead of comparing every
/// pair again (at 10M records, 155M pairs); `None` when the model lacks one of the
/// comparisons its rules use.
fn prior_from_patterns(model: &Model, records: usize, patterns: &[(Gamma, u64)]) -> Option<f64> {
    use score::Comparison::*;
    let at = |c| model.comparisons.iter().position(|cm| cm.comparison == c);
    let (email, given, family, born) =
        (at(Email)?, at(GivenName)?, at(FamilyName)?, at(BirthDate)?);
    let sure = patterns
        .iter()
        .filter(|(g, _)| g[email] == 0 || (g[given] == 0 && g[family] == 0 && g[born] == 0))
        .map(|(_, k)| k)
        .sum();
    Some(score::prior_from_sure_matches(records, sure))
}

fn sorted_patterns(counts: PatternCounts) -> Vec<(Gamma, u64)> {
    let mut patterns: Vec<(Gamma, u64)> = counts.into_iter().collect();
    patterns.sort_unstable();
    patterns
}

/// u of an exact e-mail agreement, counted instead of sampled.
///
/// A mailbox is personal, so two different customers share one far more rarely than a
/// random sample of half a million pairs can resolve (one hit in the sample is already
/// u = 2e-6, about 19 bits, while at 100,000 records the prior is about -17 bits): a
/// sampled u would leave a lone shared e-mail (a newsletter row) below any threshold.
/// Every pair that shares an e-mail is a candidate (the e-mail blocking rule), so the
/// agreements can be counted over all pairs. Which of them are different people shows in
/// their given names: a family mailbox joins a Claudia and a Michal. The share of
/// e-mail-sharing pairs with clearly different given names, times all e-mail-sharing
/// pairs, estimates the non-matches that share a mailbox (given names that differ on the
/// same person, a nickname the table lacks, make it err towards a larger u, the safe side).
fn shared_mailbox_u(model: &Model, records: usize, patterns: &[(Gamma, u64)]) -> Option<f64> {
    use score::Comparison;
    let index = |c: Comparison| model.comparisons.iter().position(|cm| cm.comparison == c);
    let (email, given) = (index(Comparison::Email)?, index(Comparison::GivenName)?);
    let given_different = model.comparisons[given]
        .levels
        .iter()
        .position(|l| l.veto)? as u8;
    let (mut sharing, mut both_named, mut named_differently) = (0u64, 0u64, 0u64);
    for (g, k) in patterns.iter().filter(|(g, _)| g[email] == 0) {
        sharing += k;
        if g[given] != NULL_LEVEL {
            both_named += k;
            if g[given] == given_different {
                named_differently += k;
            }
        }
    }
    if both_named < 100 {
        return None; // too few to say: keep the sampled u
    }
    let n = records as f64;
    let all_pairs = (n * (n - 1.0) / 2.0).max(1.0);
    let non_matches = (sharing as f64 * named_differently as f64 / both_named as f64).max(1.0);
    Some(non_matches / all_pairs)
}

fn set_email_exact_u(model: &mut Model, u: Option<f64>) {
    let Some(u) = u else { return };
    if let Some(cm) = model
        .comparisons
        .iter_mut()
        .find(|cm| cm.comparison == score::Comparison::Email)
        && let Some(exact) = cm.levels.first_mut()
    {
        exact.u = u;
    }
}

/// Level counts of a random sample of record pairs, per comparison.
struct USample {
    pairs: u64,
    counts: Vec<[u64; 8]>,
}

/// Draw random record pairs and count the level each comparison gives them.
fn sample_levels(model: &Model, records: &[MatchRecord], opts: &TrainingOptions) -> USample {
    let n = records.len() as u64;
    let c = model.comparisons.len();
    if n < 2 {
        return USample {
            pairs: 0,
            counts: vec![[0; 8]; c],
        };
    }
    let sample = (opts.u_sample_pairs as u64).min(n * (n - 1) / 2);
    // Parallel in fixed chunks, each with its own derived stream: same counts whatever the
    // thread count.
    const CHUNK: u64 = 65_536;
    let chunks = sample.div_ceil(CHUNK);
    let base = Rng::new(opts.seed);
    let counts = (0..chunks)
        .into_par_iter()
        .map(|chunk| {
            let mut rng = base.derive(chunk);
            let mut counts = vec![[0u64; 8]; c];
            let todo = CHUNK.min(sample - chunk * CHUNK);
            for _ in 0..todo {
                let a = rng.below(n);
                let mut b = rng.below(n - 1);
                if b >= a {
                    b += 1;
                }
                let g = score::gamma(model, &records[a as usize], &records[b as usize]);
                for (ci, &l) in g.iter().take(c).enumerate() {
                    if l != NULL_LEVEL {
                        counts[ci][l as usize] += 1;
                    }
                }
            }
            counts
        })
        .reduce(
            || vec![[0u64; 8]; c],
            |mut a, b| {
                for (x, y) in a.iter_mut().zip(b) {
                    for (p, q) in x.iter_mut().zip(y) {
                        *p += q;
                    }
                }
                a
            },
        );
    USample {
        pairs: sample,
        counts,
    }
}

/// u from the sample. A random pair is a match with probability `match_rate`, and
/// matches agree at level l with probability m_l: their share is taken out, so that the
/// u of strong levels (an exact e-mail) is not inflated by the duplicates the sample
/// happens to draw.
fn set_u(model: &mut Model, sample: &USample, match_rate: f64) {
    for (cm, counts) in model.comparisons.iter_mut().zip(&sample.counts) {
        let levels = cm.levels.len();
        let total: u64 = counts[..levels].iter().sum();
        if total < 100 {
            continue; // too few non-null comparisons to say anything: keep the defaults
        }
        // Half a pseudo-count keeps never-seen agreement levels finite.
        let floor = 0.5 / (total as f64 + 0.5 * levels as f64);
        for (level, &k) in cm.levels.iter_mut().zip(counts) {
            let observed = (k as f64 + 0.5) / (total as f64 + 0.5 * levels as f64);
            level.u = ((observed - match_rate * level.m) / (1.0 - match_rate)).max(floor);
        }
    }
}

/// m by EM over the distinct comparison vectors of the blocked pairs (`patterns`: each
/// with its count, sorted).
fn estimate_m(
    model: &mut Model,
    patterns: &[(Gamma, u64)],
    opts: &TrainingOptions,
    report: &mut TrainingReport,
) {
    report.distinct_patterns = patterns.len() as u64;
    if patterns.is_empty() {
        return;
    }
    let c = model.comparisons.len();
    let defaults: Vec<Vec<f64>> = model
        .comparisons
        .iter()
        .map(|cm| cm.levels.iter().map(|l| l.m).collect())
        .collect();
    let total: f64 = patterns.iter().map(|(_, k)| *k as f64).sum();
    let mut lambda: f64 = 0.5;
    for iteration in 1..=opts.max_iterations {
        report.em_iterations = iteration;
        // E-step: posterior match probability of each pattern.
        let mut m_acc: Vec<Vec<f64>> = model
            .comparisons
            .iter()
            .map(|cm| vec![0.0; cm.levels.len()])
            .collect();
        let mut matched = 0.0;
        for (g, k) in patterns {
            let (mut lm, mut lu) = (lambda.ln(), (1.0 - lambda).ln());
            for (ci, &l) in g.iter().take(c).enumerate() {
                if l != NULL_LEVEL {
                    let level = &model.comparisons[ci].levels[l as usize];
                    lm += level.m.ln();
                    lu += level.u.ln();
                }
            }
            let p = 1.0 / (1.0 + (lu - lm).exp());
            let w = p * *k as f64;
            matched += w;
            for (ci, &l) in g.iter().take(c).enumerate() {
                if l != NULL_LEVEL {
                    m_acc[ci][l as usize] += w;
                }
            }
        }
        // M-step, with the defaults as a Dirichlet prior.
        let mut change: f64 = 0.0;
        for (ci, cm) in model.comparisons.iter_mut().enumerate() {
            let seen: f64 = m_acc[ci].iter().sum();
            for (li, level) in cm.levels.iter_mut().enumerate() {
                let m = (m_acc[ci][li] + opts.prior_strength * defaults[ci][li])
                    / (seen + opts.prior_strength);
                let m = m.max(1e-6);
                change = change.max((m - level.m).abs());
                level.m = m;
            }
        }
        let new_lambda = (matched / total).clamp(1e-6, 1.0 - 1e-6);
        change = change.max((new_lambda - lambda).abs());
        lambda = new_lambda;
        if change < 1e-5 {
            report.converged = true;
            break;
        }
    }
    report.blocked_match_rate = lambda;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(i: usize, given: &str, family: &str, email: &str) -> MatchRecord {
        MatchRecord {
            given: Some(given.into()),
            family: Some(family.into()),
            emails: vec![email.into()],
            birth_date: Some(format!("19{:02}-0{}-1{}", 50 + i % 40, 1 + i % 9, i % 10).into()),
            ..MatchRecord::default()
        }
    }

    #[test]
    fn shared_mailbox_u_counts_collisions_between_different_given_names() {
        let model = Model::default_model(0.9);
        let (email, given) = (3, 0);
        let vector = |e: u8, g: u8| {
            let mut v = [NULL_LEVEL; score::MAX_COMPARISONS];
            v[email] = e;
            v[given] = g;
            v
        };
        // (pairs sharing an e-mail with agreeing / different / missing given names,
        //  pairs that do not share one, records) -> expected u
        type Case = (u64, u64, u64, u64, usize, Option<f64>);
        let cases: &[Case] = &[
            // 190 agree, 10 differ (5%), 100 unnamed: 300 * 5% = 15 non-matches.
            (190, 10, 100, 500, 1000, Some(15.0 / 499_500.0)),
            // No collisions between different names: at least one non-match.
            (200, 0, 0, 0, 1000, Some(1.0 / 499_500.0)),
            // Too few named pairs to say anything.
            (50, 5, 500, 0, 1000, None),
        ];
        for &(agree, differ, unnamed, other, records, want) in cases {
            let mut counts = PatternCounts::default();
            for (g, k) in [
                (vector(0, 0), agree),
                (vector(0, 4), differ),
                (vector(0, NULL_LEVEL), unnamed),
                (vector(2, 4), other),
            ] {
                if k > 0 {
                    counts.insert(g, k);
                }
            }
            let got = shared_mailbox_u(&model, records, &sorted_patterns(counts));
            match (got, want) {
                (Some(g), Some(w)) => assert!((g - w).abs() < 1e-12, "{g} {w}"),
                (g, w) => assert_eq!(g, w),
            }
        }
        let mut m = model.clone();
        set_email_exact_u(&mut m, Some(1e-9));
        assert_eq!(m.comparisons[email].levels[0].u, 1e-9);
        assert!(m.comparisons[email].levels[0].weight() > 25.0);
    }

    #[test]
    fn patterns_are_counted_as_one_pass_over_the_pairs_would() {
        let model = Model::default_model(0.9);
        let given = ["anna", "anne", "bert", "carl", "dora"];
        let records: Vec<MatchRecord> = (0..60)
            .map(|i| person(i % 7, given[i % 5], "weber", &format!("p{}@x.de", i % 11)))
            .collect();
        let mut rng = Rng::new(7);
        let pairs: Vec<CandidatePair> = (0..20_000)
            .map(|_| {
                let a = rng.below(60) as u32;
                CandidatePair {
                    a,
                    b: (a + 1 + rng.below(59) as u32) % 60,
                }
            })
            .collect();
        let mut want: Vec<(Gamma, u64)> = Vec::new();
        let mut all: Vec<Gamma> = pairs
            .iter()
            .map(|p| score::gamma(&model, &records[p.a as usize], &records[p.b as usize]))
            .collect();
        all.sort_unstable();
        for g in all {
            match want.last_mut() {
                Some((last, k)) if *last == g => *k += 1,
                _ => want.push((g, 1)),
            }
        }
        assert!(want.len() > 5, "{}", want.len());
        assert_eq!(
            count_patterns(&score::gammas(&model, &records, &pairs)),
            want
        );
        // The prior read from them is the one a pass over the pairs gives, to the bit.
        let prior = prior_from_patterns(&model, records.len(), &want).unwrap();
        let direct = score::estimate_prior(&records, &pairs);
        assert_eq!(prior.to_bits(), direct.to_bits());
        assert!(prior > score::prior_from_sure_matches(records.len(), 0));
    }

    #[test]
    fn learns_u_from_random_pairs_and_is_deterministic() {
        // Names in no nickname group, so that only equal names agree.
        let names = [
            "aaron", "bela", "cyrus", "dagny", "edda", "fenja", "gero", "hauke",
        ];
        let families = [
            "muller", "schmidt", "weber", "wagner", "becker", "hoffmann", "schulz", "koch",
            "richter",
        ];
        let mut records = Vec::new();
        for i in 0..400 {
            let r = person(
                i,
                names[i % names.len()],
                families[i % families.len()],
                &format!("p{i}@example.com"),
            );
            records.push(r.clone());
            if i % 2 == 0 {
                records.push(r); // a duplicate
            }
        }
        let pairs: Vec<CandidatePair> = (0..records.len() as u32 - 1)
            .map(|a| CandidatePair { a, b: a + 1 })
            .collect();
        let opts = TrainingOptions {
            u_sample_pairs: 20_000,
            ..TrainingOptions::default()
        };
        let model = Model::default_model(0.95);
        let gammas = score::gammas(&model, &records, &pairs);
        let (m1, r1) = train(model.clone(), &records, &pairs, &gammas, &opts);
        let (m2, _) = train(model, &records, &pairs, &gammas, &opts);
        assert_eq!(m1, m2);
        assert_eq!(r1.u_sample_pairs, 20_000);
        // Eight given names: random pairs agree about 1/8 of the time.
        let given_u = m1.comparisons[0].levels[0].u;
        assert!((given_u - 0.125).abs() < 0.02, "{given_u}");
        // Unique e-mails: random pairs almost never agree.
        assert!(m1.comparisons[3].levels[0].u < 0.001);
        assert!(
            r1.blocked_match_rate > 0.2 && r1.blocked_match_rate < 0.8,
            "{r1:?}"
        );
        assert!(
            m1.comparisons
                .iter()
                .all(|c| c.levels.iter().all(|l| l.m > 0.0 && l.u > 0.0))
        );
    }
}
