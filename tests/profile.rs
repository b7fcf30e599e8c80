//! End to end: `crmfuse profile fixtures/demo/pipeline.toml --json` with the real binary.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

fn profile_demo() -> Value {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(env!("CARGO_BIN_EXE_crmfuse"))
        .arg("profile")
        .arg(root.join("fixtures/demo/pipeline.toml"))
        .arg("--json")
        // From elsewhere than the project: paths come from the config's directory.
        .current_dir(std::env::temp_dir())
        .output()
        .expect("the crmfuse binary runs");
    assert!(
        out.status.success(),
        "profile failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("profile --json prints JSON")
}

fn source<'a>(p: &'a Value, name: &str) -> &'a Value {
    p["sources"]
        .as_array()
        .expect("sources")
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("source {name} is profiled"))
}

fn column<'a>(s: &'a Value, field: &str) -> &'a Value {
    s["columns"]
        .as_array()
        .expect("columns")
        .iter()
        .find(|c| c["field"] == field)
        .unwrap_or_else(|| panic!("{} has a {field} column", s["name"]))
}

#[test]
fn profiles_every_source_with_plausible_numbers() {
    let p = profile_demo();
    let sources = p["sources"].as_array().expect("sources");
    assert_eq!(sources.len(), 4);
    // (source, data rows, unreadable rows, mapped columns + key)
    for (name, rows, unreadable, columns) in [
        ("erp", 110, 1, 13),
        ("webshop", 100, 1, 15),
        ("support", 70, 1, 11),
        ("sales_sheet", 40, 0, 10),
    ] {
        let s = source(&p, name);
        assert_eq!(s["rows"], rows, "{name} rows");
        assert_eq!(s["unreadable_rows"], unreadable, "{name} unreadable");
        let cols = s["columns"].as_array().expect("columns");
        assert_eq!(cols.len(), columns, "{name} columns");
        assert_eq!(cols[0]["field"], "key", "{name}: the key comes first");
        let readable = rows - unreadable;
        for c in cols {
            let filled = c["filled"].as_u64().expect("filled");
            let distinct = c["distinct"].as_u64().expect("distinct");
            let rate = c["fill_rate"].as_f64().expect("fill_rate");
            assert!(filled <= readable, "{name} {}", c["column"]);
            assert!((rate - filled as f64 / readable as f64).abs() < 1e-9);
            assert!(distinct <= c["values"].as_u64().expect("values"));
            assert_eq!(c["distinct_exact"], true);
            let top = c["top_values"].as_array().expect("top_values");
            assert!(top.len() <= 5);
            assert_eq!(top.is_empty(), filled == 0, "{name} {}", c["column"]);
            let counts: Vec<u64> = top.iter().map(|t| t["count"].as_u64().unwrap()).collect();
            assert!(
                counts.windows(2).all(|w| w[0] >= w[1]),
                "sorted: {counts:?}"
            );
            if let Some(v) = c.get("validity") {
                let checked = v["checked"].as_u64().expect("checked");
                let valid = v["valid"].as_u64().expect("valid");
                assert!(valid <= checked && checked <= c["values"].as_u64().unwrap());
            }
        }
    }
}

#[test]
fn shows_each_silos_problems() {
    let p = profile_demo();
    let erp = source(&p, "erp");
    // `D`, `A`, `Österreich`, `Großbritannien`, `Vereinigtes Königreich` are all countries.
    let country = column(erp, "country");
    assert_eq!(country["validity"]["valid_rate"], 1.0);
    assert!(
        country["top_values"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["value"] == "D")
    );
    // `D-80802` and `A-5020` are valid postcodes; their pattern is reported.
    let postcode = column(erp, "postcode");
    assert_eq!(postcode["validity"]["issues"], serde_json::json!({}));
    let patterns: Vec<&str> = postcode["patterns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["value"].as_str().unwrap())
        .collect();
    assert_eq!(patterns[0], "99999");
    // The ERP writes "no birth date" as 00.00.0000 (an empty token) and has one in 2058.
    let dob = column(erp, "birth_date");
    assert!(dob["empty_tokens"].as_u64().unwrap() > 0);
    assert_eq!(dob["validity"]["issues"]["dob.future"], 1);
    // The sales sheet repeats a key, shares a role account and lost a leading zero.
    let sales = source(&p, "sales_sheet");
    let key = column(sales, "key");
    assert!(key["distinct"].as_u64() < key["filled"].as_u64());
    assert_eq!(
        column(sales, "email")["validity"]["issues"]["email.role_account"],
        1
    );
    assert_eq!(
        column(sales, "postcode")["validity"]["issues"]["postcode.invalid"],
        1
    );
    // The webshop has a typo'd domain.
    let webshop = source(&p, "webshop");
    assert_eq!(
        column(webshop, "email")["validity"]["issues"]["email.domain_typo"],
        1
    );
}

#[test]
fn text_report_names_sources_and_columns() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(env!("CARGO_BIN_EXE_crmfuse"))
        .arg("profile")
        .arg(root.join("fixtures/demo/pipeline.toml"))
        .output()
        .expect("the crmfuse binary runs");
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).expect("UTF-8");
    for needle in [
        "erp (",
        "webshop (",
        "support (",
        "sales_sheet (",
        "NAME -> full_name",
        "patterns: ",
        "valid ",
    ] {
        assert!(text.contains(needle), "missing {needle:?}");
    }
}

#[test]
fn a_missing_config_is_an_error_without_values() {
    let out = Command::new(env!("CARGO_BIN_EXE_crmfuse"))
        .args(["profile", "no/such/pipeline.toml"])
        .output()
        .expect("the crmfuse binary runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no/such/pipeline.toml"), "{err}");
}
