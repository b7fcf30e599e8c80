//! E-mail cleansing on arbitrary text: a match key, when there is one, is an address.
#![no_main]

use crmfuse::cleanse::email::cleanse_email;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|raw: &str| {
    let e = cleanse_email(raw);
    if let Some(key) = &e.key {
        assert!(key.contains('@'), "{key}");
    }
});
