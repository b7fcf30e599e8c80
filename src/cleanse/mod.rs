//! Cleanse: `SourceRecord -> Customer`.
//!
//! Standardises every mapped value for display and derives the keys matching uses. A value
//! that fails cleansing is kept as given, flagged with an issue code and not used for
//! matching; the record is still loaded.

pub mod address;
pub mod date;
pub mod email;
pub mod empty;
pub mod memo;
pub mod name;
pub mod phone;
#[cfg(test)]
mod properties;
mod reference;
pub mod text;

use std::fmt;

use chrono::NaiveDate;
use rayon::prelude::*;

use crate::mapping::Mapping;
use crate::record::{Customer, Field, Issue, SourceRecord, Text, Value};

use date::DateFormat;
use memo::Cache;

/// Stable dotted code of a cleansing problem, such as `email.invalid`.
pub type IssueCode = &'static str;

/// What cleansing needs to know about one source, and what it remembers during a run.
pub struct CleanseContext<'a> {
    pub mapping: &'a Mapping,
    /// Birth dates after this day are flagged.
    pub today: NaiveDate,
    /// The mapping's date formats, parsed once: birth date, created, updated.
    formats: [Option<DateFormat>; 3],
    /// The memo's context for birth dates: what reading one depends on (the format, the
    /// day), so that sources reading them differently can share a memo.
    birth_date_context: u64,
    /// Shared by the sources of one run (see [`CleanseContext::sharing_memo`]).
    memo: Option<std::sync::Arc<Memo>>,
}

impl fmt::Debug for CleanseContext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CleanseContext")
            .field("mapping", &self.mapping.path)
            .field("today", &self.today)
            .field("memo", &self.memo.is_some())
            .finish()
    }
}

/// A full name parsed once, with the keys of its parts.
#[derive(Clone, Default)]
struct ParsedName {
    title: Option<Text>,
    given: Option<Text>,
    middle: Option<Text>,
    family: Option<Text>,
    suffix: Option<Text>,
    issues: Vec<IssueCode>,
}

impl ParsedName {
    fn parse(raw: &str, order: name::NameOrder) -> ParsedName {
        let (name, issues) = name::parse_full_name(raw, order);
        let t = |s: Option<String>| s.map(Text::from);
        ParsedName {
            title: t(name.title),
            given: t(name.given),
            middle: t(name.middle),
            family: t(name.family),
            suffix: t(name.suffix),
            issues,
        }
    }
}

/// A postcode as the memo keeps it.
#[derive(Clone)]
struct CleanPostcode {
    display: Text,
    key: Text,
    country: Option<&'static str>,
    issues: Vec<IssueCode>,
}

fn parse_postcode(raw: &str, country: Option<&str>) -> Result<CleanPostcode, IssueCode> {
    address::parse_postcode(raw, country).map(|p| CleanPostcode {
        display: p.display.into(),
        key: p.key.into(),
        country: p.country,
        issues: p.issues,
    })
}

/// A display form and a match key.
type Pair = (Text, Text);

/// Cleansed values of one run, per field (see [`memo`]).
struct Memo {
    country: Cache<Option<&'static str>>,
    postcode: Cache<Result<CleanPostcode, IssueCode>>,
    full_name: Cache<ParsedName>,
    given: Cache<(Text, Option<Text>)>,
    family: Cache<(Text, Option<Text>)>,
    name_key: Cache<Text>,
    street: Cache<Pair>,
    city: Cache<Pair>,
    birth_date: Cache<Result<NaiveDate, IssueCode>>,
    company: Cache<Pair>,
}

impl Memo {
    fn new() -> Memo {
        const NAMES: usize = 1 << 17;
        Memo {
            country: Cache::new(1 << 12),
            postcode: Cache::new(1 << 16),
            full_name: Cache::new(NAMES),
            given: Cache::new(1 << 15),
            family: Cache::new(1 << 15),
            name_key: Cache::new(NAMES),
            street: Cache::new(1 << 16),
            city: Cache::new(1 << 15),
            birth_date: Cache::new(1 << 16),
            company: Cache::new(1 << 15),
        }
    }
}

/// Through the memo when there is one.
fn memo<V: Clone>(cache: Option<&Cache<V>>, context: u64, raw: &str, f: impl FnOnce() -> V) -> V {
    match cache {
        Some(c) => c.get_or_insert_with(context, raw, f),
        None => f(),
    }
}

impl<'a> CleanseContext<'a> {
    /// A context for one run over one source, with a memo of repeated values.
    pub fn new(mapping: &'a Mapping, today: NaiveDate) -> Self {
        CleanseContext {
            memo: Some(std::sync::Arc::new(Memo::new())),
            ..Self::without_memo(mapping, today)
        }
    }

    /// A context for another source of the same run, remembering into `other`'s memo:
    /// the sources of one company share their countries, cities, streets and names. What
    /// a source reads its own way (full names in its name order, birth dates in its
    /// format) is remembered under a context of that reading.
    pub fn sharing_memo(mapping: &'a Mapping, today: NaiveDate, other: &Self) -> Self {
        CleanseContext {
            memo: other.memo.clone(),
            ..Self::without_memo(mapping, today)
        }
    }

    /// A context that cleanses every value afresh (for measuring the memo).
    pub fn without_memo(mapping: &'a Mapping, today: NaiveDate) -> Self {
        let format = |field: Field| {
            mapping
                .field(field)
                .and_then(|f| f.format.as_deref())
                .or(mapping
                    .date_format
                    .as_deref()
                    .filter(|_| field == Field::BirthDate))
                .map(DateFormat::new)
        };
        let birth_date_format = mapping
            .field(Field::BirthDate)
            .and_then(|f| f.format.as_deref())
            .or(mapping.date_format.as_deref());
        CleanseContext {
            mapping,
            today,
            birth_date_context: memo::context(Some(&format!(
                "{today} {}",
                birth_date_format.unwrap_or_default()
            ))),
            formats: [
                format(Field::BirthDate),
                format(Field::CreatedAt),
                format(Field::UpdatedAt),
            ],
            memo: None,
        }
    }

    fn format(&self, field: Field) -> Option<&DateFormat> {
        match field {
            Field::BirthDate => self.formats[0].as_ref(),
            Field::CreatedAt => self.formats[1].as_ref(),
            Field::UpdatedAt => self.formats[2].as_ref(),
            _ => None,
        }
    }

    fn cache<V>(&self, pick: impl FnOnce(&Memo) -> &Cache<V>) -> Option<&Cache<V>> {
        self.memo.as_deref().map(pick)
    }
}

/// `YYYY-MM-DD`, written directly: chrono's `format` re-parses its pattern on every call.
fn iso_date(d: NaiveDate) -> Text {
    use chrono::Datelike;
    let (y, m, day) = (d.year(), d.month(), d.day());
    if !(0..=9999).contains(&y) {
        return d.to_string().into();
    }
    let digit = |n: u32| b'0' + (n % 10) as u8;
    let y = y as u32;
    let bytes = [
        digit(y / 1000),
        digit(y / 100),
        digit(y / 10),
        digit(y),
        b'-',
        digit(m / 10),
        digit(m),
        b'-',
        digit(day / 10),
        digit(day),
    ];
    Text::from_utf8(&bytes[..]).unwrap_or_default()
}

/// Fields whose values cleansing validates; profiling reports a validity rate for them.
pub fn is_validated(field: Field) -> bool {
    matches!(
        field,
        Field::FullName
            | Field::Email
            | Field::Phone
            | Field::Postcode
            | Field::Country
            | Field::BirthDate
            | Field::CreatedAt
            | Field::UpdatedAt
            | Field::MarketingConsent
    )
}

/// The issue codes cleansing raises for one value of a validated field, as [`cleanse`]
/// would (`None` for fields without validation). `country` is the record's country
/// (ISO alpha-2), which postcodes and phones are read against.
pub fn validate(
    field: Field,
    raw: &str,
    country: Option<&str>,
    ctx: &CleanseContext<'_>,
) -> Option<Vec<IssueCode>> {
    let issues = match field {
        Field::FullName => {
            let order = ctx
                .mapping
                .field(Field::FullName)
                .map(|f| f.order)
                .unwrap_or_default();
            memo(ctx.cache(|m| &m.full_name), order as u64, raw, || {
                ParsedName::parse(raw, order)
            })
            .issues
        }
        Field::Email => email::split_addresses(raw)
            .into_iter()
            .flat_map(|a| email::cleanse_email(a).issues)
            .collect(),
        Field::Phone => {
            let region = country.or(ctx.mapping.phone_region.as_deref());
            phone::split_numbers(raw)
                .into_iter()
                .flat_map(|n| phone::cleanse_phone(n, region).issues)
                .collect()
        }
        Field::Postcode => {
            let parsed = memo(
                ctx.cache(|m| &m.postcode),
                memo::context(country),
                raw,
                || parse_postcode(raw, country),
            );
            match parsed {
                Ok(p) => p.issues,
                Err(code) => vec![code],
            }
        }
        Field::Country => {
            let code = memo(ctx.cache(|m| &m.country), 0, raw, || {
                address::country_code(raw)
            });
            if code.is_some() {
                Vec::new()
            } else {
                vec!["country.unknown"]
            }
        }
        Field::BirthDate => match birth_date(raw, ctx) {
            Ok(d) => date::check_birth_date(d, ctx.today).into_iter().collect(),
            Err(code) => vec![code],
        },
        Field::CreatedAt | Field::UpdatedAt => match timestamp(raw, field, ctx) {
            Ok((_, future)) => future.into_iter().collect(),
            Err(code) => vec![code],
        },
        Field::MarketingConsent => match consent(raw, ctx) {
            Some(_) => Vec::new(),
            None => vec!["consent.unknown"],
        },
        _ => return None,
    };
    Some(issues)
}

/// A street line's display form and key. Through the memo, one street's lines are cleansed
/// once whatever their house numbers (see [`address::NumberTemplate`]): a customer base
/// holds a few thousand streets but hundreds of thousands of distinct lines.
fn street(raw: &str, country: Option<&str>, ctx: &CleanseContext<'_>) -> Pair {
    let clean = |line: &str| {
        let street = address::clean_street(line, country);
        (Text::from(street.display), Text::from(street.key))
    };
    let Some(cache) = ctx.cache(|m| &m.street) else {
        return clean(raw);
    };
    let context = memo::context(country);
    let Some(numbers) = address::NumberTemplate::of(raw) else {
        return cache.get_or_insert_with(context, raw, || clean(raw));
    };
    let (display, key) =
        cache.get_or_insert_with(context, &numbers.template, || clean(&numbers.template));
    match (numbers.put_back(&display), numbers.put_back(&key)) {
        (Some(display), Some(key)) => (display, key),
        _ => clean(raw),
    }
}

fn birth_date(raw: &str, ctx: &CleanseContext<'_>) -> Result<NaiveDate, IssueCode> {
    // Read faster than looked up in the memo.
    if let Some(d) = ctx.format(Field::BirthDate).and_then(|f| f.read_exact(raw)) {
        return Ok(d);
    }
    memo(
        ctx.cache(|m| &m.birth_date),
        ctx.birth_date_context,
        raw,
        || date::parse_birth_date_with(raw, ctx.format(Field::BirthDate), ctx.today),
    )
}

/// A change time, and `timestamp.future` when it lies after the end of the run's day: a
/// clock or entry error, kept (the source said so) and flagged, since survivorship trusts
/// recency.
fn timestamp(
    raw: &str,
    field: Field,
    ctx: &CleanseContext<'_>,
) -> Result<(i64, Option<IssueCode>), IssueCode> {
    let t = date::parse_timestamp_with(raw, ctx.format(field))?;
    let latest = ctx
        .today
        .succ_opt()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp());
    let future = latest.is_some_and(|l| t >= l).then_some("timestamp.future");
    Ok((t, future))
}

fn consent(raw: &str, ctx: &CleanseContext<'_>) -> Option<bool> {
    let fm = ctx.mapping.field(Field::MarketingConsent)?;
    let trimmed = raw.trim();
    // The tokens are lower-case: ASCII values compare without lower-casing a copy.
    let lower;
    let token = if trimmed.is_ascii() {
        trimmed
    } else {
        lower = trimmed.to_lowercase();
        lower.as_str()
    };
    let is = |t: &String| t.eq_ignore_ascii_case(token);
    if fm.yes.iter().any(is) {
        Some(true)
    } else if fm.no.iter().any(is) {
        Some(false)
    } else {
        None
    }
}

/// Cleanse every record of one source, in parallel, keeping input order.
pub fn cleanse_all(records: Vec<SourceRecord>, ctx: &CleanseContext<'_>) -> Vec<Customer> {
    records.into_par_iter().map(|r| cleanse(r, ctx)).collect()
}

pub fn cleanse(mut record: SourceRecord, ctx: &CleanseContext<'_>) -> Customer {
    let mut c = Customer {
        source: record.source,
        key: std::mem::take(&mut record.key),
        line: record.line,
        hash: record.hash,
        ..Customer::default()
    };
    // Each field's first value, found in one pass (not a scan of the values per field).
    let mut firsts: [Option<&str>; Field::ALL.len()] = [None; Field::ALL.len()];
    let mut counts = [0usize; Field::ALL.len()];
    for (field, value) in &record.values {
        firsts[*field as usize].get_or_insert(value.as_str());
        counts[*field as usize] += 1;
    }
    // A cell usually holds one address or number: sized for that, the lists take one
    // allocation each and no more room than they hold (a first push reserves four).
    c.emails = Vec::with_capacity(counts[Field::Email as usize]);
    c.phones = Vec::with_capacity(counts[Field::Phone as usize]);
    let first = |field: Field| firsts[field as usize];
    let mut issues: Vec<Issue> = Vec::new();
    let mut flag = |field: Field, codes: &[IssueCode]| {
        issues.extend(codes.iter().map(|&code| Issue { field, code }));
    };

    // Country first: postcodes and phones are read in its light.
    let mut country_code = None;
    c.country = first(Field::Country).map(|raw| {
        let code = memo(ctx.cache(|m| &m.country), 0, raw, || {
            address::country_code(raw)
        });
        match code {
            Some(code) => {
                country_code = Some(code);
                Value::valid(Text::const_new(code), Text::const_new(code))
            }
            None => {
                flag(Field::Country, &["country.unknown"]);
                Value::invalid(text::normalize(raw).into())
            }
        }
    });
    // An old-style postcode (`D-80802`) names the country when the record does not.
    c.postcode = first(Field::Postcode).map(|raw| {
        let parsed = memo(
            ctx.cache(|m| &m.postcode),
            memo::context(country_code),
            raw,
            || parse_postcode(raw, country_code),
        );
        match parsed {
            Ok(pc) => {
                flag(Field::Postcode, &pc.issues);
                if c.country.is_none()
                    && let Some(code) = pc.country
                {
                    country_code = Some(code);
                    c.country = Some(Value::valid(Text::const_new(code), Text::const_new(code)));
                }
                Value::valid(pc.display, pc.key)
            }
            Err(code) => {
                flag(Field::Postcode, &[code]);
                Value::invalid(text::normalize(raw).into())
            }
        }
    });

    // Names: explicit parts win over a parsed full name.
    let order = ctx
        .mapping
        .field(Field::FullName)
        .map(|f| f.order)
        .unwrap_or_default();
    let parsed = first(Field::FullName).map(|raw| {
        memo(ctx.cache(|m| &m.full_name), order as u64, raw, || {
            ParsedName::parse(raw, order)
        })
    });
    if let Some(p) = &parsed {
        flag(Field::FullName, &p.issues);
    }
    let mut parsed = parsed.unwrap_or_default();
    let (given, given_title) = match first(Field::GivenName) {
        Some(raw) => {
            let (g, t) = memo(ctx.cache(|m| &m.given), 0, raw, || {
                let (g, t) = name::split_title(raw);
                (g.into(), t.map(Text::from))
            });
            (Some(g), t)
        }
        None => (parsed.given.take(), None),
    };
    let (family, family_suffix) = match first(Field::FamilyName) {
        Some(raw) => {
            let (f, s) = memo(ctx.cache(|m| &m.family), 0, raw, || {
                let (f, s) = name::split_suffix(&text::normalize(raw));
                (name::clean_family_name(&f).into(), s.map(Text::from))
            });
            (Some(f), s)
        }
        None => (parsed.family.take(), None),
    };
    c.title = record
        .first(Field::Title)
        .map(|t| name::standardise_title(t).into())
        .or(given_title)
        .or(parsed.title.take())
        .filter(|s| !s.is_empty());
    c.middle_name = record
        .first(Field::MiddleName)
        .map(|m| name::clean_name_part(m).into())
        .or(parsed.middle.take())
        .filter(|s| !s.is_empty());
    c.suffix = record
        .first(Field::Suffix)
        .map(|s| name::standardise_suffix(s).into())
        .or(parsed.suffix.take())
        .or(family_suffix)
        .filter(|s| !s.is_empty());
    let key_of = |part: &str| {
        memo(ctx.cache(|m| &m.name_key), 0, part, || {
            name::name_key(part).into()
        })
    };
    c.given_name = given.filter(|g| !g.is_empty()).map(|g| {
        let k = key_of(&g);
        Value::valid(g, k)
    });
    c.family_name = family.filter(|f| !f.is_empty()).map(|f| {
        let k = key_of(&f);
        Value::valid(f, k)
    });
    // `name::display_of`, written straight into a `Text` (inline for most names).
    let parts = [
        c.title.as_deref(),
        c.given_name.as_ref().map(|v| v.display.as_str()),
        c.middle_name.as_deref(),
        c.family_name.as_ref().map(|v| v.display.as_str()),
        c.suffix.as_deref(),
    ];
    let len: usize = parts.iter().flatten().map(|p| p.len() + 1).sum();
    let mut assembled = Text::with_capacity(len.saturating_sub(1));
    for part in parts.into_iter().flatten().filter(|p| !p.is_empty()) {
        if !assembled.is_empty() {
            assembled.push(' ');
        }
        assembled.push_str(part);
    }
    c.full_name = (!assembled.is_empty()).then_some(assembled);

    for cell in record.all(Field::Email) {
        // Most cells hold one address: no list to allocate for them.
        let several;
        let addresses = if email::is_one_address(cell) {
            std::slice::from_ref(&cell)
        } else {
            several = email::split_addresses(cell);
            several.as_slice()
        };
        for &raw in addresses {
            let e = email::cleanse_email(raw);
            flag(Field::Email, &e.issues);
            if !c.emails.iter().any(|v| v.display == e.value) {
                c.emails.push(Value {
                    display: e.value.into(),
                    key: e.key.map(Text::from),
                });
            }
        }
    }
    let region = country_code.or(ctx.mapping.phone_region.as_deref());
    for cell in record.all(Field::Phone) {
        let several;
        let numbers = if phone::is_one_number(cell) {
            std::slice::from_ref(&cell)
        } else {
            several = phone::split_numbers(cell);
            several.as_slice()
        };
        for &raw in numbers {
            let p = phone::cleanse_phone(raw, region);
            flag(Field::Phone, &p.issues);
            let display = match &p.extension {
                Some(ext) => compact_str::format_compact!("{} ext. {ext}", p.value),
                None => p.value,
            };
            if !c.phones.iter().any(|v| v.display == display) {
                c.phones.push(Value {
                    display,
                    key: p.e164,
                });
            }
        }
    }

    c.address_line1 = first(Field::AddressLine1).map(|raw| {
        let (display, key) = street(raw, country_code, ctx);
        Value::valid(display, key)
    });
    c.address_line2 = record
        .first(Field::AddressLine2)
        .map(text::normalize)
        .filter(|s| !s.is_empty())
        .map(Text::from);
    c.city = first(Field::City).map(|raw| {
        let (display, key) = memo(ctx.cache(|m| &m.city), 0, raw, || {
            let display = address::standardise_place(raw);
            let key = address::place_key(&display);
            (display.into(), key.into())
        });
        Value::valid(display, key)
    });
    c.region = record
        .first(Field::Region)
        .map(text::normalize)
        .filter(|s| !s.is_empty())
        .map(Text::from);

    c.birth_date = record
        .first(Field::BirthDate)
        .map(|raw| match birth_date(raw, ctx) {
            Ok(d) => {
                let s = iso_date(d);
                match date::check_birth_date(d, ctx.today) {
                    None => Value::valid(s.clone(), s),
                    Some(code) => {
                        flag(Field::BirthDate, &[code]);
                        Value::invalid(s)
                    }
                }
            }
            Err(code) => {
                flag(Field::BirthDate, &[code]);
                Value::invalid(text::normalize(raw).into())
            }
        });
    c.company = first(Field::Company).map(|raw| {
        let (display, key) = memo(ctx.cache(|m| &m.company), 0, raw, || {
            let display = text::normalize(raw);
            let key = text::fold_key(&display);
            (display.into(), key.into())
        });
        Value::valid(display, key)
    });
    for (field, slot) in [
        (Field::CreatedAt, &mut c.created_at),
        (Field::UpdatedAt, &mut c.updated_at),
    ] {
        if let Some(raw) = first(field) {
            match timestamp(raw, field, ctx) {
                Ok((t, future)) => {
                    flag(field, future.as_slice());
                    *slot = Some(t);
                }
                Err(code) => flag(field, &[code]),
            }
        }
    }
    if let Some(raw) = first(Field::MarketingConsent) {
        match consent(raw, ctx) {
            Some(yes) => c.marketing_consent = Some(yes),
            None => flag(Field::MarketingConsent, &["consent.unknown"]),
        }
    }
    c.extra = record.extra;
    issues.sort();
    issues.dedup();
    c.issues = issues;
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SourceFormat;
    use std::path::Path;

    fn mapping() -> Mapping {
        Mapping::parse(
            Path::new("m.toml"),
            "key = \"id\"\nphone_region = \"DE\"\n[fields]\nfull_name = { column = \"n\", order = \"last_first\" }\nbirth_date = { column = \"b\", format = \"%d.%m.%Y\" }\nemail = \"e\"\nphone = [\"p\", \"m\"]\ncountry = \"c\"\npostcode = \"z\"\nmarketing_consent = \"nl\"\n",
            SourceFormat::Csv,
        )
        .unwrap()
    }

    #[test]
    fn sources_sharing_a_memo_keep_their_own_readings() {
        let other = Mapping::parse(
            Path::new("o.toml"),
            "key = \"id\"\n[fields]\nfull_name = { column = \"n\", order = \"first_last\" }\nbirth_date = { column = \"b\", format = \"%m/%d/%Y\" }\ncountry = \"c\"\naddress_line1 = \"s\"\n",
            SourceFormat::Csv,
        )
        .unwrap();
        let (m, today) = (mapping(), NaiveDate::from_ymd_opt(2026, 11, 24).unwrap());
        let first = CleanseContext::new(&m, today);
        let shared = CleanseContext::sharing_memo(&other, today, &first);
        let alone = CleanseContext::new(&other, today);
        let values = [
            (Field::FullName, "Anna Schmidt"),
            (Field::BirthDate, "3-4-1980"),
            (Field::BirthDate, "03 04 1980"),
            (Field::Country, "Deutschland"),
            (Field::AddressLine1, "Hauptstraße 12"),
        ];
        let mut differ = 0;
        for (field, v) in values {
            // The first source's reading is remembered first; the second must not get it.
            let a = cleanse(record(&[(field, v)]), &first);
            let b = cleanse(record(&[(field, v)]), &shared);
            let b_alone = cleanse(record(&[(field, v)]), &alone);
            assert_eq!(format!("{b:?}"), format!("{b_alone:?}"), "{v}");
            differ += usize::from(format!("{a:?}") != format!("{b:?}"));
        }
        // Names and dates are read differently by the two sources.
        assert!(differ >= 2, "{differ}");
        assert!(first.memo.as_ref().unwrap().country.len() == 1);
    }

    fn record(values: &[(Field, &str)]) -> SourceRecord {
        SourceRecord {
            source: 0,
            key: "k1".into(),
            line: 2,
            hash: 7,
            values: values.iter().map(|(f, v)| (*f, v.to_string())).collect(),
            extra: vec![],
        }
    }

    #[test]
    fn cleanses_a_record_and_flags_bad_values() {
        let m = mapping();
        let ctx = CleanseContext::new(&m, NaiveDate::from_ymd_opt(2026, 11, 23).unwrap());
        let c = cleanse(
            record(&[
                (Field::FullName, "MÜLLER, HANS"),
                (Field::Email, "Hans@Example.DE"),
                (Field::Email, "hans@@example.de"),
                (Field::Phone, "030 1234567"),
                (Field::Phone, "12"),
                (Field::Country, "Deutschland"),
                (Field::Postcode, "1011"),
                (Field::BirthDate, "01.02.2090"),
                (Field::MarketingConsent, "ja"),
            ]),
            &ctx,
        );
        assert_eq!(c.full_name.as_deref(), Some("Hans Müller"));
        assert_eq!(
            c.family_name.as_ref().unwrap().key.as_deref(),
            Some("muller")
        );
        assert_eq!(c.emails[0].key.as_deref(), Some("hans@example.de"));
        assert_eq!(c.emails[1].key, None);
        assert_eq!(c.phones[0].key.as_deref(), Some("+49301234567"));
        assert_eq!(c.phones[1].display, "12");
        assert_eq!(c.country.as_ref().unwrap().display, "DE");
        assert_eq!(c.marketing_consent, Some(true));
        let codes: Vec<&str> = c.issues.iter().map(|i| i.code).collect();
        assert_eq!(
            codes,
            [
                "email.invalid",
                "phone.invalid",
                "postcode.invalid",
                "dob.future"
            ]
        );
        assert_eq!(c.birth_date.as_ref().unwrap().key, None);
    }
}
