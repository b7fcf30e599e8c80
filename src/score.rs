//! Score: `(&[MatchRecord], &[CandidatePair]) -> Vec<ScoredPair>`.
//!
//! A Fellegi–Sunter model: each comparison puts a pair at one of its levels, each level
//! carries a match weight `log2(m/u)`, and the total weight plus the prior gives the match
//! probability. Levels marked as vetoes (different birth dates, clearly different given
//! names, Jr against Sr) forbid a link whatever the other evidence says: over-merging two
//! customers is the expensive error.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::block::CandidatePair;
use crate::record::{Customer, Text};

/// The keys a record is compared on, derived once from the cleansed record.
///
/// Its keys are [`Text`]: most fit in the 24 bytes of the value itself, so a record takes
/// about one heap allocation (its e-mails and phones) instead of ten.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MatchRecord {
    pub given: Option<Text>,
    pub family: Option<Text>,
    pub suffix: Option<Text>,
    /// `YYYY-MM-DD`
    pub birth_date: Option<Text>,
    pub emails: Vec<Text>,
    pub phones: Vec<Text>,
    pub postcode: Option<Text>,
    pub street: Option<Text>,
    pub city: Option<Text>,
    /// Whether a phone is a mobile, worked out on first use (see [`has_mobile`]).
    pub(crate) mobile: Lazy,
}

/// A value derived from the record on first use and kept: not part of what the record
/// is (equal records are equal whether it has been worked out or not).
#[derive(Debug, Clone, Default)]
pub(crate) struct Lazy(std::sync::OnceLock<bool>);

impl PartialEq for Lazy {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

/// Match keys longer than this many characters are cut: an absurd value (a 100 KB name)
/// must not make blocking and Jaro-Winkler quadratic. The store keeps the value whole.
pub const MAX_KEY_CHARS: usize = 256;
/// At most this many e-mails or phones of one record take part in matching.
pub const MAX_KEY_VALUES: usize = 32;

impl MatchRecord {
    pub fn from_customer(c: &Customer) -> MatchRecord {
        fn key(v: &Option<crate::record::Value>) -> Option<&str> {
            v.as_ref().and_then(|v| v.key.as_deref())
        }
        fn keys(vs: &[crate::record::Value]) -> impl Iterator<Item = &str> {
            vs.iter().filter_map(|v| v.key.as_deref())
        }
        MatchRecord::from_keys(StoredKeys {
            given: key(&c.given_name),
            family: key(&c.family_name),
            suffix: c.suffix.as_deref(),
            birth_date: key(&c.birth_date),
            emails: keys(&c.emails),
            phones: keys(&c.phones),
            postcode: key(&c.postcode),
            street: key(&c.address_line1),
            city: key(&c.city),
        })
    }

    /// The match keys of a record as the store holds it (`customer_sources.record_json`),
    /// equal to `from_customer` of the parsed record, without building the record: a sync
    /// compares its changes with many stored records, and needs few of their fields.
    pub fn from_record_json(json: &str) -> serde_json::Result<MatchRecord> {
        let v: KeysView<'_> = serde_json::from_str(json)?;
        fn key<'v>(v: &'v Option<KeyOnly<'_>>) -> Option<&'v str> {
            v.as_ref().and_then(|v| v.key.as_deref())
        }
        fn keys<'v>(vs: &'v [KeyOnly<'_>]) -> impl Iterator<Item = &'v str> {
            vs.iter().filter_map(|v| v.key.as_deref())
        }
        Ok(MatchRecord::from_keys(StoredKeys {
            given: key(&v.given_name),
            family: key(&v.family_name),
            suffix: v.suffix.as_deref(),
            birth_date: key(&v.birth_date),
            emails: keys(&v.emails),
            phones: keys(&v.phones),
            postcode: key(&v.postcode),
            street: key(&v.address_line1),
            city: key(&v.city),
        }))
    }

    fn from_keys<'k>(
        k: StoredKeys<'k, impl Iterator<Item = &'k str>, impl Iterator<Item = &'k str>>,
    ) -> MatchRecord {
        MatchRecord {
            given: k.given.map(capped),
            family: k.family.map(capped),
            // Only a generation (Jr, Sr, III) tells two people apart; post-nominals (PhD) do not.
            suffix: k
                .suffix
                .and_then(crate::cleanse::name::generation_key)
                .map(|s| capped(&s.to_lowercase())),
            birth_date: k.birth_date.map(capped),
            emails: k.emails.take(MAX_KEY_VALUES).map(capped).collect(),
            phones: k.phones.take(MAX_KEY_VALUES).map(capped).collect(),
            postcode: k.postcode.map(capped),
            street: k.street.map(capped),
            city: k.city.map(capped),
            mobile: Lazy::default(),
        }
    }
}

/// The keys of a record that matching uses (see [`MatchRecord::from_keys`]).
struct StoredKeys<'k, E, P> {
    given: Option<&'k str>,
    family: Option<&'k str>,
    suffix: Option<&'k str>,
    birth_date: Option<&'k str>,
    emails: E,
    phones: P,
    postcode: Option<&'k str>,
    street: Option<&'k str>,
    city: Option<&'k str>,
}

/// The fields of a stored record's JSON that matching reads; the others are skipped
/// unparsed. Mirrors [`Customer`]'s serialised form (a missing field is an absent value, as
/// there).
#[derive(Deserialize, Default)]
#[serde(default)]
struct KeysView<'a> {
    #[serde(borrow)]
    given_name: Option<KeyOnly<'a>>,
    #[serde(borrow)]
    family_name: Option<KeyOnly<'a>>,
    #[serde(borrow)]
    suffix: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    birth_date: Option<KeyOnly<'a>>,
    #[serde(borrow)]
    emails: Vec<KeyOnly<'a>>,
    #[serde(borrow)]
    phones: Vec<KeyOnly<'a>>,
    #[serde(borrow)]
    postcode: Option<KeyOnly<'a>>,
    #[serde(borrow)]
    address_line1: Option<KeyOnly<'a>>,
    #[serde(borrow)]
    city: Option<KeyOnly<'a>>,
}

/// A [`crate::record::Value`] of which only the key is read (its display value must be
/// there, as it must for the value).
#[derive(Deserialize)]
struct KeyOnly<'a> {
    #[allow(dead_code)]
    display: serde::de::IgnoredAny,
    #[serde(borrow, default)]
    key: Option<std::borrow::Cow<'a, str>>,
}

/// The first [`MAX_KEY_CHARS`] characters of a key.
fn capped(key: &str) -> Text {
    match key.char_indices().nth(MAX_KEY_CHARS) {
        Some((end, _)) => Text::from(&key[..end]),
        None => Text::from(key),
    }
}

/// One comparison of the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Comparison {
    GivenName,
    FamilyName,
    BirthDate,
    Email,
    Phone,
    Address,
    Suffix,
}

/// A level of a comparison with its m and u probabilities.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Level {
    pub name: String,
    pub m: f64,
    pub u: f64,
    /// A pair at this level is never linked.
    pub veto: bool,
}

impl Level {
    pub fn weight(&self) -> f64 {
        (self.m / self.u).log2()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComparisonModel {
    pub comparison: Comparison,
    /// Levels from the strongest agreement down to disagreement; "null" (a side missing)
    /// is not a level and weighs 0.
    pub levels: Vec<Level>,
}

fn lv(name: &str, m: f64, u: f64) -> Level {
    Level {
        name: name.to_string(),
        m,
        u,
        veto: false,
    }
}

fn veto(name: &str, m: f64, u: f64) -> Level {
    Level {
        name: name.to_string(),
        m,
        u,
        veto: true,
    }
}

/// The model's parameters: what `--save-model` writes and `--model` reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Model {
    pub comparisons: Vec<ComparisonModel>,
    /// log2 of the prior odds that two records compared are the same customer.
    pub prior_weight: f64,
    /// Match probability at or above which a pair is linked.
    pub threshold: f64,
    /// Comparisons whose exact level is adjusted by term frequency.
    pub tf_adjust: Vec<Comparison>,
}

impl Model {
    /// Defaults that suit customer data; `prior_weight` is set from the data by
    /// [`estimate_prior`].
    pub fn default_model(threshold: f64) -> Model {
        use Comparison::*;
        let c = |comparison, levels: Vec<Level>| ComparisonModel { comparison, levels };
        Model {
            comparisons: vec![
                c(
                    GivenName,
                    vec![
                        lv("exact", 0.82, 0.01),
                        lv("jaro_winkler_0.92", 0.10, 0.006),
                        lv("jaro_winkler_0.80", 0.04, 0.03),
                        lv("initial", 0.03, 0.05),
                        veto("different", 0.01, 0.904),
                    ],
                ),
                c(
                    FamilyName,
                    vec![
                        lv("exact", 0.85, 0.004),
                        lv("jaro_winkler_0.92", 0.07, 0.004),
                        lv("jaro_winkler_0.80", 0.03, 0.02),
                        lv("different", 0.05, 0.972),
                    ],
                ),
                c(
                    BirthDate,
                    vec![
                        lv("exact", 0.93, 0.0003),
                        lv("one_component_or_swapped", 0.05, 0.005),
                        veto("different", 0.02, 0.9947),
                    ],
                ),
                c(
                    Email,
                    vec![
                        lv("exact", 0.60, 0.00001),
                        lv("local_part", 0.05, 0.0005),
                        lv("different", 0.35, 0.99949),
                    ],
                ),
                c(
                    Phone,
                    vec![
                        lv("exact", 0.60, 0.0001),
                        lv("last_7_digits", 0.03, 0.001),
                        lv("different", 0.37, 0.9989),
                    ],
                ),
                c(
                    Address,
                    vec![
                        lv("street_and_postcode", 0.65, 0.0005),
                        lv("street_fuzzy_same_area", 0.10, 0.002),
                        lv("same_postcode", 0.05, 0.01),
                        lv("same_city", 0.05, 0.05),
                        lv("different", 0.15, 0.9375),
                    ],
                ),
                c(
                    Suffix,
                    vec![
                        lv("same", 0.97, 0.9),
                        veto("conflict", 0.01, 0.08),
                        veto("one_sided", 0.02, 0.02),
                    ],
                ),
            ],
            prior_weight: -10.0,
            threshold,
            tf_adjust: vec![GivenName, FamilyName],
        }
    }

    /// Check a model read from a file: every comparison known once, with the number of
    /// levels it produces, and probabilities in (0, 1].
    pub fn validate(&self) -> Result<(), String> {
        if self.comparisons.len() > MAX_COMPARISONS {
            return Err(format!("at most {MAX_COMPARISONS} comparisons"));
        }
        let defaults = Model::default_model(0.5);
        for (i, cm) in self.comparisons.iter().enumerate() {
            if self.comparisons[..i]
                .iter()
                .any(|o| o.comparison == cm.comparison)
            {
                return Err(format!("comparison {:?} appears twice", cm.comparison));
            }
            let want = defaults
                .comparisons
                .iter()
                .find(|d| d.comparison == cm.comparison)
                .map_or(0, |d| d.levels.len());
            if cm.levels.len() != want {
                return Err(format!(
                    "comparison {:?} must have {want} levels, has {}",
                    cm.comparison,
                    cm.levels.len()
                ));
            }
            for l in &cm.levels {
                let ok = |p: f64| p > 0.0 && p <= 1.0;
                if !ok(l.m) || !ok(l.u) {
                    return Err(format!(
                        "level {} of {:?}: m and u must be in (0, 1]",
                        l.name, cm.comparison
                    ));
                }
            }
        }
        if !(self.threshold > 0.0 && self.threshold < 1.0 && self.prior_weight.is_finite()) {
            return Err("threshold must be in (0, 1) and prior_weight finite".into());
        }
        Ok(())
    }

    pub fn threshold_weight(&self) -> f64 {
        (self.threshold / (1.0 - self.threshold)).log2()
    }
}

/// The level one comparison gave a pair: `None` when a side is missing.
pub fn compare(c: Comparison, x: &MatchRecord, y: &MatchRecord) -> Option<usize> {
    fn both<'a>(a: &'a Option<Text>, b: &'a Option<Text>) -> Option<(&'a str, &'a str)> {
        Some((a.as_deref()?, b.as_deref()?))
    }
    match c {
        Comparison::GivenName => {
            let (a, b) = both(&x.given, &y.given)?;
            Some(if a == b || crate::nicknames::same_name(a, b) {
                0
            } else {
                let jw = jaro_winkler(a, b);
                if jw >= 0.92 {
                    1
                } else if jw >= 0.80 {
                    2
                } else if a.get(..1) == b.get(..1) && (a.len() == 1 || b.len() == 1) {
                    3
                } else {
                    4
                }
            })
        }
        Comparison::FamilyName => {
            let (a, b) = both(&x.family, &y.family)?;
            Some(if a == b {
                0
            } else {
                let jw = jaro_winkler(a, b);
                if jw >= 0.92 {
                    1
                } else if jw >= 0.80 {
                    2
                } else {
                    3
                }
            })
        }
        Comparison::BirthDate => {
            let (a, b) = both(&x.birth_date, &y.birth_date)?;
            Some(if a == b {
                0
            } else if date_near(a, b) {
                1
            } else {
                2
            })
        }
        Comparison::Email => {
            if x.emails.is_empty() || y.emails.is_empty() {
                return None;
            }
            Some(if x.emails.iter().any(|e| y.emails.contains(e)) {
                0
            } else if x.emails.iter().any(|e| {
                let l = local(e);
                l.len() >= 4
                    && y.emails.iter().any(|f| local(f) == l)
                    && !spells_a_name(l, x)
                    && !spells_a_name(l, y)
            }) {
                1
            } else {
                2
            })
        }
        Comparison::Phone => {
            if x.phones.is_empty() || y.phones.is_empty() {
                return None;
            }
            Some(if x.phones.iter().any(|p| y.phones.contains(p)) {
                0
            } else if x.phones.iter().any(|p| {
                p.len() >= 8
                    && y.phones
                        .iter()
                        .any(|q| q.len() >= 8 && tail(p, 7) == tail(q, 7))
            }) {
                1
            } else {
                2
            })
        }
        Comparison::Address => {
            let street = both(&x.street, &y.street);
            let postcode = both(&x.postcode, &y.postcode);
            let city = both(&x.city, &y.city);
            if street.is_none() && postcode.is_none() && city.is_none() {
                return None;
            }
            let same_pc = postcode.is_some_and(|(a, b)| a == b);
            let same_city = city.is_some_and(|(a, b)| a == b);
            Some(match street {
                Some((a, b)) if a == b && (same_pc || (postcode.is_none() && same_city)) => 0,
                // A street spelt a little differently, but never another house number:
                // `weissdornweg40` and `weissdornweg44` are two addresses.
                Some((a, b))
                    if (same_pc || same_city)
                        && same_house_number(a, b)
                        && jaro_winkler(a, b) >= 0.90 =>
                {
                    1
                }
                _ if same_pc => 2,
                _ if same_city => 3,
                _ => 4,
            })
        }
        Comparison::Suffix => {
            let (a, b) = (x.suffix.as_deref(), y.suffix.as_deref());
            match (a, b) {
                (None, None) => None,
                (Some(a), Some(b)) if a == b => Some(0),
                // Jr against nothing: the suffix is often left out, but it says that a
                // namesake relative exists (usually at the same address, with the same
                // landline). Only a personal identifier tells which one the record
                // without a suffix is (see `score_pair`).
                (Some(_), None) | (None, Some(_)) => Some(2),
                _ => Some(1),
            }
        }
    }
}

/// Jaro-Winkler similarity, to the bit what `strsim::jaro_winkler` gives. Match keys are
/// almost always ASCII and short: for those it works on bytes, with the matched positions
/// in two bit sets, where strsim decodes UTF-8 and allocates its flags on every call
/// (training and scoring compare millions of names and streets).
fn jaro_winkler(a: &str, b: &str) -> f64 {
    let (x, y) = (a.as_bytes(), b.as_bytes());
    if x.len() > 64 || y.len() > 64 || !x.is_ascii() || !y.is_ascii() {
        return strsim::jaro_winkler(a, b);
    }
    let sim = jaro_ascii(x, y);
    if sim > 0.7 {
        let prefix = x.iter().take(4).zip(y).take_while(|(p, q)| p == q).count();
        sim + 0.1 * prefix as f64 * (1.0 - sim)
    } else {
        sim
    }
}

/// Jaro similarity of two byte strings of at most 64 bytes, computed as strsim's
/// `generic_jaro` does (the same matches, transpositions and arithmetic).
fn jaro_ascii(a: &[u8], b: &[u8]) -> f64 {
    let (a_len, b_len) = (a.len(), b.len());
    if a_len == 0 && b_len == 0 {
        return 1.0;
    } else if a_len == 0 || b_len == 0 {
        return 0.0;
    }
    let range = (a_len.max(b_len) / 2).saturating_sub(1);
    let (mut a_flags, mut b_flags) = (0u64, 0u64);
    let mut matches = 0usize;
    for (i, &c) in a.iter().enumerate() {
        let lo = i.saturating_sub(range);
        let hi = b_len.min(i + range + 1);
        for (j, &d) in b.iter().enumerate().take(hi).skip(lo) {
            if d == c && b_flags & (1 << j) == 0 {
                a_flags |= 1 << i;
                b_flags |= 1 << j;
                matches += 1;
                break;
            }
        }
    }
    if matches == 0 {
        return 0.0;
    }
    let mut transpositions = 0usize;
    let mut j = 0;
    for (i, &c) in a.iter().enumerate() {
        if a_flags & (1 << i) != 0 {
            while b_flags & (1 << j) == 0 {
                j += 1;
            }
            if b[j] != c {
                transpositions += 1;
            }
            j += 1;
        }
    }
    transpositions /= 2;
    ((matches as f64 / a_len as f64)
        + (matches as f64 / b_len as f64)
        + ((matches - transpositions) as f64 / matches as f64))
        / 3.0
}

/// The digits of two street keys agree (house numbers, `94a` = `94`): a street spelt
/// differently may be the same address, another house number is not.
fn same_house_number(a: &str, b: &str) -> bool {
    let digits = |s: &str| s.bytes().filter(u8::is_ascii_digit).collect::<Vec<u8>>();
    digits(a) == digits(b)
}

/// A local part made of nothing but a record's names (`anna.schmidt`, `a.schmidt`,
/// `schmidt.anna`, also spelt a little differently: `t.krueger` for Thomas Krüger): two
/// namesakes' mailboxes at two providers agree on it, so it says no more than the names
/// already do. A local part with anything else (`anna.schmidt1984`, `thewards96`) is the
/// owner's own choice and still counts.
fn spells_a_name(local: &str, r: &MatchRecord) -> bool {
    let (Some(given), Some(family)) = (r.given.as_deref(), r.family.as_deref()) else {
        return false;
    };
    let separator = |c: char| matches!(c, '.' | '_' | '-');
    if !local
        .chars()
        .all(|c| c.is_ascii_lowercase() || separator(c))
    {
        return false;
    }
    let letters: String = local.chars().filter(|&c| !separator(c)).collect();
    let initial = given.get(..1).unwrap_or_default();
    [
        [given, family].concat(),
        [family, given].concat(),
        [initial, family].concat(),
        [family, initial].concat(),
        family.to_string(),
    ]
    .iter()
    .any(|form| *form == letters || jaro_winkler(form, &letters) >= 0.92)
}

fn local(email: &str) -> &str {
    email.split_once('@').map_or(email, |(local, _)| local)
}

fn tail(s: &str, n: usize) -> &str {
    &s[s.len().saturating_sub(n)..]
}

/// Dates that differ in one component, or with day and month swapped.
fn date_near(a: &str, b: &str) -> bool {
    // Borrowed parts, not copies: every candidate pair with two different birth dates
    // comes here.
    fn parts(s: &str) -> Option<(&str, &str, &str)> {
        let mut it = s.split('-');
        Some((it.next()?, it.next()?, it.next()?))
    }
    let (Some((ya, ma, da)), Some((yb, mb, db))) = (parts(a), parts(b)) else {
        return false;
    };
    let same = (ya == yb) as u8 + (ma == mb) as u8 + (da == db) as u8;
    same == 2 || (ya == yb && ma == db && da == mb)
}

/// The evidence one comparison gave.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evidence {
    pub comparison: Comparison,
    pub level: String,
    pub weight: f64,
}

/// Most comparisons a model can have.
pub const MAX_COMPARISONS: usize = 8;
/// The level of each comparison for one pair (`NULL_LEVEL` where a side is missing), in
/// model order: the pair's comparison vector.
pub type Gamma = [u8; MAX_COMPARISONS];
pub const NULL_LEVEL: u8 = u8::MAX;

/// The comparison vector of a pair.
pub fn gamma(model: &Model, x: &MatchRecord, y: &MatchRecord) -> Gamma {
    let mut g = [NULL_LEVEL; MAX_COMPARISONS];
    for (slot, cm) in g.iter_mut().zip(&model.comparisons) {
        if let Some(l) = compare(cm.comparison, x, y) {
            *slot = l as u8;
        }
    }
    g
}

/// The comparison vector of every pair, in pair order, worked out on every core.
pub fn gammas(model: &Model, records: &[MatchRecord], pairs: &[CandidatePair]) -> Vec<Gamma> {
    pairs
        .par_iter()
        .map(|p| gamma(model, &records[p.a as usize], &records[p.b as usize]))
        .collect()
}

/// How common each record's names are, for term-frequency adjustment: agreeing on
/// "Smith" is weaker evidence than agreeing on "Zwierzchowski".
#[derive(Debug, Clone, Default)]
pub struct TermFrequencies {
    /// Share of records with this record's given-name key (0 when it has none).
    pub given: Vec<f32>,
    pub family: Vec<f32>,
}

/// How many records of a resolution carry each name key: what term frequencies are
/// computed from. A full run stores them (`term_counts`), and a sync that re-resolves only
/// part of the store scores with the stored counts, so that a pair it compares again gets
/// the weight the full run gave it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TermCounts {
    /// Records counted.
    pub records: u64,
    pub given: std::collections::HashMap<String, u32>,
    pub family: std::collections::HashMap<String, u32>,
}

impl TermCounts {
    pub fn count(records: &[MatchRecord]) -> TermCounts {
        let count = |get: fn(&MatchRecord) -> Option<&str>| {
            let mut counts: std::collections::HashMap<String, u32> =
                std::collections::HashMap::new();
            for v in records.iter().filter_map(get) {
                match counts.get_mut(v) {
                    Some(n) => *n += 1,
                    None => {
                        counts.insert(v.to_string(), 1);
                    }
                }
            }
            counts
        };
        TermCounts {
            records: records.len() as u64,
            given: count(|r| r.given.as_deref()),
            family: count(|r| r.family.as_deref()),
        }
    }
}

impl TermFrequencies {
    pub fn compute(records: &[MatchRecord]) -> TermFrequencies {
        TermFrequencies::from_counts(records, &TermCounts::count(records))
    }

    /// The frequencies of `records` by `counts` (a value they do not hold counts once: the
    /// record itself).
    pub fn from_counts(records: &[MatchRecord], counts: &TermCounts) -> TermFrequencies {
        let n = counts.records.max(1) as f32;
        let freq = |get: fn(&MatchRecord) -> Option<&str>,
                    counts: &std::collections::HashMap<String, u32>|
         -> Vec<f32> {
            records
                .iter()
                .map(|r| {
                    get(r).map_or(0.0, |v| {
                        counts.get(v).copied().unwrap_or(0).max(1) as f32 / n
                    })
                })
                .collect()
        };
        TermFrequencies {
            given: freq(|r| r.given.as_deref(), &counts.given),
            family: freq(|r| r.family.as_deref(), &counts.family),
        }
    }

    fn of(&self, c: Comparison, record: u32) -> Option<f64> {
        let v = match c {
            Comparison::GivenName => self.given.get(record as usize),
            Comparison::FamilyName => self.family.get(record as usize),
            _ => None,
        };
        v.map(|&t| t as f64).filter(|&t| t > 0.0)
    }
}

/// Term-frequency adjustment lowers an exact-match weight by at most this many bits.
const TF_MAX_ADJUSTMENT: f64 = 4.0;

/// The weight of one comparison at one level for a pair, with term-frequency adjustment
/// on exact name matches.
fn level_weight(
    model: &Model,
    ci: usize,
    level: u8,
    tf: &TermFrequencies,
    pair: CandidatePair,
) -> f64 {
    let cm = &model.comparisons[ci];
    let Some(l) = cm.levels.get(level as usize) else {
        return 0.0;
    };
    let base = l.weight();
    if level == 0
        && model.tf_adjust.contains(&cm.comparison)
        && let Some(t) = tf.of(cm.comparison, pair.a)
    {
        let adjusted = (l.m / t).log2();
        // Only downwards: a rare name is not proof of identity (namesakes cluster in
        // families and regions far more than independent sampling suggests), but a common
        // one is clearly weaker evidence.
        return adjusted.clamp(base - TF_MAX_ADJUSTMENT, base);
    }
    base
}

#[derive(Debug, Clone, PartialEq)]
pub struct ScoredPair {
    pub pair: CandidatePair,
    /// Total match weight (prior included), log2 odds.
    pub weight: f64,
    pub probability: f64,
    /// The pair hit a veto level.
    pub vetoed: bool,
    pub gamma: Gamma,
}

impl ScoredPair {
    pub fn linked(&self, model: &Model) -> bool {
        !self.vetoed && self.probability >= model.threshold
    }
}

pub fn score_pair(
    model: &Model,
    tf: &TermFrequencies,
    x: &MatchRecord,
    y: &MatchRecord,
    pair: CandidatePair,
) -> ScoredPair {
    score_compared(model, tf, x, y, pair, gamma(model, x, y))
}

/// [`score_pair`] for a pair whose comparison vector is known (training worked it out with
/// a model of the same comparisons): the comparisons, the costly part, are not made again.
pub fn score_compared(
    model: &Model,
    tf: &TermFrequencies,
    x: &MatchRecord,
    y: &MatchRecord,
    pair: CandidatePair,
    gamma: Gamma,
) -> ScoredPair {
    let mut weight = model.prior_weight;
    let mut vetoed = false;
    // An exact e-mail agreement lifts the given-name veto when the names start alike:
    // nicknames the table lacks (Babs for Barbara, Nici for Nicole) differ on the same
    // person, while a couple's family mailbox joins names that do not (Claudia, Michal).
    // A couple's names may share an initial (Daniel, Deborah): with only the initial in
    // common, the mailbox needs a personal identifier beside it (the birth date, or a
    // mobile number; a landline is the household's).
    let level_of = |c: Comparison| level_in(model, &gamma, c).map(|(l, _)| l);
    let start_alike =
        |n: usize| matches!((&x.given, &y.given), (Some(a), Some(b)) if a.get(..n) == b.get(..n));
    let email_exact = level_of(Comparison::Email) == Some(0)
        && start_alike(1)
        && (start_alike(2)
            || level_of(Comparison::BirthDate) == Some(0)
            || x.phones
                .iter()
                .any(|p| y.phones.contains(p) && crate::cleanse::phone::is_mobile(p)));
    // A suffix on one side only forbids the link unless the pair shares an e-mail or a
    // birth date: the father and the son share a name, an address and a landline.
    let confirmed = [Comparison::Email, Comparison::BirthDate]
        .into_iter()
        .any(|c| level_of(c) == Some(0));
    for (ci, &level) in gamma.iter().enumerate().take(model.comparisons.len()) {
        if level != NULL_LEVEL {
            weight += level_weight(model, ci, level, tf, pair);
            let cm = &model.comparisons[ci];
            let lifted = (email_exact && cm.comparison == Comparison::GivenName)
                || (confirmed && cm.comparison == Comparison::Suffix && level == 2);
            vetoed |= cm.levels[level as usize].veto && !lifted;
        }
    }
    vetoed |= separate_contacts(model, &gamma, x, y);
    ScoredPair {
        pair,
        weight,
        probability: probability(weight),
        vetoed,
        gamma,
    }
}

/// Two records that each carry their own e-mail and their own mobile number, none of them
/// shared, and no birth date in common: two people, whatever their names and address say.
///
/// A mobile and a mailbox belong to one person, while a name and an address are shared
/// within a family: a father and his son of the same name at one address (the Jr/Sr
/// suffix often not written), or a namesake relative, agree on everything the model
/// weighs most and differ only there. The model, adding the comparisons as if they were
/// independent, takes each differing contact for a small penalty (one person's records
/// carry several e-mails and phones over time), so 30 bits of name and address agreement
/// outweigh it. A landline is shared by a household and says nothing here, and a number
/// whose type cannot be told (North American numbers) does not count as a mobile.
pub fn separate_contacts(model: &Model, gamma: &Gamma, x: &MatchRecord, y: &MatchRecord) -> bool {
    let level = |c: Comparison| level_in(model, gamma, c);
    // The comparison's last level is its disagreement; a side missing is NULL_LEVEL.
    let different = |c: Comparison| level(c).is_some_and(|(l, n)| l as usize + 1 == n);
    let birth_date_agrees = level(Comparison::BirthDate).is_some_and(|(l, _)| l == 0);
    different(Comparison::Email)
        && different(Comparison::Phone)
        && !birth_date_agrees
        && has_mobile(x)
        && has_mobile(y)
}

/// The record carries a number its country's numbering plan marks as a mobile; worked
/// out once per record.
fn has_mobile(r: &MatchRecord) -> bool {
    *r.mobile
        .0
        .get_or_init(|| r.phones.iter().any(|p| crate::cleanse::phone::is_mobile(p)))
}

/// A comparison's level in `gamma` (`NULL_LEVEL` where a side is missing) and how many
/// levels it has; `None` when the model has no such comparison.
fn level_in(model: &Model, gamma: &Gamma, c: Comparison) -> Option<(u8, usize)> {
    model
        .comparisons
        .iter()
        .zip(gamma)
        .find(|(cm, _)| cm.comparison == c)
        .map(|(cm, &l)| (l, cm.levels.len()))
}

pub fn probability(weight: f64) -> f64 {
    let odds = weight.exp2();
    if odds.is_infinite() {
        1.0
    } else {
        odds / (1.0 + odds)
    }
}

/// Score every candidate pair in parallel; the output keeps the pairs' order.
pub fn score_all(
    model: &Model,
    tf: &TermFrequencies,
    records: &[MatchRecord],
    pairs: &[CandidatePair],
) -> Vec<ScoredPair> {
    pairs
        .par_iter()
        .map(|&p| score_pair(model, tf, &records[p.a as usize], &records[p.b as usize], p))
        .collect()
}

/// The per-comparison evidence of a scored pair, for the audit trail and `explain`.
pub fn evidence(model: &Model, tf: &TermFrequencies, pair: &ScoredPair) -> Vec<Evidence> {
    model
        .comparisons
        .iter()
        .enumerate()
        .zip(&pair.gamma)
        .map(|((ci, cm), &l)| match cm.levels.get(l as usize) {
            Some(level) => Evidence {
                comparison: cm.comparison,
                level: level.name.clone(),
                weight: level_weight(model, ci, l, tf, pair.pair),
            },
            None => Evidence {
                comparison: cm.comparison,
                level: "null".to_string(),
                weight: 0.0,
            },
        })
        .collect()
}

/// The prior from deterministic rules: pairs that agree exactly on an e-mail, or on given
/// name, family name and birth date, are taken as sure matches; their share of all possible
/// pairs is the prior probability that two records are the same customer.
pub fn estimate_prior(records: &[MatchRecord], pairs: &[CandidatePair]) -> f64 {
    let sure = pairs
        .par_iter()
        .filter(|p| {
            let (x, y) = (&records[p.a as usize], &records[p.b as usize]);
            compare(Comparison::Email, x, y) == Some(0)
                || (compare(Comparison::GivenName, x, y) == Some(0)
                    && compare(Comparison::FamilyName, x, y) == Some(0)
                    && compare(Comparison::BirthDate, x, y) == Some(0))
        })
        .count() as u64;
    prior_from_sure_matches(records.len(), sure)
}

/// The prior weight of [`estimate_prior`], from the count of sure matches among `records`.
pub fn prior_from_sure_matches(records: usize, sure: u64) -> f64 {
    let n = records as f64;
    let all_pairs = (n * (n - 1.0) / 2.0).max(1.0);
    let p = ((sure as f64).max(1.0) / all_pairs).min(0.5);
    (p / (1.0 - p)).log2()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_model_read_back_from_json_is_the_same_to_the_bit() {
        let mut model = Model::default_model(0.9);
        for (i, cm) in model.comparisons.iter_mut().enumerate() {
            for (j, level) in cm.levels.iter_mut().enumerate() {
                // Values whose shortest decimal form does not parse back exactly without
                // serde_json's float_roundtrip.
                level.m = 0.9307979398224636 / (1.0 + i as f64 + j as f64 / 7.0);
                level.u = 0.0055534342443747916 * (1.0 + j as f64 / 3.0);
            }
        }
        model.prior_weight = -7.423392213204142;
        let back: Model = serde_json::from_str(&serde_json::to_string(&model).unwrap()).unwrap();
        for (a, b) in model.comparisons.iter().zip(&back.comparisons) {
            for (x, y) in a.levels.iter().zip(&b.levels) {
                assert_eq!(x.m.to_bits(), y.m.to_bits());
                assert_eq!(x.u.to_bits(), y.u.to_bits());
            }
        }
        assert_eq!(model.prior_weight.to_bits(), back.prior_weight.to_bits());
    }

    #[test]
    fn match_keys_read_from_stored_json_are_those_of_the_parsed_record() {
        use crate::record::Value;
        let json = |c: &Customer| serde_json::to_string(c).unwrap();
        let same = |c: &Customer| {
            let stored = json(c);
            let parsed: Customer = serde_json::from_str(&stored).unwrap();
            assert_eq!(
                MatchRecord::from_record_json(&stored).unwrap(),
                MatchRecord::from_customer(&parsed),
                "{stored}"
            );
        };
        // Every cleansed record of the demo's sources, as the store holds them.
        let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/demo/pipeline.toml");
        let pipeline = crate::config::Pipeline::load(std::path::Path::new(demo)).unwrap();
        let mut progress = crate::progress::Progress::new(false);
        let (records, ..) = crate::pipeline::ingest_stage(&pipeline, &mut progress).unwrap();
        let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 24).unwrap();
        let records = crate::pipeline::cleanse_stage(&pipeline, records, today, &mut progress);
        assert!(records.len() > 50);
        let mut with_keys = 0;
        for c in &records {
            same(c);
            with_keys += usize::from(MatchRecord::from_customer(c).family.is_some());
        }
        assert!(with_keys > 50);
        // Escaped and non-ASCII text (owned, not borrowed, when parsed), invalid values
        // (no key), a suffix, more e-mails than matching takes, and an empty record.
        let v = |s: &str| Value::valid(s.into(), s.to_lowercase().as_str().into());
        let odd = Customer {
            given_name: Some(v("Jo \"Jojo\" \\ Ann\u{1}")),
            family_name: Some(v("Ærø-Łódź\ttab")),
            suffix: Some("Jr.".into()),
            birth_date: Some(Value::invalid("31/02/1990".into())),
            emails: (0..40).map(|i| v(&format!("a{i}@x.example"))).collect(),
            phones: vec![Value::invalid("n/a".into()), v("+4930123456")],
            address_line1: Some(v("Hauptstraße 1\n")),
            city: Some(v("Zürich")),
            postcode: Some(Value::invalid("?".into())),
            ..Customer::default()
        };
        same(&odd);
        same(&Customer::default());
        assert!(MatchRecord::from_record_json("{\"given_name\": {\"key\": \"x\"}}").is_err());
        assert!(MatchRecord::from_record_json("{\"emails\": null}").is_err());
    }

    #[test]
    fn absurdly_long_keys_are_cut_for_matching_only() {
        use crate::record::Value;
        let long = "ä".repeat(100_000);
        let c = Customer {
            family_name: Some(Value::valid(long.as_str().into(), long.as_str().into())),
            emails: (0..100)
                .map(|i| {
                    Value::valid(
                        format!("{i}@x.example").into(),
                        format!("{i}@x.example").into(),
                    )
                })
                .collect(),
            ..Customer::default()
        };
        let m = MatchRecord::from_customer(&c);
        assert_eq!(m.family.as_ref().unwrap().chars().count(), MAX_KEY_CHARS);
        assert_eq!(m.emails.len(), MAX_KEY_VALUES);
        // The customer itself is untouched.
        assert_eq!(c.family_name.unwrap().display.len(), long.len());
        assert_eq!(capped("short"), "short");
    }

    fn person(given: &str, family: &str, dob: &str, email: &str) -> MatchRecord {
        let s = |v: &str| (!v.is_empty()).then(|| Text::from(v));
        MatchRecord {
            given: s(given),
            family: s(family),
            birth_date: s(dob),
            emails: s(email).into_iter().collect(),
            ..MatchRecord::default()
        }
    }

    proptest::proptest! {
        /// The ASCII fast path gives strsim's figure to the bit, for strings over a small
        /// alphabet (so that they share letters, prefixes and transpositions), of up to 64
        /// bytes and past it, and with non-ASCII letters.
        #[test]
        fn jaro_winkler_is_strsims(a in "[abcdeé]{0,70}", b in "[abcdeé]{0,70}") {
            proptest::prop_assert_eq!(
                jaro_winkler(&a, &b).to_bits(),
                strsim::jaro_winkler(&a, &b).to_bits()
            );
        }
    }

    #[test]
    fn jaro_winkler_on_names_is_strsims() {
        let names = [
            "",
            "a",
            "ab",
            "ba",
            "martha",
            "marhta",
            "dwayne",
            "duane",
            "dixon",
            "dicksonx",
            "weissdornweg40",
            "weissdornweg44",
            "schmidt",
            "schmitt",
            "smith",
            "jon",
            "john",
            "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijkl",
        ];
        for a in names {
            for b in names {
                assert_eq!(
                    jaro_winkler(a, b).to_bits(),
                    strsim::jaro_winkler(a, b).to_bits(),
                    "{a} / {b}"
                );
            }
        }
    }

    #[test]
    fn comparison_levels() {
        let a = person("robert", "smith", "1980-03-04", "bob.smith@example.com");
        let cases: &[(MatchRecord, Comparison, Option<usize>)] = &[
            (
                person("bob", "smith", "", ""),
                Comparison::GivenName,
                Some(0),
            ),
            (person("robret", "", "", ""), Comparison::GivenName, Some(1)),
            (person("r", "", "", ""), Comparison::GivenName, Some(3)),
            (person("walter", "", "", ""), Comparison::GivenName, Some(4)),
            (person("", "smiht", "", ""), Comparison::FamilyName, Some(1)),
            (person("", "smyth", "", ""), Comparison::FamilyName, Some(2)),
            (
                person("", "", "1980-04-03", ""),
                Comparison::BirthDate,
                Some(1),
            ),
            (
                person("", "", "1980-03-05", ""),
                Comparison::BirthDate,
                Some(1),
            ),
            (
                person("", "", "1975-01-01", ""),
                Comparison::BirthDate,
                Some(2),
            ),
            (person("", "", "", ""), Comparison::BirthDate, None),
            (
                person("", "", "", "bob.smith@example.org"),
                Comparison::Email,
                Some(1),
            ),
            (
                person("", "", "", "bob@example.org"),
                Comparison::Email,
                Some(2),
            ),
            (
                person("", "", "", "bob.smith@example.com"),
                Comparison::Email,
                Some(0),
            ),
        ];
        for (b, c, want) in cases {
            assert_eq!(compare(*c, &a, b), *want, "{c:?} {b:?}");
        }
    }

    #[test]
    fn a_local_part_that_only_spells_the_name_is_no_evidence() {
        let thomas = |email: &str| person("thomas", "kruger", "", email);
        let level = |a: &MatchRecord, b: &MatchRecord| compare(Comparison::Email, a, b);
        // Two namesakes' mailboxes at two providers: the names already said this, also
        // when one record has no names or spells them a little differently.
        for local in ["t.krueger", "thomas.kruger", "kruger_thomas", "kruger"] {
            let (a, b) = (format!("{local}@web.de"), format!("{local}@example.com"));
            assert_eq!(level(&thomas(&a), &thomas(&b)), Some(2), "{local}");
            assert_eq!(
                level(&thomas(&a), &person("", "", "", &b)),
                Some(2),
                "{local}"
            );
        }
        // A local part of the owner's own making still counts, with or without names.
        assert_eq!(
            level(
                &thomas("tkrueger1961@web.de"),
                &thomas("tkrueger1961@example.com")
            ),
            Some(1)
        );
        let nameless = |email: &str| person("", "", "", email);
        assert_eq!(
            level(&nameless("t.krueger@web.de"), &nameless("t.krueger@gmx.de")),
            Some(1)
        );
        assert!(!spells_a_name(
            "thewards",
            &person("daniel", "ward", "", "")
        ));
        assert!(spells_a_name(
            "daniel.ward",
            &person("daniel", "ward", "", "")
        ));
    }

    #[test]
    fn a_fuzzy_street_keeps_its_house_number() {
        let at = |street: &str, postcode: &str| MatchRecord {
            street: Some(street.into()),
            postcode: Some(postcode.into()),
            city: Some("berlin".into()),
            ..MatchRecord::default()
        };
        let a = at("weissdornweg40", "10282");
        let cases: &[(MatchRecord, Option<usize>)] = &[
            (at("weissdornweg40", "10282"), Some(0)),
            // Spelt differently, same house: fuzzy.
            (at("weisdornweg40", "10282"), Some(1)),
            (at("weissdornweg40", "12353"), Some(1)),
            // Another house number in the same street is another address.
            (at("weissdornweg44", "12353"), Some(3)),
            (at("weissdornweg44", "10282"), Some(2)),
        ];
        for (b, want) in cases {
            assert_eq!(compare(Comparison::Address, &a, b), *want, "{b:?}");
        }
    }

    #[test]
    fn a_suffix_on_one_side_needs_a_personal_identifier() {
        let model = Model {
            prior_weight: -15.0,
            ..Model::default_model(0.9)
        };
        let tf = TermFrequencies::default();
        let p = CandidatePair { a: 0, b: 1 };
        let with = |suffix: Option<&str>, dob: &str, email: &str| MatchRecord {
            suffix: suffix.map(Text::from),
            street: Some("hauptstr5".into()),
            postcode: Some("10115".into()),
            phones: vec!["+49301234567".into()],
            ..person("jens", "wagner", dob, email)
        };
        let sr = with(Some("sr"), "1943-02-05", "jens.wagner@example.com");
        // Name, address and landline only: the son as well as the father.
        let bare = with(None, "", "jenswagner@example.org");
        let s = score_pair(&model, &tf, &sr, &bare, p);
        assert!(s.vetoed && !s.linked(&model), "{s:?}");
        // The father's e-mail or birth date says which one.
        for other in [
            with(None, "", "jens.wagner@example.com"),
            with(None, "1943-02-05", ""),
        ] {
            let s = score_pair(&model, &tf, &sr, &other, p);
            assert!(!s.vetoed && s.linked(&model), "{other:?}");
        }
        // Without a suffix on either side nothing changes.
        let plain = with(None, "1943-02-05", "jens.wagner@example.com");
        assert!(!score_pair(&model, &tf, &plain, &bare, p).vetoed);
    }

    #[test]
    fn namesakes_at_one_address_with_their_own_mobiles_and_mailboxes_are_kept_apart() {
        let model = Model {
            prior_weight: -16.0,
            ..Model::default_model(0.9)
        };
        let tf = TermFrequencies::default();
        let p = CandidatePair { a: 0, b: 1 };
        let at_home = |dob: &str, email: &str, phones: &[&str]| MatchRecord {
            street: Some("lindenstr12".into()),
            postcode: Some("10115".into()),
            city: Some("berlin".into()),
            phones: phones.iter().map(|s| Text::from(*s)).collect(),
            ..person("jens", "wagner", dob, email)
        };
        // Father and son: each his own mailbox and mobile, the birth date on one record.
        let father = at_home("1953-04-02", "jwagner@example.com", &["+4915112345678"]);
        let son = at_home("", "jens.wagner1985@example.org", &["+4917687654321"]);
        let s = score_pair(&model, &tf, &father, &son, p);
        assert!(s.vetoed && !s.linked(&model), "{s:?}");
        // One person's landline and mobile, work and private mailbox: still one.
        let landline = at_home("", "jens.wagner1985@example.org", &["+49302345678"]);
        let s = score_pair(&model, &tf, &father, &landline, p);
        assert!(!s.vetoed && s.linked(&model), "{s:?}");
        // A shared mailbox, a shared number or the same birth date says it is one person.
        for same in [
            at_home("", "jwagner@example.com", &["+4917687654321"]),
            at_home("", "x@example.org", &["+4917687654321", "+4915112345678"]),
            at_home("1953-04-02", "x@example.org", &["+4917687654321"]),
        ] {
            let s = score_pair(&model, &tf, &father, &same, p);
            assert!(!s.vetoed && s.linked(&model), "{same:?}");
        }
        // A North American number may be a landline: no type, no veto.
        let us = |email: &str, phone: &str| MatchRecord {
            phones: vec![Text::from(phone)],
            ..at_home("", email, &[])
        };
        let s = score_pair(
            &model,
            &tf,
            &us("jwagner@example.com", "+12125550123"),
            &us("jens.wagner1985@example.org", "+12125550199"),
            p,
        );
        assert!(!s.vetoed, "{s:?}");
    }

    #[test]
    fn strong_evidence_links_and_vetoes_win() {
        let model = Model {
            prior_weight: -15.0,
            ..Model::default_model(0.95)
        };
        let a = person("anna", "muller", "1980-03-04", "anna@example.com");
        let same = person("anna", "mueller", "1980-03-04", "anna@example.com");
        let twin = person("lena", "muller", "1980-03-04", "lena@example.com");
        let p = CandidatePair { a: 0, b: 1 };
        let tf = TermFrequencies::default();
        assert!(score_pair(&model, &tf, &a, &same, p).linked(&model));
        let t = score_pair(&model, &tf, &a, &twin, p);
        assert!(t.vetoed && !t.linked(&model));
        let ev = evidence(&model, &tf, &t);
        assert_eq!(ev[0].level, "different");
        assert!(ev[0].weight < 0.0);
    }

    #[test]
    fn a_family_mailbox_alone_does_not_join_two_given_names() {
        let model = Model {
            prior_weight: -12.0,
            ..Model::default_model(0.9)
        };
        let (tf, p) = (TermFrequencies::default(), CandidatePair { a: 0, b: 1 });
        let vetoed = |a: &MatchRecord, b: &MatchRecord| score_pair(&model, &tf, a, b, p).vetoed;
        let daniel = person("daniel", "ward", "1939-06-01", "thewards96@icloud.com");
        // A couple's mailbox, names with only the initial in common: kept apart.
        assert!(vetoed(
            &daniel,
            &person("deborah", "ward", "", "thewards96@icloud.com")
        ));
        assert!(vetoed(
            &daniel,
            &person("claudia", "ward", "", "thewards96@icloud.com")
        ));
        // A nickname the table lacks (Dani, Nici for Nicole) starts alike: one person.
        assert!(!vetoed(
            &daniel,
            &person("dani", "ward", "", "thewards96@icloud.com")
        ));
        // Only the initial, but the birth date or a shared mobile too: one person.
        assert!(!vetoed(
            &daniel,
            &person("dnl", "ward", "1939-06-01", "thewards96@icloud.com")
        ));
        let mobile = |given: &str, phone: &str| MatchRecord {
            phones: vec![phone.into()],
            ..person(given, "ward", "", "thewards96@icloud.com")
        };
        assert!(!vetoed(
            &mobile("daniel", "+4917612345678"),
            &mobile("dnl", "+4917612345678")
        ));
        // A shared landline is the household's: not enough.
        assert!(vetoed(
            &mobile("daniel", "+49301234567"),
            &mobile("deborah", "+49301234567")
        ));
    }

    #[test]
    fn common_names_weigh_less_than_rare_ones() {
        let model = Model::default_model(0.95);
        let mut records: Vec<MatchRecord> = (0..50).map(|_| person("", "smith", "", "")).collect();
        records.extend((0..948).map(|i| person("", &format!("family{i}"), "", "")));
        records.push(person("", "zwierzchowski", "", ""));
        records.push(person("", "zwierzchowski", "", ""));
        let tf = TermFrequencies::compute(&records);
        let common = score_pair(
            &model,
            &tf,
            &records[0],
            &records[1],
            CandidatePair { a: 0, b: 1 },
        );
        let rare = score_pair(
            &model,
            &tf,
            &records[998],
            &records[999],
            CandidatePair { a: 998, b: 999 },
        );
        assert!(
            rare.weight > common.weight + 3.0,
            "{} vs {}",
            rare.weight,
            common.weight
        );
    }

    #[test]
    fn probability_is_monotone_and_bounded() {
        assert_eq!(probability(0.0), 0.5);
        assert!(probability(10.0) > 0.999);
        assert!(probability(-10.0) < 0.001);
        assert_eq!(probability(5000.0), 1.0);
    }
}
