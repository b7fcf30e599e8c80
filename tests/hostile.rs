//! Hostile values: SQL-looking text goes through bound parameters (stored verbatim, every
//! table survives); a 100 KB name is stored whole but matched on a capped key (and does
//! not make the run crawl); NUL and control characters are stored without breaking the
//! store, the summary or `explain`.

mod common;

use std::time::{Duration, Instant};

use common::*;
use rusqlite::Connection;

const SQL: &str = "Robert'); DROP TABLE customers;--";

#[test]
fn hostile_values_are_stored_verbatim_and_harmless() {
    let dir = tempfile::tempdir().unwrap();
    let long_name = format!("Max {}", "Mustermann".repeat(10_000)); // 100 KB
    let control = "tab\there nul\u{0}bell\u{7}esc\u{1b}[31mred del\u{7f} vt\u{b}";
    let mut w = csv::Writer::from_path(dir.path().join("people.csv")).unwrap();
    w.write_record(["id", "name", "email", "city", "note"])
        .unwrap();
    w.write_record([SQL, SQL, "bobby@example.com", SQL, SQL])
        .unwrap();
    w.write_record(["2", &long_name, "max@example.com", "Berlin", "long"])
        .unwrap();
    // The same person again, the long name differing only at its end: matched through the
    // capped key (uncapped, Jaro-Winkler on two 100 KB strings would take minutes).
    let long_name_3 = format!("{long_name}s");
    w.write_record(["3", &long_name_3, "max@example.com", "Berlin", "again"])
        .unwrap();
    w.write_record(["4", "Nina Nul", "nina@example.com", "Köln", control])
        .unwrap();
    w.write_record([
        "5",
        "=cmd|' /C calc'!A0",
        "x@example.com",
        "<script>",
        "\"; --",
    ])
    .unwrap();
    w.flush().unwrap();
    drop(w);
    std::fs::write(
        dir.path().join("people.toml"),
        "key = \"id\"\n[fields]\nfull_name = \"name\"\nemail = \"email\"\ncity = \"city\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("pipeline.toml"),
        "[store]\npath = \"crm.db\"\n[[sources]]\nname = \"people\"\npath = \"people.csv\"\nformat = \"csv\"\nmapping = \"people.toml\"\n",
    )
    .unwrap();

    let started = Instant::now();
    let o = crmfuse(dir.path(), &["run", "pipeline.toml"]);
    assert_ok(&o);
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "a 100 KB name took {:?}",
        started.elapsed()
    );
    assert_check_passes(dir.path(), "crm.db");

    let conn = Connection::open(dir.path().join("crm.db")).unwrap();
    // Every table is still there, and the SQL text is a key like any other.
    assert_eq!(count_in(&conn, "SELECT count(*) FROM customer_sources"), 5);
    let sql_row: (String, String) = conn
        .query_row(
            "SELECT customer_id, record_json FROM customer_sources WHERE source_key = ?1",
            [SQL],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let record: serde_json::Value = serde_json::from_str(&sql_row.1).unwrap();
    assert_eq!(record["extra"][0][1], SQL, "{record}");
    let explain = crmfuse(dir.path(), &["explain", &sql_row.0, "--store", "crm.db"]);
    assert_ok(&explain);
    assert!(text(&explain.stdout).contains(SQL), "{}", show(&explain));

    // The 100 KB name is stored whole, and the two records with it are one customer.
    let (id, name_len): (String, i64) = conn
        .query_row(
            "SELECT customer_id, length(full_name) FROM customers
             WHERE customer_id = (SELECT customer_id FROM customer_sources WHERE source_key = '2')",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(name_len as usize, long_name.chars().count());
    let same: String = conn
        .query_row(
            "SELECT customer_id FROM customer_sources WHERE source_key = '3'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(same, id, "the long-name records were not matched");

    // Control characters, NUL included, are stored verbatim in the unmapped column.
    let json: String = conn
        .query_row(
            "SELECT record_json FROM customer_sources WHERE source_key = '4'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let record: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(record["extra"][0][1], control, "{json}");
    let id4: String = conn
        .query_row(
            "SELECT customer_id FROM customer_sources WHERE source_key = '4'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let explain = crmfuse(
        dir.path(),
        &["explain", &id4, "--store", "crm.db", "--json"],
    );
    assert_ok(&explain);
    serde_json::from_slice::<serde_json::Value>(&explain.stdout).expect("explain --json is JSON");

    // A second run over the same values changes nothing.
    let o = crmfuse(dir.path(), &["run", "pipeline.toml"]);
    assert_ok(&o);
    assert!(recorded_no_change(&o), "{}", show(&o));
    assert_check_passes(dir.path(), "crm.db");
}
