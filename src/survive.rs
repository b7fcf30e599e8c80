//! Survive: `(&[Customer], &Cluster, rules) -> GoldenProfile`.
//!
//! Field groups (the name, the address, ...) survive as a unit from one record, chosen by
//! the rule chain of the config: the group's owning sources, then the most recent record,
//! then the most trusted source, then the most complete record. The final tie-break is the
//! record order (source, key), so the outcome never depends on input order. Every golden
//! value records the record it came from and the rule that decided.

use crate::config::{Source, SurvivorRule, SurvivorshipConfig};
use crate::record::{Customer, FieldGroup, GOLDEN_FIELD_COUNT, GoldenField};

/// Where a golden value came from (8 bytes: a profile holds one per golden field).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lineage {
    /// Index of the source record.
    pub record: u32,
    pub rule: Rule,
}

/// The survivorship rule that chose a golden value's record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    Owner,
    MostRecent,
    Trust,
    MostComplete,
    /// One record had a value.
    OnlySource,
    /// The rule chain left several: the first in record order.
    TieBreak,
}

impl Rule {
    /// As `field_lineage.rule` names it.
    pub fn name(self) -> &'static str {
        match self {
            Rule::Owner => "owner",
            Rule::MostRecent => "most_recent",
            Rule::Trust => "trust",
            Rule::MostComplete => "most_complete",
            Rule::OnlySource => "only_source",
            Rule::TieBreak => "tie_break",
        }
    }
}

impl From<SurvivorRule> for Rule {
    fn from(rule: SurvivorRule) -> Rule {
        match rule {
            SurvivorRule::Owner => Rule::Owner,
            SurvivorRule::MostRecent => Rule::MostRecent,
            SurvivorRule::Trust => Rule::Trust,
            SurvivorRule::MostComplete => Rule::MostComplete,
        }
    }
}

/// A customer's golden record: per field, the source record its value comes from. The
/// value is that record's ([`Customer::golden_value`]); the profile keeps no copy of it
/// (a million profiles' copies were 400 MiB at a run's peak).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GoldenProfile {
    /// `None`: no golden value (the record its field group survived from has none, or
    /// no record has a value in the group).
    pub lineage: [Option<Lineage>; GOLDEN_FIELD_COUNT],
}

impl GoldenProfile {
    /// The golden value of `f`, from `records`: those the profile was made of.
    pub fn get<'r>(&self, f: GoldenField, records: &'r [Customer]) -> Option<&'r str> {
        let l = self.lineage[f.index()].as_ref()?;
        records[l.record as usize].golden_value(f)
    }
}

pub fn survive(
    records: &[Customer],
    members: &[u32],
    rules: &SurvivorshipConfig,
    sources: &[Source],
) -> GoldenProfile {
    let mut golden = GoldenProfile::default();
    for group in FieldGroup::ALL {
        let fields = group.fields();
        let filled = |i: u32| {
            fields
                .iter()
                .filter(|f| records[i as usize].golden_value(**f).is_some())
                .count()
        };
        let mut candidates: Vec<u32> = members.iter().copied().filter(|&i| filled(i) > 0).collect();
        if candidates.is_empty() {
            continue;
        }
        let mut decided = if candidates.len() == 1 {
            Some(Rule::OnlySource)
        } else {
            None
        };
        for &rule in &rules.order {
            if decided.is_some() {
                break;
            }
            let narrowed: Vec<u32> = match rule {
                SurvivorRule::Owner => {
                    let Some(owners) = rules.owners.get(&group) else {
                        continue;
                    };
                    let rank = |i: &u32| {
                        let name = &sources[records[*i as usize].source as usize].name;
                        owners.iter().position(|o| o == name)
                    };
                    match candidates.iter().filter_map(rank).min() {
                        Some(best) => candidates
                            .iter()
                            .copied()
                            .filter(|i| rank(i) == Some(best))
                            .collect(),
                        None => continue,
                    }
                }
                SurvivorRule::MostRecent => {
                    let Some(best) = candidates
                        .iter()
                        .filter_map(|&i| records[i as usize].recency())
                        .max()
                    else {
                        continue;
                    };
                    candidates
                        .iter()
                        .copied()
                        .filter(|&i| records[i as usize].recency() == Some(best))
                        .collect()
                }
                SurvivorRule::Trust => {
                    let trust = |i: u32| sources[records[i as usize].source as usize].trust;
                    let best = candidates
                        .iter()
                        .map(|&i| trust(i))
                        .min()
                        .unwrap_or(u32::MAX);
                    candidates
                        .iter()
                        .copied()
                        .filter(|&i| trust(i) == best)
                        .collect()
                }
                SurvivorRule::MostComplete => {
                    let best = candidates.iter().map(|&i| filled(i)).max().unwrap_or(0);
                    candidates
                        .iter()
                        .copied()
                        .filter(|&i| filled(i) == best)
                        .collect()
                }
            };
            if narrowed.len() == 1 {
                decided = Some(Rule::from(rule));
            }
            if !narrowed.is_empty() {
                candidates = narrowed;
            }
        }
        let rule = decided.unwrap_or(Rule::TieBreak);
        let chosen = candidates[0];
        for &f in fields {
            if records[chosen as usize].golden_value(f).is_some() {
                golden.lineage[f.index()] = Some(Lineage {
                    record: chosen,
                    rule,
                });
            }
        }
    }
    golden
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{DisappearPolicy, SourceFormat};
    use crate::record::{FieldGroup, Value};
    use std::collections::BTreeMap;

    fn source(name: &str, trust: u32) -> Source {
        Source {
            name: name.into(),
            path: "x".into(),
            format: SourceFormat::Csv,
            mapping_path: "m".into(),
            mapping: crate::mapping::Mapping::parse(
                std::path::Path::new("m"),
                "key = \"id\"\n",
                SourceFormat::Csv,
            )
            .unwrap(),
            trust,
            shadow: false,
            on_disappear: DisappearPolicy::Detach,
        }
    }

    fn rec(source: u16, email: &str, city: &str, updated: Option<i64>) -> Customer {
        Customer {
            source,
            emails: vec![Value::valid(email.into(), email.into())],
            city: (!city.is_empty()).then(|| Value::valid(city.into(), city.into())),
            updated_at: updated,
            ..Customer::default()
        }
    }

    #[test]
    fn rule_chain_decides_and_is_recorded() {
        let sources = vec![source("erp", 1), source("shop", 2)];
        let records = vec![
            rec(0, "old@x.de", "Berlin", Some(10)),
            rec(1, "new@x.de", "", Some(20)),
        ];
        let mut owners = BTreeMap::new();
        owners.insert(FieldGroup::Address, vec!["erp".to_string()]);
        let rules = SurvivorshipConfig {
            owners,
            ..SurvivorshipConfig::default()
        };
        let g = survive(&records, &[0, 1], &rules, &sources);
        // Nobody owns e-mail: the most recent record wins.
        assert_eq!(g.get(GoldenField::Email, &records), Some("new@x.de"));
        assert_eq!(
            g.lineage[GoldenField::Email.index()],
            Some(Lineage {
                record: 1,
                rule: Rule::MostRecent
            })
        );
        // Only one record has a city.
        assert_eq!(g.get(GoldenField::City, &records), Some("Berlin"));
        assert_eq!(rule_of(&g, GoldenField::City), "only_source");
    }

    /// The name of the rule that chose `f`'s value.
    fn rule_of(g: &GoldenProfile, f: GoldenField) -> &'static str {
        g.lineage[f.index()].as_ref().unwrap().rule.name()
    }

    #[test]
    fn a_profile_is_a_record_index_and_a_rule_per_field() {
        // A million profiles are held at once: no strings, no padding beyond the index.
        assert_eq!(std::mem::size_of::<Option<Lineage>>(), 8);
        assert_eq!(std::mem::size_of::<GoldenProfile>(), 8 * GOLDEN_FIELD_COUNT);
    }

    #[test]
    fn owner_beats_recency_and_ties_break_by_record_order() {
        let sources = vec![source("erp", 1), source("shop", 1)];
        let records = vec![
            rec(1, "a@x.de", "Hamburg", None),
            rec(0, "b@x.de", "Bremen", None),
        ];
        let mut owners = BTreeMap::new();
        owners.insert(FieldGroup::Address, vec!["erp".to_string()]);
        let rules = SurvivorshipConfig {
            owners,
            ..SurvivorshipConfig::default()
        };
        let g = survive(&records, &[0, 1], &rules, &sources);
        assert_eq!(g.get(GoldenField::City, &records), Some("Bremen"));
        assert_eq!(rule_of(&g, GoldenField::City), "owner");
        assert_eq!(g.get(GoldenField::Email, &records), Some("a@x.de"));
        assert_eq!(rule_of(&g, GoldenField::Email), "tie_break");
    }
}
