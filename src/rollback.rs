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
            return Err(Error::Store {
                path: store.to_path_buf(),
                message: format!(
                    "run {} has no undo log (it was loaded by an older crmfuse); it cannot be rolled back exactly",
                    r.run_id
                ),
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
