//! The JSON Lines adapter on arbitrary bytes: no panic; every non-blank line is one row.
#![no_main]

use std::sync::LazyLock;

use crmfuse::config::SourceFormat;
use crmfuse_fuzz::{rows_have_distinct_lines, source};
use libfuzzer_sys::fuzz_target;

static SOURCE: LazyLock<crmfuse::config::Source> = LazyLock::new(|| {
    source(
        SourceFormat::Jsonl,
        "key = \"id\"\n[fields]\nfamily_name = \"name.last\"\nphone = \"phones\"\n",
    )
});

fuzz_target!(|data: &[u8]| {
    if let Ok(got) = crmfuse::ingest::read_bytes(&SOURCE, data, 0) {
        rows_have_distinct_lines(&got);
        let body = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data);
        let non_blank = body
            .split(|&b| b == b'\n')
            .filter(|l| !l.iter().all(|b| b.is_ascii_whitespace()))
            .count() as u64;
        assert_eq!(got.rows_read(), non_blank);
    }
});
