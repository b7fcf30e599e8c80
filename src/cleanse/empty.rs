//! Tokens that mean "no value": `&str -> bool`.
//!
//! The global defaults are in `data/empty_tokens.csv`; a mapping adds its own (`empty = [...]`).
//! A value of white space only (including no-break and zero-width spaces) is always empty.

use std::sync::OnceLock;

use super::reference;

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

    #[test]
    fn defaults_apply_without_mapping_tokens() {
        let t = EmptyTokens::default();
        assert!(t.is_empty("null"));
        assert!(t.is_empty("00.00.0000"));
        assert!(!t.is_empty("n.v."));
    }
}
