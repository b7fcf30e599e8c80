//! Text normalisation shared by every cleanser: `&str -> String`.

use unicode_normalization::UnicodeNormalization;

/// Trim, Unicode NFKC, drop control characters, collapse runs of white space.
pub fn normalize(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut pending_space = false;
    for c in raw.nfkc() {
        if c.is_whitespace() {
            pending_space = !out.is_empty();
        } else if c.is_control() || c == '\u{feff}' || c == '\u{200b}' {
            continue;
        } else {
            if pending_space {
                out.push(' ');
                pending_space = false;
            }
            out.push(c);
        }
    }
    out
}

/// A key for matching: lower-case ASCII letters and digits, diacritics folded and scripts
/// transliterated (`Zoë` -> `zoe`, `Straße` -> `strasse`), punctuation dropped, single spaces.
pub fn fold_key(raw: &str) -> String {
    let ascii = deunicode::deunicode(raw);
    let mut out = String::with_capacity(ascii.len());
    let mut pending_space = false;
    for c in ascii.chars() {
        if c.is_ascii_alphanumeric() {
            if pending_space {
                out.push(' ');
                pending_space = false;
            }
            out.push(c.to_ascii_lowercase());
        } else if c.is_whitespace() || c == '-' || c == '/' || c == ',' || c == '.' {
            pending_space = !out.is_empty();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes() {
        let cases = [
            ("  Anna  Maria ", "Anna Maria"),
            ("Ｍüller", "Müller"),
            ("a\u{0}b", "ab"),
            ("\u{feff}x", "x"),
            ("line\r\nbreak", "line break"),
            ("", ""),
        ];
        for (raw, want) in cases {
            assert_eq!(normalize(raw), want, "{raw:?}");
        }
    }

    #[test]
    fn folds() {
        let cases = [
            ("Zoë", "zoe"),
            ("Straße", "strasse"),
            ("O'Brien", "obrien"),
            ("Jean-Luc", "jean luc"),
            ("  ", ""),
        ];
        for (raw, want) in cases {
            assert_eq!(fold_key(raw), want, "{raw:?}");
        }
    }
}
