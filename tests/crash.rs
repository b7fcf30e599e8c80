//! Crash safety: `crmfuse run` and `crmfuse sync`, killed with SIGKILL at more than 20
//! moments spread over a run, leave the store exactly as before the run or exactly as
//! after a full run (every table, every row; only the runs' clock columns are ignored),
//! `crmfuse check` passes, and the next run completes normally. Ctrl-C (SIGINT) stops a
//! run with exit 130 and "interrupted, nothing was written", and the store is as before.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// Rows of the generated source: enough that a debug run has a load stage worth hitting.
const CROWD_ROWS: usize = 600;

struct Setup {
    _dir: tempfile::TempDir,
    root: PathBuf,
    pipeline: PathBuf,
    /// The match model every run under test scores with (training takes seconds in a
    /// debug build, and a saved model is how nightly runs score consistently).
    model: PathBuf,
    /// The store before the run under test.
    base: PathBuf,
    before: String,
    /// The store after a full `run`, and after a full `sync` (recorded as such).
    after_run: String,
    after_sync: String,
    /// How long a full run took, its stages together, and its load stage.
    run_time: Duration,
    stages_time: Duration,
    load_time: Duration,
}

/// A store built from the demo and a generated source, then an export with real changes
/// to load; the references "after" are a full run and a full sync of it on copies.
fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let pipeline = copy_demo(&root);
    add_crowd(&pipeline, CROWD_ROWS, 0);
    let base_dir = root.join("base");
    std::fs::create_dir(&base_dir).unwrap();
    let model = root.join("model.json");
    assert_ok(&crmfuse(
        &base_dir,
        &[
            "run",
            pipeline.to_str().unwrap(),
            "--save-model",
            model.to_str().unwrap(),
        ],
    ));
    let base = base_dir.join("crm.db");
    assert!(!base_dir.join("crm.db-wal").exists());
    let before = dump(&base);

    add_crowd(&pipeline, CROWD_ROWS, 1);
    let reference = |command: &str| -> (serde_json::Value, Duration, String) {
        let dir = root.join(format!("reference-{command}"));
        std::fs::create_dir(&dir).unwrap();
        std::fs::copy(&base, dir.join("crm.db")).unwrap();
        let started = Instant::now();
        let o = crmfuse(
            &dir,
            &[
                command,
                pipeline.to_str().unwrap(),
                "--model",
                model.to_str().unwrap(),
                "--json",
            ],
        );
        let took = started.elapsed();
        assert_ok(&o);
        assert_check_passes(&dir, "crm.db");
        (
            serde_json::from_slice(&o.stdout).unwrap(),
            took,
            dump(&dir.join("crm.db")),
        )
    };
    let (summary, run_time, after_run) = reference("run");
    let (_, _, after_sync) = reference("sync");
    assert!(summary["changes"].as_u64().unwrap() > 100, "{summary}");
    let timings = summary["timings_ms"].as_array().unwrap();
    let stages_ms: u64 = timings.iter().filter_map(|t| t[1].as_u64()).sum();
    let load_ms = timings
        .iter()
        .find(|t| t[0] == "load")
        .and_then(|t| t[1].as_u64())
        .unwrap();
    assert_ne!(before, after_run);
    assert_ne!(after_run, after_sync);
    Setup {
        _dir: dir,
        root,
        pipeline,
        model,
        base,
        before,
        after_run,
        after_sync,
        run_time,
        stages_time: Duration::from_millis(stages_ms),
        load_time: Duration::from_millis(load_ms),
    }
}

/// `COMMAND PIPELINE --model MODEL`: the run under test (`run` or `sync`).
fn args<'a>(s: &'a Setup, command: &'a str) -> [&'a str; 4] {
    [
        command,
        s.pipeline.to_str().unwrap(),
        "--model",
        s.model.to_str().unwrap(),
    ]
}

fn start(s: &Setup, command: &str, dir: &Path) -> Child {
    bin()
        .args(args(s, command))
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Where two dumps first differ, for a failure message.
fn first_difference(a: &str, b: &str) -> String {
    for (i, (x, y)) in a.lines().zip(b.lines()).enumerate() {
        if x != y {
            let cut = |s: &str| s.chars().take(300).collect::<String>();
            return format!("line {i}:\n  {}\n  {}", cut(x), cut(y));
        }
    }
    format!("lengths {} and {}", a.lines().count(), b.lines().count())
}

#[derive(Debug, PartialEq)]
enum State {
    Before,
    After,
}

impl Setup {
    fn after(&self, command: &str) -> &str {
        if command == "sync" {
            &self.after_sync
        } else {
            &self.after_run
        }
    }
}

fn state_of(s: &Setup, command: &str, store: &Path, what: &str) -> State {
    let now = dump(store);
    if now == s.before {
        State::Before
    } else if now == s.after(command) {
        State::After
    } else {
        panic!(
            "{what}: the store is neither as before nor as after the {command}\nvs before: {}\nvs after: {}",
            first_difference(&now, &s.before),
            first_difference(&now, s.after(command))
        );
    }
}

/// One setup (three full runs) serves both checks: the SIGKILL moments, then Ctrl-C.
#[test]
fn crash_safety() {
    let started = Instant::now();
    let s = setup();
    sigkill_at_many_moments_leaves_the_store_before_or_after(&s);
    ctrl_c_stops_a_run_cleanly_and_writes_nothing(&s);
    eprintln!("crash_safety took {:.1} s", started.elapsed().as_secs_f64());
}

fn sigkill_at_many_moments_leaves_the_store_before_or_after(s: &Setup) {
    // Kill moments: spread evenly from 0 to a little past the run's duration, and six more
    // over the load stage (the process starts and ends outside the stages: about half
    // of that time is before them).
    let d = s.run_time.as_secs_f64();
    let load = s.load_time.as_secs_f64();
    let load_end = d - (d - s.stages_time.as_secs_f64()).max(0.0) / 2.0;
    let mut delays: Vec<f64> = (0..14).map(|i| d * 1.05 * f64::from(i) / 13.0).collect();
    delays.extend((0..6).map(|i| load_end - load + load * f64::from(i) / 5.0));
    let (mut before, mut after, mut mid_write) = (0, 0, 0);
    let mut i = 0;
    // A run under test can be slower or faster than the reference (a busy machine): if no
    // planned kill landed while the run held the store open for writing, or none after it
    // committed, a few more try again, later each time.
    let mut extra = 0u32;
    while i < delays.len() || ((mid_write == 0 || after == 0) && extra < 10) {
        let delay = match delays.get(i) {
            Some(d) => *d,
            None if mid_write == 0 => {
                extra += 1;
                load_end - load + load * f64::from(extra % 7) / 6.0
            }
            None => {
                extra += 1;
                d * (1.0 + 0.25 * f64::from(extra))
            }
        };
        // Every third kill hits a sync (the nightly job), the others a run.
        let command = if i % 3 == 2 { "sync" } else { "run" };
        let dir = s.root.join(format!("kill{i}"));
        std::fs::create_dir(&dir).unwrap();
        std::fs::copy(&s.base, dir.join("crm.db")).unwrap();
        let mut child = start(s, command, &dir);
        std::thread::sleep(Duration::from_secs_f64(delay.max(0.0)));
        child.kill().unwrap(); // SIGKILL; a no-op when the run has already ended
        child.wait().unwrap();
        let what = format!("kill {i} of a {command} at {delay:.2} s of {d:.2} s");
        // The base store has no -shm file; a run makes one when it opens the store for
        // writing and removes it when it closes the store after committing.
        let store_was_open = dir.join("crm.db-shm").exists();
        match state_of(s, command, &dir.join("crm.db"), &what) {
            State::Before => {
                before += 1;
                mid_write += usize::from(store_was_open);
            }
            State::After => after += 1,
        }
        let o = crmfuse(&dir, &["check", "--store", "crm.db"]);
        assert!(o.status.success(), "{what}: {}", show(&o));

        // The next run completes normally: the full run, or nothing left to do.
        let o = crmfuse(&dir, &args(s, command));
        assert_ok(&o);
        let now = dump(&dir.join("crm.db"));
        assert!(
            now == s.after(command) || recorded_no_change(&o),
            "{what}: the {command} after the kill did not end where a full one ends\n{}",
            first_difference(&now, s.after(command))
        );
        assert_check_passes(&dir, "crm.db");
        std::fs::remove_dir_all(&dir).unwrap();
        i += 1;
    }
    eprintln!(
        "{i} SIGKILLs over a {d:.2} s run (load stage {load:.2} s): {before} left the store as before ({mid_write} of them while the run held it open for writing), {after} as after",
    );
    assert!(i >= 20);
    assert!(before > 0 && after > 0, "before {before}, after {after}");
    assert!(mid_write > 0, "no kill landed while the run was writing");
}

fn ctrl_c_stops_a_run_cleanly_and_writes_nothing(s: &Setup) {
    let dir = s.root.join("sigint");
    std::fs::create_dir(&dir).unwrap();
    std::fs::copy(&s.base, dir.join("crm.db")).unwrap();
    let child = start(s, "run", &dir);
    // Early enough that the run is still resolving (a run of the test's data takes about a
    // third of a second); late enough that the handler is set (it is, within milliseconds
    // of the start).
    std::thread::sleep((s.run_time / 4).max(Duration::from_millis(80)));
    // SAFETY: kill(2) on the pid of a child we spawned and have not yet waited for.
    let rc = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    assert_eq!(rc, 0);
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(130), "{}", show(&o));
    assert!(
        text(&o.stderr).contains("interrupted, nothing was written"),
        "{}",
        show(&o)
    );
    assert_no_panic(&o);
    assert_eq!(
        state_of(s, "run", &dir.join("crm.db"), "SIGINT"),
        State::Before
    );
    assert_check_passes(&dir, "crm.db");
    assert_ok(&crmfuse(&dir, &args(s, "run")));
    assert_eq!(
        state_of(s, "run", &dir.join("crm.db"), "run after SIGINT"),
        State::After
    );
}

/// A first load into a new store goes through a rollback journal instead of the WAL (see
/// `store::begin_first_load`). Killed at many moments, it leaves no store, a store with no
/// rows, or the whole load, never part of it; the next run completes normally, and the
/// store is in WAL mode again with no journal beside it.
#[test]
fn a_first_load_killed_leaves_an_empty_store_or_the_whole_load() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let pipeline = copy_demo(root);
    add_crowd(&pipeline, CROWD_ROWS, 0);
    let p = pipeline.to_str().unwrap();
    let model = root.join("model.json");
    let m = model.to_str().unwrap();
    let trained = root.join("trained");
    std::fs::create_dir(&trained).unwrap();
    assert_ok(&crmfuse(&trained, &["run", p, "--save-model", m]));
    // The reference: a first load with that model.
    let reference = root.join("reference");
    std::fs::create_dir(&reference).unwrap();
    let started = Instant::now();
    let o = crmfuse(&reference, &["run", p, "--model", m]);
    let d = started.elapsed().as_secs_f64();
    assert_ok(&o);
    let after = dump(&reference.join("crm.db"));
    // The load switched the store back to WAL mode when it was done.
    let conn = rusqlite::Connection::open(reference.join("crm.db")).unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    drop(conn);

    // Kill moments: ten spread over the run (a busy machine stretches or shrinks a run, so
    // these are only roughly placed), and six once the load's journal is there, a few
    // milliseconds apart: the load writes under it, and its time is too short to hit by
    // the clock alone.
    let mut moments: Vec<Moment> = (0..10)
        .map(|i| Moment::At(d * 1.1 * f64::from(i) / 9.0))
        .collect();
    moments.extend((0..6).map(|i| Moment::IntoLoad(3.0 * f64::from(i))));
    let (mut empty, mut whole, mut cut_short) = (0, 0, 0);
    let mut i = 0;
    // If no kill cut the load short, or none came after it, a few more try again.
    let mut extra = 0u32;
    while i < moments.len() || ((cut_short == 0 || whole == 0) && extra < 10) {
        let moment = match moments.get(i) {
            Some(m) => *m,
            None if cut_short == 0 => {
                extra += 1;
                Moment::IntoLoad(f64::from(extra % 4))
            }
            None => {
                extra += 1;
                Moment::At(d * (1.0 + 0.25 * f64::from(extra)))
            }
        };
        let dir = root.join(format!("kill{i}"));
        std::fs::create_dir(&dir).unwrap();
        let mut child = bin()
            .args(["run", p, "--model", m])
            .current_dir(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let delay = match moment {
            Moment::At(s) => s,
            Moment::IntoLoad(ms) => {
                let started = Instant::now();
                while !load_journal(&dir)
                    && child.try_wait().unwrap().is_none()
                    && started.elapsed() < Duration::from_secs(120)
                {
                    std::thread::sleep(Duration::from_micros(200));
                }
                ms / 1000.0
            }
        };
        std::thread::sleep(Duration::from_secs_f64(delay.max(0.0)));
        child.kill().unwrap(); // SIGKILL; a no-op when the run has already ended
        child.wait().unwrap();
        let what = format!("kill {i} of a first load ({moment:?}, run of {d:.2} s)");
        let store = dir.join("crm.db");
        let journal = load_journal(&dir);
        if store.exists() {
            // Opening the store for writing rolls back a load cut short (from its journal).
            let conn = rusqlite::Connection::open(&store).unwrap();
            if dump_conn(&conn) == after {
                whole += 1;
            } else {
                let tables: Vec<String> = conn
                    .prepare(
                        "SELECT name FROM sqlite_master WHERE type = 'table' AND name <> 'meta'",
                    )
                    .unwrap()
                    .query_map([], |r| r.get(0))
                    .unwrap()
                    .collect::<Result<_, _>>()
                    .unwrap();
                for t in tables {
                    let n = count_in(&conn, &format!("SELECT count(*) FROM \"{t}\""));
                    assert_eq!(n, 0, "{what}: {t} holds {n} rows of a load cut short");
                }
                empty += 1;
                cut_short += usize::from(journal);
            }
        } else {
            empty += 1;
        }
        // The next run completes normally: the whole load, or nothing left to do.
        let o = crmfuse(&dir, &["run", p, "--model", m]);
        assert_ok(&o);
        let now = dump(&store);
        assert!(
            now == after || recorded_no_change(&o),
            "{what}: the run after the kill did not end where a first load ends"
        );
        let conn = rusqlite::Connection::open(&store).unwrap();
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal", "{what}");
        assert!(!dir.join("crm.db-journal").exists(), "{what}");
        drop(conn);
        assert_check_passes(&dir, "crm.db");
        std::fs::remove_dir_all(&dir).unwrap();
        i += 1;
    }
    eprintln!(
        "{i} SIGKILLs over a {d:.2} s first load: {empty} left no rows ({cut_short} of them cut the load short), {whole} the whole load",
    );
    assert!(empty > 0 && whole > 0, "empty {empty}, whole {whole}");
    assert!(cut_short > 0, "no kill landed while the load was writing");
}

/// A first run killed as it creates the store leaves a zero-length file (SQLite writes
/// nothing into it before the schema commits): the next run takes it as no store yet.
#[test]
fn a_zero_length_store_left_by_a_killed_first_run_is_no_store_yet() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = copy_demo(dir.path());
    let p = pipeline.to_str().unwrap();
    std::fs::write(dir.path().join("crm.db"), b"").unwrap();
    for args in [&["explain", "C000001", p][..], &["check", p]] {
        let o = crmfuse(dir.path(), args);
        // An error (exit 1), not a store with problems (exit 4).
        assert_eq!(o.status.code(), Some(1), "{}", show(&o));
        assert!(
            text(&o.stderr).contains("no store here yet"),
            "{}",
            show(&o)
        );
    }
    assert_ok(&crmfuse(dir.path(), &["run", p]));
    assert_check_passes(dir.path(), "crm.db");
}

/// When a kill comes: seconds after the start, or milliseconds after the load's journal
/// appears.
#[derive(Clone, Copy, Debug)]
enum Moment {
    At(f64),
    IntoLoad(f64),
}

/// A rollback journal beside a store that holds its schema (100 KiB): the first load's.
/// (SQLite writes a new store's first page under a journal too, and then the file holds
/// that page at most.)
fn load_journal(dir: &Path) -> bool {
    let len = std::fs::metadata(dir.join("crm.db")).map_or(0, |m| m.len());
    dir.join("crm.db-journal").exists() && len > 16 * 1024
}
