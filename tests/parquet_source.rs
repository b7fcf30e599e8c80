//! End to end: the real binary runs a pipeline whose source is a Parquet file.
#![cfg(feature = "polars")]

use std::path::Path;
use std::process::Command;

use polars::prelude::*;

/// Six customer rows: one without a key and one repeating a key, so two are quarantined.
fn write_customers(path: &Path) {
    let mut frame = DataFrame::new_infer_height(vec![
        Column::new(
            "customer_id".into(),
            [
                Some("K-1"),
                Some("K-2"),
                Some("K-3"),
                None,
                Some("K-2"),
                Some("K-6"),
            ],
        ),
        Column::new(
            "first".into(),
            ["Anna", "Ben", "Clara", "Nobody", "Ben", "Anna"],
        ),
        Column::new(
            "last".into(),
            ["Schmidt", "Ode", "Zetkin", "Nowhere", "Ode", "Schmidt"],
        ),
        Column::new(
            "email".into(),
            [
                Some("anna@example.com"),
                Some("ben@example.org"),
                None,
                None,
                Some("ben@example.org"),
                Some("anna@example.com"),
            ],
        ),
        Column::new("orders".into(), [3i64, 1, 0, 9, 1, 4]),
        Column::new("born".into(), [7306i32, 5478, 9000, 0, 5478, 7306])
            .cast(&DataType::Date)
            .unwrap(),
    ])
    .unwrap();
    let file = std::fs::File::create(path).unwrap();
    ParquetWriter::new(file)
        .with_row_group_size(Some(4))
        .finish(&mut frame)
        .unwrap();
}

#[test]
fn run_loads_a_parquet_source_and_balances() {
    let dir = tempfile::tempdir().unwrap();
    write_customers(&dir.path().join("customers.parquet"));
    std::fs::write(
        dir.path().join("shop.toml"),
        "key = \"customer_id\"\n[fields]\ngiven_name = \"first\"\nfamily_name = \"last\"\nemail = \"email\"\nbirth_date = \"born\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("pipeline.toml"),
        "[store]\npath = \"crm.db\"\n\n[[sources]]\nname = \"shop\"\npath = \"customers.parquet\"\nformat = \"parquet\"\nmapping = \"shop.toml\"\n",
    )
    .unwrap();

    let out = Command::new(env!("CARGO_BIN_EXE_crmfuse"))
        .args(["run", "pipeline.toml", "--json"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "crmfuse run failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let shop = &summary["sources"][0];
    assert_eq!(shop["name"], "shop");
    let count = |k: &str| shop[k].as_u64().unwrap();
    assert_eq!(count("rows_read"), 6);
    assert_eq!(count("rows_read"), count("loaded") + count("quarantined"));
    assert_eq!(count("quarantined"), 2);
    assert_eq!(shop["balanced"], true);
    assert_eq!(shop["quarantine_reasons"]["missing_key"], 1);
    assert_eq!(shop["quarantine_reasons"]["duplicate_key"], 1);
    assert_eq!(summary["records"], 4);
    // K-1 and K-6 are the same person (same name, email and birth date).
    assert_eq!(summary["customers"], 3);
    assert!(dir.path().join("crm.db").exists());
}
