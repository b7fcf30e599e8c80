//! E-mail addresses: `&str -> CleanEmail` (stored value, match key, issue codes).
//!
//! Providers, their matching rules and known domain typos are in `data/email_domains.csv`;
//! role accounts in `data/email_role_accounts.csv`.

use std::sync::OnceLock;

use super::IssueCode;
use super::reference::{self, FastMap, FastSet, field};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CleanEmail {
    /// Trimmed and lower-cased (a `mailto:` or a display name around it removed).
    pub value: String,
    /// The provider-aware match key; `None` when the address is invalid or a role account.
    pub key: Option<String>,
    pub issues: Vec<IssueCode>,
}

struct Provider {
    canonical: &'static str,
    ignore_dots: bool,
}

struct Domains {
    providers: FastMap<&'static str, Provider>,
    /// Misspelt domain -> the provider domain meant.
    typos: FastMap<String, &'static str>,
    roles: FastSet<&'static str>,
    /// No provider domain is also a typo key (true of the shipped table).
    typo_free_providers: bool,
    /// Per first byte, the lengths (bit `min(len, 31)`) of the role names starting with it.
    role_shapes: [u32; 256],
}

/// Characters a domain is typed with, for the one-keystroke typo variants.
const DOMAIN_ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789-";

fn domains() -> &'static Domains {
    static DOMAINS: OnceLock<Domains> = OnceLock::new();
    DOMAINS.get_or_init(|| {
        let mut providers = FastMap::default();
        let mut typos = FastMap::default();
        for r in reference::rows(reference::EMAIL_DOMAINS) {
            match field(&r, 1) {
                "provider" => {
                    providers.insert(
                        field(&r, 0),
                        Provider {
                            canonical: field(&r, 2),
                            ignore_dots: field(&r, 3) == "yes",
                        },
                    );
                }
                _ => {
                    typos.insert(field(&r, 0).to_string(), field(&r, 2));
                }
            }
        }
        // One keystroke away in the provider's name (not its first letter, where real
        // brands differ: ymail, email): gmaill.com, hotmali.com, outlool.com.
        let mut heuristic: FastMap<String, &'static str> = FastMap::default();
        for (&domain, p) in &providers {
            let Some((name, tld)) = domain.split_once('.') else {
                continue;
            };
            if name.len() < 5 || !name.is_ascii() {
                continue;
            }
            for variant in one_edit_variants(name) {
                let candidate = format!("{variant}.{tld}");
                if !providers.contains_key(candidate.as_str()) {
                    heuristic.entry(candidate).or_insert(p.canonical);
                }
            }
        }
        for (k, v) in heuristic {
            typos.entry(k).or_insert(v);
        }
        let roles: FastSet<&'static str> = reference::rows(reference::ROLE_ACCOUNTS)
            .map(|r| field(&r, 0))
            .collect();
        let mut role_shapes = [0u32; 256];
        for r in &roles {
            if let Some(&b) = r.as_bytes().first() {
                role_shapes[b as usize] |= 1 << r.len().min(31);
            }
        }
        Domains {
            typo_free_providers: !providers.keys().any(|p| typos.contains_key(*p)),
            providers,
            typos,
            roles,
            role_shapes,
        }
    })
}

/// Deletions, transpositions, substitutions and insertions after the first letter.
fn one_edit_variants(name: &str) -> Vec<String> {
    let b = name.as_bytes();
    let mut out = Vec::new();
    for i in 1..b.len() {
        let mut v = b.to_vec();
        v.remove(i);
        out.push(v);
        if i + 1 < b.len() {
            let mut v = b.to_vec();
            v.swap(i, i + 1);
            out.push(v);
        }
        for &c in DOMAIN_ALPHABET {
            let mut v = b.to_vec();
            v[i] = c;
            out.push(v);
        }
    }
    for i in 1..=b.len() {
        for &c in DOMAIN_ALPHABET {
            let mut v = b.to_vec();
            v.insert(i, c);
            out.push(v);
        }
    }
    out.into_iter()
        .filter_map(|v| String::from_utf8(v).ok())
        .filter(|v| v != name)
        .collect()
}

/// The address inside what an export wrote: `mailto:`, `Name <addr>` and quotes removed.
fn extract(raw: &str) -> &str {
    let wrapping = |c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>');
    // The common case: a bare address, nothing to take off.
    let wrapped = raw.bytes().any(|b| matches!(b, b'<' | b'>' | b'"' | b'\''))
        || raw.starts_with(char::is_whitespace)
        || raw.ends_with(char::is_whitespace)
        || (raw.len() >= 7 && raw.is_char_boundary(7) && raw[..7].eq_ignore_ascii_case("mailto:"));
    if !wrapped {
        return raw;
    }
    let mut s = raw;
    // Until nothing changes, so that the stored value reads back as itself.
    loop {
        let before = s.len();
        if let (Some(open), Some(close)) = (s.rfind('<'), s.rfind('>'))
            && open < close
        {
            s = &s[open + 1..close];
        }
        s = s.trim_matches(wrapping);
        if s.len() >= 7 && s.is_char_boundary(7) && s[..7].eq_ignore_ascii_case("mailto:") {
            s = &s[7..];
        }
        if s.len() == before {
            return s;
        }
    }
}

/// A cell that [`split_addresses`] gives back whole, known without splitting it.
pub fn is_one_address(raw: &str) -> bool {
    raw.bytes().filter(|&b| b == b'@').count() < 2
}

/// A cell with several addresses (`a@x.de; b@y.de`) gives each; any other cell itself.
pub fn split_addresses(raw: &str) -> Vec<&str> {
    if is_one_address(raw) {
        return vec![raw];
    }
    let parts: Vec<&str> = raw
        .split(|c: char| c == ';' || c == ',' || c.is_whitespace())
        .filter(|p| !p.is_empty())
        .collect();
    if parts.len() >= 2 && parts.iter().all(|p| p.contains('@')) {
        parts
    } else {
        vec![raw]
    }
}

pub fn cleanse_email(raw: &str) -> CleanEmail {
    let address = extract(raw);
    let value = if address.is_ascii() {
        address.to_ascii_lowercase()
    } else {
        address.to_lowercase()
    };
    let mut issues = Vec::new();
    let parts = value
        .rsplit_once('@')
        .filter(|(local, domain)| valid_local(local) && valid_domain(domain));
    let key = match parts {
        None => {
            issues.push("email.invalid");
            None
        }
        Some((local, domain)) => {
            let d = domains();
            // A provider's own domain is no typo (checked when the tables are built): most
            // addresses are at one, and the typo table is large.
            let provider = d.providers.get(domain);
            let (domain, provider) = match provider
                .filter(|_| d.typo_free_providers)
                .is_none()
                .then(|| d.typos.get(domain))
                .flatten()
            {
                Some(meant) => {
                    issues.push("email.domain_typo");
                    (*meant, d.providers.get(*meant))
                }
                None => (domain, provider),
            };
            if is_role_account(local, d) {
                issues.push("email.role_account");
                None
            } else {
                Some(match_key(local, domain, provider))
            }
        }
    };
    CleanEmail { value, key, issues }
}

fn is_role_account(local: &str, d: &Domains) -> bool {
    let base = local.split('+').next().unwrap_or(local);
    // Role names are short ASCII words: anything else is a person's mailbox.
    if base.len() > 24 || !base.is_ascii() {
        return false;
    }
    let mut buf = [0u8; 24];
    let mut n = 0;
    for b in base.bytes().filter(|b| !matches!(b, b'.' | b'-' | b'_')) {
        buf[n] = b;
        n += 1;
    }
    let squashed = std::str::from_utf8(&buf[..n]).unwrap_or("");
    let word = squashed.trim_end_matches(|c: char| c.is_ascii_digit());
    // No role name starts with this byte at this length: no need to hash it.
    if let Some(&first) = word.as_bytes().first()
        && d.role_shapes[first as usize] & (1 << word.len().min(31)) == 0
    {
        return false;
    }
    d.roles.contains(word)
}

/// Bytes an ASCII local part may hold: letters, digits and the RFC 5322 specials.
const LOCAL_BYTES: [bool; 128] = {
    let mut t = [false; 128];
    let mut b = 0;
    while b < 128 {
        t[b] = (b as u8).is_ascii_alphanumeric();
        b += 1;
    }
    let specials = b"!#$%&'*+/=?^_`{|}~.-";
    let mut i = 0;
    while i < specials.len() {
        t[specials[i] as usize] = true;
        i += 1;
    }
    t
};

fn valid_local(local: &str) -> bool {
    if local.is_ascii() {
        // The same rules, byte by byte (an ASCII character is alphanumeric exactly when
        // it is an ASCII letter or digit).
        let b = local.as_bytes();
        return !b.is_empty()
            && b.len() <= 64
            && b[0] != b'.'
            && b[b.len() - 1] != b'.'
            && !b.windows(2).any(|w| w == b"..")
            && b.iter().all(|&c| LOCAL_BYTES[c as usize]);
    }
    valid_local_chars(local)
}

/// The local-part rules character by character (any script's letters and digits).
fn valid_local_chars(local: &str) -> bool {
    !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.as_bytes().windows(2).any(|w| w == b"..")
        && local.chars().all(|c| {
            c.is_alphanumeric()
                || matches!(
                    c,
                    '!' | '#'
                        | '$'
                        | '%'
                        | '&'
                        | '\''
                        | '*'
                        | '+'
                        | '/'
                        | '='
                        | '?'
                        | '^'
                        | '_'
                        | '`'
                        | '{'
                        | '|'
                        | '}'
                        | '~'
                        | '.'
                        | '-'
                )
        })
}

fn valid_domain(domain: &str) -> bool {
    if domain.is_ascii() {
        return valid_ascii_domain(domain.as_bytes());
    }
    valid_domain_chars(domain)
}

/// The domain rules character by character (internationalised labels).
fn valid_domain_chars(domain: &str) -> bool {
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_alphanumeric() || c == '-')
    };
    let Some((_, tld)) = domain.rsplit_once('.') else {
        return false;
    };
    domain.len() <= 253
        && domain.split('.').all(label_ok)
        && ((tld.chars().count() >= 2 && tld.chars().all(char::is_alphabetic))
            || (tld.starts_with("xn--") && tld.len() > 4))
}

/// [`valid_domain`] for an ASCII domain, in one pass over its bytes (for ASCII, a character
/// is alphanumeric or alphabetic exactly when it is an ASCII letter or digit, and counts
/// one byte).
fn valid_ascii_domain(d: &[u8]) -> bool {
    let Some(dot) = d.iter().rposition(|&b| b == b'.') else {
        return false;
    };
    if d.len() > 253 {
        return false;
    }
    for label in d.split(|&b| b == b'.') {
        if label.is_empty()
            || label.len() > 63
            || label[0] == b'-'
            || label[label.len() - 1] == b'-'
            || !label
                .iter()
                .all(|&b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return false;
        }
    }
    let tld = &d[dot + 1..];
    (tld.len() >= 2 && tld.iter().all(u8::is_ascii_alphabetic))
        || (tld.starts_with(b"xn--") && tld.len() > 4)
}

/// Gmail ignores dots in the local part; a `+tag` is dropped everywhere (`name+news@` was
/// written by the owner of `name@`, whether or not the provider delivers it).
/// `provider` is the provider of `domain`, if it is one.
fn match_key(local: &str, domain: &str, provider: Option<&Provider>) -> String {
    let (domain, ignore_dots) = match provider {
        Some(p) => (p.canonical, p.ignore_dots),
        None => (domain, false),
    };
    let local = local.split('+').next().unwrap_or(local);
    let mut key = String::with_capacity(local.len() + domain.len() + 1);
    if ignore_dots {
        key.extend(local.chars().filter(|&c| c != '.'));
    } else {
        key.push_str(local);
    }
    key.push('@');
    key.push_str(domain);
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        // (raw, stored value, key, issues)
        let cases: &[(&str, &str, Option<&str>, &[IssueCode])] = &[
            (
                " Anna.Schmidt@Example.COM ",
                "anna.schmidt@example.com",
                Some("anna.schmidt@example.com"),
                &[],
            ),
            (
                "a.b.c+news@gmail.com",
                "a.b.c+news@gmail.com",
                Some("abc@gmail.com"),
                &[],
            ),
            (
                "ABC@googlemail.com",
                "abc@googlemail.com",
                Some("abc@gmail.com"),
                &[],
            ),
            (
                "Tom.Mueller@GMAIL.COM",
                "tom.mueller@gmail.com",
                Some("tommueller@gmail.com"),
                &[],
            ),
            (
                "anna+shop@web.de",
                "anna+shop@web.de",
                Some("anna@web.de"),
                &[],
            ),
            (
                "jo.doe+x@outlook.com",
                "jo.doe+x@outlook.com",
                Some("jo.doe@outlook.com"),
                &[],
            ),
            (
                "max.mustermann@@web.de",
                "max.mustermann@@web.de",
                None,
                &["email.invalid"],
            ),
            (
                "no-at-sign.example.com",
                "no-at-sign.example.com",
                None,
                &["email.invalid"],
            ),
            ("x@localhost", "x@localhost", None, &["email.invalid"]),
            (
                "x..y@example.com",
                "x..y@example.com",
                None,
                &["email.invalid"],
            ),
            ("anna@gmail,com", "anna@gmail,com", None, &["email.invalid"]),
            (
                "anna @gmail.com",
                "anna @gmail.com",
                None,
                &["email.invalid"],
            ),
            (".anna@web.de", ".anna@web.de", None, &["email.invalid"]),
            ("anna@-web.de", "anna@-web.de", None, &["email.invalid"]),
            ("anna@web.d", "anna@web.d", None, &["email.invalid"]),
            (
                "<jan@example.org>",
                "jan@example.org",
                Some("jan@example.org"),
                &[],
            ),
            (
                "Anna Schmidt <Anna@Example.org>",
                "anna@example.org",
                Some("anna@example.org"),
                &[],
            ),
            (
                "MAILTO:Jan@Example.org",
                "jan@example.org",
                Some("jan@example.org"),
                &[],
            ),
            (
                "jürgen@müller.de",
                "jürgen@müller.de",
                Some("jürgen@müller.de"),
                &[],
            ),
            (
                "ivan@пример.рф",
                "ivan@пример.рф",
                Some("ivan@пример.рф"),
                &[],
            ),
            (
                "a@xn--mller-kva.de",
                "a@xn--mller-kva.de",
                Some("a@xn--mller-kva.de"),
                &[],
            ),
            (
                "julia.kraus@gmial.com",
                "julia.kraus@gmial.com",
                Some("juliakraus@gmail.com"),
                &["email.domain_typo"],
            ),
            (
                "tom@gmai.com",
                "tom@gmai.com",
                Some("tom@gmail.com"),
                &["email.domain_typo"],
            ),
            (
                "tom@hotmial.com",
                "tom@hotmial.com",
                Some("tom@hotmail.com"),
                &["email.domain_typo"],
            ),
            (
                "tom@yaho.com",
                "tom@yaho.com",
                Some("tom@yahoo.com"),
                &["email.domain_typo"],
            ),
            (
                "tom@web.dee",
                "tom@web.dee",
                Some("tom@web.de"),
                &["email.domain_typo"],
            ),
            (
                "tom@gmaill.com",
                "tom@gmaill.com",
                Some("tom@gmail.com"),
                &["email.domain_typo"],
            ),
            (
                "tom@outlool.com",
                "tom@outlool.com",
                Some("tom@outlook.com"),
                &["email.domain_typo"],
            ),
            (
                "tom@t-onlien.de",
                "tom@t-onlien.de",
                Some("tom@t-online.de"),
                &["email.domain_typo"],
            ),
            ("tom@ymail.com", "tom@ymail.com", Some("tom@ymail.com"), &[]),
            ("tom@email.com", "tom@email.com", Some("tom@email.com"), &[]),
            ("tom@gmx.at", "tom@gmx.at", Some("tom@gmx.at"), &[]),
            (
                "info@bergsport-huber.example",
                "info@bergsport-huber.example",
                None,
                &["email.role_account"],
            ),
            (
                "Sales@Example.com",
                "sales@example.com",
                None,
                &["email.role_account"],
            ),
            (
                "no-reply@shop.example",
                "no-reply@shop.example",
                None,
                &["email.role_account"],
            ),
            (
                "kontakt@firma.de",
                "kontakt@firma.de",
                None,
                &["email.role_account"],
            ),
            (
                "office2@firma.at",
                "office2@firma.at",
                None,
                &["email.role_account"],
            ),
            (
                "info@gmial.com",
                "info@gmial.com",
                None,
                &["email.domain_typo", "email.role_account"],
            ),
            (
                "information.desk.anna@firma.de",
                "information.desk.anna@firma.de",
                Some("information.desk.anna@firma.de"),
                &[],
            ),
        ];
        for (raw, value, key, issues) in cases {
            let e = cleanse_email(raw);
            assert_eq!(e.value, *value, "{raw}");
            assert_eq!(e.key.as_deref(), *key, "{raw}");
            assert_eq!(e.issues, *issues, "{raw}");
        }
    }

    #[test]
    fn several_addresses_in_one_cell() {
        let cases: &[(&str, &[&str])] = &[
            ("a@x.de; b@y.de", &["a@x.de", "b@y.de"]),
            ("a@x.de,b@y.de", &["a@x.de", "b@y.de"]),
            ("a@x.de b@y.de", &["a@x.de", "b@y.de"]),
            ("Anna Schmidt <a@x.de>", &["Anna Schmidt <a@x.de>"]),
            ("a@x.de", &["a@x.de"]),
        ];
        for (raw, want) in cases {
            assert_eq!(split_addresses(raw), *want, "{raw}");
        }
    }

    #[test]
    fn typo_variants_leave_real_providers_alone() {
        let d = domains();
        for real in [
            "gmail.com",
            "ymail.com",
            "email.com",
            "gmx.de",
            "web.de",
            "mail.com",
        ] {
            assert!(!d.typos.contains_key(real), "{real}");
        }
        // So the typo lookup is skipped for a provider's domain.
        assert!(d.typo_free_providers);
    }

    #[test]
    fn ascii_checks_agree_with_the_general_rules() {
        // The ASCII fast paths against the general, character by character rules.
        let alphabet: Vec<char> = "a.-1+_@ Z!(\"x".chars().collect();
        let mut rng = crate::rng::Rng::new(0x1234_5678_9abc_def1);
        let mut cases = vec![
            String::new(),
            ".".into(),
            "a".into(),
            "a.b".into(),
            "xn--abc".into(),
            "a.xn--".into(),
            "a.xn--p1ai".into(),
            "-a.de".into(),
            "a-.de".into(),
            "a..b".into(),
            "a".repeat(64),
            "a".repeat(65),
            format!("{}.de", "a".repeat(63)),
            format!("{}.de", "a".repeat(64)),
            format!("{}.de", "a.".repeat(126)),
        ];
        for _ in 0..20_000 {
            let seed = rng.next_u64();
            let len = (seed % 9) as usize;
            let s: String = (0..len)
                .map(|i| alphabet[((seed >> (8 + 4 * i)) % alphabet.len() as u64) as usize])
                .collect();
            cases.push(s);
        }
        for c in &cases {
            assert_eq!(valid_local(c), valid_local_chars(c), "local {c:?}");
            assert_eq!(valid_domain(c), valid_domain_chars(c), "domain {c:?}");
        }
    }
}
