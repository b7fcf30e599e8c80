//! Bulk writing: rows built into a few buffers per batch ([`RowBatch`]), and inserted
//! through a prepared statement that binds the buffers' text where it lies
//! ([`BulkInsert`]).
//!
//! Why not rows of [`Cell`]s through rusqlite: a first load of 1M records writes 9.2M rows.
//! As `Vec<Vec<Cell>>`, each was a vector and about five strings, allocated on the threads
//! that made them and freed on the one that writes; and rusqlite binds every text by
//! copying it (SQLite's `SQLITE_TRANSIENT`). Binding and freeing were a third of the
//! writing thread's time (`perf`, 1M load). A batch is a few allocations (its cells, and a
//! text buffer per piece it was made of), and its text is read once, in order, when SQLite
//! builds the record.

use std::cmp::Ordering;
use std::ffi::{CStr, CString, c_int};
use std::marker::PhantomData;

use rusqlite::Connection;
use rusqlite::ffi;
use rusqlite::types::ValueRef;

use crate::store::Cell;

#[derive(Debug, Clone, Copy)]
enum Slot {
    Null,
    Int(i64),
    Real(f64),
    /// A range of one of [`RowBatch::texts`].
    Text(u32, usize, usize),
}

/// Rows of `width` cells each, their text in a few buffers. Built cell by cell: a row is
/// complete once it has `width` cells.
#[derive(Debug, Clone)]
pub struct RowBatch {
    width: usize,
    slots: Vec<Slot>,
    /// Text is written to the first buffer. Appending a batch moves its buffers over
    /// instead of copying their text (a whole table's rows, 0.9 GB of them for
    /// `customer_sources` at 1M records, are made in pieces and appended). Only ever
    /// written with UTF-8 (from `&str`, `fmt` or JSON), so every range a slot names is
    /// UTF-8.
    texts: Vec<Vec<u8>>,
}

impl RowBatch {
    pub fn new(width: usize) -> RowBatch {
        assert!(width > 0, "a row has at least one cell");
        RowBatch {
            width,
            slots: Vec::new(),
            texts: vec![Vec::new()],
        }
    }

    /// The buffer text is written to, and its index.
    fn text_buf(&mut self) -> (u32, &mut Vec<u8>) {
        (0, &mut self.texts[0])
    }

    pub fn width(&self) -> usize {
        self.width
    }

    /// Complete rows.
    pub fn len(&self) -> usize {
        self.slots.len() / self.width
    }

    pub fn is_empty(&self) -> bool {
        self.slots.len() < self.width
    }

    pub fn null(&mut self) {
        self.slots.push(Slot::Null);
    }

    pub fn int(&mut self, v: i64) {
        self.slots.push(Slot::Int(v));
    }

    pub fn real(&mut self, v: f64) {
        self.slots.push(Slot::Real(v));
    }

    pub fn text(&mut self, s: &str) {
        let (i, buf) = self.text_buf();
        let start = buf.len();
        buf.extend_from_slice(s.as_bytes());
        let end = buf.len();
        self.slots.push(Slot::Text(i, start, end));
    }

    pub fn opt_text(&mut self, s: Option<&str>) {
        match s {
            Some(s) => self.text(s),
            None => self.null(),
        }
    }

    /// A text cell written by `format_args!`.
    pub fn fmt(&mut self, args: std::fmt::Arguments<'_>) {
        use std::io::Write;
        let (i, buf) = self.text_buf();
        let start = buf.len();
        // Writing to a vector does not fail.
        let _ = buf.write_fmt(args);
        let end = buf.len();
        self.slots.push(Slot::Text(i, start, end));
    }

    /// A text cell that `write` appends to the buffer it is given, in UTF-8.
    pub fn text_with(&mut self, write: impl FnOnce(&mut Vec<u8>)) {
        let (i, buf) = self.text_buf();
        let start = buf.len();
        write(buf);
        let end = buf.len();
        debug_assert!(std::str::from_utf8(&buf[start..end]).is_ok());
        self.slots.push(Slot::Text(i, start, end));
    }

    /// A text cell holding `v` as JSON. On an error nothing is added.
    pub fn json<T: serde::Serialize + ?Sized>(&mut self, v: &T) -> serde_json::Result<()> {
        let (i, buf) = self.text_buf();
        let start = buf.len();
        match serde_json::to_writer(&mut *buf, v) {
            Ok(()) => {
                let end = buf.len();
                self.slots.push(Slot::Text(i, start, end));
                Ok(())
            }
            Err(e) => {
                buf.truncate(start);
                Err(e)
            }
        }
    }

    pub fn cell(&mut self, c: &Cell) {
        match c {
            Cell::Null => self.null(),
            Cell::Int(v) => self.int(*v),
            Cell::Real(bits) => self.real(f64::from_bits(*bits)),
            Cell::Text(s) => self.text(s),
        }
    }

    /// Append `other`'s rows after this batch's (its text buffers move, uncopied).
    pub fn append(&mut self, other: RowBatch) {
        assert_eq!(self.width, other.width, "batches of different widths");
        // (This batch's first buffer stays the one written to.)
        let base = self.texts.len() as u32;
        self.texts.extend(other.texts);
        self.slots.extend(other.slots.into_iter().map(|s| match s {
            Slot::Text(i, a, b) => Slot::Text(i + base, a, b),
            s => s,
        }));
    }

    /// Batches one after the other, as one.
    pub fn concat(width: usize, batches: Vec<RowBatch>) -> RowBatch {
        let mut all = RowBatch::new(width);
        all.slots
            .reserve(batches.iter().map(|b| b.slots.len()).sum::<usize>());
        all.texts
            .reserve(batches.iter().map(|b| b.texts.len()).sum::<usize>());
        for b in batches {
            all.append(b);
        }
        all
    }

    fn value(&self, s: Slot) -> ValueRef<'_> {
        match s {
            Slot::Null => ValueRef::Null,
            Slot::Int(v) => ValueRef::Integer(v),
            Slot::Real(v) => ValueRef::Real(v),
            Slot::Text(i, a, b) => ValueRef::Text(&self.texts[i as usize][a..b]),
        }
    }

    /// Row `i`'s cells.
    pub fn row(&self, i: usize) -> impl ExactSizeIterator<Item = ValueRef<'_>> + '_ {
        self.slots[i * self.width..(i + 1) * self.width]
            .iter()
            .map(|&s| self.value(s))
    }

    /// Row `i`'s cells as [`Cell`]s.
    pub fn cells(&self, i: usize) -> Vec<Cell> {
        self.row(i).map(Cell::from_value_ref).collect()
    }

    /// How two cells order, as the [`Cell`]s they hold would (`Null < Int < Real < Text`,
    /// reals by their bits, texts by their bytes).
    fn cmp_slots(&self, a: Slot, b: Slot) -> Ordering {
        let rank = |s: Slot| match s {
            Slot::Null => 0,
            Slot::Int(_) => 1,
            Slot::Real(_) => 2,
            Slot::Text(..) => 3,
        };
        match (a, b) {
            (Slot::Int(x), Slot::Int(y)) => x.cmp(&y),
            (Slot::Real(x), Slot::Real(y)) => x.to_bits().cmp(&y.to_bits()),
            (Slot::Text(i, a0, a1), Slot::Text(j, b0, b1)) => {
                self.texts[i as usize][a0..a1].cmp(&self.texts[j as usize][b0..b1])
            }
            (a, b) => rank(a).cmp(&rank(b)),
        }
    }

    /// The rows' indices ordered by their first `pk` cells, keeping only the first row
    /// (in batch order) of each key.
    pub fn key_order(&self, pk: usize) -> Vec<usize> {
        use rayon::prelude::*;
        let key = |i: usize| &self.slots[i * self.width..i * self.width + pk];
        let cmp = |a: usize, b: usize| {
            key(a)
                .iter()
                .zip(key(b))
                .map(|(&x, &y)| self.cmp_slots(x, y))
                .find(|o| o.is_ne())
                .unwrap_or(Ordering::Equal)
        };
        let mut order: Vec<usize> = (0..self.len()).collect();
        // Rows made in key order (a first load makes most of them so) need no sort.
        if order.windows(2).all(|w| cmp(w[0], w[1]).is_lt()) {
            return order;
        }
        // Stable: of equal keys, the first in the batch comes first and is kept.
        order.par_sort_by(|&a, &b| cmp(a, b));
        order.dedup_by(|b, a| cmp(*a, *b).is_eq());
        order
    }
}

/// A prepared statement that binds text and blobs in place (`SQLITE_STATIC`) rather than
/// copying them, as rusqlite does. For the loader's bulk inserts; it lives no longer than
/// its connection, and is used on the connection's thread only (it is neither `Send` nor
/// `Sync`).
pub struct BulkInsert<'c> {
    db: *mut ffi::sqlite3,
    stmt: *mut ffi::sqlite3_stmt,
    params: usize,
    _conn: PhantomData<&'c Connection>,
}

impl<'c> BulkInsert<'c> {
    pub fn new(conn: &'c Connection, sql: &str) -> rusqlite::Result<BulkInsert<'c>> {
        let sql = CString::new(sql)?;
        // SAFETY: the handle is the live connection's, which `'c` outlives this statement
        // (finalised in `drop`); SQLite checks the SQL.
        unsafe {
            let db = conn.handle();
            let mut stmt = std::ptr::null_mut();
            let rc = ffi::sqlite3_prepare_v2(db, sql.as_ptr(), -1, &mut stmt, std::ptr::null_mut());
            if rc != ffi::SQLITE_OK {
                return Err(sqlite_error(db, rc));
            }
            if stmt.is_null() {
                return Err(rusqlite::Error::InvalidQuery);
            }
            let params = ffi::sqlite3_bind_parameter_count(stmt) as usize;
            Ok(BulkInsert {
                db,
                stmt,
                params,
                _conn: PhantomData,
            })
        }
    }

    /// Run the statement once with `row`'s values, one per parameter; the number of rows
    /// it inserted, updated or deleted.
    pub fn execute<'v>(
        &mut self,
        row: impl IntoIterator<Item = ValueRef<'v>>,
    ) -> rusqlite::Result<usize> {
        let mut n = 0;
        let mut result = Ok(());
        for v in row {
            n += 1;
            if n > self.params {
                continue;
            }
            // SAFETY: `stmt` is live; a text or blob is bound without a copy
            // (`SQLITE_STATIC`) and must outlive its use: the bindings are cleared below,
            // before `row`'s borrows end.
            let rc = unsafe {
                let i = n as c_int;
                match v {
                    ValueRef::Null => ffi::sqlite3_bind_null(self.stmt, i),
                    ValueRef::Integer(x) => ffi::sqlite3_bind_int64(self.stmt, i, x),
                    ValueRef::Real(x) => ffi::sqlite3_bind_double(self.stmt, i, x),
                    ValueRef::Text(t) => ffi::sqlite3_bind_text64(
                        self.stmt,
                        i,
                        t.as_ptr().cast(),
                        t.len() as ffi::sqlite3_uint64,
                        ffi::SQLITE_STATIC(),
                        ffi::SQLITE_UTF8 as u8,
                    ),
                    ValueRef::Blob(b) => ffi::sqlite3_bind_blob64(
                        self.stmt,
                        i,
                        b.as_ptr().cast(),
                        b.len() as ffi::sqlite3_uint64,
                        ffi::SQLITE_STATIC(),
                    ),
                }
            };
            if rc != ffi::SQLITE_OK && result.is_ok() {
                // SAFETY: `db` is live.
                result = Err(unsafe { sqlite_error(self.db, rc) });
            }
        }
        if n != self.params && result.is_ok() {
            result = Err(rusqlite::Error::InvalidParameterCount(n, self.params));
        }
        let mut changed = 0;
        // SAFETY: `stmt` and `db` are live. The error message is read before the reset.
        unsafe {
            if result.is_ok() {
                let rc = ffi::sqlite3_step(self.stmt);
                if rc != ffi::SQLITE_DONE && rc != ffi::SQLITE_ROW {
                    result = Err(sqlite_error(self.db, rc));
                }
                changed = ffi::sqlite3_changes64(self.db) as usize;
            }
            ffi::sqlite3_reset(self.stmt);
            ffi::sqlite3_clear_bindings(self.stmt);
        }
        result.map(|()| changed)
    }
}

impl Drop for BulkInsert<'_> {
    fn drop(&mut self) {
        // SAFETY: `stmt` is live and finalised once.
        unsafe {
            ffi::sqlite3_finalize(self.stmt);
        }
    }
}

/// Inserts into a table that holds none of the keys inserted (a first load's), many rows
/// to a statement: SQLite then opens the table's cursors, and finds where a row goes from
/// its b-tree's root, once a statement instead of once a row. A 1M first load's load
/// stage: 12.3-13.6 s with a statement a row, 8.9-9.3 s with this.
///
/// The statements are `INSERT OR IGNORE`: a multi-row statement that may abort needs a
/// statement journal, which copies every page it changes. Nothing conflicts in such a
/// table, so all `OR IGNORE` changes is that; a row ignored all the same (its key given
/// twice, a required value missing) is told by [`MultiInsert::insert`]'s count.
pub struct MultiInsert<'c> {
    one: BulkInsert<'c>,
    many: BulkInsert<'c>,
}

impl<'c> MultiInsert<'c> {
    /// Rows to a statement.
    pub const ROWS: usize = 256;

    pub fn new(conn: &'c Connection, table: &str, cols: &[&str]) -> rusqlite::Result<Self> {
        let sql = |rows: usize| {
            let row = format!("({})", vec!["?"; cols.len()].join(", "));
            format!(
                "INSERT OR IGNORE INTO {table} ({}) VALUES {}",
                cols.join(", "),
                vec![row; rows].join(", ")
            )
        };
        Ok(MultiInsert {
            one: BulkInsert::new(conn, &sql(1))?,
            many: BulkInsert::new(conn, &sql(Self::ROWS))?,
        })
    }

    /// Insert a row for each of `items`, `values` giving its values; the number of rows
    /// inserted (fewer than `items` when SQLite ignored one).
    pub fn insert<'v, T, I>(
        &mut self,
        items: &'v [T],
        values: impl Fn(&'v T) -> I,
    ) -> rusqlite::Result<usize>
    where
        I: IntoIterator<Item = ValueRef<'v>>,
    {
        let mut inserted = 0;
        let mut groups = items.chunks_exact(Self::ROWS);
        for group in &mut groups {
            inserted += self.many.execute(group.iter().flat_map(&values))?;
        }
        for item in groups.remainder() {
            inserted += self.one.execute(values(item))?;
        }
        Ok(inserted)
    }
}

/// SQLite's error `rc` with the connection's message for it.
///
/// # Safety
/// `db` must be a live connection.
unsafe fn sqlite_error(db: *mut ffi::sqlite3, rc: c_int) -> rusqlite::Error {
    // SAFETY: `db` is live (the caller's promise); SQLite's message is a C string that
    // lives until the connection's next call, and is copied out at once.
    let msg = unsafe {
        let msg = ffi::sqlite3_errmsg(db);
        (!msg.is_null()).then(|| CStr::from_ptr(msg).to_string_lossy().into_owned())
    };
    rusqlite::Error::SqliteFailure(ffi::Error::new(rc), msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch() -> RowBatch {
        let mut b = RowBatch::new(3);
        for (k, n, t) in [("b", 2, "x"), ("a", 1, "y"), ("b", 2, "z"), ("a", 3, "w")] {
            b.text(k);
            b.int(n);
            b.text(t);
        }
        b
    }

    #[test]
    fn a_batch_orders_by_key_and_keeps_the_first_row_of_a_key() {
        let b = batch();
        assert_eq!(b.len(), 4);
        assert_eq!(b.key_order(2), vec![1, 3, 0]);
        assert_eq!(b.key_order(1), vec![1, 0]);
        // Rows already in order.
        let mut s = RowBatch::new(2);
        for (k, n) in [("a", 2), ("b", 1), ("b", 3), ("c", 0)] {
            s.text(k);
            s.int(n);
        }
        assert_eq!(s.key_order(2), vec![0, 1, 2, 3]);
        assert_eq!(s.key_order(1), vec![0, 1, 3]);
        // The order of cells is that of `Cell`.
        let mut c = RowBatch::new(1);
        c.text("a");
        c.real(0.5);
        c.int(7);
        c.null();
        c.int(-1);
        let order = c.key_order(1);
        let mut cells: Vec<Vec<Cell>> = (0..c.len()).map(|i| c.cells(i)).collect();
        cells.sort();
        assert_eq!(order.iter().map(|&i| c.cells(i)).collect::<Vec<_>>(), cells);
    }

    #[test]
    fn batches_append_with_their_text() {
        let mut a = batch();
        let mut b = RowBatch::new(3);
        b.fmt(format_args!("{:04}", 7));
        b.null();
        b.json(&vec!["q\"", "r"]).unwrap();
        a.append(b);
        // Written after an append, text goes on after the batch's own.
        a.text("c");
        a.int(9);
        a.text("after");
        let rows: Vec<Vec<Cell>> = (0..a.len()).map(|i| a.cells(i)).collect();
        assert_eq!(rows.len(), 6);
        assert_eq!(
            rows[5],
            vec![Cell::text("c"), Cell::Int(9), Cell::text("after")]
        );
        assert_eq!(
            rows[3],
            vec![Cell::text("a"), Cell::Int(3), Cell::text("w")]
        );
        assert_eq!(
            rows[4],
            vec![Cell::text("0007"), Cell::Null, Cell::text(r#"["q\"","r"]"#)]
        );
    }

    #[test]
    fn bulk_insert_writes_every_kind_of_value_and_reports_sqlite_errors() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (k TEXT PRIMARY KEY, n INTEGER, r REAL, z)")
            .unwrap();
        let mut ins = BulkInsert::new(&conn, "INSERT INTO t VALUES (?1, ?2, ?3, ?4)").unwrap();
        let mut b = RowBatch::new(4);
        b.text("k1");
        b.int(5);
        b.real(0.25);
        b.null();
        b.text("k2");
        b.null();
        b.real(-1.0);
        b.text("é\u{1F600}");
        for i in 0..b.len() {
            assert_eq!(ins.execute(b.row(i)).unwrap(), 1);
        }
        // A second row with key k1: SQLite's message names the column, not the value.
        let err = ins.execute(b.row(0)).unwrap_err();
        assert_eq!(
            err.sqlite_error_code(),
            Some(rusqlite::ErrorCode::ConstraintViolation)
        );
        assert!(err.to_string().contains("t.k"), "{err}");
        assert!(!err.to_string().contains("k1"), "{err}");
        // Too few or too many values.
        assert!(matches!(
            ins.execute([ValueRef::Null]),
            Err(rusqlite::Error::InvalidParameterCount(1, 4))
        ));
        let five = [
            ValueRef::Text(b"k3"),
            ValueRef::Null,
            ValueRef::Null,
            ValueRef::Null,
            ValueRef::Null,
        ];
        assert!(matches!(
            ins.execute(five),
            Err(rusqlite::Error::InvalidParameterCount(5, 4))
        ));
        // The statement still works after its errors.
        ins.execute([
            ValueRef::Text(b"k3"),
            ValueRef::Integer(1),
            ValueRef::Null,
            ValueRef::Blob(b"\x00\x01"),
        ])
        .unwrap();
        drop(ins);
        let rows: Vec<(String, Option<i64>, Option<f64>, rusqlite::types::Value)> = conn
            .prepare("SELECT k, n, r, z FROM t ORDER BY k")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        use rusqlite::types::Value;
        assert_eq!(
            rows,
            vec![
                ("k1".into(), Some(5), Some(0.25), Value::Null),
                (
                    "k2".into(),
                    None,
                    Some(-1.0),
                    Value::Text("é\u{1F600}".into())
                ),
                ("k3".into(), Some(1), None, Value::Blob(vec![0, 1])),
            ]
        );
    }

    /// Rows of a text key and an optional integer.
    fn keyed_rows(rows: &[(&str, Option<i64>)]) -> RowBatch {
        let mut b = RowBatch::new(2);
        for &(k, n) in rows {
            b.text(k);
            match n {
                Some(n) => b.int(n),
                None => b.null(),
            }
        }
        b
    }

    #[test]
    fn a_multi_row_insert_counts_the_rows_it_inserted() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (k TEXT PRIMARY KEY, n INTEGER NOT NULL)")
            .unwrap();
        let mut ins = BulkInsert::new(
            &conn,
            "INSERT OR IGNORE INTO t VALUES (?, ?), (?, ?), (?, ?)",
        )
        .unwrap();
        let b = keyed_rows(&[("a", Some(1)), ("b", Some(2)), ("c", Some(3))]);
        let all = || (0..3).flat_map(|i| b.row(i));
        assert_eq!(ins.execute(all()).unwrap(), 3);
        // The same keys again: every row ignored, and the count says so.
        assert_eq!(ins.execute(all()).unwrap(), 0);
        let c = keyed_rows(&[("d", Some(4)), ("e", None), ("f", Some(6))]);
        // A missing value where one is required: that row is left out.
        assert_eq!(ins.execute((0..3).flat_map(|i| c.row(i))).unwrap(), 2);
        let n: i64 = conn
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 5);
    }

    #[test]
    fn multi_insert_writes_every_row_and_counts_those_it_inserted() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (k TEXT PRIMARY KEY, n INTEGER NOT NULL)")
            .unwrap();
        let mut ins = MultiInsert::new(&conn, "t", &["k", "n"]).unwrap();
        // Two full statements and a remainder.
        let rows = 2 * MultiInsert::ROWS + 5;
        let mut b = RowBatch::new(2);
        for i in 0..rows {
            b.fmt(format_args!("k{i:04}"));
            b.int(i as i64);
        }
        let order: Vec<usize> = (0..rows).collect();
        assert_eq!(ins.insert(&order, |&i| b.row(i)).unwrap(), rows);
        let (n, sum): (i64, i64) = conn
            .query_row("SELECT count(*), sum(n) FROM t", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!((n, sum), (rows as i64, (0..rows as i64).sum()));
        // The same keys again, a full statement and a remainder: all ignored, and the count
        // says so.
        let again: Vec<usize> = (0..MultiInsert::ROWS + 1).collect();
        assert_eq!(ins.insert(&again, |&i| b.row(i)).unwrap(), 0);
        // A required value missing: that row is left out, and counted out.
        let c = keyed_rows(&[("x", Some(4)), ("y", None), ("z", Some(6))]);
        assert_eq!(ins.insert(&[0, 1, 2], |&i| c.row(i)).unwrap(), 2);
    }
}
