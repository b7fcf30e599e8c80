//! Reference data from `data/*.csv`, compiled into the binary and parsed once on first use
//! (each cleanser keeps its own table in a `OnceLock`).
//!
//! The files are plain CSV without quoting: `# ` comment lines and blank lines are skipped,
//! the first remaining line is the header, fields are split on `,` and trimmed, and a field
//! that holds several values separates them with `|`.

/// Reference tables are looked up word by word, millions of times a run, with short keys
/// that SipHash's DoS resistance is wasted on: the project's key hasher instead.
pub(crate) type FastMap<K, V> = crate::hash::KeyMap<K, V>;
pub(crate) type FastSet<K> = crate::hash::KeySet<K>;

/// A cheap test before a table lookup: which (first byte, length) pairs the table's words
/// have. Most name words are no title, suffix, particle or legal form, and are turned away
/// without being lower-cased and hashed.
#[derive(Clone)]
pub(crate) struct Shapes([u32; 256]);

impl Default for Shapes {
    fn default() -> Self {
        Shapes([0; 256])
    }
}

impl Shapes {
    pub(crate) fn of<'a>(words: impl Iterator<Item = &'a str>) -> Shapes {
        let mut bits = [0u32; 256];
        for w in words {
            if let Some(&b) = w.as_bytes().first() {
                bits[b.to_ascii_lowercase() as usize] |= 1 << w.len().min(31);
            }
        }
        Shapes(bits)
    }

    /// The token, or the token without its trailing dots or with its dots removed, could be
    /// one of the words.
    pub(crate) fn may_hold(&self, token: &str) -> bool {
        let Some(&b) = token.as_bytes().first() else {
            return false;
        };
        let bits = self.0[b.to_ascii_lowercase() as usize];
        if bits == 0 {
            return false;
        }
        let has = |len: usize| bits & (1 << len.min(31)) != 0;
        let bytes = token.as_bytes();
        let dots = bytes.iter().filter(|&&c| c == b'.').count();
        let trailing = bytes.iter().rev().take_while(|&&c| c == b'.').count();
        has(bytes.len()) || has(bytes.len() - trailing) || has(bytes.len() - dots)
    }
}

/// The data rows of a reference file (the header row skipped).
pub(crate) fn rows(text: &'static str) -> impl Iterator<Item = Vec<&'static str>> {
    text.lines()
        .map(str::trim)
        .filter(|l| !is_comment(l))
        .skip(1)
        .map(|l| l.split(',').map(str::trim).collect())
}

/// `# ...` lines are comments (a token such as `#n/a` is data).
fn is_comment(line: &str) -> bool {
    line.is_empty() || line == "#" || line.starts_with("# ")
}

/// The `|`-separated values of one field, empty ones skipped.
pub(crate) fn list(field: &'static str) -> impl Iterator<Item = &'static str> {
    field.split('|').map(str::trim).filter(|s| !s.is_empty())
}

/// Field `i` of a row, empty when the row is short.
pub(crate) fn field(row: &[&'static str], i: usize) -> &'static str {
    row.get(i).copied().unwrap_or("")
}

pub(crate) const COUNTRIES: &str = include_str!("../../data/countries.csv");
pub(crate) const POSTCODES: &str = include_str!("../../data/postcodes.csv");
pub(crate) const STREETS: &str = include_str!("../../data/street_abbreviations.csv");
pub(crate) const TITLES: &str = include_str!("../../data/name_titles.csv");
pub(crate) const SUFFIXES: &str = include_str!("../../data/name_suffixes.csv");
pub(crate) const PARTICLES: &str = include_str!("../../data/name_particles.csv");
pub(crate) const MAC_EXCEPTIONS: &str = include_str!("../../data/name_mac_exceptions.csv");
pub(crate) const COMPANY_FORMS: &str = include_str!("../../data/company_forms.csv");
pub(crate) const PLACE_WORDS: &str = include_str!("../../data/place_words.csv");
pub(crate) const EMAIL_DOMAINS: &str = include_str!("../../data/email_domains.csv");
pub(crate) const ROLE_ACCOUNTS: &str = include_str!("../../data/email_role_accounts.csv");
pub(crate) const TIME_ZONES: &str = include_str!("../../data/time_zones.csv");
pub(crate) const EMPTY_TOKENS: &str = include_str!("../../data/empty_tokens.csv");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_has_rows_of_its_header_width() {
        for (name, text) in [
            ("countries", COUNTRIES),
            ("postcodes", POSTCODES),
            ("streets", STREETS),
            ("titles", TITLES),
            ("suffixes", SUFFIXES),
            ("particles", PARTICLES),
            ("mac", MAC_EXCEPTIONS),
            ("company_forms", COMPANY_FORMS),
            ("place_words", PLACE_WORDS),
            ("email_domains", EMAIL_DOMAINS),
            ("roles", ROLE_ACCOUNTS),
            ("time_zones", TIME_ZONES),
            ("empty", EMPTY_TOKENS),
        ] {
            let header = text
                .lines()
                .map(str::trim)
                .find(|l| !is_comment(l))
                .unwrap();
            let width = header.split(',').count();
            let mut n = 0;
            for row in rows(text) {
                assert_eq!(row.len(), width, "{name}: {row:?}");
                n += 1;
            }
            assert!(n > 0, "{name} has no rows");
        }
    }
}
