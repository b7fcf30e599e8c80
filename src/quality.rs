//! Quality: `(&Pipeline, &[Customer]) -> Vec<SourceQuality>`: per source and mapped field,
//! how many records had a value in the source (before cleansing), how many kept a valid,
//! usable one (after cleansing), and the issue codes cleansing raised.
//!
//! A value that fails cleansing is kept as given (with no match key) and flagged, and a
//! timestamp or consent flag that cannot be read is flagged and dropped; so "had a value"
//! is "has a value or an issue", and "valid" is "has a value with a match key".

use std::collections::BTreeMap;

use serde::Serialize;

use crate::config::Pipeline;
use crate::record::{Customer, Field, Value};

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FieldQuality {
    pub field: &'static str,
    /// Records with a value in the source.
    pub filled: u64,
    /// Records whose value cleansed to a valid one (for e-mail and phone: at least one).
    pub valid: u64,
    /// filled / records: the fill rate before cleansing.
    pub fill_rate: f64,
    /// valid / records: the fill rate after cleansing.
    pub valid_rate: f64,
    /// valid / filled; `None` when no record has a value.
    pub validity: Option<f64>,
    /// Issue code -> records.
    pub issues: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SourceQuality {
    pub source: String,
    pub records: u64,
    pub fields: Vec<FieldQuality>,
}

impl SourceQuality {
    pub fn field(&self, field: Field) -> Option<&FieldQuality> {
        self.fields.iter().find(|f| f.field == field.name())
    }
}

/// (had a value, valid) of one field of one record.
fn state(c: &Customer, field: Field) -> (bool, bool) {
    let value = |v: &Option<Value>| match v {
        Some(v) => (true, v.key.is_some()),
        None => (false, false),
    };
    let text = |v: &Option<crate::record::Text>| (v.is_some(), v.is_some());
    let many = |vs: &[Value]| (!vs.is_empty(), vs.iter().any(|v| v.key.is_some()));
    let (present, valid) = match field {
        Field::FullName => text(&c.full_name),
        Field::Title => text(&c.title),
        Field::GivenName => value(&c.given_name),
        Field::MiddleName => text(&c.middle_name),
        Field::FamilyName => value(&c.family_name),
        Field::Suffix => text(&c.suffix),
        Field::Email => many(&c.emails),
        Field::Phone => many(&c.phones),
        Field::AddressLine1 => value(&c.address_line1),
        Field::AddressLine2 => text(&c.address_line2),
        Field::City => value(&c.city),
        Field::Region => text(&c.region),
        Field::Postcode => value(&c.postcode),
        Field::Country => value(&c.country),
        Field::BirthDate => value(&c.birth_date),
        Field::Company => value(&c.company),
        Field::CreatedAt => (c.created_at.is_some(), c.created_at.is_some()),
        Field::UpdatedAt => (c.updated_at.is_some(), c.updated_at.is_some()),
        Field::MarketingConsent => (c.marketing_consent.is_some(), c.marketing_consent.is_some()),
    };
    let flagged = c.issues.iter().any(|i| i.field == field);
    (present || flagged, valid)
}

fn rate(n: u64, of: u64) -> f64 {
    if of == 0 { 0.0 } else { n as f64 / of as f64 }
}

/// Measure every source's mapped fields (and any field cleansing flagged).
pub fn measure(pipeline: &Pipeline, records: &[Customer]) -> Vec<SourceQuality> {
    pipeline
        .sources
        .iter()
        .enumerate()
        .map(|(si, source)| {
            let mine: Vec<&Customer> = records.iter().filter(|r| r.source as usize == si).collect();
            let n = mine.len() as u64;
            let fields = Field::ALL
                .into_iter()
                .filter(|&f| {
                    source.mapping.field(f).is_some()
                        || mine.iter().any(|r| r.issues.iter().any(|i| i.field == f))
                })
                .map(|f| {
                    let (mut filled, mut valid) = (0, 0);
                    let mut issues: BTreeMap<String, u64> = BTreeMap::new();
                    for r in &mine {
                        let (p, v) = state(r, f);
                        filled += p as u64;
                        valid += v as u64;
                        for i in r.issues.iter().filter(|i| i.field == f) {
                            *issues.entry(i.code.to_string()).or_default() += 1;
                        }
                    }
                    FieldQuality {
                        field: f.name(),
                        filled,
                        valid,
                        fill_rate: rate(filled, n),
                        valid_rate: rate(valid, n),
                        validity: (filled > 0).then(|| rate(valid, filled)),
                        issues,
                    }
                })
                .collect();
            SourceQuality {
                source: source.name.clone(),
                records: n,
                fields,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Issue;

    #[test]
    fn present_and_valid_per_kind_of_field() {
        let c = Customer {
            emails: vec![
                Value::invalid("x@@y".into()),
                Value::valid("a@b.de".into(), "a@b.de".into()),
            ],
            postcode: Some(Value::invalid("ABC".into())),
            title: Some("Dr.".into()),
            issues: vec![
                Issue {
                    field: Field::UpdatedAt,
                    code: "timestamp.invalid",
                },
                Issue {
                    field: Field::Postcode,
                    code: "postcode.invalid",
                },
            ],
            ..Customer::default()
        };
        let cases = [
            (Field::Email, (true, true)),
            (Field::Postcode, (true, false)),
            (Field::Title, (true, true)),
            (Field::UpdatedAt, (true, false)),
            (Field::CreatedAt, (false, false)),
            (Field::Phone, (false, false)),
            (Field::BirthDate, (false, false)),
        ];
        for (f, want) in cases {
            assert_eq!(state(&c, f), want, "{f:?}");
        }
    }
}
