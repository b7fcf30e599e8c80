//! End-to-end: `retire` (the report, --apply, what later runs do), `revoke` and
//! `overrides` on the demo.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use common::{Scratch, assert_store_sound, dump, failed, json, ok};

const CONFIG: &str = "fixtures/demo/pipeline.toml";
const SOURCES: [&str; 4] = ["erp", "webshop", "support", "sales_sheet"];

fn conn(db: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap()
}

fn strings(db: &Path, sql: &str, param: &str) -> Vec<String> {
    let c = conn(db);
    let mut stmt = c.prepare(sql).unwrap();
    stmt.query_map([param], |r| {
        Ok(match r.get::<_, rusqlite::types::Value>(0)? {
            rusqlite::types::Value::Integer(i) => i.to_string(),
            rusqlite::types::Value::Text(t) => t,
            other => format!("{other:?}"),
        })
    })
    .unwrap()
    .collect::<rusqlite::Result<_>>()
    .unwrap()
}

fn ids(v: &serde_json::Value) -> BTreeSet<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect()
}

/// (customer, field) pairs the report says are lost.
fn reported_losses(report: &serde_json::Value) -> BTreeSet<(String, String)> {
    report["losing_values"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|l| {
            let id = l["customer_id"].as_str().unwrap().to_string();
            l["fields"]
                .as_array()
                .unwrap()
                .iter()
                .map(move |f| (id.clone(), f.as_str().unwrap().to_string()))
        })
        .collect()
}

/// Whether a stored record (`record_json`) offers a value for a golden field.
fn offers(record: &serde_json::Value, field: &str) -> bool {
    let key = match field {
        "email" => "emails",
        "phone" => "phones",
        f => f,
    };
    let present = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => !s.is_empty(),
        serde_json::Value::Object(o) => o
            .get("display")
            .and_then(|d| d.as_str())
            .is_some_and(|d| !d.is_empty()),
        serde_json::Value::Bool(_) => true,
        _ => false,
    };
    match record.get(key) {
        Some(serde_json::Value::Array(a)) => a.iter().any(present),
        Some(v) => present(v),
        None => false,
    }
}

/// Customers only in `source`, computed with SQL.
fn only_in(db: &Path, source: &str) -> BTreeSet<String> {
    strings(
        db,
        "SELECT c.customer_id FROM customers c WHERE c.status = 'active'
           AND EXISTS (SELECT 1 FROM customer_sources s WHERE s.customer_id = c.customer_id
                       AND s.deleted_run_id IS NULL AND s.source = ?1)
           AND NOT EXISTS (SELECT 1 FROM customer_sources s WHERE s.customer_id = c.customer_id
                       AND s.deleted_run_id IS NULL AND s.source <> ?1)",
        source,
    )
    .into_iter()
    .collect()
}

/// The brief's definition, computed from the store: the field's lineage names `source` and
/// no other active record of the customer offers a value for it. Survivorship keeps field
/// groups together, so the real losses are a superset of these.
fn certain_losses(db: &Path, source: &str) -> BTreeSet<(String, String)> {
    let c = conn(db);
    let mut lineage = c
        .prepare(
            "SELECT l.customer_id, l.field FROM field_lineage l
             JOIN customers c ON c.customer_id = l.customer_id
             WHERE l.source = ?1 AND c.status = 'active'",
        )
        .unwrap();
    let rows: Vec<(String, String)> = lineage
        .query_map([source], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    let mut others = c
        .prepare(
            "SELECT record_json FROM customer_sources
             WHERE customer_id = ?1 AND source <> ?2 AND deleted_run_id IS NULL",
        )
        .unwrap();
    let only = only_in(db, source);
    let mut out = BTreeSet::new();
    for (id, field) in rows {
        if only.contains(&id) {
            continue;
        }
        let records: Vec<String> = others
            .query_map([id.as_str(), source], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        if !records
            .iter()
            .any(|j| offers(&serde_json::from_str(j).unwrap(), &field))
        {
            out.insert((id, field));
        }
    }
    out
}

#[test]
fn retire_report_agrees_with_the_store() {
    let s = Scratch::demo();
    ok(&s.run(&["run", CONFIG]));
    let db = s.store();
    let mut certain_total = 0;
    for source in SOURCES {
        let r = json(&s.run(&["retire", source, CONFIG, "--json"]));
        assert_eq!(r["source"], source);
        assert_eq!(ids(&r["only_here"]), only_in(&db, source), "{source}");
        let records = strings(
            &db,
            "SELECT count(*) FROM customer_sources s JOIN customers c USING (customer_id)
             WHERE s.source = ?1 AND s.deleted_run_id IS NULL AND c.status = 'active'",
            source,
        );
        assert_eq!(r["records"].to_string(), records[0].to_string(), "{source}");
        let reported = reported_losses(&r);
        let certain = certain_losses(&db, source);
        certain_total += certain.len();
        let missing: Vec<_> = certain.difference(&reported).collect();
        assert!(missing.is_empty(), "{source}: not reported {missing:?}");
        // Every reported loss is a value that the source supplied.
        for (id, field) in &reported {
            let from = strings(
                &db,
                &format!(
                    "SELECT source FROM field_lineage WHERE customer_id = ?1 AND field = '{field}'"
                ),
                id,
            );
            assert_eq!(from, [source], "{source}: {id} {field}");
        }
        // Per-field counts and totals add up.
        let mut per_field: BTreeMap<String, u64> = BTreeMap::new();
        for (_, f) in &reported {
            *per_field.entry(f.clone()).or_default() += 1;
        }
        let fields: BTreeMap<String, u64> = r["fields"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
            .collect();
        assert_eq!(fields, per_field, "{source}");
        assert_eq!(r["values_lost"].as_u64().unwrap(), reported.len() as u64);
        assert_eq!(
            r["customers_affected"].as_u64().unwrap(),
            (r["only_here"].as_array().unwrap().len()
                + r["losing_values"].as_array().unwrap().len()) as u64
        );
        // The text report shows ids and field names, not values.
        let text = ok(&s.run(&["retire", source, CONFIG]));
        assert!(
            text.contains(&format!("customers only in {source}: ")),
            "{text}"
        );
        assert!(text.contains("total: "), "{text}");
        assert!(
            !text.contains('@'),
            "an e-mail address in the report:\n{text}"
        );
    }
    assert!(certain_total > 0, "the demo should lose some values");
    // Reading wrote nothing.
    assert_eq!(common::count(&db, "SELECT count(*) FROM runs"), 1);
}

/// Remove a source's [[sources]] entry from the pipeline file.
fn drop_source(s: &Scratch, source: &str) {
    let path = s.config();
    let text = std::fs::read_to_string(&path).unwrap();
    let start = text
        .find(&format!("[[sources]]\nname = \"{source}\""))
        .unwrap();
    let end = text[start + 1..]
        .find("\n[")
        .map_or(text.len(), |i| start + 2 + i);
    // ... and from survivorship.owners, which may name only declared sources.
    let rest = text[end..]
        .replace(&format!("\"{source}\", "), "")
        .replace(&format!(", \"{source}\""), "");
    std::fs::write(&path, format!("{}{rest}", &text[..start])).unwrap();
}

/// Each customer's active records, by customer.
fn records_by_customer(db: &Path) -> BTreeMap<String, BTreeSet<(String, String)>> {
    let c = conn(db);
    let mut stmt = c
        .prepare(
            "SELECT customer_id, source, source_key FROM customer_sources
             WHERE deleted_run_id IS NULL",
        )
        .unwrap();
    let mut out: BTreeMap<String, BTreeSet<(String, String)>> = BTreeMap::new();
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap();
    for row in rows {
        let (id, source, key): (String, String, String) = row.unwrap();
        out.entry(id).or_default().insert((source, key));
    }
    out
}

#[test]
fn the_report_predicts_what_the_sync_after_retiring_does() {
    for source in ["sales_sheet", "webshop"] {
        let s = Scratch::demo();
        ok(&s.run(&["run", CONFIG, "--save-model", "model.json"]));
        let db = s.store();
        let report = json(&s.run(&[
            "retire", source, CONFIG, "--apply", "--why", "off", "--json",
        ]));
        let override_id = report["applied"]["override_id"].as_i64().unwrap();
        assert_eq!(
            strings(
                &db,
                "SELECT kind || ' ' || active FROM overrides WHERE override_id = ?1",
                &override_id.to_string()
            ),
            ["retire_source 1"]
        );
        assert_eq!(
            common::count(
                &db,
                "SELECT count(*) FROM audit_events WHERE event = 'retire_source'"
            ),
            1
        );
        // Still listed: refused, naming the source.
        for verb in ["run", "sync"] {
            let err = failed(&s.run(&[verb, CONFIG]));
            assert!(
                err.contains(&format!(
                    "source `{source}` was retired (override {override_id}"
                )),
                "{err}"
            );
        }
        let err = failed(&s.run(&["retire", source, CONFIG, "--apply", "--why", "again"]));
        assert!(err.contains("already retired"), "{err}");

        let before = records_by_customer(&db);
        drop_source(&s, source);
        ok(&s.run(&["sync", CONFIG, "--model", "model.json"]));
        let after = records_by_customer(&db);
        // The source's records stay, marked deleted by the sync.
        let marked = strings(
            &db,
            "SELECT count(*) FROM customer_sources WHERE source = ?1 AND deleted_run_id = 3",
            source,
        );
        assert_eq!(marked, [report["records"].to_string()], "{source}");
        // Customers only in the source are retired.
        for id in ids(&report["only_here"]) {
            assert_eq!(
                strings(
                    &db,
                    "SELECT status FROM customers WHERE customer_id = ?1",
                    &id
                ),
                ["retired"],
                "{source}: {id}"
            );
        }
        // For every customer whose other records stayed together, the values the sync
        // emptied are exactly the ones reported.
        let emptied: BTreeSet<(String, String)> = {
            let c = conn(&db);
            let mut stmt = c
                .prepare(
                    "SELECT customer_id, field FROM audit_events
                     WHERE run_id = 3 AND event = 'update' AND before IS NOT NULL AND after IS NULL",
                )
                .unwrap();
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap()
        };
        let stable = |id: &str| {
            let kept: BTreeSet<(String, String)> = before[id]
                .iter()
                .filter(|(s, _)| s != source)
                .cloned()
                .collect();
            after.get(id) == Some(&kept)
        };
        let reported = reported_losses(&report);
        let predicted: BTreeSet<_> = reported.iter().filter(|(id, _)| stable(id)).collect();
        let happened: BTreeSet<_> = emptied.iter().filter(|(id, _)| stable(id)).collect();
        assert!(
            predicted.len() * 10 >= reported.len() * 8,
            "{source}: too few stable"
        );
        assert_eq!(predicted, happened, "{source}");
        assert_store_sound(&db);
    }
}

#[test]
fn retire_apply_then_rollback_gives_back_every_table() {
    let s = Scratch::demo();
    ok(&s.run(&["run", CONFIG]));
    let db = s.store();
    let before = dump(&db);
    let r = json(&s.run(&[
        "retire",
        "webshop",
        CONFIG,
        "--apply",
        "--why",
        "shop closes",
        "--who",
        "ops",
        "--json",
    ]));
    let run_id = r["applied"]["run_id"].as_i64().unwrap();
    assert_eq!(
        strings(
            &db,
            "SELECT who || '|' || why FROM overrides WHERE run_id = ?1",
            &run_id.to_string()
        ),
        ["ops|shop closes"]
    );
    let runs = json(&s.run(&["history", CONFIG, "--json"]));
    assert_eq!(runs[1]["command"], "retire_source");
    assert_store_sound(&db);
    ok(&s.run(&["rollback", &run_id.to_string(), CONFIG, "--yes"]));
    assert_eq!(dump(&db), before);
    // The source is no longer retired: runs read it again.
    ok(&s.run(&["run", CONFIG]));
}

#[test]
fn revoking_a_pin_restores_the_source_value_from_the_next_run() {
    let s = Scratch::demo();
    ok(&s.run(&["run", CONFIG]));
    let db = s.store();
    let id = strings(
        &db,
        "SELECT customer_id FROM customer_sources WHERE source = 'support' AND source_key = ?1",
        "ZD-40028",
    )
    .remove(0);
    let email_sql = "SELECT coalesce(email, 'NULL') FROM customers WHERE customer_id = ?1";
    let original = strings(&db, email_sql, &id);
    ok(&s.run(&[
        "pin",
        &id,
        "email",
        "pinned@example.org",
        CONFIG,
        "--why",
        "asked",
    ]));
    ok(&s.run(&["run", CONFIG]));
    assert_eq!(strings(&db, email_sql, &id), ["pinned@example.org"]);

    let listed = json(&s.run(&["overrides", CONFIG, "--json"]));
    let pin = &listed.as_array().unwrap()[0];
    assert_eq!(
        (pin["kind"].as_str(), pin["active"].as_bool()),
        (Some("pin"), Some(true))
    );
    let pin_id = pin["override_id"].as_i64().unwrap().to_string();
    let table = ok(&s.run(&["overrides", CONFIG]));
    assert!(table.contains(&format!("{id} email")), "{table}");
    assert!(!table.contains("pinned@example.org"), "{table}");

    let before_revoke = dump(&db);
    let out = ok(&s.run(&["revoke", &pin_id, CONFIG, "--why", "wrong customer"]));
    assert!(
        out.contains(&format!("override {pin_id} (pin) revoked")),
        "{out}"
    );
    assert_eq!(
        strings(
            &db,
            "SELECT active FROM overrides WHERE override_id = ?1",
            &pin_id
        ),
        ["0"]
    );
    assert_eq!(
        common::count(
            &db,
            "SELECT count(*) FROM audit_events WHERE event = 'revoke'"
        ),
        1
    );
    // Revoking takes effect at the next run, like every override.
    assert_eq!(strings(&db, email_sql, &id), ["pinned@example.org"]);
    assert_store_sound(&db);
    // A revoke is a run of its own: rollback brings the pin back exactly.
    let runs = json(&s.run(&["history", CONFIG, "--json"]));
    let revoke_run = runs.as_array().unwrap().last().unwrap();
    assert_eq!(revoke_run["command"], "revoke");
    let revoke_run = revoke_run["run_id"].to_string();
    ok(&s.run(&["rollback", &revoke_run, CONFIG, "--yes"]));
    assert_eq!(dump(&db), before_revoke);

    ok(&s.run(&["revoke", &pin_id, CONFIG, "--why", "wrong customer"]));
    ok(&s.run(&["run", CONFIG]));
    assert_eq!(strings(&db, email_sql, &id), original);
    assert_eq!(
        strings(
            &db,
            "SELECT rule || ' ' || source FROM field_lineage WHERE customer_id = ?1 AND field = 'email'",
            &id
        )
        .len(),
        usize::from(original != ["NULL"])
    );
    assert!(
        !strings(
            &db,
            "SELECT source FROM field_lineage WHERE customer_id = ?1 AND field = 'email'",
            &id
        )
        .contains(&"steward".to_string())
    );
    let err = failed(&s.run(&["revoke", &pin_id, CONFIG, "--why", "again"]));
    assert!(
        err.contains(&format!("override {pin_id} (pin) is already inactive")),
        "{err}"
    );
    assert_store_sound(&db);
}

#[test]
fn unknown_sources_and_overrides_are_clear_errors() {
    let s = Scratch::demo();
    let err = failed(&s.run(&["retire", "erp", CONFIG]));
    assert!(err.contains("no store here yet"), "{err}");
    ok(&s.run(&["run", CONFIG]));
    let before = dump(&s.store());
    let err = failed(&s.run(&["retire", "crm_legacy", CONFIG]));
    assert!(
        err.contains("no records of source `crm_legacy` in this store; its sources are erp, sales_sheet, support, webshop"),
        "{err}"
    );
    let err = failed(&s.run(&["retire", "crm_legacy", CONFIG, "--apply", "--why", "x"]));
    assert!(err.contains("no records of source `crm_legacy`"), "{err}");
    let err = failed(&s.run(&["retire", "erp", CONFIG, "--apply"]));
    assert!(err.contains("--apply needs --why"), "{err}");
    let err = failed(&s.run(&["retire", "erp", CONFIG, "--apply", "--why", " "]));
    assert!(err.contains("--why must say why"), "{err}");
    let err = failed(&s.run(&["revoke", "99", CONFIG, "--why", "x"]));
    assert!(
        err.contains("no override 99; `crmfuse overrides CONFIG` lists them"),
        "{err}"
    );
    let out = s.run(&["revoke", "abc", CONFIG, "--why", "x"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(dump(&s.store()), before);
    let none = ok(&s.run(&["overrides", CONFIG]));
    assert!(none.contains("no overrides"), "{none}");
}
