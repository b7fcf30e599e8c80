//! Property tests for the cleansers: they never panic on arbitrary Unicode, and cleaning a
//! cleaned display value gives the same value (idempotence). Keys are stable as well.

use std::path::Path;

use chrono::NaiveDate;
use proptest::prelude::*;

use super::*;
use crate::config::SourceFormat;

/// Arbitrary Unicode, printable text, and text that looks like what exports hold.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "\\PC{0,40}",
        "[A-Za-zÄÖÜäöüßÉéèçñøØåÅłŁ' .,\\-]{0,30}",
        "[0-9 +()/.\\-]{0,20}",
    ]
}

/// Name-like text: words, particles, titles, suffixes, initials, commas, in any case.
fn name_like() -> impl Strategy<Value = String> {
    let word = prop_oneof![
        "[A-Z][a-zäöüéè]{1,8}",
        "[A-ZÄÖÜ]{2,9}",
        "[a-zäöü]{2,9}",
        Just("van".to_string()),
        Just("de la".to_string()),
        Just("von".to_string()),
        Just("O'Brien".to_string()),
        Just("MCDONALD".to_string()),
        Just("Dr.".to_string()),
        Just("Prof.".to_string()),
        Just("Jr.".to_string()),
        Just("III".to_string()),
        Just("PhD".to_string()),
        "[A-Z]\\.?",
        Just(",".to_string()),
        Just("&".to_string()),
    ];
    // At least one word that is a name (not only titles, suffixes and particles, which have
    // no reading to return to).
    let name = prop_oneof!["[A-Z][a-zäöüéè]{1,8}", "[A-ZÄÖÜ]{2,9}", "[a-zäöü]{3,9}"];
    (
        prop::collection::vec(word, 0..6),
        name,
        any::<prop::sample::Index>(),
    )
        .prop_map(|(mut words, name, at)| {
            let at = at.index(words.len() + 1);
            words.insert(at, name);
            words.join(" ")
        })
}

/// Street-line-like text: names, types, directionals, units and numbers of every shape
/// (`12`, `12a`, `12-14`, `2/3`, `#4`, `3rd`, `2.`, `1er`), in any case, with separators.
fn street_like() -> impl Strategy<Value = String> {
    let word = prop_oneof![
        "[A-Z][a-zäöüß]{2,9}",
        "[A-ZÄÖÜ]{2,9}",
        "[a-zäöü]{2,9}(straße|strasse|str\\.|weg|platz|gasse|allee)",
        prop::sample::select(vec![
            "Street",
            "St",
            "ST.",
            "Avenue",
            "Ave",
            "Road",
            "Rd",
            "North",
            "N",
            "NW",
            "Main",
            "Rue",
            "rue",
            "Avenue",
            "Bd",
            "Boulevard",
            "de la",
            "du",
            "Straße",
            "Str.",
            "Apartment",
            "Apt",
            "Apt.",
            "Suite",
            "Ste",
            "Unit",
            "Flat",
            "Floor",
            "Whg.",
            "Wohnung",
            "OG",
            "EG",
            "bis",
            "Hinterhaus",
            "c/o",
            "#",
            "floor",
            "étage",
        ])
        .prop_map(str::to_string),
        "[0-9]{1,5}",
        "[0-9]{1,4}[a-dA-D]",
        "[0-9]{1,3}-[0-9]{1,3}",
        "[0-9]{1,2}/[0-9]{1,2}",
        "#[0-9]{1,4}[A-B]?",
        "[0-9]{1,3}(st|nd|rd|th|ST|TH|\\.|er|e|ème)",
        Just(",".to_string()),
        Just(";".to_string()),
    ];
    prop::collection::vec(word, 1..8).prop_map(|words| words.join(" "))
}

fn country() -> impl Strategy<Value = Option<&'static str>> {
    prop::sample::select(vec![
        None,
        Some("DE"),
        Some("AT"),
        Some("CH"),
        Some("GB"),
        Some("US"),
        Some("FR"),
        Some("NL"),
        Some("IT"),
        Some("JP"),
    ])
}

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 23).expect("a date")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn text_is_normalised_once(s in text()) {
        let n = text::normalize(&s);
        prop_assert_eq!(text::normalize(&n), n.clone());
        prop_assert!(!n.starts_with(' ') && !n.ends_with(' ') && !n.contains("  "));
        let k = text::fold_key(&s);
        prop_assert_eq!(text::fold_key(&k), k.clone());
        let q = text::squash_key(&s);
        prop_assert_eq!(text::squash_key(&q), q);
    }

    #[test]
    fn name_parts_are_cleaned_once(s in text()) {
        let part = name::clean_name_part(&s);
        prop_assert_eq!(name::clean_name_part(&part), part.clone());
        let family = name::clean_family_name(&s);
        prop_assert_eq!(name::clean_family_name(&family), family.clone());
        let key = name::name_key(&s);
        prop_assert_eq!(name::name_key(&key), key);
        let (given, title) = name::split_title(&s);
        prop_assert_eq!(name::split_title(&given).0, given);
        if let Some(t) = title {
            prop_assert_eq!(name::standardise_title(&t), t);
        }
        let suffix = name::standardise_suffix(&s);
        prop_assert_eq!(name::standardise_suffix(&suffix), suffix);
    }

    #[test]
    fn full_names_never_panic(s in text(), order in 0..3u8) {
        let order = [name::NameOrder::Auto, name::NameOrder::FirstLast, name::NameOrder::LastFirst][order as usize];
        let _ = name::parse_full_name(&s, order);
    }

    #[test]
    fn full_names_are_parsed_once(s in name_like()) {
        // The display form is `Title Given Middle Family Suffix`: read back in that order
        // it gives itself.
        let (n, _) = name::parse_full_name(&s, name::NameOrder::Auto);
        let shown = n.display();
        let (again, _) = name::parse_full_name(&shown, name::NameOrder::FirstLast);
        prop_assert_eq!(again.display(), shown);
    }

    #[test]
    fn emails_are_cleaned_once(s in text()) {
        let e = email::cleanse_email(&s);
        let again = email::cleanse_email(&e.value);
        prop_assert_eq!(&again.value, &e.value);
        prop_assert_eq!(again.key, e.key);
        prop_assert_eq!(again.issues, e.issues);
        let _ = email::split_addresses(&s);
    }

    #[test]
    fn a_cell_known_to_hold_one_number_is_not_split(
        s in prop_oneof![
            text(),
            "[0-9 +()/;|,.\\-]{0,30}",
            "[0-9 ]{5,14}( / | or | oder | ou |/|; |,| o)[0-9 ]{5,14}",
        ]
    ) {
        if phone::is_one_number(&s) {
            prop_assert_eq!(phone::split_numbers(&s), vec![s.as_str()]);
        }
    }

    #[test]
    fn phones_are_cleaned_once(s in text(), region in country()) {
        let p = phone::cleanse_phone(&s, region);
        let again = phone::cleanse_phone(&p.value, region);
        prop_assert_eq!(&again.value, &p.value);
        prop_assert_eq!(again.e164.is_some(), p.e164.is_some());
    }

    #[test]
    fn streets_are_cleaned_once(s in text(), c in country()) {
        let street = address::clean_street(&s, c);
        let again = address::clean_street(&street.display, c);
        prop_assert_eq!(&again.display, &street.display);
        prop_assert_eq!(again.key, street.key);
    }

    #[test]
    fn a_street_cleansed_through_its_number_template_is_cleansed_as_itself(
        s in prop_oneof![street_like(), text()],
        c in country(),
    ) {
        let direct = address::clean_street(&s, c);
        if let Some(numbers) = address::NumberTemplate::of(&s) {
            let t = address::clean_street(&numbers.template, c);
            // Put back, the numbers give the line's own forms; or the caller is told to
            // cleanse the line itself.
            if let Some(display) = numbers.put_back(&t.display) {
                prop_assert_eq!(display, direct.display);
            }
            if let Some(key) = numbers.put_back(&t.key) {
                prop_assert_eq!(key, direct.key);
            }
        }
    }

    #[test]
    fn places_and_countries_are_cleaned_once(s in text()) {
        let place = address::standardise_place(&s);
        prop_assert_eq!(address::standardise_place(&place), place.clone());
        prop_assert_eq!(address::place_key(&address::place_key(&place)), address::place_key(&place));
        if let Some(code) = address::country_code(&s) {
            prop_assert_eq!(address::country_code(code), Some(code));
        }
    }

    #[test]
    fn postcodes_are_cleaned_once(s in text(), c in country()) {
        if let Ok(p) = address::parse_postcode(&s, c) {
            let country = p.country.or(c);
            let again = address::parse_postcode(&p.display, country);
            prop_assert_eq!(again.as_ref().map(|a| a.display.as_str()), Ok(p.display.as_str()));
            prop_assert_eq!(again.map(|a| a.key), Ok(p.key));
        }
    }

    #[test]
    fn dates_are_read_once(s in text(), format in prop::sample::select(vec![None, Some("%d.%m.%Y"), Some("%d/%m/%Y"), Some("%m/%d/%Y"), Some("%y%m%d")])) {
        if let Ok(d) = date::parse_date(&s, format) {
            prop_assert_eq!(date::parse_date(&iso_date(d), None), Ok(d));
        }
        let _ = date::parse_birth_date(&s, format, today());
        let _ = date::parse_timestamp(&s, format);
        let _ = date::parse_timestamp(&s, None);
    }

    #[test]
    fn empties_never_panic(s in text()) {
        let tokens = empty::EmptyTokens::new(std::slice::from_ref(&s));
        prop_assert!(tokens.is_empty(&s));
        let _ = empty::EmptyTokens::default().is_empty(&s);
    }

    #[test]
    fn whole_records_never_panic(values in prop::collection::vec(text(), 19)) {
        let m = Mapping::parse(
            Path::new("m.toml"),
            "key = \"id\"\nphone_region = \"DE\"\n[fields]\nfull_name = \"n\"\nemail = \"e\"\nphone = \"p\"\npostcode = \"z\"\ncountry = \"c\"\nbirth_date = { column = \"b\", format = \"%d.%m.%Y\" }\nmarketing_consent = \"nl\"\n",
            SourceFormat::Csv,
        ).expect("mapping");
        let ctx = CleanseContext::new(&m, today());
        let record = SourceRecord {
            source: 0,
            key: "k".into(),
            line: 2,
            hash: 0,
            values: Field::ALL.iter().copied().zip(values.iter().cloned()).collect(),
            extra: vec![],
        };
        let c = cleanse(record, &ctx);
        for field in Field::ALL {
            let _ = validate(field, &values[field as usize], c.country.as_ref().and_then(|v| v.key.as_deref()), &ctx);
        }
        let _ = crate::profile::pattern(&values[0]);
    }
}
