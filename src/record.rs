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

    /// When the source last changed this record, for the `most_recent` rule.
    pub fn recency(&self) -> Option<i64> {
        self.updated_at.or(self.created_at)
    }
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
