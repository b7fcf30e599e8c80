//! Block: `&[MatchRecord] -> Blocking` (de-duplicated candidate pairs, with counts per rule).
//!
//! Each rule groups records that share a key (several rules are OR-ed). A block larger than
//! `max_block_size` (a hot key such as a placeholder phone shared by thousands of rows) is
//! skipped and reported instead of exploding into millions of pairs; the total number of
//! pairs is checked against a budget before any pair is made.

use rayon::prelude::*;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::score::MatchRecord;

/// A pair of record indices, `a < b`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CandidatePair {
    pub a: u32,
    pub b: u32,
}

/// Parts a blocking key can be built from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyPart {
    Email,
    Phone,
    GivenName,
    GivenInitial,
    FamilyName,
    BirthDate,
    Postcode,
    City,
    Street,
}

#[derive(Debug, Clone, Serialize)]
pub struct BlockingRule {
    pub name: String,
    pub parts: Vec<KeyPart>,
}

impl BlockingRule {
    fn new(parts: &[KeyPart]) -> Self {
        let name = parts
            .iter()
            .map(|p| {
                serde_json::to_value(p)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default()
            })
            .collect::<Vec<_>>()
            .join("+");
        BlockingRule {
            name,
            parts: parts.to_vec(),
        }
    }
}

/// Rules that together find nearly every true pair while keeping blocks small.
pub fn default_rules() -> Vec<BlockingRule> {
    use KeyPart::*;
    [
        &[Email][..],
        &[Phone],
        &[FamilyName, Postcode],
        &[FamilyName, BirthDate],
        &[GivenName, BirthDate],
        &[GivenInitial, FamilyName, City],
        &[Street, Postcode],
    ]
    .into_iter()
    .map(BlockingRule::new)
    .collect()
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct RuleStats {
    pub rule: String,
    /// Pairs this rule proposed (before de-duplication across rules).
    pub pairs: u64,
    pub blocks: u64,
    /// Blocks over the size cap, skipped.
    pub capped_blocks: u64,
    /// Records in those blocks.
    pub capped_records: u64,
    pub largest_block: u64,
}

#[derive(Debug, Default)]
pub struct Blocking {
    pub pairs: Vec<CandidatePair>,
    pub stats: Vec<RuleStats>,
}

/// The values one record has for a key part: none, one, or several (e-mails, phones).
fn part_values(record: &MatchRecord, part: KeyPart) -> &[crate::record::Text] {
    fn one(v: &Option<crate::record::Text>) -> &[crate::record::Text] {
        v.as_ref().map_or(&[], std::slice::from_ref)
    }
    match part {
        KeyPart::Email => &record.emails,
        KeyPart::Phone => &record.phones,
        // The initial is cut from the name where the key is made (`key_bytes`).
        KeyPart::GivenName | KeyPart::GivenInitial => one(&record.given),
        KeyPart::FamilyName => one(&record.family),
        KeyPart::BirthDate => one(&record.birth_date),
        KeyPart::Postcode => one(&record.postcode),
        KeyPart::City => one(&record.city),
        KeyPart::Street => one(&record.street),
    }
}

/// The bytes a part contributes to a key: the value, or its first byte for the initial
/// (`None` when that is not a whole character).
fn key_bytes(part: KeyPart, value: &str) -> Option<&[u8]> {
    match part {
        KeyPart::GivenInitial => value.get(..1).map(str::as_bytes),
        _ => Some(value.as_bytes()),
    }
}

/// The keys (hashes) one record has under one rule; several when it has several e-mails
/// or phones: one per combination of the parts' values. A key is the XXH3 hash of the
/// parts' values, each followed by 0x1f, hashed in one go from a buffer (the same hash as
/// feeding them to a streaming hasher one by one, which is how stored keys were made).
fn keys(record: &MatchRecord, rule: &BlockingRule, out: &mut Vec<u64>) {
    let lists: Vec<&[crate::record::Text]> =
        rule.parts.iter().map(|&p| part_values(record, p)).collect();
    if lists.iter().any(|l| l.is_empty()) {
        return;
    }
    // An odometer over the combinations, the last part turning fastest.
    let mut at = vec![0usize; lists.len()];
    let mut buf: Vec<u8> = Vec::with_capacity(64);
    'combos: loop {
        buf.clear();
        for ((&part, list), &i) in rule.parts.iter().zip(&lists).zip(&at) {
            let Some(bytes) = key_bytes(part, &list[i]) else {
                return;
            };
            buf.extend_from_slice(bytes);
            buf.push(0x1f);
        }
        out.push(xxhash_rust::xxh3::xxh3_64(&buf));
        for p in (0..at.len()).rev() {
            at[p] += 1;
            if at[p] < lists[p].len() {
                continue 'combos;
            }
            at[p] = 0;
        }
        return;
    }
}

/// A record's keys under every rule, each mixed with its rule's position so that one
/// sorted set holds them all. The store keeps them per record
/// (`customer_sources.block_keys`), so that a sync finds the existing records a new or
/// changed one shares a block with without re-reading every record.
pub fn record_keys(record: &MatchRecord, rules: &[BlockingRule]) -> Vec<u64> {
    let mut out = Vec::new();
    let mut ks = Vec::new();
    for (i, rule) in rules.iter().enumerate() {
        ks.clear();
        keys(record, rule, &mut ks);
        out.extend(ks.iter().map(|&k| mix(i, k)));
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// A rule's key made distinct from the same key under another rule.
pub fn mix(rule: usize, key: u64) -> u64 {
    xxhash_rust::xxh3::xxh3_64_with_seed(&key.to_le_bytes(), rule as u64)
}

/// Names the rules and the key derivation: keys stored under another version are not
/// comparable with this one's, and a sync then re-resolves everything.
pub fn keys_version(rules: &[BlockingRule]) -> String {
    let names: Vec<&str> = rules.iter().map(|r| r.name.as_str()).collect();
    format!("1:{}", names.join(","))
}

/// Keys as stored: 16 hex digits each.
pub fn encode_keys(keys: &[u64]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = Vec::with_capacity(keys.len() * 16);
    for k in keys {
        s.extend((0..16).rev().map(|d| HEX[(k >> (4 * d) & 0xf) as usize]));
    }
    // Hex digits are ASCII.
    String::from_utf8(s).unwrap_or_default()
}

/// The keys of [`encode_keys`]; `None` when the text is not such a list.
pub fn decode_keys(s: &str) -> Option<Vec<u64>> {
    if !s.len().is_multiple_of(16) || !s.is_ascii() {
        return None;
    }
    (0..s.len() / 16)
        .map(|i| u64::from_str_radix(&s[i * 16..i * 16 + 16], 16).ok())
        .collect()
}

pub fn block(
    records: &[MatchRecord],
    rules: &[BlockingRule],
    max_block_size: usize,
    pair_budget: u64,
) -> Result<Blocking> {
    block_within(records, rules, max_block_size, pair_budget, None)
}

/// [`block`] over some of a store's records: `held(mixed key)` is how many records
/// outside `records` share the key, so that a block is capped by its size in the whole
/// store, as a full run caps it.
pub fn block_within(
    records: &[MatchRecord],
    rules: &[BlockingRule],
    max_block_size: usize,
    pair_budget: u64,
    held: Option<&(dyn Fn(u64) -> u64 + Sync)>,
) -> Result<Blocking> {
    let mut stats = Vec::with_capacity(rules.len());
    let mut groups_per_rule = Vec::with_capacity(rules.len());
    let mut total: u64 = 0;
    for (ri, rule) in rules.iter().enumerate() {
        let mut keyed: Vec<(u64, u32)> = records
            .par_iter()
            .enumerate()
            .flat_map_iter(|(i, r)| {
                let mut ks = Vec::new();
                keys(r, rule, &mut ks);
                ks.sort_unstable();
                ks.dedup();
                ks.into_iter().map(move |k| (k, i as u32))
            })
            .collect();
        keyed.par_sort_unstable();
        let mut s = RuleStats {
            rule: rule.name.clone(),
            ..RuleStats::default()
        };
        let mut groups: Vec<std::ops::Range<usize>> = Vec::new();
        let mut start = 0;
        while start < keyed.len() {
            let mut end = start + 1;
            while end < keyed.len() && keyed[end].0 == keyed[start].0 {
                end += 1;
            }
            let n = (end - start) as u64;
            if n >= 2 {
                let n_all = n + held.map_or(0, |h| h(mix(ri, keyed[start].0)));
                s.blocks += 1;
                s.largest_block = s.largest_block.max(n_all);
                if n_all as usize > max_block_size {
                    s.capped_blocks += 1;
                    s.capped_records += n_all;
                } else {
                    s.pairs += n * (n - 1) / 2;
                    groups.push(start..end);
                }
            }
            start = end;
        }
        total += s.pairs;
        stats.push(s);
        groups_per_rule.push((keyed, groups));
    }
    if total > pair_budget {
        return Err(Error::PairBudget {
            pairs: total,
            budget: pair_budget,
        });
    }
    let mut pairs: Vec<CandidatePair> = groups_per_rule
        .par_iter()
        .flat_map_iter(|(keyed, groups)| {
            groups.iter().flat_map(move |g| {
                let members = &keyed[g.clone()];
                members.iter().enumerate().flat_map(move |(x, &(_, a))| {
                    members[x + 1..]
                        .iter()
                        .filter(move |&&(_, b)| a != b)
                        .map(move |&(_, b)| CandidatePair {
                            a: a.min(b),
                            b: a.max(b),
                        })
                })
            })
        })
        .collect();
    pairs.par_sort_unstable();
    pairs.dedup();
    Ok(Blocking { pairs, stats })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(email: &str, phone: &str, family: &str) -> MatchRecord {
        MatchRecord {
            emails: (!email.is_empty())
                .then(|| email.into())
                .into_iter()
                .collect(),
            phones: (!phone.is_empty())
                .then(|| phone.into())
                .into_iter()
                .collect(),
            family: (!family.is_empty()).then(|| family.into()),
            ..MatchRecord::default()
        }
    }

    /// The keys as they were made before (and are stored in existing stores): one
    /// streaming hasher per combination, fed part by part.
    fn streamed_keys(record: &MatchRecord, rule: &BlockingRule) -> Vec<u64> {
        let mut combos = vec![xxhash_rust::xxh3::Xxh3::new()];
        for part in &rule.parts {
            let values: Vec<&str> = match part {
                KeyPart::GivenInitial => record
                    .given
                    .as_deref()
                    .and_then(|g| g.get(..1))
                    .into_iter()
                    .collect(),
                p => part_values(record, *p).iter().map(|t| t.as_str()).collect(),
            };
            if values.is_empty() {
                return Vec::new();
            }
            let mut next = Vec::new();
            for c in &combos {
                for v in &values {
                    let mut h = c.clone();
                    h.update(v.as_bytes());
                    h.update(&[0x1f]);
                    next.push(h);
                }
            }
            combos = next;
        }
        combos.into_iter().map(|h| h.digest()).collect()
    }

    #[test]
    fn keys_are_those_a_streaming_hasher_made() {
        let mut records = vec![
            rec("a@x.de", "+491", "muller"),
            rec("", "", ""),
            rec("b@x.de", "", "o'brien"),
        ];
        let mut many = rec("c@x.de", "+4930", "weber");
        many.emails.push("d@y.de".into());
        many.emails.push("e@z.de".into());
        many.phones.push("+4940".into());
        many.given = Some("émile".into());
        many.birth_date = Some("1980-02-03".into());
        many.postcode = Some("10115".into());
        many.city = Some("berlin".into());
        many.street = Some("hauptstr1".into());
        records.push(many.clone());
        many.given = Some("anna".into());
        many.family = Some("".into());
        records.push(many.clone());
        // Keys of 300 bytes.
        many.street = Some("x".repeat(150).into());
        many.postcode = Some("y".repeat(150).into());
        records.push(many);
        // Two rules of several multi-valued parts, beside the default ones.
        let mut rules = default_rules();
        rules.push(BlockingRule::new(&[
            KeyPart::Email,
            KeyPart::Phone,
            KeyPart::City,
        ]));
        rules.push(BlockingRule::new(&[KeyPart::Phone, KeyPart::GivenInitial]));
        let mut with_keys = 0;
        for r in &records {
            for rule in &rules {
                let mut got = Vec::new();
                keys(r, rule, &mut got);
                let mut want = streamed_keys(r, rule);
                got.sort_unstable();
                want.sort_unstable();
                assert_eq!(got, want, "{} of {r:?}", rule.name);
                with_keys += usize::from(got.len() > 1);
            }
        }
        assert!(with_keys >= 3, "{with_keys}");
    }

    #[test]
    fn encoded_keys_are_sixteen_hex_digits_each() {
        let keys = [0, 1, 0xabc, u64::MAX, 0x0123_4567_89ab_cdef];
        let want: String = keys.iter().map(|k| format!("{k:016x}")).collect();
        assert_eq!(encode_keys(&keys), want);
        assert_eq!(decode_keys(&want), Some(keys.to_vec()));
        assert_eq!(encode_keys(&[]), "");
    }

    #[test]
    fn pairs_are_deduplicated_across_rules() {
        let records = vec![
            rec("a@x.de", "+491", "muller"),
            rec("a@x.de", "+491", "muller"),
            rec("b@x.de", "", "smith"),
        ];
        let b = block(&records, &default_rules(), 100, 1000).unwrap();
        assert_eq!(b.pairs, vec![CandidatePair { a: 0, b: 1 }]);
        assert_eq!(b.stats[0].pairs, 1);
        assert_eq!(b.stats[1].pairs, 1);
    }

    #[test]
    fn hot_keys_are_capped_and_reported() {
        let mut records: Vec<MatchRecord> = (0..500)
            .map(|i| rec(&format!("p{i}@x.de"), "+490000000", ""))
            .collect();
        records.push(rec("p1@x.de", "", ""));
        let b = block(&records, &default_rules(), 50, 10_000).unwrap();
        let phone = &b.stats[1];
        assert_eq!(phone.capped_blocks, 1);
        assert_eq!(phone.capped_records, 500);
        assert_eq!(phone.pairs, 0);
        assert_eq!(b.pairs, vec![CandidatePair { a: 1, b: 500 }]);
    }

    #[test]
    fn pair_budget_stops_the_run() {
        let records: Vec<MatchRecord> = (0..100).map(|_| rec("same@x.de", "", "")).collect();
        let e = block(&records, &default_rules(), 1000, 100).unwrap_err();
        assert!(e.to_string().contains("4950 candidate pairs"), "{e}");
    }
}
