//! Text normalisation shared by every cleanser: `&str -> String`.

use unicode_normalization::UnicodeNormalization;

/// Characters that carry no text: format controls that exports leak (byte order marks,
/// zero-width spaces and joiners, soft hyphens).
fn is_ignorable(c: char) -> bool {
    matches!(
        c,
        '\u{feff}' | '\u{200b}' | '\u{200c}' | '\u{200d}' | '\u{2060}' | '\u{00ad}'
    ) || (c.is_control() && !c.is_whitespace())
}

/// Trim, Unicode NFKC, drop control and invisible characters, collapse runs of white space
/// into one space. Idempotent: `normalize(normalize(s)) == normalize(s)`.
pub fn normalize(raw: &str) -> String {
    normalize_cow(raw).into_owned()
}

/// [`normalize`], borrowing the value when it is already normal (most are): the cleansers
/// that only read the normal form allocate nothing for it.
pub(crate) fn normalize_cow(raw: &str) -> std::borrow::Cow<'_, str> {
    use std::borrow::Cow;
    // Most values are already normal: printable ASCII, single spaces inside, none outside.
    let b = raw.as_bytes();
    if b.first().is_some_and(|&c| c != b' ')
        && b.last().is_some_and(|&c| c != b' ')
        && b.iter().all(|c| (0x20..0x7f).contains(c))
        && !b.windows(2).any(|w| w == b"  ")
    {
        return Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len());
    let mut pending_space = false;
    let mut push = |c: char, out: &mut String| {
        if c.is_whitespace() {
            pending_space = !out.is_empty();
        } else if !is_ignorable(c) {
            if pending_space {
                out.push(' ');
                pending_space = false;
            }
            out.push(c);
        }
    };
    let already_nfkc = || {
        !raw.chars().any(is_ignorable)
            && unicode_normalization::is_nfkc_quick(raw.chars())
                == unicode_normalization::IsNormalized::Yes
    };
    if raw.is_ascii() || already_nfkc() {
        // NFKC would change nothing: skip the decomposition machinery.
        for c in raw.chars() {
            push(c, &mut out);
        }
    } else {
        // Invisible characters go before NFKC so that dropping them cannot leave a
        // sequence that a second pass would compose differently.
        for c in raw.chars().filter(|&c| !is_ignorable(c)).nfkc() {
            push(c, &mut out);
        }
    }
    Cow::Owned(out)
}

/// A key for matching: lower-case ASCII letters and digits, diacritics folded and scripts
/// transliterated (`Zoë` -> `zoe`, `Straße` -> `strasse`), punctuation dropped, single spaces.
pub fn fold_key(raw: &str) -> String {
    let ascii = deunicode::deunicode_with_tofu_cow(raw, "");
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

/// `fold_key` without the spaces, and with the German transliterations made equal to the
/// plain vowel (`ae` = `ä` = `a`): the key names and country names are compared on.
pub fn squash_key(raw: &str) -> String {
    let ascii = deunicode::deunicode_with_tofu_cow(raw, "");
    let mut out = String::with_capacity(ascii.len());
    for c in ascii.chars() {
        if !c.is_ascii_alphanumeric() {
            continue;
        }
        let c = c.to_ascii_lowercase();
        // `ae`, `oe`, `ue` -> `a`, `o`, `u` (Mueller = Müller = Muller); looking at what was
        // written keeps the key stable when keyed again.
        if c == 'e' && out.ends_with(['a', 'o', 'u']) {
            continue;
        }
        out.push(c);
    }
    out
}

/// Upper-case the first character and lower-case the rest, character by character; a
/// character whose case mapping is not a single character (`ß` -> `SS`) is kept, so that
/// the result is stable under a second pass.
pub(crate) fn capitalise(word: &str) -> String {
    let mut chars = word.chars();
    let mut out = String::with_capacity(word.len());
    if let Some(first) = chars.next() {
        push_upper(first, &mut out);
        // `str::to_lowercase` knows the Greek final sigma.
        out.push_str(&chars.as_str().to_lowercase());
    }
    out
}

pub(crate) fn push_upper(c: char, out: &mut String) {
    let mut up = c.to_uppercase();
    match (up.next(), up.next()) {
        (Some(u), None) => out.push(u),
        _ => out.push(c),
    }
}

/// True when the text has letters of one case only (`MÜLLER`, `müller`), which exports
/// produce and which is re-cased for display; mixed case is kept as written.
pub(crate) fn is_single_case(s: &str) -> bool {
    let mut lower = false;
    let mut upper = false;
    // `ß` has no everyday capital: `STRAUß` is an upper-case word.
    for c in s.chars().filter(|&c| c != 'ß') {
        lower |= c.is_lowercase();
        upper |= c.is_uppercase();
    }
    !(lower && upper)
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
            ("\u{a0}Köln\u{a0}", "Köln"),
            ("Jo\u{200b}hn", "John"),
            ("Stra\u{00ad}ße", "Straße"),
            ("e\u{301}", "é"),
            ("ﬁsher", "fisher"),
            ("tab\there", "tab here"),
            ("Anna Maria", "Anna Maria"),
            ("12 Main St.", "12 Main St."),
            ("a\u{7f}b", "ab"),
            ("a\u{1f}b", "ab"),
            (" a", "a"),
            ("a ", "a"),
            ("a  b", "a b"),
            (" ", ""),
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
            ("Łódź", "lodz"),
            ("Ørsted", "orsted"),
            ("São Paulo", "sao paulo"),
        ];
        for (raw, want) in cases {
            assert_eq!(fold_key(raw), want, "{raw:?}");
        }
    }

    #[test]
    fn squashes() {
        let cases = [
            ("Müller", "muller"),
            ("Mueller", "muller"),
            ("MULLER", "muller"),
            ("Österreich", "osterreich"),
            ("Oesterreich", "osterreich"),
            ("Vereinigtes Königreich", "vereinigteskonigreich"),
            ("U.S.A.", "usa"),
        ];
        for (raw, want) in cases {
            assert_eq!(squash_key(raw), want, "{raw:?}");
        }
    }
}
