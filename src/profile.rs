//! Profile: `&Pipeline -> Profile`, the quality of each silo before it is consolidated.
//!
//! Per source and per mapped column: fill rate, distinct values, the most frequent values
//! and character patterns (`(9)99 9999 9999`: digits become `9`, letters `A` or `a`), and for
//! columns that feed a validated field the share of values cleansing accepts without an
//! issue, with the issue codes it raised. Sources are streamed (`ingest::scan_source`), so
//! memory is bounded whatever the file size:
//!
//! - distinct values are counted exactly (by 64-bit hash) up to [`EXACT_DISTINCT`] per
//!   column, then estimated with a HyperLogLog sketch (standard error about 0.8%);
//! - values are counted exactly up to [`EXACT_VALUES`] distinct per column, then with a
//!   Misra-Gries summary of [`SUMMARY_COUNTERS`] counters, which keeps every value more
//!   frequent than one in a thousand (counts are then lower bounds, and marked so);
//! - patterns are counted the same way.
//!
//! The profile is a report for the data team and shows values; errors and logs never do.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;

use chrono::NaiveDate;
use serde::Serialize;

use crate::cleanse::{self, CleanseContext, address};
use crate::config::{Pipeline, Source, SourceFormat};
use crate::error::Result;
use crate::ingest::{self, ScanRow};
use crate::record::Field;

/// Top values and patterns shown per column.
pub const TOP: usize = 5;
/// Distinct values counted exactly per column before the count is estimated.
pub const EXACT_DISTINCT: usize = 100_000;
/// Distinct values whose frequencies are counted exactly per column.
pub const EXACT_VALUES: usize = 20_000;
/// Counters of the frequency summary used beyond [`EXACT_VALUES`].
pub const SUMMARY_COUNTERS: usize = 1_000;
/// Patterns are cut after this many characters.
const PATTERN_CHARS: usize = 40;

#[derive(Debug, Clone, Serialize)]
pub struct Profile {
    pub config: String,
    pub sources: Vec<SourceProfile>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SourceProfile {
    pub name: String,
    pub path: String,
    pub format: &'static str,
    /// Data rows in the file (readable or not), header and blank lines excluded.
    pub rows: u64,
    /// Rows that cannot be read at all (wrong column count, broken JSON, bad encoding).
    pub unreadable_rows: u64,
    pub unreadable: BTreeMap<&'static str, u64>,
    /// The key column first, then every mapped column in mapping order.
    pub columns: Vec<ColumnProfile>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ColumnProfile {
    /// Column name (CSV) or path (JSON Lines).
    pub column: String,
    /// The canonical field it feeds; `key` for the record key.
    pub field: &'static str,
    /// Readable rows with a value in this column.
    pub filled: u64,
    /// `filled` / readable rows.
    pub fill_rate: f64,
    /// Values that were a token meaning empty (`N/A`, `-`, `0000-00-00`): not counted as
    /// filled.
    pub empty_tokens: u64,
    /// Non-empty values (a JSON array gives several per row).
    pub values: u64,
    pub distinct: u64,
    /// False when `distinct` is an estimate.
    pub distinct_exact: bool,
    pub top_values: Vec<Count>,
    /// False when the top values' counts come from the summary (lower bounds).
    pub top_values_exact: bool,
    pub patterns: Vec<Count>,
    pub min_length: Option<usize>,
    pub max_length: Option<usize>,
    /// For columns that feed a validated field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validity: Option<Validity>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Count {
    pub value: String,
    pub count: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Validity {
    /// Values checked (every non-empty value).
    pub checked: u64,
    /// Values cleansing accepted without an issue.
    pub valid: u64,
    pub valid_rate: f64,
    /// Issue codes raised, with how many values raised each.
    pub issues: BTreeMap<&'static str, u64>,
}

/// Profile every source of a pipeline.
pub fn profile(pipeline: &Pipeline, today: NaiveDate) -> Result<Profile> {
    let sources = pipeline
        .sources
        .iter()
        .map(|s| profile_source(s, today))
        .collect::<Result<_>>()?;
    Ok(Profile {
        config: pipeline.config_path.display().to_string(),
        sources,
    })
}

/// Profile one source, streaming its file.
pub fn profile_source(source: &Source, today: NaiveDate) -> Result<SourceProfile> {
    let mapping = &source.mapping;
    let ctx = CleanseContext::new(mapping, today);
    let columns = ingest::scan_columns(mapping);
    let mut stats: Vec<ColumnStats> = columns
        .iter()
        .map(|(field, _)| ColumnStats::new(*field))
        .collect();
    let country_column = columns.iter().position(|(f, _)| *f == Some(Field::Country));
    let mut rows = 0u64;
    let mut unreadable: BTreeMap<&'static str, u64> = BTreeMap::new();
    ingest::scan_source(source, &mut |row| {
        rows += 1;
        let values = match row {
            ScanRow::Unreadable(reason) => {
                *unreadable.entry(reason.code()).or_default() += 1;
                return;
            }
            ScanRow::Values(values) => values,
        };
        // Postcodes and phones are validated in the light of the row's country.
        let country = country_column
            .and_then(|i| {
                values[i]
                    .iter()
                    .find(|v| !mapping.empty.is_empty_in(Field::Country, v))
            })
            .and_then(|v| address::country_code(v));
        for (s, vals) in stats.iter_mut().zip(values) {
            s.add_row(vals, mapping, country, &ctx);
        }
    })?;
    let unreadable_rows = unreadable.values().sum();
    let readable = rows - unreadable_rows;
    Ok(SourceProfile {
        name: source.name.clone(),
        path: source.path.display().to_string(),
        format: match source.format {
            SourceFormat::Csv => "csv",
            SourceFormat::Jsonl => "jsonl",
            SourceFormat::Parquet => "parquet",
        },
        rows,
        unreadable_rows,
        unreadable,
        columns: columns
            .into_iter()
            .zip(stats)
            .map(|((_, column), s)| s.finish(column, readable))
            .collect(),
    })
}

/// The character pattern of a value: digits `9`, letters `A`/`a` (upper/lower case), other
/// characters as they are; cut after [`PATTERN_CHARS`] characters.
pub fn pattern(value: &str) -> String {
    let mut out = String::with_capacity(value.len().min(PATTERN_CHARS + 3));
    for (i, c) in value.chars().enumerate() {
        if i == PATTERN_CHARS {
            out.push('…');
            break;
        }
        out.push(if c.is_numeric() {
            '9'
        } else if c.is_uppercase() {
            'A'
        } else if c.is_alphabetic() {
            'a'
        } else {
            c
        });
    }
    out
}

struct ColumnStats {
    field: Option<Field>,
    filled: u64,
    empty_tokens: u64,
    values: u64,
    distinct: Distinct,
    top: Frequencies,
    patterns: Frequencies,
    min_length: Option<usize>,
    max_length: Option<usize>,
    checked: u64,
    valid: u64,
    issues: BTreeMap<&'static str, u64>,
}

impl ColumnStats {
    fn new(field: Option<Field>) -> Self {
        ColumnStats {
            field,
            filled: 0,
            empty_tokens: 0,
            values: 0,
            distinct: Distinct::new(),
            top: Frequencies::new(),
            patterns: Frequencies::new(),
            min_length: None,
            max_length: None,
            checked: 0,
            valid: 0,
            issues: BTreeMap::new(),
        }
    }

    fn add_row(
        &mut self,
        values: &[String],
        mapping: &crate::mapping::Mapping,
        country: Option<&'static str>,
        ctx: &CleanseContext<'_>,
    ) {
        let mut any = false;
        for raw in values {
            let empty = match self.field {
                Some(field) => mapping.empty.is_empty_in(field, raw),
                None => mapping.empty.is_empty(raw),
            };
            if empty {
                if !raw.trim().is_empty() {
                    self.empty_tokens += 1;
                }
                continue;
            }
            any = true;
            self.values += 1;
            let value = raw.trim();
            let len = value.chars().count();
            self.min_length = Some(self.min_length.map_or(len, |m| m.min(len)));
            self.max_length = Some(self.max_length.map_or(len, |m| m.max(len)));
            self.distinct
                .add(xxhash_rust::xxh3::xxh3_64(value.as_bytes()));
            self.top.add(value);
            self.patterns.add(&pattern(value));
            if let Some(field) = self.field
                && let Some(issues) = cleanse::validate(field, value, country, ctx)
            {
                self.checked += 1;
                if issues.is_empty() {
                    self.valid += 1;
                }
                for code in issues {
                    *self.issues.entry(code).or_default() += 1;
                }
            }
        }
        if any {
            self.filled += 1;
        }
    }

    fn finish(self, column: String, readable: u64) -> ColumnProfile {
        let rate = |n: u64, of: u64| if of == 0 { 0.0 } else { n as f64 / of as f64 };
        let validated = self.field.is_some_and(cleanse::is_validated);
        let (top_values, top_values_exact) = self.top.top(TOP);
        let (patterns, _) = self.patterns.top(TOP);
        let (distinct, distinct_exact) = self.distinct.count();
        ColumnProfile {
            column,
            field: self.field.map_or("key", Field::name),
            filled: self.filled,
            fill_rate: rate(self.filled, readable),
            empty_tokens: self.empty_tokens,
            values: self.values,
            distinct,
            distinct_exact,
            top_values,
            top_values_exact,
            patterns,
            min_length: self.min_length,
            max_length: self.max_length,
            validity: validated.then(|| Validity {
                checked: self.checked,
                valid: self.valid,
                valid_rate: rate(self.valid, self.checked),
                issues: self.issues,
            }),
        }
    }
}

/// Value frequencies: exact up to [`EXACT_VALUES`] distinct values, then a Misra-Gries
/// summary (every value with a frequency above n / [`SUMMARY_COUNTERS`] is kept; its count
/// is a lower bound).
struct Frequencies {
    exact: Option<HashMap<String, u64>>,
    summary: HashMap<String, u64>,
}

impl Frequencies {
    fn new() -> Self {
        Frequencies {
            exact: Some(HashMap::new()),
            summary: HashMap::new(),
        }
    }

    fn add(&mut self, value: &str) {
        if let Some(map) = &mut self.exact {
            if let Some(c) = map.get_mut(value) {
                *c += 1;
                return;
            }
            if map.len() < EXACT_VALUES {
                map.insert(value.to_string(), 1);
                return;
            }
            // Too many distinct values to count exactly: keep the most frequent ones.
            let mut all: Vec<(String, u64)> = map.drain().collect();
            all.sort_unstable_by_key(|e| std::cmp::Reverse(e.1));
            all.truncate(SUMMARY_COUNTERS);
            self.summary = all.into_iter().collect();
            self.exact = None;
        }
        if let Some(c) = self.summary.get_mut(value) {
            *c += 1;
        } else if self.summary.len() < SUMMARY_COUNTERS {
            self.summary.insert(value.to_string(), 1);
        } else {
            // Misra-Gries: a new value when every counter is taken decrements them all.
            self.summary.retain(|_, c| {
                *c -= 1;
                *c > 0
            });
        }
    }

    /// The `n` most frequent values (ties by value, for a stable report) and whether the
    /// counts are exact.
    fn top(&self, n: usize) -> (Vec<Count>, bool) {
        let map = self.exact.as_ref().unwrap_or(&self.summary);
        let mut all: Vec<(&String, &u64)> = map.iter().collect();
        all.sort_unstable_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
        let top = all
            .into_iter()
            .take(n)
            .map(|(v, c)| Count {
                value: v.clone(),
                count: *c,
            })
            .collect();
        (top, self.exact.is_some())
    }
}

const HLL_BITS: u32 = 14;
const HLL_REGISTERS: usize = 1 << HLL_BITS;

/// Distinct values: a set of 64-bit hashes up to [`EXACT_DISTINCT`], then HyperLogLog.
enum Distinct {
    Exact(HashSet<u64>),
    Sketch(Box<[u8]>),
}

impl Distinct {
    fn new() -> Self {
        Distinct::Exact(HashSet::new())
    }

    fn add(&mut self, hash: u64) {
        match self {
            Distinct::Exact(set) => {
                set.insert(hash);
                if set.len() > EXACT_DISTINCT {
                    let mut registers = vec![0u8; HLL_REGISTERS].into_boxed_slice();
                    for &h in set.iter() {
                        hll_add(&mut registers, h);
                    }
                    *self = Distinct::Sketch(registers);
                }
            }
            Distinct::Sketch(registers) => hll_add(registers, hash),
        }
    }

    fn count(&self) -> (u64, bool) {
        match self {
            Distinct::Exact(set) => (set.len() as u64, true),
            Distinct::Sketch(registers) => (hll_estimate(registers), false),
        }
    }
}

fn hll_add(registers: &mut [u8], hash: u64) {
    let index = (hash >> (64 - HLL_BITS)) as usize;
    let rest = (hash << HLL_BITS) | (1 << (HLL_BITS - 1));
    let rank = rest.leading_zeros() as u8 + 1;
    if registers[index] < rank {
        registers[index] = rank;
    }
}

fn hll_estimate(registers: &[u8]) -> u64 {
    let m = registers.len() as f64;
    let alpha = 0.7213 / (1.0 + 1.079 / m);
    let sum: f64 = registers.iter().map(|&r| (-(f64::from(r))).exp2()).sum();
    let estimate = alpha * m * m / sum;
    let zeros = registers.iter().filter(|&&r| r == 0).count();
    if estimate <= 2.5 * m && zeros > 0 {
        (m * (m / zeros as f64).ln()).round() as u64
    } else {
        estimate.round() as u64
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "profile of {}", self.config)?;
        for s in &self.sources {
            writeln!(f)?;
            write!(f, "{} ({}, {}): {} rows", s.name, s.path, s.format, s.rows)?;
            if s.unreadable_rows > 0 {
                let reasons: Vec<String> = s
                    .unreadable
                    .iter()
                    .map(|(r, n)| format!("{r} {n}"))
                    .collect();
                write!(
                    f,
                    ", {} unreadable ({})",
                    s.unreadable_rows,
                    reasons.join(", ")
                )?;
            }
            writeln!(f)?;
            for c in &s.columns {
                writeln!(f, "  {} -> {}", c.column, c.field)?;
                write!(
                    f,
                    "    filled {:.1}% ({}), distinct {}{}",
                    c.fill_rate * 100.0,
                    c.filled,
                    if c.distinct_exact { "" } else { "~" },
                    c.distinct
                )?;
                if c.empty_tokens > 0 {
                    write!(f, ", empty tokens {}", c.empty_tokens)?;
                }
                if let (Some(min), Some(max)) = (c.min_length, c.max_length) {
                    write!(f, ", length {min}-{max}")?;
                }
                writeln!(f)?;
                if let Some(v) = &c.validity {
                    write!(f, "    valid {:.1}% of {}", v.valid_rate * 100.0, v.checked)?;
                    for (code, n) in &v.issues {
                        write!(f, ", {code} {n}")?;
                    }
                    writeln!(f)?;
                }
                if !c.top_values.is_empty() {
                    let at_least = if c.top_values_exact { "" } else { ">=" };
                    let top: Vec<String> = c
                        .top_values
                        .iter()
                        .map(|t| format!("{} ({at_least}{})", shown(&t.value), t.count))
                        .collect();
                    writeln!(f, "    top: {}", top.join(" | "))?;
                    let patterns: Vec<String> = c
                        .patterns
                        .iter()
                        .map(|t| format!("{} ({})", shown(&t.value), t.count))
                        .collect();
                    writeln!(f, "    patterns: {}", patterns.join(" | "))?;
                }
            }
        }
        Ok(())
    }
}

/// A value as the text report shows it: control characters escaped, long values cut.
fn shown(value: &str) -> String {
    let mut out: String = value
        .chars()
        .take(60)
        .flat_map(char::escape_debug)
        .collect();
    if value.chars().count() > 60 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        let cases: &[(&str, &str)] = &[
            ("(0)20 7946 0958", "(9)99 9999 9999"),
            ("+49 171 2345678", "+99 999 9999999"),
            ("SW1A 1AA", "AA9A 9AA"),
            ("m202rw", "a999aa"),
            ("Müller, Hans", "Aaaaaa, Aaaa"),
            ("D-80802", "A-99999"),
            ("12.03.1980", "99.99.9999"),
            ("anna@example.com", "aaaa@aaaaaaa.aaa"),
            ("", ""),
        ];
        for (raw, want) in cases {
            assert_eq!(pattern(raw), *want, "{raw}");
        }
        assert_eq!(pattern(&"x".repeat(50)).chars().count(), PATTERN_CHARS + 1);
    }

    #[test]
    fn frequencies_are_exact_then_summarised() {
        let mut f = Frequencies::new();
        for i in 0..10 {
            for _ in 0..=i {
                f.add(&format!("v{i}"));
            }
        }
        let (top, exact) = f.top(3);
        assert!(exact);
        assert_eq!(
            top.iter()
                .map(|c| (c.value.as_str(), c.count))
                .collect::<Vec<_>>(),
            [("v9", 10), ("v8", 9), ("v7", 8)]
        );
        // A heavy hitter among far more distinct values than can be counted exactly.
        let mut f = Frequencies::new();
        for i in 0..(EXACT_VALUES * 3) {
            f.add(&format!("u{i}"));
            if i % 10 == 0 {
                f.add("frequent");
            }
        }
        let (top, exact) = f.top(1);
        assert!(!exact);
        assert_eq!(top[0].value, "frequent");
        assert!(top[0].count <= (EXACT_VALUES * 3 / 10 + 1) as u64);
    }

    #[test]
    fn distinct_is_exact_then_estimated() {
        let mut d = Distinct::new();
        for i in 0..1000u64 {
            d.add(xxhash_rust::xxh3::xxh3_64(&i.to_le_bytes()));
            d.add(xxhash_rust::xxh3::xxh3_64(&i.to_le_bytes()));
        }
        assert_eq!(d.count(), (1000, true));
        let mut d = Distinct::new();
        let n = (EXACT_DISTINCT * 3) as u64;
        for i in 0..n {
            d.add(xxhash_rust::xxh3::xxh3_64(&i.to_le_bytes()));
        }
        let (estimate, exact) = d.count();
        assert!(!exact);
        let error = (estimate as f64 - n as f64).abs() / n as f64;
        assert!(error < 0.03, "{estimate} for {n}");
    }
}
