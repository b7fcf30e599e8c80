//! End-to-end: `crmfuse run --report`, gates and `--decisions` on a copy of fixtures/demo.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{Demo, assert_store_sound, expect_code, text};

/// Every file in a directory (not below it) with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_file())
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

#[test]
fn dry_run_leaves_the_store_byte_for_byte_unchanged_and_writes_the_report() {
    let demo = Demo::new();
    expect_code(&demo.crmfuse(&["run", "pipeline.toml"]), 0);
    let before = snapshot(&demo.root);
    assert!(before.contains_key("crm.db"));

    let out = demo.crmfuse(&["run", "pipeline.toml", "--dry-run", "--report", "out"]);
    expect_code(&out, 0);
    assert!(
        text(&out.stdout).contains("DRY RUN"),
        "{}",
        text(&out.stdout)
    );
    let after = snapshot(&demo.root);
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>(),
        "a dry run must not create or delete files beside the store"
    );
    assert!(before == after, "a dry run changed a file");

    for f in ["report.json", "report.html", "review.csv"] {
        let len = std::fs::metadata(demo.path("out").join(f)).unwrap().len();
        assert!(len > 100, "{f} is {len} bytes");
    }
    let r = demo.report_json("out");
    assert_eq!(r["verdict"]["dry_run"], true);
    assert_eq!(r["verdict"]["loaded"], false);
    // The second run changes nothing: every customer is unchanged.
    assert_eq!(r["store"]["counts"]["created"], 0);
    assert_eq!(
        r["store"]["counts"]["unchanged"],
        r["matching"]["customers"]
    );
}

#[test]
fn report_balances_on_the_demo_and_its_gates_pass() {
    let demo = Demo::new();
    let out = demo.crmfuse(&["run", "pipeline.toml", "--dry-run", "--report", "out"]);
    expect_code(&out, 0);
    assert!(!demo.path("crm.db").exists(), "a dry run created the store");
    let r = demo.report_json("out");
    let sources = r["reconciliation"].as_array().unwrap();
    assert_eq!(sources.len(), 4);
    let mut read = 0;
    for s in sources {
        let (rows, loaded, quarantined) = (
            s["rows_read"].as_u64().unwrap(),
            s["loaded"].as_u64().unwrap(),
            s["quarantined"].as_u64().unwrap(),
        );
        assert_eq!(rows, loaded + quarantined, "{s}");
        assert_eq!(s["balanced"], true);
        assert_eq!(s["status"], "PASS", "{s}");
        read += rows;
    }
    // truth.csv names the person behind every row of every source.
    let truth_rows = std::fs::read_to_string(demo.path("truth.csv"))
        .unwrap()
        .lines()
        .count()
        - 1;
    assert_eq!(read, truth_rows as u64);
    assert_eq!(r["verdict"]["passed"], true);
    let gates = r["gates"].as_array().unwrap();
    assert!(gates.iter().all(|g| g["passed"] == true), "{gates:?}");
    for gate in [
        "reconciliation_must_balance",
        "max_quarantine_rate",
        "min_rows",
        "max_cluster_size",
        "min_email_validity",
    ] {
        assert!(gates.iter().any(|g| g["gate"] == gate), "no {gate} result");
    }
    assert_eq!(r["store"]["counts"]["created"], r["matching"]["customers"]);
    assert_eq!(r["shadow"]["shadow_sources"][0], "sales_sheet");
    let html = std::fs::read_to_string(demo.path("out/report.html")).unwrap();
    for section in [
        "Every row accounted for",
        "Data quality",
        "Matching",
        "Effect on the CRM store",
        "Shadow systems",
        "Run details",
    ] {
        assert!(html.contains(section), "no section {section}");
    }
    assert!(html.contains(r["run"]["config_hash"].as_str().unwrap()));
}

#[test]
fn a_truncated_source_fails_a_gate_and_a_real_run_refuses_to_load() {
    let demo = Demo::new();
    expect_code(&demo.crmfuse(&["run", "pipeline.toml"]), 0);
    let store = std::fs::read(demo.path("crm.db")).unwrap();
    let (rows, kept) = demo.truncate_to_half("erp_customers.csv");
    assert!(kept < 100 && rows >= 100);

    let out = demo.crmfuse(&["run", "pipeline.toml", "--dry-run", "--report", "out"]);
    expect_code(&out, 3);
    let stdout = text(&out.stdout);
    assert!(stdout.contains("FAILED min_rows[erp]"), "{stdout}");
    assert!(stdout.contains("truncated"), "{stdout}");
    let r = demo.report_json("out");
    assert_eq!(r["verdict"]["passed"], false);
    let failed: Vec<&serde_json::Value> = r["gates"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["passed"] == false)
        .collect();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0]["gate"], "min_rows");
    assert_eq!(failed[0]["source"], "erp");
    assert_eq!(failed[0]["actual"], format!("{kept} rows"));
    let erp = &r["reconciliation"][0];
    assert_eq!(erp["status"], "FAIL");
    let html = std::fs::read_to_string(demo.path("out/report.html")).unwrap();
    assert!(
        html.contains("Not ready: 1 of"),
        "verdict missing from the HTML"
    );
    assert!(html.contains("is the file truncated"));

    // A real run is refused and leaves the store as it was.
    let out = demo.crmfuse(&["run", "pipeline.toml", "--report", "out2"]);
    expect_code(&out, 3);
    assert!(text(&out.stdout).contains("LOAD REFUSED"));
    assert!(std::fs::read(demo.path("crm.db")).unwrap() == store);
    let r = demo.report_json("out2");
    assert_eq!(r["verdict"]["load_refused"], true);
    assert_eq!(r["verdict"]["loaded"], false);

    // --force loads anyway and says so.
    let out = demo.crmfuse(&["run", "pipeline.toml", "--force"]);
    expect_code(&out, 0);
    assert!(text(&out.stdout).contains("loaded anyway"));
    assert!(std::fs::read(demo.path("crm.db")).unwrap() != store);
    assert_store_sound(&demo.path("crm.db"));
}

#[test]
fn a_refused_first_run_creates_no_store() {
    let demo = Demo::new();
    demo.truncate_to_half("erp_customers.csv");
    expect_code(&demo.crmfuse(&["run", "pipeline.toml"]), 3);
    assert!(!demo.path("crm.db").exists());
}

#[test]
fn a_hostile_customer_name_is_shown_as_text() {
    let demo = Demo::new();
    let attack = "<script>alert(1)</script>";
    let sheet = demo.path("sales_sheet.csv");
    let mut csv = std::fs::read_to_string(&sheet).unwrap();
    csv.push_str(&format!(
        "NW-900,{attack},xss@example.com,,<b>bold</b>,Berlin,10115,Germany,,1/7/2024,,\n\"{attack}\",\"<img src=x onerror=alert(1)>\"\n"
    ));
    std::fs::write(&sheet, csv).unwrap();
    let out = demo.crmfuse(&["run", "pipeline.toml", "--dry-run", "--report", "out"]);
    expect_code(&out, 0);
    let html = std::fs::read_to_string(demo.path("out/report.html")).unwrap();
    let lower = html.to_lowercase();
    assert!(!lower.contains("<script"), "a script tag reached the HTML");
    assert!(!lower.contains("<img"), "an img tag reached the HTML");
    assert!(!lower.contains("<b>bold"), "markup reached the HTML");
    // The customer's name, in a table cell of its own (shadow customers and values).
    assert!(
        html.contains("<td>&lt;script&gt;alert(1)&lt;/script&gt;</td>"),
        "the name is not shown as text"
    );
    assert!(html.contains("<td>&lt;b&gt;bold&lt;/b&gt;</td>"));
    // The quarantined row's raw text is shown, escaped.
    assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;"));
}

#[test]
fn decisions_split_one_customer_and_join_two() {
    let demo = Demo::new();
    expect_code(&demo.crmfuse(&["run", "pipeline.toml"]), 0);
    let before = demo.assignment();
    let mut members: BTreeMap<&String, Vec<&(String, String)>> = BTreeMap::new();
    for (record, id) in &before {
        members.entry(id).or_default().push(record);
    }
    // A customer of exactly two records, and two customers of one record each.
    let pair = members.values().find(|m| m.len() == 2).unwrap().clone();
    let singles: Vec<&(String, String)> = members
        .values()
        .filter(|m| m.len() == 1)
        .take(2)
        .map(|m| m[0])
        .collect();
    assert_eq!(singles.len(), 2);
    let decisions = demo.path("decisions.csv");
    std::fs::write(
        &decisions,
        format!(
            "source_a,key_a,source_b,key_b,decision\n{},{},{},{},different\n{},{},{},{},same\nerp,no-such-key,webshop,W-10005,same\n",
            pair[0].0, pair[0].1, pair[1].0, pair[1].1, singles[0].0, singles[0].1, singles[1].0, singles[1].1
        ),
    )
    .unwrap();
    let out = demo.crmfuse(&[
        "run",
        "pipeline.toml",
        "--decisions",
        "decisions.csv",
        "--report",
        "out",
    ]);
    expect_code(&out, 0);
    assert!(text(&out.stderr).contains("1 decision(s) name records that are not in the sources"));
    let after = demo.assignment();
    assert_ne!(
        after[pair[0]], after[pair[1]],
        "the cannot-link did not split"
    );
    assert_eq!(
        after[singles[0]], after[singles[1]],
        "the must-link did not join"
    );

    let r = demo.report_json("out");
    let d = &r["run"]["decisions"];
    assert_eq!(d["read"], 3);
    assert_eq!(d["applied_same"], 1);
    assert_eq!(d["applied_different"], 1);
    assert_eq!(d["stale"][0]["line"], 4);
    // Decided pairs are in the review with their decision, so the file can be reused.
    let review = std::fs::read_to_string(demo.path("out/review.csv")).unwrap();
    assert!(
        review
            .lines()
            .any(|l| l.contains(",different,") && l.contains(&pair[0].1))
    );
    assert!(
        review
            .lines()
            .any(|l| l.contains(",same,") && l.contains(&singles[0].1))
    );
}

#[test]
fn a_steward_can_decide_in_the_exported_review_csv() {
    let demo = Demo::new();
    expect_code(
        &demo.crmfuse(&["run", "pipeline.toml", "--dry-run", "--report", "out"]),
        0,
    );
    let review = std::fs::read_to_string(demo.path("out/review.csv")).unwrap();
    let mut reader = csv::Reader::from_reader(review.as_bytes());
    let headers = reader.headers().unwrap().clone();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let mut rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    assert!(!rows.is_empty(), "the demo has no pair to review");
    // The steward says the first pair (kept apart by a veto) is one customer.
    let first = rows[0].clone();
    let mut edited: Vec<String> = first.iter().map(str::to_string).collect();
    edited[col("decision")] = "same".into();
    rows[0] = csv::StringRecord::from(edited);
    let mut w = csv::Writer::from_path(demo.path("decided.csv")).unwrap();
    w.write_record(&headers).unwrap();
    for r in &rows {
        w.write_record(r).unwrap();
    }
    w.flush().unwrap();
    expect_code(
        &demo.crmfuse(&["run", "pipeline.toml", "--decisions", "decided.csv"]),
        0,
    );
    let restore = |s: &str| s.strip_prefix('\'').unwrap_or(s).to_string();
    let key = |s: &str, k: &str| (first[col(s)].to_string(), restore(&first[col(k)]));
    let a = demo.assignment();
    assert_eq!(
        a[&key("source_a", "key_a")],
        a[&key("source_b", "key_b")],
        "the pair marked same is not one customer"
    );
}

#[test]
fn a_bad_decisions_file_is_an_error_naming_the_line() {
    let demo = Demo::new();
    std::fs::write(
        demo.path("d.csv"),
        "source_a,key_a,source_b,key_b,decision\nerp,1,webshop,2,perhaps\n",
    )
    .unwrap();
    let out = demo.crmfuse(&["run", "pipeline.toml", "--decisions", "d.csv"]);
    expect_code(&out, 1);
    let err = text(&out.stderr);
    assert!(err.contains("d.csv: line 2"), "{err}");
    assert!(err.contains("`perhaps`"), "{err}");
    assert!(!demo.path("crm.db").exists());
}

#[test]
fn overwrites_are_reported_and_the_max_overwrites_gate_keeps_the_store() {
    let demo = Demo::new();
    expect_code(&demo.crmfuse(&["run", "pipeline.toml"]), 0);
    // A value changes in the most trusted source after the first load.
    let erp = demo.path("erp_customers.csv");
    let bytes = std::fs::read(&erp).unwrap();
    let from = b"Kaiser-Joseph-Str. 94a";
    let at = bytes
        .windows(from.len())
        .position(|w| w == from)
        .expect("demo row changed; pick another street");
    let mut changed = bytes[..at].to_vec();
    changed.extend_from_slice(b"Rempartstr. 7");
    changed.extend_from_slice(&bytes[at + from.len()..]);
    std::fs::write(&erp, changed).unwrap();
    let mut toml = std::fs::read_to_string(demo.path("pipeline.toml")).unwrap();
    toml.push_str("max_overwrites = 0\n");
    std::fs::write(demo.path("pipeline.toml"), toml).unwrap();
    let store = std::fs::read(demo.path("crm.db")).unwrap();

    let out = demo.crmfuse(&["run", "pipeline.toml", "--report", "out"]);
    expect_code(&out, 3);
    assert!(text(&out.stdout).contains("FAILED max_overwrites"));
    assert!(std::fs::read(demo.path("crm.db")).unwrap() == store);
    let r = demo.report_json("out");
    let overwrites = r["store"]["overwrites"].as_array().unwrap();
    assert!(
        overwrites.iter().any(|o| o["field"] == "address_line1"
            && o["existing"] == "Kaiser-Joseph-Str. 94a"
            && o["new"] == "Rempartstr. 7"
            && o["source"] == "erp"),
        "{overwrites:?}"
    );
    let html = std::fs::read_to_string(demo.path("out/report.html")).unwrap();
    assert!(html.contains("Rempartstr. 7"));
}

#[test]
fn a_different_decision_that_same_decisions_overrule_is_reported() {
    let demo = Demo::new();
    expect_code(&demo.crmfuse(&["run", "pipeline.toml"]), 0);
    let before = demo.assignment();
    let mut size: BTreeMap<&String, usize> = BTreeMap::new();
    for id in before.values() {
        *size.entry(id).or_default() += 1;
    }
    let singles: Vec<&(String, String)> = before
        .iter()
        .filter(|(_, id)| size[id] == 1)
        .map(|(r, _)| r)
        .take(3)
        .collect();
    let row = |a: &(String, String), b: &(String, String), d: &str| {
        format!("{},{},{},{},{d}\n", a.0, a.1, b.0, b.1)
    };
    let mut csv = "source_a,key_a,source_b,key_b,decision\n".to_string();
    csv += &row(singles[0], singles[1], "same");
    csv += &row(singles[1], singles[2], "same");
    csv += &row(singles[0], singles[2], "different");
    std::fs::write(demo.path("d.csv"), csv).unwrap();
    let out = demo.crmfuse(&[
        "run",
        "pipeline.toml",
        "--dry-run",
        "--decisions",
        "d.csv",
        "--report",
        "out",
    ]);
    expect_code(&out, 0);
    assert!(
        text(&out.stderr).contains("1 were overruled"),
        "{}",
        text(&out.stderr)
    );
    let r = demo.report_json("out");
    let conflicts = r["run"]["decisions"]["conflicts"].as_array().unwrap();
    assert_eq!(conflicts.len(), 1, "{conflicts:?}");
    assert_eq!(conflicts[0]["line"], 4);
    assert_eq!(conflicts[0]["verdict"], "different");
    let html = std::fs::read_to_string(demo.path("out/report.html")).unwrap();
    assert!(html.contains("Decisions that were not applied"));
}
