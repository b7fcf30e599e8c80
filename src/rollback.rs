//! Rollback: `RUN_ID -> store as it was before that run`.
//!
//! Every run (and every steward override) writes, in the same transaction and by the same
//! code that changes the rows, the previous state of each row it inserts, updates or
//! deletes into `undo_log` (see `load::UndoLog`). A rollback of run N replays the undo
//! rows of runs N, N+1, ... in reverse order (latest run first, last change first), then
//! deletes those runs' rows from `runs`, `audit_events` and `undo_log`, all in one
//! transaction. An undo row `clear` says the table was empty before its run (a first load
//! logs one instead of a row per insert): it is undone by emptying the table.
//! The store is then identical, table by table and row by row, to the store
//! before run N: the rollback leaves no trace in it (the command prints what it removed).
//! A run recorded by a crmfuse without an undo log cannot be rolled back exactly, and the
//! rollback is refused.
//!
//! Prune: the undo log grows with every run (a nightly sync of 10,000 changes adds about
//! 54,000 rows, 13 MiB). [`prune`] deletes the undo log of all but the newest runs, in one
//! transaction; those older runs keep their `runs` rows and audit events but can no longer
//! be rolled back, and a rollback to one of them is refused with the reason.

use std::path::Path;

use rusqlite::{Connection, TransactionBehavior, params_from_iter};

use crate::error::{Error, Result};
use crate::history::{self, RunEntry};
use crate::load::{UNDO_TABLES, json_to_cell};
use crate::store::Cell;

/// The runs a rollback of `run_id` removes (that run and every later one), oldest first.
pub fn runs_to_remove(conn: &Connection, store: &Path, run_id: i64) -> Result<Vec<RunEntry>> {
    let runs = history::runs_from(conn, store, run_id)?;
    match runs.first() {
        Some(r) if r.run_id == run_id => Ok(runs),
        _ => Err(Error::Store {
            path: store.to_path_buf(),
            message: format!("no run {run_id} in this store; `crmfuse history` lists the runs"),
        }),
    }
}

/// Restore the store to its state before `run_id`, in one transaction. Returns the runs
/// removed.
pub fn rollback(conn: &mut Connection, store: &Path, run_id: i64) -> Result<Vec<RunEntry>> {
    let db = |e: rusqlite::Error| Error::store(store, e);
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db)?;
    let runs = runs_to_remove(&tx, store, run_id)?;
    for r in &runs {
        let n: i64 = tx
            .query_row(
                "SELECT count(*) FROM undo_log WHERE run_id = ?1",
                [r.run_id],
                |row| row.get(0),
            )
            .map_err(db)?;
        if n == 0 {
            let pruned_before = crate::store::meta_get(&tx, UNDO_PRUNED_BEFORE)
                .map_err(db)?
                .and_then(|v| v.parse::<i64>().ok());
            let message = match pruned_before {
                Some(p) if r.run_id < p => format!(
                    "run {} cannot be rolled back: `crmfuse prune` deleted the undo log of the runs before run {p}",
                    r.run_id
                ),
                _ => format!(
                    "run {} has no undo log (it was loaded by an older crmfuse); it cannot be rolled back exactly",
                    r.run_id
                ),
            };
            return Err(Error::Store {
                path: store.to_path_buf(),
                message,
            });
        }
    }
    // Restoring a row deletes it first: parents may be briefly missing their children's
    // references, so foreign keys are checked at commit.
    tx.execute_batch("PRAGMA defer_foreign_keys = ON")
        .map_err(db)?;
    type UndoRow = (i64, i64, String, String, String, Option<String>);
    let undo: Vec<UndoRow> = tx
        .prepare(
            "SELECT run_id, seq, table_name, op, key_json, before_json FROM undo_log
             WHERE run_id >= ?1 ORDER BY run_id DESC, seq DESC",
        )
        .map_err(db)?
        .query_map([run_id], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })
        .map_err(db)?
        .collect::<rusqlite::Result<_>>()
        .map_err(db)?;
    for (run, seq, table, op, key_json, before_json) in undo {
        let bad = |what: &str| Error::Store {
            path: store.to_path_buf(),
            message: format!("undo_log run {run} seq {seq}: {what}"),
        };
        let Some(&(table, key_cols)) = UNDO_TABLES.iter().find(|(t, _)| *t == table) else {
            return Err(bad("names a table that runs do not write"));
        };
        if op == "clear" {
            // The table was empty before that run.
            tx.execute(&format!("DELETE FROM {table}"), [])
                .map_err(db)?;
            continue;
        }
        let key: Vec<Cell> = serde_json::from_str::<Vec<serde_json::Value>>(&key_json)
            .ok()
            .and_then(|v| v.iter().map(json_to_cell).collect())
            .filter(|k: &Vec<Cell>| k.len() == key_cols.len())
            .ok_or_else(|| bad("unreadable key"))?;
        let before = match before_json {
            Some(before) => {
                let row =
                    serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&before)
                        .map_err(|_| bad("unreadable row"))?;
                let mut cols = Vec::with_capacity(row.len());
                let mut values = Vec::with_capacity(row.len());
                for (c, v) in row {
                    if !c.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_') {
                        return Err(bad("unreadable column name"));
                    }
                    values.push(json_to_cell(&v).ok_or_else(|| bad("unreadable value"))?);
                    cols.push(c);
                }
                Some((cols, values))
            }
            None => None,
        };
        if let (Some((cols, values)), "update") = (&before, op.as_str()) {
            // The row as the update left it (later changes are undone already): set back
            // the columns logged, which are all of them or those the update changed.
            let set: Vec<String> = cols
                .iter()
                .enumerate()
                .map(|(i, c)| format!("{c} = ?{}", i + 1))
                .collect();
            let cond: Vec<String> = key_cols
                .iter()
                .enumerate()
                .map(|(i, c)| format!("{c} = ?{}", cols.len() + i + 1))
                .collect();
            let changed = tx
                .prepare_cached(&format!(
                    "UPDATE {table} SET {} WHERE {}",
                    set.join(", "),
                    cond.join(" AND ")
                ))
                .and_then(|mut s| s.execute(params_from_iter(values.iter().chain(&key))))
                .map_err(db)?;
            if changed != 1 {
                return Err(bad("the updated row is not in the store"));
            }
            continue;
        }
        let cond: Vec<String> = key_cols
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c} = ?{}", i + 1))
            .collect();
        tx.prepare_cached(&format!("DELETE FROM {table} WHERE {}", cond.join(" AND ")))
            .and_then(|mut s| s.execute(params_from_iter(key.iter())))
            .map_err(db)?;
        if let Some((cols, values)) = before {
            let placeholders: Vec<String> = (1..=cols.len()).map(|i| format!("?{i}")).collect();
            tx.prepare_cached(&format!(
                "INSERT INTO {table} ({}) VALUES ({})",
                cols.join(", "),
                placeholders.join(", ")
            ))
            .and_then(|mut s| s.execute(params_from_iter(values.iter())))
            .map_err(db)?;
        }
    }
    for sql in [
        "DELETE FROM undo_log WHERE run_id >= ?1",
        "DELETE FROM audit_events WHERE run_id >= ?1",
        "DELETE FROM term_counts WHERE run_id >= ?1",
        "DELETE FROM runs WHERE run_id >= ?1",
    ] {
        tx.execute(sql, [run_id]).map_err(db)?;
    }
    tx.commit().map_err(db)?;
    Ok(runs)
}

/// `meta` key: the runs with a lower id lost their undo log to [`prune`].
pub const UNDO_PRUNED_BEFORE: &str = "undo_pruned_before";

/// What a prune that keeps the undo logs of the newest `keep` runs deletes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prune {
    /// The runs that lose their undo log (those that still have one), oldest first.
    pub runs: Vec<RunEntry>,
    /// The oldest run that keeps its undo log (`None`: no more than `keep` runs).
    pub kept_from: Option<i64>,
}

/// What [`prune`] would delete, keeping the undo logs of the newest `keep` runs (run,
/// sync and steward commands alike).
pub fn runs_to_prune(conn: &Connection, store: &Path, keep: usize) -> Result<Prune> {
    let all = history::runs(conn, store)?;
    let Some(kept_from) = all.len().checked_sub(keep.max(1)).map(|i| all[i].run_id) else {
        return Ok(Prune {
            runs: Vec::new(),
            kept_from: None,
        });
    };
    Ok(Prune {
        runs: all
            .into_iter()
            .filter(|r| r.run_id < kept_from && r.undo_log)
            .collect(),
        kept_from: Some(kept_from),
    })
}

/// Delete the undo log of every run but the newest `keep`, in one transaction. Returns
/// what was pruned and how many undo rows went. The runs' rows and audit events stay.
/// The store file keeps its size: later runs reuse the freed pages.
pub fn prune(conn: &mut Connection, store: &Path, keep: usize) -> Result<(Prune, usize)> {
    let db = |e: rusqlite::Error| Error::store(store, e);
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db)?;
    let plan = runs_to_prune(&tx, store, keep)?;
    let Some(kept_from) = plan.kept_from.filter(|_| !plan.runs.is_empty()) else {
        return Ok((plan, 0));
    };
    let deleted = tx
        .execute("DELETE FROM undo_log WHERE run_id < ?1", [kept_from])
        .map_err(db)?;
    let before = crate::store::meta_get(&tx, UNDO_PRUNED_BEFORE)
        .map_err(db)?
        .and_then(|v| v.parse::<i64>().ok())
        .unwrap_or(0);
    tx.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [UNDO_PRUNED_BEFORE, &before.max(kept_from).to_string()],
    )
    .map_err(db)?;
    tx.commit().map_err(db)?;
    Ok((plan, deleted))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prune_keeps_the_newest_runs_and_passes_over_runs_without_an_undo_log() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("crm.db");
        let mut conn = crate::store::open_rw(&p).unwrap();
        for id in 1..=4 {
            conn.execute(
                "INSERT INTO runs VALUES (?1, 't', 't', 'sync', 'c', 'h', 'v', 10, 9, 1, 3, 0, 0, 0, 4, 3, '{}', '{}')",
                [id],
            )
            .unwrap();
        }
        // Run 1 was loaded by a crmfuse without an undo log; the others logged 2 rows each.
        for (id, seq) in [(2, 1), (2, 2), (3, 1), (3, 2), (4, 1), (4, 2)] {
            conn.execute(
                "INSERT INTO undo_log VALUES (?1, ?2, 'meta', 'insert', '[\"k\"]', NULL)",
                [id, seq],
            )
            .unwrap();
        }
        let ids = |p: &Prune| p.runs.iter().map(|r| r.run_id).collect::<Vec<_>>();
        let all = runs_to_prune(&conn, &p, 5).unwrap();
        assert_eq!((ids(&all), all.kept_from), (vec![], None));
        let none = runs_to_prune(&conn, &p, 4).unwrap();
        assert_eq!((ids(&none), none.kept_from), (vec![], Some(1)));
        let two = runs_to_prune(&conn, &p, 2).unwrap();
        assert_eq!((ids(&two), two.kept_from), (vec![2], Some(3)));

        let older = rollback(&mut conn, &p, 1).unwrap_err().to_string();
        assert!(older.contains("older crmfuse"), "{older}");

        let (done, rows) = prune(&mut conn, &p, 2).unwrap();
        assert_eq!((ids(&done), rows), (vec![2], 2));
        let left: Vec<i64> = conn
            .prepare("SELECT DISTINCT run_id FROM undo_log ORDER BY 1")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(left, [3, 4]);
        let note = |c: &Connection| crate::store::meta_get(c, UNDO_PRUNED_BEFORE).unwrap();
        assert_eq!(note(&conn).as_deref(), Some("3"));
        // Keeping more runs later brings nothing back, and the note keeps the furthest
        // prune.
        let (again, rows) = prune(&mut conn, &p, 3).unwrap();
        assert_eq!((ids(&again), again.kept_from, rows), (vec![], Some(2), 0));
        assert_eq!(note(&conn).as_deref(), Some("3"));
        // Now the refusal names the prune.
        let pruned = rollback(&mut conn, &p, 2).unwrap_err().to_string();
        assert!(pruned.contains("`crmfuse prune` deleted"), "{pruned}");
    }
}
