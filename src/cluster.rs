//! Cluster: `(record count, must-links, linked pairs, cannot-links, bridge check) -> Vec<Cluster>` by
//! union-find, deterministic: clusters are listed by their smallest record index and members
//! are sorted.

use crate::block::CandidatePair;

/// Record indices of one customer, sorted.
pub type Cluster = Vec<u32>;

pub struct UnionFind {
    parent: Vec<u32>,
    rank: Vec<u8>,
}

impl UnionFind {
    pub fn new(n: usize) -> Self {
        UnionFind {
            parent: (0..n as u32).collect(),
            rank: vec![0; n],
        }
    }

    pub fn find(&mut self, mut x: u32) -> u32 {
        while self.parent[x as usize] != x {
            let p = self.parent[x as usize];
            self.parent[x as usize] = self.parent[p as usize];
            x = p;
        }
        x
    }

    pub fn union(&mut self, a: u32, b: u32) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra == rb {
            return;
        }
        let (ka, kb) = (self.rank[ra as usize], self.rank[rb as usize]);
        if ka < kb {
            self.parent[ra as usize] = rb;
        } else if ka > kb {
            self.parent[rb as usize] = ra;
        } else {
            self.parent[rb as usize] = ra;
            self.rank[ra as usize] += 1;
        }
    }
}

/// The end of a chain of [`members`].
const END: u32 = u32::MAX;

/// The records of a chain through `next`, from `from` (each record's next, or [`END`]).
fn members(next: &[u32], from: u32) -> impl Iterator<Item = u32> + '_ {
    std::iter::successors(Some(from), move |&m| {
        Some(next[m as usize]).filter(|&x| x != END)
    })
}

/// The indices of `links`, strongest first; ties broken by the pair, so that the order is
/// deterministic.
fn strongest_first(links: &[(CandidatePair, f64)]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..links.len()).collect();
    order.sort_by(|&x, &y| {
        links[y]
            .1
            .total_cmp(&links[x].1)
            .then(links[x].0.cmp(&links[y].0))
    });
    order
}

/// Connected components over the links.
pub fn connected_components(
    n: usize,
    links: impl IntoIterator<Item = CandidatePair>,
) -> Vec<Cluster> {
    let mut uf = UnionFind::new(n);
    for p in links {
        uf.union(p.a, p.b);
    }
    let mut slot: Vec<u32> = vec![u32::MAX; n];
    let mut clusters: Vec<Cluster> = Vec::new();
    for i in 0..n as u32 {
        let root = uf.find(i) as usize;
        if slot[root] == u32::MAX {
            slot[root] = clusters.len() as u32;
            clusters.push(Vec::new());
        }
        clusters[slot[root] as usize].push(i);
    }
    clusters
}

/// Components that resist chaining: links are added strongest first, and a link that would
/// put two records of a cannot-link pair (a veto, or a steward's decision) into one
/// customer is skipped. A weak bridge between two clusters that disagree is cut this way,
/// while each side keeps its strong links. Ties are broken by the pair, so the result is
/// deterministic.
pub fn constrained_components(
    n: usize,
    links: &[(CandidatePair, f64)],
    cannot_link: &[CandidatePair],
) -> Vec<Cluster> {
    constrained_components_with_must_links(n, &[], links, cannot_link)
}

/// [`constrained_components`] with a steward's must-links: they are joined first, whatever
/// the cannot-links say (the steward looked at the pair), then the links strongest first,
/// each skipped when it would join two records of a cannot-link pair.
pub fn constrained_components_with_must_links(
    n: usize,
    must_link: &[CandidatePair],
    links: &[(CandidatePair, f64)],
    cannot_link: &[CandidatePair],
) -> Vec<Cluster> {
    constrained_components_checked(n, must_link, links, cannot_link, None)
}

/// [`constrained_components_with_must_links`], where a link that would join two
/// clusters is also skipped when `conflict` says some record of one and some record of
/// the other may not be one customer. Blocking compares only records that share a key,
/// so a link can bridge two people whose own records were never compared (a Jr and a Sr
/// with different birth dates, joined by a record that has neither): `conflict` compares
/// them when the bridge is about to be built.
pub fn constrained_components_checked(
    n: usize,
    must_link: &[CandidatePair],
    links: &[(CandidatePair, f64)],
    cannot_link: &[CandidatePair],
    conflict: Option<&dyn Fn(u32, u32) -> bool>,
) -> Vec<Cluster> {
    if cannot_link.is_empty() && conflict.is_none() {
        return connected_components(
            n,
            must_link.iter().copied().chain(links.iter().map(|l| l.0)),
        );
    }
    let order = strongest_first(links);
    let mut uf = UnionFind::new(n);
    // Each record's cannot-link partners (both ways), as ranges of one list.
    let mut at = vec![0u32; n + 1];
    for p in cannot_link {
        at[p.a as usize + 1] += 1;
        at[p.b as usize + 1] += 1;
    }
    for i in 0..n {
        at[i + 1] += at[i];
    }
    let mut partners = vec![0u32; at[n] as usize];
    let mut fill = at.clone();
    for p in cannot_link {
        for (x, y) in [(p.a, p.b), (p.b, p.a)] {
            partners[fill[x as usize] as usize] = y;
            fill[x as usize] += 1;
        }
    }
    drop(fill);
    // Per component root: its size, and its members as a chain through `next` from
    // `head` to `tail` (joining two components links their chains; nothing is copied).
    let mut size = vec![1u32; n];
    let mut next = vec![END; n];
    let mut head: Vec<u32> = (0..n as u32).collect();
    let mut tail: Vec<u32> = (0..n as u32).collect();
    let mut accepted = Vec::with_capacity(must_link.len() + links.len());
    let candidates = must_link
        .iter()
        .map(|&p| (p, true))
        .chain(order.into_iter().map(|i| (links[i].0, false)));
    for (p, forced) in candidates {
        let (ra, rb) = (uf.find(p.a), uf.find(p.b));
        if ra == rb {
            accepted.push(p);
            continue;
        }
        let (small, large) = if size[ra as usize] <= size[rb as usize] {
            (ra, rb)
        } else {
            (rb, ra)
        };
        // A member of the smaller component may not be one customer with a member of the
        // larger.
        let mut forbidden_pair = false;
        for m in members(&next, head[small as usize]) {
            let m = m as usize;
            if partners[at[m] as usize..at[m + 1] as usize]
                .iter()
                .any(|&q| uf.find(q) == large)
            {
                forbidden_pair = true;
                break;
            }
        }
        // The pair itself was scored and linked: only the others need comparing.
        let bridged_conflict = || {
            members(&next, head[small as usize]).any(|x| {
                members(&next, head[large as usize]).any(|y| {
                    let q = CandidatePair {
                        a: x.min(y),
                        b: x.max(y),
                    };
                    q != p && conflict.is_some_and(|c| c(q.a, q.b))
                })
            })
        };
        let conflict = forbidden_pair || bridged_conflict();
        if conflict && !forced {
            continue;
        }
        uf.union(ra, rb);
        let root = uf.find(ra) as usize;
        let (ra, rb) = (ra as usize, rb as usize);
        next[tail[ra] as usize] = head[rb];
        (head[root], tail[root]) = (head[ra], tail[rb]);
        size[root] = size[ra] + size[rb];
        accepted.push(p);
    }
    connected_components(n, accepted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{HashMap, HashSet};

    /// The constrained clustering as it was first written: each component's members and
    /// forbidden records in hash maps, copied on every join. The chains and the partner
    /// lists must decide exactly as it does.
    fn reference(
        n: usize,
        must_link: &[CandidatePair],
        links: &[(CandidatePair, f64)],
        cannot_link: &[CandidatePair],
        conflict: &dyn Fn(u32, u32) -> bool,
    ) -> Vec<Cluster> {
        let order = strongest_first(links);
        let mut uf = UnionFind::new(n);
        let mut members: HashMap<u32, Vec<u32>> = HashMap::new();
        let mut forbidden: HashMap<u32, HashSet<u32>> = HashMap::new();
        for p in cannot_link {
            forbidden.entry(p.a).or_default().insert(p.b);
            forbidden.entry(p.b).or_default().insert(p.a);
        }
        let mut accepted = Vec::new();
        let candidates = must_link
            .iter()
            .map(|&p| (p, true))
            .chain(order.into_iter().map(|i| (links[i].0, false)));
        for (p, forced) in candidates {
            let (ra, rb) = (uf.find(p.a), uf.find(p.b));
            if ra == rb {
                accepted.push(p);
                continue;
            }
            let mem = |r: u32| members.get(&r).cloned().unwrap_or_else(|| vec![r]);
            let (ma, mb) = (mem(ra), mem(rb));
            let (small, large, large_root) = if ma.len() <= mb.len() {
                (&ma, &mb, rb)
            } else {
                (&mb, &ma, ra)
            };
            let forbidden_pair = forbidden
                .get(&large_root)
                .is_some_and(|f| small.iter().any(|m| f.contains(m)));
            let bridged = small.iter().any(|&x| {
                large.iter().any(|&y| {
                    let q = CandidatePair {
                        a: x.min(y),
                        b: x.max(y),
                    };
                    q != p && conflict(q.a, q.b)
                })
            });
            if (forbidden_pair || bridged) && !forced {
                continue;
            }
            uf.union(ra, rb);
            let root = uf.find(ra);
            let mut all = ma;
            all.extend(mb);
            let mut fset = forbidden.remove(&ra).unwrap_or_default();
            fset.extend(forbidden.remove(&rb).unwrap_or_default());
            if !fset.is_empty() {
                forbidden.insert(root, fset);
            }
            members.remove(&ra);
            members.remove(&rb);
            members.insert(root, all);
            accepted.push(p);
        }
        connected_components(n, accepted)
    }

    #[test]
    fn constrained_clustering_decides_as_the_set_based_reference() {
        let mut rng = crate::rng::Rng::new(11);
        for round in 0..300 {
            let n = 2 + rng.below(40) as usize;
            let pair = |rng: &mut crate::rng::Rng| {
                let a = rng.below(n as u64) as u32;
                let b = (a + 1 + rng.below(n as u64 - 1) as u32) % n as u32;
                CandidatePair {
                    a: a.min(b),
                    b: a.max(b),
                }
            };
            let links: Vec<(CandidatePair, f64)> = (0..rng.below(3 * n as u64))
                .map(|_| (pair(&mut rng), rng.below(8) as f64))
                .collect();
            let must: Vec<CandidatePair> = (0..rng.below(3)).map(|_| pair(&mut rng)).collect();
            let cannot: Vec<CandidatePair> =
                (0..rng.below(n as u64)).map(|_| pair(&mut rng)).collect();
            // A bridge check that vetoes some pairs of records (a pure function of them).
            let salt = rng.below(9);
            let conflict = move |a: u32, b: u32| {
                (u64::from(a) * 31 + u64::from(b) * 17 + salt).is_multiple_of(9)
            };
            let got = constrained_components_checked(n, &must, &links, &cannot, Some(&conflict));
            let want = reference(n, &must, &links, &cannot, &conflict);
            assert_eq!(got, want, "round {round}");
        }
    }

    #[test]
    fn weak_bridges_between_conflicting_records_are_cut() {
        let p = |a, b| CandidatePair { a, b };
        // 0-1 strong, 2-3 strong, 1-2 weak bridge; 0 and 3 are Sr and Jr.
        let links = [(p(0, 1), 40.0), (p(2, 3), 35.0), (p(1, 2), 8.0)];
        let c = constrained_components(4, &links, &[p(0, 3)]);
        assert_eq!(c, vec![vec![0, 1], vec![2, 3]]);
        // Without the constraint it chains.
        assert_eq!(
            constrained_components(4, &links, &[]),
            vec![vec![0, 1, 2, 3]]
        );
    }

    #[test]
    fn must_links_join_first_and_cannot_links_still_cut_weak_links() {
        let p = |a, b| CandidatePair { a, b };
        // 0-1 and 2-3 are strong links; the steward says 1 and 2 are the same customer
        // (no link between them at all) and 3 and 4 are not, although 3-4 scored a link.
        let links = [(p(0, 1), 40.0), (p(2, 3), 35.0), (p(3, 4), 30.0)];
        let c = constrained_components_with_must_links(5, &[p(1, 2)], &links, &[p(3, 4)]);
        assert_eq!(c, vec![vec![0, 1, 2, 3], vec![4]]);
        // A must-link wins over a veto on the same pair.
        let c = constrained_components_with_must_links(3, &[p(0, 2)], &[], &[p(0, 2)]);
        assert_eq!(c, vec![vec![0, 2], vec![1]]);
        // Without cannot-links, must-links are plain links.
        let c = constrained_components_with_must_links(3, &[p(1, 2)], &[], &[]);
        assert_eq!(c, vec![vec![0], vec![1, 2]]);
    }

    #[test]
    fn bridges_between_records_never_compared_are_checked() {
        let p = |a, b| CandidatePair { a, b };
        // 0-1 and 2-3 strong; 1-2 a bridge. 0 and 3 were never compared (no cannot-link),
        // but the check finds them in conflict.
        let links = [(p(0, 1), 40.0), (p(2, 3), 35.0), (p(1, 2), 8.0)];
        type Case<'a> = (&'a [(u32, u32)], Vec<Vec<u32>>);
        let cases: &[Case] = &[
            (&[], vec![vec![0, 1, 2, 3]]),
            (&[(0, 3)], vec![vec![0, 1], vec![2, 3]]),
            // The bridge's own pair is not re-checked: it was scored and linked.
            (&[(1, 2)], vec![vec![0, 1, 2, 3]]),
            (&[(1, 3)], vec![vec![0, 1], vec![2, 3]]),
        ];
        for (conflicts, want) in cases {
            let check = |a: u32, b: u32| conflicts.contains(&(a, b));
            let got = constrained_components_checked(4, &[], &links, &[], Some(&check));
            assert_eq!(&got, want, "{conflicts:?}");
        }
    }

    #[test]
    fn components_are_deterministic() {
        let links = [
            CandidatePair { a: 3, b: 4 },
            CandidatePair { a: 0, b: 4 },
            CandidatePair { a: 1, b: 2 },
        ];
        let c = connected_components(6, links);
        assert_eq!(c, vec![vec![0, 3, 4], vec![1, 2], vec![5]]);
        let mut rev = links;
        rev.reverse();
        assert_eq!(connected_components(6, rev), c);
    }
}
