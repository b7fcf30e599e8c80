//! `crmfuse check`: clean on the stores real runs write (demo, twice, and after a run with
//! real changes), and failing with the right message on stores corrupted on purpose.

mod common;

use std::path::Path;

use common::*;
use rusqlite::Connection;

/// The demo loaded, a no-change rerun, then a run with a changed, larger export: the
/// store passes check after each, by config and by --store, in text and JSON.
#[test]
fn check_passes_on_every_store_a_run_writes() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = copy_demo(dir.path());
    let pipeline = pipeline.to_str().unwrap();

    let o = crmfuse(dir.path(), &["check", pipeline]);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert!(text(&o.stderr).contains("crm.db"), "{}", show(&o));
    assert!(text(&o.stderr).contains("no store here"), "{}", show(&o));

    assert_ok(&crmfuse(dir.path(), &["run", pipeline]));
    let o = crmfuse(dir.path(), &["check", pipeline]);
    assert_ok(&o);
    assert!(
        text(&o.stdout).contains("1 run(s), 130 active customer(s)"),
        "{}",
        show(&o)
    );

    let o = crmfuse(dir.path(), &["run", pipeline]);
    assert_ok(&o);
    assert!(recorded_no_change(&o), "{}", show(&o));
    assert_check_passes(dir.path(), "crm.db");

    add_crowd(Path::new(pipeline), 300, 0);
    assert_ok(&crmfuse(dir.path(), &["run", pipeline]));
    assert_check_passes(dir.path(), "crm.db");
    add_crowd(Path::new(pipeline), 300, 1);
    let o = crmfuse(dir.path(), &["run", pipeline]);
    assert_ok(&o);
    assert!(text(&o.stdout).contains("merged"), "{}", show(&o));
    let o = crmfuse(dir.path(), &["check", "--store", "crm.db", "--json"]);
    assert_ok(&o);
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["ok"], true, "{}", show(&o));
    assert_eq!(report["counts"]["runs"], 4);
    assert!(report["counts"]["customers_merged"].as_u64().unwrap() > 0);

    // Sources that keep or flag rows they no longer have: check counts those rows right.
    let text = std::fs::read_to_string(pipeline).unwrap();
    let text = text.replace(
        "mapping = \"crowd.toml\"\n",
        "mapping = \"crowd.toml\"\non_disappear = \"ignore\"\n",
    );
    let text = text.replace(
        "mapping = \"../../mappings/demo_webshop.toml\"\n",
        "mapping = \"../../mappings/demo_webshop.toml\"\non_disappear = \"mark_deleted\"\n",
    );
    std::fs::write(pipeline, text).unwrap();
    add_crowd(Path::new(pipeline), 250, 0); // the last 50 rows are gone: kept
    let webshop = Path::new(pipeline).with_file_name("webshop_orders.jsonl");
    let lines = std::fs::read_to_string(&webshop).unwrap();
    let kept: Vec<&str> = lines.lines().skip(5).collect();
    std::fs::write(&webshop, kept.join("\n") + "\n").unwrap(); // 5 rows gone: flagged
    let o = crmfuse(dir.path(), &["sync", pipeline, "--json"]);
    assert_ok(&o);
    let conn = Connection::open(dir.path().join("crm.db")).unwrap();
    assert_eq!(
        count_in(
            &conn,
            "SELECT count(*) FROM customer_sources WHERE deleted_run_id IS NOT NULL"
        ),
        5
    );
    assert_eq!(
        count_in(
            &conn,
            "SELECT count(*) FROM customer_sources WHERE source = 'crowd'"
        ),
        // The 312 keys of the previous export (kept) and 15 that this one brings back.
        327
    );
    drop(conn);
    assert_check_passes(dir.path(), "crm.db");
    // A steward's pin, and the run that applies it.
    let o = crmfuse(
        dir.path(),
        &[
            "pin",
            "C00000001",
            "email",
            "pinned@example.org",
            pipeline,
            "--why",
            "test",
        ],
    );
    assert_ok(&o);
    assert_ok(&crmfuse(dir.path(), &["sync", pipeline]));
    assert_check_passes(dir.path(), "crm.db");
}

/// Each corruption, applied to a copy of a sound store, makes check exit 4 with a message
/// that names the problem.
#[test]
fn check_finds_each_kind_of_corruption() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = copy_demo(dir.path());
    assert_ok(&crmfuse(dir.path(), &["run", pipeline.to_str().unwrap()]));
    let sound = dir.path().join("crm.db");

    // (name, SQL that corrupts, code, words the message must contain)
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            "xref to a missing customer",
            "UPDATE customer_sources SET customer_id = 'C09999999'
             WHERE source = 'erp' AND source_key = '0010001'",
            "xref.customer",
            "erp record 0010001 points at customer C09999999, which does not exist",
        ),
        (
            "active customer without a source record",
            "INSERT INTO customers (customer_id, status, created_run_id, updated_run_id)
             VALUES ('C00000999', 'active', 1, 1)",
            "customer.no_source",
            "active customer C00000999 has no source record",
        ),
        (
            "merged customer pointing nowhere",
            "UPDATE customers SET status = 'merged', merged_into = 'C07777777'
             WHERE customer_id = 'C00000002'",
            "customer.merged_into",
            "merged customer C00000002 points at customer C07777777, which does not exist",
        ),
        (
            "lineage from another customer's record",
            "UPDATE field_lineage SET source = 'webshop', source_key = (
                 SELECT source_key FROM customer_sources
                 WHERE source = 'webshop' AND customer_id <> 'C00000001' LIMIT 1)
             WHERE customer_id = 'C00000001' AND field = 'full_name'",
            "lineage.record",
            "full_name of customer C00000001 comes from webshop record",
        ),
        (
            "lineage from a record that does not exist",
            "UPDATE field_lineage SET source_key = 'NOPE'
             WHERE customer_id = 'C00000001' AND field = 'full_name'",
            "lineage.record",
            "which is not in customer_sources",
        ),
        (
            "a row marked deleted by a run that does not exist",
            "UPDATE customer_sources SET deleted_run_id = 9
             WHERE source = 'erp' AND source_key = '0010001'",
            "xref.deleted_run",
            "erp record 0010001 is marked deleted by run 9, which is not in runs",
        ),
        (
            "a pin whose override does not exist",
            "UPDATE field_lineage SET source = 'steward', source_key = 'override 7'
             WHERE customer_id = 'C00000001' AND field = 'full_name'",
            "lineage.pin",
            "full_name of customer C00000001 is pinned by `override 7`, which is not a pin",
        ),
        (
            "orphan match link",
            "DELETE FROM customer_sources WHERE (source, source_key) IN
                 (SELECT source_b, key_b FROM match_links ORDER BY 1, 2 LIMIT 1)",
            "link.record",
            "is not in customer_sources",
        ),
        (
            "audit event of a run that does not exist",
            "INSERT INTO audit_events (run_id, customer_id, event) VALUES (42, 'C00000001', 'update')",
            "audit.run",
            "1 event(s) of run 42, which is not in runs",
        ),
        (
            "run counts that do not balance",
            "UPDATE runs SET rows_read = rows_read + 1",
            "run.balance",
            "run 1: rows_read 321 is not records_loaded 314 + rows_quarantined 6",
        ),
        (
            "a quarantined row lost",
            "DELETE FROM quarantine WHERE source = 'webshop'
                 AND line = (SELECT min(line) FROM quarantine WHERE source = 'webshop')",
            "run.latest",
            "source webshop: latest run 1 read 100 rows (98 loaded, 2 quarantined) but the store holds 98 in customer_sources and 1 in quarantine",
        ),
        (
            "customer ids that would be handed out again",
            "UPDATE meta SET value = '5' WHERE key = 'next_customer_number'",
            "meta.next_customer_number",
            "next_customer_number is 5 but customer number 130 exists",
        ),
        (
            "unknown status",
            "UPDATE customers SET status = 'deleted' WHERE customer_id = 'C00000003'",
            "customer.status",
            "customer C00000003 has status `deleted`",
        ),
        (
            "foreign key broken",
            "UPDATE field_lineage SET customer_id = 'C08888888'
             WHERE customer_id = 'C00000004' AND field = 'full_name'",
            "foreign_key",
            "field_lineage row",
        ),
    ];
    for (i, (name, sql, code, words)) in cases.iter().enumerate() {
        let file = format!("corrupt{i}.db");
        std::fs::copy(&sound, dir.path().join(&file)).unwrap();
        let conn = Connection::open(dir.path().join(&file)).unwrap();
        // rusqlite's bundled SQLite enforces foreign keys by default: corrupt past them.
        conn.execute_batch("PRAGMA foreign_keys = OFF").unwrap();
        conn.execute_batch(sql).unwrap();
        drop(conn);
        let o = crmfuse(dir.path(), &["check", "--store", &file]);
        assert_eq!(o.status.code(), Some(4), "{name}: {}", show(&o));
        assert_no_panic(&o);
        let out = text(&o.stdout);
        assert!(
            out.lines()
                .any(|l| l.trim_start().starts_with(&format!("{code}:")) && l.contains(words)),
            "{name}: expected `{code}: ...{words}...` in\n{out}"
        );
    }
    // The sound store is still clean: every failure above came from its corruption.
    assert_check_passes(dir.path(), "crm.db");
}

/// Damaged pages and a file that is not a database at all are problems (exit 4), not a
/// crash or a generic error.
#[test]
fn check_reports_a_damaged_file() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = copy_demo(dir.path());
    assert_ok(&crmfuse(dir.path(), &["run", pipeline.to_str().unwrap()]));
    let mut bytes = std::fs::read(dir.path().join("crm.db")).unwrap();
    assert!(
        !dir.path().join("crm.db-wal").exists(),
        "the last connection checkpoints the WAL"
    );
    let page = 4096;
    let pages = bytes.len() / page;
    // Scribble over the second half of the file's pages (not the header page).
    for p in (pages / 2..pages).step_by(3) {
        for b in &mut bytes[p * page + 8..(p + 1) * page] {
            *b = 0xA5;
        }
    }
    std::fs::write(dir.path().join("damaged.db"), &bytes).unwrap();
    let o = crmfuse(dir.path(), &["check", "--store", "damaged.db"]);
    assert_eq!(o.status.code(), Some(4), "{}", show(&o));
    assert_no_panic(&o);
    assert!(text(&o.stdout).contains("integrity:"), "{}", show(&o));

    std::fs::write(dir.path().join("junk.db"), vec![b'?'; 8192]).unwrap();
    let o = crmfuse(dir.path(), &["check", "--store", "junk.db"]);
    assert_eq!(o.status.code(), Some(4), "{}", show(&o));
    assert!(
        text(&o.stdout).contains("integrity: SQLite cannot read the file as a database"),
        "{}",
        show(&o)
    );
}
