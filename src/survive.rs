//! Survive: `(&[Customer], &Cluster, rules) -> GoldenProfile`.
//!
//! Field groups (the name, the address, ...) survive as a unit from one record, chosen by
//! the rule chain of the config: the group's owning sources, then the most recent record,
//! then the most trusted source, then the most complete record. The final tie-break is the
//! record order (source, key), so the outcome never depends on input order. Every golden
//! value records the record it came from and the rule that decided.

use crate::config::{Source, SurvivorRule, SurvivorshipConfig};
use crate::record::{Customer, FieldGroup, GOLDEN_FIELD_COUNT, GoldenField};

/// Where a golden value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lineage {
    /// Index of the source record.
    pub record: u32,
    /// The rule that chose it: `owner`, `most_recent`, `trust`, `most_complete`,
    /// `only_source` (one candidate) or `tie_break`.
    pub rule: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GoldenProfile {
    pub values: [Option<String>; GOLDEN_FIELD_COUNT],
    pub lineage: [Option<Lineage>; GOLDEN_FIELD_COUNT],
}

impl GoldenProfile {
    pub fn get(&self, f: GoldenField) -> Option<&str> {
        self.values[f.index()].as_deref()
    }
}

pub fn rule_name(rule: SurvivorRule) -> &'static str {
    match rule {
        SurvivorRule::Owner => "owner",
        SurvivorRule::MostRecent => "most_recent",
        SurvivorRule::Trust => "trust",
        SurvivorRule::MostComplete => "most_complete",
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
            Some("only_source")
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
                decided = Some(rule_name(rule));
            }
            if !narrowed.is_empty() {
                candidates = narrowed;
            }
        }
        let rule = decided.unwrap_or("tie_break");
        let chosen = candidates[0];
        for &f in fields {
            if let Some(v) = records[chosen as usize].golden_value(f) {
                golden.values[f.index()] = Some(v);
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
        assert_eq!(g.get(GoldenField::Email), Some("new@x.de"));
        assert_eq!(
            g.lineage[GoldenField::Email.index()],
            Some(Lineage {
                record: 1,
                rule: "most_recent"
            })
        );
        // Only one record has a city.
        assert_eq!(g.get(GoldenField::City), Some("Berlin"));
        assert_eq!(
            g.lineage[GoldenField::City.index()].as_ref().unwrap().rule,
            "only_source"
        );
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
        assert_eq!(g.get(GoldenField::City), Some("Bremen"));
        assert_eq!(
            g.lineage[GoldenField::City.index()].as_ref().unwrap().rule,
            "owner"
        );
        assert_eq!(g.get(GoldenField::Email), Some("a@x.de"));
        assert_eq!(
            g.lineage[GoldenField::Email.index()].as_ref().unwrap().rule,
            "tie_break"
        );
    }
}
