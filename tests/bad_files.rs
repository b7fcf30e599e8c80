//! The bad-file corpus (`fixtures/bad/`, see its README): the real binary on each broken
//! export gives either a clear error (non-zero exit, the file, the line where there is
//! one, the problem, no panic, nothing written) or a run whose quarantined rows carry the
//! expected reasons and lines. In every case that loads, the store says rows read =
//! loaded + quarantined (runs, and customer_sources + quarantine per source), and
//! `crmfuse check` passes.

mod common;

use std::path::Path;

use common::*;
use rusqlite::Connection;

enum Expect {
    /// Exit 1; stderr holds each of these words.
    Error(&'static [&'static str]),
    /// The run loads: `loaded` records, and these (line, reason) quarantined.
    Loads {
        loaded: i64,
        quarantined: &'static [(i64, &'static str)],
    },
}

const CASES: &[(&str, Expect)] = &[
    (
        "empty",
        Expect::Error(&["empty.csv", "line 1", "the file is empty"]),
    ),
    (
        "header_only",
        Expect::Loads {
            loaded: 0,
            quarantined: &[],
        },
    ),
    (
        "truncated_row",
        Expect::Loads {
            loaded: 2,
            quarantined: &[(4, "column_count")],
        },
    ),
    (
        "truncated_quote",
        Expect::Loads {
            loaded: 2,
            quarantined: &[(4, "malformed")],
        },
    ),
    (
        "mixed_line_endings",
        Expect::Loads {
            loaded: 5,
            quarantined: &[(6, "column_count"), (7, "column_count")],
        },
    ),
    (
        "nul_bytes",
        Expect::Loads {
            loaded: 3,
            quarantined: &[(5, "column_count")],
        },
    ),
    (
        "wrong_column_count",
        Expect::Loads {
            loaded: 2,
            quarantined: &[(3, "column_count"), (5, "column_count")],
        },
    ),
    (
        "duplicate_header",
        Expect::Error(&[
            "duplicate_header.csv",
            "people.toml",
            "`email` appears 2 times",
        ]),
    ),
    (
        "missing_key_column",
        Expect::Error(&[
            "missing_key_column.csv",
            "people.toml",
            "column `id` is not in the header",
        ]),
    ),
    (
        "duplicate_keys",
        Expect::Loads {
            loaded: 3,
            quarantined: &[(4, "duplicate_key")],
        },
    ),
    (
        "invalid_utf8",
        Expect::Loads {
            loaded: 2,
            quarantined: &[(3, "encoding")],
        },
    ),
    (
        "utf16",
        Expect::Error(&["utf16.csv", "line 1", "the file is UTF-16"]),
    ),
    (
        "broken_line",
        Expect::Loads {
            loaded: 2,
            quarantined: &[(2, "invalid_json")],
        },
    ),
];

#[test]
fn every_bad_file_gives_a_clear_error_or_quarantined_rows() {
    let bad = repo().join("fixtures/bad");
    for (name, expect) in CASES {
        let dir = tempfile::tempdir().unwrap();
        let pipeline = bad.join(format!("{name}.toml"));
        let o = crmfuse(dir.path(), &["run", pipeline.to_str().unwrap()]);
        assert_no_panic(&o);
        match expect {
            Expect::Error(words) => {
                assert_eq!(o.status.code(), Some(1), "{name}: {}", show(&o));
                let err = text(&o.stderr);
                for w in *words {
                    assert!(err.contains(w), "{name}: `{w}` not in {}", show(&o));
                }
                assert!(
                    !dir.path().join("crm.db").exists(),
                    "{name}: a failed run wrote a store"
                );
            }
            Expect::Loads {
                loaded,
                quarantined,
            } => {
                assert_ok(&o);
                let got = loaded_and_quarantined(&dir.path().join("crm.db"), name);
                assert_eq!(got.0, *loaded, "{name}: records loaded\n{}", show(&o));
                let want: Vec<(i64, String)> = quarantined
                    .iter()
                    .map(|(l, r)| (*l, r.to_string()))
                    .collect();
                assert_eq!(got.1, want, "{name}: quarantined (line, reason)");
                assert_check_passes(dir.path(), "crm.db");
            }
        }
    }
}

/// Accounting from the store: the run's counts balance and are what the tables hold.
/// Returns the records loaded and the (line, reason) of the quarantined rows.
fn loaded_and_quarantined(store: &Path, name: &str) -> (i64, Vec<(i64, String)>) {
    let conn = Connection::open(store).unwrap();
    let (read, loaded, quarantined): (i64, i64, i64) = conn
        .query_row(
            "SELECT rows_read, records_loaded, rows_quarantined FROM runs",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    let in_xref = count_in(&conn, "SELECT count(*) FROM customer_sources");
    let in_quarantine = count_in(&conn, "SELECT count(*) FROM quarantine");
    assert_eq!(read, loaded + quarantined, "{name}: run does not balance");
    assert_eq!(
        (loaded, quarantined),
        (in_xref, in_quarantine),
        "{name}: the tables do not hold what the run counted"
    );
    let rows: Vec<(i64, String)> = conn
        .prepare("SELECT line, reason FROM quarantine ORDER BY line")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for (line, reason) in &rows {
        let detail: String = conn
            .query_row(
                "SELECT detail FROM quarantine WHERE line = ?1",
                [line],
                |r| r.get(0),
            )
            .unwrap();
        assert!(
            !detail.is_empty(),
            "{name}: line {line} ({reason}) has no detail"
        );
    }
    (loaded, rows)
}

/// A NUL inside a name loads: the cleanser drops control characters from the name, and
/// the record is stored and readable (tests/hostile.rs checks that a NUL in an unmapped
/// column is kept verbatim).
#[test]
fn a_nul_inside_a_value_loads() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = repo().join("fixtures/bad/nul_bytes.toml");
    assert_ok(&crmfuse(dir.path(), &["run", pipeline.to_str().unwrap()]));
    let conn = Connection::open(dir.path().join("crm.db")).unwrap();
    let json: String = conn
        .query_row(
            "SELECT record_json FROM customer_sources WHERE source_key = '2'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(json.contains("\"display\":\"Bernd\""), "{json}");
}

/// A 10 MB field (generated here, not committed) loads, and the store keeps it whole.
#[test]
fn a_ten_megabyte_field_loads_whole() {
    let dir = tempfile::tempdir().unwrap();
    let big = "x".repeat(10 * 1024 * 1024);
    let mut csv = String::from("id,given,family,email,phone,birth_date,notes\n");
    csv.push_str("1,Anna,Meyer,anna@example.com,,,short\n");
    csv.push_str(&format!("2,Bernd,Schmidt,bernd@example.com,,,\"{big}\"\n"));
    csv.push_str("3,Clara,Fischer,clara@example.com,,,short\n");
    std::fs::write(dir.path().join("big.csv"), csv).unwrap();
    let mapping = repo().join("fixtures/bad/mappings/people.toml");
    std::fs::write(
        dir.path().join("big.toml"),
        format!(
            "[store]\npath = \"crm.db\"\n[[sources]]\nname = \"people\"\npath = \"big.csv\"\nformat = \"csv\"\nmapping = {:?}\n",
            mapping.to_str().unwrap()
        ),
    )
    .unwrap();
    let o = crmfuse(dir.path(), &["run", "big.toml"]);
    assert_ok(&o);
    let (loaded, quarantined) = loaded_and_quarantined(&dir.path().join("crm.db"), "big");
    assert_eq!((loaded, quarantined.len()), (3, 0));
    let conn = Connection::open(dir.path().join("crm.db")).unwrap();
    let len: i64 = conn
        .query_row(
            "SELECT length(record_json) FROM customer_sources WHERE source_key = '2'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(len > big.len() as i64, "record_json is {len} chars");
    assert_check_passes(dir.path(), "crm.db");
}
