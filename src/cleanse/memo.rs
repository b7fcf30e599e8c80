//! A per-run memo of cleansed values.
//!
//! Customer data repeats: a million records hold a few thousand cities, countries,
//! postcodes, given and family names, a few tens of thousands of birth dates. Each distinct
//! `(context, raw value)` is cleansed once per run and the result cloned for the repeats.
//! The memo is sharded (64 mutex-guarded maps chosen by the key's hash) so that rayon's
//! threads rarely wait on each other, and bounded per field so that a column of distinct
//! values cannot grow it without limit: once a field's share is full, new values are
//! cleansed without being remembered. E-mails, phones and timestamps are distinct per
//! customer and are not memoised (see `benches/README.md` for the measurements).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Mutex, PoisonError};

const SHARDS: usize = 64;

/// The maps are keyed by a hash computed once per lookup: only re-mixed (a shard's keys
/// share their top bits, which the map would otherwise use as its tags).
#[derive(Default)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, i: u64) {
        self.0 = i.rotate_left(6).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

struct Entry<V> {
    context: u64,
    raw: Box<str>,
    value: V,
}

type Shard<V> = Mutex<HashMap<u64, Entry<V>, BuildHasherDefault<Prehashed>>>;

/// One field's memo.
pub struct Cache<V> {
    shards: Box<[Shard<V>]>,
    per_shard: usize,
}

impl<V: Clone> Cache<V> {
    /// A memo that remembers at most `capacity` values.
    pub fn new(capacity: usize) -> Self {
        Cache {
            shards: (0..SHARDS)
                .map(|_| Mutex::new(HashMap::default()))
                .collect(),
            per_shard: capacity.div_ceil(SHARDS),
        }
    }

    /// The value for `raw` in `context` (a country, a name order...), computed by `f` the
    /// first time. A hash collision between two different keys costs a recomputation,
    /// never a wrong value.
    pub fn get_or_insert_with(&self, context: u64, raw: &str, f: impl FnOnce() -> V) -> V {
        let h = xxhash_rust::xxh3::xxh3_64_with_seed(raw.as_bytes(), context);
        let shard = &self.shards[(h >> 58) as usize % SHARDS];
        {
            let map = shard.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(e) = map.get(&h)
                && e.context == context
                && *e.raw == *raw
            {
                return e.value.clone();
            }
        }
        let value = f();
        let mut map = shard.lock().unwrap_or_else(PoisonError::into_inner);
        if map.len() < self.per_shard {
            map.entry(h).or_insert_with(|| Entry {
                context,
                raw: raw.into(),
                value: value.clone(),
            });
        }
        value
    }

    /// How many values are remembered.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(PoisonError::into_inner).len())
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A context made of a short string (a country code, a format): its bytes, packed.
pub fn context(s: Option<&str>) -> u64 {
    match s {
        None => 0,
        Some(s) => xxhash_rust::xxh3::xxh3_64(s.as_bytes()) | 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn computes_each_value_once_per_context() {
        let cache: Cache<String> = Cache::new(1000);
        let calls = AtomicUsize::new(0);
        let get = |ctx: u64, raw: &str| {
            cache.get_or_insert_with(ctx, raw, || {
                calls.fetch_add(1, Ordering::Relaxed);
                format!("{ctx}:{raw}")
            })
        };
        assert_eq!(get(0, "Köln"), "0:Köln");
        assert_eq!(get(0, "Köln"), "0:Köln");
        assert_eq!(get(1, "Köln"), "1:Köln");
        assert_eq!(get(0, "Berlin"), "0:Berlin");
        assert_eq!(calls.load(Ordering::Relaxed), 3);
        assert_eq!(cache.len(), 3);
    }

    #[test]
    fn stays_within_its_bound() {
        let cache: Cache<usize> = Cache::new(64);
        for i in 0..10_000 {
            assert_eq!(cache.get_or_insert_with(0, &i.to_string(), || i), i);
        }
        assert!(cache.len() <= 64, "{}", cache.len());
        assert!(!cache.is_empty());
    }
}
