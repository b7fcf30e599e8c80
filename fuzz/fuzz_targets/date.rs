//! Date and timestamp parsing on arbitrary text, with and without a format.
#![no_main]

use crmfuse::cleanse::date::{parse_date, parse_timestamp};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|raw: &str| {
    for format in [None, Some("%d.%m.%Y"), Some("%Y-%m-%d"), Some("%d/%m/%Y")] {
        let _ = parse_date(raw, format);
        let _ = parse_timestamp(raw, format);
    }
});
