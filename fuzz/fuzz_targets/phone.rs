//! Phone cleansing on arbitrary text, with and without a default region.
#![no_main]

use crmfuse::cleanse::phone::cleanse_phone;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|raw: &str| {
    for region in [None, Some("DE"), Some("CH"), Some("US")] {
        let p = cleanse_phone(raw, region);
        if let Some(e164) = &p.e164 {
            assert!(e164.starts_with('+'), "{e164}");
        }
    }
});
