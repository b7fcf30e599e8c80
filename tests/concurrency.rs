//! Concurrency: a reader of the store while a run loads sees the store as before the run
//! or as after it, never half-loaded (WAL snapshots); two runs started at once on one
//! store never interleave: one writes, the other waits and then finds nothing left to do
//! (or refuses with a clear message), and the store passes check.

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use common::*;
use rusqlite::{Connection, OpenFlags};

#[test]
fn a_reader_during_a_run_sees_before_or_after_never_half() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = copy_demo(dir.path());
    add_crowd(&pipeline, 600, 0);
    let p = pipeline.to_str().unwrap();
    // A saved model: training takes seconds in a debug build and is not what is tested.
    let model = dir.path().join("model.json");
    let m = model.to_str().unwrap();
    assert_ok(&crmfuse(dir.path(), &["run", p, "--save-model", m]));
    let store = dir.path().join("crm.db");
    let before = dump(&store);

    // The reference "after": the changed export run on a copy.
    add_crowd(&pipeline, 600, 1);
    let ref_dir = dir.path().join("reference");
    std::fs::create_dir(&ref_dir).unwrap();
    std::fs::copy(&store, ref_dir.join("crm.db")).unwrap();
    assert_ok(&crmfuse(&ref_dir, &["run", p, "--model", m]));
    let after = dump(&ref_dir.join("crm.db"));
    assert_ne!(before, after);

    let reader = Connection::open_with_flags(&store, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let mut run = bin()
        .args(["run", p, "--model", m])
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (mut saw_before, mut saw_after, mut checks) = (0, 0, 0);
    loop {
        let finished = run.try_wait().unwrap().is_some();
        // One read transaction: one snapshot of every table.
        reader.execute_batch("BEGIN").unwrap();
        let now = dump_conn(&reader);
        invariants_hold(&reader);
        reader.execute_batch("COMMIT").unwrap();
        if now == before {
            saw_before += 1;
        } else if now == after {
            saw_after += 1;
        } else {
            panic!("a reader saw a store that is neither before nor after the run");
        }
        // Another process reading at the same time: check sees a sound store.
        if checks < 3 && !finished {
            assert_check_passes(dir.path(), "crm.db");
            checks += 1;
        }
        if finished {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let o = run.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", show(&o));
    eprintln!("reader saw the store {saw_before} time(s) as before, {saw_after} as after");
    assert!(saw_before > 0 && saw_after > 0);
    assert_check_passes(dir.path(), "crm.db");
}

/// Cheap invariants a half-loaded store would break.
fn invariants_hold(conn: &Connection) {
    let active = count_in(
        conn,
        "SELECT count(*) FROM customers WHERE status = 'active'",
    );
    let with_records = count_in(
        conn,
        "SELECT count(DISTINCT s.customer_id) FROM customer_sources s
         JOIN customers c ON c.customer_id = s.customer_id WHERE c.status = 'active'",
    );
    assert_eq!(active, with_records);
    let (loaded, quarantined): (i64, i64) = conn
        .query_row(
            "SELECT records_loaded, rows_quarantined FROM runs ORDER BY run_id DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(
        loaded,
        count_in(conn, "SELECT count(*) FROM customer_sources")
    );
    assert_eq!(
        quarantined,
        count_in(conn, "SELECT count(*) FROM quarantine")
    );
}

/// Start two `crmfuse run` at the same moment in `dir`; both outputs.
fn two_runs_at_once(dir: &Path, pipeline: &str) -> [std::process::Output; 2] {
    let start = || {
        bin()
            .args(["run", pipeline])
            .current_dir(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (start(), start());
    [a.wait_with_output().unwrap(), b.wait_with_output().unwrap()]
}

/// Exactly one of two concurrent runs writes the changes; the other waited and found
/// nothing left to do, or refused with the message. Returns how many runs were recorded.
fn one_wrote_the_other_waited_or_refused(outs: &[std::process::Output; 2]) -> usize {
    let mut wrote = 0;
    let mut idle = 0;
    for o in outs {
        assert_no_panic(o);
        if o.status.success() {
            if recorded_no_change(o) {
                idle += 1;
            } else {
                wrote += 1;
            }
        } else {
            assert!(
                text(&o.stderr).contains("another crmfuse run is writing this store"),
                "{}",
                show(o)
            );
        }
    }
    assert_eq!(
        wrote,
        1,
        "runs interleaved or none wrote:\n{}\n{}",
        show(&outs[0]),
        show(&outs[1])
    );
    wrote + idle
}

#[test]
fn two_runs_at_once_never_interleave() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = copy_demo(dir.path());
    let p = pipeline.to_str().unwrap();

    // On a store that does not exist yet: both create it at once.
    let outs = two_runs_at_once(dir.path(), p);
    let runs = one_wrote_the_other_waited_or_refused(&outs);
    assert_check_passes(dir.path(), "crm.db");
    let conn = Connection::open(dir.path().join("crm.db")).unwrap();
    assert_eq!(count_in(&conn, "SELECT count(*) FROM runs"), runs as i64);
    assert_eq!(count_in(&conn, "SELECT count(*) FROM customers"), 130);
    drop(conn);

    // On an existing store, with a changed export to write.
    add_crowd(&pipeline, 300, 0);
    let outs = two_runs_at_once(dir.path(), p);
    let more = one_wrote_the_other_waited_or_refused(&outs);
    assert_check_passes(dir.path(), "crm.db");
    let conn = Connection::open(dir.path().join("crm.db")).unwrap();
    assert_eq!(
        count_in(&conn, "SELECT count(*) FROM runs"),
        (runs + more) as i64
    );
    // Each crowd record is in the store once, created once.
    assert_eq!(
        count_in(
            &conn,
            "SELECT count(*) FROM audit_events WHERE event = 'create'"
        ),
        count_in(&conn, "SELECT count(*) FROM customers")
    );
}
