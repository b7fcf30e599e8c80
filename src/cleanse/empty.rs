//! Tokens that mean "no value": `&str -> bool`.
//!
//! The global defaults are in `data/empty_tokens.csv`; a mapping adds its own (`empty = [...]`).
//! A value of white space only (including no-break and zero-width spaces) is always empty.

use std::sync::OnceLock;

use super::reference;
use crate::record::Field;

/// The default tokens that are a real value in some fields (`na`: Namibia, the surname Na),
/// with those fields.
fn kept_in() -> &'static [(&'static str, Vec<Field>)] {
    static KEPT: OnceLock<Vec<(&'static str, Vec<Field>)>> = OnceLock::new();
    KEPT.get_or_init(|| {
        reference::rows(reference::EMPTY_TOKENS)
            .map(|r| {
                let fields = reference::list(reference::field(&r, 1))
                    .map(|f| Field::from_name(f).expect("a field name in empty_tokens.csv"))
                    .collect::<Vec<_>>();
                (reference::field(&r, 0), fields)
            })
            .filter(|(_, fields)| !fields.is_empty())
            .collect()
    })
}

/// The default tokens, lower-case.
pub fn default_tokens() -> &'static [&'static str] {
    static TOKENS: OnceLock<Vec<&'static str>> = OnceLock::new();
    TOKENS.get_or_init(|| {
        reference::rows(reference::EMPTY_TOKENS)
            .map(|r| reference::field(&r, 0))
            .filter(|t| !t.is_empty())
            .collect()
    })
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EmptyTokens {
    /// Source-specific tokens, lower-cased and trimmed.
    extra: Vec<String>,
    /// Length in bytes of the longest token: longer values are never empty.
    longest: usize,
}

fn is_blank(c: char) -> bool {
    c.is_whitespace() || matches!(c, '\u{200b}' | '\u{feff}' | '\u{2060}')
}

impl EmptyTokens {
    pub fn new(extra: &[String]) -> Self {
        let extra: Vec<String> = extra
            .iter()
            .map(|t| t.trim_matches(is_blank).to_lowercase())
            .collect();
        let longest = default_tokens()
            .iter()
            .map(|t| t.len())
            .chain(extra.iter().map(String::len))
            .max()
            .unwrap_or(0);
        EmptyTokens { extra, longest }
    }

    /// Whether a value of a canonical field means "no value": as [`Self::is_empty`], except
    /// that a default token that is a real value in this field (`NA` for a country, `Na`
    /// for a name) stays, unless the mapping lists it among its own tokens.
    pub fn is_empty_in(&self, field: Field, value: &str) -> bool {
        if !self.is_empty(value) {
            return false;
        }
        let v = value.trim_matches(is_blank).to_lowercase();
        let kept = kept_in()
            .iter()
            .any(|(token, fields)| *token == v && fields.contains(&field));
        !kept || self.extra.contains(&v)
    }

    /// Whether a value means "no value", whatever column it is in (unmapped columns too).
    pub fn is_empty(&self, value: &str) -> bool {
        let v = value.trim_matches(is_blank);
        if v.is_empty() {
            return true;
        }
        let longest = self.longest.max(default_longest());
        if v.is_ascii() {
            // Tokens are short; ordinary values are rejected without lower-casing them.
            v.len() <= longest
                && (default_tokens().iter().any(|t| t.eq_ignore_ascii_case(v))
                    || self.extra.iter().any(|t| t.eq_ignore_ascii_case(v)))
        } else {
            // Lower-casing can change the length in bytes: compare after it.
            let lower = v.to_lowercase();
            lower.len() <= longest
                && (default_tokens().contains(&lower.as_str()) || self.extra.contains(&lower))
        }
    }
}

fn default_longest() -> usize {
    static LONGEST: OnceLock<usize> = OnceLock::new();
    *LONGEST.get_or_init(|| default_tokens().iter().map(|t| t.len()).max().unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empties() {
        let t = EmptyTokens::new(&["n.v.".into(), " Unbekannt ".into(), "ÜBERSPRUNGEN".into()]);
        let empty = [
            "",
            "  ",
            "\t",
            "\u{a0}",
            "\u{200b}",
            " \r\n ",
            "N/A",
            "n/a",
            "NULL",
            "-",
            "0000-00-00",
            "00.00.0000",
            "00/00/0000",
            "0000-00-00 00:00:00",
            "None",
            "#N/A",
            "#NV",
            "(null)",
            "n.v.",
            "N.V.",
            "unbekannt",
            "übersprungen",
            " ? ",
        ];
        for v in empty {
            assert!(t.is_empty(v), "{v:?}");
        }
        for v in [
            "0",
            "Anna",
            "n",
            "--x",
            "2020-01-01",
            "Nana",
            "00.00.0001",
            "nullable",
        ] {
            assert!(!t.is_empty(v), "{v:?}");
        }
    }

    /// `NA` and `Na` are values in the fields that can hold them (Namibia, Naples, the
    /// surname Na) and empty elsewhere; a mapping that lists `na` itself empties them all.
    #[test]
    fn na_is_a_value_where_it_can_be_one() {
        use Field as F;
        let defaults = EmptyTokens::default();
        let r_export = EmptyTokens::new(&["NA".into()]);
        let cases: &[(Field, &str, bool, bool)] = &[
            // field, value, empty by default, empty when the mapping lists `na`
            (F::Country, "NA", false, true),
            (F::Country, " na ", false, true),
            (F::Country, "N/A", true, true),
            (F::Country, "n.a.", true, true),
            (F::Country, "Namibia", false, false),
            (F::Region, "NA", false, true),
            (F::FamilyName, "Na", false, true),
            (F::FamilyName, "NA", false, true),
            (F::GivenName, "Na", false, true),
            (F::MiddleName, "Na", false, true),
            (F::FullName, "Na", false, true),
            (F::FamilyName, "n/a", true, true),
            (F::FamilyName, "-", true, true),
            (F::FamilyName, "", true, true),
            (F::Email, "NA", true, true),
            (F::Phone, "na", true, true),
            (F::Postcode, "NA", true, true),
            (F::City, "NA", true, true),
            (F::BirthDate, "NA", true, true),
            (F::Company, "NA", true, true),
            (F::Title, "NA", true, true),
            (F::MarketingConsent, "NA", true, true),
            (F::Country, "null", true, true),
            (F::Country, "Nauru", false, false),
        ];
        for &(field, value, by_default, listed) in cases {
            assert_eq!(
                defaults.is_empty_in(field, value),
                by_default,
                "{field:?} {value:?}"
            );
            assert_eq!(
                r_export.is_empty_in(field, value),
                listed,
                "{field:?} {value:?}"
            );
        }
        // A column that feeds no field: `NA` is empty, as before.
        assert!(defaults.is_empty("NA"));
    }

    #[test]
    fn defaults_apply_without_mapping_tokens() {
        let t = EmptyTokens::default();
        assert!(t.is_empty("null"));
        assert!(t.is_empty("00.00.0000"));
        assert!(!t.is_empty("n.v."));
    }
}
