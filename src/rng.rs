//! A tiny deterministic pseudo-random number generator.
//!
//! `xoshiro256**` (Blackman & Vigna) seeded through SplitMix64. The algorithm is written out
//! here so its output is fixed forever: no platform, crate version or feature flag can change
//! the sequence a seed produces. That is what makes `crmfuse synth` reproducible byte for byte.
//!
//! Not for cryptography.

/// SplitMix64 step: advances `state` and returns the next output.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Deterministic PRNG (`xoshiro256**`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rng {
    s: [u64; 4],
}

impl Rng {
    /// A generator for `seed`. Every seed, zero included, gives a usable, distinct stream.
    pub fn new(seed: u64) -> Self {
        let mut sm = seed;
        let s = [
            splitmix64(&mut sm),
            splitmix64(&mut sm),
            splitmix64(&mut sm),
            splitmix64(&mut sm),
        ];
        // SplitMix64 is a bijection over its 2^64 states, so four consecutive outputs are
        // never all zero; the all-zero state (the one xoshiro cannot leave) cannot occur.
        Rng { s }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// A uniform integer in `0..n`, without modulo bias (Lemire's multiply-and-reject).
    ///
    /// # Panics
    /// If `n == 0`.
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "Rng::below(0)");
        let mut m = u128::from(self.next_u64()) * u128::from(n);
        let mut low = m as u64;
        if low < n {
            let threshold = n.wrapping_neg() % n;
            while low < threshold {
                m = u128::from(self.next_u64()) * u128::from(n);
                low = m as u64;
            }
        }
        (m >> 64) as u64
    }

    /// A uniform integer in `lo..=hi`.
    ///
    /// # Panics
    /// If `lo > hi`.
    pub fn range_inclusive(&mut self, lo: i64, hi: i64) -> i64 {
        assert!(lo <= hi, "Rng::range_inclusive({lo}, {hi})");
        let span = hi.wrapping_sub(lo) as u64;
        if span == u64::MAX {
            return self.next_u64() as i64;
        }
        lo.wrapping_add(self.below(span + 1) as i64)
    }

    /// A uniform float in `[0, 1)` with 53 random bits.
    pub fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// `true` with probability `p` (`p <= 0` never, `p >= 1` always).
    pub fn chance(&mut self, p: f64) -> bool {
        self.f64() < p
    }

    /// A uniformly chosen element.
    ///
    /// # Panics
    /// If `items` is empty.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// Shuffles `items` in place (Fisher-Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }

    /// An independent generator for sub-stream `stream`, e.g. one per chunk of work.
    ///
    /// Depends only on this generator's current state and `stream`, and does not advance
    /// this generator: `root.derive(7)` is the same whichever other streams were derived
    /// before, which is what keeps parallel generation deterministic.
    pub fn derive(&self, stream: u64) -> Self {
        // Fold the parent state into one word, then mix in the stream number through a
        // bijection (odd multiplier), so distinct streams get distinct SplitMix seeds.
        let mut h = self.s[0];
        for (i, w) in self.s[1..].iter().enumerate() {
            h = (h ^ w.rotate_left(17 * (i as u32 + 1))).wrapping_mul(0xD605_BBB5_8C8A_BBB5);
            h ^= h >> 29;
        }
        let mut sm = h ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x5851_F42D_4C95_7F2D;
        let mut seed = splitmix64(&mut sm);
        seed ^= splitmix64(&mut sm).rotate_left(32);
        Rng::new(seed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_reference_values() {
        // Reference outputs of SplitMix64 seeded with 1234567 (from the published C code).
        let mut s = 1_234_567u64;
        assert_eq!(splitmix64(&mut s), 6_457_827_717_110_365_317);
        assert_eq!(splitmix64(&mut s), 3_203_168_211_198_807_973);
        assert_eq!(splitmix64(&mut s), 9_817_491_932_198_370_423);
    }

    #[test]
    fn xoshiro_reference_values() {
        // xoshiro256** with state [1, 2, 3, 4] (reference C implementation).
        let mut r = Rng { s: [1, 2, 3, 4] };
        let got: Vec<u64> = (0..6).map(|_| r.next_u64()).collect();
        assert_eq!(
            got,
            vec![
                11520,
                0,
                1_509_978_240,
                1_215_971_899_390_074_240,
                1_216_172_134_540_287_360,
                607_988_272_756_665_600,
            ]
        );
    }

    #[test]
    fn stream_is_pinned() {
        // Pins the whole seeding path; if this changes, every synth output changes.
        let mut r = Rng::new(42);
        let got: Vec<u64> = (0..3).map(|_| r.next_u64()).collect();
        let mut again = Rng::new(42);
        let again: Vec<u64> = (0..3).map(|_| again.next_u64()).collect();
        assert_eq!(got, again);
        assert_eq!(got, PINNED_42.to_vec());
    }

    const PINNED_42: [u64; 3] = [
        1_546_998_764_402_558_742,
        6_990_951_692_964_543_102,
        12_544_586_762_248_559_009,
    ];

    #[test]
    fn seeds_differ() {
        let a: Vec<u64> = {
            let mut r = Rng::new(1);
            (0..4).map(|_| r.next_u64()).collect()
        };
        let b: Vec<u64> = {
            let mut r = Rng::new(2);
            (0..4).map(|_| r.next_u64()).collect()
        };
        assert_ne!(a, b);
        let mut z = Rng::new(0);
        assert_ne!(z.next_u64(), 0);
    }

    #[test]
    fn below_is_in_range_and_roughly_uniform() {
        let mut r = Rng::new(7);
        let mut counts = [0u32; 6];
        for _ in 0..60_000 {
            let v = r.below(6);
            counts[v as usize] += 1;
        }
        for c in counts {
            assert!((9_300..10_700).contains(&c), "{counts:?}");
        }
        assert_eq!(r.below(1), 0);
        // A bound that is not a power of two and close to 2^64 still stays in range.
        let n = u64::MAX / 3 * 2;
        for _ in 0..1000 {
            assert!(r.below(n) < n);
        }
    }

    #[test]
    #[should_panic]
    fn below_zero_panics() {
        Rng::new(1).below(0);
    }

    #[test]
    fn range_inclusive_bounds() {
        let mut r = Rng::new(3);
        let mut seen = [false; 5];
        for _ in 0..1000 {
            let v = r.range_inclusive(-2, 2);
            assert!((-2..=2).contains(&v));
            seen[(v + 2) as usize] = true;
        }
        assert!(seen.iter().all(|s| *s));
        assert_eq!(r.range_inclusive(5, 5), 5);
    }

    #[test]
    fn chance_extremes_and_rate() {
        let mut r = Rng::new(9);
        assert!((0..1000).all(|_| !r.chance(0.0)));
        assert!((0..1000).all(|_| r.chance(1.0)));
        let hits = (0..100_000).filter(|_| r.chance(0.25)).count();
        assert!((24_000..26_000).contains(&hits), "{hits}");
    }

    #[test]
    fn f64_in_unit_interval() {
        let mut r = Rng::new(11);
        for _ in 0..10_000 {
            let x = r.f64();
            assert!((0.0..1.0).contains(&x));
        }
    }

    #[test]
    fn pick_and_shuffle() {
        let mut r = Rng::new(5);
        let items = ["a", "b", "c"];
        for _ in 0..100 {
            assert!(items.contains(r.pick(&items)));
        }
        let mut v: Vec<u32> = (0..50).collect();
        r.shuffle(&mut v);
        assert_ne!(v, (0..50).collect::<Vec<_>>());
        v.sort();
        assert_eq!(v, (0..50).collect::<Vec<_>>());
    }

    #[test]
    fn derive_is_pure_and_independent() {
        let root = Rng::new(99);
        let before = root.clone();
        let mut a1 = root.derive(1);
        let mut a1_again = root.derive(1);
        let mut a2 = root.derive(2);
        assert_eq!(root, before, "derive must not advance the parent");
        let x: Vec<u64> = (0..8).map(|_| a1.next_u64()).collect();
        let y: Vec<u64> = (0..8).map(|_| a1_again.next_u64()).collect();
        let z: Vec<u64> = (0..8).map(|_| a2.next_u64()).collect();
        assert_eq!(x, y);
        assert_ne!(x, z);
        // Sub-streams differ from the parent stream and from other roots' sub-streams.
        let mut parent = root.clone();
        let p: Vec<u64> = (0..8).map(|_| parent.next_u64()).collect();
        assert_ne!(p, x);
        let mut other = Rng::new(100).derive(1);
        let o: Vec<u64> = (0..8).map(|_| other.next_u64()).collect();
        assert_ne!(o, x);
        // Many sub-streams: first outputs all distinct.
        let mut firsts: Vec<u64> = (0..10_000).map(|i| root.derive(i).next_u64()).collect();
        firsts.sort_unstable();
        firsts.dedup();
        assert_eq!(firsts.len(), 10_000);
    }
}
