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
pub fn connected_components(n: usize, links: impl IntoIterator<Item = CandidatePair>) -> Vec<Cluster> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_are_deterministic() {
        let links = [CandidatePair { a: 3, b: 4 }, CandidatePair { a: 0, b: 4 }, CandidatePair { a: 1, b: 2 }];
        let c = connected_components(6, links);
        assert_eq!(c, vec![vec![0, 3, 4], vec![1, 2], vec![5]]);
        let mut rev = links;
        rev.reverse();
        assert_eq!(connected_components(6, rev), c);
    }
}
