//! Property tests for the adapters and the cleansers: arbitrary bytes never panic; every
//! row a parser sees becomes exactly one record or one quarantine entry, on its own line
//! (the store keys quarantine by line); well-formed CSV round-trips.

use std::path::PathBuf;

use crmfuse::cleanse::empty::EmptyTokens;
use crmfuse::cleanse::{date, email, name, phone};
use crmfuse::config::{DisappearPolicy, Source, SourceFormat};
use crmfuse::ingest::{Ingested, read_bytes};
use crmfuse::mapping::Mapping;
use crmfuse::record::Field;
use proptest::prelude::*;

fn source(format: SourceFormat, mapping: &str) -> Source {
    let mapping_path = PathBuf::from("prop.toml");
    Source {
        name: "prop".into(),
        path: PathBuf::from(match format {
            SourceFormat::Csv => "prop.csv",
            _ => "prop.jsonl",
        }),
        format,
        mapping: Mapping::parse(&mapping_path, mapping, format).unwrap(),
        mapping_path,
        trust: 1,
        shadow: false,
        on_disappear: DisappearPolicy::Detach,
    }
}

/// Rows' lines are distinct and within the file.
fn lines_are_distinct_and_in_range(got: &Ingested, bytes: &[u8]) {
    let physical = bytes.iter().filter(|&&b| b == b'\n').count() as u64
        + bytes.iter().filter(|&&b| b == b'\r').count() as u64
        + 1;
    let mut lines: Vec<u64> = got
        .records
        .iter()
        .map(|r| r.line)
        .chain(got.quarantined.iter().map(|q| q.line))
        .collect();
    assert!(lines.iter().all(|&l| l >= 1 && l <= physical), "{lines:?}");
    lines.sort_unstable();
    let n = lines.len();
    lines.dedup();
    assert_eq!(lines.len(), n, "two rows on one line");
}

/// An error names the file it is about and says where.
fn error_is_clear(e: &crmfuse::Error) {
    let m = e.to_string();
    assert!(
        m.contains("prop.csv") || m.contains("prop.jsonl") || m.contains("prop.toml"),
        "{m}"
    );
}

const CSV_MAPPING: &str = "key = \"id\"\n[fields]\nfamily_name = \"n\"\nemail = \"e\"\n";

/// Rows the csv crate itself finds after the header (blank lines are not rows): the
/// adapter must account for each.
fn csv_crate_rows(bytes: &[u8]) -> Option<u64> {
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(body);
    let mut rec = csv::ByteRecord::new();
    let mut n = 0u64;
    let mut header = true;
    while r.read_byte_record(&mut rec).ok()? {
        if header {
            header = false;
        } else if !(rec.len() == 1 && rec[0].is_empty()) {
            n += 1;
        }
    }
    Some(n)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn csv_arbitrary_bytes_never_panic_and_every_row_is_accounted(
        header in prop::bool::ANY,
        body in prop::collection::vec(
            prop_oneof![
                4 => any::<u8>(),
                2 => Just(b','), 2 => Just(b'\n'), 1 => Just(b'\r'), 1 => Just(b'"'),
                1 => Just(0u8), 2 => Just(b'a'),
            ],
            0..600,
        ),
    ) {
        let s = source(SourceFormat::Csv, CSV_MAPPING);
        let mut bytes = if header { b"id,n,e,extra\n".to_vec() } else { Vec::new() };
        bytes.extend_from_slice(&body);
        match read_bytes(&s, &bytes, 0) {
            Ok(got) => {
                lines_are_distinct_and_in_range(&got, &bytes);
                if let Some(rows) = csv_crate_rows(&bytes) {
                    prop_assert_eq!(got.rows_read(), rows);
                }
            }
            Err(e) => error_is_clear(&e),
        }
    }

    #[test]
    fn well_formed_csv_round_trips(
        rows in prop::collection::vec(
            ("[a-z0-9]{1,6}", "\\PC{0,12}|[\",\n\r ]{0,4}", "[a-z@.]{0,10}"),
            0..40,
        ),
        crlf in prop::bool::ANY,
    ) {
        let mut w = csv::WriterBuilder::new()
            .terminator(if crlf { csv::Terminator::CRLF } else { csv::Terminator::Any(b'\n') })
            .from_writer(Vec::new());
        w.write_record(["id", "n", "e"]).unwrap();
        for (id, n, e) in &rows {
            w.write_record([id.as_str(), n.as_str(), e.as_str()]).unwrap();
        }
        let bytes = w.into_inner().unwrap();
        let got = read_bytes(&source(SourceFormat::Csv, CSV_MAPPING), &bytes, 0).unwrap();
        prop_assert_eq!(got.rows_read(), rows.len() as u64);
        lines_are_distinct_and_in_range(&got, &bytes);
        // Every first occurrence of a key loads with its value; repeats are quarantined.
        let mut seen = std::collections::HashSet::new();
        let mut expected_records = 0;
        for (id, n, _) in &rows {
            if seen.insert(id.clone()) {
                expected_records += 1;
                let r = got.records.iter().find(|r| &r.key == id).unwrap();
                if !EmptyTokens::default().is_empty(n) {
                    prop_assert_eq!(r.first(Field::FamilyName), Some(n.as_str()));
                }
            }
        }
        prop_assert_eq!(got.records.len(), expected_records);
    }

    #[test]
    fn jsonl_arbitrary_bytes_never_panic_and_every_line_is_accounted(
        lines in prop::collection::vec(
            prop_oneof![
                3 => prop::collection::vec(any::<u8>(), 0..40),
                3 => "\\{\"id\": \"[a-z0-9]{0,4}\", \"n\": \"\\PC{0,8}\"\\}".prop_map(String::into_bytes),
                1 => "\\{\"id\": [0-9]{1,3}, \"n\": [\\[\\]{}\":,0-9a-z ]{0,12}".prop_map(String::into_bytes),
                1 => Just(b"  \r".to_vec()),
            ],
            0..30,
        ),
    ) {
        let s = source(SourceFormat::Jsonl, "key = \"id\"\n[fields]\nfamily_name = \"n\"\n");
        let bytes = lines.join(&b'\n');
        match read_bytes(&s, &bytes, 0) {
            Ok(got) => {
                lines_are_distinct_and_in_range(&got, &bytes);
                let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
                let non_blank = body
                    .split(|&b| b == b'\n')
                    .filter(|l| !l.iter().all(|b| b.is_ascii_whitespace()))
                    .count() as u64;
                prop_assert_eq!(got.rows_read(), non_blank);
            }
            Err(e) => error_is_clear(&e),
        }
    }

    #[test]
    fn cleansers_never_panic_on_any_text(raw in "\\PC{0,60}|[0-9 +()./-]{0,30}|[a-z.@+_-]{0,30}") {
        for order in [name::NameOrder::Auto, name::NameOrder::FirstLast, name::NameOrder::LastFirst] {
            let _ = name::parse_full_name(&raw, order);
        }
        let _ = name::name_key(&raw);
        let _ = name::clean_name_part(&raw);
        let _ = email::cleanse_email(&raw);
        let _ = phone::cleanse_phone(&raw, Some("DE"));
        let _ = phone::cleanse_phone(&raw, None);
        let _ = date::parse_date(&raw, None);
        let _ = date::parse_date(&raw, Some("%d.%m.%Y"));
        let _ = date::parse_timestamp(&raw, None);
    }
}

#[test]
fn a_lone_cr_file_keeps_rows_on_their_own_lines() {
    // `\r` alone ends a CSV record; each row must still get a line of its own.
    let s = source(SourceFormat::Csv, CSV_MAPPING);
    let bytes = b"id,n,e\r1,a\r2\r3\r";
    let got = read_bytes(&s, bytes, 0).unwrap();
    lines_are_distinct_and_in_range(&got, bytes);
    assert_eq!(got.rows_read(), 3);
}
