//! A per-run memo of cleansed values.
//!
//! Customer data repeats: a million records hold a few thousand cities, countries,
//! postcodes, given and family names, a few tens of thousands of birth dates. Each distinct
//! `(context, raw value)` is cleansed once per run and worker thread, and the result cloned
//! for the repeats. Every rayon worker has its own map: the hottest keys (the one country
//! most customers live in) would otherwise have every thread meet on one lock for every
//! record, which measured slower than no memo at all with two threads. Each map is bounded,
//! so that a column of distinct values cannot grow it without limit: once full, new values
//! are cleansed without being remembered. E-mails, phones and timestamps are distinct per
//! customer and are not memoised (see `benches/README.md` for the measurements).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Mutex, PoisonError};

/// The maps are keyed by a hash computed once per lookup (re-mixed, cheaply).
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
    /// Inline up to 24 bytes: comparing it costs no second cache miss.
    raw: crate::record::Text,
    value: V,
}

/// One worker's map, on a cache line of its own (no false sharing between workers).
#[repr(align(128))]
struct Slot<V>(Mutex<HashMap<u64, Entry<V>, BuildHasherDefault<Prehashed>>>);

/// One field's memo.
pub struct Cache<V> {
    /// One slot per rayon worker, and a last one for threads outside the pool.
    slots: Box<[Slot<V>]>,
    capacity: usize,
}

impl<V: Clone> Cache<V> {
    /// A memo that remembers at most `capacity` values per worker thread.
    pub fn new(capacity: usize) -> Self {
        let workers = rayon::current_num_threads();
        Cache {
            slots: (0..=workers)
                .map(|_| Slot(Mutex::new(HashMap::default())))
                .collect(),
            capacity,
        }
    }

    fn slot(&self) -> &Slot<V> {
        let outside = self.slots.len() - 1;
        let i = rayon::current_thread_index().map_or(outside, |i| i % outside.max(1));
        &self.slots[i]
    }

    /// The value for `raw` in `context` (a country, a name order...), computed by `f` the
    /// first time. A hash collision between two different keys costs a recomputation,
    /// never a wrong value.
    pub fn get_or_insert_with(&self, context: u64, raw: &str, f: impl FnOnce() -> V) -> V {
        let h = xxhash_rust::xxh3::xxh3_64_with_seed(raw.as_bytes(), context);
        let slot = &self.slot().0;
        {
            let map = slot.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(e) = map.get(&h)
                && e.context == context
                && *e.raw == *raw
            {
                return e.value.clone();
            }
        }
        let value = f();
        let mut map = slot.lock().unwrap_or_else(PoisonError::into_inner);
        if map.len() < self.capacity {
            map.entry(h).or_insert_with(|| Entry {
                context,
                raw: raw.into(),
                value: value.clone(),
            });
        }
        value
    }

    /// How many values are remembered, over all workers.
    pub fn len(&self) -> usize {
        self.slots
            .iter()
            .map(|s| s.0.lock().unwrap_or_else(PoisonError::into_inner).len())
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
