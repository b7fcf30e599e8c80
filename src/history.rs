//! History: `store -> Vec<RunEntry>`, the runs recorded in the store with their counts,
//! oldest first. Reads only.

use rusqlite::Connection;
use serde::Serialize;

use crate::error::{Error, Result};

/// One row of `runs`, without the large JSON columns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunEntry {
    pub run_id: i64,
    pub started_at: String,
    /// run | sync | link | unlink | pin | retire_source | revoke
    pub command: String,
    pub rows_read: i64,
    pub records_loaded: i64,
    pub rows_quarantined: i64,
    pub customers_created: i64,
    pub customers_updated: i64,
    pub customers_merged: i64,
    pub customers_retired: i64,
    pub links: i64,
    /// Audit events the run recorded.
    pub changes: i64,
    /// Its undo log is in the store. A rollback to a run needs the undo logs of that run
    /// and every later one: runs loaded by a crmfuse older than the undo log have none,
    /// and `crmfuse prune` deletes those of old runs.
    pub undo_log: bool,
}

/// Every run in the store, oldest first.
pub fn runs(conn: &Connection, store: &std::path::Path) -> Result<Vec<RunEntry>> {
    runs_from(conn, store, 0)
}

/// The runs with an id at or after `from`, oldest first.
pub fn runs_from(conn: &Connection, store: &std::path::Path, from: i64) -> Result<Vec<RunEntry>> {
    let db = |e: rusqlite::Error| Error::store(store, e);
    // (A store written before the undo log existed has no such table.)
    let undo = if crate::store::has_table(conn, "undo_log").map_err(db)? {
        "EXISTS (SELECT 1 FROM undo_log u WHERE u.run_id = runs.run_id)"
    } else {
        "0"
    };
    let mut stmt = conn
        .prepare(&format!(
            "SELECT run_id, started_at, command, rows_read, records_loaded, rows_quarantined,
                customers_created, customers_updated, customers_merged, customers_retired,
                links, changes, {undo}
             FROM runs WHERE run_id >= ?1 ORDER BY run_id"
        ))
        .map_err(db)?;
    let rows = stmt
        .query_map([from], |r| {
            Ok(RunEntry {
                run_id: r.get(0)?,
                started_at: r.get(1)?,
                command: r.get(2)?,
                rows_read: r.get(3)?,
                records_loaded: r.get(4)?,
                rows_quarantined: r.get(5)?,
                customers_created: r.get(6)?,
                customers_updated: r.get(7)?,
                customers_merged: r.get(8)?,
                customers_retired: r.get(9)?,
                links: r.get(10)?,
                changes: r.get(11)?,
                undo_log: r.get(12)?,
            })
        })
        .map_err(db)?;
    rows.collect::<rusqlite::Result<_>>().map_err(db)
}

/// A fixed-width table of runs, one line each, with a header.
pub fn format_table(runs: &[RunEntry]) -> String {
    let mut out = format!(
        "{:>6}  {:<24}  {:<13} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}  {}\n",
        "run",
        "started",
        "command",
        "read",
        "loaded",
        "created",
        "updated",
        "merged",
        "retired",
        "changes",
        "undo"
    );
    for r in runs {
        out.push_str(&format!(
            "{:>6}  {:<24}  {:<13} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}  {}\n",
            r.run_id,
            r.started_at,
            r.command,
            r.rows_read,
            r.records_loaded,
            r.customers_created,
            r.customers_updated,
            r.customers_merged,
            r.customers_retired,
            r.changes,
            if r.undo_log { "yes" } else { "none" }
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_runs_oldest_first_and_from_an_id() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("crm.db");
        let conn = crate::store::open_rw(&p).unwrap();
        for (id, cmd) in [(2, "sync"), (1, "run")] {
            conn.execute(
                "INSERT INTO runs VALUES (?1, 't', 't', ?2, 'c', 'h', 'v', 10, 9, 1, 3, 0, 0, 0, 4, 3, '{}', '{}')",
                rusqlite::params![id, cmd],
            )
            .unwrap();
        }
        let all = runs(&conn, &p).unwrap();
        assert_eq!(
            all.iter()
                .map(|r| (r.run_id, r.command.as_str()))
                .collect::<Vec<_>>(),
            [(1, "run"), (2, "sync")]
        );
        assert_eq!(all[0].rows_read, 10);
        assert_eq!(all[0].customers_created, 3);
        assert_eq!(runs_from(&conn, &p, 2).unwrap().len(), 1);
        let table = format_table(&all);
        assert_eq!(table.lines().count(), 3);
        assert!(table.lines().nth(2).unwrap().contains("sync"));
    }
}
