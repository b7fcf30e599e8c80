//! Check: `store -> CheckReport`, the store's invariants, verified in one read snapshot.
//!
//! What a sound store looks like: SQLite's own integrity and foreign-key checks pass; every
//! live cross-reference (`customer_sources` not marked deleted) points at an existing,
//! active customer, and a row marked deleted at an existing customer and run; every active
//! customer has at least one live source record; a merged customer points at an existing
//! customer; every lineage row, link and issue points at a source record of the same
//! customer (a pinned value at its override); audit events point at runs; each run's counts
//! balance (read = loaded + quarantined, per source and in total); and the latest run or
//! sync's counts are what the tables hold (rows a source's `on_disappear = "ignore"` keeps
//! included). A problem is reported with the table, the row and what is wrong, never with
//! customer values.
//!
//! Golden values are not compared with their lineage: a value edited in the CRM differs from
//! what the sources last supplied (`field_lineage`) by design, and a customer kept by the
//! `ignore` policy keeps its values without lineage.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use rusqlite::{Connection, OpenFlags, OptionalExtension, Row};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::load::PIN_SOURCE;
use crate::store;

/// At most this many problems of one kind are listed; the rest are counted.
const SHOWN_PER_KIND: usize = 20;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// Stable dotted code, such as `xref.customer`.
    pub code: &'static str,
    pub message: String,
}

/// What the store holds, for the report's first line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StoreCounts {
    pub runs: u64,
    pub customers_active: u64,
    pub customers_merged: u64,
    pub customers_retired: u64,
    pub source_records: u64,
    pub quarantined: u64,
    pub links: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct CheckReport {
    pub store: String,
    pub ok: bool,
    pub counts: StoreCounts,
    pub problems: Vec<Problem>,
}

impl CheckReport {
    fn new(store: &Path) -> Self {
        CheckReport {
            store: store.display().to_string(),
            ok: true,
            ..CheckReport::default()
        }
    }

    fn push(&mut self, code: &'static str, message: String) {
        self.ok = false;
        self.problems.push(Problem { code, message });
    }

    /// Run `sql`; each row it returns is one problem of kind `code`, described by `describe`.
    fn find(
        &mut self,
        conn: &Connection,
        code: &'static str,
        sql: &str,
        describe: impl Fn(&Row<'_>) -> rusqlite::Result<String>,
    ) -> rusqlite::Result<()> {
        let mut stmt = conn.prepare(sql)?;
        let mut rows = stmt.query([])?;
        let mut n = 0usize;
        while let Some(row) = rows.next()? {
            if n < SHOWN_PER_KIND {
                let m = describe(row)?;
                self.push(code, m);
            }
            n += 1;
        }
        if n > SHOWN_PER_KIND {
            self.push(
                code,
                format!(
                    "... and {} more problem(s) of this kind",
                    n - SHOWN_PER_KIND
                ),
            );
        }
        Ok(())
    }
}

/// Check the store at `path`, read-only. A file SQLite cannot read as a database is a
/// problem (`integrity`), not an error; a missing file, or one with no tables (a first run
/// killed early leaves a zero-length file), is an error: no store yet.
pub fn check_store(path: &Path) -> Result<CheckReport> {
    if !path.exists() {
        return Err(Error::Store {
            path: path.to_path_buf(),
            message: "no store here; run `crmfuse run CONFIG` first".into(),
        });
    }
    // Opened like `store::open_ro`: read-write without CREATE and `query_only`, so that
    // checking leaves no -wal/-shm files behind and can never write.
    let open = || -> rusqlite::Result<Connection> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.pragma_update(None, "query_only", true)?;
        conn.busy_timeout(store::WRITER_WAIT)?;
        Ok(conn)
    };
    // A database with nothing in it (a first run killed before it committed its schema
    // leaves a zero-length file) is no store yet, as every other command says.
    let holds_nothing = |conn: &Connection| -> rusqlite::Result<bool> {
        conn.query_row("SELECT count(*) = 0 FROM sqlite_master", [], |r| r.get(0))
    };
    let checked = open().and_then(|conn| match holds_nothing(&conn)? {
        true => Ok(None),
        false => check(&conn, path).map(Some),
    });
    match checked {
        Ok(Some(report)) => Ok(report),
        Ok(None) => Err(Error::Store {
            path: path.to_path_buf(),
            message: "no store here yet (the file holds no tables); run `crmfuse run CONFIG` first"
                .into(),
        }),
        Err(e)
            if matches!(
                e.sqlite_error_code(),
                Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase)
            ) =>
        {
            let mut report = CheckReport::new(path);
            report.push(
                "integrity",
                format!("SQLite cannot read the file as a database: {e}"),
            );
            Ok(report)
        }
        Err(e) => Err(Error::store(path, e)),
    }
}

/// Check an open store. Everything is read in one transaction, so a run committing
/// meanwhile is seen either whole or not at all.
pub fn check(conn: &Connection, path: &Path) -> rusqlite::Result<CheckReport> {
    let tx = conn.unchecked_transaction()?;
    let mut report = CheckReport::new(path);
    if !schema(&tx, &mut report)? {
        return Ok(report);
    }
    sqlite(&tx, &mut report)?;
    customers(&tx, &mut report)?;
    cross_references(&tx, &mut report)?;
    lineage(&tx, &mut report)?;
    links_issues_and_events(&tx, &mut report)?;
    runs(&tx, &mut report)?;
    report.counts = counts(&tx)?;
    tx.finish()?;
    Ok(report)
}

/// A crmfuse store of the schema this build reads; `false` stops the check.
fn schema(conn: &Connection, report: &mut CheckReport) -> rusqlite::Result<bool> {
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let expected = [
        "meta",
        "runs",
        "customers",
        "customer_sources",
        "field_lineage",
        "match_links",
        "quarantine",
        "record_issues",
        "audit_events",
        "undo_log",
        "overrides",
    ];
    let missing: Vec<&str> = expected
        .iter()
        .copied()
        .filter(|t| !tables.iter().any(|x| x == t))
        .collect();
    if !missing.is_empty() {
        report.push(
            "schema",
            format!(
                "not a complete crmfuse store: table(s) {} missing (a store of an older crmfuse is upgraded by its next run)",
                missing.join(", ")
            ),
        );
        return Ok(false);
    }
    let has_deleted: i64 = conn.query_row(
        "SELECT count(*) FROM pragma_table_info('customer_sources') WHERE name = 'deleted_run_id'",
        [],
        |r| r.get(0),
    )?;
    if has_deleted == 0 {
        report.push(
            "schema",
            "customer_sources has no deleted_run_id column: a store written by an older crmfuse (the next run upgrades it)".into(),
        );
        return Ok(false);
    }
    let version = store::meta_get(conn, "schema_version")?;
    if version.as_deref() != Some(&store::SCHEMA_VERSION.to_string()) {
        report.push(
            "schema",
            format!(
                "schema version is {}, this crmfuse reads version {}",
                version.as_deref().unwrap_or("missing"),
                store::SCHEMA_VERSION
            ),
        );
        return Ok(false);
    }
    Ok(true)
}

/// SQLite's own view: page-level integrity and declared foreign keys.
fn sqlite(conn: &Connection, report: &mut CheckReport) -> rusqlite::Result<()> {
    let integrity: Vec<String> = conn
        .prepare("PRAGMA integrity_check")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for line in integrity.iter().filter(|l| *l != "ok").take(SHOWN_PER_KIND) {
        report.push("integrity", format!("SQLite integrity_check: {line}"));
    }
    report.find(
        conn,
        "foreign_key",
        "SELECT \"table\", rowid, parent FROM pragma_foreign_key_check",
        |r| {
            Ok(format!(
                "SQLite foreign_key_check: {} row {} refers to a missing row of {}",
                r.get::<_, String>(0)?,
                r.get::<_, Option<i64>>(1)?
                    .map_or("?".to_string(), |i| i.to_string()),
                r.get::<_, String>(2)?
            ))
        },
    )
}

fn customers(conn: &Connection, report: &mut CheckReport) -> rusqlite::Result<()> {
    report.find(
        conn,
        "customer.status",
        "SELECT customer_id, status FROM customers
         WHERE status NOT IN ('active', 'merged', 'retired') ORDER BY customer_id",
        |r| {
            Ok(format!(
                "customer {} has status `{}` (expected active, merged or retired)",
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?
            ))
        },
    )?;
    report.find(
        conn,
        "customer.no_source",
        "SELECT c.customer_id FROM customers c
         WHERE c.status = 'active'
           AND NOT EXISTS (SELECT 1 FROM customer_sources s
                           WHERE s.customer_id = c.customer_id AND s.deleted_run_id IS NULL)
         ORDER BY c.customer_id",
        |r| {
            Ok(format!(
                "active customer {} has no source record",
                r.get::<_, String>(0)?
            ))
        },
    )?;
    report.find(
        conn,
        "customer.merged_into",
        "SELECT c.customer_id, c.status, c.merged_into FROM customers c
         WHERE (c.status = 'merged' AND (c.merged_into IS NULL OR c.merged_into = c.customer_id
                OR NOT EXISTS (SELECT 1 FROM customers t WHERE t.customer_id = c.merged_into)))
            OR (c.status <> 'merged' AND c.merged_into IS NOT NULL)
         ORDER BY c.customer_id",
        |r| {
            let id: String = r.get(0)?;
            let status: String = r.get(1)?;
            let into: Option<String> = r.get(2)?;
            Ok(match (status.as_str(), into) {
                ("merged", None) => {
                    format!("merged customer {id} does not say what it was merged into")
                }
                ("merged", Some(t)) if t == id => format!("customer {id} is merged into itself"),
                ("merged", Some(t)) => {
                    format!("merged customer {id} points at customer {t}, which does not exist")
                }
                (s, Some(t)) => format!("{s} customer {id} has merged_into {t}"),
                (s, None) => format!("customer {id} ({s}) is inconsistent"),
            })
        },
    )?;
    // Ids are handed out from meta.next_customer_number: an id at or above it would be
    // handed out again.
    let next: Option<i64> =
        store::meta_get(conn, "next_customer_number")?.and_then(|v| v.parse().ok());
    let max: Option<i64> = conn.query_row(
        "SELECT max(CAST(substr(customer_id, 2) AS INTEGER)) FROM customers
         WHERE customer_id GLOB 'C[0-9]*'",
        [],
        |r| r.get(0),
    )?;
    match (max, next) {
        (Some(m), Some(n)) if m >= n => report.push(
            "meta.next_customer_number",
            format!(
                "next_customer_number is {n} but customer number {m} exists: ids would be reused"
            ),
        ),
        (Some(_), None) => report.push(
            "meta.next_customer_number",
            "customers exist but meta has no valid next_customer_number".into(),
        ),
        _ => {}
    }
    Ok(())
}

fn record(r: &Row<'_>, source: usize) -> rusqlite::Result<String> {
    Ok(format!(
        "{} record {}",
        r.get::<_, String>(source)?,
        r.get::<_, String>(source + 1)?
    ))
}

fn cross_references(conn: &Connection, report: &mut CheckReport) -> rusqlite::Result<()> {
    report.find(
        conn,
        "xref.customer",
        "SELECT s.source, s.source_key, s.customer_id, c.status, s.deleted_run_id
         FROM customer_sources s
         LEFT JOIN customers c ON c.customer_id = s.customer_id
         WHERE c.customer_id IS NULL OR (c.status <> 'active' AND s.deleted_run_id IS NULL)
         ORDER BY s.source, s.source_key",
        |r| {
            let id: String = r.get(2)?;
            Ok(match r.get::<_, Option<String>>(3)? {
                None => format!(
                    "customer_sources: {} points at customer {id}, which does not exist",
                    record(r, 0)?
                ),
                Some(status) => format!(
                    "customer_sources: {} points at customer {id}, which is {status}",
                    record(r, 0)?
                ),
            })
        },
    )?;
    report.find(
        conn,
        "xref.deleted_run",
        "SELECT s.source, s.source_key, s.deleted_run_id FROM customer_sources s
         WHERE s.deleted_run_id IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM runs r WHERE r.run_id = s.deleted_run_id)
         ORDER BY s.source, s.source_key",
        |r| {
            Ok(format!(
                "customer_sources: {} is marked deleted by run {}, which is not in runs",
                record(r, 0)?,
                r.get::<_, i64>(2)?
            ))
        },
    )
}

fn lineage(conn: &Connection, report: &mut CheckReport) -> rusqlite::Result<()> {
    report.find(
        conn,
        "lineage.customer",
        "SELECT l.customer_id, l.field, c.status FROM field_lineage l
         LEFT JOIN customers c ON c.customer_id = l.customer_id
         WHERE c.customer_id IS NULL OR c.status <> 'active'
         ORDER BY l.customer_id, l.field",
        |r| {
            Ok(format!(
                "field_lineage: {} of customer {} belongs to a customer that is {}",
                r.get::<_, String>(1)?,
                r.get::<_, String>(0)?,
                r.get::<_, Option<String>>(2)?
                    .unwrap_or_else(|| "missing".into())
            ))
        },
    )?;
    report.find(
        conn,
        "lineage.record",
        &format!(
            "SELECT l.customer_id, l.field, l.source, l.source_key, s.customer_id
             FROM field_lineage l
             LEFT JOIN customer_sources s ON s.source = l.source AND s.source_key = l.source_key
             WHERE l.source <> '{PIN_SOURCE}'
               AND (s.customer_id IS NULL OR s.customer_id <> l.customer_id)
             ORDER BY l.customer_id, l.field"
        ),
        |r| {
            let (id, field) = (r.get::<_, String>(0)?, r.get::<_, String>(1)?);
            Ok(match r.get::<_, Option<String>>(4)? {
                None => format!(
                    "field_lineage: {field} of customer {id} comes from {}, which is not in customer_sources",
                    record(r, 2)?
                ),
                Some(other) => format!(
                    "field_lineage: {field} of customer {id} comes from {}, which belongs to customer {other}",
                    record(r, 2)?
                ),
            })
        },
    )?;
    // A pinned value's lineage names its override: `steward`, `override N`.
    report.find(
        conn,
        "lineage.pin",
        &format!(
            "SELECT l.customer_id, l.field, l.source_key FROM field_lineage l
             WHERE l.source = '{PIN_SOURCE}'
               AND NOT EXISTS (SELECT 1 FROM overrides o
                               WHERE 'override ' || o.override_id = l.source_key AND o.kind = 'pin')
             ORDER BY l.customer_id, l.field"
        ),
        |r| {
            Ok(format!(
                "field_lineage: {} of customer {} is pinned by `{}`, which is not a pin in overrides",
                r.get::<_, String>(1)?,
                r.get::<_, String>(0)?,
                r.get::<_, String>(2)?
            ))
        },
    )
}

fn links_issues_and_events(conn: &Connection, report: &mut CheckReport) -> rusqlite::Result<()> {
    for (side, source, key) in [("a", "source_a", "key_a"), ("b", "source_b", "key_b")] {
        report.find(
            conn,
            "link.record",
            &format!(
                "SELECT m.source_a, m.key_a, m.source_b, m.key_b, m.customer_id, s.customer_id
                 FROM match_links m
                 LEFT JOIN customer_sources s ON s.source = m.{source} AND s.source_key = m.{key}
                 WHERE s.customer_id IS NULL OR s.customer_id <> m.customer_id
                 ORDER BY 1, 2, 3, 4"
            ),
            |r| {
                let (a, b) = (record(r, 0)?, record(r, 2)?);
                let end = if side == "a" { &a } else { &b };
                let id: String = r.get(4)?;
                Ok(match r.get::<_, Option<String>>(5)? {
                    None => format!(
                        "match_links: link {a} ~ {b} of customer {id}: {end} is not in customer_sources"
                    ),
                    Some(other) => format!(
                        "match_links: link {a} ~ {b} of customer {id}: {end} belongs to customer {other}"
                    ),
                })
            },
        )?;
    }
    report.find(
        conn,
        "issue.record",
        "SELECT i.source, i.source_key, i.code FROM record_issues i
         WHERE NOT EXISTS (SELECT 1 FROM customer_sources s
                           WHERE s.source = i.source AND s.source_key = i.source_key)
         ORDER BY 1, 2, 3",
        |r| {
            Ok(format!(
                "record_issues: {} ({}) is not in customer_sources",
                record(r, 0)?,
                r.get::<_, String>(2)?
            ))
        },
    )?;
    report.find(
        conn,
        "audit.run",
        "SELECT e.run_id, count(*) FROM audit_events e
         WHERE NOT EXISTS (SELECT 1 FROM runs r WHERE r.run_id = e.run_id)
         GROUP BY e.run_id ORDER BY e.run_id",
        |r| {
            Ok(format!(
                "audit_events: {} event(s) of run {}, which is not in runs",
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(0)?
            ))
        },
    )
}

/// One source's counts as a run recorded them in its summary.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct SourceCounts {
    rows_read: u64,
    loaded: u64,
    quarantined: u64,
    /// Rows the source no longer has that its `on_disappear = "ignore"` policy keeps live
    /// in `customer_sources`.
    retained: u64,
}

/// The runs that load sources (the others record a steward's override).
const LOADING_COMMANDS: [&str; 2] = ["run", "sync"];

/// The latest loading run: its id, totals and per-source counts.
struct LatestRun {
    run_id: i64,
    loaded: i64,
    quarantined: i64,
    sources: BTreeMap<String, SourceCounts>,
}

/// Every run balances; the latest run's counts are what the tables hold.
fn runs(conn: &Connection, report: &mut CheckReport) -> rusqlite::Result<()> {
    type RunRow = (i64, String, i64, i64, i64, String);
    let runs: Vec<RunRow> = conn
        .prepare(
            "SELECT run_id, command, rows_read, records_loaded, rows_quarantined, summary_json
             FROM runs ORDER BY run_id",
        )?
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut latest: Option<LatestRun> = None;
    for (run_id, command, read, loaded, quarantined, summary) in runs {
        if read != loaded + quarantined {
            report.push(
                "run.balance",
                format!(
                    "run {run_id}: rows_read {read} is not records_loaded {loaded} + rows_quarantined {quarantined}"
                ),
            );
        }
        if !LOADING_COMMANDS.contains(&command.as_str()) {
            continue;
        }
        let sources = match summary_sources(&summary) {
            Ok(s) => s,
            Err(why) => {
                report.push("run.summary", format!("run {run_id}: summary_json {why}"));
                BTreeMap::new()
            }
        };
        for (name, s) in &sources {
            if s.rows_read != s.loaded + s.quarantined {
                report.push(
                    "run.balance",
                    format!(
                        "run {run_id}, source {name}: {} rows read but {} loaded + {} quarantined",
                        s.rows_read, s.loaded, s.quarantined
                    ),
                );
            }
        }
        let sum = |f: fn(&SourceCounts) -> u64| sources.values().map(f).sum::<u64>() as i64;
        if !sources.is_empty()
            && (
                sum(|s| s.rows_read),
                sum(|s| s.loaded),
                sum(|s| s.quarantined),
            ) != (read, loaded, quarantined)
        {
            report.push(
                "run.balance",
                format!(
                    "run {run_id}: the per-source counts of its summary do not add up to its totals"
                ),
            );
        }
        latest = Some(LatestRun {
            run_id,
            loaded,
            quarantined,
            sources,
        });
    }

    let per_source = |sql: &str| -> rusqlite::Result<BTreeMap<String, u64>> {
        conn.prepare(sql)?
            .query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
            })?
            .collect()
    };
    // Rows marked deleted stay in customer_sources but are no longer loaded.
    let xref = per_source(
        "SELECT source, count(*) FROM customer_sources WHERE deleted_run_id IS NULL GROUP BY source",
    )?;
    let quarantine = per_source("SELECT source, count(*) FROM quarantine GROUP BY source")?;
    let Some(LatestRun {
        run_id,
        loaded,
        quarantined,
        sources,
    }) = latest
    else {
        if !xref.is_empty() || !quarantine.is_empty() {
            report.push(
                "run.latest",
                "customer_sources or quarantine hold rows but no run is recorded".into(),
            );
        }
        return Ok(());
    };
    let total = |m: &BTreeMap<String, u64>| m.values().sum::<u64>() as i64;
    let retained = sources.values().map(|s| s.retained).sum::<u64>() as i64;
    if total(&xref) != loaded + retained {
        report.push(
            "run.latest",
            format!(
                "latest run {run_id} loaded {loaded} records (and kept {retained} that sources no longer have) but customer_sources holds {} live",
                total(&xref)
            ),
        );
    }
    if total(&quarantine) != quarantined {
        report.push(
            "run.latest",
            format!(
                "latest run {run_id} quarantined {quarantined} rows but quarantine holds {}",
                total(&quarantine)
            ),
        );
    }
    for (name, s) in &sources {
        let (x, q) = (
            xref.get(name).copied().unwrap_or(0),
            quarantine.get(name).copied().unwrap_or(0),
        );
        if (x, q) != (s.loaded + s.retained, s.quarantined) {
            let kept = if s.retained > 0 {
                format!(", and kept {} it no longer has", s.retained)
            } else {
                String::new()
            };
            report.push(
                "run.latest",
                format!(
                    "source {name}: latest run {run_id} read {} rows ({} loaded, {} quarantined{kept}) but the store holds {x} in customer_sources and {q} in quarantine",
                    s.rows_read, s.loaded, s.quarantined
                ),
            );
        }
    }
    if !sources.is_empty() {
        for name in xref.keys().chain(quarantine.keys()) {
            if !sources.contains_key(name) {
                report.push(
                    "run.latest",
                    format!(
                        "source {name} has rows in the store but is not in latest run {run_id}"
                    ),
                );
            }
        }
    }
    Ok(())
}

/// The per-source counts of a run's summary JSON: `sources` (read, loaded, quarantined) and,
/// where the run recorded them, `source_changes` (rows kept by the `ignore` policy).
fn summary_sources(json: &str) -> std::result::Result<BTreeMap<String, SourceCounts>, String> {
    let v: serde_json::Value =
        serde_json::from_str(json).map_err(|e| format!("is not valid JSON ({e})"))?;
    let sources = v
        .get("sources")
        .and_then(|s| s.as_array())
        .ok_or_else(|| "has no `sources` list".to_string())?;
    let mut out = BTreeMap::new();
    for s in sources {
        let num = |k: &str| s.get(k).and_then(|n| n.as_u64());
        match (
            s.get("name").and_then(|n| n.as_str()),
            num("rows_read"),
            num("loaded"),
            num("quarantined"),
        ) {
            (Some(name), Some(rows_read), Some(loaded), Some(quarantined)) => {
                out.insert(
                    name.to_string(),
                    SourceCounts {
                        rows_read,
                        loaded,
                        quarantined,
                        retained: 0,
                    },
                );
            }
            _ => return Err("has a source without name, rows_read, loaded and quarantined".into()),
        }
    }
    for c in v
        .get("source_changes")
        .and_then(|c| c.as_array())
        .into_iter()
        .flatten()
    {
        let ignored = c.get("on_disappear").and_then(|p| p.as_str()) == Some("ignore");
        let name = c.get("source").and_then(|n| n.as_str());
        let disappeared = c.get("disappeared").and_then(|n| n.as_u64());
        if let (true, Some(name), Some(n)) = (ignored, name, disappeared)
            && let Some(s) = out.get_mut(name)
        {
            s.retained = n;
        }
    }
    Ok(out)
}

fn counts(conn: &Connection) -> rusqlite::Result<StoreCounts> {
    let n = |sql: &str| -> rusqlite::Result<u64> {
        conn.query_row(sql, [], |r| r.get::<_, i64>(0))
            .optional()
            .map(|v| v.unwrap_or(0) as u64)
    };
    Ok(StoreCounts {
        runs: n("SELECT count(*) FROM runs")?,
        customers_active: n("SELECT count(*) FROM customers WHERE status = 'active'")?,
        customers_merged: n("SELECT count(*) FROM customers WHERE status = 'merged'")?,
        customers_retired: n("SELECT count(*) FROM customers WHERE status = 'retired'")?,
        source_records: n("SELECT count(*) FROM customer_sources")?,
        quarantined: n("SELECT count(*) FROM quarantine")?,
        links: n("SELECT count(*) FROM match_links")?,
    })
}

impl fmt::Display for CheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.counts;
        writeln!(
            f,
            "store {}: {} run(s), {} active customer(s) ({} merged, {} retired), {} source record(s), {} quarantined row(s), {} link(s)",
            self.store,
            c.runs,
            c.customers_active,
            c.customers_merged,
            c.customers_retired,
            c.source_records,
            c.quarantined,
            c.links
        )?;
        if self.ok {
            write!(f, "ok: every invariant holds")
        } else {
            writeln!(f, "{} problem(s):", self.problems.len())?;
            for (i, p) in self.problems.iter().enumerate() {
                if i > 0 {
                    writeln!(f)?;
                }
                write!(f, "  {}: {}", p.code, p.message)?;
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_sources_are_read_and_validated() {
        let s = summary_sources(
            r#"{"sources": [{"name": "erp", "rows_read": 3, "loaded": 2, "quarantined": 1}]}"#,
        )
        .unwrap();
        assert_eq!(
            s["erp"],
            SourceCounts {
                rows_read: 3,
                loaded: 2,
                quarantined: 1,
                retained: 0
            }
        );
        let s = summary_sources(
            r#"{"sources": [{"name": "a", "rows_read": 3, "loaded": 3, "quarantined": 0},
                            {"name": "b", "rows_read": 1, "loaded": 1, "quarantined": 0}],
                "source_changes": [{"source": "a", "disappeared": 2, "on_disappear": "ignore"},
                                   {"source": "b", "disappeared": 5, "on_disappear": "detach"}]}"#,
        )
        .unwrap();
        assert_eq!((s["a"].retained, s["b"].retained), (2, 0));
        assert!(summary_sources("{").unwrap_err().contains("not valid JSON"));
        assert!(summary_sources("{}").unwrap_err().contains("no `sources`"));
        assert!(
            summary_sources(r#"{"sources": [{"name": "erp"}]}"#)
                .unwrap_err()
                .contains("without")
        );
    }

    #[test]
    fn an_empty_store_is_clean_and_a_foreign_file_is_a_problem() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("crm.db");
        drop(store::open_rw(&p).unwrap());
        let r = check_store(&p).unwrap();
        assert!(r.ok, "{r}");

        let junk = dir.path().join("junk.db");
        std::fs::write(&junk, vec![b'x'; 4096]).unwrap();
        let r = check_store(&junk).unwrap();
        assert!(!r.ok);
        assert_eq!(r.problems[0].code, "integrity", "{r}");

        let other = dir.path().join("other.db");
        Connection::open(&other)
            .unwrap()
            .execute_batch("CREATE TABLE t(x)")
            .unwrap();
        let r = check_store(&other).unwrap();
        assert_eq!(r.problems[0].code, "schema", "{r}");
        assert!(check_store(&dir.path().join("none.db")).is_err());
        let zero = dir.path().join("zero.db");
        std::fs::write(&zero, b"").unwrap();
        let e = check_store(&zero).unwrap_err().to_string();
        assert!(e.contains("no store here yet"), "{e}");
    }
}
