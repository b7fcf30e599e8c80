//! Phone numbers: `&str + region -> CleanPhone` (E.164 via the `phonenumber` crate, which
//! carries Google's libphonenumber metadata: far more reliable than hand-written rules).

use phonenumber::{Mode, country};

use super::IssueCode;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CleanPhone {
    /// E.164 (`+493012345678`) when valid, else the trimmed raw value.
    pub value: String,
    pub e164: Option<String>,
    pub extension: Option<String>,
    pub issues: Vec<IssueCode>,
}

/// Parse a phone number; `default_region` (ISO alpha-2) applies to numbers written without
/// a country code.
pub fn cleanse_phone(raw: &str, default_region: Option<&str>) -> CleanPhone {
    let trimmed = raw.trim();
    let invalid = |code| CleanPhone {
        value: trimmed.to_string(),
        e164: None,
        extension: None,
        issues: vec![code],
    };
    // The parser is fed only phone-like text of sane length: it is not hardened against
    // arbitrary input.
    let phone_like = trimmed.len() <= 40
        && trimmed.chars().any(|c| c.is_ascii_digit())
        && trimmed
            .chars()
            .all(|c| c.is_ascii_digit() || " +-()./#xXtTeE:,".contains(c) || c == '\u{a0}');
    if !phone_like {
        return invalid("phone.invalid");
    }
    let region = default_region.and_then(|r| r.parse::<country::Id>().ok());
    let text = normalise_prefix(trimmed);
    let parsed = std::panic::catch_unwind(|| phonenumber::parse(region, &text));
    match parsed {
        Ok(Ok(number)) if phonenumber::is_valid(&number) => CleanPhone {
            value: number.format().mode(Mode::E164).to_string(),
            e164: Some(number.format().mode(Mode::E164).to_string()),
            extension: number.extension().map(|e| e.to_string()),
            issues: Vec::new(),
        },
        Ok(Ok(_)) | Ok(Err(_)) | Err(_) => {
            if region.is_none() && !text.starts_with('+') {
                invalid("phone.no_region")
            } else {
                invalid("phone.invalid")
            }
        }
    }
}

/// `0049 30 ...` and `(+49) ...` are written forms of `+49 ...`.
fn normalise_prefix(s: &str) -> String {
    let s = s.replace(['(', ')'], " ");
    let t = s.trim_start();
    if let Some(rest) = t.strip_prefix("00") {
        format!("+{rest}")
    } else {
        t.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones() {
        let cases: &[(&str, Option<&str>, Option<&str>)] = &[
            ("030 1234567", Some("DE"), Some("+49301234567")),
            ("+49 30 1234567", None, Some("+49301234567")),
            ("0049-30-1234567", Some("GB"), Some("+49301234567")),
            ("(030) 1234567", Some("DE"), Some("+49301234567")),
            ("030/1234567", Some("DE"), Some("+49301234567")),
            ("0171/2345678", Some("DE"), Some("+491712345678")),
            ("+44 20 7946 0958", None, Some("+442079460958")),
            ("020 7946 0958", Some("GB"), Some("+442079460958")),
            ("(212) 555-0143", Some("US"), Some("+12125550143")),
            ("(201) 555-0123", Some("US"), Some("+12015550123")),
            ("12", Some("DE"), None),
            ("call me", Some("DE"), None),
            ("030 1234567", None, None),
        ];
        for (raw, region, want) in cases {
            let p = cleanse_phone(raw, *region);
            assert_eq!(p.e164.as_deref(), *want, "{raw} {region:?}");
            assert_eq!(p.issues.is_empty(), want.is_some(), "{raw}");
        }
    }

    #[test]
    fn extension_is_kept() {
        let p = cleanse_phone("+49 30 1234567 ext. 12", None);
        assert_eq!(p.e164.as_deref(), Some("+49301234567"));
        assert_eq!(p.extension.as_deref(), Some("12"));
    }
}
