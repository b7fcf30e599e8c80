//! What a report needs of every scored pair, gathered while the pairs are scored: a run
//! keeps only its links, and a go-live report would otherwise keep every candidate pair
//! (at 10M records, 154.6M pairs of 40 bytes, which did not fit in 24 GiB).

use std::cmp::Ordering;
use std::collections::BTreeMap;

use rayon::prelude::*;

use crate::score::{Model, ScoredPair};

/// Histogram bin width in match weight (log2 odds). Bins are aligned on the threshold, so
/// that it falls on a bin edge.
pub const BIN_WIDTH: f64 = 2.0;
/// Borderline pairs kept per side of the threshold.
pub const BORDERLINE_PER_SIDE: usize = 25;
/// Only pairs this close to the threshold (in match weight) are borderline.
pub const BORDERLINE_WEIGHT: f64 = 10.0;
/// Vetoed pairs whose evidence alone reached the threshold, kept for review.
pub const VETOED_FOR_REVIEW: usize = 10;

/// Pairs in one weight bin.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BinCounts {
    /// Neither vetoed nor linked.
    pub below: u64,
    pub linked: u64,
    pub vetoed: u64,
}

/// Counts and a few examples of every scored pair.
#[derive(Debug, Clone, PartialEq)]
pub struct PairDigest {
    /// The model's threshold, as a probability and as a match weight.
    threshold: f64,
    pub threshold_weight: f64,
    /// Pairs with a finite weight, by bin: bin `i` holds the weights in
    /// `[threshold_weight + i * BIN_WIDTH, threshold_weight + (i + 1) * BIN_WIDTH)`.
    pub bins: BTreeMap<i64, BinCounts>,
    pub pairs: u64,
    pub vetoed: u64,
    /// Linked pairs within [`BORDERLINE_WEIGHT`] of the threshold, the nearest first
    /// (lowest weight, then pair).
    pub above: Vec<ScoredPair>,
    /// Pairs neither linked nor vetoed within [`BORDERLINE_WEIGHT`] of the threshold, the
    /// nearest first (highest weight, then pair).
    pub below: Vec<ScoredPair>,
    /// Vetoed pairs whose probability reached the threshold, highest weight first.
    pub vetoed_high: Vec<ScoredPair>,
}

fn nearest_above(x: &ScoredPair, y: &ScoredPair) -> Ordering {
    x.weight.total_cmp(&y.weight).then(x.pair.cmp(&y.pair))
}

fn highest_first(x: &ScoredPair, y: &ScoredPair) -> Ordering {
    y.weight.total_cmp(&x.weight).then(x.pair.cmp(&y.pair))
}

/// Keep the `n` first of `items` by `order`, sorted.
fn keep_first(
    items: &mut Vec<ScoredPair>,
    n: usize,
    order: fn(&ScoredPair, &ScoredPair) -> Ordering,
) {
    items.sort_by(order);
    items.truncate(n);
}

/// Add `p` to `items`, which keeps its `n` first by `order` (and may hold up to `4 n`
/// between compactions).
///
/// Once `items` holds `n`, its first `n` are sorted, and every pair it dropped or refused
/// is ordered after the `n`th: a pair ordered after it cannot be among the first `n`.
fn offer(
    items: &mut Vec<ScoredPair>,
    p: &ScoredPair,
    n: usize,
    order: fn(&ScoredPair, &ScoredPair) -> Ordering,
) {
    if n == 0 || (items.len() >= n && order(p, &items[n - 1]).is_ge()) {
        return;
    }
    items.push(p.clone());
    if items.len() == n {
        items.sort_by(order);
    } else if items.len() >= 4 * n {
        keep_first(items, n, order);
    }
}

impl PairDigest {
    pub fn new(model: &Model) -> PairDigest {
        PairDigest {
            threshold: model.threshold,
            threshold_weight: model.threshold_weight(),
            bins: BTreeMap::new(),
            pairs: 0,
            vetoed: 0,
            above: Vec::new(),
            below: Vec::new(),
            vetoed_high: Vec::new(),
        }
    }

    /// The digest of `pairs`, on every core.
    pub fn of(model: &Model, pairs: &[ScoredPair]) -> PairDigest {
        pairs
            .par_chunks(1 << 16)
            .map(|chunk| {
                let mut d = PairDigest::new(model);
                chunk.iter().for_each(|p| d.add(p));
                d
            })
            .reduce(|| PairDigest::new(model), PairDigest::merged)
    }

    pub fn linked(&self, p: &ScoredPair) -> bool {
        !p.vetoed && p.probability >= self.threshold
    }

    pub fn add(&mut self, p: &ScoredPair) {
        self.pairs += 1;
        let linked = self.linked(p);
        if p.vetoed {
            self.vetoed += 1;
        }
        if !p.weight.is_finite() {
            return;
        }
        let tw = self.threshold_weight;
        let bin = ((p.weight - tw) / BIN_WIDTH).floor() as i64;
        let counts = self.bins.entry(bin).or_default();
        if p.vetoed {
            counts.vetoed += 1;
            if p.probability >= self.threshold {
                offer(&mut self.vetoed_high, p, VETOED_FOR_REVIEW, highest_first);
            }
        } else if linked {
            counts.linked += 1;
        } else {
            counts.below += 1;
        }
        if !p.vetoed && (p.weight - tw).abs() <= BORDERLINE_WEIGHT {
            if linked {
                offer(&mut self.above, p, BORDERLINE_PER_SIDE, nearest_above);
            } else {
                offer(&mut self.below, p, BORDERLINE_PER_SIDE, highest_first);
            }
        }
    }

    /// This digest and `other`'s, as one (of pairs in either order).
    pub fn merged(mut self, other: PairDigest) -> PairDigest {
        self.pairs += other.pairs;
        self.vetoed += other.vetoed;
        for (bin, c) in other.bins {
            let mine = self.bins.entry(bin).or_default();
            mine.below += c.below;
            mine.linked += c.linked;
            mine.vetoed += c.vetoed;
        }
        for (mine, theirs, n, order) in [
            (
                &mut self.above,
                other.above,
                BORDERLINE_PER_SIDE,
                nearest_above as fn(&_, &_) -> _,
            ),
            (
                &mut self.below,
                other.below,
                BORDERLINE_PER_SIDE,
                highest_first,
            ),
            (
                &mut self.vetoed_high,
                other.vetoed_high,
                VETOED_FOR_REVIEW,
                highest_first,
            ),
        ] {
            mine.extend(theirs);
            keep_first(mine, n, order);
        }
        self
    }

    /// Done adding: the kept pairs in their order, and no more of them than the report
    /// lists.
    pub fn finish(mut self) -> PairDigest {
        keep_first(&mut self.above, BORDERLINE_PER_SIDE, nearest_above);
        keep_first(&mut self.below, BORDERLINE_PER_SIDE, highest_first);
        keep_first(&mut self.vetoed_high, VETOED_FOR_REVIEW, highest_first);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block::CandidatePair;

    fn pair(a: u32, weight: f64, probability: f64, vetoed: bool) -> ScoredPair {
        ScoredPair {
            pair: CandidatePair { a, b: a + 1 },
            weight,
            probability,
            vetoed,
            gamma: Default::default(),
        }
    }

    fn model() -> Model {
        Model::default_model(0.9)
    }

    /// The digest as the report computed it from every pair: sort and take the first.
    fn by_sorting(model: &Model, pairs: &[ScoredPair]) -> PairDigest {
        let tw = model.threshold_weight();
        let linked = |p: &ScoredPair| p.linked(model);
        let near = |p: &&ScoredPair| !p.vetoed && (p.weight - tw).abs() <= BORDERLINE_WEIGHT;
        let mut above: Vec<ScoredPair> = pairs
            .iter()
            .filter(near)
            .filter(|p| linked(p))
            .cloned()
            .collect();
        above.sort_by(nearest_above);
        above.truncate(BORDERLINE_PER_SIDE);
        let mut below: Vec<ScoredPair> = pairs
            .iter()
            .filter(near)
            .filter(|p| !linked(p))
            .cloned()
            .collect();
        below.sort_by(highest_first);
        below.truncate(BORDERLINE_PER_SIDE);
        let mut vetoed_high: Vec<ScoredPair> = pairs
            .iter()
            .filter(|p| p.vetoed && p.probability >= model.threshold)
            .cloned()
            .collect();
        vetoed_high.sort_by(highest_first);
        vetoed_high.truncate(VETOED_FOR_REVIEW);
        let mut bins: BTreeMap<i64, BinCounts> = BTreeMap::new();
        for p in pairs.iter().filter(|p| p.weight.is_finite()) {
            let c = bins
                .entry(((p.weight - tw) / BIN_WIDTH).floor() as i64)
                .or_default();
            if p.vetoed {
                c.vetoed += 1;
            } else if linked(p) {
                c.linked += 1;
            } else {
                c.below += 1;
            }
        }
        PairDigest {
            threshold: model.threshold,
            threshold_weight: tw,
            bins,
            pairs: pairs.len() as u64,
            vetoed: pairs.iter().filter(|p| p.vetoed).count() as u64,
            above,
            below,
            vetoed_high,
        }
    }

    #[test]
    fn a_digest_keeps_what_sorting_every_pair_would() {
        let model = model();
        let tw = model.threshold_weight();
        // Many pairs near the threshold on both sides, ties in weight, vetoes with a high
        // probability, and weights that are not finite.
        let mut rng = crate::rng::Rng::new(11);
        let mut pairs: Vec<ScoredPair> = (0..300_000u32)
            .map(|i| {
                let w = tw + (rng.below(4_000) as f64 - 2_000.0) / 80.0;
                let vetoed = rng.below(5) == 0;
                let p = if w >= tw { 0.95 } else { 0.5 };
                pair(i * 2, (w * 4.0).round() / 4.0, p, vetoed)
            })
            .collect();
        pairs.push(pair(900_000, f64::NEG_INFINITY, 0.0, true));
        pairs.push(pair(900_002, f64::NAN, 0.0, false));
        let expected = by_sorting(&model, &pairs);
        assert_eq!(expected.above.len(), BORDERLINE_PER_SIDE);
        assert_eq!(expected.below.len(), BORDERLINE_PER_SIDE);
        assert_eq!(expected.vetoed_high.len(), VETOED_FOR_REVIEW);
        assert!(expected.bins.len() > 20);
        assert_eq!(PairDigest::of(&model, &pairs).finish(), expected);
        // One pair at a time, in another order.
        let mut one = PairDigest::new(&model);
        for p in pairs.iter().rev() {
            one.add(p);
        }
        assert_eq!(one.finish(), expected);
        // Few pairs in many orders: whichever comes first, what is kept is the same.
        let few: Vec<ScoredPair> = pairs.iter().step_by(2_000).cloned().collect();
        let expected = by_sorting(&model, &few);
        for _ in 0..200 {
            let mut shuffled = few.clone();
            rng.shuffle(&mut shuffled);
            let mut d = PairDigest::new(&model);
            shuffled.iter().for_each(|p| d.add(p));
            assert_eq!(d.finish(), expected);
        }
    }

    #[test]
    fn an_empty_digest_has_no_bins() {
        let d = PairDigest::of(&model(), &[]).finish();
        assert!(d.bins.is_empty() && d.above.is_empty() && d.pairs == 0);
    }
}
