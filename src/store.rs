//! The CRM store (SQLite): schema, opening, and reading what earlier runs loaded.
//!
//! Tables users query directly: `runs`, `customers`, `customer_sources`, `field_lineage`,
//! `match_links`, `quarantine`, `record_issues`, `audit_events`, `overrides` (a steward's
//! link / unlink / pin / retire_source, replayed on every run until revoked). `undo_log`
//! holds the previous state of every row each run changed, for `rollback`. Only the loader
//! (and rollback, which replays the loader's undo log) writes.

use std::path::Path;

use rusqlite::{Connection, OpenFlags, OptionalExtension};

use crate::error::{Error, Result};
use crate::record::GoldenField;

pub const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    run_id            INTEGER PRIMARY KEY,
    started_at        TEXT NOT NULL,
    finished_at       TEXT NOT NULL,
    command           TEXT NOT NULL,
    config_path       TEXT NOT NULL,
    config_hash       TEXT NOT NULL,
    tool_version      TEXT NOT NULL,
    rows_read         INTEGER NOT NULL,
    records_loaded    INTEGER NOT NULL,
    rows_quarantined  INTEGER NOT NULL,
    customers_created INTEGER NOT NULL,
    customers_updated INTEGER NOT NULL,
    customers_merged  INTEGER NOT NULL,
    customers_retired INTEGER NOT NULL,
    links             INTEGER NOT NULL,
    changes           INTEGER NOT NULL,
    summary_json      TEXT NOT NULL,
    model_json        TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS customers (
    customer_id       TEXT PRIMARY KEY,
    status            TEXT NOT NULL DEFAULT 'active',
    merged_into       TEXT,
    full_name         TEXT,
    title             TEXT,
    given_name        TEXT,
    middle_name       TEXT,
    family_name       TEXT,
    suffix            TEXT,
    email             TEXT,
    phone             TEXT,
    address_line1     TEXT,
    address_line2     TEXT,
    city              TEXT,
    region            TEXT,
    postcode          TEXT,
    country           TEXT,
    birth_date        TEXT,
    company           TEXT,
    marketing_consent TEXT,
    created_run_id    INTEGER NOT NULL,
    updated_run_id    INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS customer_sources (
    source       TEXT NOT NULL,
    source_key   TEXT NOT NULL,
    customer_id  TEXT NOT NULL REFERENCES customers(customer_id),
    match_score  REAL,
    line         INTEGER NOT NULL,
    record_hash  TEXT NOT NULL,
    record_json  TEXT NOT NULL,
    deleted_run_id INTEGER,
    PRIMARY KEY (source, source_key)
);
CREATE INDEX IF NOT EXISTS customer_sources_customer ON customer_sources(customer_id);
CREATE TABLE IF NOT EXISTS term_counts (
    run_id  INTEGER NOT NULL REFERENCES runs(run_id),
    field   TEXT NOT NULL,
    value   TEXT NOT NULL,
    count   INTEGER NOT NULL,
    PRIMARY KEY (run_id, field, value)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS field_lineage (
    customer_id TEXT NOT NULL REFERENCES customers(customer_id),
    field       TEXT NOT NULL,
    value       TEXT NOT NULL,
    source      TEXT NOT NULL,
    source_key  TEXT NOT NULL,
    rule        TEXT NOT NULL,
    PRIMARY KEY (customer_id, field)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS match_links (
    customer_id  TEXT NOT NULL REFERENCES customers(customer_id),
    source_a     TEXT NOT NULL,
    key_a        TEXT NOT NULL,
    source_b     TEXT NOT NULL,
    key_b        TEXT NOT NULL,
    weight       REAL NOT NULL,
    probability  REAL NOT NULL,
    evidence     TEXT NOT NULL,
    PRIMARY KEY (source_a, key_a, source_b, key_b)
);
CREATE INDEX IF NOT EXISTS match_links_customer ON match_links(customer_id);
CREATE TABLE IF NOT EXISTS quarantine (
    source     TEXT NOT NULL,
    line       INTEGER NOT NULL,
    source_key TEXT,
    reason     TEXT NOT NULL,
    detail     TEXT NOT NULL,
    raw        TEXT NOT NULL,
    PRIMARY KEY (source, line)
);
CREATE TABLE IF NOT EXISTS record_issues (
    source     TEXT NOT NULL,
    source_key TEXT NOT NULL,
    field      TEXT NOT NULL,
    code       TEXT NOT NULL,
    PRIMARY KEY (source, source_key, field, code)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS audit_events (
    event_id    INTEGER PRIMARY KEY,
    run_id      INTEGER NOT NULL REFERENCES runs(run_id),
    customer_id TEXT,
    event       TEXT NOT NULL,
    field       TEXT,
    before      TEXT,
    after       TEXT,
    detail      TEXT
);
CREATE INDEX IF NOT EXISTS audit_events_run ON audit_events(run_id);
CREATE INDEX IF NOT EXISTS audit_events_customer ON audit_events(customer_id);
CREATE TABLE IF NOT EXISTS undo_log (
    run_id      INTEGER NOT NULL REFERENCES runs(run_id),
    seq         INTEGER NOT NULL,
    table_name  TEXT NOT NULL,
    op          TEXT NOT NULL,
    key_json    TEXT NOT NULL,
    before_json TEXT,
    PRIMARY KEY (run_id, seq)
);
CREATE TABLE IF NOT EXISTS overrides (
    override_id INTEGER PRIMARY KEY,
    run_id      INTEGER NOT NULL REFERENCES runs(run_id),
    kind        TEXT NOT NULL,
    args        TEXT NOT NULL,
    who         TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    why         TEXT NOT NULL,
    active      INTEGER NOT NULL DEFAULT 1
);
"#;

/// The golden columns of `customers`, in `GoldenField` order.
pub fn golden_columns() -> impl Iterator<Item = &'static str> {
    GoldenField::ALL.into_iter().map(GoldenField::name)
}

/// How long a writer waits for another writer (a second run on the same store) before it
/// gives up with SQLITE_BUSY.
pub const WRITER_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// The page size of a new store, in bytes: 8 KiB instead of SQLite's 4 KiB. A first
/// load writes every page of the store, a `customer_sources` row is about 700 bytes, and
/// half as many pages are half as many page writes and b-tree pages to fill: the 1M first
/// load's load stage took 7.4-7.5 s against 8.1-8.3 s (16 KiB: 6.9-7.1 s). A sync
/// rewrites whole pages for scattered rows, so it pays the other way: a 10k-change sync
/// into a 1M store took 3.2-3.5 s against 2.9-3.3 s (16 KiB: 3.9-4.6 s). benches/README.md
/// has the runs. A pipeline file's `[store] page_size` chooses another.
pub const PAGE_SIZE: u32 = 8192;

/// Open (creating if needed, with [`PAGE_SIZE`]) a store for writing.
pub fn open_rw(path: &Path) -> Result<Connection> {
    open_rw_sized(path, PAGE_SIZE)
}

/// [`open_rw`], a new store getting pages of `page_size` bytes (a power of two from 512
/// to 65536; the pipeline file's `[store] page_size`).
pub fn open_rw_sized(path: &Path, page_size: u32) -> Result<Connection> {
    let db = |e: rusqlite::Error| writer_error(path, e);
    let mut conn = Connection::open(path).map_err(db)?;
    conn.busy_handler(Some(wait_for_writer)).map_err(db)?;
    // A new store's page size (an existing store keeps its own: SQLite ignores this
    // then). See [`PAGE_SIZE`].
    conn.execute_batch(&format!("PRAGMA page_size = {page_size}"))
        .map_err(db)?;
    conn.execute_batch(
        // A 64 MiB page cache (SQLite's default is 2 MiB): a load writes a few tables'
        // b-trees at once, and pages it keeps need not be re-read or re-written.
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;
         PRAGMA cache_size = -65536; PRAGMA temp_store = MEMORY;",
    )
    .map_err(db)?;
    // One immediate transaction, so that two runs creating the same new store at once do
    // not both write the schema version.
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(db)?;
    let tables: i64 = tx
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table'",
            [],
            |r| r.get(0),
        )
        .map_err(db)?;
    if tables > 0 {
        check_version(&tx, path, false)?;
    }
    tx.execute_batch(SCHEMA).map_err(db)?;
    // Columns added after a store was created (tables are only ever added to).
    let has: i64 = tx
        .query_row(
            "SELECT count(*) FROM pragma_table_info('customer_sources') WHERE name = 'deleted_run_id'",
            [],
            |r| r.get(0),
        )
        .map_err(db)?;
    if has == 0 {
        tx.execute_batch("ALTER TABLE customer_sources ADD COLUMN deleted_run_id INTEGER")
            .map_err(db)?;
    }
    if !has_column(&tx, "customer_sources", "block_keys").map_err(db)? {
        tx.execute_batch("ALTER TABLE customer_sources ADD COLUMN block_keys TEXT")
            .map_err(db)?;
    }
    check_version(&tx, path, true)?;
    tx.commit().map_err(db)?;
    Ok(conn)
}

/// Prepare a store that holds no run yet for its first load: switch it from the WAL to a
/// rollback journal. A first load writes every page of the store; through the WAL each is
/// written twice (to the WAL, then by the checkpoint at commit into the store), while a
/// rollback journal keeps only the pages the store had before (the schema), so the rest
/// is written once. The load stays one transaction: a crash leaves the journal, and the
/// next opening of the store rolls the load back. Readers cannot read the store during
/// that load (they wait, up to their busy timeout), which for a store with nothing in it
/// yet costs nobody anything.
///
/// Returns whether it switched. It does not when the store holds a run or rows already,
/// or when another connection has the store open (SQLite refuses to leave WAL mode then;
/// that load goes through the WAL, as every later one does). [`end_first_load`] switches
/// back.
pub fn begin_first_load(conn: &mut Connection, path: &Path) -> Result<bool> {
    let db = |e: rusqlite::Error| Error::store(path, e);
    let empty: bool = conn
        .query_row(
            "SELECT NOT EXISTS (SELECT 1 FROM runs) AND NOT EXISTS (SELECT 1 FROM customer_sources)
                 AND NOT EXISTS (SELECT 1 FROM customers)",
            [],
            |r| r.get(0),
        )
        .map_err(db)?;
    if !empty {
        return Ok(false);
    }
    // Not waiting for another connection: its presence is the answer.
    conn.busy_handler(None::<fn(i32) -> bool>).map_err(db)?;
    let mode = conn.query_row("PRAGMA journal_mode = DELETE", [], |r| {
        r.get::<_, String>(0)
    });
    conn.busy_handler(Some(wait_for_writer)).map_err(db)?;
    if !matches!(mode.as_deref(), Ok("delete")) {
        return Ok(false);
    }
    // With a rollback journal, NORMAL skips syncs that a power cut at the wrong moment
    // needs (it does not in WAL mode).
    conn.execute_batch("PRAGMA synchronous = FULL")
        .map_err(db)?;
    // The references of a first load are checked once, before it commits
    // ([`check_references`]), instead of as each row goes in: a lookup in the parent table
    // per row was a fifth of a 1M load (27.2-27.8 s with, 20.7-22.6 s without).
    conn.execute_batch("PRAGMA foreign_keys = OFF")
        .map_err(db)?;
    Ok(true)
}

/// Every reference in the store points at an existing row, or an error that names the
/// tables of those that do not. A first load calls this before it commits, since it writes
/// with SQLite's per-row check off ([`begin_first_load`]); the error rolls the load back.
///
/// Each single-column foreign key is checked by one query that reads the child column's
/// distinct values through its index where it has one, and looks each up in the parent's
/// key: at 10M records 34 s a row at a time, where SQLite's `foreign_key_check` (which
/// reads every child row whole, 9 GB of `customer_sources` alone) took 54 s. Any other
/// foreign key goes to `foreign_key_check`.
pub fn check_references(conn: &Connection, path: &Path) -> Result<()> {
    let db = |e: rusqlite::Error| Error::store(path, e);
    let quote = |name: &str| format!("\"{}\"", name.replace('"', "\"\""));
    // (child, column, parent, parent column, the key's column count)
    let keys: Vec<(String, String, String, Option<String>, i64)> = conn
        .prepare(
            "SELECT m.name, f.\"from\", f.\"table\", f.\"to\",
                    (SELECT count(*) FROM pragma_foreign_key_list(m.name) g WHERE g.id = f.id)
             FROM sqlite_master m, pragma_foreign_key_list(m.name) f
             WHERE m.type = 'table' ORDER BY m.name, f.id, f.seq",
        )
        .and_then(|mut stmt| {
            stmt.query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })?
            .collect()
        })
        .map_err(db)?;
    // A table with a key of several columns, or one naming the parent's primary key only
    // by implication, gets SQLite's own check, once for the table.
    let whole: std::collections::BTreeSet<&str> = keys
        .iter()
        .filter(|(_, _, _, to, width)| to.is_none() || *width != 1)
        .map(|(child, ..)| child.as_str())
        .collect();
    let mut checked = std::collections::BTreeSet::new();
    let (mut broken, mut named) = (0i64, Vec::new());
    for (child, column, parent, parent_column, _) in &keys {
        let n: i64 = match parent_column
            .as_deref()
            .filter(|_| !whole.contains(child.as_str()))
        {
            Some(pc) => {
                let (c, col, p, pc) = (quote(child), quote(column), quote(parent), quote(pc));
                // Each value once (the child's index, or its key, lists them in order): at
                // 1M records 0.8 s for `field_lineage`'s 6.3M rows instead of 1.8 s. The
                // rows are counted only when a value is missing.
                let missing: rusqlite::Result<i64> = conn.query_row(
                    &format!(
                        "SELECT count(*) FROM (SELECT DISTINCT {col} AS v FROM {c}) AS x \
                         WHERE x.v IS NOT NULL AND NOT EXISTS \
                         (SELECT 1 FROM {p} AS y WHERE y.{pc} = x.v)"
                    ),
                    [],
                    |r| r.get(0),
                );
                match missing {
                    Ok(0) => Ok(0),
                    Ok(_) => conn.query_row(
                        &format!(
                            "SELECT count(*) FROM {c} AS x WHERE x.{col} IS NOT NULL AND NOT EXISTS \
                             (SELECT 1 FROM {p} AS y WHERE y.{pc} = x.{col})"
                        ),
                        [],
                        |r| r.get(0),
                    ),
                    Err(e) => Err(e),
                }
            }
            None if checked.insert(child.as_str()) => conn.query_row(
                "SELECT count(*) FROM pragma_foreign_key_check(?1)",
                [child],
                |r| r.get(0),
            ),
            None => Ok(0),
        }
        .map_err(db)?;
        broken += n;
        if n > 0 && named.len() < 3 {
            named.push(format!("{child} -> {parent}"));
        }
    }
    if broken == 0 {
        return Ok(());
    }
    Err(Error::Store {
        path: path.to_path_buf(),
        message: format!(
            "the load would leave {broken} row(s) referring to rows that do not exist ({}); \
             nothing was written",
            named.join(", ")
        ),
    })
}

/// Set a connection's page cache to `mib` MiB (see the constants below).
pub fn set_cache_mib(conn: &Connection, path: &Path, mib: i64) -> Result<()> {
    conn.execute_batch(&format!("PRAGMA cache_size = {}", -1024 * mib))
        .map_err(|e| Error::store(path, e))
}

/// The page cache of a sync's write connection while it reads the store (scans
/// `customer_sources` and looks up stored records): in [`open_rw`]'s 64 MiB, the scan
/// would first allocate, then fill, 64 MiB with pages it reads once (0.1-0.15 s of a 10k
/// sync into a 1M store, with the zeroing of fresh memory); 8 MiB still keeps the
/// b-trees' interior pages for the look-ups.
pub const READING_CACHE_MIB: i64 = 8;

/// The page cache of a connection that will update rows scattered over the whole store (a
/// sync), instead of [`open_rw`]'s 64 MiB. A 10k-record sync into a 1M store changes some
/// 38k pages (150 MiB): in 64 MiB, most are written to the WAL before the commit, and again
/// when they change once more. (A first load writes its pages in key order, and keeps the
/// smaller cache.)
pub const SCATTERED_WRITES_CACHE_MIB: i64 = 256;

/// While it lives, a thread writes what a run has written to the store's files so far out
/// to disk, every [`WRITEBACK_EVERY`], so that SQLite's own syncs at commit find little
/// left to write. (Linux starts writing dirty pages back only once they are 30 s old or
/// gigabytes: without this, a sync's whole WAL waits for the commit's sync, and a first
/// load's whole store file for its commit.) A sync never breaks SQLite's crash safety: it
/// only makes pages durable sooner.
///
/// Which files: the WAL and the rollback journal (SQLite locks neither), and the store
/// file itself through [`store_file`], which is never closed (see there).
pub struct Writeback {
    stop: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// How often [`Writeback`] syncs.
pub const WRITEBACK_EVERY: std::time::Duration = std::time::Duration::from_millis(100);

impl Writeback {
    pub fn start(store: &Path) -> Writeback {
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let main = store_file(store);
        let side = |suffix: &str| {
            let mut p = store.as_os_str().to_owned();
            p.push(suffix);
            std::path::PathBuf::from(p)
        };
        let (wal, journal) = (side("-wal"), side("-journal"));
        let thread = std::thread::Builder::new()
            .name("writeback".into())
            .spawn(move || {
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(WRITEBACK_EVERY)
                {
                    // Errors are SQLite's to meet and report, at its own sync.
                    for p in [&wal, &journal] {
                        if let Ok(f) = std::fs::File::open(p) {
                            let _ = f.sync_data();
                        }
                    }
                    if let Some(f) = main {
                        let _ = f.sync_data();
                    }
                }
            })
            .ok();
        Writeback {
            stop: Some(stop),
            thread,
        }
    }
}

impl Drop for Writeback {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The store file, opened read-only once per process and never closed, for
/// [`Writeback`]. Never closed, because closing any descriptor of a file releases every
/// POSIX lock the process holds on it, SQLite's locks on the store among them (SQLite
/// guards its own descriptors against that, not others'). `None`: it cannot be opened.
fn store_file(store: &Path) -> Option<&'static std::fs::File> {
    use std::sync::{Mutex, OnceLock};
    static OPEN: OnceLock<Mutex<Vec<(std::path::PathBuf, &'static std::fs::File)>>> =
        OnceLock::new();
    let mut open = OPEN
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let key = std::fs::canonicalize(store).ok()?;
    if let Some((_, f)) = open.iter().find(|(p, _)| *p == key) {
        return Some(f);
    }
    let f: &'static std::fs::File = Box::leak(Box::new(std::fs::File::open(&key).ok()?));
    open.push((key, f));
    Some(f)
}

/// Switch a store back to the WAL after [`begin_first_load`], whether the load committed
/// or not. Should another connection hold the store by then (SQLite refuses the switch),
/// the store stays in rollback-journal mode until the next writer opens it
/// ([`open_rw`] sets the WAL): either mode reads and writes correctly.
pub fn end_first_load(conn: &mut Connection) {
    let _ = conn.busy_handler(None::<fn(i32) -> bool>);
    let _ = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0));
    let _ = conn.busy_handler(Some(wait_for_writer));
    let _ = conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON");
}

/// A store error of a writer, saying so when another run holds the store or Ctrl-C stopped
/// the wait.
pub fn writer_error(path: &Path, e: rusqlite::Error) -> Error {
    if crate::interrupt::requested() {
        return Error::Interrupted;
    }
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DatabaseBusy) | Some(rusqlite::ErrorCode::DatabaseLocked) => {
            Error::Store {
                path: path.to_path_buf(),
                message: format!(
                    "another crmfuse run is writing this store (waited {} s); try again when it has finished",
                    WRITER_WAIT.as_secs()
                ),
            }
        }
        _ => Error::store(path, e),
    }
}

/// SQLite's busy handler for writers: wait in short steps up to [`WRITER_WAIT`], but give
/// up at once on Ctrl-C.
fn wait_for_writer(attempt: i32) -> bool {
    const STEP_MS: u64 = 20;
    if crate::interrupt::requested() {
        return false;
    }
    std::thread::sleep(std::time::Duration::from_millis(STEP_MS));
    (attempt.max(0) as u64 + 1) * STEP_MS < WRITER_WAIT.as_millis() as u64
}

/// Open an existing store read-only; `None` when it does not exist yet (or is a database
/// with nothing in it). Never creates or changes the file (SQLite's own recovery of a
/// crashed write aside), and leaves no files beside it.
///
/// A store in WAL mode needs its `-wal` and `-shm` files to be read; a connection opened
/// with `SQLITE_OPEN_READ_ONLY` creates them and cannot remove them when it closes, so a
/// dry run would leave two new files beside the store. Instead the connection is opened
/// read-write without `CREATE` and made `query_only`, so that SQLite refuses every write
/// through it, and as the last connection it removes the files it created. (On a
/// write-protected file SQLite falls back to reading only.)
pub fn open_ro(path: &Path) -> Result<Option<Connection>> {
    if !path.exists() {
        return Ok(None);
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| Error::store(path, e))?;
    conn.pragma_update(None, "query_only", true)
        .map_err(|e| Error::store(path, e))?;
    conn.busy_timeout(std::time::Duration::from_secs(30))
        .map_err(|e| Error::store(path, e))?;
    // A database with nothing in it: a first run killed before it committed the schema
    // leaves a zero-length file (and a journal SQLite discards). No store yet, then.
    let objects: i64 = conn
        .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
        .map_err(|e| Error::store(path, e))?;
    if objects == 0 {
        return Ok(None);
    }
    check_version(&conn, path, false)?;
    Ok(Some(conn))
}

/// Open an existing store read-only, or fail with a message that says how to make one.
pub fn open_existing(path: &Path) -> Result<Connection> {
    open_ro(path)?.ok_or_else(|| Error::Store {
        path: path.to_path_buf(),
        message: "no store here yet; run `crmfuse run CONFIG` first".into(),
    })
}

fn check_version(conn: &Connection, path: &Path, set: bool) -> Result<()> {
    if !has_table(conn, "meta").map_err(|e| Error::store(path, e))? {
        return Err(Error::Store {
            path: path.to_path_buf(),
            message: "not a crmfuse store (no meta table)".into(),
        });
    }
    let v: Option<String> = conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'schema_version'",
            [],
            |r| r.get(0),
        )
        .optional()
        .map_err(|e| Error::store(path, e))?;
    match v {
        Some(v) if v == SCHEMA_VERSION.to_string() => Ok(()),
        Some(v) => Err(Error::Store {
            path: path.to_path_buf(),
            message: format!("schema version {v}, this crmfuse reads version {SCHEMA_VERSION}"),
        }),
        None if set => {
            conn.execute(
                "INSERT INTO meta(key, value) VALUES ('schema_version', ?1)",
                [SCHEMA_VERSION.to_string()],
            )
            .map_err(|e| Error::store(path, e))?;
            Ok(())
        }
        None => Ok(()),
    }
}

/// The indexes of `table` that the schema creates (not those of its primary key), with
/// the SQL that creates them.
pub fn secondary_indexes(
    conn: &Connection,
    table: &str,
) -> rusqlite::Result<Vec<(String, String)>> {
    conn.prepare(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ?1
         AND sql IS NOT NULL ORDER BY name",
    )?
    .query_map([table], |r| Ok((r.get(0)?, r.get(1)?)))?
    .collect()
}

/// Whether `table` has a column `column` (a store made by an older crmfuse may lack one
/// until it is next opened for writing).
pub fn has_column(conn: &Connection, table: &str, column: &str) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT count(*) FROM pragma_table_info(?1) WHERE name = ?2",
        [table, column],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n > 0)
}

/// Whether the store has a table `table` (a store made by an older crmfuse may lack one).
pub fn has_table(conn: &Connection, table: &str) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = ?1",
        [table],
        |r| r.get(0),
    )
}

/// Whether `table` has no rows (`table` is one of the schema's, never user input).
pub fn is_empty(conn: &Connection, table: &str) -> rusqlite::Result<bool> {
    conn.query_row(
        &format!("SELECT NOT EXISTS (SELECT 1 FROM {table})"),
        [],
        |r| r.get(0),
    )
}

pub fn meta_get(conn: &Connection, key: &str) -> rusqlite::Result<Option<String>> {
    conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
        .optional()
}

/// One SQL value, comparable and hashable (reals compare bit for bit), so that rows can
/// be diffed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Cell {
    Null,
    Int(i64),
    Real(u64),
    Text(String),
}

impl Cell {
    pub fn real(v: f64) -> Cell {
        Cell::Real(v.to_bits())
    }
    pub fn text(s: impl Into<String>) -> Cell {
        Cell::Text(s.into())
    }
    pub fn opt_text(s: Option<&str>) -> Cell {
        s.map_or(Cell::Null, Cell::text)
    }
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Cell::Text(s) => Some(s),
            _ => None,
        }
    }

    /// A value SQLite holds, as a cell (invalid UTF-8 replaced; a blob read as text).
    pub fn from_value_ref(v: rusqlite::types::ValueRef<'_>) -> Cell {
        use rusqlite::types::ValueRef;
        match v {
            ValueRef::Null => Cell::Null,
            ValueRef::Integer(i) => Cell::Int(i),
            ValueRef::Real(r) => Cell::real(r),
            ValueRef::Text(t) | ValueRef::Blob(t) => {
                Cell::Text(String::from_utf8_lossy(t).into_owned())
            }
        }
    }

    /// The value as SQLite takes it.
    pub fn value_ref(&self) -> rusqlite::types::ValueRef<'_> {
        use rusqlite::types::ValueRef;
        match self {
            Cell::Null => ValueRef::Null,
            Cell::Int(i) => ValueRef::Integer(*i),
            Cell::Real(bits) => ValueRef::Real(f64::from_bits(*bits)),
            Cell::Text(s) => ValueRef::Text(s.as_bytes()),
        }
    }

    /// Bytes it takes in memory, roughly (for budgets).
    pub fn heap_size(&self) -> usize {
        std::mem::size_of::<Cell>() + self.as_str().map_or(0, str::len)
    }
}

impl rusqlite::ToSql for Cell {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(rusqlite::types::ToSqlOutput::Borrowed(self.value_ref()))
    }
}

impl rusqlite::types::FromSql for Cell {
    fn column_result(v: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        Ok(Cell::from_value_ref(v))
    }
}

/// How `cell` orders against a value SQLite holds: as against that value read into a
/// [`Cell`] (`cell.cmp(&Cell::column_result(v))`), without copying it out.
pub fn cmp_stored(cell: &Cell, v: rusqlite::types::ValueRef<'_>) -> std::cmp::Ordering {
    cmp_value_stored(cell.value_ref(), v)
}

/// How a value a [`Cell`] would hold (`mine`: text always UTF-8) orders against a value
/// SQLite holds, read into a [`Cell`], without copying either.
pub fn cmp_value_stored(
    mine: rusqlite::types::ValueRef<'_>,
    v: rusqlite::types::ValueRef<'_>,
) -> std::cmp::Ordering {
    use rusqlite::types::ValueRef;
    let rank = |v: ValueRef<'_>| match v {
        ValueRef::Null => 0,
        ValueRef::Integer(_) => 1,
        ValueRef::Real(_) => 2,
        ValueRef::Text(_) | ValueRef::Blob(_) => 3,
    };
    match (mine, v) {
        (ValueRef::Integer(a), ValueRef::Integer(b)) => a.cmp(&b),
        (ValueRef::Real(a), ValueRef::Real(b)) => a.to_bits().cmp(&b.to_bits()),
        // UTF-8 orders by its bytes as its text does.
        (ValueRef::Text(a) | ValueRef::Blob(a), ValueRef::Text(b) | ValueRef::Blob(b)) => {
            match std::str::from_utf8(b) {
                Ok(_) => a.cmp(b),
                // (Read into a cell, invalid UTF-8 is replaced.)
                Err(_) => a.cmp(String::from_utf8_lossy(b).as_bytes()),
            }
        }
        (a, b) => rank(a).cmp(&rank(b)),
    }
}

/// A table's rows keyed by their primary key.
pub type TableRows = crate::hash::KeyMap<Vec<Cell>, Vec<Cell>>;

/// Read `cols` of `table`, keyed by the first `pk` columns.
pub fn read_table(
    conn: &Connection,
    table: &str,
    cols: &[&str],
    pk: usize,
) -> rusqlite::Result<TableRows> {
    read_table_where(conn, table, cols, pk, None)
}

/// [`read_table`], of the rows that a `WHERE` condition with one parameter (`?1`) selects.
pub fn read_table_where(
    conn: &Connection,
    table: &str,
    cols: &[&str],
    pk: usize,
    filter: Option<(&str, &str)>,
) -> rusqlite::Result<TableRows> {
    let mut out = TableRows::default();
    scan_where(conn, table, cols, filter, |row| {
        let mut values = Vec::with_capacity(cols.len());
        for i in 0..cols.len() {
            values.push(row.get::<_, Cell>(i)?);
        }
        let rest = values.split_off(pk);
        out.insert(values, rest);
        Ok(())
    })?;
    Ok(out)
}

/// Visit every row of `SELECT cols FROM table`, with `WHERE filter.0` bound to `filter.1`.
pub fn scan_where(
    conn: &Connection,
    table: &str,
    cols: &[&str],
    filter: Option<(&str, &str)>,
    mut visit: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<()>,
) -> rusqlite::Result<()> {
    let sql = format!(
        "SELECT {} FROM {table} {}",
        cols.join(", "),
        filter.map_or(String::new(), |(w, _)| format!("WHERE {w}"))
    );
    let mut stmt = conn.prepare(&sql)?;
    let mut rows = match filter {
        Some((_, param)) => stmt.query([param])?,
        None => stmt.query([])?,
    };
    while let Some(row) = rows.next()? {
        visit(row)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_store_gets_the_page_size_and_an_existing_one_keeps_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let page_size =
            |c: &Connection| -> i64 { c.query_row("PRAGMA page_size", [], |r| r.get(0)).unwrap() };
        let new = dir.path().join("new.db");
        assert_eq!(page_size(&open_rw(&new).unwrap()), PAGE_SIZE as i64);
        // A store made with another page size, in WAL mode as stores are, keeps it.
        let old = dir.path().join("old.db");
        let c = Connection::open(&old).unwrap();
        c.execute_batch("PRAGMA page_size = 1024; PRAGMA journal_mode = WAL;")
            .unwrap();
        drop(c);
        let c = open_rw(&old).unwrap();
        assert_eq!(page_size(&c), 1024);
        let n: i64 = c
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name = 'customers'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(n, 1);
    }

    /// A first load writes without SQLite's per-row reference check; the check before
    /// its commit finds a broken reference, names its table without its values, and the
    /// store checks references again afterwards.
    #[test]
    fn a_first_load_checks_its_references_before_it_commits() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("crm.db");
        let mut conn = open_rw(&p).unwrap();
        assert!(begin_first_load(&mut conn, &p).unwrap());
        let orphan =
            "INSERT INTO field_lineage (customer_id, field, value, source, source_key, rule)
                      VALUES ('C-missing', 'email', 'secret@example.com', 'erp', 'k1', 'priority')";
        conn.execute(orphan, []).unwrap();
        let e = check_references(&conn, &p).unwrap_err().to_string();
        assert!(
            e.contains("1 row(s)") && e.contains("field_lineage -> customers"),
            "{e}"
        );
        // Rows are counted, not the values they miss.
        conn.execute_batch(
            "INSERT INTO field_lineage (customer_id, field, value, source, source_key, rule)
                 VALUES ('C-missing', 'phone', '+4930', 'erp', 'k1', 'priority')",
        )
        .unwrap();
        let e = check_references(&conn, &p).unwrap_err().to_string();
        assert!(e.contains("2 row(s)"), "{e}");
        assert!(!e.contains("secret") && !e.contains("C-missing"), "{e}");
        // Through an index (customer_sources_customer), and a key of two columns, which
        // SQLite's own check counts.
        conn.execute_batch(
            "INSERT INTO customer_sources (source, source_key, customer_id, line, record_hash, record_json)
                 VALUES ('erp', 'k1', 'C-gone', 2, '0', '{}');
             CREATE TABLE pair_parent (a TEXT, b TEXT, PRIMARY KEY (a, b));
             CREATE TABLE pair_child (a TEXT, b TEXT, FOREIGN KEY (a, b) REFERENCES pair_parent (a, b));
             INSERT INTO pair_parent VALUES ('x', 'y');
             INSERT INTO pair_child VALUES ('x', 'y'), ('x', 'z');",
        )
        .unwrap();
        let e = check_references(&conn, &p).unwrap_err().to_string();
        assert!(e.contains("4 row(s)"), "{e}");
        assert!(e.contains("customer_sources -> customers"), "{e}");
        assert!(e.contains("pair_child -> pair_parent"), "{e}");
        conn.execute_batch(
            "DELETE FROM field_lineage; DELETE FROM customer_sources;
             DROP TABLE pair_child; DROP TABLE pair_parent;",
        )
        .unwrap();
        check_references(&conn, &p).unwrap();
        end_first_load(&mut conn);
        let refused = conn.execute(orphan, []).unwrap_err().to_string();
        assert!(refused.contains("FOREIGN KEY"), "{refused}");
    }

    /// The writeback thread syncs the store file through a descriptor it never closes:
    /// closing one would release SQLite's locks on the store, and a second writer could
    /// then write beside the first.
    #[test]
    fn writeback_leaves_the_writers_lock_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("crm.db");
        let a = Connection::open(&p).unwrap();
        // A rollback journal: the write lock is a lock on the store file itself.
        a.execute_batch("PRAGMA journal_mode = DELETE; CREATE TABLE t (x); BEGIN IMMEDIATE; INSERT INTO t VALUES (1);")
            .unwrap();
        for _ in 0..2 {
            let wb = Writeback::start(&p);
            std::thread::sleep(WRITEBACK_EVERY * 2);
            drop(wb);
        }
        let file = store_file(&p).unwrap();
        assert!(std::ptr::eq(file, store_file(&p).unwrap()));
        // (Another process must look: a process does not see its own locks, and SQLite
        // refuses a second connection of the same process by its own bookkeeping.)
        #[cfg(target_os = "linux")]
        assert!(reserved_elsewhere(&p), "the writer's lock was released");
        a.execute_batch("COMMIT").unwrap();
        #[cfg(target_os = "linux")]
        assert!(!reserved_elsewhere(&p));
    }

    /// Whether a process holds SQLite's RESERVED lock (a write lock on byte 0x40000001 of
    /// the file) on `p`, as a forked child sees it.
    #[cfg(target_os = "linux")]
    fn reserved_elsewhere(p: &Path) -> bool {
        use std::os::unix::ffi::OsStrExt;
        let path = std::ffi::CString::new(p.as_os_str().as_bytes()).unwrap();
        // SAFETY: the child calls only open, fcntl and _exit (async-signal-safe) before
        // it exits; the parent waits for it.
        unsafe {
            let pid = libc::fork();
            assert!(pid >= 0);
            if pid == 0 {
                let fd = libc::open(path.as_ptr(), libc::O_RDONLY);
                let mut lock: libc::flock = std::mem::zeroed();
                lock.l_type = libc::F_WRLCK as _;
                lock.l_whence = libc::SEEK_SET as _;
                lock.l_start = 0x4000_0001;
                lock.l_len = 1;
                let held = fd >= 0
                    && libc::fcntl(fd, libc::F_GETLK, &mut lock) == 0
                    && i32::from(lock.l_type) != libc::F_UNLCK;
                libc::_exit(if held { 1 } else { 0 });
            }
            let mut status = 0;
            assert_eq!(libc::waitpid(pid, &mut status, 0), pid);
            assert!(libc::WIFEXITED(status));
            libc::WEXITSTATUS(status) == 1
        }
    }

    #[test]
    fn a_cell_orders_against_a_stored_value_as_against_it_read() {
        use rusqlite::types::{FromSql, ValueRef};
        let bad = [b'a', 0xFF, b'b'];
        let values = [
            ValueRef::Null,
            ValueRef::Integer(-3),
            ValueRef::Integer(0),
            ValueRef::Integer(7),
            ValueRef::Real(-0.5),
            ValueRef::Real(0.0),
            ValueRef::Real(2.5),
            ValueRef::Text(b""),
            ValueRef::Text(b"C10"),
            ValueRef::Text(b"C9"),
            ValueRef::Text("Zürich".as_bytes()),
            ValueRef::Text(&bad),
            ValueRef::Blob(b"C10"),
        ];
        let cells: Vec<Cell> = values
            .iter()
            .map(|v| Cell::column_result(*v).unwrap())
            .chain([Cell::text("a\u{FFFD}b"), Cell::text("a\u{FFFE}")])
            .collect();
        for c in &cells {
            for v in values {
                let read = Cell::column_result(v).unwrap();
                assert_eq!(cmp_stored(c, v), c.cmp(&read), "{c:?} against {v:?}");
            }
        }
    }

    #[test]
    fn creates_schema_once_and_reopens_read_only() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("crm.db");
        assert!(open_ro(&p).unwrap().is_none());
        drop(open_rw(&p).unwrap());
        drop(open_rw(&p).unwrap());
        let ro = open_ro(&p).unwrap().unwrap();
        assert_eq!(
            meta_get(&ro, "schema_version").unwrap().as_deref(),
            Some("1")
        );
        let cols: Vec<String> = ro
            .prepare("SELECT name FROM pragma_table_info('customers')")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        for c in golden_columns() {
            assert!(cols.iter().any(|x| x == c), "{c}");
        }
    }

    #[test]
    fn a_busy_store_says_another_run_is_writing() {
        let busy = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
            None,
        );
        let e = writer_error(Path::new("crm.db"), busy).to_string();
        assert!(
            e.contains("store crm.db: another crmfuse run is writing this store (waited 30 s)"),
            "{e}"
        );
        let other = writer_error(Path::new("crm.db"), rusqlite::Error::InvalidQuery);
        assert!(!other.to_string().contains("another"));
    }

    #[test]
    fn the_writer_waits_for_another_writer_then_gives_up() {
        assert!(wait_for_writer(0));
        let last = (WRITER_WAIT.as_millis() / 20) as i32;
        assert!(!wait_for_writer(last));
    }

    #[test]
    fn read_only_open_writes_nothing_and_leaves_no_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("crm.db");
        {
            let rw = open_rw(&p).unwrap();
            rw.execute("INSERT INTO meta(key, value) VALUES ('k', 'v')", [])
                .unwrap();
        }
        let files = |d: &Path| -> Vec<String> {
            let mut v: Vec<String> = std::fs::read_dir(d)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            v.sort();
            v
        };
        let before = std::fs::read(&p).unwrap();
        assert_eq!(files(dir.path()), ["crm.db"]);
        {
            let ro = open_ro(&p).unwrap().unwrap();
            assert_eq!(meta_get(&ro, "k").unwrap().as_deref(), Some("v"));
            let e = ro
                .execute("INSERT INTO meta(key, value) VALUES ('x', 'y')", [])
                .unwrap_err();
            assert!(e.to_string().contains("readonly"), "{e}");
        }
        assert_eq!(files(dir.path()), ["crm.db"]);
        assert!(std::fs::read(&p).unwrap() == before);
    }

    #[test]
    fn refuses_a_foreign_database() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("other.db");
        Connection::open(&p)
            .unwrap()
            .execute_batch("CREATE TABLE t(x)")
            .unwrap();
        let e = open_ro(&p).unwrap_err().to_string();
        assert!(e.contains("not a crmfuse store"), "{e}");
        let e = open_rw(&p).unwrap_err().to_string();
        assert!(e.contains("not a crmfuse store"), "{e}");
    }
}
