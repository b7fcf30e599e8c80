//! Tokens that mean "no value": `&str -> bool`.

/// Tokens that mean empty in every source, compared case-insensitively after trimming.
pub const DEFAULT_EMPTY_TOKENS: &[&str] = &[
    "",
    "null",
    "none",
    "n/a",
    "na",
    "-",
    "--",
    "0000-00-00",
    "nil",
    "#n/a",
    "(null)",
    "?",
];

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EmptyTokens {
    /// Source-specific tokens, lower-cased and trimmed.
    extra: Vec<String>,
}

impl EmptyTokens {
    pub fn new(extra: &[String]) -> Self {
        EmptyTokens {
            extra: extra.iter().map(|t| t.trim().to_lowercase()).collect(),
        }
    }

    pub fn is_empty(&self, value: &str) -> bool {
        let v = value.trim();
        if v.is_empty() {
            return true;
        }
        // Tokens are short; skip the lower-casing for ordinary values.
        if v.len() > 12 {
            return false;
        }
        let lower = v.to_lowercase();
        DEFAULT_EMPTY_TOKENS.contains(&lower.as_str()) || self.extra.contains(&lower)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empties() {
        let t = EmptyTokens::new(&["n.v.".into(), " Unbekannt ".into()]);
        for v in [
            "",
            "  ",
            "\t",
            "N/A",
            "n/a",
            "NULL",
            "-",
            "0000-00-00",
            "None",
            "n.v.",
            "unbekannt",
        ] {
            assert!(t.is_empty(v), "{v:?}");
        }
        for v in ["0", "Anna", "n", "--x", "2020-01-01"] {
            assert!(!t.is_empty(v), "{v:?}");
        }
    }
}
