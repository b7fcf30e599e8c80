//! A whole run: resolve the sources, judge the gates, plan the load against the store, and
//! apply it in one transaction (or, for a dry run, stop after planning without touching the
//! store). A real run whose gates fail is refused like a dry run unless forced: the store
//! is left as it was.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{SecondsFormat, Utc};
use rusqlite::{OptionalExtension, TransactionBehavior};
use serde::Serialize;

use crate::block::RuleStats;
use crate::config::Pipeline;
use crate::decisions::Decisions;
use crate::error::{Error, Result};
use crate::gates::{self, GateResult};
use crate::interrupt;
use crate::load::{self, CustomerCounts, LoadPlan, RunRecord, SourceDelta};
use crate::overrides;
use crate::pipeline::{self, Resolution, ResolveOptions};
use crate::progress::Progress;
use crate::score::Model;
use crate::store;

#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub dry_run: bool,
    /// Show progress bars (they hide themselves when stderr is not a terminal).
    pub progress: bool,
    /// Score with this saved model instead of training one.
    pub model: Option<crate::score::Model>,
    /// A steward's same/different decisions on record pairs.
    pub decisions: Decisions,
    /// Load even when a gate fails.
    pub force: bool,
    /// Recorded in `runs.command`: `run` or `sync`.
    pub command: Option<&'static str>,
    /// Stop with a clear error rather than grow past this many MiB.
    pub memory_limit_mib: Option<u64>,
    /// A sync re-resolves every record, as a run does, instead of only what changed; the
    /// text says why (shown in the summary).
    pub full_sync: Option<&'static str>,
}

/// How a sync resolved.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SyncInfo {
    /// `incremental` (only what changed) or `full` (every record, as a run).
    pub mode: &'static str,
    /// Why a sync resolved everything.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incremental: Option<crate::incremental::Delta>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SourceSummary {
    pub name: String,
    pub rows_read: u64,
    pub loaded: u64,
    pub quarantined: u64,
    /// rows_read = loaded + quarantined
    pub balanced: bool,
    pub quarantine_reasons: BTreeMap<String, u64>,
    pub issues: BTreeMap<String, u64>,
    /// The size and SHA-256 (hex) of the file read: which export this run loaded.
    pub bytes: u64,
    pub sha256: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TableChanges {
    pub table: &'static str,
    pub inserted: u64,
    pub updated: u64,
    pub deleted: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub dry_run: bool,
    /// The run's id in the store (the id it would get, for a dry run).
    pub run_id: i64,
    pub store: String,
    pub sources: Vec<SourceSummary>,
    pub records: u64,
    pub candidate_pairs: u64,
    pub links: u64,
    pub customers: u64,
    pub customer_changes: CustomerCounts,
    /// Per source: new, changed, unchanged and disappeared rows against the store.
    pub source_changes: Vec<SourceDelta>,
    /// CRM edits that a source now changes: kept unless `[sync] source_wins` names the field.
    pub crm_edit_conflicts: u64,
    /// Audit events the run records; zero when nothing changed.
    pub changes: u64,
    pub tables: Vec<TableChanges>,
    pub blocking: Vec<RuleStats>,
    /// A sync's mode (absent for a run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sync: Option<SyncInfo>,
    pub timings_ms: Vec<(String, u64)>,
    /// The process's peak resident memory in MiB after each stage (empty off Linux).
    pub peak_memory_mib: Vec<(String, u64)>,
    /// Every gate's result; all passed when `gates_passed`.
    pub gates: Vec<GateResult>,
    pub gates_passed: bool,
    /// A real run that a failed gate stopped: nothing was written.
    pub load_refused: bool,
    /// A real run that loaded although a gate failed (`--force`).
    pub forced: bool,
}

impl Summary {
    /// Whether the run changed the store.
    pub fn loaded(&self) -> bool {
        !self.dry_run && !self.load_refused
    }
}

pub struct RunOutcome {
    pub summary: Summary,
    pub resolution: Resolution,
    pub plan: LoadPlan,
}

pub fn run(pipeline: &Pipeline, opts: &RunOptions) -> Result<RunOutcome> {
    let started_at = now();
    let mut progress = Progress::new(opts.progress);
    progress.memory_limit_mib = opts.memory_limit_mib;
    // A steward's link / unlink overrides are replayed as decisions.
    let mut decisions = opts.decisions.clone();
    let mut model = opts.model.clone();
    // Whether a sync scores with the store's model (and then with its name counts).
    let mut stored = false;
    // Why a sync resolves everything before it even looks at the store's rows.
    let mut full_sync: Option<String> = opts.full_sync.map(String::from);
    if let Some(conn) = store::open_ro(&pipeline.store_path)? {
        let active = overrides::read_active(&conn, &pipeline.store_path)?;
        // A retired source still listed in the pipeline is a stale config: refuse it.
        overrides::refuse_retired(pipeline, &active)?;
        decisions.decisions.extend(overrides::decisions(&active));
        // A sync scores with the model the store was last loaded with: unchanged records
        // keep their scores, so that only what changed is written (a retrained model moves
        // every score a little). `run` trains afresh; `--model` overrides both.
        if model.is_none() && opts.command == Some("sync") {
            match stored_model(&conn, &pipeline.store_path)? {
                Ok(m) => model = m,
                // A model of another crmfuse (its comparisons have other levels): the
                // sync trains a new one, as a run would, and so resolves everything.
                Err(why) => {
                    full_sync.get_or_insert(format!(
                        "the store's match model does not fit this crmfuse ({why}): a new one is trained"
                    ));
                }
            }
            stored = model.is_some();
        }
    }
    let mut resolve_opts = ResolveOptions {
        today: Utc::now().date_naive(),
        model: None,
        decisions,
        counts: None,
        keep_pairs: false,
    };
    let mut sync = None;
    if opts.command == Some("sync") {
        if let Some(why) = full_sync {
            sync = Some(SyncInfo {
                mode: "full",
                reason: Some(why),
                incremental: None,
            });
        } else {
            match sync_incremental(pipeline, opts, &resolve_opts, model.clone(), &mut progress)? {
                Ok((resolution, plan, loaded, gate_results)) => {
                    let summary = summarise(pipeline, &resolution, &plan, &progress, &gate_results);
                    return Ok(RunOutcome {
                        summary: Summary {
                            dry_run: opts.dry_run,
                            load_refused: !opts.dry_run && !loaded,
                            forced: loaded && !summary.gates_passed,
                            ..summary
                        },
                        resolution,
                        plan,
                    });
                }
                Err(reason) => {
                    sync = Some(SyncInfo {
                        mode: "full",
                        reason: Some(reason),
                        incremental: None,
                    })
                }
            }
        }
    }
    resolve_opts.model = model;
    // A sync with the store's model scores with the name counts of its last full
    // resolution too, so that a pair compared again keeps its weight (a run counts afresh).
    if stored && let Some(conn) = store::open_ro(&pipeline.store_path)? {
        resolve_opts.counts = load::read_term_counts(&conn, &pipeline.store_path)?.map(|(_, c)| c);
    }
    let resolution = pipeline::resolve(pipeline, &resolve_opts, &mut progress)?;
    let mut gate_results = gates::check_resolution(&pipeline.gates, pipeline, &resolution);
    let path = &pipeline.store_path;
    // Gates on the sources fail before the store is even opened for writing.
    let refuse_early = !opts.dry_run && !opts.force && !gates::all_passed(&gate_results);
    let (plan, loaded) = if opts.dry_run || refuse_early {
        let conn = store::open_ro(path)?;
        forecast_plan(&progress, conn.as_ref(), path)?;
        let stage = progress.stage("plan", None);
        let plan = load::plan(conn.as_ref(), pipeline, &resolution)?;
        progress.finish(stage);
        gate_results.extend(gates::check_plan(&pipeline.gates, &plan));
        (plan, false)
    } else {
        let mut conn = store::open_rw_sized(path, pipeline.store_page_size)?;
        let first_load = store::begin_first_load(&mut conn, path)?;
        // (A closure, so that the store goes back to WAL mode on every way out of it.)
        let mut write = || -> Result<(LoadPlan, bool)> {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(|e| store::writer_error(path, e))?;
            let _writeback = store::Writeback::start(path);
            let (plan, load) = plan_and_apply(
                &tx,
                pipeline,
                opts,
                &resolution,
                None,
                &mut progress,
                &mut gate_results,
                &started_at,
            )?;
            if load {
                // Last moment to stop: dropping `tx` rolls the whole run back.
                interrupt::check()?;
                commit(tx, path, first_load, &mut progress)?;
            }
            // Not loading: the transaction rolls back when dropped.
            Ok((plan, load))
        };
        let written = write();
        if first_load {
            store::end_first_load(&mut conn);
        }
        written?
    };
    let mut summary = summarise(pipeline, &resolution, &plan, &progress, &gate_results);
    summary.sync = sync;
    let refused = !opts.dry_run && !loaded;
    Ok(RunOutcome {
        summary: Summary {
            dry_run: opts.dry_run,
            load_refused: refused,
            forced: loaded && !summary.gates_passed,
            ..summary
        },
        resolution,
        plan,
    })
}

type Planned = (Resolution, LoadPlan, bool, Vec<GateResult>);

/// A sync of only what changed, planned and (unless a dry run, or a gate fails) loaded;
/// `Err` says why the sync must resolve everything instead. A real sync holds the store's
/// write lock from reading the store to committing, so that nothing changes in between.
fn sync_incremental(
    pipeline: &Pipeline,
    opts: &RunOptions,
    resolve_opts: &ResolveOptions,
    model: Option<Model>,
    progress: &mut Progress,
) -> Result<std::result::Result<Planned, String>> {
    let started_at = now();
    let path = &pipeline.store_path;
    if !path.exists() {
        return Ok(Err("the store does not exist yet".into()));
    }
    let (ro, mut rw) = if opts.dry_run {
        let ro = store::open_existing(path)?;
        // One read snapshot for everything the dry run reads (rows are looked up again by
        // rowid, which a concurrent run could otherwise reuse in between).
        ro.execute_batch("BEGIN")
            .map_err(|e| Error::store(path, e))?;
        (Some(ro), None)
    } else {
        (
            None,
            Some(store::open_rw_sized(path, pipeline.store_page_size)?),
        )
    };
    let tx = match rw.as_mut() {
        Some(c) => Some(
            c.transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(|e| store::writer_error(path, e))?,
        ),
        None => None,
    };
    let conn: &rusqlite::Connection = match &tx {
        Some(tx) => tx,
        None => ro
            .as_ref()
            .ok_or_else(|| Error::Other("no store connection".into()))?,
    };
    // Until the plan, the store is only read: mostly the whole of `customer_sources`, once.
    // A large page cache would only hold (and first allocate) pages read once.
    store::set_cache_mib(conn, path, store::READING_CACHE_MIB)?;
    // A second connection reads half the store on another core. Only under the write
    // lock: then nothing can commit between the two connections' reads.
    let reader = match &tx {
        Some(_) => store::open_ro(path)?,
        None => None,
    };
    let (resolution, scope) =
        match crate::incremental::resolve(pipeline, conn, reader, resolve_opts, model, progress)? {
            Ok(r) => r,
            Err(reason) => return Ok(Err(reason)),
        };
    let mut gate_results = gates::check_resolution(&pipeline.gates, pipeline, &resolution);
    let refuse_early = !opts.dry_run && !opts.force && !gates::all_passed(&gate_results);
    if opts.dry_run || refuse_early {
        let stage = progress.stage("plan", None);
        let plan = load::plan_scoped(Some(conn), pipeline, &resolution, Some(&scope), false)?;
        progress.finish(stage);
        gate_results.extend(gates::check_plan(&pipeline.gates, &plan));
        return Ok(Ok((resolution, plan, false, gate_results)));
    }
    // (Not before: the store's scan would fill the larger cache with pages it only reads.)
    store::set_cache_mib(conn, path, store::SCATTERED_WRITES_CACHE_MIB)?;
    let _writeback = store::Writeback::start(path);
    let (plan, load) = plan_and_apply(
        conn,
        pipeline,
        opts,
        &resolution,
        Some(&scope),
        progress,
        &mut gate_results,
        &started_at,
    )?;
    if load && let Some(tx) = tx {
        // Last moment to stop: dropping `tx` rolls the whole sync back.
        interrupt::check()?;
        commit(tx, path, false, progress)?;
    }
    Ok(Ok((resolution, plan, load, gate_results)))
}

/// Commit a run's transaction: its own stage, as SQLite writes the changed pages back
/// into the store file then (a checkpoint of the write-ahead log). A first load (written
/// without SQLite's per-row reference check, see [`store::begin_first_load`]) has its
/// references checked first, within this stage.
fn commit(
    tx: rusqlite::Transaction<'_>,
    path: &std::path::Path,
    first_load: bool,
    progress: &mut Progress,
) -> Result<()> {
    let stage = progress.stage("commit", None);
    if first_load {
        store::check_references(&tx, path)?;
    }
    tx.commit().map_err(|e| Error::store(path, e))?;
    progress.finish(stage);
    Ok(())
}

/// `--memory-limit`'s forecast before a whole run is planned against the store `conn`
/// opened (see [`Progress::forecast_plan`]).
fn forecast_plan(
    progress: &Progress,
    conn: Option<&rusqlite::Connection>,
    path: &std::path::Path,
) -> Result<()> {
    let Some(conn) = conn.filter(|_| progress.has_memory_limit()) else {
        return Ok(());
    };
    let stored: i64 = conn
        .query_row("SELECT count(*) FROM customer_sources", [], |r| r.get(0))
        .map_err(|e| crate::error::Error::store(path, e))?;
    progress.forecast_plan(stored as u64)
}

/// Plan the load inside the write transaction `tx`, judge the plan's gates and, when they
/// pass (or `--force`), apply it. The caller commits.
#[allow(clippy::too_many_arguments)]
fn plan_and_apply(
    tx: &rusqlite::Connection,
    pipeline: &Pipeline,
    opts: &RunOptions,
    resolution: &Resolution,
    scope: Option<&load::Scope>,
    progress: &mut Progress,
    gate_results: &mut Vec<GateResult>,
    started_at: &str,
) -> Result<(LoadPlan, bool)> {
    if scope.is_none() {
        forecast_plan(progress, Some(tx), &pipeline.store_path)?;
    }
    let stage = progress.stage("plan", None);
    let plan = load::plan_scoped(Some(tx), pipeline, resolution, scope, true)?;
    progress.finish(stage);
    gate_results.extend(gates::check_plan(&pipeline.gates, &plan));
    let load = opts.force || gates::all_passed(gate_results);
    let stage = progress.stage("load", Some(plan.rows_to_write() as u64));
    if load {
        let summary = summarise(pipeline, resolution, &plan, progress, gate_results);
        let record = RunRecord {
            started_at: started_at.to_string(),
            finished_at: now(),
            command: opts.command.unwrap_or("run").into(),
            rows_read: summary.sources.iter().map(|s| s.rows_read).sum(),
            records_loaded: summary.records,
            rows_quarantined: summary.sources.iter().map(|s| s.quarantined).sum(),
            links: summary.links,
            model_json: serde_json::to_string(&resolution.model)
                .map_err(|e| Error::Other(e.to_string()))?,
            summary_json: serde_json::to_string(&Summary {
                forced: !summary.gates_passed,
                ..summary
            })
            .map_err(|e| Error::Other(e.to_string()))?,
        };
        load::apply(tx, pipeline, &plan, resolution, &record, &|n| stage.inc(n))?;
    }
    progress.finish(stage);
    Ok((plan, load))
}

/// The match model of the latest run that scored with one (`None`: no such run yet).
/// The match model of the store's last run (`Ok(None)`: none yet); `Err` says why it cannot
/// be used by this crmfuse.
fn stored_model(
    conn: &rusqlite::Connection,
    store: &std::path::Path,
) -> Result<std::result::Result<Option<Model>, String>> {
    let json: Option<String> = conn
        .query_row(
            "SELECT model_json FROM runs WHERE model_json <> 'null' ORDER BY run_id DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .optional()
        .map_err(|e| Error::store(store, e))?;
    let Some(json) = json else {
        return Ok(Ok(None));
    };
    let model: Model = match serde_json::from_str(&json) {
        Ok(m) => m,
        Err(e) => return Ok(Err(format!("unreadable: {e}"))),
    };
    Ok(model.validate().map(|()| Some(model)))
}

fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn summarise(
    pipeline: &Pipeline,
    res: &Resolution,
    plan: &LoadPlan,
    progress: &Progress,
    gate_results: &[GateResult],
) -> Summary {
    let mut sources: Vec<SourceSummary> = res
        .sources
        .iter()
        .map(|s| SourceSummary {
            name: s.name.clone(),
            rows_read: s.rows_read,
            loaded: s.records,
            quarantined: s.quarantined,
            balanced: s.rows_read == s.records + s.quarantined,
            quarantine_reasons: BTreeMap::new(),
            issues: BTreeMap::new(),
            bytes: s.bytes,
            sha256: s.checksum.clone(),
        })
        .collect();
    for q in &res.quarantined {
        *sources[q.source as usize]
            .quarantine_reasons
            .entry(q.reason.code().to_string())
            .or_default() += 1;
    }
    for r in &res.records {
        for i in &r.issues {
            *sources[r.source as usize]
                .issues
                .entry(i.code.to_string())
                .or_default() += 1;
        }
    }
    Summary {
        dry_run: false,
        run_id: plan.run_id,
        store: pipeline.store_path.display().to_string(),
        sources,
        records: res.sources.iter().map(|s| s.records).sum(),
        candidate_pairs: res.candidate_pairs,
        links: res.links().count() as u64,
        customers: res.clusters.len() as u64
            + res
                .incremental
                .as_ref()
                .map_or(0, |d| d.customers_untouched),
        customer_changes: plan.counts.clone(),
        source_changes: plan.source_changes.clone(),
        crm_edit_conflicts: plan.conflicts.len() as u64,
        changes: plan.events.len() as u64,
        tables: plan
            .deltas
            .iter()
            .map(|d| TableChanges {
                table: d.table,
                inserted: d.inserted() as u64,
                updated: d.updates.len() as u64,
                deleted: d.deletes.len() as u64,
            })
            .collect(),
        blocking: res.blocking.clone(),
        sync: res.incremental.as_ref().map(|d| SyncInfo {
            mode: "incremental",
            reason: None,
            incremental: Some(d.clone()),
        }),
        timings_ms: progress
            .timings
            .0
            .iter()
            .map(|(s, d)| (s.to_string(), d.as_millis() as u64))
            .collect(),
        peak_memory_mib: progress
            .peak_memory_mib
            .iter()
            .map(|(s, m)| (s.to_string(), *m))
            .collect(),
        gates: gate_results.to_vec(),
        gates_passed: gates::all_passed(gate_results),
        load_refused: false,
        forced: false,
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let would = if self.loaded() { "" } else { "would be " };
        if self.dry_run {
            writeln!(f, "DRY RUN: nothing was written to {}", self.store)?;
        } else if self.load_refused {
            writeln!(
                f,
                "LOAD REFUSED: a gate failed; nothing was written to {} (fix the cause, or load anyway with --force)",
                self.store
            )?;
        } else {
            writeln!(f, "run {} loaded into {}", self.run_id, self.store)?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "{:<16} {:>10} {:>10} {:>12}  balance",
            "source", "read", "loaded", "quarantined"
        )?;
        for s in &self.sources {
            writeln!(
                f,
                "{:<16} {:>10} {:>10} {:>12}  {}",
                s.name,
                s.rows_read,
                s.loaded,
                s.quarantined,
                if s.balanced { "ok" } else { "MISMATCH" }
            )?;
            for (reason, n) in &s.quarantine_reasons {
                writeln!(f, "{:<16}   quarantined {reason}: {n}", "")?;
            }
            for (code, n) in &s.issues {
                writeln!(f, "{:<16}   issue {code}: {n}", "")?;
            }
        }
        writeln!(f)?;
        writeln!(
            f,
            "{:<16} {:>10} {:>10} {:>10} {:>12}  on_disappear",
            "source", "new", "changed", "unchanged", "disappeared"
        )?;
        for d in &self.source_changes {
            writeln!(
                f,
                "{:<16} {:>10} {:>10} {:>10} {:>12}  {}",
                d.source, d.new, d.changed, d.unchanged, d.disappeared, d.on_disappear
            )?;
        }
        writeln!(f)?;
        let c = &self.customer_changes;
        writeln!(
            f,
            "{} records, {} candidate pairs, {} links -> {} customers",
            self.records, self.candidate_pairs, self.links, self.customers
        )?;
        writeln!(
            f,
            "customers {would}created {}, {would}updated {}, unchanged {}, {would}merged {}, {would}retired {}",
            c.created, c.updated, c.unchanged, c.merged, c.retired
        )?;
        if self.crm_edit_conflicts > 0 {
            writeln!(
                f,
                "{} field(s) edited in the CRM that a source now changes (audit event `conflict`)",
                self.crm_edit_conflicts
            )?;
        }
        for b in self.blocking.iter().filter(|b| b.capped_blocks > 0) {
            writeln!(
                f,
                "blocking rule {}: {} oversized block(s) with {} records skipped (largest {})",
                b.rule, b.capped_blocks, b.capped_records, b.largest_block
            )?;
        }
        write!(f, "{} change(s) {}recorded", self.changes, would)?;
        if !self.gates.is_empty() {
            let failed: Vec<&GateResult> = self.gates.iter().filter(|g| !g.passed).collect();
            writeln!(f)?;
            writeln!(f)?;
            if failed.is_empty() {
                write!(f, "gates: all {} passed", self.gates.len())?;
            } else {
                write!(
                    f,
                    "gates: {} of {} FAILED{}",
                    failed.len(),
                    self.gates.len(),
                    if self.forced {
                        " (loaded anyway: --force)"
                    } else {
                        ""
                    }
                )?;
                for g in failed {
                    write!(
                        f,
                        "\n  FAILED {}: {} ({}; limit: {})",
                        g.label(),
                        g.reason,
                        g.actual,
                        g.limit
                    )?;
                }
            }
        }
        Ok(())
    }
}
