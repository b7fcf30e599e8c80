//! Load: `Resolution -> LoadPlan -> store`.
//!
//! Planning compares what the pipeline resolved with what the store holds: which clusters
//! keep which customer ids, which customers are created, updated, merged or retired, and
//! which rows of each table change. A dry run stops after planning; a load applies the plan
//! in one transaction, so a run commits whole or not at all. Running the same input twice
//! plans zero changes.

use std::collections::{BTreeMap, HashMap};

use rayon::prelude::*;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, params_from_iter};
use serde::Serialize;

use crate::bulk::RowBatch;
use crate::config::{DisappearPolicy, Pipeline};
use crate::error::{Error, Result};
use crate::overrides::{self, Directive};
use crate::pipeline::Resolution;
use crate::record::GoldenField;
use crate::score;
use crate::store::{self, Cell as Sql, TableRows};

/// One entry of the audit trail.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEvent {
    pub customer_id: Option<String>,
    /// create | update | merge | retire | attach | detach | mark_deleted | conflict | link |
    /// unlink | pin
    pub event: &'static str,
    pub field: Option<&'static str>,
    pub before: Option<String>,
    pub after: Option<String>,
    pub detail: Option<String>,
}

/// The rows of one table to write and delete.
#[derive(Debug, Default)]
pub struct TableDelta {
    pub table: &'static str,
    pub cols: Vec<&'static str>,
    pub pk: usize,
    pub inserts: Vec<Vec<Sql>>,
    pub updates: Vec<Vec<Sql>>,
    pub deletes: Vec<Vec<Sql>>,
    /// The rows as the plan read them, for the undo log, of the first updates and
    /// deletes (in their order, all `cols`), up to [`BEFORE_BUDGET`] bytes per table: `apply`
    /// looks up the rest again.
    pub updated_from: Vec<Vec<Sql>>,
    pub deleted_from: Vec<Vec<Sql>>,
    /// Bytes of `updated_from` and `deleted_from`.
    kept: usize,
    /// Rows of a table still empty: inserted by `apply`, which makes them from the
    /// resolution as it writes (how many, and from what), instead of `inserts`.
    pub made: Option<(TableKind, usize)>,
}

impl TableDelta {
    /// Rows inserted, listed or made.
    pub fn inserted(&self) -> usize {
        self.inserts.len() + self.made.map_or(0, |(_, n)| n)
    }

    /// Update `row`, which is `old` in the store now (all `cols`).
    fn update(&mut self, row: Vec<Sql>, old: Vec<Sql>) {
        self.updates.push(row);
        Self::keep(
            &mut self.kept,
            &mut self.updated_from,
            self.updates.len(),
            old,
        );
    }

    /// Delete `old` (all `cols`).
    fn delete(&mut self, old: Vec<Sql>) {
        self.deletes.push(old[..self.pk].to_vec());
        Self::keep(
            &mut self.kept,
            &mut self.deleted_from,
            self.deletes.len(),
            old,
        );
    }

    /// Keep the `n`-th row's old state, while every earlier one is kept and the budget
    /// lasts.
    fn keep(kept: &mut usize, into: &mut Vec<Vec<Sql>>, n: usize, old: Vec<Sql>) {
        *kept += old.iter().map(Sql::heap_size).sum::<usize>();
        if *kept <= BEFORE_BUDGET && into.len() + 1 == n {
            into.push(old);
        }
    }

    pub fn changes(&self) -> usize {
        self.inserted() + self.updates.len() + self.deletes.len()
    }
}

/// Customer-level counts of a plan.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct CustomerCounts {
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub merged: u64,
    pub retired: u64,
}

#[derive(Debug)]
pub struct LoadPlan {
    pub run_id: i64,
    /// The customer id of each cluster.
    pub cluster_ids: Vec<String>,
    pub counts: CustomerCounts,
    pub events: Vec<AuditEvent>,
    pub deltas: Vec<TableDelta>,
    pub next_customer_number: u64,
    /// Existing golden values that this plan overwrites with a different value.
    pub overwrites: Vec<AuditEvent>,
    /// Per source: new, changed, unchanged and disappeared rows.
    pub source_changes: Vec<SourceDelta>,
    /// Fields edited in the CRM that a source now changes (`conflict` events).
    pub conflicts: Vec<AuditEvent>,
    /// Steward pins, by the customer id that holds them now.
    pub pinned: HashMap<String, Vec<overrides::Pin>>,
}

/// The `field_lineage.source` of a pinned value.
pub const PIN_SOURCE: &str = "steward";

/// `customer_sources` as the loader reads and writes it, primary key first.
const XREF_COLS: [&str; 9] = [
    "source",
    "source_key",
    "customer_id",
    "match_score",
    "line",
    "record_hash",
    "record_json",
    "deleted_run_id",
    "block_keys",
];

/// The part of the store an incremental sync re-resolved: the plan reads and changes
/// only these customers' rows (and the record issues of these source rows), and leaves
/// every other row as it is.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// Existing customer ids.
    pub customers: Vec<String>,
    /// (source, source key) of the new, changed and disappeared rows.
    pub issue_rows: Vec<(String, String)>,
}

impl Scope {
    /// A `WHERE` condition on a table with a `customer_id` column, and its one parameter.
    fn customers_sql(&self) -> (String, String) {
        (
            "customer_id IN (SELECT value FROM json_each(?1))".into(),
            serde_json::to_string(&self.customers).unwrap_or_default(),
        )
    }

    fn issues_sql(&self) -> (String, String) {
        (
            "(source, source_key) IN (SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?1))".into(),
            serde_json::to_string(&self.issue_rows).unwrap_or_default(),
        )
    }
}

/// How one source's rows compare with what the store holds, by per-row content hash
/// (`customer_sources.record_hash`, keyed by source and source key).
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct SourceDelta {
    pub source: String,
    pub new: u64,
    pub changed: u64,
    pub unchanged: u64,
    /// Rows the store holds (not yet marked deleted) that the source no longer has.
    pub disappeared: u64,
    /// The source's `on_disappear` policy: ignore | detach | mark_deleted.
    pub on_disappear: &'static str,
}

pub(crate) fn policy_name(p: DisappearPolicy) -> &'static str {
    match p {
        DisappearPolicy::Ignore => "ignore",
        DisappearPolicy::Detach => "detach",
        DisappearPolicy::MarkDeleted => "mark_deleted",
    }
}

const CUSTOMER_STATE_COLS: [&str; 3] = ["customer_id", "status", "merged_into"];

/// The columns of `customers` as the loader writes them: state, golden fields, run ids.
static CUSTOMER_COLS: std::sync::LazyLock<Vec<&'static str>> = std::sync::LazyLock::new(|| {
    let mut cols: Vec<&'static str> = CUSTOMER_STATE_COLS.to_vec();
    cols.extend(store::golden_columns());
    cols.extend(["created_run_id", "updated_run_id"]);
    cols
});

/// A profile's golden values (from `records`) as cells, with its pins' values in place.
fn golden_cells(
    profile: &crate::survive::GoldenProfile,
    records: &[crate::record::Customer],
    pins: Option<&Vec<overrides::Pin>>,
) -> Vec<Sql> {
    let mut golden: Vec<Sql> = GoldenField::ALL
        .into_iter()
        .map(|f| profile.get(f, records).map_or(Sql::Null, text))
        .collect();
    for p in pins.into_iter().flatten() {
        golden[p.field.index()] = text(p.value.clone());
    }
    golden
}

/// The pin of `field` among a customer's pins: the latest, as pins apply in order.
fn latest_pin(pins: Option<&Vec<overrides::Pin>>, field: GoldenField) -> Option<&overrides::Pin> {
    pins?.iter().rev().find(|p| p.field == field)
}

/// The `customers` row of a customer created by run `run_id`.
fn new_customer(id: &str, golden: Vec<Sql>, run_id: i64) -> Vec<Sql> {
    let mut row = Vec::with_capacity(CUSTOMER_COLS.len());
    row.extend([text(id), text("active"), Sql::Null]);
    row.extend(golden);
    row.extend([Sql::Int(run_id), Sql::Int(run_id)]);
    row
}

fn text(s: impl Into<String>) -> Sql {
    Sql::text(s)
}

fn as_str(v: &Sql) -> Option<&str> {
    v.as_str()
}

/// The row of `rows` keyed by the texts `key`. An empty map (a first load's) is answered
/// without making the key: a first load asks once or more per record.
fn lookup<'m>(rows: &'m TableRows, key: &[&str]) -> Option<&'m Vec<Sql>> {
    if rows.is_empty() {
        return None;
    }
    rows.get(&key.iter().map(|k| text(*k)).collect::<Vec<_>>())
}

pub fn customer_id(n: u64) -> String {
    format!("C{n:08}")
}

/// Plan the load of `res` into the store behind `conn` (`None`: a store that does not exist
/// yet).
pub fn plan(conn: Option<&Connection>, pipeline: &Pipeline, res: &Resolution) -> Result<LoadPlan> {
    plan_scoped(conn, pipeline, res, None, false)
}

/// [`plan`], over the whole store or (`scope`) over the customers an incremental sync
/// re-resolved. `locked`: `conn` holds the store's write lock and has written nothing
/// yet, so that other connections see what it sees: then the tables are compared with
/// the store on several connections at once.
pub fn plan_scoped(
    conn: Option<&Connection>,
    pipeline: &Pipeline,
    res: &Resolution,
    scope: Option<&Scope>,
    locked: bool,
) -> Result<LoadPlan> {
    let db = |e: rusqlite::Error| Error::store(&pipeline.store_path, e);
    let source_name = |i: u16| pipeline.sources[i as usize].name.as_str();
    let by_customer = scope.map(Scope::customers_sql);
    let by_customer = by_customer.as_ref().map(|(w, p)| (w.as_str(), p.as_str()));

    // What the store holds. `supplied`: the values the sources last supplied (a
    // `customers` value that differs was edited in the CRM after that run).
    let (run_id, mut next_number, xref, customers, supplied) = match conn {
        Some(c) => {
            let run_id: i64 = c
                .query_row("SELECT coalesce(max(run_id), 0) + 1 FROM runs", [], |r| {
                    r.get(0)
                })
                .map_err(db)?;
            let next: u64 = store::meta_get(c, "next_customer_number")
                .map_err(db)?
                .and_then(|v| v.parse().ok())
                .unwrap_or(1);
            // Without record_json (half the table's bytes): what is looked up here is the
            // customer, score, hash and deletion of each row.
            let mut slim = XREF_COLS;
            slim[6] = "NULL";
            slim[8] = "NULL";
            let cols = CUSTOMER_COLS.as_slice();
            let read = |c: &Connection, table: &str, cols: &[&str], pk: usize| {
                store::read_table_where(c, table, cols, pk, by_customer).map_err(db)
            };
            let supplied = |c: &Connection| read_supplied(c, by_customer).map_err(db);
            // (Three tables at once, on connections of their own, when that is safe.)
            let own = || store::open_existing(&pipeline.store_path);
            let (xref, supplied, mut customers) = if locked {
                std::thread::scope(|s| {
                    let xref = s.spawn(|| read(&own()?, "customer_sources", &slim, 2));
                    let supplied = s.spawn(|| supplied(&own()?));
                    let customers = read(c, "customers", cols, 1);
                    fn join<T>(h: std::thread::ScopedJoinHandle<'_, Result<T>>) -> Result<T> {
                        h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))
                    }
                    Ok::<_, Error>((join(xref)?, join(supplied)?, customers?))
                })?
            } else {
                (
                    read(c, "customer_sources", &slim, 2)?,
                    supplied(c)?,
                    read(c, "customers", cols, 1)?,
                )
            };
            if scope.is_some() {
                // The customers that pins name, and those they were merged into, for the
                // pins' look-up below.
                let active = overrides::read_active(c, &pipeline.store_path)?;
                for p in overrides::pins(&active) {
                    let mut id = p.customer.clone();
                    while !customers.contains_key(&vec![text(id.clone())]) {
                        let one = ("customer_id = ?1", id.as_str());
                        let row = store::read_table_where(c, "customers", cols, 1, Some(one))
                            .map_err(db)?;
                        let Some(next) = row.values().next().and_then(|v| as_str(&v[1])) else {
                            customers.extend(row);
                            break;
                        };
                        let next = next.to_string();
                        customers.extend(row);
                        id = next;
                    }
                }
            }
            (run_id, next, xref, customers, supplied)
        }
        None => (
            1,
            1,
            TableRows::default(),
            TableRows::default(),
            Supplied::default(),
        ),
    };
    let active_overrides = match conn {
        Some(c) => overrides::read_active(c, &pipeline.store_path)?,
        None => Vec::new(),
    };
    let pins = overrides::pins(&active_overrides);
    // A retired source's records stay in the store, marked deleted, as lineage.
    let retired = overrides::retired_sources(&active_overrides);
    let existing_id = |i: usize| -> Option<&str> {
        let r = &res.records[i];
        lookup(&xref, &[source_name(r.source), &r.key]).and_then(|v| as_str(&v[0]))
    };

    // Stable ids: each existing id goes to the cluster holding most of its records (ties
    // to the earlier cluster); a cluster takes at most one id; the rest get new ids.
    let mut claims: Vec<(usize, usize, String)> = Vec::new();
    for (ci, members) in res.clusters.iter().enumerate() {
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for &m in members {
            if let Some(id) = existing_id(m as usize) {
                *counts.entry(id).or_default() += 1;
            }
        }
        claims.extend(counts.into_iter().map(|(id, n)| (n, ci, id.to_string())));
    }
    claims.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    let mut cluster_ids: Vec<Option<String>> = vec![None; res.clusters.len()];
    let mut taken: crate::hash::KeyMap<String, usize> = Default::default();
    for (_, ci, id) in &claims {
        if cluster_ids[*ci].is_none() && !taken.contains_key(id) {
            cluster_ids[*ci] = Some(id.clone());
            taken.insert(id.clone(), *ci);
        }
    }
    let cluster_ids: Vec<String> = cluster_ids
        .into_iter()
        .map(|id| {
            id.unwrap_or_else(|| {
                let id = customer_id(next_number);
                next_number += 1;
                id
            })
        })
        .collect();
    // Pins, by the customer id that now holds them (a merged customer's pins go with it).
    let mut pinned: HashMap<String, Vec<overrides::Pin>> = HashMap::new();
    for p in &pins {
        let mut id = p.customer.as_str();
        for _ in 0..customers.len() {
            if taken.contains_key(id) {
                break;
            }
            match customers.get(&vec![text(id)]).and_then(|c| as_str(&c[1])) {
                Some(into) => id = into,
                None => break,
            }
        }
        pinned.entry(id.to_string()).or_default().push(p.clone());
    }
    let record_cluster = record_clusters(res);

    let mut events = Vec::new();
    let mut overwrites = Vec::new();
    let mut conflicts = Vec::new();
    let mut counts = CustomerCounts::default();

    // Customers. Into a table still empty (a first load), every customer is new, and
    // `apply` makes their rows as it writes them (as it does for the other tables): a
    // million rows of golden values are then never all in memory at once.
    let (cols, pk) = TableKind::Customers.cols();
    let mut cust = TableDelta {
        table: TableKind::Customers.table(),
        cols: cols.to_vec(),
        pk,
        ..TableDelta::default()
    };
    let made_later = match conn {
        Some(c) => store::is_empty(c, cust.table).map_err(db)?,
        None => true,
    };
    for (ci, profile) in res.profiles.iter().enumerate() {
        let id = &cluster_ids[ci];
        let golden = || golden_cells(profile, &res.records, pinned.get(id.as_str()));
        match lookup(&customers, &[id]) {
            None => {
                counts.created += 1;
                events.push(AuditEvent {
                    customer_id: Some(id.clone()),
                    event: "create",
                    field: None,
                    before: None,
                    after: None,
                    detail: Some(format!("{} source record(s)", res.clusters[ci].len())),
                });
                if !made_later {
                    cust.inserts.push(new_customer(id, golden(), run_id));
                }
            }
            Some(old) => {
                let mut golden = golden();
                let old_golden = &old[2..2 + GoldenField::ALL.len()];
                let is_pinned = |f: GoldenField| {
                    pinned
                        .get(id.as_str())
                        .is_some_and(|ps| ps.iter().any(|p| p.field == f))
                };
                let last_supplied = supplied.get(id.as_str());
                for f in GoldenField::ALL {
                    let last = last_supplied
                        .and_then(|vs| vs.iter().find(|(g, _)| *g == f))
                        .map_or(Sql::Null, |(_, v)| v.clone());
                    let in_store = &old_golden[f.index()];
                    if *in_store == last || is_pinned(f) {
                        continue;
                    }
                    // Edited in the CRM. A conflict when the source now says something new.
                    let source_wins = pipeline.sync.source_wins.iter().any(|w| w == f.name());
                    let proposed = golden[f.index()].clone();
                    if proposed != last && proposed != *in_store {
                        let ev = AuditEvent {
                            customer_id: Some(id.clone()),
                            event: "conflict",
                            field: Some(f.name()),
                            before: as_str(in_store).map(str::to_string),
                            after: as_str(&proposed).map(str::to_string),
                            detail: Some(if source_wins {
                                "edited in the CRM; the source wins ([sync] source_wins)".into()
                            } else {
                                "edited in the CRM; the edit is kept".into()
                            }),
                        };
                        conflicts.push(ev.clone());
                        events.push(ev);
                    }
                    if !source_wins {
                        golden[f.index()] = in_store.clone();
                    }
                }
                let mut changed = as_str(&old[0]) != Some("active");
                for (f, (before, after)) in
                    GoldenField::ALL.iter().zip(old_golden.iter().zip(&golden))
                {
                    if before != after {
                        changed = true;
                        let ev = AuditEvent {
                            customer_id: Some(id.clone()),
                            event: "update",
                            field: Some(f.name()),
                            before: as_str(before).map(str::to_string),
                            after: as_str(after).map(str::to_string),
                            detail: None,
                        };
                        if before != &Sql::Null && after != &Sql::Null {
                            overwrites.push(ev.clone());
                        }
                        events.push(ev);
                    }
                }
                if changed {
                    counts.updated += 1;
                    let mut row = vec![text(id.clone()), text("active"), Sql::Null];
                    row.extend(golden);
                    row.push(old[2 + GoldenField::ALL.len()].clone());
                    row.push(Sql::Int(run_id));
                    let mut was = vec![text(id.clone())];
                    was.extend(old.iter().cloned());
                    cust.update(row, was);
                } else {
                    counts.unchanged += 1;
                }
            }
        }
    }
    if made_later {
        cust.made = Some((TableKind::Customers, res.profiles.len()));
    }
    // Rows the sources no longer have, and what their source's policy does with them.
    let live: crate::hash::KeySet<(&str, &str)> = res
        .records
        .iter()
        .map(|r| (source_name(r.source), r.key.as_str()))
        .collect();
    let policy_of = |source: &str| {
        if retired.contains_key(source) {
            return DisappearPolicy::MarkDeleted;
        }
        pipeline
            .source_index(source)
            .map_or(DisappearPolicy::Detach, |i| {
                pipeline.sources[i].on_disappear
            })
    };
    let mut disappeared: Vec<(&Vec<Sql>, &Vec<Sql>)> = xref
        .iter()
        .filter(|(k, _)| {
            !live.contains(&(as_str(&k[0]).unwrap_or(""), as_str(&k[1]).unwrap_or("")))
        })
        .collect();
    disappeared.sort();
    let ignored_ids: crate::hash::KeySet<&str> = disappeared
        .iter()
        .filter(|(k, _)| policy_of(as_str(&k[0]).unwrap_or("")) == DisappearPolicy::Ignore)
        .filter_map(|(_, v)| as_str(&v[0]))
        .collect();
    let mut source_changes: Vec<SourceDelta> = pipeline
        .sources
        .iter()
        .map(|s| SourceDelta {
            source: s.name.clone(),
            on_disappear: policy_name(s.on_disappear),
            ..SourceDelta::default()
        })
        .collect();
    for r in &res.records {
        let d = &mut source_changes[r.source as usize];
        match lookup(&xref, &[source_name(r.source), &r.key]) {
            None => d.new += 1,
            Some(v) if as_str(&v[3]) == Some(format!("{:016x}", r.hash).as_str()) => {
                d.unchanged += 1
            }
            Some(_) => d.changed += 1,
        }
    }
    for (k, v) in &disappeared {
        if v[5] == Sql::Null
            && let Some(i) = pipeline.source_index(as_str(&k[0]).unwrap_or(""))
        {
            source_changes[i].disappeared += 1;
        }
    }

    // Existing active customers that no cluster kept: merged into the cluster that holds
    // most of their records, or retired when none of their records is left.
    let mut orphans: BTreeMap<String, BTreeMap<usize, usize>> = BTreeMap::new();
    for (key, v) in &xref {
        if let Some(id) = as_str(&v[0])
            && !taken.contains_key(id)
        {
            orphans.entry(id.to_string()).or_default();
            let _ = key;
        }
    }
    for (i, _) in res.records.iter().enumerate() {
        if let Some(id) = existing_id(i)
            && let Some(m) = orphans.get_mut(id)
        {
            *m.entry(record_cluster[i]).or_default() += 1;
        }
    }
    for (id, clusters) in orphans {
        let Some(old) = customers.get(&vec![text(id.clone())]) else {
            continue;
        };
        if clusters.is_empty() && ignored_ids.contains(id.as_str()) {
            // Its records disappeared from a source whose policy is `ignore`: it stays.
            counts.unchanged += 1;
            continue;
        }
        if as_str(&old[0]) != Some("active") {
            continue;
        }
        let target = clusters
            .iter()
            .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
            .map(|(ci, _)| cluster_ids[*ci].clone());
        let mut row = old.clone();
        row.insert(0, text(id.clone()));
        let was = row.clone();
        let n = row.len();
        row[n - 1] = Sql::Int(run_id);
        match target {
            Some(into) => {
                counts.merged += 1;
                row[1] = text("merged");
                row[2] = text(into.clone());
                events.push(AuditEvent {
                    customer_id: Some(id.clone()),
                    event: "merge",
                    field: None,
                    before: Some(id.clone()),
                    after: Some(into),
                    detail: None,
                });
            }
            None => {
                counts.retired += 1;
                row[1] = text("retired");
                events.push(AuditEvent {
                    customer_id: Some(id.clone()),
                    event: "retire",
                    field: None,
                    before: None,
                    after: None,
                    detail: Some("none of its source records is in the sources any more".into()),
                });
            }
        }
        cust.update(row, was);
    }

    let rows = RowMaker::new(pipeline, res, &cluster_ids, &pinned, run_id);
    // Attach events for records that move between customers.
    for (i, r) in res.records.iter().enumerate() {
        let id = &cluster_ids[record_cluster[i]];
        let old = existing_id(i);
        if conn.is_some() && old != Some(id.as_str()) {
            // A record new to the store, or moved between customers. New customers'
            // records are covered by their create event.
            let created_now = lookup(&customers, &[id]).is_none();
            if !created_now || old.is_some() {
                events.push(AuditEvent {
                    customer_id: Some(id.clone()),
                    event: "attach",
                    field: None,
                    before: old.map(str::to_string),
                    after: Some(id.clone()),
                    detail: Some(format!("{} record {}", source_name(r.source), r.key)),
                });
            }
        }
    }
    let mut desired_xref = Vec::new();
    for &(key, v) in &disappeared {
        let source = as_str(&key[0]).unwrap_or("");
        let detail = format!(
            "{source} record {} is no longer in its source",
            as_str(&key[1]).unwrap_or("")
        );
        // The row as the store holds it, record_json included.
        let row = || -> Result<Vec<Sql>> {
            let mut row: Vec<Sql> = key.iter().chain(v).cloned().collect();
            if let Some(c) = conn {
                let keys = if store::has_column(c, "customer_sources", "block_keys").map_err(db)? {
                    "block_keys"
                } else {
                    "NULL"
                };
                (row[6], row[8]) = c
                    .query_row(
                        &format!("SELECT record_json, {keys} FROM customer_sources WHERE source = ?1 AND source_key = ?2"),
                        params_from_iter(key.iter()),
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .map_err(db)?;
            }
            Ok(row)
        };
        match policy_of(source) {
            DisappearPolicy::Ignore => desired_xref.push(row()?),
            DisappearPolicy::MarkDeleted => {
                let mut row = row()?;
                if row[7] == Sql::Null {
                    row[7] = Sql::Int(run_id);
                    events.push(AuditEvent {
                        customer_id: as_str(&v[0]).map(str::to_string),
                        event: "mark_deleted",
                        field: None,
                        before: None,
                        after: None,
                        detail: Some(detail),
                    });
                }
                desired_xref.push(row);
            }
            DisappearPolicy::Detach => events.push(AuditEvent {
                customer_id: as_str(&v[0]).map(str::to_string),
                event: "detach",
                field: None,
                before: as_str(&v[0]).map(str::to_string),
                after: None,
                detail: Some(detail),
            }),
        }
    }
    // The other tables: listed and compared with the store's rows, or, for a table still
    // empty (a first load), only counted here and made chunk by chunk while `apply`
    // writes them, so that they are never all in memory at once.
    let mut extra = |kind| match kind {
        TableKind::Sources => std::mem::take(&mut desired_xref),
        _ => Vec::new(),
    };
    let derived: Vec<TableDelta> = match conn {
        Some(_) if locked => std::thread::scope(|s| {
            let rows = &rows;
            let comparing: Vec<_> = TableKind::ALL
                .into_iter()
                .map(|kind| {
                    let extra = extra(kind);
                    s.spawn(move || {
                        let own = store::open_existing(&pipeline.store_path)?;
                        rows.delta(Some(&own), kind, extra, scope)
                    })
                })
                .collect();
            comparing
                .into_iter()
                .map(|c| c.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                .collect::<Result<_>>()
        })?,
        _ => TableKind::ALL
            .into_iter()
            .map(|kind| rows.delta(conn, kind, extra(kind), scope))
            .collect::<Result<_>>()?,
    };
    // An incremental sync read every row's hash, and left the other customers as they are.
    if let Some(d) = &res.incremental {
        source_changes = d.source_changes.clone();
        counts.unchanged += d.customers_untouched;
    }

    Ok(LoadPlan {
        run_id,
        cluster_ids,
        counts,
        events,
        // Parents before children: customers first.
        deltas: std::iter::once(cust).chain(derived).collect(),
        pinned,
        next_customer_number: next_number,
        overwrites,
        source_changes,
        conflicts,
    })
}

/// The cluster index of each record.
fn record_clusters(res: &Resolution) -> Vec<usize> {
    let mut record_cluster = vec![0usize; res.records.len()];
    for (ci, members) in res.clusters.iter().enumerate() {
        for &m in members {
            record_cluster[m as usize] = ci;
        }
    }
    record_cluster
}

/// The tables whose rows are made from the resolution, parents first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableKind {
    /// Only ever made (for a table still empty), never listed: the plan compares
    /// customers itself.
    Customers,
    Sources,
    Lineage,
    Links,
    Quarantine,
    Issues,
}

impl TableKind {
    const ALL: [TableKind; 5] = [
        TableKind::Sources,
        TableKind::Lineage,
        TableKind::Links,
        TableKind::Quarantine,
        TableKind::Issues,
    ];

    fn table(self) -> &'static str {
        match self {
            TableKind::Customers => "customers",
            TableKind::Sources => "customer_sources",
            TableKind::Lineage => "field_lineage",
            TableKind::Links => "match_links",
            TableKind::Quarantine => "quarantine",
            TableKind::Issues => "record_issues",
        }
    }

    /// The columns, primary key first, and the primary key's width.
    fn cols(self) -> (&'static [&'static str], usize) {
        match self {
            TableKind::Customers => (CUSTOMER_COLS.as_slice(), 1),
            TableKind::Sources => (&XREF_COLS, 2),
            TableKind::Lineage => (
                &[
                    "customer_id",
                    "field",
                    "value",
                    "source",
                    "source_key",
                    "rule",
                ],
                2,
            ),
            TableKind::Links => (
                &[
                    "source_a",
                    "key_a",
                    "source_b",
                    "key_b",
                    "customer_id",
                    "weight",
                    "probability",
                    "evidence",
                ],
                4,
            ),
            TableKind::Quarantine => (
                &["source", "line", "source_key", "reason", "detail", "raw"],
                2,
            ),
            TableKind::Issues => (&["source", "source_key", "field", "code"], 4),
        }
    }
}

/// The golden values the sources last supplied, by customer (`field_lineage`'s values):
/// at 1M records 6.3M rows, held a customer at a time rather than a row at a time.
type Supplied = crate::hash::KeyMap<Box<str>, SuppliedValues>;

/// One customer's [`Supplied`] values.
type SuppliedValues = Vec<(GoldenField, Sql)>;

/// Read [`Supplied`] (of the customers `filter` selects, or all).
fn read_supplied(conn: &Connection, filter: Option<(&str, &str)>) -> rusqlite::Result<Supplied> {
    let mut out = Supplied::default();
    // Rows come in key order, a customer's together: one look-up per customer.
    let mut current: Option<(Box<str>, SuppliedValues)> = None;
    let cols = ["customer_id", "field", "value"];
    store::scan_where(conn, "field_lineage", &cols, filter, |row| {
        // (Read as a `Cell` would be: invalid UTF-8 replaced.)
        let id = String::from_utf8_lossy(row.get_ref(0)?.as_bytes()?);
        // (A field that is not a golden column is never looked up.)
        let field = String::from_utf8_lossy(row.get_ref(1)?.as_bytes()?);
        let Some(field) = GoldenField::from_name(&field) else {
            return Ok(());
        };
        let value: Sql = row.get(2)?;
        match &mut current {
            Some((cur, values)) if **cur == *id => values.push((field, value)),
            _ => {
                if let Some((cur, values)) = current.take() {
                    out.entry(cur).or_default().extend(values);
                }
                current = Some((id.into(), vec![(field, value)]));
            }
        }
        Ok(())
    })?;
    if let Some((cur, values)) = current {
        out.entry(cur).or_default().extend(values);
    }
    Ok(out)
}

/// Makes the rows of the [`TableKind`] tables from a resolution, for any range of the
/// items a table's rows come from (records, clusters, scored pairs or quarantined rows).
pub struct RowMaker<'a> {
    pipeline: &'a Pipeline,
    res: &'a Resolution,
    cluster_ids: &'a [String],
    pinned: &'a HashMap<String, Vec<overrides::Pin>>,
    /// The run the rows are written by.
    run_id: i64,
    record_cluster: Vec<usize>,
    /// The best link probability of each record (NaN: not linked).
    best_score: Vec<f64>,
    rules: Vec<crate::block::BlockingRule>,
}

impl<'a> RowMaker<'a> {
    pub fn new(
        pipeline: &'a Pipeline,
        res: &'a Resolution,
        cluster_ids: &'a [String],
        pinned: &'a HashMap<String, Vec<overrides::Pin>>,
        run_id: i64,
    ) -> RowMaker<'a> {
        let mut best_score = vec![f64::NAN; res.records.len()];
        for p in res.links() {
            for r in [p.pair.a, p.pair.b] {
                let s = &mut best_score[r as usize];
                if s.is_nan() || p.probability > *s {
                    *s = p.probability;
                }
            }
        }
        RowMaker {
            pipeline,
            res,
            cluster_ids,
            pinned,
            run_id,
            record_cluster: record_clusters(res),
            best_score,
            rules: crate::block::default_rules(),
        }
    }

    fn source_name(&self, i: u16) -> &'a str {
        self.pipeline.sources[i as usize].name.as_str()
    }

    /// How many items a table's rows come from.
    fn items(&self, kind: TableKind) -> usize {
        match kind {
            TableKind::Sources | TableKind::Issues => self.res.records.len(),
            TableKind::Customers | TableKind::Lineage => self.res.profiles.len(),
            TableKind::Links => self.res.scored.len(),
            TableKind::Quarantine => self.res.quarantined.len(),
        }
    }

    /// How many rows a table gets, without making them.
    fn count(&self, kind: TableKind) -> usize {
        let res = self.res;
        match kind {
            TableKind::Customers => res.profiles.len(),
            TableKind::Sources => res.records.len(),
            TableKind::Issues => res.records.iter().map(|r| r.issues.len()).sum(),
            TableKind::Quarantine => res.quarantined.len(),
            TableKind::Links => res.scored.par_iter().filter(|p| self.kept(p)).count(),
            TableKind::Lineage => (0..res.profiles.len())
                .into_par_iter()
                .map(|ci| self.lineage_fields(ci).count())
                .sum(),
        }
    }

    /// A link inside a final cluster.
    fn kept(&self, p: &score::ScoredPair) -> bool {
        p.linked(&self.res.model)
            && self.record_cluster[p.pair.a as usize] == self.record_cluster[p.pair.b as usize]
    }

    /// The golden fields of cluster `ci` that have lineage, with their pin if pinned (of
    /// a field pinned more than once the latest, whose value the customer gets); by
    /// name, the order of `field_lineage`'s key.
    fn lineage_fields(
        &self,
        ci: usize,
    ) -> impl Iterator<Item = (GoldenField, Option<&'a overrides::Pin>)> + '_ {
        static BY_NAME: std::sync::LazyLock<Vec<GoldenField>> = std::sync::LazyLock::new(|| {
            let mut all = GoldenField::ALL.to_vec();
            all.sort_by_key(|f| f.name());
            all
        });
        let pins = self.pinned.get(self.cluster_ids[ci].as_str());
        let profile = &self.res.profiles[ci];
        BY_NAME.iter().copied().filter_map(move |f| {
            let pin = latest_pin(pins, f);
            (pin.is_some() || profile.lineage[f.index()].is_some()).then_some((f, pin))
        })
    }

    /// The rows made from items `range`, unsorted, in item order; made on every core.
    fn make(&self, kind: TableKind, range: std::ops::Range<usize>) -> Result<RowBatch> {
        const PIECE: usize = 1024;
        let width = kind.cols().0.len();
        let pieces = range
            .clone()
            .step_by(PIECE)
            .collect::<Vec<_>>()
            .into_par_iter()
            .map(|start| {
                let mut b = RowBatch::new(width);
                for i in start..(start + PIECE).min(range.end) {
                    self.push_rows(kind, i, &mut b)?;
                }
                Ok(b)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(RowBatch::concat(width, pieces))
    }

    /// Add the rows made from item `i` (a record, cluster, scored pair or quarantined row)
    /// to `b`.
    fn push_rows(&self, kind: TableKind, i: usize, b: &mut RowBatch) -> Result<()> {
        let res = self.res;
        let json = |e: serde_json::Error| Error::Other(e.to_string());
        match kind {
            // `new_customer(id, golden_cells(..))`, written without a cell of its own.
            TableKind::Customers => {
                let id = &self.cluster_ids[i];
                let pins = self.pinned.get(id.as_str());
                let profile = &res.profiles[i];
                b.text(id);
                b.text("active");
                b.null();
                for f in GoldenField::ALL {
                    match latest_pin(pins, f) {
                        Some(p) => b.text(&p.value),
                        None => b.opt_text(profile.get(f, &res.records)),
                    }
                }
                b.int(self.run_id);
                b.int(self.run_id);
            }
            TableKind::Sources => {
                let r = &res.records[i];
                let s = self.best_score[i];
                let keys =
                    crate::block::record_keys(&score::MatchRecord::from_customer(r), &self.rules);
                b.text(self.source_name(r.source));
                b.text(&r.key);
                b.text(&self.cluster_ids[self.record_cluster[i]]);
                if s.is_nan() {
                    b.null()
                } else {
                    b.real(s)
                }
                b.int(r.line as i64);
                b.fmt(format_args!("{:016x}", r.hash));
                b.text_with(|buf| r.write_json(buf));
                b.null();
                b.text(&crate::block::encode_keys(&keys));
            }
            // A pinned field's value comes from its pin, the others from survivorship.
            TableKind::Lineage => {
                let id = &self.cluster_ids[i];
                let profile = &res.profiles[i];
                for (f, pin) in self.lineage_fields(i) {
                    match (pin, &profile.lineage[f.index()]) {
                        (Some(p), _) => {
                            b.text(id);
                            b.text(f.name());
                            b.text(&p.value);
                            b.text(PIN_SOURCE);
                            b.fmt(format_args!("override {}", p.override_id));
                            b.text("pin");
                        }
                        (None, Some(l)) => {
                            let Some(value) = profile.get(f, &res.records) else {
                                continue;
                            };
                            let r = &res.records[l.record as usize];
                            b.text(id);
                            b.text(f.name());
                            b.text(value);
                            b.text(self.source_name(r.source));
                            b.text(&r.key);
                            b.text(l.rule.name());
                        }
                        _ => {}
                    }
                }
            }
            // Links inside the final clusters, with their evidence.
            TableKind::Links => {
                let p = &res.scored[i];
                if !self.kept(p) {
                    return Ok(());
                }
                let (a, c) = (
                    &res.records[p.pair.a as usize],
                    &res.records[p.pair.b as usize],
                );
                b.text(self.source_name(a.source));
                b.text(&a.key);
                b.text(self.source_name(c.source));
                b.text(&c.key);
                b.text(&self.cluster_ids[self.record_cluster[p.pair.a as usize]]);
                b.real(p.weight);
                b.real(p.probability);
                b.json(&score::evidence(&res.model, &res.tf, p))
                    .map_err(json)?;
            }
            TableKind::Quarantine => {
                let q = &res.quarantined[i];
                b.text(self.source_name(q.source));
                b.int(q.line as i64);
                b.opt_text(q.key.as_deref());
                b.text(q.reason.code());
                b.text(&q.detail);
                b.text(&q.raw);
            }
            TableKind::Issues => {
                let r = &res.records[i];
                for issue in &r.issues {
                    b.text(self.source_name(r.source));
                    b.text(&r.key);
                    b.text(issue.field.name());
                    b.text(issue.code);
                }
            }
        }
        Ok(())
    }

    /// The delta of one table: `extra` rows besides those made from the resolution (the
    /// rows a source no longer has but its policy keeps).
    fn delta(
        &self,
        conn: Option<&Connection>,
        kind: TableKind,
        extra: Vec<Vec<Sql>>,
        scope: Option<&Scope>,
    ) -> Result<TableDelta> {
        let (cols, pk) = kind.cols();
        let db = |e: rusqlite::Error| Error::store(&self.pipeline.store_path, e);
        let empty = match conn {
            Some(c) => store::is_empty(c, kind.table()).map_err(db)?,
            None => true,
        };
        if empty && extra.is_empty() {
            return Ok(TableDelta {
                table: kind.table(),
                cols: cols.to_vec(),
                pk,
                made: Some((kind, self.count(kind))),
                ..TableDelta::default()
            });
        }
        let mut desired = self.make(kind, 0..self.items(kind))?;
        for row in &extra {
            row.iter().for_each(|c| desired.cell(c));
        }
        // Scoped: only the rows of the re-resolved customers (quarantine is always whole:
        // every row of every source is read on every run).
        let filter = scope.and_then(|s| match kind {
            TableKind::Customers | TableKind::Sources | TableKind::Lineage | TableKind::Links => {
                Some(s.customers_sql())
            }
            TableKind::Issues => Some(s.issues_sql()),
            TableKind::Quarantine => None,
        });
        // The unchanged records read back from the store carry no issues: keep to the rows
        // whose issues were made this time.
        let issue_rows: Option<crate::hash::KeySet<(&str, &str)>> = match (scope, kind) {
            (Some(s), TableKind::Issues) => Some(
                s.issue_rows
                    .iter()
                    .map(|(a, b)| (a.as_str(), b.as_str()))
                    .collect(),
            ),
            _ => None,
        };
        let text_at = |i: usize, c: usize| match desired.row(i).nth(c) {
            Some(rusqlite::types::ValueRef::Text(t)) => std::str::from_utf8(t).unwrap_or(""),
            _ => "",
        };
        let keep = |i: usize| {
            issue_rows
                .as_ref()
                .is_none_or(|rows| rows.contains(&(text_at(i, 0), text_at(i, 1))))
        };
        let filter = filter.as_ref().map(|(w, p)| (w.as_str(), p.as_str()));
        // Deterministic write order, and b-trees filled in key order.
        let mut order = desired.key_order(pk);
        order.retain(|&i| keep(i));
        let table = kind.table();
        diff_table(
            conn,
            self.pipeline,
            table,
            cols,
            pk,
            (&desired, order),
            filter,
        )
    }
}

/// Bytes of old rows a table's delta keeps for the undo log ([`TableDelta::updated_from`]):
/// a sync's every row, not a whole store's.
const BEFORE_BUDGET: usize = 256 << 20;

/// Compare desired rows (primary key first; the rows of the batch in `order`, which is by
/// key with no key twice) with the table's rows. The desired rows stay in their batch:
/// only those that go into the delta are copied out.
fn diff_table(
    conn: Option<&Connection>,
    pipeline: &Pipeline,
    table: &'static str,
    cols: &[&'static str],
    pk: usize,
    (desired, order): (&RowBatch, Vec<usize>),
    filter: Option<(&str, &str)>,
) -> Result<TableDelta> {
    let db = |e: rusqlite::Error| Error::store(&pipeline.store_path, e);
    let mut delta = TableDelta {
        table,
        cols: cols.to_vec(),
        pk,
        ..TableDelta::default()
    };
    let conn = match conn {
        Some(c) if !store::is_empty(c, table).map_err(db)? => c,
        _ => {
            delta.inserts = order.iter().map(|&i| desired.cells(i)).collect();
            return Ok(delta);
        }
    };
    // A merge of two sorted streams: the table's rows in primary-key order (SQLite orders
    // TEXT by its bytes and INTEGER by value, as `Cell` does) against the desired rows.
    // The table is never held in memory. (Were the orders ever to disagree, a row would be
    // deleted and inserted again instead of kept: the store ends the same.)
    // A column that a store written by an older crmfuse lacks reads as NULL (a dry run
    // cannot add it; the next real run does).
    let mut select = Vec::with_capacity(cols.len());
    for c in cols {
        select.push(if store::has_column(conn, table, c).map_err(db)? {
            *c
        } else {
            "NULL"
        });
    }
    let sql = format!(
        "SELECT {} FROM {table} {} ORDER BY {}",
        select.join(", "),
        filter.map_or(String::new(), |(w, _)| format!("WHERE {w}")),
        cols[..pk].join(", ")
    );
    let mut stmt = conn.prepare(&sql).map_err(db)?;
    let mut rows = match filter {
        Some((_, param)) => stmt.query([param]),
        None => stmt.query([]),
    }
    .map_err(db)?;
    // Old rows are compared where SQLite holds them; only those that go into the delta
    // (updated or deleted: the undo log keeps them) are copied out.
    let key_cmp = |o: &rusqlite::Row<'_>, row: usize| -> Result<std::cmp::Ordering> {
        for (i, c) in desired.row(row).take(pk).enumerate() {
            let ord = store::cmp_value_stored(c, o.get_ref(i).map_err(db)?).reverse();
            if ord.is_ne() {
                return Ok(ord);
            }
        }
        Ok(std::cmp::Ordering::Equal)
    };
    let same_rest = |o: &rusqlite::Row<'_>, row: usize| -> Result<bool> {
        for (i, c) in desired.row(row).enumerate().skip(pk) {
            if store::cmp_value_stored(c, o.get_ref(i).map_err(db)?).is_ne() {
                return Ok(false);
            }
        }
        Ok(true)
    };
    let copy = |o: &rusqlite::Row<'_>| -> Result<Vec<Sql>> {
        (0..cols.len())
            .map(|i| o.get::<_, Sql>(i).map_err(db))
            .collect()
    };
    let mut old = rows.next().map_err(db)?;
    for row in order {
        while let Some(o) = old {
            if key_cmp(o, row)?.is_ge() {
                break;
            }
            delta.delete(copy(o)?);
            old = rows.next().map_err(db)?;
        }
        match old {
            Some(o) if key_cmp(o, row)?.is_eq() => {
                if !same_rest(o, row)? {
                    delta.update(desired.cells(row), copy(o)?);
                }
                old = rows.next().map_err(db)?;
            }
            _ => delta.inserts.push(desired.cells(row)),
        }
    }
    while let Some(o) = old {
        delta.delete(copy(o)?);
        old = rows.next().map_err(db)?;
    }
    Ok(delta)
}

/// What a run records in `runs`.
#[derive(Debug, Clone)]
pub struct RunRecord {
    pub started_at: String,
    pub finished_at: String,
    pub command: String,
    pub rows_read: u64,
    pub records_loaded: u64,
    pub rows_quarantined: u64,
    pub links: u64,
    pub summary_json: String,
    /// The match model the run scored with.
    pub model_json: String,
}

fn insert_run(
    tx: &Connection,
    pipeline: &Pipeline,
    run_id: i64,
    counts: &CustomerCounts,
    changes: usize,
    run: &RunRecord,
) -> Result<()> {
    tx.execute(
        "INSERT INTO runs (run_id, started_at, finished_at, command, config_path, config_hash, tool_version,
            rows_read, records_loaded, rows_quarantined, customers_created, customers_updated,
            customers_merged, customers_retired, links, changes, summary_json, model_json)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
        rusqlite::params![
            run_id,
            run.started_at,
            run.finished_at,
            run.command,
            pipeline.config_path.display().to_string(),
            pipeline.config_hash,
            env!("CARGO_PKG_VERSION"),
            run.rows_read as i64,
            run.records_loaded as i64,
            run.rows_quarantined as i64,
            counts.created as i64,
            counts.updated as i64,
            counts.merged as i64,
            counts.retired as i64,
            run.links as i64,
            changes as i64,
            run.summary_json,
            run.model_json,
        ],
    )
    .map_err(|e| Error::store(&pipeline.store_path, e))?;
    Ok(())
}

impl LoadPlan {
    /// The rows `apply` writes: table changes and audit events.
    pub fn rows_to_write(&self) -> usize {
        self.deltas.iter().map(TableDelta::changes).sum::<usize>() + self.events.len()
    }
}

/// Apply a plan inside the caller's transaction; `progress` hears of the rows written.
pub fn apply(
    tx: &Connection,
    pipeline: &Pipeline,
    plan: &LoadPlan,
    res: &Resolution,
    run: &RunRecord,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<()> {
    let db = |e: rusqlite::Error| Error::store(&pipeline.store_path, e);
    const STEP: usize = 4096;
    insert_run(
        tx,
        pipeline,
        plan.run_id,
        &plan.counts,
        plan.events.len(),
        run,
    )?;
    let mut undo = UndoLog::new(tx, pipeline, plan.run_id);
    // A table empty before this run is undone by emptying it again: one undo row instead
    // of one per inserted row (a first load writes millions).
    let mut cleared = Vec::new();
    for d in &plan.deltas {
        if d.changes() > 0 && store::is_empty(tx, d.table).map_err(db)? {
            undo.clear(d.table)?;
            cleared.push(d.table);
        }
    }
    // Children are deleted before parents change; upserts go parents first.
    for d in plan.deltas.iter().rev() {
        if d.deletes.is_empty() {
            continue;
        }
        let cond: Vec<String> = d.cols[..d.pk]
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c} = ?{}", i + 1))
            .collect();
        let sql = format!("DELETE FROM {} WHERE {}", d.table, cond.join(" AND "));
        let mut stmt = tx.prepare_cached(&sql).map_err(db)?;
        let whole = undo.covers(d.table, &d.cols)?;
        for (i, key) in d.deletes.iter().enumerate() {
            match d.deleted_from.get(i).filter(|_| whole) {
                Some(old) => undo.known(d.table, &d.cols, d.pk, old, "delete")?,
                None => undo.before(d.table, &d.cols[..d.pk], key, None)?,
            }
            stmt.execute(params_from_iter(key.iter())).map_err(db)?;
        }
        progress(d.deletes.len() as u64);
    }
    for d in &plan.deltas {
        if d.inserted() == 0 && d.updates.is_empty() {
            continue;
        }
        let placeholders: Vec<String> = (1..=d.cols.len()).map(|i| format!("?{i}")).collect();
        let set: Vec<String> = d.cols[d.pk..]
            .iter()
            .map(|c| format!("{c} = excluded.{c}"))
            .collect();
        let sql = if set.is_empty() {
            format!(
                "INSERT OR IGNORE INTO {} ({}) VALUES ({})",
                d.table,
                d.cols.join(", "),
                placeholders.join(", ")
            )
        } else {
            format!(
                "INSERT INTO {} ({}) VALUES ({}) ON CONFLICT ({}) DO UPDATE SET {}",
                d.table,
                d.cols.join(", "),
                placeholders.join(", "),
                d.cols[..d.pk].join(", "),
                set.join(", ")
            )
        };
        let mut stmt = tx.prepare_cached(&sql).map_err(db)?;
        if let Some((kind, _)) = d.made {
            // Secondary indexes of an empty table are built after its rows are in, in one
            // sort, instead of row by row in random order (which, once an index outgrows
            // the page cache, makes every insert a random page write).
            let indexes = store::secondary_indexes(tx, d.table).map_err(db)?;
            for (name, _) in &indexes {
                tx.execute_batch(&format!("DROP INDEX {name}"))
                    .map_err(db)?;
            }
            let maker = RowMaker::new(pipeline, res, &plan.cluster_ids, &plan.pinned, plan.run_id);
            write_made(&maker, kind, tx, d, pipeline, progress)?;
            for (_, sql) in &indexes {
                tx.execute_batch(sql).map_err(db)?;
            }
        }
        let logged = !cleared.contains(&d.table);
        // The plan's inserts are rows that the store (in this transaction) does not hold.
        for rows in d.inserts.chunks(STEP) {
            for row in rows {
                if logged {
                    undo.before(d.table, &d.cols[..d.pk], &row[..d.pk], Some(false))?;
                }
                stmt.execute(params_from_iter(row.iter())).map_err(db)?;
            }
            progress(rows.len() as u64);
        }
        let whole = logged && undo.covers(d.table, &d.cols)?;
        // An update whose old row the plan kept sets only the columns that change, and
        // logs only their old values: a column rewritten with its own value still dirties
        // the pages of every index on it (a sync's updates mostly keep the customer id,
        // which `customer_sources` and `match_links` index).
        let mut by_change = ChangedColumns::new(tx, d);
        for (n, rows) in d.updates.chunks(STEP).enumerate() {
            for (i, row) in rows.iter().enumerate() {
                let old = d.updated_from.get(n * STEP + i).filter(|_| whole);
                match old {
                    Some(old) => {
                        let changed: Vec<usize> =
                            (d.pk..d.cols.len()).filter(|&c| old[c] != row[c]).collect();
                        if changed.is_empty() {
                            continue;
                        }
                        undo.changed(d.table, &d.cols, d.pk, old, &changed)?;
                        by_change.update(row, &changed).map_err(db)?;
                    }
                    None => {
                        if logged {
                            undo.before(d.table, &d.cols[..d.pk], &row[..d.pk], Some(true))?;
                        }
                        stmt.execute(params_from_iter(row.iter())).map_err(db)?;
                    }
                }
            }
            progress(rows.len() as u64);
        }
    }
    // Many to a statement, bound in place: a first load writes one event per customer.
    let mut ins = crate::bulk::MultiInsert::new(
        tx,
        "audit_events",
        &[
            "run_id",
            "customer_id",
            "event",
            "field",
            "before",
            "after",
            "detail",
        ],
    )
    .map_err(db)?;
    fn opt(s: Option<&str>) -> ValueRef<'_> {
        s.map_or(ValueRef::Null, |s| ValueRef::Text(s.as_bytes()))
    }
    for events in plan.events.chunks(STEP) {
        let inserted = ins
            .insert(events, |e| {
                [
                    ValueRef::Integer(plan.run_id),
                    opt(e.customer_id.as_deref()),
                    ValueRef::Text(e.event.as_bytes()),
                    opt(e.field),
                    opt(e.before.as_deref()),
                    opt(e.after.as_deref()),
                    opt(e.detail.as_deref()),
                ]
            })
            .map_err(db)?;
        if inserted != events.len() {
            return Err(not_inserted(
                "audit_events",
                events.len() - inserted,
                pipeline,
            ));
        }
        progress(events.len() as u64);
    }
    drop(ins);
    if let Some(counts) = &res.term_counts {
        write_term_counts(tx, pipeline, plan.run_id, counts)?;
    }
    let version = crate::block::keys_version(&crate::block::default_rules());
    if store::meta_get(tx, BLOCK_KEYS_VERSION)
        .map_err(db)?
        .as_deref()
        != Some(&version)
    {
        undo.before("meta", &["key"], &[text(BLOCK_KEYS_VERSION)], None)?;
        tx.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [BLOCK_KEYS_VERSION, &version],
        )
        .map_err(db)?;
    }
    undo.before("meta", &["key"], &[text("next_customer_number")], None)?;
    tx.execute(
        "INSERT INTO meta (key, value) VALUES ('next_customer_number', ?1)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [plan.next_customer_number.to_string()],
    )
    .map_err(db)?;
    Ok(())
}

/// `meta` key: how `customer_sources.block_keys` were made ([`crate::block::keys_version`]).
pub const BLOCK_KEYS_VERSION: &str = "block_keys_version";

/// The `term_counts` field that holds how many records were counted.
pub const TERM_COUNTS_RECORDS: &str = "*records";

/// Store a run's name counts (rollback deletes them with the run).
fn write_term_counts(
    tx: &Connection,
    pipeline: &Pipeline,
    run_id: i64,
    counts: &score::TermCounts,
) -> Result<()> {
    let db = |e: rusqlite::Error| Error::store(&pipeline.store_path, e);
    let mut stmt = tx
        .prepare_cached(
            "INSERT INTO term_counts (run_id, field, value, count) VALUES (?1, ?2, ?3, ?4)",
        )
        .map_err(db)?;
    stmt.execute(rusqlite::params![
        run_id,
        TERM_COUNTS_RECORDS,
        "",
        counts.records as i64
    ])
    .map_err(db)?;
    for (field, map) in [
        ("given_name", &counts.given),
        ("family_name", &counts.family),
    ] {
        let mut sorted: Vec<(&String, &u32)> = map.iter().collect();
        sorted.sort_unstable();
        for (value, n) in sorted {
            stmt.execute(rusqlite::params![run_id, field, value, *n as i64])
                .map_err(db)?;
        }
    }
    Ok(())
}

/// The name counts of the latest run that stored them, with that run's id.
pub fn read_term_counts(
    conn: &Connection,
    store_path: &std::path::Path,
) -> Result<Option<(i64, score::TermCounts)>> {
    let db = |e: rusqlite::Error| Error::store(store_path, e);
    // A store written by an older crmfuse has no such table until its next real run.
    if !store::has_table(conn, "term_counts").map_err(db)? {
        return Ok(None);
    }
    let run: Option<i64> = conn
        .query_row("SELECT max(run_id) FROM term_counts", [], |r| r.get(0))
        .map_err(db)?;
    let Some(run) = run else {
        return Ok(None);
    };
    let mut counts = score::TermCounts::default();
    let mut stmt = conn
        .prepare("SELECT field, value, count FROM term_counts WHERE run_id = ?1")
        .map_err(db)?;
    let mut rows = stmt.query([run]).map_err(db)?;
    while let Some(r) = rows.next().map_err(db)? {
        let field: String = r.get(0).map_err(db)?;
        let n: i64 = r.get(2).map_err(db)?;
        match field.as_str() {
            TERM_COUNTS_RECORDS => counts.records = n as u64,
            "given_name" => {
                counts.given.insert(r.get(1).map_err(db)?, n as u32);
            }
            "family_name" => {
                counts.family.insert(r.get(1).map_err(db)?, n as u32);
            }
            _ => {}
        }
    }
    Ok(Some((run, counts)))
}

/// Insert the rows of a table still empty, made chunk by chunk from the resolution (on
/// every core) while this thread writes the previous chunk: the rows are never all in
/// memory, and making them (JSON of records and evidence) overlaps with SQLite's work. A
/// chunk goes in in key order, and of a key given twice in it only its first row; a key
/// given in two chunks is an error.
fn write_made(
    maker: &RowMaker,
    kind: TableKind,
    tx: &Connection,
    d: &TableDelta,
    pipeline: &Pipeline,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<()> {
    const CHUNK: usize = 16_384;
    let db = |e: rusqlite::Error| Error::store(&pipeline.store_path, e);
    let items = maker.items(kind);
    let (_, pk) = kind.cols();
    let mut ins = crate::bulk::MultiInsert::new(tx, d.table, &d.cols).map_err(db)?;
    std::thread::scope(|s| {
        let (send, receive) = std::sync::mpsc::sync_channel::<Result<(RowBatch, Vec<usize>)>>(1);
        s.spawn(move || {
            for start in (0..items).step_by(CHUNK) {
                let rows = maker
                    .make(kind, start..(start + CHUNK).min(items))
                    .map(|rows| {
                        let order = rows.key_order(pk);
                        (rows, order)
                    });
                let failed = rows.is_err();
                // The writer stopped (an error): stop making rows.
                if send.send(rows).is_err() || failed {
                    break;
                }
            }
        });
        for rows in receive {
            let (rows, order) = rows?;
            let inserted = ins.insert(&order, |&i| rows.row(i)).map_err(db)?;
            if inserted != order.len() {
                return Err(not_inserted(d.table, order.len() - inserted, pipeline));
            }
            progress(order.len() as u64);
        }
        Ok(())
    })
}

/// The error of rows that SQLite left out of a first load ([`crate::bulk::MultiInsert`]).
fn not_inserted(table: &str, missing: usize, pipeline: &Pipeline) -> Error {
    Error::store(
        &pipeline.store_path,
        format!(
            "{missing} row(s) for {table} were not inserted (a key given twice, or a \
             required value missing); nothing was written"
        ),
    )
}

/// The `runs` row of a steward's action (an override or a revoke): a run of its own, so
/// that `history` lists it and `rollback` can undo it.
fn insert_steward_run(
    tx: &Connection,
    pipeline: &Pipeline,
    run_id: i64,
    command: &str,
    summary_json: String,
    at: &str,
) -> Result<()> {
    insert_run(
        tx,
        pipeline,
        run_id,
        &CustomerCounts::default(),
        1,
        &RunRecord {
            started_at: at.to_string(),
            finished_at: at.to_string(),
            command: command.to_string(),
            rows_read: 0,
            records_loaded: 0,
            rows_quarantined: 0,
            links: 0,
            summary_json,
            model_json: "null".into(),
        },
    )
}

/// Record a steward's override inside the caller's transaction, as a run of its own (so
/// that `history` lists it and `rollback` can undo it), with an audit event. Returns the
/// run id and the override id.
pub fn record_override(
    tx: &Connection,
    pipeline: &Pipeline,
    directive: &Directive,
    who: &str,
    why: &str,
    at: &str,
) -> Result<(i64, i64)> {
    let db = |e: rusqlite::Error| Error::store(&pipeline.store_path, e);
    let next = |sql: &str| -> Result<i64> { tx.query_row(sql, [], |r| r.get(0)).map_err(db) };
    let run_id = next("SELECT coalesce(max(run_id), 0) + 1 FROM runs")?;
    let override_id = next("SELECT coalesce(max(override_id), 0) + 1 FROM overrides")?;
    let args = serde_json::to_string(directive).map_err(|e| Error::Other(e.to_string()))?;
    insert_steward_run(tx, pipeline, run_id, directive.kind(), args.clone(), at)?;
    let mut undo = UndoLog::new(tx, pipeline, run_id);
    undo.before(
        "overrides",
        &["override_id"],
        &[Sql::Int(override_id)],
        Some(false),
    )?;
    tx.execute(
        "INSERT INTO overrides (override_id, run_id, kind, args, who, created_at, why, active)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 1)",
        rusqlite::params![override_id, run_id, directive.kind(), args, who, at, why],
    )
    .map_err(db)?;
    let (field, after, detail) = match directive {
        Directive::Link { customers, .. } => (
            None,
            Some(customers[1].clone()),
            format!("link {} and {}", customers[0], customers[1]),
        ),
        Directive::Unlink {
            customer, record, ..
        } => (
            None,
            None,
            format!("unlink {}:{} from {customer}", record.source, record.key),
        ),
        Directive::Pin { field, value, .. } => (
            GoldenField::from_name(field).map(GoldenField::name),
            Some(value.clone()),
            format!("pin {field}"),
        ),
        Directive::RetireSource {
            source,
            customers_only_here,
            customers_losing_values,
        } => (
            None,
            Some(source.clone()),
            format!(
                "retire source {source} ({customers_only_here} customer(s) only there, {customers_losing_values} other(s) losing a golden value)"
            ),
        ),
    };
    tx.execute(
        "INSERT INTO audit_events (run_id, customer_id, event, field, before, after, detail)
         VALUES (?1, ?2, ?3, ?4, NULL, ?5, ?6)",
        rusqlite::params![
            run_id,
            directive.customer(),
            directive.kind(),
            field,
            after,
            format!("override {override_id}: {detail}; why: {why}")
        ],
    )
    .map_err(db)?;
    Ok((run_id, override_id))
}

/// Deactivate steward override `override_id` inside the caller's transaction, as a run of
/// its own (command `revoke`) with a `revoke` audit event and an undo row, so that `rollback`
/// brings the override back. Returns the run id.
pub fn record_revoke(
    tx: &Connection,
    pipeline: &Pipeline,
    override_id: i64,
    who: &str,
    why: &str,
    at: &str,
) -> Result<i64> {
    let db = |e: rusqlite::Error| Error::store(&pipeline.store_path, e);
    let run_id: i64 = tx
        .query_row("SELECT coalesce(max(run_id), 0) + 1 FROM runs", [], |r| {
            r.get(0)
        })
        .map_err(db)?;
    let (kind, args): (String, String) = tx
        .query_row(
            "SELECT kind, args FROM overrides WHERE override_id = ?1",
            [override_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .map_err(db)?;
    let customer = serde_json::from_str::<Directive>(&args)
        .ok()
        .and_then(|d| d.customer().map(str::to_string));
    let summary = serde_json::json!({ "revoke": override_id, "kind": kind }).to_string();
    insert_steward_run(tx, pipeline, run_id, "revoke", summary, at)?;
    let mut undo = UndoLog::new(tx, pipeline, run_id);
    undo.before(
        "overrides",
        &["override_id"],
        &[Sql::Int(override_id)],
        Some(true),
    )?;
    tx.execute(
        "UPDATE overrides SET active = 0 WHERE override_id = ?1",
        [override_id],
    )
    .map_err(db)?;
    tx.execute(
        "INSERT INTO audit_events (run_id, customer_id, event, field, before, after, detail)
         VALUES (?1, ?2, 'revoke', NULL, NULL, NULL, ?3)",
        rusqlite::params![
            run_id,
            customer,
            format!("revoke override {override_id} ({kind}); by {who}; why: {why}")
        ],
    )
    .map_err(db)?;
    Ok(run_id)
}

/// The tables whose rows a run changes (and `rollback` restores), with their primary keys.
pub const UNDO_TABLES: [(&str, &[&str]); 8] = [
    ("customers", &["customer_id"]),
    ("customer_sources", &["source", "source_key"]),
    ("field_lineage", &["customer_id", "field"]),
    ("match_links", &["source_a", "key_a", "source_b", "key_b"]),
    ("quarantine", &["source", "line"]),
    ("record_issues", &["source", "source_key", "field", "code"]),
    ("overrides", &["override_id"]),
    ("meta", &["key"]),
];

/// `UPDATE`s of a table's rows that set only some columns: one statement per set of
/// columns changed.
struct ChangedColumns<'a> {
    tx: &'a Connection,
    d: &'a TableDelta,
    statements: HashMap<Vec<usize>, rusqlite::Statement<'a>>,
}

impl<'a> ChangedColumns<'a> {
    fn new(tx: &'a Connection, d: &'a TableDelta) -> ChangedColumns<'a> {
        ChangedColumns {
            tx,
            d,
            statements: HashMap::new(),
        }
    }

    /// Set the columns `changed` (indexes into the delta's columns, none of the key) of
    /// the row with `row`'s key to `row`'s values.
    fn update(&mut self, row: &[Sql], changed: &[usize]) -> rusqlite::Result<()> {
        let stmt = match self.statements.get_mut(changed) {
            Some(s) => s,
            None => {
                let d = self.d;
                let set: Vec<String> = changed
                    .iter()
                    .enumerate()
                    .map(|(i, &c)| format!("{} = ?{}", d.cols[c], i + 1))
                    .collect();
                let cond: Vec<String> = d.cols[..d.pk]
                    .iter()
                    .enumerate()
                    .map(|(i, c)| format!("{c} = ?{}", changed.len() + i + 1))
                    .collect();
                let sql = format!(
                    "UPDATE {} SET {} WHERE {}",
                    d.table,
                    set.join(", "),
                    cond.join(" AND ")
                );
                let stmt = self.tx.prepare(&sql)?;
                self.statements.entry(changed.to_vec()).or_insert(stmt)
            }
        };
        let values = changed.iter().map(|&c| &row[c]).chain(&row[..self.d.pk]);
        match stmt.execute(params_from_iter(values))? {
            1 => Ok(()),
            n => Err(rusqlite::Error::StatementChangedRows(n)),
        }
    }
}

/// Records, before the loader changes a row, the row as it was (`undo_log`), so that a
/// rollback restores the store exactly. Written by the same code that writes the row.
pub(crate) struct UndoLog<'a> {
    tx: &'a Connection,
    store: &'a std::path::Path,
    run_id: i64,
    seq: i64,
}

impl<'a> UndoLog<'a> {
    pub(crate) fn new(tx: &'a Connection, pipeline: &'a Pipeline, run_id: i64) -> UndoLog<'a> {
        UndoLog::for_store(tx, &pipeline.store_path, run_id)
    }

    pub(crate) fn for_store(
        tx: &'a Connection,
        store: &'a std::path::Path,
        run_id: i64,
    ) -> UndoLog<'a> {
        UndoLog {
            tx,
            store,
            run_id,
            seq: 0,
        }
    }

    /// Record that `table` is empty now: undoing empties it again.
    pub(crate) fn clear(&mut self, table: &str) -> Result<()> {
        self.push(table, "clear", "[]".into(), None)
    }

    /// Record the row of `table` with primary key `key` as it is now. `exists`: what the
    /// caller already knows (`None`: look).
    pub(crate) fn before(
        &mut self,
        table: &str,
        key_cols: &[&str],
        key: &[Sql],
        exists: Option<bool>,
    ) -> Result<()> {
        let db = |e: rusqlite::Error| Error::store(self.store, e);
        let before = if exists == Some(false) {
            None
        } else {
            let cond: Vec<String> = key_cols
                .iter()
                .enumerate()
                .map(|(i, c)| format!("{c} = ?{}", i + 1))
                .collect();
            let sql = format!("SELECT * FROM {table} WHERE {}", cond.join(" AND "));
            let mut stmt = self.tx.prepare_cached(&sql).map_err(db)?;
            let names: Vec<String> = stmt.column_names().map(|c| c.to_string()).collect();
            let mut rows = stmt.query(params_from_iter(key.iter())).map_err(db)?;
            match rows.next().map_err(db)? {
                Some(row) => {
                    let cells = (0..names.len())
                        .map(|i| row.get::<_, Sql>(i))
                        .collect::<rusqlite::Result<Vec<Sql>>>()
                        .map_err(db)?;
                    Some(row_json(&names, &cells))
                }
                None => None,
            }
        };
        let op = match (&before, exists) {
            (None, _) => "insert",
            (Some(_), None) => "delete",
            (Some(_), Some(_)) => "update",
        };
        self.push(table, op, key_json(key), before)
    }

    /// Record a row of `table` that is about to be updated or deleted (`op`), as the
    /// caller read it in this transaction: all of the table's columns, `cols` (see
    /// [`UndoLog::covers`]), the first `pk` of them its key.
    pub(crate) fn known(
        &mut self,
        table: &str,
        cols: &[&str],
        pk: usize,
        row: &[Sql],
        op: &str,
    ) -> Result<()> {
        self.push(table, op, key_json(&row[..pk]), Some(row_json(cols, row)))
    }

    /// Record the old values of the columns `changed` (indexes into `cols`) of a row about
    /// to be updated, as the caller read it in this transaction (all `cols`, the first `pk`
    /// of them its key). `rollback` sets those columns back.
    pub(crate) fn changed(
        &mut self,
        table: &str,
        cols: &[&str],
        pk: usize,
        row: &[Sql],
        changed: &[usize],
    ) -> Result<()> {
        let names: Vec<&str> = changed.iter().map(|&c| cols[c]).collect();
        let cells: Vec<Sql> = changed.iter().map(|&c| row[c].clone()).collect();
        self.push(
            table,
            "update",
            key_json(&row[..pk]),
            Some(row_json(&names, &cells)),
        )
    }

    /// Whether `cols` are all of `table`'s columns (then a row read with them is the whole
    /// row, as [`UndoLog::before`] would read it).
    pub(crate) fn covers(&mut self, table: &str, cols: &[&str]) -> Result<bool> {
        let db = |e: rusqlite::Error| Error::store(self.store, e);
        let mut all: Vec<String> = self
            .tx
            .prepare_cached("SELECT name FROM pragma_table_info(?1)")
            .and_then(|mut s| {
                s.query_map([table], |r| r.get(0))?
                    .collect::<rusqlite::Result<_>>()
            })
            .map_err(db)?;
        let mut given: Vec<&str> = cols.to_vec();
        all.sort_unstable();
        given.sort_unstable();
        Ok(all.len() == given.len() && all.iter().zip(&given).all(|(a, b)| a == b))
    }

    fn push(
        &mut self,
        table: &str,
        op: &str,
        key_json: String,
        before: Option<String>,
    ) -> Result<()> {
        let db = |e: rusqlite::Error| Error::store(self.store, e);
        self.seq += 1;
        self.tx
            .prepare_cached(
                "INSERT INTO undo_log (run_id, seq, table_name, op, key_json, before_json)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .and_then(|mut s| {
                s.execute(rusqlite::params![
                    self.run_id,
                    self.seq,
                    table,
                    op,
                    key_json,
                    before
                ])
            })
            .map_err(db)?;
        Ok(())
    }
}

/// A key as the undo log writes it: a JSON array of [`CellJson`]s.
fn key_json(key: &[Sql]) -> String {
    serde_json::to_string(&key.iter().map(CellJson).collect::<Vec<_>>()).unwrap_or_default()
}

/// A row as the undo log writes it: a JSON object of [`CellJson`]s by column name
/// (written straight from the cells: the undo log of a sync holds tens of thousands).
fn row_json<S: AsRef<str>>(names: &[S], cells: &[Sql]) -> String {
    struct Row<'a, S>(&'a [S], &'a [Sql]);
    impl<S: AsRef<str>> Serialize for Row<'_, S> {
        fn serialize<Z: serde::Serializer>(&self, z: Z) -> std::result::Result<Z::Ok, Z::Error> {
            use serde::ser::SerializeMap;
            let mut map = z.serialize_map(Some(self.1.len()))?;
            for (n, c) in self.0.iter().zip(self.1) {
                map.serialize_entry(n.as_ref(), &CellJson(c))?;
            }
            map.end()
        }
    }
    serde_json::to_string(&Row(names, cells)).unwrap_or_default()
}

/// A cell as JSON that converts back to the identical cell ([`json_to_cell`]): reals
/// travel as their bits.
struct CellJson<'a>(&'a Sql);

impl Serialize for CellJson<'_> {
    fn serialize<Z: serde::Serializer>(&self, z: Z) -> std::result::Result<Z::Ok, Z::Error> {
        use serde::ser::SerializeMap;
        match self.0 {
            Sql::Null => z.serialize_unit(),
            Sql::Int(i) => z.serialize_i64(*i),
            Sql::Real(bits) => {
                let mut map = z.serialize_map(Some(1))?;
                map.serialize_entry("real_bits", &bits.to_string())?;
                map.end()
            }
            Sql::Text(t) => z.serialize_str(t),
        }
    }
}

pub(crate) fn json_to_cell(v: &serde_json::Value) -> Option<Sql> {
    Some(match v {
        serde_json::Value::Null => Sql::Null,
        serde_json::Value::Number(n) => Sql::Int(n.as_i64()?),
        serde_json::Value::String(t) => Sql::Text(t.clone()),
        serde_json::Value::Object(o) => Sql::Real(o.get("real_bits")?.as_str()?.parse().ok()?),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn customers_rows_are_made_as_new_customer_makes_them() {
        // The rows a first load writes, cell by cell, against `new_customer` (what a
        // later run's plan inserts), with pins: one field pinned twice, the later pin
        // winning.
        let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/demo/pipeline.toml");
        let pipeline = Pipeline::load(std::path::Path::new(demo)).unwrap();
        let opts = crate::pipeline::ResolveOptions {
            today: chrono::NaiveDate::from_ymd_opt(2026, 11, 25).unwrap(),
            model: None,
            decisions: crate::decisions::Decisions::default(),
            counts: None,
            keep_pairs: false,
        };
        let res =
            crate::pipeline::resolve(&pipeline, &opts, &mut crate::progress::Progress::new(false))
                .unwrap();
        let ids: Vec<String> = (0..res.profiles.len())
            .map(|i| format!("C{i:04}"))
            .collect();
        let pin = |id: i64, field: GoldenField, value: &str| overrides::Pin {
            override_id: id,
            customer: ids[1].clone(),
            field,
            value: value.into(),
        };
        let pinned: HashMap<String, Vec<overrides::Pin>> = [(
            ids[1].clone(),
            vec![
                pin(1, GoldenField::Email, "first@example.com"),
                pin(2, GoldenField::City, "Bonn"),
                pin(3, GoldenField::Email, "second@example.com"),
            ],
        )]
        .into();
        let maker = RowMaker::new(&pipeline, &res, &ids, &pinned, 9);
        let batch = maker.make(TableKind::Customers, 0..ids.len()).unwrap();
        assert_eq!(batch.len(), ids.len());
        for (i, id) in ids.iter().enumerate() {
            let golden = golden_cells(&res.profiles[i], &res.records, pinned.get(id));
            assert_eq!(batch.cells(i), new_customer(id, golden, 9), "row {i}");
        }
        let email = 3 + GoldenField::Email.index();
        assert_eq!(batch.cells(1)[email], Sql::text("second@example.com"));
        // The lineage of the field pinned twice names the pin whose value the customer
        // got: the later one.
        let lineage = maker.make(TableKind::Lineage, 0..ids.len()).unwrap();
        let rows: Vec<Vec<Sql>> = (0..lineage.len())
            .map(|i| lineage.cells(i))
            .filter(|r| r[0] == Sql::text(&ids[1]))
            .collect();
        let row = |field: &str| rows.iter().find(|r| r[1] == Sql::text(field)).unwrap();
        assert_eq!(
            row("email")[2..],
            [
                Sql::text("second@example.com"),
                Sql::text(PIN_SOURCE),
                Sql::text("override 3"),
                Sql::text("pin")
            ]
        );
        assert_eq!(row("city")[2], Sql::text("Bonn"));
        assert!(
            res.profiles
                .iter()
                .any(|p| p.get(GoldenField::Phone, &res.records).is_some())
        );
    }

    #[test]
    fn cells_round_trip_through_undo_json() {
        for c in [
            Sql::Null,
            Sql::Int(-7),
            Sql::Int(i64::MAX),
            Sql::real(0.1 + 0.2),
            Sql::real(f64::MIN_POSITIVE),
            Sql::text(""),
            Sql::text("{\"real_bits\": \"1\"}"),
        ] {
            let json = serde_json::to_value(CellJson(&c)).unwrap();
            assert_eq!(json_to_cell(&json), Some(c.clone()), "{c:?}");
        }
        assert_eq!(json_to_cell(&serde_json::json!([1])), None);
        assert_eq!(
            serde_json::to_string(&CellJson(&Sql::Real(7))).unwrap(),
            r#"{"real_bits":"7"}"#
        );
    }

    /// An in-memory database with an `undo_log` table, and what `sql` makes.
    fn with_undo_log(sql: &str) -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE undo_log (run_id INTEGER, seq INTEGER, table_name TEXT, op TEXT,
                 key_json TEXT, before_json TEXT);",
        )
        .unwrap();
        conn.execute_batch(sql).unwrap();
        conn
    }

    /// A row the plan read, logged as known, reads back as the row the undo log looks up.
    #[test]
    fn known_rows_are_logged_as_looked_up_rows() {
        let conn = with_undo_log(
            "CREATE TABLE t (a TEXT, b INTEGER, c REAL, d TEXT, PRIMARY KEY (a, b));
             INSERT INTO t VALUES ('k\"1', 2, 0.30000000000000004, NULL);",
        );
        let path = std::path::Path::new("t.db");
        let mut undo = UndoLog::for_store(&conn, path, 1);
        let key = [Sql::text("k\"1"), Sql::Int(2)];
        undo.before("t", &["a", "b"], &key, Some(true)).unwrap();
        // The plan's column order need not be the table's.
        let cols = ["b", "a", "d", "c"];
        assert!(undo.covers("t", &cols).unwrap());
        assert!(!undo.covers("t", &cols[..3]).unwrap());
        assert!(!undo.covers("t", &["b", "a", "d", "x"]).unwrap());
        let row = [
            Sql::Int(2),
            Sql::text("k\"1"),
            Sql::Null,
            Sql::real(0.1 + 0.2),
        ];
        undo.known("t", &cols, 2, &row, "update").unwrap();
        let logged: Vec<(String, String, String)> = conn
            .prepare("SELECT op, key_json, before_json FROM undo_log ORDER BY seq")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        let parse = |s: &str| serde_json::from_str::<serde_json::Value>(s).unwrap();
        assert_eq!(logged[0].0, logged[1].0);
        assert_eq!(parse(&logged[1].1), serde_json::json!([2, "k\"1"]));
        assert_eq!(parse(&logged[0].1), serde_json::json!(["k\"1", 2]));
        assert_eq!(parse(&logged[0].2), parse(&logged[1].2));
    }

    /// An update that changes some columns logs the old values of those alone, and sets
    /// those alone (the others, rewritten with their own values, would dirty index pages).
    #[test]
    fn an_update_logs_and_sets_only_the_columns_it_changes() {
        let conn = with_undo_log(
            "CREATE TABLE t (a TEXT PRIMARY KEY, b INTEGER, c TEXT, d TEXT);
             INSERT INTO t VALUES ('k', 1, 'old', 'same');",
        );
        let path = std::path::Path::new("t.db");
        let mut undo = UndoLog::for_store(&conn, path, 1);
        let cols = ["a", "b", "c", "d"];
        let old = [
            Sql::text("k"),
            Sql::Int(1),
            Sql::text("old"),
            Sql::text("same"),
        ];
        let new = [
            Sql::text("k"),
            Sql::Int(2),
            Sql::text("new"),
            Sql::text("same"),
        ];
        let changed = [1, 2];
        undo.changed("t", &cols, 1, &old, &changed).unwrap();
        let delta = TableDelta {
            table: "t",
            cols: cols.to_vec(),
            pk: 1,
            ..TableDelta::default()
        };
        let mut by_change = ChangedColumns::new(&conn, &delta);
        by_change.update(&new, &changed).unwrap();
        let (op, key, before): (String, String, String) = conn
            .query_row("SELECT op, key_json, before_json FROM undo_log", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .unwrap();
        assert_eq!(op, "update");
        assert_eq!(key, r#"["k"]"#);
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&before).unwrap(),
            serde_json::json!({"b": 1, "c": "old"})
        );
        let row: (i64, String, String) = conn
            .query_row("SELECT b, c, d FROM t WHERE a = 'k'", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .unwrap();
        assert_eq!(row, (2, "new".into(), "same".into()));
        // A row that is not there is an error, not an update of nothing.
        let gone = [
            Sql::text("x"),
            Sql::Int(2),
            Sql::text("new"),
            Sql::text("same"),
        ];
        assert!(by_change.update(&gone, &changed).is_err());
    }
}
