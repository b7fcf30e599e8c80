//! What the fuzz targets share: a source built around a mapping text, and the invariants
//! every adapter keeps.

use std::path::PathBuf;

use crmfuse::config::{DisappearPolicy, Source, SourceFormat};
use crmfuse::ingest::Ingested;
use crmfuse::mapping::Mapping;

pub fn source(format: SourceFormat, mapping: &str) -> Source {
    let mapping_path = PathBuf::from("fuzz.toml");
    Source {
        name: "fuzz".into(),
        path: PathBuf::from("fuzz.input"),
        format,
        mapping: Mapping::parse(&mapping_path, mapping, format).expect("the mapping parses"),
        mapping_path,
        trust: 1,
        shadow: false,
        on_disappear: DisappearPolicy::Detach,
    }
}

/// Every row (record or quarantined) starts on a line of its own: the store keys
/// quarantine by line, so two rows on one line would lose one.
pub fn rows_have_distinct_lines(got: &Ingested) {
    let mut lines: Vec<u64> = got
        .records
        .iter()
        .map(|r| r.line)
        .chain(got.quarantined.iter().map(|q| q.line))
        .collect();
    let n = lines.len();
    lines.sort_unstable();
    lines.dedup();
    assert_eq!(lines.len(), n, "two rows on one line");
}
