//! Check: `store -> CheckReport`, the store's invariants, verified in one read snapshot.
//!
//! What a sound store looks like: SQLite's own integrity and foreign-key checks pass; every
//! cross-reference (`customer_sources`) points at an existing, active customer; every active
//! customer has at least one source record; a merged customer points at an existing
//! customer; every lineage row, link and issue points at a source record of the same
//! customer; every golden value has its lineage; audit events point at runs; each run's
//! counts balance (read = loaded + quarantined, per source and in total); and the latest
//! run's counts are what the tables hold. A problem is reported with the table, the row and
//! what is wrong, never with customer values.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use rusqlite::{Connection, OpenFlags, OptionalExtension, Row};
use serde::Serialize;

use crate::error::{Error, Result};
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
/// problem (`integrity`), not an error; a missing file is an error.
pub fn check_store(path: &Path) -> Result<CheckReport> {
    if !path.exists() {
        return Err(Error::Store {
            path: path.to_path_buf(),
            message: "no store here; run `crmfuse run CONFIG` first".into(),
        });
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| Error::store(path, e))?;
    conn.busy_timeout(store::WRITER_WAIT)
        .map_err(|e| Error::store(path, e))?;
    match check(&conn, path) {
        Ok(report) => Ok(report),
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
                "not a complete crmfuse store: table(s) {} missing",
                missing.join(", ")
            ),
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
           AND NOT EXISTS (SELECT 1 FROM customer_sources s WHERE s.customer_id = c.customer_id)
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
        "SELECT s.source, s.source_key, s.customer_id, c.status FROM customer_sources s
         LEFT JOIN customers c ON c.customer_id = s.customer_id
         WHERE c.customer_id IS NULL OR c.status <> 'active'
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
        "SELECT l.customer_id, l.field, l.source, l.source_key, s.customer_id
         FROM field_lineage l
         LEFT JOIN customer_sources s ON s.source = l.source AND s.source_key = l.source_key
         WHERE s.customer_id IS NULL OR s.customer_id <> l.customer_id
         ORDER BY l.customer_id, l.field",
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
    // The lineage's value is the golden value, and every golden value has its lineage.
    let case: String = store::golden_columns()
        .map(|c| format!("WHEN '{c}' THEN c.{c}"))
        .collect::<Vec<_>>()
        .join(" ");
    report.find(
        conn,
        "lineage.value",
        &format!(
            "SELECT l.customer_id, l.field FROM field_lineage l
             JOIN customers c ON c.customer_id = l.customer_id
             WHERE c.status = 'active' AND l.value IS NOT (CASE l.field {case} END)
             ORDER BY l.customer_id, l.field"
        ),
        |r| {
            Ok(format!(
                "field_lineage: {} of customer {} differs from the golden profile",
                r.get::<_, String>(1)?,
                r.get::<_, String>(0)?
            ))
        },
    )?;
    let missing: Vec<String> = store::golden_columns()
        .map(|c| {
            format!(
                "SELECT c.customer_id, '{c}' FROM customers c
                 WHERE c.status = 'active' AND c.{c} IS NOT NULL
                   AND NOT EXISTS (SELECT 1 FROM field_lineage l
                                   WHERE l.customer_id = c.customer_id AND l.field = '{c}')"
            )
        })
        .collect();
    report.find(
        conn,
        "lineage.missing",
        &format!("{} ORDER BY 1, 2", missing.join(" UNION ALL ")),
        |r| {
            Ok(format!(
                "customer {} has a value for {} but no lineage for it",
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?
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
}

/// Every run balances; the latest run's counts are what the tables hold.
fn runs(conn: &Connection, report: &mut CheckReport) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare(
        "SELECT run_id, rows_read, records_loaded, rows_quarantined, summary_json
         FROM runs ORDER BY run_id",
    )?;
    let runs: Vec<(i64, i64, i64, i64, String)> = stmt
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut latest: Option<(i64, i64, i64, BTreeMap<String, SourceCounts>)> = None;
    for (run_id, read, loaded, quarantined, summary) in runs {
        if read != loaded + quarantined {
            report.push(
                "run.balance",
                format!(
                    "run {run_id}: rows_read {read} is not records_loaded {loaded} + rows_quarantined {quarantined}"
                ),
            );
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
        latest = Some((run_id, loaded, quarantined, sources));
    }

    let per_source = |table: &str| -> rusqlite::Result<BTreeMap<String, u64>> {
        conn.prepare(&format!(
            "SELECT source, count(*) FROM {table} GROUP BY source"
        ))?
        .query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
        })?
        .collect()
    };
    let xref = per_source("customer_sources")?;
    let quarantine = per_source("quarantine")?;
    let Some((run_id, loaded, quarantined, sources)) = latest else {
        if !xref.is_empty() || !quarantine.is_empty() {
            report.push(
                "run.latest",
                "customer_sources or quarantine hold rows but no run is recorded".into(),
            );
        }
        return Ok(());
    };
    let total = |m: &BTreeMap<String, u64>| m.values().sum::<u64>() as i64;
    if total(&xref) != loaded {
        report.push(
            "run.latest",
            format!(
                "latest run {run_id} loaded {loaded} records but customer_sources holds {}",
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
        if (x, q) != (s.loaded, s.quarantined) {
            report.push(
                "run.latest",
                format!(
                    "source {name}: latest run {run_id} read {} rows ({} loaded, {} quarantined) but the store holds {x} in customer_sources and {q} in quarantine",
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

/// The per-source counts of a run's summary JSON.
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
                    },
                );
            }
            _ => return Err("has a source without name, rows_read, loaded and quarantined".into()),
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
                quarantined: 1
            }
        );
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
    }
}
