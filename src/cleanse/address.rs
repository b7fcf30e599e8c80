//! Postal addresses: street standardisation, postcodes and countries.

use super::IssueCode;
use super::text::{fold_key, normalize};

/// Country names and codes to ISO 3166-1 alpha-2.
const COUNTRIES: &[(&str, &[&str])] = &[
    (
        "DE",
        &[
            "de",
            "deu",
            "germany",
            "deutschland",
            "allemagne",
            "bundesrepublik deutschland",
            "brd",
        ],
    ),
    (
        "AT",
        &[
            "at",
            "aut",
            "austria",
            "osterreich",
            "oesterreich",
            "autriche",
        ],
    ),
    (
        "CH",
        &["ch", "che", "switzerland", "schweiz", "suisse", "svizzera"],
    ),
    (
        "GB",
        &[
            "gb",
            "gbr",
            "uk",
            "united kingdom",
            "great britain",
            "england",
            "scotland",
            "wales",
            "grossbritannien",
            "royaume uni",
        ],
    ),
    (
        "US",
        &[
            "us",
            "usa",
            "united states",
            "united states of america",
            "vereinigte staaten",
            "etats unis",
            "america",
        ],
    ),
    ("FR", &["fr", "fra", "france", "frankreich"]),
    (
        "NL",
        &[
            "nl",
            "nld",
            "netherlands",
            "niederlande",
            "holland",
            "pays bas",
        ],
    ),
    ("BE", &["be", "bel", "belgium", "belgien", "belgique"]),
    ("IT", &["it", "ita", "italy", "italien", "italie", "italia"]),
    (
        "ES",
        &["es", "esp", "spain", "spanien", "espagne", "espana"],
    ),
    ("PL", &["pl", "pol", "poland", "polen", "pologne", "polska"]),
    ("DK", &["dk", "dnk", "denmark", "danemark", "danmark"]),
    (
        "SE",
        &["se", "swe", "sweden", "schweden", "suede", "sverige"],
    ),
    ("IE", &["ie", "irl", "ireland", "irland", "irlande"]),
    ("LU", &["lu", "lux", "luxembourg", "luxemburg"]),
    ("CA", &["ca", "can", "canada", "kanada"]),
];

pub fn country_code(raw: &str) -> Option<&'static str> {
    let key = fold_key(raw).replace(' ', "");
    COUNTRIES
        .iter()
        .find(|(_, names)| names.iter().any(|n| n.replace(' ', "") == key))
        .map(|(code, _)| *code)
}

/// Street-type abbreviations, per country family.
const STREET_TYPES: &[(&str, &str)] = &[
    ("street", "St"),
    ("avenue", "Ave"),
    ("road", "Rd"),
    ("lane", "Ln"),
    ("drive", "Dr"),
    ("boulevard", "Blvd"),
    ("court", "Ct"),
    ("place", "Pl"),
    ("square", "Sq"),
    ("strasse", "Str."),
    ("straße", "Str."),
];

/// Standard display form of a street line: `12 Main Street` -> `12 Main St`,
/// `Hauptstraße 5` -> `Hauptstr. 5`.
pub fn standardise_street(raw: &str, _country: Option<&str>) -> String {
    let s = normalize(raw);
    s.split(' ')
        .map(|w| {
            let lower = w.trim_end_matches([',', '.']).to_lowercase();
            if let Some((_, abbr)) = STREET_TYPES.iter().find(|(long, _)| *long == lower) {
                return abbr.to_string();
            }
            for suffix in ["straße", "strasse"] {
                if lower.len() > suffix.len() && lower.ends_with(suffix) {
                    let stem = &w[..w.len() - suffix.len()];
                    return format!("{stem}str.");
                }
            }
            w.to_string()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The key street lines are matched on: the standard form, folded.
pub fn street_key(raw: &str, country: Option<&str>) -> String {
    fold_key(&standardise_street(raw, country)).replace("str ", "str")
}

/// Upper-case, single spaces; validated for countries whose format is known.
pub fn normalise_postcode(raw: &str, country: Option<&str>) -> Result<String, IssueCode> {
    let compact: String = normalize(raw)
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_uppercase();
    let digits = |n: usize| compact.len() == n && compact.chars().all(|c| c.is_ascii_digit());
    match country {
        Some("DE") | Some("FR") => digits(5)
            .then_some(compact.clone())
            .ok_or("postcode.invalid"),
        Some("AT") | Some("CH") => digits(4)
            .then_some(compact.clone())
            .ok_or("postcode.invalid"),
        Some("US") => {
            let ok = digits(5)
                || (compact.len() == 10
                    && compact.as_bytes()[5] == b'-'
                    && compact.chars().filter(char::is_ascii_digit).count() == 9);
            ok.then(|| compact[..5].to_string())
                .ok_or("postcode.invalid")
        }
        Some("GB") => {
            let n = compact.len();
            let ok = (5..=7).contains(&n)
                && compact.chars().all(|c| c.is_ascii_alphanumeric())
                && compact[n - 3..n - 2].chars().all(|c| c.is_ascii_digit())
                && compact[n - 2..].chars().all(|c| c.is_ascii_alphabetic());
            ok.then(|| format!("{} {}", &compact[..n - 3], &compact[n - 3..]))
                .ok_or("postcode.invalid")
        }
        _ if compact.is_empty() => Err("postcode.invalid"),
        _ => Ok(compact),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn countries() {
        for (raw, want) in [
            ("Deutschland", Some("DE")),
            ("Österreich", Some("AT")),
            ("UK", Some("GB")),
            ("U.S.A.", Some("US")),
            ("de", Some("DE")),
            ("Atlantis", None),
        ] {
            assert_eq!(country_code(raw), want, "{raw}");
        }
    }

    #[test]
    fn streets() {
        for (raw, want) in [
            ("12 Main Street", "12 Main St"),
            ("Hauptstraße 5", "Hauptstr. 5"),
            ("Hauptstrasse 5", "Hauptstr. 5"),
            ("Hauptstr. 5", "Hauptstr. 5"),
            ("5 Elm Avenue", "5 Elm Ave"),
        ] {
            assert_eq!(standardise_street(raw, None), want, "{raw}");
        }
        assert_eq!(
            street_key("Hauptstraße 5", Some("DE")),
            street_key("Hauptstr. 5", Some("DE"))
        );
    }

    #[test]
    fn postcodes() {
        let cases: &[(&str, Option<&str>, Result<&str, IssueCode>)] = &[
            ("sw1a1aa", Some("GB"), Ok("SW1A 1AA")),
            ("SW1A 1AA", Some("GB"), Ok("SW1A 1AA")),
            ("10115", Some("DE"), Ok("10115")),
            ("1011", Some("DE"), Err("postcode.invalid")),
            ("10001-1234", Some("US"), Ok("10001")),
            ("75001", Some("FR"), Ok("75001")),
            ("8001", Some("CH"), Ok("8001")),
            ("ab 12", None, Ok("AB12")),
        ];
        for (raw, c, want) in cases {
            assert_eq!(
                normalise_postcode(raw, *c).as_deref(),
                want.as_deref(),
                "{raw}"
            );
        }
    }
}
