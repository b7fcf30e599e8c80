//! Incremental sync: resolve only what changed.
//!
//! A full run resolves every record. A nightly sync of a large store would then spend its
//! time on rows that did not change, so `sync` instead:
//!
//! 1. reads, per stored source row, its content hash, customer and blocking keys
//!    (`customer_sources.block_keys`, written by every load);
//! 2. reads the sources, skipping (counting, not mapping) every row the store holds with
//!    the same content hash;
//! 3. cleanses the new and changed rows and finds the stored records they share a
//!    blocking key with (a block too large in the whole store is capped, as a run caps it);
//! 4. scores those pairs with the store's model and the stored name counts of its last full
//!    resolution, so that a pair scored again gets the weight it had;
//! 5. re-resolves the customers that the changed and disappeared rows belong to, and those
//!    a new or changed row links to: all their records, blocked, scored and clustered
//!    again (a customer may merge, or split, and the larger part keeps its id);
//! 6. plans the load over those customers only ([`crate::load::Scope`]).
//!
//! What a full `run` would do differently: it re-resolves customers that no change
//! touched (nothing changes for them unless the model, the config or the code changed, and
//! then the sync re-resolves everything too), it counts names afresh, and it retrains.
//! A sync falls back to resolving everything, and says why, when the store cannot support
//! an incremental one: no earlier run, another config or crmfuse version, blocking keys of
//! another version, or a steward decisions file (`--decisions`).

use crate::hash::{KeyMap, KeySet};
use hashbrown::HashTable;

use rayon::prelude::*;
use rusqlite::Connection;
use serde::Serialize;

use crate::block::{self, CandidatePair};
use crate::config::{DisappearPolicy, Pipeline};
use crate::decisions::Decisions;
use crate::error::{Error, Result};
use crate::load::{self, Scope, SourceDelta};
use crate::overrides;
use crate::pipeline::{self, Cleansed, Resolution, ResolveOptions, Scoring};
use crate::progress::Progress;
use crate::record::Customer;
use crate::score::{self, MatchRecord, Model, TermFrequencies};

/// What an incremental sync read and re-resolved.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Delta {
    /// Source rows new to the store or changed since it loaded them.
    pub new_or_changed: u64,
    /// Rows the store holds that the sources no longer have (all policies).
    pub disappeared: u64,
    /// Stored records that share a blocking key with a new or changed one.
    pub candidates: u64,
    /// Existing customers re-resolved.
    pub customers_resolved: u64,
    /// Records re-resolved: the new and changed ones and all records of those customers.
    pub records_resolved: u64,
    /// Active customers before the sync that it did not re-resolve.
    pub customers_untouched: u64,
    /// Per source: new, changed, unchanged and disappeared rows.
    #[serde(skip)]
    pub source_changes: Vec<SourceDelta>,
}

/// Why a sync resolves everything (`Err`), or what it resolves incrementally.
pub type Prepared = std::result::Result<(Resolution, Scope), String>;

/// A store of this many source rows or more is read by two connections at once.
const SPLIT_FROM: usize = 100_000;

/// At most this many rows' room is reserved up front from the largest rowid (a rowid far
/// beyond the row count, set by hand, must not reserve memory for rows that are not there).
const MAX_RESERVED_ROWS: usize = 1 << 26;

/// A row of `customer_sources` as a sync needs it.
struct Held {
    /// The row's rowid (records are read back by it, in table order).
    rowid: i64,
    hash: u64,
    customer: u64,
    /// Range of its source key in `Holdings::key_text`.
    key: (u32, u32),
    /// Range of its blocking keys in `Holdings::keys`.
    keys: (u32, u32),
    /// Index into `Holdings::sources`.
    source: u16,
    deleted: bool,
}

struct Holdings {
    /// Source names as the store has them.
    sources: Vec<String>,
    rows: Vec<Held>,
    /// Every row's source key, one after the other (one allocation, not a million).
    key_text: String,
    keys: Vec<u64>,
    /// Per pipeline source: its rows, found by source key.
    index: Vec<HashTable<Entry>>,
    /// Per pipeline source: its live rows, found by content hash.
    by_content: Vec<HashTable<u32>>,
}

/// A row in [`Holdings::index`]: what ingest looks up for each source row, in one place
/// (a million look-ups that each followed the row and its key text cost a sync a third
/// of a second).
#[derive(Clone, Copy)]
struct Entry {
    /// [`key_hash`] of its source key.
    key_hash: u64,
    hash: u64,
    row: u32,
    /// Not deleted (a deleted row is never unchanged).
    live: bool,
}

impl Entry {
    fn holds(&self, hash: u64) -> bool {
        self.live && self.hash == hash
    }
}

impl Holdings {
    fn keys_of(&self, i: usize) -> &[u64] {
        let (a, n) = self.rows[i].keys;
        &self.keys[a as usize..(a + n) as usize]
    }

    fn key(&self, i: usize) -> &str {
        let (a, n) = self.rows[i].key;
        &self.key_text[a as usize..(a + n) as usize]
    }

    /// The row of pipeline source `source` with this source key.
    fn find(&self, source: usize, key: &str) -> Option<u32> {
        let h = key_hash(key);
        self.index[source]
            .find(h, |e| e.key_hash == h && self.key(e.row as usize) == key)
            .map(|e| e.row)
    }

    /// The row of pipeline source `source` with this source key, and whether it holds
    /// this content (`hash`) and is not deleted. A row whose key hash and content hash
    /// both match is taken without comparing the key's text (the content hash is over
    /// the whole raw row, key included: two 64-bit hashes would have to collide at once).
    fn look_up(&self, source: usize, key: &str, hash: u64) -> Option<(u32, bool)> {
        let h = key_hash(key);
        self.index[source]
            .find(h, |e| {
                e.key_hash == h && (e.holds(hash) || self.key(e.row as usize) == key)
            })
            .map(|e| (e.row, e.holds(hash)))
    }

    /// Add the rows of a later part of the table (read by [`scan`]).
    fn append(&mut self, part: Holdings) {
        let source_of: Vec<u16> = part
            .sources
            .iter()
            .map(|name| match self.sources.iter().position(|s| s == name) {
                Some(i) => i as u16,
                None => {
                    self.sources.push(name.clone());
                    (self.sources.len() - 1) as u16
                }
            })
            .collect();
        let (text_at, keys_at) = (self.key_text.len() as u32, self.keys.len() as u32);
        self.key_text.push_str(&part.key_text);
        self.keys.extend_from_slice(&part.keys);
        self.rows.extend(part.rows.into_iter().map(|h| Held {
            key: (h.key.0 + text_at, h.key.1),
            keys: (h.keys.0 + keys_at, h.keys.1),
            source: source_of[h.source as usize],
            ..h
        }));
    }

    /// Index every row of a pipeline source by its key (hashed in parallel; the sources'
    /// tables are filled in parallel too). `sources`: how many the pipeline has.
    fn build_index(&mut self, store_to_pipeline: &[Option<usize>], sources: usize) {
        let hashes: Vec<u64> = (0..self.rows.len())
            .into_par_iter()
            .map(|i| key_hash(self.key(i)))
            .collect();
        let mut per_source = vec![0usize; sources];
        for h in &self.rows {
            if let Some(p) = store_to_pipeline[h.source as usize] {
                per_source[p] += 1;
            }
        }
        self.index = per_source
            .iter()
            .map(|&n| HashTable::with_capacity(n))
            .collect();
        self.by_content = per_source
            .into_iter()
            .map(HashTable::with_capacity)
            .collect();
        let rows = &self.rows;
        self.index
            .par_iter_mut()
            .zip(self.by_content.par_iter_mut())
            .enumerate()
            .for_each(|(p, (table, by_content))| {
                for (i, h) in rows.iter().enumerate() {
                    if store_to_pipeline[h.source as usize] == Some(p) {
                        let entry = Entry {
                            key_hash: hashes[i],
                            hash: h.hash,
                            row: i as u32,
                            live: !h.deleted,
                        };
                        table.insert_unique(hashes[i], entry, |e| e.key_hash);
                        if !h.deleted {
                            // (The content hash is a hash of the raw row already.)
                            by_content.insert_unique(h.hash, i as u32, |&r| rows[r as usize].hash);
                        }
                    }
                }
            });
    }

    /// The live row of pipeline source `source` whose raw text was `raw` when loaded:
    /// its content hash is `hash` and its source key occurs in `raw`. (The key is checked
    /// so that a row is never taken on one 64-bit hash alone, as [`Self::look_up`] takes
    /// it on two.)
    fn look_up_line(&self, source: usize, hash: u64, raw: &[u8]) -> Option<u32> {
        self.by_content[source]
            .find(hash, |&r| {
                self.rows[r as usize].hash == hash
                    && memchr::memmem::find(raw, self.key(r as usize).as_bytes()).is_some()
            })
            .copied()
    }
}

impl crate::pipeline::HoldsIn for Holdings {
    fn key(&self, source: u16, key: &str, hash: u64) -> Option<(u32, bool)> {
        self.look_up(source as usize, key, hash)
    }
    fn line(&self, source: u16, hash: u64, raw: &[u8]) -> Option<u32> {
        self.look_up_line(source as usize, hash, raw)
    }
}

fn key_hash(key: &str) -> u64 {
    use std::hash::BuildHasher;
    std::hash::BuildHasherDefault::<crate::hash::KeyHasher>::default().hash_one(key)
}

/// Check that the store supports an incremental sync and, if so, resolve the changes.
/// `reader`: a second connection that sees what `conn` sees, to read the store faster.
pub fn resolve(
    pipeline: &Pipeline,
    conn: &Connection,
    reader: Option<Connection>,
    opts: &ResolveOptions,
    model: Option<Model>,
    progress: &mut Progress,
) -> Result<Prepared> {
    let store = &pipeline.store_path;
    let db = |e: rusqlite::Error| Error::store(store, e);
    // A second connection is given only under the write lock: then more may be opened.
    let locked = reader.is_some();
    let Some(model) = model else {
        return Ok(Err("the store holds no match model yet".into()));
    };
    if opts.decisions.path.is_some() {
        return Ok(Err("a decisions file was given".into()));
    }
    let last: Option<(String, String)> = rusqlite::OptionalExtension::optional(conn.query_row(
        "SELECT config_hash, tool_version FROM runs ORDER BY run_id DESC LIMIT 1",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    ))
    .map_err(db)?;
    match last {
        None => return Ok(Err("the store has no run yet".into())),
        Some((hash, _)) if hash != pipeline.config_hash => {
            return Ok(Err(
                "the config or a mapping changed since the last run".into()
            ));
        }
        Some((_, version)) if version != env!("CARGO_PKG_VERSION") => {
            return Ok(Err(format!("the last run was made by crmfuse {version}")));
        }
        _ => {}
    }
    let rules = block::default_rules();
    if crate::store::meta_get(conn, load::BLOCK_KEYS_VERSION)
        .map_err(db)?
        .as_deref()
        != Some(block::keys_version(&rules).as_str())
    {
        return Ok(Err(
            "the store's blocking keys are of another version".into()
        ));
    }
    let Some((_, counts)) = load::read_term_counts(conn, store)? else {
        return Ok(Err("the store holds no name counts yet".into()));
    };

    // The sources' files are read (and checksummed) meanwhile, on another core.
    let stage = progress.stage("read store", None);
    let (held, fetched) = std::thread::scope(|s| {
        let fetching = s.spawn(|| {
            pipeline
                .sources
                .iter()
                .map(crate::ingest::fetch)
                .collect::<Result<Vec<_>>>()
        });
        let held = read_holdings(conn, reader, pipeline, SPLIT_FROM);
        let fetched = fetching
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e));
        (held, fetched)
    });
    let held = match held? {
        Ok(h) => h,
        Err(reason) => return Ok(Err(reason)),
    };
    let fetched = fetched?;
    progress.finish(stage);
    progress.between_stages()?;

    // Ingest, skipping the rows held unchanged.
    let (records, quarantined, sources, unchanged) =
        pipeline::ingest_known(pipeline, Some(fetched), &held, progress)?;
    progress.between_stages()?;

    // Classify the store's rows.
    let n = held.rows.len();
    let mut live = vec![false; n];
    // The line of each unchanged row in today's export (rows above it may have come or
    // gone): a record read back takes it.
    let mut line_now = vec![0u64; n];
    for &(i, line) in unchanged.iter().flatten() {
        live[i as usize] = true;
        line_now[i as usize] = line;
    }
    let mut delta = Delta {
        source_changes: pipeline
            .sources
            .iter()
            .enumerate()
            .map(|(i, s)| SourceDelta {
                source: s.name.clone(),
                unchanged: unchanged[i].len() as u64,
                on_disappear: load::policy_name(s.on_disappear),
                ..SourceDelta::default()
            })
            .collect(),
        new_or_changed: records.len() as u64,
        ..Delta::default()
    };
    let mut affected: KeySet<u64> = KeySet::default();
    let mut replaced = vec![false; n];
    for r in &records {
        let d = &mut delta.source_changes[r.source as usize];
        match held.find(r.source as usize, r.key.as_str()) {
            Some(i) => {
                d.changed += 1;
                replaced[i as usize] = true;
                affected.insert(held.rows[i as usize].customer);
            }
            None => d.new += 1,
        }
    }
    let active = overrides::read_active(conn, store)?;
    let retired = overrides::retired_sources(&active);
    let mut issue_rows: Vec<(String, String)> = records
        .iter()
        .map(|r| {
            (
                pipeline.sources[r.source as usize].name.clone(),
                r.key.clone(),
            )
        })
        .collect();
    for (i, h) in held.rows.iter().enumerate() {
        if h.deleted || live[i] || replaced[i] {
            continue;
        }
        let name = &held.sources[h.source as usize];
        let policy = match pipeline.source_index(name) {
            _ if retired.contains_key(name) => DisappearPolicy::MarkDeleted,
            Some(s) => {
                delta.source_changes[s].disappeared += 1;
                pipeline.sources[s].on_disappear
            }
            None => DisappearPolicy::Detach,
        };
        delta.disappeared += 1;
        if policy != DisappearPolicy::Ignore {
            affected.insert(h.customer);
            issue_rows.push((name.clone(), held.key(i).to_string()));
        }
    }

    let records = pipeline::cleanse_stage(pipeline, records, opts.today, progress);
    progress.between_stages()?;
    let stage = progress.stage("match changes", None);
    // The active customers are counted (a scan of the whole table) on a connection of its
    // own meanwhile, when that sees the same store (under the write lock).
    let counting = locked.then(|| {
        let store = store.clone();
        std::thread::spawn(move || count_active(&crate::store::open_existing(&store)?, &store))
    });
    let match_records = pipeline::match_records(&records);
    let delta_keys: Vec<Vec<u64>> = match_records
        .par_iter()
        .map(|m| block::record_keys(m, &rules))
        .collect();

    // Stored records sharing a key with a changed one, by key; blocks too large in the
    // whole store are capped, as a full run caps them.
    let mut in_delta: KeyMap<u64, u64> = KeyMap::default();
    for k in delta_keys.iter().flatten() {
        *in_delta.entry(*k).or_default() += 1;
    }
    // (A pass over every stored row's keys, in parallel; few of them hit.)
    let hits: Vec<(u64, u32)> = (0..n)
        .into_par_iter()
        .filter(|&i| live[i])
        .flat_map_iter(|i| {
            held.keys_of(i)
                .iter()
                .filter(|k| in_delta.contains_key(k))
                .map(move |&k| (k, i as u32))
        })
        .collect();
    let mut sharing: KeyMap<u64, Vec<u32>> = KeyMap::default();
    for (k, i) in hits {
        sharing.entry(k).or_default().push(i);
    }
    let max = pipeline.matching.max_block_size as u64;
    sharing.retain(|k, v| v.len() as u64 + in_delta[k] <= max);
    let mut candidates: Vec<u32> = sharing.values().flatten().copied().collect();
    candidates.sort_unstable();
    candidates.dedup();
    delta.candidates = candidates.len() as u64;

    // Score the changed records against them. (Their stored JSON is kept: the candidates
    // that turn out to be members below are parsed whole from it.)
    let stored = read_json(conn, pipeline, &held, &candidates, locked)?;
    let at: KeyMap<u32, u32> = stored
        .iter()
        .enumerate()
        .map(|(p, (i, _))| (*i, p as u32))
        .collect();
    let cand_records: Vec<MatchRecord> = candidates
        .par_iter()
        .map(|i| {
            MatchRecord::from_record_json(&stored[at[i] as usize].1)
                .map_err(|e| unreadable(pipeline, &held, *i, e))
        })
        .collect::<Result<_>>()?;
    let position: KeyMap<u32, u32> = candidates
        .iter()
        .enumerate()
        .map(|(p, &i)| (i, (records.len() + p) as u32))
        .collect();
    let mut pairs: Vec<CandidatePair> = Vec::new();
    for (d, keys) in delta_keys.iter().enumerate() {
        for k in keys {
            for i in sharing.get(k).into_iter().flatten() {
                pairs.push(CandidatePair {
                    a: d as u32,
                    b: position[i],
                });
            }
        }
    }
    pairs.sort_unstable();
    pairs.dedup();
    let both: Vec<MatchRecord> = match_records.iter().chain(&cand_records).cloned().collect();
    let tf = TermFrequencies::from_counts(&both, &counts);
    for p in score::score_all(&model, &tf, &both, &pairs) {
        if p.linked(&model) {
            let held_row = candidates[p.pair.b as usize - records.len()];
            affected.insert(held.rows[held_row as usize].customer);
        }
    }
    drop(both);
    progress.finish(stage);

    // A steward's link or unlink between a record re-resolved and one outside would not
    // be replayed: take in the other record's customer too.
    let steward = overrides::decisions(&active);
    let delta_keys_set: KeySet<(u16, &str)> =
        records.iter().map(|r| (r.source, r.key.as_str())).collect();
    loop {
        let before = affected.len();
        for d in &steward {
            let side = |r: &crate::decisions::RecordRef| -> (bool, Option<u64>) {
                let Some(s) = pipeline.source_index(&r.source) else {
                    return (false, None);
                };
                if delta_keys_set.contains(&(s as u16, r.key.as_str())) {
                    return (true, None);
                }
                match held.find(s, r.key.as_str()) {
                    Some(i) if live[i as usize] => {
                        let c = held.rows[i as usize].customer;
                        (affected.contains(&c), Some(c))
                    }
                    _ => (false, None),
                }
            };
            let (a, b) = (side(&d.a), side(&d.b));
            if a.0 || b.0 {
                affected.extend(a.1.into_iter().chain(b.1));
            }
        }
        if affected.len() == before {
            break;
        }
    }

    // Every live record of the customers re-resolved.
    let members: Vec<u32> = (0..n as u32)
        .into_par_iter()
        .filter(|&i| live[i as usize] && affected.contains(&held.rows[i as usize].customer))
        .collect();
    let (have, missing): (Vec<u32>, Vec<u32>) = members.iter().partition(|i| at.contains_key(i));
    let parsed: Vec<Customer> = have
        .par_iter()
        .map(|&i| parse_record(pipeline, &held, &line_now, i, &stored[at[&i] as usize].1))
        .collect::<Result<_>>()?;
    drop(stored);
    let mut subset: Vec<Customer> = records;
    subset.extend(parsed);
    subset.extend(read_records(
        conn, pipeline, &held, &line_now, &missing, locked,
    )?);
    let in_subset: KeySet<u32> = members.iter().copied().collect();
    subset.par_sort_unstable_by(|a, b| (a.source, &a.key).cmp(&(b.source, &b.key)));
    let subset_match = pipeline::match_records(&subset);

    // How many live records outside the subset share each of its keys.
    let subset_keys: KeySet<u64> = subset_match
        .par_iter()
        .flat_map_iter(|m| block::record_keys(m, &rules))
        .collect();
    let outside: KeyMap<u64, u64> = (0..n)
        .into_par_iter()
        .filter(|&i| live[i] && !in_subset.contains(&(i as u32)))
        .fold(KeyMap::default, |mut acc: KeyMap<u64, u64>, i| {
            for k in held.keys_of(i) {
                if subset_keys.contains(k) {
                    *acc.entry(*k).or_default() += 1;
                }
            }
            acc
        })
        .reduce(KeyMap::default, |mut a, b| {
            for (k, v) in b {
                *a.entry(k).or_default() += v;
            }
            a
        });
    let outside_of = |k: u64| outside.get(&k).copied().unwrap_or(0);

    // The steward's decisions on records of the subset.
    let names: KeySet<(&str, &str)> = subset
        .iter()
        .map(|r| {
            (
                pipeline.sources[r.source as usize].name.as_str(),
                r.key.as_str(),
            )
        })
        .collect();
    let decisions = Decisions {
        decisions: opts
            .decisions
            .decisions
            .iter()
            .filter(|d| {
                names.contains(&(d.a.source.as_str(), d.a.key.as_str()))
                    && names.contains(&(d.b.source.as_str(), d.b.key.as_str()))
            })
            .cloned()
            .collect(),
        ..Decisions::default()
    };
    drop(names);

    let mut scope = Scope {
        customers: affected.iter().map(|&c| load::customer_id(c)).collect(),
        issue_rows,
    };
    scope.customers.sort_unstable();
    let active_total = match counting {
        Some(h) => h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))?,
        None => count_active(conn, store)?,
    };
    let active_in_scope: i64 = conn
        .query_row(
            "SELECT count(*) FROM customers WHERE status = 'active' AND customer_id IN (SELECT value FROM json_each(?1))",
            [serde_json::to_string(&scope.customers).unwrap_or_default()],
            |r| r.get(0),
        )
        .map_err(db)?;
    delta.customers_resolved = affected.len() as u64;
    delta.records_resolved = subset.len() as u64;
    delta.customers_untouched = (active_total - active_in_scope).max(0) as u64;

    let input = Cleansed {
        records: subset,
        match_records: subset_match,
        quarantined,
        sources,
    };
    let scoring = Scoring {
        model: Some(model),
        counts,
        counts_are_own: false,
        held: Some(&outside_of),
        keep_pairs: opts.keep_pairs,
    };
    let mut res = pipeline::resolve_cleansed(pipeline, input, scoring, &decisions, progress)?;
    res.incremental = Some(delta);
    Ok(Ok((res, scope)))
}

/// How many customers are active.
fn count_active(conn: &Connection, store: &std::path::Path) -> Result<i64> {
    conn.query_row(
        "SELECT count(*) FROM customers WHERE status = 'active'",
        [],
        |r| r.get(0),
    )
    .map_err(|e| Error::store(store, e))
}

/// Every row of `customer_sources`, with its blocking keys. `Err`: a reason the store
/// cannot be synced incrementally. `reader`: a second connection that sees what `conn`
/// sees (the caller holds the write lock), to read half the table on another core when it
/// has `split_from` rows or more.
fn read_holdings(
    conn: &Connection,
    reader: Option<Connection>,
    pipeline: &Pipeline,
    split_from: usize,
) -> Result<std::result::Result<Holdings, String>> {
    let store = &pipeline.store_path;
    let db = |e: rusqlite::Error| Error::store(store, e);
    // Rows are appended, so rowids are mostly dense: the largest is about the number of
    // rows (counting them would read an index of the whole table first).
    let max_rowid: i64 = conn
        .query_row(
            "SELECT coalesce(max(rowid), 0) FROM customer_sources",
            [],
            |r| r.get(0),
        )
        .map_err(db)?;
    let rows = (max_rowid.max(0) as usize).min(MAX_RESERVED_ROWS);
    let (first, second) = match reader {
        Some(reader) if rows >= split_from => {
            // Halve the rowids' range (gaps only make one half longer, never a row
            // missed). The first half has room for the whole table, so that the second is
            // appended without moving (and faulting in) everything read so far.
            let mid = max_rowid / 2;
            std::thread::scope(|s| {
                // (Of an odd number of rows, the second half has the one more.)
                let later =
                    s.spawn(move || scan(&reader, pipeline, mid + 1, max_rowid, rows - rows / 2));
                let first = scan(conn, pipeline, i64::MIN, mid, rows);
                let later = later
                    .join()
                    .unwrap_or_else(|e| std::panic::resume_unwind(e));
                (first, Some(later))
            })
        }
        _ => (scan(conn, pipeline, i64::MIN, i64::MAX, rows), None),
    };
    let mut held = match first? {
        Ok(h) => h,
        Err(reason) => return Ok(Err(reason)),
    };
    if let Some(second) = second {
        match second? {
            Ok(part) => held.append(part),
            Err(reason) => return Ok(Err(reason)),
        }
    }
    let in_pipeline: Vec<Option<usize>> = held
        .sources
        .iter()
        .map(|s| pipeline.source_index(s))
        .collect();
    held.build_index(&in_pipeline, pipeline.sources.len());
    Ok(Ok(held))
}

/// The rows of `customer_sources` with rowids in `from..=to`, in table order (no index
/// walk: that would fetch each row at random), not yet indexed.
fn scan(
    conn: &Connection,
    pipeline: &Pipeline,
    from: i64,
    to: i64,
    capacity: usize,
) -> Result<std::result::Result<Holdings, String>> {
    let store = &pipeline.store_path;
    let db = |e: rusqlite::Error| Error::store(store, e);
    let mut held = Holdings {
        sources: Vec::new(),
        rows: Vec::with_capacity(capacity),
        key_text: String::with_capacity(capacity * 12),
        keys: Vec::with_capacity(capacity * 8),
        index: Vec::new(),
        by_content: Vec::new(),
    };
    let mut stmt = conn
        .prepare(
            "SELECT source, source_key, record_hash, customer_id, deleted_run_id IS NOT NULL, block_keys, rowid
             FROM customer_sources WHERE rowid BETWEEN ?1 AND ?2",
        )
        .map_err(db)?;
    let mut rows = stmt.query([from, to]).map_err(db)?;
    // The previous row's source (index in `held.sources`).
    let mut last: Option<u16> = None;
    while let Some(r) = rows.next().map_err(db)? {
        let source = text(r, 0, store)?.unwrap_or("");
        let si = match last {
            Some(si) if held.sources[si as usize] == source => si,
            _ => {
                let si = match held.sources.iter().position(|s| s == source) {
                    Some(i) => i,
                    None => {
                        held.sources.push(source.to_string());
                        held.sources.len() - 1
                    }
                } as u16;
                last = Some(si);
                si
            }
        };
        let key = text(r, 1, store)?.unwrap_or("");
        let Some(hash) = bytes(r, 2, store)?.and_then(hex_u64) else {
            return Ok(Err(format!(
                "a stored row of source `{source}` has no content hash"
            )));
        };
        let Some(customer) = bytes(r, 3, store)?
            .and_then(|c| c.strip_prefix(b"C"))
            .and_then(|n| std::str::from_utf8(n).ok())
            .and_then(|n| n.parse::<u64>().ok())
        else {
            return Ok(Err("a stored customer id is not of crmfuse's form".into()));
        };
        let deleted: bool = r.get(4).map_err(db)?;
        let at = held.keys.len() as u32;
        match bytes(r, 5, store)? {
            Some(k) if decode_keys_into(k, &mut held.keys) => {}
            _ if deleted => {}
            _ => {
                return Ok(Err(
                    "rows loaded by an older crmfuse have no blocking keys yet".into(),
                ));
            }
        }
        let key_at = held.key_text.len() as u32;
        held.key_text.push_str(key);
        held.rows.push(Held {
            rowid: r.get(6).map_err(db)?,
            hash,
            customer,
            key: (key_at, key.len() as u32),
            keys: (at, held.keys.len() as u32 - at),
            source: si,
            deleted,
        });
    }
    Ok(Ok(held))
}

/// A text cell of a row, borrowed (`None`: NULL, not text, or not UTF-8).
fn text<'r>(
    r: &'r rusqlite::Row<'_>,
    i: usize,
    store: &std::path::Path,
) -> Result<Option<&'r str>> {
    match r.get_ref(i).map_err(|e| Error::store(store, e))? {
        rusqlite::types::ValueRef::Text(t) => Ok(std::str::from_utf8(t).ok()),
        _ => Ok(None),
    }
}

/// A text cell's bytes (`None`: NULL or not text).
fn bytes<'r>(
    r: &'r rusqlite::Row<'_>,
    i: usize,
    store: &std::path::Path,
) -> Result<Option<&'r [u8]>> {
    match r.get_ref(i).map_err(|e| Error::store(store, e))? {
        rusqlite::types::ValueRef::Text(t) => Ok(Some(t)),
        _ => Ok(None),
    }
}

/// Each byte's value as a lower-case hex digit; 0xFF: not one.
const HEX_DIGIT: [u8; 256] = {
    let mut t = [0xFF; 256];
    let mut d = 0;
    while d < 16 {
        t[b"0123456789abcdef"[d] as usize] = d as u8;
        d += 1;
    }
    t
};

/// 16 lower-case hex digits (as `{:016x}` writes them) as a number. (A table walk without
/// branches: a sync decodes some eight million of these.)
fn hex_u64(digits: &[u8]) -> Option<u64> {
    let digits: &[u8; 16] = digits.try_into().ok()?;
    let mut acc = 0u64;
    let mut bad = 0u8;
    for &d in digits {
        let v = HEX_DIGIT[d as usize];
        bad |= v;
        acc = acc << 4 | u64::from(v & 0x0F);
    }
    (bad & 0xF0 == 0).then_some(acc)
}

/// Append the keys of a stored list ([`block::encode_keys`]) to `out`; false (and `out` as
/// it was) when the text is not such a list.
fn decode_keys_into(text: &[u8], out: &mut Vec<u64>) -> bool {
    if !text.len().is_multiple_of(16) {
        return false;
    }
    let at = out.len();
    for chunk in text.chunks_exact(16) {
        match hex_u64(chunk) {
            Some(k) => out.push(k),
            None => {
                out.truncate(at);
                return false;
            }
        }
    }
    true
}

/// Read stored records back (cleansed, as loaded), by their row in `held`, in table order.
fn read_records(
    conn: &Connection,
    pipeline: &Pipeline,
    held: &Holdings,
    line_now: &[u64],
    which: &[u32],
    locked: bool,
) -> Result<Vec<Customer>> {
    read_json(conn, pipeline, held, which, locked)?
        .into_par_iter()
        .map(|(i, json)| parse_record(pipeline, held, line_now, i, &json))
        .collect()
}

/// The stored JSON of rows of `held` (`customer_sources.record_json`), in table order.
/// `locked`: the caller holds the write lock (see [`resolve`]), so that connections of
/// their own may read parts at once.
fn read_json(
    conn: &Connection,
    pipeline: &Pipeline,
    held: &Holdings,
    which: &[u32],
    locked: bool,
) -> Result<Vec<(u32, String)>> {
    // In rowid order: the table's pages are read front to back.
    let mut order = which.to_vec();
    order.sort_unstable_by_key(|&i| held.rows[i as usize].rowid);
    let parts = rayon::current_num_threads().clamp(1, 4);
    if !locked || parts == 1 || order.len() < SPLIT_RECORDS_FROM {
        return look_up_records(conn, pipeline, held, &order);
    }
    let chunk = order.len().div_ceil(parts);
    std::thread::scope(|s| {
        let later: Vec<_> = order
            .chunks(chunk)
            .skip(1)
            .map(|part| {
                s.spawn(move || {
                    let c = crate::store::open_existing(&pipeline.store_path)?;
                    look_up_records(&c, pipeline, held, part)
                })
            })
            .collect();
        let mut out = look_up_records(conn, pipeline, held, &order[..chunk])?;
        for h in later {
            out.extend(h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))?);
        }
        Ok(out)
    })
}

/// Stored records read back are split over connections from this many on.
const SPLIT_RECORDS_FROM: usize = 8192;

/// The stored JSON of these rows of `held`, in the order given.
fn look_up_records(
    conn: &Connection,
    pipeline: &Pipeline,
    held: &Holdings,
    which: &[u32],
) -> Result<Vec<(u32, String)>> {
    let db = |e: rusqlite::Error| Error::store(&pipeline.store_path, e);
    let mut stmt = conn
        .prepare_cached("SELECT record_json FROM customer_sources WHERE rowid = ?1")
        .map_err(db)?;
    which
        .iter()
        .map(|&i| {
            let rowid = held.rows[i as usize].rowid;
            let json: String = stmt.query_row([rowid], |r| r.get(0)).map_err(db)?;
            Ok((i, json))
        })
        .collect()
}

/// A stored record as it was loaded, with what the store and today's export say of it.
fn parse_record(
    pipeline: &Pipeline,
    held: &Holdings,
    line_now: &[u64],
    i: u32,
    json: &str,
) -> Result<Customer> {
    let h = &held.rows[i as usize];
    let source_name = &held.sources[h.source as usize];
    let mut c: Customer =
        serde_json::from_str(json).map_err(|e| unreadable(pipeline, held, i, e))?;
    c.source = pipeline.source_index(source_name).unwrap_or(0) as u16;
    c.key = held.key(i as usize).to_string();
    c.line = line_now[i as usize];
    c.hash = h.hash;
    Ok(c)
}

/// The error of a stored record (row `i` of `held`) whose JSON does not parse.
fn unreadable(pipeline: &Pipeline, held: &Holdings, i: u32, e: serde_json::Error) -> Error {
    Error::Store {
        path: pipeline.store_path.clone(),
        message: format!(
            "the stored record {} {} is unreadable: {e}",
            held.sources[held.rows[i as usize].source as usize],
            held.key(i as usize)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_keys_decode_as_they_were_encoded() {
        let keys = [0u64, 1, 0xdead_beef, u64::MAX, 0x0123_4567_89ab_cdef];
        let text = block::encode_keys(&keys);
        let mut out = vec![7];
        assert!(decode_keys_into(text.as_bytes(), &mut out));
        assert_eq!(out[1..], keys);
        assert_eq!(
            hex_u64(format!("{:016x}", 0xfeed_u64).as_bytes()),
            Some(0xfeed)
        );
        for bad in ["", "0123", "0123456789abcdeg", "0123456789ABCDEF"] {
            assert_eq!(hex_u64(bad.as_bytes()), None, "{bad}");
        }
        let mut out = vec![7];
        assert!(!decode_keys_into(b"00000000000000zz", &mut out));
        assert_eq!(out, [7]);
    }

    #[test]
    fn a_store_read_in_two_halves_is_read_as_in_one() {
        let dir = tempfile::tempdir().unwrap();
        let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/demo/pipeline.toml");
        let mut pipeline = Pipeline::load(std::path::Path::new(demo)).unwrap();
        pipeline.store_path = dir.path().join("crm.db");
        let conn = crate::store::open_rw(&pipeline.store_path).unwrap();
        // The pipeline's sources and one it no longer lists, interleaved so that the two
        // halves meet them in different orders.
        let names: Vec<String> = pipeline
            .sources
            .iter()
            .map(|s| s.name.clone())
            .chain(["gone".to_string()])
            .collect();
        for c in 1..=5 {
            conn.execute(
                "INSERT INTO customers (customer_id, created_run_id, updated_run_id) VALUES (?1, 1, 1)",
                [format!("C{c}")],
            )
            .unwrap();
        }
        for i in 0..60u64 {
            let deleted = i % 13 == 0;
            conn.execute(
                "INSERT INTO customer_sources (source, source_key, customer_id, line, record_hash, record_json, deleted_run_id, block_keys)
                 VALUES (?1, ?2, ?3, ?4, ?5, '{}', ?6, ?7)",
                rusqlite::params![
                    names[(i * 7 % names.len() as u64) as usize],
                    format!("k{}", i / 2),
                    format!("C{}", i % 5 + 1),
                    (i + 2) as i64,
                    format!("{:016x}", i * 977),
                    deleted.then_some(1),
                    (!deleted).then(|| block::encode_keys(&(0..i % 4).map(|k| i << 8 | k).collect::<Vec<_>>())),
                ],
            )
            .unwrap();
        }
        let one = read_holdings(&conn, None, &pipeline, usize::MAX)
            .unwrap()
            .unwrap();
        let reader = crate::store::open_ro(&pipeline.store_path).unwrap();
        let two = read_holdings(&conn, reader, &pipeline, 0).unwrap().unwrap();
        let row = |h: &Holdings, i: usize| {
            let r = &h.rows[i];
            let source = h.sources[r.source as usize].clone();
            (
                r.rowid,
                r.hash,
                r.customer,
                r.deleted,
                source,
                h.key(i).to_string(),
                h.keys_of(i).to_vec(),
            )
        };
        assert_eq!(one.rows.len(), 60);
        assert_eq!(two.rows.len(), 60);
        for i in 0..60 {
            assert_eq!(row(&one, i), row(&two, i), "row {i}");
            let (.., source, key, _) = row(&one, i);
            if let Some(s) = pipeline.source_index(&source) {
                assert_eq!(one.find(s, &key), Some(i as u32));
                assert_eq!(two.find(s, &key), Some(i as u32));
                // By content: a live row whose key is in the line, and only that.
                let (hash, deleted) = (one.rows[i].hash, one.rows[i].deleted);
                let line = format!(r#"{{"id": "{key}"}}"#);
                let found = two.look_up_line(s, hash, line.as_bytes());
                assert_eq!(found, (!deleted).then_some(i as u32), "row {i}");
                assert_eq!(two.look_up_line(s, hash, br#"{"id": "x"}"#), None);
                assert_eq!(two.look_up_line(s, hash ^ 1, line.as_bytes()), None);
            }
        }
        assert_eq!(two.find(0, "k99"), None);
    }
}
