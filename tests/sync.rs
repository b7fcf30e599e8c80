//! End-to-end: history, rollback, steward overrides and sync on the demo.

mod common;

use std::path::Path;

use common::{Scratch, assert_store_sound, count, failed, json, ok};

const CONFIG: &str = "fixtures/demo/pipeline.toml";

/// Every row of every table, in primary-key order, as text.
fn dump_all(db: &Path) -> Vec<String> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    let mut out = Vec::new();
    for t in tables {
        let mut stmt = conn
            .prepare(&format!("SELECT * FROM {t} ORDER BY 1, 2, 3"))
            .or_else(|_| conn.prepare(&format!("SELECT * FROM {t} ORDER BY 1, 2")))
            .unwrap();
        let n = stmt.column_count();
        let rows = stmt
            .query_map([], |r| {
                let mut s = t.clone();
                for i in 0..n {
                    s.push_str(&format!("|{:?}", r.get::<_, rusqlite::types::Value>(i)?));
                }
                Ok(s)
            })
            .unwrap();
        out.extend(rows.map(|r| r.unwrap()));
    }
    // Rows whose first columns tie come in rowid order, which a restore may change.
    out.sort();
    out
}

/// Equal dumps, or a failure that shows the first rows that differ.
fn assert_same(got: &[String], want: &[String]) {
    let extra: Vec<&String> = got.iter().filter(|r| !want.contains(r)).take(5).collect();
    let missing: Vec<&String> = want.iter().filter(|r| !got.contains(r)).take(5).collect();
    assert!(
        got == want,
        "{} vs {} rows; extra: {extra:#?}\nmissing: {missing:#?}",
        got.len(),
        want.len()
    );
}

#[test]
fn history_lists_runs_with_counts() {
    let s = Scratch::demo();
    let out = ok(&s.run(&["history", CONFIG]));
    assert!(out.contains("no runs"), "{out}");
    ok(&s.run(&["run", CONFIG]));
    ok(&s.run(&["run", CONFIG]));
    let runs = json(&s.run(&["history", "--store", "crm.db", "--json"]));
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0]["run_id"], 1);
    assert_eq!(runs[0]["command"], "run");
    assert_eq!(
        runs[0]["customers_created"].as_i64().unwrap(),
        count(&s.store(), "SELECT count(*) FROM customers")
    );
    assert_eq!(runs[1]["changes"], 0);
    let table = ok(&s.run(&["history", CONFIG]));
    assert_eq!(table.lines().count(), 3, "{table}");
    assert_store_sound(&s.store());
    let _ = failed(&s.run(&["history"]));
}

/// Add a sales contact, change a support contact's e-mail, and drop the last webshop row.
fn change_sources(s: &Scratch) {
    let sales = s.path("fixtures/demo/sales_sheet.csv");
    let mut text = std::fs::read_to_string(&sales).unwrap();
    text.push_str("NW-950,Neue Person,neu.person@example.com,0171 9999999,,Fürth,90762,Germany,-,13/8/2024,M. Öz,new\n");
    std::fs::write(&sales, text).unwrap();
    let support = s.path("fixtures/demo/support_tickets.csv");
    let text = std::fs::read_to_string(&support).unwrap();
    assert!(text.contains("\"Thomas.Haas@example.de\""));
    std::fs::write(
        &support,
        text.replace(
            "\"Thomas.Haas@example.de\"",
            "\"thomas.haas@neu.example.de\"",
        ),
    )
    .unwrap();
    let webshop = s.path("fixtures/demo/webshop_orders.jsonl");
    let text = std::fs::read_to_string(&webshop).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.pop();
    std::fs::write(&webshop, lines.join("\n") + "\n").unwrap();
}

#[test]
fn sync_scores_with_the_stored_model_and_run_retrains() {
    let s = Scratch::demo();
    ok(&s.run(&["run", CONFIG]));
    change_sources(&s);
    let retrained = s.path("retrained.json");
    ok(&s.run(&[
        "run",
        CONFIG,
        "--dry-run",
        "--save-model",
        retrained.to_str().unwrap(),
    ]));
    ok(&s.run(&["sync", CONFIG]));
    let models = query(&s.store(), "SELECT model_json FROM runs ORDER BY run_id");
    assert_eq!(models.len(), 2);
    // The sync kept the first run's model, although the changed sources train another.
    assert_eq!(models[1], models[0]);
    let first: serde_json::Value = serde_json::from_str(&models[0]).unwrap();
    let other: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&retrained).unwrap()).unwrap();
    assert_ne!(
        first, other,
        "the changed sources should train a different model"
    );
}

#[test]
fn rollback_of_a_sync_restores_every_table_exactly() {
    let s = Scratch::demo();
    ok(&s.run(&["run", CONFIG]));
    let after_first = dump_all(&s.store());
    change_sources(&s);
    let second = json(&s.run(&["run", CONFIG, "--json"]));
    assert!(second["changes"].as_i64().unwrap() > 0, "{second}");
    assert_ne!(dump_all(&s.store()), after_first);
    // A third run changes nothing, but is a run: rolling back 2 removes it too.
    ok(&s.run(&["run", CONFIG]));
    // Without a terminal and without --yes: refused, nothing changed.
    let before = dump_all(&s.store());
    let err = failed(&s.run(&["rollback", "2", CONFIG]));
    assert!(err.contains("--yes"), "{err}");
    assert_eq!(dump_all(&s.store()), before);
    let err = failed(&s.run(&["rollback", "9", CONFIG, "--yes"]));
    assert!(err.contains("no run 9"), "{err}");
    let out = ok(&s.run(&["rollback", "2", CONFIG, "--yes"]));
    assert!(out.contains("rolled back run(s) 2, 3"), "{out}");
    assert_same(&dump_all(&s.store()), &after_first);
    assert_store_sound(&s.store());
    // The store keeps working: the changed sources load again as run 2, with the same
    // ids as the first time.
    let again = json(&s.run(&["run", CONFIG, "--json"]));
    assert_eq!(again["run_id"], 2);
    assert_eq!(again["changes"], second["changes"]);
    // Rolling back everything leaves empty tables.
    ok(&s.run(&["rollback", "1", CONFIG, "--yes"]));
    for table in [
        "customers",
        "customer_sources",
        "field_lineage",
        "match_links",
        "quarantine",
        "record_issues",
        "audit_events",
        "runs",
    ] {
        assert_eq!(
            count(&s.store(), &format!("SELECT count(*) FROM {table}")),
            0,
            "{table}"
        );
    }
    assert_eq!(count(&s.store(), "SELECT count(*) FROM undo_log"), 0);
    assert_store_sound(&s.store());
}

/// The undo log's rows per run, as `(run_id, rows)`.
fn undo_rows(db: &Path) -> Vec<(i64, i64)> {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.prepare("SELECT run_id, count(*) FROM undo_log GROUP BY run_id ORDER BY run_id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

#[test]
fn prune_keeps_the_newest_undo_logs_and_rollback_says_why_it_cannot_go_further() {
    let s = Scratch::demo();
    ok(&s.run(&["run", CONFIG]));
    change_sources(&s);
    ok(&s.run(&["sync", CONFIG]));
    let before_third = dump_all(&s.store());
    let wolfgang = customer_of(&s.store(), "erp", "0010008");
    ok(&s.run(&[
        "pin",
        &wolfgang,
        "given_name",
        "Wolfi",
        CONFIG,
        "--why",
        "test",
    ]));
    ok(&s.run(&["sync", CONFIG]));
    let logged = undo_rows(&s.store());
    assert_eq!(logged.iter().map(|r| r.0).collect::<Vec<_>>(), [1, 2, 3, 4]);

    // Without a terminal and without --yes: refused, nothing deleted.
    let err = failed(&s.run(&["prune", CONFIG, "--keep-runs", "2"]));
    assert!(err.contains("--yes"), "{err}");
    assert_eq!(undo_rows(&s.store()), logged);
    let err = failed(&s.run(&["prune", CONFIG, "--keep-runs", "0", "--yes"]));
    assert!(err.contains("--keep-runs"), "{err}");

    let events = count(&s.store(), "SELECT count(*) FROM audit_events");
    let out = ok(&s.run(&["prune", CONFIG, "--keep-runs", "2", "--yes"]));
    let gone = logged[0].1 + logged[1].1;
    assert!(
        out.contains(&format!("run(s) 1, 2 ({gone} undo rows)")),
        "{out}"
    );
    assert!(out.contains("back to run 3"), "{out}");
    assert_eq!(undo_rows(&s.store()), logged[2..]);
    // The runs and their audit trail stay; history says which can still be undone.
    let runs = json(&s.run(&["history", CONFIG, "--json"]));
    let undo: Vec<bool> = runs
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["undo_log"].as_bool().unwrap())
        .collect();
    assert_eq!(undo, [false, false, true, true]);
    assert_eq!(
        count(&s.store(), "SELECT count(*) FROM audit_events"),
        events
    );
    assert_store_sound(&s.store());
    // Pruning again finds nothing more to delete.
    let out = ok(&s.run(&["prune", CONFIG, "--keep-runs", "2", "--yes"]));
    assert!(out.contains("nothing to prune"), "{out}");

    // A rollback into the pruned runs is refused, and says why.
    let err = failed(&s.run(&["rollback", "2", CONFIG, "--yes"]));
    assert!(
        err.contains("run 2 cannot be rolled back") && err.contains("crmfuse prune"),
        "{err}"
    );
    assert_eq!(undo_rows(&s.store()), logged[2..]);
    // One to the oldest kept run restores every table as it was before it, except what
    // the prune itself deleted: the older runs' undo rows (and the note that it did).
    ok(&s.run(&["rollback", "3", CONFIG, "--yes"]));
    let expected: Vec<String> = before_third
        .into_iter()
        .filter(|r| !r.starts_with("undo_log|"))
        .collect();
    let mut got = dump_all(&s.store());
    let note = got
        .iter()
        .position(|r| r.starts_with("meta|Text(\"undo_pruned_before\")"))
        .expect("the prune's note in meta");
    assert_eq!(
        got.remove(note),
        "meta|Text(\"undo_pruned_before\")|Text(\"3\")"
    );
    assert_same(&got, &expected);
    assert_store_sound(&s.store());
}

fn query(db: &Path, sql: &str) -> Vec<String> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn.prepare(sql).unwrap();
    stmt.query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

fn customer_of(db: &Path, source: &str, key: &str) -> String {
    query(
        db,
        &format!(
            "SELECT customer_id FROM customer_sources WHERE source = '{source}' AND source_key = '{key}'"
        ),
    )
    .remove(0)
}

#[test]
fn link_makes_two_customers_one_from_the_next_run_on() {
    let s = Scratch::demo();
    ok(&s.run(&["run", CONFIG]));
    let db = s.store();
    // Two single-record customers that the matcher kept apart.
    let singles = query(
        &db,
        "SELECT customer_id FROM customer_sources GROUP BY customer_id HAVING count(*) = 1 ORDER BY customer_id LIMIT 2",
    );
    let (a, b) = (&singles[0], &singles[1]);
    let out = ok(&s.run(&[
        "link",
        a,
        b,
        CONFIG,
        "--why",
        "same person, confirmed by phone",
    ]));
    assert!(out.contains("override 1 (link)"), "{out}");
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM audit_events WHERE event = 'link'"
        ),
        1
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM overrides WHERE kind = 'link' AND active = 1 AND why <> '' AND who <> ''"
        ),
        1
    );
    let run = json(&s.run(&["run", CONFIG, "--json"]));
    assert_eq!(run["customer_changes"]["merged"], 1, "{run}");
    let ids = query(
        &db,
        &format!(
            "SELECT DISTINCT x.customer_id FROM customer_sources x WHERE x.customer_id IN ('{a}', '{b}')"
        ),
    );
    assert_eq!(ids, vec![a.to_string()], "the first id survives the link");
    assert_eq!(
        query(
            &db,
            &format!("SELECT merged_into FROM customers WHERE customer_id = '{b}'")
        ),
        vec![a.to_string()]
    );
    // Replayed on every run: a further run changes nothing.
    assert_eq!(json(&s.run(&["run", CONFIG, "--json"]))["changes"], 0);
    assert_store_sound(&db);
    // Unknown and merged customers are refused with a message that says which.
    let err = failed(&s.run(&["link", a, "C99999999", CONFIG, "--why", "x"]));
    assert!(err.contains("no customer C99999999"), "{err}");
    let err = failed(&s.run(&["link", a, b, CONFIG, "--why", "x"]));
    assert!(err.contains(&format!("name {a} instead")), "{err}");
}

#[test]
fn unlink_splits_a_record_off_and_it_stays_split() {
    let s = Scratch::demo();
    ok(&s.run(&["run", CONFIG]));
    let db = s.store();
    let big = query(
        &db,
        "SELECT customer_id FROM customer_sources GROUP BY customer_id HAVING count(*) >= 3 ORDER BY customer_id LIMIT 1",
    )
    .remove(0);
    let conn = rusqlite::Connection::open(&db).unwrap();
    let (source, key): (String, String) = conn
        .query_row(
            "SELECT source, source_key FROM customer_sources WHERE customer_id = ?1 ORDER BY source DESC, source_key LIMIT 1",
            [&big],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    drop(conn);
    let rec = format!("{source}:{key}");
    ok(&s.run(&[
        "unlink",
        &big,
        &rec,
        CONFIG,
        "--why",
        "different person, same household",
    ]));
    ok(&s.run(&["run", CONFIG]));
    let own = customer_of(&db, &source, &key);
    assert_ne!(own, big);
    assert_eq!(
        count(
            &db,
            &format!("SELECT count(*) FROM customer_sources WHERE customer_id = '{own}'")
        ),
        1
    );
    // The rest keeps the id (the larger part keeps it).
    assert!(
        count(
            &db,
            &format!("SELECT count(*) FROM customer_sources WHERE customer_id = '{big}'")
        ) >= 2
    );
    assert_eq!(json(&s.run(&["run", CONFIG, "--json"]))["changes"], 0);
    assert_eq!(customer_of(&db, &source, &key), own);
    assert_store_sound(&db);
    let err = failed(&s.run(&["unlink", &big, "nosuchrecord", CONFIG, "--why", "x"]));
    assert!(err.contains("SOURCE:KEY"), "{err}");
}

#[test]
fn a_pin_survives_a_source_change_to_that_field() {
    let s = Scratch::demo();
    ok(&s.run(&["run", CONFIG]));
    let db = s.store();
    let id = customer_of(&db, "support", "ZD-40028");
    ok(&s.run(&[
        "pin",
        &id,
        "email",
        "pinned@example.org",
        CONFIG,
        "--why",
        "customer asked",
    ]));
    let err = failed(&s.run(&["pin", &id, "shoe_size", "44", CONFIG, "--why", "x"]));
    assert!(err.contains("no golden field `shoe_size`"), "{err}");
    ok(&s.run(&["run", CONFIG]));
    let email = format!("SELECT email FROM customers WHERE customer_id = '{id}'");
    assert_eq!(query(&db, &email), ["pinned@example.org"]);
    assert_eq!(
        query(
            &db,
            &format!(
                "SELECT rule || ' ' || source FROM field_lineage WHERE customer_id = '{id}' AND field = 'email'"
            )
        ),
        ["pin steward"]
    );
    assert_store_sound(&db);
    change_sources(&s);
    ok(&s.run(&["run", CONFIG]));
    assert_eq!(customer_of(&db, "support", "ZD-40028"), id);
    assert_eq!(query(&db, &email), ["pinned@example.org"]);
    // History lists the override as a run of its own, and rollback undoes it.
    let runs = json(&s.run(&["history", CONFIG, "--json"]));
    assert_eq!(runs[1]["command"], "pin");
    ok(&s.run(&["rollback", "2", CONFIG, "--yes"]));
    assert_eq!(count(&db, "SELECT count(*) FROM overrides"), 0);
    assert_store_sound(&db);
}

#[test]
fn sync_reports_row_changes_per_source_and_applies_on_disappear() {
    let s = Scratch::demo();
    // The webshop keeps disappeared rows but flags them; the others detach them.
    let cfg = s.config();
    let text = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(
        &cfg,
        text.replace(
            "mapping = \"../../mappings/demo_webshop.toml\"\n",
            "mapping = \"../../mappings/demo_webshop.toml\"\non_disappear = \"mark_deleted\"\n",
        ),
    )
    .unwrap();
    ok(&s.run(&["run", CONFIG]));
    let db = s.store();
    let quiet = json(&s.run(&["sync", CONFIG, "--json"]));
    assert_eq!(
        quiet["changes"], 0,
        "a sync with no source changes records nothing"
    );
    for d in quiet["source_changes"].as_array().unwrap() {
        assert_eq!(d["new"], 0);
        assert_eq!(d["changed"], 0);
        assert_eq!(d["disappeared"], 0);
        assert!(d["unchanged"].as_i64().unwrap() > 0);
    }
    let ids_before = common::Demo::assignment_of(&db);
    change_sources(&s);
    let dropped = query(&db, "SELECT source_key FROM customer_sources WHERE source = 'webshop' ORDER BY line DESC LIMIT 1").remove(0);
    let dry = json(&s.run(&["sync", CONFIG, "--dry-run", "--json"]));
    let by = |v: &serde_json::Value, name: &str| {
        v["source_changes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["source"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(by(&dry, "sales_sheet")["new"], 1, "{dry}");
    assert_eq!(by(&dry, "support")["changed"], 1);
    assert_eq!(by(&dry, "webshop")["disappeared"], 1);
    assert_eq!(by(&dry, "webshop")["on_disappear"], "mark_deleted");
    assert_eq!(
        by(&dry, "erp")["new"].as_i64().unwrap() + by(&dry, "erp")["changed"].as_i64().unwrap(),
        0
    );
    let synced = json(&s.run(&["sync", CONFIG, "--json"]));
    assert_eq!(by(&synced, "support")["changed"], 1);
    assert_store_sound(&db);
    let runs = json(&s.run(&["history", CONFIG, "--json"]));
    assert_eq!(runs[2]["command"], "sync");
    // The disappeared webshop row is kept, flagged with the sync's run id.
    assert_eq!(
        count(
            &db,
            &format!(
                "SELECT deleted_run_id FROM customer_sources WHERE source = 'webshop' AND source_key = '{dropped}'"
            )
        ),
        3
    );
    // Every record that is still there and was not changed kept its customer id.
    // (The customer whose support e-mail changed may split: it is excluded.)
    let after = common::Demo::assignment_of(&db);
    let touched = &ids_before[&("support".to_string(), "ZD-40028".to_string())];
    for (k, id) in &ids_before {
        if id != touched {
            assert_eq!(after.get(k), Some(id), "{k:?}");
        }
    }
    // A second sync: nothing new, the flagged row is not counted again.
    let again = json(&s.run(&["sync", CONFIG, "--json"]));
    assert_eq!(again["changes"], 0, "{again}");
    assert_eq!(by(&again, "webshop")["disappeared"], 0);
    assert_store_sound(&db);
}

#[test]
fn crm_edits_are_kept_unless_the_source_wins() {
    let s = Scratch::demo();
    ok(&s.run(&["run", CONFIG]));
    let db = s.store();
    let conn = rusqlite::Connection::open(&db).unwrap();
    let (id, key): (String, String) = conn
        .query_row(
            "SELECT customer_id, source_key FROM field_lineage l WHERE field = 'email' AND source = 'support'
               AND (SELECT count(*) FROM customer_sources x WHERE x.customer_id = l.customer_id) = 1
             ORDER BY customer_id LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    // A CRM user changes the e-mail and the phone.
    conn.execute(
        "UPDATE customers SET email = 'edited@crm.example', phone = NULL WHERE customer_id = ?1",
        [&id],
    )
    .unwrap();
    drop(conn);
    let email = format!("SELECT coalesce(email, '-') FROM customers WHERE customer_id = '{id}'");
    let quiet = json(&s.run(&["run", CONFIG, "--json"]));
    assert_eq!(quiet["changes"], 0, "{quiet}");
    assert_eq!(query(&db, &email), ["edited@crm.example"]);
    assert_store_sound(&db);
    // The source changes that e-mail: the edit is kept, the conflict reported.
    let support = s.path("fixtures/demo/support_tickets.csv");
    let text = std::fs::read_to_string(&support).unwrap();
    let changed: Vec<String> = text
        .lines()
        .map(|l| {
            if l.starts_with(&format!("\"{key}\",")) {
                let mut cells: Vec<&str> = l.split("\",\"").collect();
                cells[2] = "changed.in.support@example.org";
                cells.join("\",\"")
            } else {
                l.to_string()
            }
        })
        .collect();
    std::fs::write(&support, changed.join("\n") + "\n").unwrap();
    let run = json(&s.run(&["run", CONFIG, "--json"]));
    assert_eq!(run["crm_edit_conflicts"], 1, "{run}");
    let out = ok(&s.run(&["run", CONFIG]));
    assert!(!out.contains("edited in the CRM"), "reported once: {out}");
    assert_eq!(query(&db, &email), ["edited@crm.example"]);
    assert_eq!(
        count(
            &db,
            &format!(
                "SELECT count(*) FROM audit_events WHERE event = 'conflict' AND customer_id = '{id}' AND field = 'email'"
            )
        ),
        1
    );
    // With [sync] source_wins = ["email"], the source's value replaces the edit.
    let cfg = s.config();
    let mut text = std::fs::read_to_string(&cfg).unwrap();
    text.push_str("\n[sync]\nsource_wins = [\"email\"]\n");
    std::fs::write(&cfg, text).unwrap();
    ok(&s.run(&["run", CONFIG]));
    assert_eq!(query(&db, &email), ["changed.in.support@example.org"]);
    assert_eq!(
        query(
            &db,
            &format!("SELECT coalesce(phone, '-') FROM customers WHERE customer_id = '{id}'")
        ),
        ["-"],
        "the phone edit is still kept"
    );
    assert_store_sound(&db);
}

/// Every table but `runs`, `term_counts` and `undo_log`, as text, with audit events and
/// undo entries without their sequence numbers (the order of events may differ between a
/// full and an incremental resolution; what they say may not).
fn dump_outcome(db: &Path) -> Vec<String> {
    let mut rows: Vec<String> = dump_all(db)
        .into_iter()
        .filter(|r| {
            !["runs|", "term_counts|", "undo_log|", "audit_events|"]
                .iter()
                .any(|t| r.starts_with(t))
        })
        .collect();
    rows.extend(query(
        db,
        "SELECT 'audit_events', run_id, customer_id, event, field, before, after, detail FROM audit_events",
    ));
    rows.extend(query(
        db,
        "SELECT 'undo_log', run_id, table_name, op, key_json, before_json FROM undo_log",
    ));
    rows.sort();
    rows
}

/// More changes than [`change_sources`]: a new sales contact who is an existing ERP
/// customer (joins that customer), and an ERP customer's e-mail changed.
fn change_more(s: &Scratch) {
    change_sources(s);
    let sales = s.path("fixtures/demo/sales_sheet.csv");
    let mut text = std::fs::read_to_string(&sales).unwrap();
    text.push_str("NW-951,Wolfgang Stein,wolfgang.stein@example.de,015190131287,,Freiburg,79102,Germany,17.01.1962,13/8/2024,M. Öz,\n");
    std::fs::write(&sales, text).unwrap();
    let erp = s.path("fixtures/demo/erp_customers.csv");
    let bytes = std::fs::read(&erp).unwrap();
    let from = b"bernd.stein77@web.de";
    let at = bytes.windows(from.len()).position(|w| w == from).unwrap();
    let mut changed = bytes[..at].to_vec();
    changed.extend_from_slice(b"b.stein@posteo.de");
    changed.extend_from_slice(&bytes[at + from.len()..]);
    std::fs::write(&erp, changed).unwrap();
}

#[test]
fn an_incremental_sync_ends_where_a_full_one_does() {
    let (inc, full) = (Scratch::demo(), Scratch::demo());
    for s in [&inc, &full] {
        ok(&s.run(&["run", CONFIG]));
        change_more(s);
    }
    let a = json(&inc.run(&["sync", CONFIG, "--json"]));
    let b = json(&full.run(&["sync", CONFIG, "--json", "--full"]));
    assert_eq!(a["sync"]["mode"], "incremental", "{a}");
    assert_eq!(b["sync"]["mode"], "full", "{b}");
    assert_eq!(b["sync"]["reason"], "--full was given");
    let d = &a["sync"]["incremental"];
    // 2 new sales rows, 2 changed rows; the rest of the store was not re-resolved.
    assert_eq!(d["new_or_changed"], 4, "{d}");
    assert_eq!(d["disappeared"], 1, "{d}");
    assert!(
        d["records_resolved"].as_u64().unwrap() < 20,
        "only the customers the changes touch: {d}"
    );
    for key in [
        "records",
        "customers",
        "customer_changes",
        "source_changes",
        "changes",
        "tables",
    ] {
        assert_eq!(a[key], b[key], "{key}");
    }
    assert_same(&dump_outcome(&inc.store()), &dump_outcome(&full.store()));
    assert_store_sound(&inc.store());
    // Nothing changed since: an incremental sync that records nothing.
    let again = json(&inc.run(&["sync", CONFIG, "--json"]));
    assert_eq!(again["sync"]["mode"], "incremental");
    assert_eq!(again["changes"], 0, "{again}");
    assert_eq!(again["sync"]["incremental"]["records_resolved"], 0);
    let again = json(&full.run(&["sync", CONFIG, "--json", "--full"]));
    assert_eq!(again["changes"], 0, "{again}");

    // Round two: the ERP's Wolfgang Stein becomes another person (his customer splits,
    // the larger part keeping the id), and the sales contact added above is gone again
    // (detached; its customer retired).
    let wolfgang = customer_of(&inc.store(), "sales_sheet", "NW-014");
    for s in [&inc, &full] {
        let erp = s.path("fixtures/demo/erp_customers.csv");
        let bytes = std::fs::read(&erp).unwrap();
        let from: &[u8] = b"0010008;Stein, Wolfgang;Kaiser-Joseph-Str. 94a;79102;Freiburg i. Br.;;;015190131287;wolfgang.stein@example.de;17.01.1962";
        let to: &[u8] = b"0010008;Stein, Maximilian;Kaiser-Joseph-Str. 94a;79102;Freiburg i. Br.;;;;max.stein@posteo.de;03.03.1990";
        let at = bytes.windows(from.len()).position(|w| w == from).unwrap();
        let mut changed = bytes[..at].to_vec();
        changed.extend_from_slice(to);
        changed.extend_from_slice(&bytes[at + from.len()..]);
        std::fs::write(&erp, changed).unwrap();
        let sales = s.path("fixtures/demo/sales_sheet.csv");
        let text = std::fs::read_to_string(&sales).unwrap();
        let kept: Vec<&str> = text.lines().filter(|l| !l.starts_with("NW-950,")).collect();
        std::fs::write(&sales, kept.join("\n") + "\n").unwrap();
    }
    let a = json(&inc.run(&["sync", CONFIG, "--json"]));
    let b = json(&full.run(&["sync", CONFIG, "--json", "--full"]));
    assert_eq!(a["sync"]["mode"], "incremental", "{a}");
    assert_eq!(a["customer_changes"]["retired"], 1, "{a}");
    assert_eq!(a["customer_changes"], b["customer_changes"]);
    assert_same(&dump_outcome(&inc.store()), &dump_outcome(&full.store()));
    assert_eq!(customer_of(&inc.store(), "sales_sheet", "NW-014"), wolfgang);
    assert_ne!(customer_of(&inc.store(), "erp", "0010008"), wolfgang);
    assert_store_sound(&inc.store());
}

#[test]
fn a_sync_says_why_it_resolves_everything() {
    let s = Scratch::demo();
    let first = json(&s.run(&["sync", CONFIG, "--json"]));
    assert_eq!(first["sync"]["mode"], "full");
    assert_eq!(first["sync"]["reason"], "the store does not exist yet");
    // A changed mapping can map every unchanged row differently.
    let mapping = s.path("mappings/demo_sales.toml");
    let mut text = std::fs::read_to_string(&mapping).unwrap();
    text.push_str("\n# edited\n");
    std::fs::write(&mapping, text).unwrap();
    let second = json(&s.run(&["sync", CONFIG, "--json"]));
    assert_eq!(second["sync"]["mode"], "full");
    assert_eq!(
        second["sync"]["reason"],
        "the config or a mapping changed since the last run"
    );
    assert_eq!(second["changes"], 0, "{second}");
    let third = json(&s.run(&["sync", CONFIG, "--json"]));
    assert_eq!(third["sync"]["mode"], "incremental", "{third}");
}

#[test]
fn an_export_cut_short_fails_the_disappeared_gate_and_the_store_stays() {
    let s = Scratch::demo();
    let cfg = s.config();
    let text = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(
        &cfg,
        text.replace("[gates]\n", "[gates]\nmax_disappeared_rate = 0.2\n"),
    )
    .unwrap();
    ok(&s.run(&["run", CONFIG]));
    // One row gone is within the limit (and the webshop's default policy detaches it).
    change_sources(&s);
    let synced = json(&s.run(&["sync", CONFIG, "--json"]));
    assert_eq!(synced["gates_passed"], true, "{synced}");
    // The support export cut to its first half: the sync is refused, nothing written.
    let support = s.path("fixtures/demo/support_tickets.csv");
    let text = std::fs::read_to_string(&support).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    std::fs::write(&support, lines[..lines.len() / 2].join("\n") + "\n").unwrap();
    let store = std::fs::read(s.store()).unwrap();
    let out = s.run(&["sync", CONFIG, "--json"]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let refused: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let gate = refused["gates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["gate"] == "max_disappeared_rate" && g["source"] == "support")
        .expect("the gate is judged for support")
        .clone();
    assert_eq!(gate["passed"], false, "{gate}");
    assert!(
        gate["reason"]
            .as_str()
            .unwrap()
            .contains("is the export complete?"),
        "{gate}"
    );
    assert_eq!(refused["load_refused"], true);
    assert!(std::fs::read(s.store()).unwrap() == store);
    // A dry run reports the same; --force loads it.
    let dry = s.run(&["sync", CONFIG, "--dry-run", "--json"]);
    assert_eq!(dry.status.code(), Some(3));
    let forced = json(&s.run(&["sync", CONFIG, "--json", "--force"]));
    assert_eq!(forced["forced"], true, "{forced}");
    assert_store_sound(&s.store());
}

#[test]
fn a_stored_model_of_another_crmfuse_is_replaced_by_a_new_one() {
    let s = Scratch::demo();
    ok(&s.run(&["run", CONFIG]));
    // A model whose suffix comparison has a level fewer, as an earlier crmfuse saved it.
    let conn = rusqlite::Connection::open(s.store()).unwrap();
    let text: String = conn
        .query_row(
            "SELECT model_json FROM runs ORDER BY run_id DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let mut model: serde_json::Value = serde_json::from_str(&text).unwrap();
    let suffix = model["comparisons"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|c| c["comparison"] == "suffix")
        .expect("a suffix comparison");
    suffix["levels"].as_array_mut().unwrap().pop();
    conn.execute("UPDATE runs SET model_json = ?1", [model.to_string()])
        .unwrap();
    drop(conn);
    let sync = json(&s.run(&["sync", CONFIG, "--json"]));
    assert_eq!(sync["sync"]["mode"], "full", "{sync}");
    let reason = sync["sync"]["reason"].as_str().unwrap();
    assert!(reason.contains("match model does not fit"), "{reason}");
    assert!(reason.contains("levels"), "{reason}");
    // The sync stored the model it trained: the next one is incremental again.
    let next = json(&s.run(&["sync", CONFIG, "--json"]));
    assert_eq!(next["sync"]["mode"], "incremental", "{next}");
    assert_eq!(next["changes"], 0, "{next}");
    assert_store_sound(&s.store());
}

#[test]
fn a_store_of_an_older_crmfuse_is_synced_in_full_once_then_incrementally() {
    let s = Scratch::demo();
    ok(&s.run(&["run", CONFIG]));
    // What a store written before blocking keys and name counts were stored looks like.
    let conn = rusqlite::Connection::open(s.store()).unwrap();
    conn.execute_batch(
        "ALTER TABLE customer_sources DROP COLUMN block_keys; DROP TABLE term_counts;
         DELETE FROM meta WHERE key = 'block_keys_version';",
    )
    .unwrap();
    drop(conn);
    // A dry run cannot add the column, but reads the store as it is.
    let dry = json(&s.run(&["sync", CONFIG, "--dry-run", "--json"]));
    assert_eq!(dry["sync"]["mode"], "full", "{dry}");
    assert_eq!(dry["changes"], 0, "{dry}");
    let real = json(&s.run(&["sync", CONFIG, "--json"]));
    assert_eq!(real["sync"]["mode"], "full", "{real}");
    assert_eq!(real["changes"], 0, "{real}");
    let next = json(&s.run(&["sync", CONFIG, "--json"]));
    assert_eq!(next["sync"]["mode"], "incremental", "{next}");
    assert_eq!(next["changes"], 0, "{next}");
    assert_store_sound(&s.store());
}
