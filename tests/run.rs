//! End-to-end: `crmfuse run` on the demo, idempotence, dry runs, and bad input.

mod common;

use common::{Scratch, assert_store_sound, count, expect_code, failed, json, ok};

#[test]
fn demo_loads_and_every_row_is_accounted_for() {
    let s = Scratch::demo();
    let summary = json(&s.run(&["run", "fixtures/demo/pipeline.toml", "--json"]));
    let db = s.store();
    let sources = summary["sources"].as_array().unwrap();
    assert_eq!(sources.len(), 4);
    let mut total = 0;
    for src in sources {
        let name = src["name"].as_str().unwrap();
        let read = src["rows_read"].as_i64().unwrap();
        let loaded = count(
            &db,
            &format!("SELECT count(*) FROM customer_sources WHERE source = '{name}'"),
        );
        let quarantined = count(
            &db,
            &format!("SELECT count(*) FROM quarantine WHERE source = '{name}'"),
        );
        assert!(read > 0, "{name}");
        assert_eq!(
            read,
            loaded + quarantined,
            "{name}: read {read} != loaded {loaded} + quarantined {quarantined}"
        );
        assert_eq!(src["loaded"].as_i64().unwrap(), loaded);
        assert_eq!(src["balanced"], true);
        total += read;
    }
    // The demo has 320 data rows; six of them are malformed.
    assert_eq!(total, 320);
    assert_eq!(count(&db, "SELECT count(*) FROM quarantine"), 6);
    // Every customer has a source, every xref a customer, every golden value a lineage row.
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM customers c WHERE NOT EXISTS (SELECT 1 FROM customer_sources x WHERE x.customer_id = c.customer_id)"
        ),
        0
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM customers WHERE email IS NOT NULL"
        ),
        count(
            &db,
            "SELECT count(*) FROM field_lineage WHERE field = 'email'"
        )
    );
    assert!(count(&db, "SELECT count(*) FROM match_links") > 100);
    assert_eq!(count(&db, "SELECT count(*) FROM runs"), 1);
    let created = count(
        &db,
        "SELECT count(*) FROM audit_events WHERE event = 'create'",
    );
    assert_eq!(created, count(&db, "SELECT count(*) FROM customers"));
    assert_store_sound(&db);
}

#[test]
fn the_run_records_which_export_of_each_source_it_read() {
    use sha2::{Digest, Sha256};
    let s = Scratch::demo();
    let summary = json(&s.run(&["run", "fixtures/demo/pipeline.toml", "--json"]));
    let conn = rusqlite::Connection::open(s.store()).unwrap();
    let stored: String = conn
        .query_row("SELECT summary_json FROM runs", [], |r| r.get(0))
        .unwrap();
    let stored: serde_json::Value = serde_json::from_str(&stored).unwrap();
    let files = [
        ("erp", "erp_customers.csv"),
        ("webshop", "webshop_orders.jsonl"),
        ("support", "support_tickets.csv"),
        ("sales_sheet", "sales_sheet.csv"),
    ];
    for (i, (name, file)) in files.into_iter().enumerate() {
        let bytes = std::fs::read(s.path(&format!("fixtures/demo/{file}"))).unwrap();
        let sha: String = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        for src in [&summary["sources"][i], &stored["sources"][i]] {
            assert_eq!(src["name"], name);
            assert_eq!(src["bytes"].as_u64().unwrap(), bytes.len() as u64, "{name}");
            assert_eq!(src["sha256"], sha.as_str(), "{name}");
        }
    }
}

#[test]
fn a_first_load_writes_each_customer_as_created_by_it_with_its_lineage() {
    let s = Scratch::demo();
    ok(&s.run(&["run", "fixtures/demo/pipeline.toml"]));
    let db = s.store();
    let customers = count(&db, "SELECT count(*) FROM customers");
    assert!(customers > 100, "{customers}");
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM customers WHERE status = 'active' AND merged_into IS NULL
               AND created_run_id = 1 AND updated_run_id = 1"
        ),
        customers
    );
    // Every golden value is the value its lineage row names, and only those have one.
    let conn = rusqlite::Connection::open(&db).unwrap();
    let fields: Vec<String> = conn
        .prepare("SELECT DISTINCT field FROM field_lineage ORDER BY 1")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert!(fields.len() >= 8, "{fields:?}");
    for f in &fields {
        let sql = format!(
            "SELECT count(*) FROM customers c WHERE c.{f} IS NOT
               (SELECT l.value FROM field_lineage l WHERE l.customer_id = c.customer_id AND l.field = '{f}')"
        );
        assert_eq!(count(&db, &sql), 0, "{f}");
        let filled = format!("SELECT count(*) FROM customers WHERE {f} IS NOT NULL");
        let lineage = format!("SELECT count(*) FROM field_lineage WHERE field = '{f}'");
        assert_eq!(count(&db, &filled), count(&db, &lineage), "{f}");
    }
}

#[test]
fn second_run_changes_nothing() {
    let s = Scratch::demo();
    ok(&s.run(&["run", "fixtures/demo/pipeline.toml"]));
    let db = s.store();
    let dump = |db: &std::path::Path| -> Vec<String> {
        let conn = rusqlite::Connection::open(db).unwrap();
        let mut out = Vec::new();
        for t in [
            "customers",
            "customer_sources",
            "field_lineage",
            "match_links",
            "quarantine",
            "record_issues",
            "audit_events",
        ] {
            let mut stmt = conn
                .prepare(&format!("SELECT * FROM {t} ORDER BY 1, 2, 3"))
                .unwrap();
            let n = stmt.column_count();
            let rows = stmt
                .query_map([], |r| {
                    let mut s = String::from(t);
                    for i in 0..n {
                        s.push_str(&format!("|{:?}", r.get::<_, rusqlite::types::Value>(i)?));
                    }
                    Ok(s)
                })
                .unwrap();
            out.extend(rows.map(|r| r.unwrap()));
        }
        out
    };
    let before = dump(&db);
    let second = json(&s.run(&["run", "fixtures/demo/pipeline.toml", "--json"]));
    assert_eq!(second["changes"], 0);
    assert_eq!(second["customer_changes"]["created"], 0);
    assert_eq!(second["customer_changes"]["updated"], 0);
    assert_eq!(
        dump(&db),
        before,
        "a second run on the same input must change nothing"
    );
    assert_eq!(count(&db, "SELECT count(*) FROM runs"), 2);
    assert_eq!(count(&db, "SELECT changes FROM runs WHERE run_id = 2"), 0);
    assert_store_sound(&db);
}

#[test]
fn dry_run_leaves_the_store_byte_for_byte_unchanged() {
    let s = Scratch::demo();
    // Without a store, a dry run creates none.
    let out = ok(&s.run(&["run", "fixtures/demo/pipeline.toml", "--dry-run"]));
    assert!(out.contains("DRY RUN"), "{out}");
    assert!(!s.store().exists());
    ok(&s.run(&["run", "fixtures/demo/pipeline.toml"]));
    // Add a customer so that the dry run has something to report.
    let sales = s.path("fixtures/demo/sales_sheet.csv");
    let mut text = std::fs::read_to_string(&sales).unwrap();
    text.push_str("NW-950,Neue Person,neu.person@example.com,0171 9999999,,Fürth,90762,Germany,-,13/8/2024,M. Öz,new\n");
    std::fs::write(&sales, text).unwrap();
    let before = std::fs::read(s.store()).unwrap();
    let plan = json(&s.run(&["run", "fixtures/demo/pipeline.toml", "--dry-run", "--json"]));
    assert_eq!(plan["dry_run"], true);
    assert_eq!(plan["customer_changes"]["created"], 1, "{plan}");
    assert!(plan["changes"].as_i64().unwrap() > 0, "{plan}");
    assert_eq!(std::fs::read(s.store()).unwrap(), before);
    assert_eq!(count(&s.store(), "SELECT count(*) FROM runs"), 1);
}

#[test]
fn explain_shows_profile_links_and_lineage() {
    let s = Scratch::demo();
    ok(&s.run(&["run", "fixtures/demo/pipeline.toml"]));
    let id: String = rusqlite::Connection::open(s.store())
        .unwrap()
        .query_row(
            "SELECT customer_id FROM customer_sources GROUP BY customer_id HAVING count(*) >= 3 ORDER BY customer_id LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let text = ok(&s.run(&["explain", &id, "fixtures/demo/pipeline.toml"]));
    for want in [
        "golden profile",
        "source records",
        "links",
        "prior",
        "history",
        "create",
    ] {
        assert!(text.contains(want), "{want} missing in:\n{text}");
    }
    let j = json(&s.run(&["explain", &id, "--store", "crm.db", "--json"]));
    assert_eq!(j["customer_id"], id.as_str());
    assert!(
        j["links"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["evidence"].is_array())
    );
    let e = failed(&s.run(&["explain", "C99999999", "fixtures/demo/pipeline.toml"]));
    assert!(e.contains("no customer `C99999999`"), "{e}");
}

#[test]
fn missing_source_file_is_a_clear_error() {
    let s = Scratch::demo();
    std::fs::remove_file(s.path("fixtures/demo/sales_sheet.csv")).unwrap();
    let e = failed(&s.run(&["run", "fixtures/demo/pipeline.toml"]));
    assert!(
        e.contains("sales_sheet.csv") && e.contains("No such file"),
        "{e}"
    );
    assert!(!s.store().exists());
}

#[test]
fn a_run_over_its_memory_limit_stops_with_a_clear_error_and_writes_nothing() {
    let s = Scratch::demo();
    let config = "fixtures/demo/pipeline.toml";
    let e = failed(&s.run(&["run", config, "--memory-limit", "1MiB"]));
    assert!(
        e.contains("memory limit")
            && e.contains("over the limit of 1 MiB")
            && e.contains("314 source records"),
        "{e}"
    );
    assert!(!s.store().exists());
    let usage = s.run(&["run", config, "--memory-limit", "lots"]);
    expect_code(&usage, 2);
    // A limit the run fits in changes nothing about what it loads.
    let summary = json(&s.run(&["run", config, "--json", "--memory-limit", "4GiB"]));
    assert_eq!(summary["records"], 314);
    assert!(s.store().exists());
}

#[test]
fn mapping_column_that_does_not_exist_is_an_error_before_loading() {
    let s = Scratch::demo();
    let m = s.path("mappings/demo_support.toml");
    let text = std::fs::read_to_string(&m).unwrap();
    let (before, after) = text.split_once("[fields]").unwrap();
    std::fs::write(
        &m,
        format!("{before}[fields]\nregion = \"Bundesland\"\n{after}"),
    )
    .unwrap();
    let e = failed(&s.run(&["run", "fixtures/demo/pipeline.toml"]));
    assert!(
        e.contains("demo_support.toml") && e.contains("column `Bundesland` is not in the header"),
        "{e}"
    );
    assert!(!s.store().exists());
}

#[test]
fn malformed_rows_and_bad_bytes_are_quarantined_not_dropped() {
    let s = Scratch::demo();
    // Invalid UTF-8 in the (UTF-8) sales sheet, and a row with too few columns.
    let p = s.path("fixtures/demo/sales_sheet.csv");
    let mut bytes = std::fs::read(&p).unwrap();
    bytes.extend_from_slice(b"NW-900,Bad \xff Bytes,x@example.com,,,,,,,,,\n");
    bytes.extend_from_slice(b"NW-901,short row\n");
    std::fs::write(&p, bytes).unwrap();
    let summary = json(&s.run(&["run", "fixtures/demo/pipeline.toml", "--json"]));
    let sales = summary["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == "sales_sheet")
        .unwrap()
        .clone();
    assert_eq!(sales["rows_read"], 42);
    assert_eq!(sales["balanced"], true);
    let db = s.store();
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM quarantine WHERE source = 'sales_sheet' AND reason = 'encoding'"
        ),
        1
    );
    assert!(
        count(
            &db,
            "SELECT count(*) FROM quarantine WHERE source = 'sales_sheet' AND reason = 'column_count'"
        ) >= 1
    );
    // The raw text is kept for the data steward.
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM quarantine WHERE raw LIKE 'NW-901,short row'"
        ),
        1
    );
    assert_store_sound(&db);
}

#[test]
fn a_new_store_gets_the_configured_page_size_and_keeps_it() {
    let page_size = |db: &std::path::Path| count(db, "SELECT page_size FROM pragma_page_size");
    // The default: 8 KiB.
    let s = Scratch::demo();
    ok(&s.run(&["run", "fixtures/demo/pipeline.toml"]));
    assert_eq!(page_size(&s.store()), 8192);
    // `[store] page_size` for a new store; a store that exists keeps its own.
    let s = Scratch::demo();
    let p = s.config();
    let text = std::fs::read_to_string(&p).unwrap();
    let with = |size: u32| text.replacen("[store]\n", &format!("[store]\npage_size = {size}\n"), 1);
    std::fs::write(&p, with(4096)).unwrap();
    let summary = json(&s.run(&["run", "fixtures/demo/pipeline.toml", "--json"]));
    assert_eq!(page_size(&s.store()), 4096);
    std::fs::write(&p, with(16384)).unwrap();
    ok(&s.run(&["run", "fixtures/demo/pipeline.toml"]));
    assert_eq!(page_size(&s.store()), 4096);
    assert_store_sound(&s.store());
    assert!(summary["records"].as_i64().unwrap() > 300, "{summary}");
}

#[test]
fn unknown_config_key_names_file_and_line() {
    let s = Scratch::demo();
    let p = s.config();
    let text = std::fs::read_to_string(&p).unwrap();
    std::fs::write(&p, text.replacen("trust = 1", "trust = 1\ntrsut = 2", 1)).unwrap();
    let e = failed(&s.run(&["run", "fixtures/demo/pipeline.toml"]));
    assert!(
        e.contains("pipeline.toml") && e.contains("line") && e.contains("trsut"),
        "{e}"
    );
}
