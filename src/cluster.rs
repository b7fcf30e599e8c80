//! Cluster: `(record count, linked pairs) -> Vec<Cluster>` by union-find, deterministic:
//! clusters are listed by their smallest record index and members are sorted.

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
    if cannot_link.is_empty() {
        return connected_components(n, links.iter().map(|l| l.0));
    }
    let mut order: Vec<usize> = (0..links.len()).collect();
    order.sort_by(|&x, &y| {
        links[y]
            .1
            .total_cmp(&links[x].1)
            .then(links[x].0.cmp(&links[y].0))
    });
    let mut uf = UnionFind::new(n);
    // Per component root: its members and the records it may not be joined with.
    let mut members: std::collections::HashMap<u32, Vec<u32>> = std::collections::HashMap::new();
    let mut forbidden: std::collections::HashMap<u32, std::collections::HashSet<u32>> =
        std::collections::HashMap::new();
    for p in cannot_link {
        forbidden.entry(p.a).or_default().insert(p.b);
        forbidden.entry(p.b).or_default().insert(p.a);
    }
    let mut accepted = Vec::with_capacity(links.len());
    for i in order {
        let p = links[i].0;
        let (ra, rb) = (uf.find(p.a), uf.find(p.b));
        if ra == rb {
            accepted.push(p);
            continue;
        }
        let mem = |r: u32, members: &std::collections::HashMap<u32, Vec<u32>>| -> Vec<u32> {
            members.get(&r).cloned().unwrap_or_else(|| vec![r])
        };
        let (ma, mb) = (mem(ra, &members), mem(rb, &members));
        let (small, large_root) = if ma.len() <= mb.len() {
            (&ma, rb)
        } else {
            (&mb, ra)
        };
        let conflict = forbidden
            .get(&large_root)
            .is_some_and(|f| small.iter().any(|m| f.contains(m)));
        if conflict {
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

#[cfg(test)]
mod tests {
    use super::*;

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
