//! E-mail addresses: `&str -> CleanEmail` (stored value, match key, issue codes).

use super::IssueCode;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CleanEmail {
    /// Trimmed and lower-cased.
    pub value: String,
    /// The provider-aware match key; `None` when the address is invalid.
    pub key: Option<String>,
    pub issues: Vec<IssueCode>,
}

pub fn cleanse_email(raw: &str) -> CleanEmail {
    let value = raw
        .trim()
        .trim_start_matches("mailto:")
        .trim_matches(|c| c == '<' || c == '>')
        .to_lowercase();
    let mut issues = Vec::new();
    let key = match value.split_once('@') {
        Some((local, domain)) if valid_local(local) && valid_domain(domain) => {
            Some(match_key(local, domain))
        }
        _ => None,
    };
    if key.is_none() {
        issues.push("email.invalid");
    }
    CleanEmail { value, key, issues }
}

fn valid_local(local: &str) -> bool {
    !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| c.is_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c))
}

fn valid_domain(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    domain.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.len() >= 2 && tld.chars().all(char::is_alphabetic))
}

/// Gmail ignores dots and `+tags` in the local part; most providers ignore `+tags`.
fn match_key(local: &str, domain: &str) -> String {
    let local = local.split('+').next().unwrap_or(local);
    let domain = if domain == "googlemail.com" {
        "gmail.com"
    } else {
        domain
    };
    if domain == "gmail.com" {
        format!("{}@{domain}", local.replace('.', ""))
    } else {
        format!("{local}@{domain}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        let cases: &[(&str, &str, Option<&str>)] = &[
            (
                " Anna.Schmidt@Example.COM ",
                "anna.schmidt@example.com",
                Some("anna.schmidt@example.com"),
            ),
            (
                "a.b.c+news@gmail.com",
                "a.b.c+news@gmail.com",
                Some("abc@gmail.com"),
            ),
            (
                "ABC@googlemail.com",
                "abc@googlemail.com",
                Some("abc@gmail.com"),
            ),
            ("max.mustermann@@web.de", "max.mustermann@@web.de", None),
            ("no-at-sign.example.com", "no-at-sign.example.com", None),
            ("x@localhost", "x@localhost", None),
            ("x..y@example.com", "x..y@example.com", None),
            (
                "<info@example.org>",
                "info@example.org",
                Some("info@example.org"),
            ),
        ];
        for (raw, value, key) in cases {
            let e = cleanse_email(raw);
            assert_eq!(e.value, *value, "{raw}");
            assert_eq!(e.key.as_deref(), *key, "{raw}");
            assert_eq!(e.issues.contains(&"email.invalid"), key.is_none(), "{raw}");
        }
    }
}
