//! The CSV adapter on arbitrary bytes: no panic; every row on a line of its own.
#![no_main]

use std::sync::LazyLock;

use crmfuse::config::SourceFormat;
use crmfuse_fuzz::{rows_have_distinct_lines, source};
use libfuzzer_sys::fuzz_target;

static SOURCE: LazyLock<crmfuse::config::Source> = LazyLock::new(|| {
    source(
        SourceFormat::Csv,
        "key = \"id\"\n[fields]\nfamily_name = \"n\"\nemail = \"e\"\nphone = \"p\"\n",
    )
});

fuzz_target!(|data: &[u8]| {
    // Half the inputs get a valid header, so that rows (not only headers) are explored.
    let mut bytes = Vec::with_capacity(data.len() + 16);
    if data.first().is_some_and(|b| b & 1 == 1) {
        bytes.extend_from_slice(b"id,n,e,p\n");
    }
    bytes.extend_from_slice(data.get(1..).unwrap_or_default());
    if let Ok(got) = crmfuse::ingest::read_bytes(&SOURCE, &bytes, 0) {
        rows_have_distinct_lines(&got);
    }
});
