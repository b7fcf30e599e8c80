//! Person-name parsing and keys on arbitrary text.
#![no_main]

use crmfuse::cleanse::name::{self, NameOrder};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|raw: &str| {
    for order in [NameOrder::Auto, NameOrder::FirstLast, NameOrder::LastFirst] {
        let (parsed, _) = name::parse_full_name(raw, order);
        let _ = parsed.display();
    }
    let _ = name::name_key(raw);
    let _ = name::clean_name_part(raw);
    let _ = name::split_suffix(raw);
});
