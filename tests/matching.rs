//! End-to-end matching properties: determinism across thread counts and input order, and
//! bounded blocking when a placeholder value is shared by thousands of records.

mod common;

use std::path::Path;

use common::{assert_store_sound, bin, count, json, ok};

/// Every table that describes the outcome, minus what legitimately depends on row order
/// (the line numbers).
fn outcome(db: &Path) -> Vec<String> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut out = Vec::new();
    for (t, cols) in [
        ("customers", "*"),
        (
            "customer_sources",
            "source, source_key, customer_id, match_score, record_hash, record_json",
        ),
        ("field_lineage", "*"),
        ("match_links", "*"),
    ] {
        let mut stmt = conn
            .prepare(&format!("SELECT {cols} FROM {t} ORDER BY 1, 2, 3, 4"))
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
}

fn run_in(dir: &Path, threads: &str) -> Vec<String> {
    let _ = std::fs::remove_file(dir.join("crm.db"));
    let out = bin()
        .args(["run", "pipeline.toml", "--force"])
        .env("RAYON_NUM_THREADS", threads)
        .current_dir(dir)
        .output()
        .unwrap();
    ok(&out);
    outcome(&dir.join("crm.db"))
}

/// Reverse the data lines of a file whose rows are one line each (after `header` lines).
fn reverse_rows(path: &Path, header: usize) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines[header..].reverse();
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

#[test]
fn same_result_whatever_the_thread_count_and_row_order() {
    let dir = tempfile::tempdir().unwrap();
    ok(&bin()
        .args(["synth", "--people", "1000", "--seed", "7", "--out"])
        .arg(dir.path())
        .output()
        .unwrap());
    // A smaller u sample keeps the debug-build test quick; it is still seeded.
    let config = dir.path().join("pipeline.toml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("\n[matching]\nu_sample_pairs = 50000\n");
    std::fs::write(&config, text).unwrap();
    let one = run_in(dir.path(), "1");
    let two = run_in(dir.path(), "2");
    assert!(one.len() > 500);
    assert_eq!(one, two, "thread count changed the outcome");
    reverse_rows(&dir.path().join("webshop.jsonl"), 0);
    reverse_rows(&dir.path().join("newsletter.csv"), 1);
    let reordered = run_in(dir.path(), "2");
    assert_eq!(one, reordered, "row order changed the outcome");
}

#[test]
fn a_placeholder_phone_shared_by_thousands_is_capped_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut csv = String::from("id,name,email,phone\n");
    for i in 0..3000 {
        csv.push_str(&format!(
            "{i},Person{i} Family{i},p{i}@example.com,+49 30 0000000\n"
        ));
    }
    std::fs::write(d.join("leads.csv"), csv).unwrap();
    std::fs::write(
        d.join("leads.toml"),
        "key = \"id\"\nphone_region = \"DE\"\n[fields]\nfull_name = \"name\"\nemail = \"email\"\nphone = \"phone\"\n",
    )
    .unwrap();
    std::fs::write(
        d.join("pipeline.toml"),
        "[store]\npath = \"crm.db\"\n[[sources]]\nname = \"leads\"\npath = \"leads.csv\"\nformat = \"csv\"\nmapping = \"leads.toml\"\n",
    )
    .unwrap();
    let out = bin()
        .args(["run", "pipeline.toml", "--json"])
        .current_dir(d)
        .output()
        .unwrap();
    let summary = json(&out);
    let phone = summary["blocking"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["rule"] == "phone")
        .unwrap()
        .clone();
    assert_eq!(phone["capped_blocks"], 1, "{phone}");
    assert_eq!(phone["capped_records"], 3000);
    assert_eq!(phone["pairs"], 0);
    // Nobody is merged on the placeholder alone.
    assert_eq!(
        count(&d.join("crm.db"), "SELECT count(*) FROM customers"),
        3000
    );
    assert_store_sound(&d.join("crm.db"));
    let text = ok(&bin()
        .args(["run", "pipeline.toml", "--dry-run"])
        .current_dir(d)
        .output()
        .unwrap());
    assert!(
        text.contains("blocking rule phone: 1 oversized block(s) with 3000 records skipped"),
        "{text}"
    );
}
