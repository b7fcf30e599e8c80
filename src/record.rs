//! The canonical records that flow through the pipeline.
//!
//! `SourceRecord` is one row of one source, mapped to canonical fields but not yet cleansed;
//! `Customer` is the cleansed, standardised record; `Quarantined` is a row that could not be
//! read, with a reason code. Every input row becomes exactly one `Customer` or one
//! `Quarantined`.

use serde::{Deserialize, Serialize};

/// A cleansed string: up to 24 bytes inline, longer ones on the heap; derefs to `&str` and
/// serialises as a string.
pub type Text = compact_str::CompactString;

/// Canonical fields a mapping can feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    FullName,
    Title,
    GivenName,
    MiddleName,
    FamilyName,
    Suffix,
    Email,
    Phone,
    AddressLine1,
    AddressLine2,
    City,
    Region,
    Postcode,
    Country,
    BirthDate,
    Company,
    CreatedAt,
    UpdatedAt,
    MarketingConsent,
}

impl Field {
    pub const ALL: [Field; 19] = [
        Field::FullName,
        Field::Title,
        Field::GivenName,
        Field::MiddleName,
        Field::FamilyName,
        Field::Suffix,
        Field::Email,
        Field::Phone,
        Field::AddressLine1,
        Field::AddressLine2,
        Field::City,
        Field::Region,
        Field::Postcode,
        Field::Country,
        Field::BirthDate,
        Field::Company,
        Field::CreatedAt,
        Field::UpdatedAt,
        Field::MarketingConsent,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Field::FullName => "full_name",
            Field::Title => "title",
            Field::GivenName => "given_name",
            Field::MiddleName => "middle_name",
            Field::FamilyName => "family_name",
            Field::Suffix => "suffix",
            Field::Email => "email",
            Field::Phone => "phone",
            Field::AddressLine1 => "address_line1",
            Field::AddressLine2 => "address_line2",
            Field::City => "city",
            Field::Region => "region",
            Field::Postcode => "postcode",
            Field::Country => "country",
            Field::BirthDate => "birth_date",
            Field::Company => "company",
            Field::CreatedAt => "created_at",
            Field::UpdatedAt => "updated_at",
            Field::MarketingConsent => "marketing_consent",
        }
    }

    pub fn from_name(name: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.name() == name)
    }

    /// Fields that may carry several values per record.
    pub fn is_multi(self) -> bool {
        matches!(self, Field::Email | Field::Phone)
    }
}

/// Groups of golden fields that survive together (a name is not assembled from the given
/// name of one source and the family name of another).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldGroup {
    Name,
    Email,
    Phone,
    Address,
    BirthDate,
    Company,
    MarketingConsent,
}

impl FieldGroup {
    pub const ALL: [FieldGroup; 7] = [
        FieldGroup::Name,
        FieldGroup::Email,
        FieldGroup::Phone,
        FieldGroup::Address,
        FieldGroup::BirthDate,
        FieldGroup::Company,
        FieldGroup::MarketingConsent,
    ];

    pub fn name(self) -> &'static str {
        match self {
            FieldGroup::Name => "name",
            FieldGroup::Email => "email",
            FieldGroup::Phone => "phone",
            FieldGroup::Address => "address",
            FieldGroup::BirthDate => "birth_date",
            FieldGroup::Company => "company",
            FieldGroup::MarketingConsent => "marketing_consent",
        }
    }

    /// The golden fields of this group.
    pub fn fields(self) -> &'static [GoldenField] {
        use GoldenField as G;
        match self {
            FieldGroup::Name => &[
                G::FullName,
                G::Title,
                G::GivenName,
                G::MiddleName,
                G::FamilyName,
                G::Suffix,
            ],
            FieldGroup::Email => &[G::Email],
            FieldGroup::Phone => &[G::Phone],
            FieldGroup::Address => &[
                G::AddressLine1,
                G::AddressLine2,
                G::City,
                G::Region,
                G::Postcode,
                G::Country,
            ],
            FieldGroup::BirthDate => &[G::BirthDate],
            FieldGroup::Company => &[G::Company],
            FieldGroup::MarketingConsent => &[G::MarketingConsent],
        }
    }
}

/// The columns of a golden profile (the `customers` table), in column order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GoldenField {
    FullName,
    Title,
    GivenName,
    MiddleName,
    FamilyName,
    Suffix,
    Email,
    Phone,
    AddressLine1,
    AddressLine2,
    City,
    Region,
    Postcode,
    Country,
    BirthDate,
    Company,
    MarketingConsent,
}

pub const GOLDEN_FIELD_COUNT: usize = 17;

impl GoldenField {
    pub const ALL: [GoldenField; GOLDEN_FIELD_COUNT] = [
        GoldenField::FullName,
        GoldenField::Title,
        GoldenField::GivenName,
        GoldenField::MiddleName,
        GoldenField::FamilyName,
        GoldenField::Suffix,
        GoldenField::Email,
        GoldenField::Phone,
        GoldenField::AddressLine1,
        GoldenField::AddressLine2,
        GoldenField::City,
        GoldenField::Region,
        GoldenField::Postcode,
        GoldenField::Country,
        GoldenField::BirthDate,
        GoldenField::Company,
        GoldenField::MarketingConsent,
    ];

    pub fn name(self) -> &'static str {
        match self {
            GoldenField::FullName => "full_name",
            GoldenField::Title => "title",
            GoldenField::GivenName => "given_name",
            GoldenField::MiddleName => "middle_name",
            GoldenField::FamilyName => "family_name",
            GoldenField::Suffix => "suffix",
            GoldenField::Email => "email",
            GoldenField::Phone => "phone",
            GoldenField::AddressLine1 => "address_line1",
            GoldenField::AddressLine2 => "address_line2",
            GoldenField::City => "city",
            GoldenField::Region => "region",
            GoldenField::Postcode => "postcode",
            GoldenField::Country => "country",
            GoldenField::BirthDate => "birth_date",
            GoldenField::Company => "company",
            GoldenField::MarketingConsent => "marketing_consent",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }

    pub fn from_name(name: &str) -> Option<GoldenField> {
        GoldenField::ALL.into_iter().find(|f| f.name() == name)
    }
}

/// One row of a source, mapped to canonical fields, before cleansing.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceRecord {
    /// Index of the source in the pipeline.
    pub source: u16,
    /// The source's own record key.
    pub key: String,
    /// 1-based physical line where the row starts.
    pub line: u64,
    /// Hash of the row's raw content, to detect changed rows between runs.
    pub hash: u64,
    /// Non-empty mapped values, in mapping order (multi-valued fields repeat).
    pub values: Vec<(Field, String)>,
    /// Unmapped columns kept as extra attributes.
    pub extra: Vec<(String, String)>,
}

impl SourceRecord {
    pub fn first(&self, field: Field) -> Option<&str> {
        self.values
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, v)| v.as_str())
    }

    pub fn all(&self, field: Field) -> impl Iterator<Item = &str> {
        self.values
            .iter()
            .filter(move |(f, _)| *f == field)
            .map(|(_, v)| v.as_str())
    }
}

/// Why a row could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum QuarantineReason {
    /// The row has a different number of columns than the header.
    ColumnCount,
    /// The row is not valid JSON (JSON Lines).
    InvalidJson,
    /// A JSON line is valid JSON but not an object.
    NotAnObject,
    /// Bytes that are not valid in the declared encoding.
    Encoding,
    /// The record key is missing or empty.
    MissingKey,
    /// The record key repeats one seen earlier in the same file.
    DuplicateKey,
    /// The row could not be parsed as CSV at all.
    Malformed,
}

impl QuarantineReason {
    pub fn code(self) -> &'static str {
        match self {
            QuarantineReason::ColumnCount => "column_count",
            QuarantineReason::InvalidJson => "invalid_json",
            QuarantineReason::NotAnObject => "not_an_object",
            QuarantineReason::Encoding => "encoding",
            QuarantineReason::MissingKey => "missing_key",
            QuarantineReason::DuplicateKey => "duplicate_key",
            QuarantineReason::Malformed => "malformed",
        }
    }
}

/// A row that could not become a record.
#[derive(Debug, Clone, PartialEq)]
pub struct Quarantined {
    pub source: u16,
    pub line: u64,
    /// The key, where one could be read.
    pub key: Option<String>,
    pub reason: QuarantineReason,
    /// What exactly is wrong, without customer values.
    pub detail: String,
    /// The raw text of the row (lossily decoded; kept in the store for the data steward).
    pub raw: String,
}

/// A cleansing problem found in one field of one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Issue {
    pub field: Field,
    /// Stable dotted code such as `email.invalid`.
    pub code: &'static str,
}

/// A value as the source gave it and, where it cleansed, its standard form and match key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Value {
    /// The standardised display value (the raw value when cleansing failed).
    pub display: Text,
    /// The key used for matching; `None` when the value failed cleansing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<Text>,
}

impl Value {
    pub fn valid(display: Text, key: Text) -> Value {
        Value {
            display,
            key: if key.is_empty() { None } else { Some(key) },
        }
    }
    pub fn invalid(raw: Text) -> Value {
        Value {
            display: raw,
            key: None,
        }
    }
}

/// A cleansed, standardised customer record from one source row. Stored as
/// `customer_sources.record_json` (without source, key, line, hash and issues) and read back
/// from there by `retire`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Customer {
    #[serde(skip)]
    pub source: u16,
    #[serde(skip)]
    pub key: String,
    #[serde(skip)]
    pub line: u64,
    #[serde(skip)]
    pub hash: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub full_name: Option<Text>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<Text>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub given_name: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub middle_name: Option<Text>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub family_name: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suffix: Option<Text>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub emails: Vec<Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub phones: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address_line1: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address_line2: Option<Text>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<Text>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postcode: Option<Value>,
    /// ISO 3166-1 alpha-2 where recognised, else the raw value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub birth_date: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company: Option<Value>,
    /// Seconds since the Unix epoch, UTC.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub marketing_consent: Option<bool>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub extra: Vec<(String, String)>,
    #[serde(skip)]
    pub issues: Vec<Issue>,
}

impl Customer {
    /// The display value this record offers for a golden field (borrowed: survivorship
    /// asks for every field of every record, and the load for every golden value).
    pub fn golden_value(&self, field: GoldenField) -> Option<&str> {
        use GoldenField as G;
        fn v(o: &Option<Value>) -> Option<&str> {
            o.as_ref().map(|v| v.display.as_str())
        }
        fn t(o: &Option<Text>) -> Option<&str> {
            o.as_deref()
        }
        match field {
            G::FullName => t(&self.full_name),
            G::Title => t(&self.title),
            G::GivenName => v(&self.given_name),
            G::MiddleName => t(&self.middle_name),
            G::FamilyName => v(&self.family_name),
            G::Suffix => t(&self.suffix),
            // Prefer a valid value over an invalid one for the profile.
            G::Email => best_of(&self.emails),
            G::Phone => best_of(&self.phones),
            G::AddressLine1 => v(&self.address_line1),
            G::AddressLine2 => t(&self.address_line2),
            G::City => v(&self.city),
            G::Region => t(&self.region),
            G::Postcode => v(&self.postcode),
            G::Country => v(&self.country),
            G::BirthDate => v(&self.birth_date),
            G::Company => v(&self.company),
            G::MarketingConsent => self
                .marketing_consent
                .map(|b| if b { "true" } else { "false" }),
        }
        .filter(|s| !s.is_empty())
    }

    /// The record as JSON (`customer_sources.record_json`): to the byte what
    /// `serde_json::to_vec(self)` writes, appended to `out`. Written by hand because a
    /// first load writes a million of them while the store writes rows on the other core,
    /// and serde_json's writing of every string and key through `io::Write` was the
    /// largest item of that work.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        let mut o = JsonObject { out, first: true };
        o.text("full_name", &self.full_name);
        o.text("title", &self.title);
        o.value("given_name", &self.given_name);
        o.text("middle_name", &self.middle_name);
        o.value("family_name", &self.family_name);
        o.text("suffix", &self.suffix);
        o.values("emails", &self.emails);
        o.values("phones", &self.phones);
        o.value("address_line1", &self.address_line1);
        o.text("address_line2", &self.address_line2);
        o.value("city", &self.city);
        o.text("region", &self.region);
        o.value("postcode", &self.postcode);
        o.value("country", &self.country);
        o.value("birth_date", &self.birth_date);
        o.value("company", &self.company);
        o.int("created_at", self.created_at);
        o.int("updated_at", self.updated_at);
        if let Some(b) = self.marketing_consent {
            o.key("marketing_consent");
            o.out.extend_from_slice(if b { b"true" } else { b"false" });
        }
        if !self.extra.is_empty() {
            o.key("extra");
            o.out.push(b'[');
            for (i, (k, v)) in self.extra.iter().enumerate() {
                if i > 0 {
                    o.out.push(b',');
                }
                o.out.push(b'[');
                json_str(o.out, k);
                o.out.push(b',');
                json_str(o.out, v);
                o.out.push(b']');
            }
            o.out.push(b']');
        }
        if o.first {
            o.out.push(b'{');
        }
        o.out.push(b'}');
    }

    /// When the source last changed this record, for the `most_recent` rule.
    pub fn recency(&self) -> Option<i64> {
        self.updated_at.or(self.created_at)
    }
}

/// [`Customer::write_json`]'s object: its members as serde's derive writes them (a field
/// that is `None` or empty is left out).
struct JsonObject<'o> {
    out: &'o mut Vec<u8>,
    first: bool,
}

impl JsonObject<'_> {
    /// `{"name":` for the first member, `,"name":` after it (names need no escaping).
    fn key(&mut self, name: &str) {
        self.out.push(if self.first { b'{' } else { b',' });
        self.first = false;
        self.out.push(b'"');
        self.out.extend_from_slice(name.as_bytes());
        self.out.extend_from_slice(b"\":");
    }

    fn text(&mut self, name: &str, t: &Option<Text>) {
        if let Some(t) = t {
            self.key(name);
            json_str(self.out, t);
        }
    }

    fn value(&mut self, name: &str, v: &Option<Value>) {
        if let Some(v) = v {
            self.key(name);
            json_value(self.out, v);
        }
    }

    fn values(&mut self, name: &str, vs: &[Value]) {
        if vs.is_empty() {
            return;
        }
        self.key(name);
        self.out.push(b'[');
        for (i, v) in vs.iter().enumerate() {
            if i > 0 {
                self.out.push(b',');
            }
            json_value(self.out, v);
        }
        self.out.push(b']');
    }

    fn int(&mut self, name: &str, n: Option<i64>) {
        if let Some(n) = n {
            use std::io::Write;
            self.key(name);
            // Writing to a vector does not fail.
            let _ = write!(self.out, "{n}");
        }
    }
}

/// A [`Value`] as serde's derive writes it.
fn json_value(out: &mut Vec<u8>, v: &Value) {
    out.extend_from_slice(b"{\"display\":");
    json_str(out, &v.display);
    if let Some(k) = &v.key {
        out.extend_from_slice(b",\"key\":");
        json_str(out, k);
    }
    out.push(b'}');
}

/// A JSON string as serde_json writes it: `"` and `\` escaped, the control characters
/// below 0x20 as `\b \t \n \f \r` or `\u00xx` (lower-case hex), everything else as is.
fn json_str(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    out.push(b'"');
    // Most values need no escaping: one check of every byte (no early exit, so that it
    // vectorises), then one copy.
    let plain = bytes
        .iter()
        .fold(true, |ok, &b| ok & (b >= 0x20 && b != b'"' && b != b'\\'));
    if plain {
        out.extend_from_slice(bytes);
    } else {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut start = 0;
        for (i, &b) in bytes.iter().enumerate() {
            let escape: &[u8] = match b {
                b'"' => b"\\\"",
                b'\\' => b"\\\\",
                b'\n' => b"\\n",
                b'\r' => b"\\r",
                b'\t' => b"\\t",
                0x08 => b"\\b",
                0x0c => b"\\f",
                0..=0x1f => &[
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    HEX[(b >> 4) as usize],
                    HEX[(b & 0xf) as usize],
                ],
                _ => continue,
            };
            out.extend_from_slice(&bytes[start..i]);
            out.extend_from_slice(escape);
            start = i + 1;
        }
        out.extend_from_slice(&bytes[start..]);
    }
    out.push(b'"');
}

fn best_of(values: &[Value]) -> Option<&str> {
    values
        .iter()
        .find(|v| v.key.is_some())
        .or_else(|| values.first())
        .map(|v| v.display.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record with some of its fields set (bit `i` of `set` for field `i`), from `s`.
    fn record_from(set: u32, s: &[String], n: i64) -> Customer {
        let text = |i: usize| (set >> i & 1 == 1).then(|| Text::from(s[i % s.len()].as_str()));
        let value = |i: usize| {
            (set >> i & 1 == 1).then(|| Value {
                display: s[i % s.len()].as_str().into(),
                key: (set >> ((i + 20) % 32) & 1 == 1)
                    .then(|| s[(i + 1) % s.len()].as_str().into()),
            })
        };
        let values = |i: usize| -> Vec<Value> {
            (0..(set >> i & 3))
                .map(|k| value(i + k as usize).unwrap_or_default())
                .collect()
        };
        Customer {
            source: 3,
            key: "k".into(),
            line: 9,
            hash: 7,
            full_name: text(0),
            title: text(1),
            given_name: value(2),
            middle_name: text(3),
            family_name: value(4),
            suffix: text(5),
            emails: values(6),
            phones: values(8),
            address_line1: value(10),
            address_line2: text(11),
            city: value(12),
            region: text(13),
            postcode: value(14),
            country: value(15),
            birth_date: value(16),
            company: value(17),
            created_at: (set >> 18 & 1 == 1).then_some(n),
            updated_at: (set >> 19 & 1 == 1).then_some(n.wrapping_neg() / 3),
            marketing_consent: (set >> 7 & 1 == 1).then_some(n % 2 == 0),
            extra: (0..(set >> 30 & 3) as usize)
                .map(|k| (s[k % s.len()].clone(), s[(k + 2) % s.len()].clone()))
                .collect(),
            issues: vec![Issue {
                field: Field::Email,
                code: "x",
            }],
        }
    }

    proptest::proptest! {
        /// `write_json` writes what serde_json writes, byte for byte: any set of fields,
        /// strings with quotes, backslashes, every control character and non-ASCII text.
        #[test]
        fn record_json_is_serde_jsons(
            set in proptest::num::u32::ANY,
            s in proptest::collection::vec("(\\PC|[\\x00-\\x1f\"\\\\\x7f])*", 1..5),
            n in proptest::num::i64::ANY,
        ) {
            let r = record_from(set, &s, n);
            let mut got = b"prefix".to_vec();
            r.write_json(&mut got);
            let mut want = b"prefix".to_vec();
            want.extend(serde_json::to_vec(&r).unwrap());
            proptest::prop_assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(&want));
        }
    }

    #[test]
    fn record_json_of_an_empty_record_and_every_escape() {
        let mut out = Vec::new();
        Customer::default().write_json(&mut out);
        assert_eq!(out, b"{}");
        let all: String = (0u8..0x20)
            .map(char::from)
            .chain("\"\\/\u{7f}é".chars())
            .collect();
        let r = record_from(u32::MAX, &[all], i64::MIN);
        let mut out = Vec::new();
        r.write_json(&mut out);
        assert_eq!(out, serde_json::to_vec(&r).unwrap());
    }

    #[test]
    fn field_names_round_trip() {
        for f in Field::ALL {
            assert_eq!(Field::from_name(f.name()), Some(f));
        }
        for (i, f) in GoldenField::ALL.into_iter().enumerate() {
            assert_eq!(GoldenField::from_name(f.name()), Some(f));
            assert_eq!(f.index(), i);
        }
    }

    #[test]
    fn every_golden_field_is_in_exactly_one_group() {
        for f in GoldenField::ALL {
            let n = FieldGroup::ALL
                .iter()
                .filter(|g| g.fields().contains(&f))
                .count();
            assert_eq!(n, 1, "{f:?}");
        }
    }

    #[test]
    fn profile_prefers_a_valid_email() {
        let c = Customer {
            emails: vec![
                Value::invalid("bad@@x".into()),
                Value::valid("ok@example.com".into(), "ok@example.com".into()),
            ],
            ..Customer::default()
        };
        assert_eq!(c.golden_value(GoldenField::Email), Some("ok@example.com"));
    }
}
