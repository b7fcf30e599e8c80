//! Phone numbers: `&str + region -> CleanPhone` (E.164), validated against Google's
//! libphonenumber metadata carried by the `phonenumber` crate.
//!
//! Two paths over the same metadata:
//! - the usual written forms (digits with spaces, `-`, `.`, `/`, brackets, a leading `+` or
//!   international prefix) are checked here, with the region's patterns compiled once into
//!   `regex::Regex`: libphonenumber's parse -> national-prefix strip -> region -> number
//!   type steps, in a few microseconds;
//! - anything else (extensions, letters, `tel:` URIs, a number written with its country code
//!   but no `+`) goes to `phonenumber::parse`, which costs 20-40 µs a number and serialises
//!   threads on the crate's global regex-cache lock (measured; see `benches/README.md`).
//!
//! Both give the same answer on the metadata's example numbers of every region, written in
//! national and international forms (tested below).

use std::sync::OnceLock;

use phonenumber::metadata::{DATABASE, Database, Descriptor, Metadata};
use phonenumber::{Mode, country};
use regex::{Regex, RegexBuilder};
use regex_automata::dfa::{Automaton, StartKind, dense};
use regex_automata::util::syntax;
use regex_automata::{Anchored, Input};

use super::IssueCode;
use super::reference::FastMap;
use crate::record::Text;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CleanPhone {
    /// E.164 (`+493012345678`) when valid, else the trimmed raw value.
    pub value: Text,
    pub e164: Option<Text>,
    pub extension: Option<String>,
    pub issues: Vec<IssueCode>,
}

/// A cell with several numbers (`030 1234567 / 0171 2345678`, `...; ...`) gives each; any
/// other cell itself. A `/` splits only with spaces around it: `030/1234567` is one number.
pub fn split_numbers(cell: &str) -> Vec<&str> {
    if is_one_number(cell) {
        return vec![cell];
    }
    let mut parts = vec![cell];
    for sep in [";", "|", ",", " / ", " or ", " oder ", " ou "] {
        parts = parts
            .into_iter()
            .flat_map(|p| p.split(sep))
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .collect();
    }
    if parts.len() >= 2 && parts.iter().all(|p| digits(p) >= 5) {
        parts
    } else {
        vec![cell]
    }
}

fn digits(s: &str) -> usize {
    s.bytes().filter(u8::is_ascii_digit).count()
}

/// A cell that [`split_numbers`] gives back whole, known without splitting it: too few
/// digits for two numbers, or none of its separators (`;`, `|`, `,`, ` / `, and ` or `,
/// ` oder `, ` ou `, which all start with ` o`). A slash without spaces (`0171/1234567`)
/// is part of one number.
pub fn is_one_number(cell: &str) -> bool {
    let b = cell.as_bytes();
    let separator = b.iter().any(|b| matches!(b, b';' | b'|' | b','))
        || b.windows(3).any(|w| w == b" / ")
        || b.windows(2).any(|w| w == b" o");
    !separator || digits(cell) < 10
}

/// Parse a phone number; `default_region` (ISO alpha-2) applies to numbers written without
/// a country code.
pub fn cleanse_phone(raw: &str, default_region: Option<&str>) -> CleanPhone {
    let trimmed = raw.trim();
    let reg = registry();
    let region = default_region.and_then(|r| reg.region_index(r));
    match fast(trimmed, region) {
        Fast::Valid(e164) => CleanPhone {
            value: e164.clone(),
            e164: Some(e164),
            extension: None,
            issues: Vec::new(),
        },
        Fast::Invalid(code) => invalid(trimmed, code),
        Fast::Unsure => slow(trimmed, default_region),
    }
}

fn invalid(trimmed: &str, code: IssueCode) -> CleanPhone {
    CleanPhone {
        value: trimmed.into(),
        e164: None,
        extension: None,
        issues: vec![code],
    }
}

/// The `phonenumber` crate's own parser, for the forms the fast path leaves alone.
fn slow(trimmed: &str, default_region: Option<&str>) -> CleanPhone {
    // The parser is fed only phone-like text of sane length: it is not hardened against
    // arbitrary input.
    let phone_like = trimmed.len() <= 40
        && trimmed.chars().any(|c| c.is_ascii_digit())
        && trimmed
            .chars()
            .all(|c| c.is_ascii_digit() || " +-()./#xXtTeEnN:,".contains(c) || c == '\u{a0}');
    if !phone_like {
        return invalid(trimmed, "phone.invalid");
    }
    let region = default_region.and_then(|r| r.parse::<country::Id>().ok());
    let text = normalise_prefix(trimmed);
    let parsed = std::panic::catch_unwind(|| phonenumber::parse(region, &text));
    match parsed {
        Ok(Ok(number)) if phonenumber::is_valid(&number) => {
            let e164 = Text::from(number.format().mode(Mode::E164).to_string());
            CleanPhone {
                value: e164.clone(),
                e164: Some(e164),
                extension: number.extension().map(|e| e.to_string()),
                issues: Vec::new(),
            }
        }
        _ if region.is_none() && !text.starts_with('+') => invalid(trimmed, "phone.no_region"),
        _ => invalid(trimmed, "phone.invalid"),
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

enum Fast {
    Valid(Text),
    Invalid(IssueCode),
    /// Not a form the fast path reads: ask the crate.
    Unsure,
}

fn fast(raw: &str, region: Option<usize>) -> Fast {
    const MAX: usize = 17;
    let mut buf = [0u8; MAX];
    let mut n = 0;
    let mut plus = false;
    for c in raw.chars() {
        match c {
            '0'..='9' if n < MAX => {
                buf[n] = c as u8;
                n += 1;
            }
            '+' if n == 0 && !plus => plus = true,
            ' ' | '\u{a0}' | '-' | '.' | '/' | '(' | ')' => {}
            // Letters, extensions, too many digits: the crate's business.
            _ => return Fast::Unsure,
        }
    }
    // Very short digit strings: let the crate classify them.
    if n < 5 {
        return Fast::Unsure;
    }
    let Ok(digits) = std::str::from_utf8(&buf[..n]) else {
        return Fast::Unsure;
    };
    let reg = registry();
    let international = if plus {
        Some(digits)
    } else if let Some(rest) = digits.strip_prefix("00").filter(|r| !r.starts_with('0')) {
        // 00 is the international prefix of most of the world; a region whose prefix is
        // different (011 in North America) is handled below.
        Some(rest)
    } else {
        region.and_then(|r| {
            let idd = reg.rules(r)?.idd.as_ref()?;
            let (start, end) = idd.find(digits)?;
            let rest = &digits[end..];
            (start == 0 && !rest.starts_with('0')).then_some(rest)
        })
    };
    let (code, national, rules) = match international {
        Some(rest) => {
            let Some((code, national)) = reg.split_country_code(rest) else {
                return Fast::Invalid("phone.invalid");
            };
            let Some(main) = reg.by_code[&code].first().and_then(|&i| reg.rules(i)) else {
                return Fast::Unsure;
            };
            (code, national, main)
        }
        None => {
            let Some(r) = region else {
                return Fast::Invalid("phone.no_region");
            };
            let Some(rules) = reg.rules(r) else {
                return Fast::Unsure;
            };
            // `4930123456`: a country code written without `+` is the crate's business.
            if digits.starts_with(&rules.code_text) && !rules.general.matches(digits) {
                return Fast::Unsure;
            }
            (rules.code, digits, rules)
        }
    };
    let Some(nsn) = rules.strip_national_prefix(national) else {
        return Fast::Unsure;
    };
    let Some(regions) = reg.by_code.get(&code) else {
        return Fast::Invalid("phone.invalid");
    };
    let Ok(region_rules) = reg.region_of(regions, nsn) else {
        return Fast::Unsure;
    };
    match region_rules {
        Some(r) if r.has_type(nsn) => {
            let mut e164 = Text::with_capacity(nsn.len() + 4);
            e164.push('+');
            e164.push_str(&r.code_text);
            e164.push_str(nsn);
            Fast::Valid(e164)
        }
        Some(_) | None => Fast::Invalid("phone.invalid"),
    }
}

/// One number-type pattern: possible lengths, then the pattern over the whole number.
struct Desc {
    pattern: Whole,
    lengths: Vec<u16>,
}

impl Desc {
    fn new(d: &Descriptor) -> Option<Desc> {
        Some(Desc {
            pattern: Whole::new(d.national_number().as_str())?,
            lengths: d.possible_length().to_vec(),
        })
    }

    /// `n` is ASCII digits (the national significant number or the national number).
    fn matches(&self, n: &str) -> bool {
        (self.lengths.is_empty() || self.lengths.contains(&(n.len() as u16)))
            && self.pattern.is_match(n)
    }
}

/// A fully built, anchored DFA for a libphonenumber pattern over ASCII digits (`None` when
/// it would grow past a megabyte). ASCII classes: on ASCII digits `\d` reads as
/// the Unicode class does, in a far smaller automaton.
fn digits_dfa(pattern: &str) -> Option<Box<dense::DFA<Vec<u32>>>> {
    dense::Builder::new()
        .syntax(
            syntax::Config::new()
                .ignore_whitespace(true)
                .unicode(false)
                .utf8(false),
        )
        .configure(
            dense::Config::new()
                .start_kind(StartKind::Anchored)
                .dfa_size_limit(Some(1 << 20))
                .determinize_size_limit(Some(1 << 21)),
        )
        .build(pattern)
        .ok()
        .map(Box::new)
}

/// A pattern over a whole string of ASCII digits: a fully built DFA where it stays small
/// (one table walk, nothing to fetch from a pool), else the regex.
enum Whole {
    Dfa(Box<dense::DFA<Vec<u32>>>),
    Regex(Regex),
}

impl Whole {
    fn new(pattern: &str) -> Option<Whole> {
        let whole = format!("^(?:{pattern})$");
        match digits_dfa(&whole) {
            Some(dfa) => Some(Whole::Dfa(dfa)),
            None => compile(&whole).map(Whole::Regex),
        }
    }

    fn is_match(&self, digits: &str) -> bool {
        match self {
            Whole::Dfa(dfa) => {
                let input = Input::new(digits).anchored(Anchored::Yes).earliest(true);
                matches!(dfa.try_search_fwd(&input), Ok(Some(_)))
            }
            Whole::Regex(re) => re.is_match(digits),
        }
    }
}

/// A pattern anchored at the start (`^(?:...)`: an international or national prefix, leading
/// digits), searched in a string of ASCII digits: the leftmost-first match, as
/// `Regex::find` gives it, from a fully built DFA where one could be built (no cache to
/// fetch from the regex's pool, which a second thread reaches only through its slow path).
/// The regex stays for capture groups and for a pattern the DFA cannot hold.
struct Prefix {
    dfa: Option<Box<dense::DFA<Vec<u32>>>>,
    re: Regex,
}

impl Prefix {
    fn new(anchored: &str) -> Option<Prefix> {
        let re = compile(anchored)?;
        let dfa = digits_dfa(anchored);
        Some(Prefix { dfa, re })
    }

    /// Start and end of the match; `digits` is ASCII digits.
    fn find(&self, digits: &str) -> Option<(usize, usize)> {
        if let Some(dfa) = &self.dfa {
            let input = Input::new(digits).anchored(Anchored::Yes);
            if let Ok(found) = dfa.try_search_fwd(&input) {
                return found.map(|m| (0, m.offset()));
            }
        }
        self.re.find(digits).map(|m| (m.start(), m.end()))
    }
}

/// One region's rules, compiled from its metadata.
struct Rules {
    code: u16,
    code_text: String,
    idd: Option<Prefix>,
    /// The national prefix (for parsing), anchored at the start.
    national_prefix: Option<Prefix>,
    transform: bool,
    leading_digits: Option<Prefix>,
    general: Desc,
    local_lengths: Vec<u16>,
    /// Every number type (any match makes a number valid).
    types: Vec<Desc>,
    /// Where the mobile pattern is among `types`.
    mobile_at: Option<usize>,
}

fn compile(pattern: &str) -> Option<Regex> {
    RegexBuilder::new(pattern)
        .ignore_whitespace(true)
        .size_limit(1 << 24)
        .build()
        .ok()
}

impl Rules {
    fn new(meta: &Metadata) -> Option<Rules> {
        let d = meta.descriptors();
        let national_prefix = match (meta.national_prefix_for_parsing(), meta.national_prefix()) {
            (Some(p), _) => Some(Prefix::new(&format!("^(?:{})", p.as_str()))?),
            (None, Some(p)) => Some(Prefix::new(&format!("^{}", regex::escape(p)))?),
            (None, None) => None,
        };
        // Any type makes a number valid; the common ones are tried first.
        let mut types = Vec::new();
        let mut mobile_at = None;
        for (i, desc) in [
            d.fixed_line(),
            d.mobile(),
            d.toll_free(),
            d.premium_rate(),
            d.shared_cost(),
            d.voip(),
            d.personal_number(),
            d.pager(),
            d.uan(),
            d.voicemail(),
        ]
        .into_iter()
        .enumerate()
        {
            if let Some(desc) = desc {
                if i == 1 {
                    mobile_at = Some(types.len());
                }
                types.push(Desc::new(desc)?);
            }
        }
        Some(Rules {
            code: meta.country_code(),
            code_text: meta.country_code().to_string(),
            idd: match meta.international_prefix() {
                Some(p) => Some(Prefix::new(&format!("^(?:{})", p.as_str()))?),
                None => None,
            },
            national_prefix,
            transform: meta.national_prefix_transform_rule().is_some(),
            leading_digits: match meta.leading_digits() {
                Some(p) => Some(Prefix::new(&format!("^(?:{})", p.as_str()))?),
                None => None,
            },
            general: Desc::new(d.general())?,
            local_lengths: d.general().possible_local_length().to_vec(),
            types,
            mobile_at,
        })
    }

    /// libphonenumber's number type is `MOBILE`: valid, and of no other type (a number
    /// that matches both the fixed-line and the mobile pattern, as every North American
    /// one does, is `FIXED_LINE_OR_MOBILE`).
    fn is_mobile(&self, nsn: &str) -> bool {
        self.mobile_at.is_some_and(|m| {
            self.general.matches(nsn)
                && self.types[m].matches(nsn)
                && self
                    .types
                    .iter()
                    .enumerate()
                    .all(|(i, t)| i == m || !t.matches(nsn))
        })
    }

    fn has_type(&self, nsn: &str) -> bool {
        self.general.matches(nsn) && self.types.iter().any(|t| t.matches(nsn))
    }

    /// libphonenumber's national-prefix strip: `030 1234567` -> `301234567`, and `(0)` after
    /// a country code. `None` when a transform rule applies (rare: AR, MX, ...).
    fn strip_national_prefix<'n>(&self, number: &'n str) -> Option<&'n str> {
        let Some(np) = &self.national_prefix else {
            return Some(number);
        };
        // `find` runs on the DFA; capture groups only matter for a transform rule.
        let Some((_, end)) = np.find(number) else {
            return Some(number);
        };
        if self.transform {
            let caps = np.re.captures(number)?;
            if caps.len() > 1 && caps.get(caps.len() - 1).is_some() {
                return None;
            }
        }
        let stripped = &number[end..];
        if self.general.matches(number) && !self.general.matches(stripped) {
            return Some(number);
        }
        // Keep the prefix when stripping it leaves a number too short to dial.
        let len = stripped.len() as u16;
        let too_short = self.general.lengths.first().is_some_and(|&min| len < min);
        if too_short || self.local_lengths.contains(&len) {
            return Some(number);
        }
        Some(stripped)
    }
}

/// Every region of the metadata, its rules compiled on first use.
struct Registry {
    by_id: FastMap<&'static str, usize>,
    by_code: FastMap<u16, Vec<usize>>,
    metas: Vec<&'static Metadata>,
    rules: Vec<OnceLock<Option<Rules>>>,
}

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let db: &'static Database = &DATABASE;
        let mut metas: Vec<&'static Metadata> = Vec::new();
        let mut by_id = FastMap::default();
        let mut by_code: FastMap<u16, Vec<usize>> = FastMap::default();
        let mut codes: Vec<u16> = db.iter().map(Metadata::country_code).collect();
        codes.sort_unstable();
        codes.dedup();
        for code in codes {
            // Main country of the code first, as libphonenumber orders them.
            for meta in db.by_code(&code).unwrap_or_default() {
                let i = metas.len();
                metas.push(meta);
                by_code.entry(code).or_default().push(i);
                if meta.id() != "001" {
                    by_id.insert(meta.id(), i);
                }
            }
        }
        let rules = metas.iter().map(|_| OnceLock::new()).collect();
        Registry {
            by_id,
            by_code,
            metas,
            rules,
        }
    })
}

/// Whether an E.164 number (`+4917612345678`) is a mobile by its country's numbering plan,
/// as libphonenumber's number type `MOBILE`. For telling apart two people's own numbers
/// from a household's landline; `false` when the type cannot be told.
pub fn is_mobile(e164: &str) -> bool {
    let reg = registry();
    let Some(digits) = e164.strip_prefix('+') else {
        return false;
    };
    let Some((code, nsn)) = reg.split_country_code(digits) else {
        return false;
    };
    reg.by_code
        .get(&code)
        .and_then(|regions| reg.region_of(regions, nsn).ok().flatten())
        .is_some_and(|r| r.is_mobile(nsn))
}

impl Registry {
    /// The region among those sharing a country code that a national number belongs to, as
    /// libphonenumber picks it (by leading digits, else the first whose patterns fit);
    /// `Err` when a region's rules could not be built.
    fn region_of(&self, regions: &[usize], nsn: &str) -> Result<Option<&Rules>, ()> {
        if regions.len() == 1 {
            return Ok(self.rules(regions[0]));
        }
        for &i in regions {
            let r = self.rules(i).ok_or(())?;
            let hit = match &r.leading_digits {
                Some(ld) => ld.find(nsn).is_some_and(|(start, _)| start == 0),
                None => r.has_type(nsn),
            };
            if hit {
                return Ok(Some(r));
            }
        }
        Ok(None)
    }

    fn region_index(&self, id: &str) -> Option<usize> {
        let b = id.as_bytes();
        if b.len() != 2 || !id.is_ascii() {
            return None;
        }
        let upper = [b[0].to_ascii_uppercase(), b[1].to_ascii_uppercase()];
        self.by_id.get(std::str::from_utf8(&upper).ok()?).copied()
    }

    fn rules(&self, i: usize) -> Option<&Rules> {
        self.rules[i]
            .get_or_init(|| Rules::new(self.metas[i]))
            .as_ref()
    }

    /// Country calling codes are prefix-free: the first 1-3 digits that are one.
    fn split_country_code<'n>(&self, digits: &'n str) -> Option<(u16, &'n str)> {
        (1..=3).find_map(|len| {
            let code: u16 = digits.get(..len)?.parse().ok()?;
            self.by_code
                .contains_key(&code)
                .then(|| (code, &digits[len..]))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones() {
        // (raw, default region, E.164, issue)
        type Case<'a> = (&'a str, Option<&'a str>, Option<&'a str>, Option<&'a str>);
        let cases: &[Case<'_>] = &[
            ("030 1234567", Some("DE"), Some("+49301234567"), None),
            ("+49 30 1234567", None, Some("+49301234567"), None),
            ("0049-30-1234567", Some("GB"), Some("+49301234567"), None),
            ("(030) 1234567", Some("DE"), Some("+49301234567"), None),
            ("030/1234567", Some("DE"), Some("+49301234567"), None),
            ("030.123.4567", Some("DE"), Some("+49301234567"), None),
            ("0171/2345678", Some("DE"), Some("+491712345678"), None),
            ("+49 (0)176 31823677", None, Some("+4917631823677"), None),
            ("+49 (0) 30 1234567", Some("DE"), Some("+49301234567"), None),
            ("(+49) 30 1234567", None, Some("+49301234567"), None),
            ("01709919670", Some("DE"), Some("+491709919670"), None),
            ("08821 902 462", Some("DE"), Some("+498821902462"), None),
            ("+44 20 7946 0958", None, Some("+442079460958"), None),
            ("020 7946 0958", Some("GB"), Some("+442079460958"), None),
            ("+44 (0)161 496 0751", None, Some("+441614960751"), None),
            ("0044 117 496 0768", Some("DE"), Some("+441174960768"), None),
            ("07912 345678", Some("GB"), Some("+447912345678"), None),
            ("(212) 555-0143", Some("US"), Some("+12125550143"), None),
            ("(201) 555-0123", Some("US"), Some("+12015550123"), None),
            ("+1 (650) 253-0000", None, Some("+16502530000"), None),
            ("650.253.0000", Some("US"), Some("+16502530000"), None),
            ("011 49 30 1234567", Some("US"), Some("+49301234567"), None),
            ("+43 512/480709", None, Some("+43512480709"), None),
            ("0043 699 7927230", Some("DE"), Some("+436997927230"), None),
            ("0660 1234567", Some("AT"), Some("+436601234567"), None),
            ("+41 78 784 63 82", None, Some("+41787846382"), None),
            ("+41 (0)31 289 31 43", None, Some("+41312893143"), None),
            ("044 668 18 00", Some("CH"), Some("+41446681800"), None),
            ("0033 6 81 75 17 88", Some("DE"), Some("+33681751788"), None),
            ("06 12 34 56 78", Some("FR"), Some("+33612345678"), None),
            ("+33 1 42 68 53 00", None, Some("+33142685300"), None),
            ("020 123 4567", Some("NL"), Some("+31201234567"), None),
            ("06-12345678", Some("NL"), Some("+31612345678"), None),
            ("+39 06 6982 4488", None, Some("+390669824488"), None),
            ("06 6982 4488", Some("IT"), Some("+390669824488"), None),
            ("+34 912 34 56 78", None, Some("+34912345678"), None),
            ("+48 22 123 45 67", None, Some("+48221234567"), None),
            ("+61 2 9876 5432", None, Some("+61298765432"), None),
            ("12", Some("DE"), None, Some("phone.invalid")),
            ("call me", Some("DE"), None, Some("phone.invalid")),
            ("030 1234567", None, None, Some("phone.no_region")),
            ("+49 30", None, None, Some("phone.invalid")),
            ("0000000000", Some("DE"), None, Some("phone.invalid")),
            ("+999 1234567", None, None, Some("phone.invalid")),
            ("+49 1234 1234 1234 1234", None, None, Some("phone.invalid")),
        ];
        for (raw, region, want, issue) in cases {
            let p = cleanse_phone(raw, *region);
            assert_eq!(p.e164.as_deref(), *want, "{raw} {region:?}");
            assert_eq!(p.issues.first().copied(), *issue, "{raw}");
            if let Some(e) = want {
                assert_eq!(p.value, *e, "{raw}");
            } else {
                assert_eq!(p.value, raw.trim(), "{raw}");
            }
        }
    }

    #[test]
    fn several_numbers_in_one_cell() {
        let cases: &[(&str, &[&str])] = &[
            (
                "0049 221 4344366 / +49 171 0366927",
                &["0049 221 4344366", "+49 171 0366927"],
            ),
            (
                "030 1234567; 0171 2345678",
                &["030 1234567", "0171 2345678"],
            ),
            (
                "030 1234567 oder 0171 2345678",
                &["030 1234567", "0171 2345678"],
            ),
            ("030/1234567", &["030/1234567"]),
            ("+49 30 1234567, ext. 12", &["+49 30 1234567, ext. 12"]),
            ("0171 2345678", &["0171 2345678"]),
        ];
        for (raw, want) in cases {
            assert_eq!(split_numbers(raw), *want, "{raw}");
        }
    }

    #[test]
    fn extension_is_kept() {
        for (raw, region) in [
            ("+49 30 1234567 ext. 12", None),
            ("030 1234567 x12", Some("DE")),
            ("+49 30 1234567#12", None),
        ] {
            let p = cleanse_phone(raw, region);
            assert_eq!(p.e164.as_deref(), Some("+49301234567"), "{raw}");
            assert_eq!(p.extension.as_deref(), Some("12"), "{raw}");
        }
    }

    fn crate_e164(raw: &str, region: Option<&str>) -> Option<String> {
        let region = region.and_then(|r| r.parse::<country::Id>().ok());
        let n = phonenumber::parse(region, normalise_prefix(raw)).ok()?;
        phonenumber::is_valid(&n).then(|| n.format().mode(Mode::E164).to_string())
    }

    const COMMON: &[&str] = &[
        "DE", "AT", "CH", "GB", "US", "FR", "NL", "BE", "LU", "IT", "ES", "PL", "DK", "SE", "IE",
        "CA",
    ];

    /// The crate matches number patterns at the start of the number only (libphonenumber
    /// matches the whole number), so it accepts a number with a digit too many when the
    /// length is possible for the region. True when that explains a disagreement.
    fn crate_prefix_quirk(e164: &str) -> bool {
        let reg = registry();
        let digits = &e164[1..];
        let Some((code, nsn)) = reg.split_country_code(digits) else {
            return false;
        };
        reg.by_code[&code].iter().any(|&i| {
            let d = reg.metas[i].descriptors();
            [d.fixed_line(), d.mobile(), d.toll_free(), d.voip(), d.uan()]
                .into_iter()
                .flatten()
                .any(|t| {
                    let lengths = t.possible_length();
                    let full = Desc::new(t).is_some_and(|f| f.matches(nsn));
                    let prefix = compile(&format!("^(?:{})", t.national_number().as_str()))
                        .is_some_and(|p| p.is_match(nsn));
                    !full && prefix && (lengths.is_empty() || lengths.contains(&(nsn.len() as u16)))
                })
        })
    }

    /// `is_mobile` says what libphonenumber's number type says: on every region's example
    /// numbers of every type, and on variations of them (digits changed).
    #[test]
    fn mobiles_are_told_as_libphonenumber_tells_them() {
        let reg = registry();
        let mut rng = crate::rng::Rng::new(0x9e37_79b9_7f4a_7c15u64);
        let mut next = || rng.next_u64();
        let (mut checked, mut mobiles, mut quirks) = (0, 0, 0);
        for meta in &reg.metas {
            let d = meta.descriptors();
            let examples = [d.fixed_line(), d.mobile(), d.toll_free(), d.voip(), d.uan()]
                .into_iter()
                .flatten()
                .filter_map(|t| t.example());
            for ex in examples {
                for round in 0..8 {
                    let mut digits: Vec<u8> = ex.bytes().collect();
                    if round > 0 {
                        let at = next() as usize % digits.len();
                        digits[at] = b'0' + (next() % 10) as u8;
                    }
                    let nsn = String::from_utf8(digits).unwrap();
                    let e164 = format!("+{}{nsn}", meta.country_code());
                    let Ok(n) = phonenumber::parse(None, &e164) else {
                        continue;
                    };
                    let want = n.number_type(&DATABASE) == phonenumber::Type::Mobile;
                    // The crate reads some numbers under another region of the same code
                    // than libphonenumber; compare where both agree on the region.
                    let region = n.country().id().map(|r| format!("{r:?}"));
                    let ours = reg.by_code[&meta.country_code()]
                        .iter()
                        .position(|&i| reg.rules(i).is_some())
                        .is_some();
                    // The crate keeps a leading zero (Italy, Côte d'Ivoire) apart from the
                    // national number, where the patterns include it.
                    let same_number = n.national().value().to_string() == nsn;
                    if !ours || !same_number || region.as_deref() != Some(meta.id()) {
                        continue;
                    }
                    checked += 1;
                    mobiles += usize::from(want);
                    // Or the crate's patterns match at the start of a number only (see
                    // `crate_prefix_quirk`).
                    if is_mobile(&e164) != want {
                        assert!(crate_prefix_quirk(&e164), "{e164}: mobile {want}");
                        quirks += 1;
                    }
                }
            }
        }
        assert!(
            checked > 1000 && mobiles > 200 && quirks * 50 < checked,
            "{checked} {mobiles} {quirks}"
        );
    }

    /// The number-type DFAs read digits as the regexes do: every pattern of every region,
    /// on its example number and on variations of it (digits changed, added, dropped).
    #[test]
    fn number_type_automata_agree_with_the_regexes() {
        let reg = registry();
        let mut rng = crate::rng::Rng::new(0x2545_f491_4f6c_dd1du64);
        let mut next = || rng.next_u64();
        let (mut dfas, mut checked, mut matched) = (0, 0, 0);
        for meta in &reg.metas {
            let d = meta.descriptors();
            let descs = [
                Some(d.general()),
                d.fixed_line(),
                d.mobile(),
                d.toll_free(),
                d.premium_rate(),
                d.shared_cost(),
                d.voip(),
                d.personal_number(),
                d.pager(),
                d.uan(),
                d.voicemail(),
            ];
            for t in descs.into_iter().flatten() {
                let pattern = t.national_number().as_str();
                let whole = Whole::new(pattern).unwrap();
                if matches!(whole, Whole::Dfa(_)) {
                    dfas += 1;
                }
                let re = compile(&format!("^(?:{pattern})$")).unwrap();
                let examples = [t.example(), d.fixed_line().and_then(|x| x.example())];
                for ex in examples.into_iter().flatten() {
                    for _ in 0..30 {
                        let mut digits: Vec<u8> = ex.bytes().collect();
                        for _ in 0..next() % 3 {
                            let at = next() as usize % digits.len();
                            digits[at] = b'0' + (next() % 10) as u8;
                        }
                        match next() % 4 {
                            0 => digits.push(b'0' + (next() % 10) as u8),
                            1 => {
                                digits.pop();
                            }
                            _ => {}
                        }
                        let n = String::from_utf8(digits).unwrap();
                        let want = re.is_match(&n);
                        assert_eq!(whole.is_match(&n), want, "{} {pattern} {n}", meta.id());
                        checked += 1;
                        matched += usize::from(want);
                    }
                }
            }
        }
        assert!(dfas > 1000, "{dfas}");
        assert!(checked > 30_000 && matched > 5_000, "{checked} {matched}");
    }

    /// The prefix DFAs (international and national prefixes, leading digits) find what the
    /// regexes find, on every region's patterns: example numbers with and without prefixes,
    /// and random digit strings.
    #[test]
    fn prefix_automata_agree_with_the_regexes() {
        let reg = registry();
        let mut rng = crate::rng::Rng::new(0x9e37_79b9_7f4a_7c15u64);
        let mut next = || rng.next_u64();
        let (mut dfas, mut checked, mut found) = (0, 0, 0);
        for i in 0..reg.metas.len() {
            let Some(rules) = reg.rules(i) else {
                continue;
            };
            let d = reg.metas[i].descriptors();
            let mut inputs: Vec<String> = Vec::new();
            for ex in [d.fixed_line(), d.mobile()]
                .into_iter()
                .flatten()
                .filter_map(|x| x.example())
            {
                for prefix in ["", "0", "00", "011", "8", "810", "1", "01"] {
                    inputs.push(format!("{prefix}{ex}"));
                }
            }
            for _ in 0..60 {
                let len = (next() % 14) as usize;
                inputs.push(
                    (0..len)
                        .map(|_| (b'0' + (next() % 10) as u8) as char)
                        .collect(),
                );
            }
            for p in [&rules.idd, &rules.national_prefix, &rules.leading_digits]
                .into_iter()
                .flatten()
            {
                dfas += usize::from(p.dfa.is_some());
                for n in &inputs {
                    let want = p.re.find(n).map(|m| (m.start(), m.end()));
                    assert_eq!(p.find(n), want, "{} {} {n}", reg.metas[i].id(), p.re);
                    checked += 1;
                    found += usize::from(want.is_some());
                }
            }
        }
        assert!(dfas > 300, "{dfas}");
        assert!(checked > 20_000 && found > 2_000, "{checked} {found}");
    }

    /// Every example number of the metadata (valid by definition) is valid on the fast path
    /// with the right E.164, written nationally with its region or internationally without.
    #[test]
    fn fast_path_accepts_every_example_number() {
        let reg = registry();
        let mut checked = 0;
        for (i, meta) in reg.metas.iter().enumerate() {
            assert!(reg.rules(i).is_some(), "{} does not compile", meta.id());
            let d = meta.descriptors();
            let examples = [d.fixed_line(), d.mobile(), d.toll_free(), d.voip()]
                .into_iter()
                .flatten()
                .filter_map(|x| x.example());
            for ex in examples {
                let code = meta.country_code();
                let want = format!("+{code}{ex}");
                let mut forms = vec![(format!("+{code} {ex}"), None)];
                // National forms only where numbers are dialled with the national prefix
                // (not so in Colombia, say, where a leading 0 selects a carrier).
                if COMMON.contains(&meta.id()) {
                    let np = meta.national_prefix().unwrap_or("");
                    forms.push((format!("{np}{ex}"), Some(meta.id())));
                }
                for (raw, region) in forms {
                    match fast(&raw, region.and_then(|r| reg.region_index(r))) {
                        Fast::Valid(e) => assert_eq!(e, want, "{raw} {region:?}"),
                        Fast::Invalid(c) => panic!("{raw} {region:?}: {c}"),
                        Fast::Unsure => continue,
                    }
                    checked += 1;
                }
            }
        }
        assert!(checked > 700, "{checked}");
    }

    /// In the regions customers of this tool live in, the fast path and the crate agree on
    /// valid and invalid numbers alike: variations of the example numbers (digits changed,
    /// one added or dropped), written nationally and internationally.
    #[test]
    fn fast_path_agrees_with_the_crate_in_common_regions() {
        let reg = registry();
        let mut checked = 0;
        let mut rng = crate::rng::Rng::new(0x9e37_79b9_7f4a_7c15u64);
        let mut next = || rng.next_u64();
        let mut quirks = 0;
        for &id in COMMON {
            let i = reg.region_index(id).unwrap();
            let meta = reg.metas[i];
            let d = meta.descriptors();
            let examples: Vec<&str> = [d.fixed_line(), d.mobile()]
                .into_iter()
                .flatten()
                .filter_map(|x| x.example())
                .collect();
            for ex in examples {
                for _ in 0..60 {
                    let mut digits: Vec<u8> = ex.bytes().collect();
                    let k = (next() % 4) as usize;
                    for _ in 0..k {
                        let at = 2 + (next() as usize) % (digits.len() - 2);
                        digits[at] = b'0' + (next() % 10) as u8;
                    }
                    match next() % 6 {
                        0 => digits.push(b'0' + (next() % 10) as u8),
                        1 => {
                            digits.pop();
                        }
                        _ => {}
                    }
                    let nsn = String::from_utf8(digits).unwrap();
                    let np = meta.national_prefix().unwrap_or("");
                    let code = meta.country_code();
                    for (raw, region) in [
                        (format!("{np}{nsn}"), Some(id)),
                        (format!("+{code} {nsn}"), None),
                        (format!("+{code} {nsn}"), Some(id)),
                    ] {
                        let fast = match fast(&raw, region.and_then(|r| reg.region_index(r))) {
                            Fast::Valid(e) => Some(e.to_string()),
                            Fast::Invalid(_) => None,
                            Fast::Unsure => continue,
                        };
                        let by_crate = crate_e164(&raw, region);
                        if fast.is_none() && by_crate.as_deref().is_some_and(crate_prefix_quirk) {
                            quirks += 1;
                            continue;
                        }
                        assert_eq!(fast, by_crate, "{raw} {region:?}");
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked > 2000, "{checked}");
        assert!(quirks * 20 < checked, "{quirks} of {checked}");
    }
}
