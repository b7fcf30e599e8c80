//! Load: `Resolution -> LoadPlan -> store`.
//!
//! Planning compares what the pipeline resolved with what the store holds: which clusters
//! keep which customer ids, which customers are created, updated, merged or retired, and
//! which rows of each table change. A dry run stops after planning; a load applies the plan
//! in one transaction, so a run commits whole or not at all. Running the same input twice
//! plans zero changes.

use std::collections::{BTreeMap, HashMap};

use rusqlite::{Connection, params_from_iter};
use serde::Serialize;

use crate::config::Pipeline;
use crate::error::{Error, Result};
use crate::pipeline::Resolution;
use crate::record::GoldenField;
use crate::score;
use crate::store::{self, Cell as Sql, TableRows};

/// One entry of the audit trail.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEvent {
    pub customer_id: Option<String>,
    /// create | update | merge | retire | attach | detach
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
}

impl TableDelta {
    pub fn changes(&self) -> usize {
        self.inserts.len() + self.updates.len() + self.deletes.len()
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
}

const CUSTOMER_STATE_COLS: [&str; 3] = ["customer_id", "status", "merged_into"];

fn text(s: impl Into<String>) -> Sql {
    Sql::text(s)
}

fn opt_text(s: Option<&str>) -> Sql {
    Sql::opt_text(s)
}

fn as_str(v: &Sql) -> Option<&str> {
    v.as_str()
}

pub fn customer_id(n: u64) -> String {
    format!("C{n:08}")
}

/// Plan the load of `res` into the store behind `conn` (`None`: a store that does not exist
/// yet).
pub fn plan(conn: Option<&Connection>, pipeline: &Pipeline, res: &Resolution) -> Result<LoadPlan> {
    let db = |e: rusqlite::Error| Error::store(&pipeline.store_path, e);
    let source_name = |i: u16| pipeline.sources[i as usize].name.as_str();

    // What the store holds.
    let (run_id, mut next_number, xref, customers) = match conn {
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
            let xref = store::read_table(
                c,
                "customer_sources",
                &["source", "source_key", "customer_id"],
                2,
            )
            .map_err(db)?;
            let mut cols: Vec<&str> = CUSTOMER_STATE_COLS.to_vec();
            cols.extend(store::golden_columns());
            cols.push("created_run_id");
            cols.push("updated_run_id");
            let customers = store::read_table(c, "customers", &cols, 1).map_err(db)?;
            (run_id, next, xref, customers)
        }
        None => (1, 1, TableRows::new(), TableRows::new()),
    };
    let existing_id = |i: usize| -> Option<&str> {
        let r = &res.records[i];
        xref.get(&vec![text(source_name(r.source)), text(r.key.clone())])
            .and_then(|v| as_str(&v[0]))
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
    let mut taken: HashMap<String, usize> = HashMap::new();
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
    let mut record_cluster = vec![0usize; res.records.len()];
    for (ci, members) in res.clusters.iter().enumerate() {
        for &m in members {
            record_cluster[m as usize] = ci;
        }
    }

    let mut events = Vec::new();
    let mut overwrites = Vec::new();
    let mut counts = CustomerCounts::default();

    // Customers.
    let mut cust_cols: Vec<&'static str> = CUSTOMER_STATE_COLS.to_vec();
    cust_cols.extend(store::golden_columns());
    cust_cols.push("created_run_id");
    cust_cols.push("updated_run_id");
    let mut cust = TableDelta {
        table: "customers",
        cols: cust_cols,
        pk: 1,
        ..TableDelta::default()
    };
    for (ci, profile) in res.profiles.iter().enumerate() {
        let id = &cluster_ids[ci];
        let golden: Vec<Sql> = profile
            .values
            .iter()
            .map(|v| opt_text(v.as_deref()))
            .collect();
        match customers.get(&vec![text(id.clone())]) {
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
                let mut row = vec![text(id.clone()), text("active"), Sql::Null];
                row.extend(golden);
                row.push(Sql::Int(run_id));
                row.push(Sql::Int(run_id));
                cust.inserts.push(row);
            }
            Some(old) => {
                let old_golden = &old[2..2 + GoldenField::ALL.len()];
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
                    cust.updates.push(row);
                } else {
                    counts.unchanged += 1;
                }
            }
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
        if as_str(&old[0]) != Some("active") {
            continue;
        }
        let target = clusters
            .iter()
            .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
            .map(|(ci, _)| cluster_ids[*ci].clone());
        let mut row = old.clone();
        row.insert(0, text(id.clone()));
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
        cust.updates.push(row);
    }

    // Cross-references, with attach/detach events for records that move.
    let mut best_score = vec![f64::NAN; res.records.len()];
    for p in res.links() {
        for r in [p.pair.a, p.pair.b] {
            let s = &mut best_score[r as usize];
            if s.is_nan() || p.probability > *s {
                *s = p.probability;
            }
        }
    }
    let mut desired_xref = TableRows::new();
    for (i, r) in res.records.iter().enumerate() {
        let id = &cluster_ids[record_cluster[i]];
        let record_json = serde_json::to_string(r).map_err(|e| Error::Other(e.to_string()))?;
        let key = vec![text(source_name(r.source)), text(r.key.clone())];
        let old = existing_id(i);
        if conn.is_some() && old != Some(id.as_str()) {
            // A record new to the store, or moved between customers. New customers'
            // records are covered by their create event.
            let created_now = !customers.contains_key(&vec![text(id.clone())]);
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
        let s = best_score[i];
        desired_xref.insert(
            key,
            vec![
                text(id.clone()),
                if s.is_nan() { Sql::Null } else { Sql::real(s) },
                Sql::Int(r.line as i64),
                text(format!("{:016x}", r.hash)),
                text(record_json),
            ],
        );
    }
    // In key order: `xref` is a hash map, and the audit trail of two identical runs must
    // be identical.
    let mut gone: Vec<(&Vec<Sql>, &Vec<Sql>)> = xref
        .iter()
        .filter(|(key, _)| !desired_xref.contains_key(*key))
        .collect();
    gone.sort();
    for (key, v) in gone {
        events.push(AuditEvent {
            customer_id: as_str(&v[0]).map(str::to_string),
            event: "detach",
            field: None,
            before: as_str(&v[0]).map(str::to_string),
            after: None,
            detail: Some(format!(
                "{} record {} is no longer in its source",
                as_str(&key[0]).unwrap_or(""),
                as_str(&key[1]).unwrap_or("")
            )),
        });
    }
    let xref_cols = [
        "source",
        "source_key",
        "customer_id",
        "match_score",
        "line",
        "record_hash",
        "record_json",
    ];
    let xref_delta = diff_table(
        conn,
        pipeline,
        "customer_sources",
        &xref_cols,
        2,
        desired_xref,
    )?;

    // Lineage.
    let mut lineage = TableRows::new();
    for (ci, profile) in res.profiles.iter().enumerate() {
        for f in GoldenField::ALL {
            if let (Some(v), Some(l)) = (&profile.values[f.index()], &profile.lineage[f.index()]) {
                let r = &res.records[l.record as usize];
                lineage.insert(
                    vec![text(cluster_ids[ci].clone()), text(f.name())],
                    vec![
                        text(v.clone()),
                        text(source_name(r.source)),
                        text(r.key.clone()),
                        text(l.rule),
                    ],
                );
            }
        }
    }
    let lineage_delta = diff_table(
        conn,
        pipeline,
        "field_lineage",
        &[
            "customer_id",
            "field",
            "value",
            "source",
            "source_key",
            "rule",
        ],
        2,
        lineage,
    )?;

    // Links inside the final clusters, with their evidence.
    let mut links = TableRows::new();
    for p in res.links() {
        let (a, b) = (
            &res.records[p.pair.a as usize],
            &res.records[p.pair.b as usize],
        );
        let ci = record_cluster[p.pair.a as usize];
        if ci != record_cluster[p.pair.b as usize] {
            continue;
        }
        let evidence = serde_json::to_string(&score::evidence(&res.model, p))
            .map_err(|e| Error::Other(e.to_string()))?;
        links.insert(
            vec![
                text(source_name(a.source)),
                text(a.key.clone()),
                text(source_name(b.source)),
                text(b.key.clone()),
            ],
            vec![
                text(cluster_ids[ci].clone()),
                Sql::real(p.weight),
                Sql::real(p.probability),
                text(evidence),
            ],
        );
    }
    let links_delta = diff_table(
        conn,
        pipeline,
        "match_links",
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
        links,
    )?;

    let mut quarantine = TableRows::new();
    for q in &res.quarantined {
        quarantine.insert(
            vec![text(source_name(q.source)), Sql::Int(q.line as i64)],
            vec![
                opt_text(q.key.as_deref()),
                text(q.reason.code()),
                text(q.detail.clone()),
                text(q.raw.clone()),
            ],
        );
    }
    let quarantine_delta = diff_table(
        conn,
        pipeline,
        "quarantine",
        &["source", "line", "source_key", "reason", "detail", "raw"],
        2,
        quarantine,
    )?;

    let mut issues = TableRows::new();
    for r in &res.records {
        for i in &r.issues {
            issues.insert(
                vec![
                    text(source_name(r.source)),
                    text(r.key.clone()),
                    text(i.field.name()),
                    text(i.code),
                ],
                vec![],
            );
        }
    }
    let issues_delta = diff_table(
        conn,
        pipeline,
        "record_issues",
        &["source", "source_key", "field", "code"],
        4,
        issues,
    )?;

    Ok(LoadPlan {
        run_id,
        cluster_ids,
        counts,
        events,
        // Parents before children: customers first.
        deltas: vec![
            cust,
            xref_delta,
            lineage_delta,
            links_delta,
            quarantine_delta,
            issues_delta,
        ],
        next_customer_number: next_number,
        overwrites,
    })
}

/// Compare desired rows with the table's rows.
fn diff_table(
    conn: Option<&Connection>,
    pipeline: &Pipeline,
    table: &'static str,
    cols: &[&'static str],
    pk: usize,
    desired: TableRows,
) -> Result<TableDelta> {
    let existing = match conn {
        Some(c) => store::read_table(c, table, cols, pk)
            .map_err(|e| Error::store(&pipeline.store_path, e))?,
        None => TableRows::new(),
    };
    let mut delta = TableDelta {
        table,
        cols: cols.to_vec(),
        pk,
        ..TableDelta::default()
    };
    for (key, rest) in desired.iter() {
        match existing.get(key) {
            Some(old) if old == rest => {}
            found => {
                let mut row = key.clone();
                row.extend(rest.iter().cloned());
                if found.is_some() {
                    delta.updates.push(row);
                } else {
                    delta.inserts.push(row);
                }
            }
        }
    }
    for key in existing.keys() {
        if !desired.contains_key(key) {
            delta.deletes.push(key.clone());
        }
    }
    // Deterministic write order.
    delta.inserts.sort();
    delta.updates.sort();
    delta.deletes.sort();
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
}

/// Apply a plan inside the caller's transaction.
pub fn apply(tx: &Connection, pipeline: &Pipeline, plan: &LoadPlan, run: &RunRecord) -> Result<()> {
    let db = |e: rusqlite::Error| Error::store(&pipeline.store_path, e);
    tx.execute(
        "INSERT INTO runs (run_id, started_at, finished_at, command, config_path, config_hash, tool_version,
            rows_read, records_loaded, rows_quarantined, customers_created, customers_updated,
            customers_merged, customers_retired, links, changes, summary_json)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
        rusqlite::params![
            plan.run_id,
            run.started_at,
            run.finished_at,
            run.command,
            pipeline.config_path.display().to_string(),
            pipeline.config_hash,
            env!("CARGO_PKG_VERSION"),
            run.rows_read as i64,
            run.records_loaded as i64,
            run.rows_quarantined as i64,
            plan.counts.created as i64,
            plan.counts.updated as i64,
            plan.counts.merged as i64,
            plan.counts.retired as i64,
            run.links as i64,
            plan.events.len() as i64,
            run.summary_json,
        ],
    )
    .map_err(db)?;
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
        for key in &d.deletes {
            stmt.execute(params_from_iter(key.iter())).map_err(db)?;
        }
    }
    for d in &plan.deltas {
        if d.inserts.is_empty() && d.updates.is_empty() {
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
        for row in d.inserts.iter().chain(&d.updates) {
            stmt.execute(params_from_iter(row.iter())).map_err(db)?;
        }
    }
    let mut stmt = tx
        .prepare_cached(
            "INSERT INTO audit_events (run_id, customer_id, event, field, before, after, detail)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .map_err(db)?;
    for e in &plan.events {
        stmt.execute(rusqlite::params![
            plan.run_id,
            e.customer_id,
            e.event,
            e.field,
            e.before,
            e.after,
            e.detail
        ])
        .map_err(db)?;
    }
    tx.execute(
        "INSERT INTO meta (key, value) VALUES ('next_customer_number', ?1)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [plan.next_customer_number.to_string()],
    )
    .map_err(db)?;
    Ok(())
}
