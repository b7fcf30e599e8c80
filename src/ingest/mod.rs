//! Ingest: a source's export file -> `Vec<SourceRecord>` + `Vec<Quarantined>`.
//!
//! Every row read becomes exactly one record or one quarantine entry. File-level problems
//! (a missing file, a mapping column the file does not have) are errors before any row is
//! loaded.

mod columns;
mod csv;
mod jsonl;
#[cfg(feature = "polars")]
mod parquet;

use crate::hash::KeySet;
use std::path::Path;

use crate::config::{Source, SourceFormat};
use crate::error::{Error, Result};
use crate::hash::{Sha256Hex, content_hash};
use crate::mapping::Mapping;
use crate::record::{Field, QuarantineReason, Quarantined, SourceRecord};

/// What reading one source gave.
#[derive(Debug, Default)]
pub struct Ingested {
    pub records: Vec<SourceRecord>,
    pub quarantined: Vec<Quarantined>,
    /// SHA-256 of the file, hex.
    pub checksum: String,
    pub bytes: u64,
    /// Rows a [`Known`] check recognised as held unchanged (its index, and the row's line
    /// now), not mapped.
    pub unchanged: Vec<(u32, u64)>,
}

impl Ingested {
    pub fn rows_read(&self) -> u64 {
        (self.records.len() + self.quarantined.len() + self.unchanged.len()) as u64
    }
}

/// What the store holds of the source being read (a sync's view). Rows are named by
/// their index among the store's rows, as the caller knows them. An unchanged row is
/// counted but not mapped.
pub trait Holds: Sync {
    /// The row held under a source key, and whether it is unchanged (`hash`, the row's
    /// content hash, is the stored one).
    fn key(&self, key: &str, hash: u64) -> Option<(u32, bool)>;

    /// The row held unchanged whose raw text `raw` (content hash `hash`) is: found
    /// without the key, so that a line need not be parsed to be recognised.
    fn line(&self, _hash: u64, _raw: &[u8]) -> Option<u32> {
        None
    }

    /// Nothing is held (a run): no row needs looking up, nor hashing or probing for it.
    fn holds_nothing(&self) -> bool {
        false
    }
}

impl<F: Fn(&str, u64) -> Option<(u32, bool)> + Sync> Holds for F {
    fn key(&self, key: &str, hash: u64) -> Option<(u32, bool)> {
        self(key, hash)
    }
}

/// A store that holds nothing (a run reads every row).
pub struct HoldsNothing;

impl Holds for HoldsNothing {
    fn key(&self, _: &str, _: u64) -> Option<(u32, bool)> {
        None
    }
    fn holds_nothing(&self) -> bool {
        true
    }
}

pub type Known<'a> = &'a dyn Holds;

/// Read one source with its mapping. `index` is the source's position in the pipeline.
pub fn read_source(source: &Source, index: u16) -> Result<Ingested> {
    read_source_known(source, index, &HoldsNothing)
}

/// [`read_source`], skipping the rows `known` recognises.
pub fn read_source_known(source: &Source, index: u16, known: Known<'_>) -> Result<Ingested> {
    read_fetched_known(source, fetch(source)?, index, known)
}

/// A source file's content and its SHA-256 (hex), read ahead of parsing it.
pub struct Fetched {
    bytes: Vec<u8>,
    checksum: String,
}

/// Read a source file and checksum it (a sync does this while it reads the store).
pub fn fetch(source: &Source) -> Result<Fetched> {
    let bytes = std::fs::read(&source.path).map_err(|e| Error::io(&source.path, e))?;
    let mut sha = Sha256Hex::new();
    sha.update(&bytes);
    Ok(Fetched {
        checksum: sha.finish(),
        bytes,
    })
}

/// [`read_source_known`] of a file already [`fetch`]ed.
pub fn read_fetched_known(
    source: &Source,
    fetched: Fetched,
    index: u16,
    known: Known<'_>,
) -> Result<Ingested> {
    let mut out = parse_known(source, &fetched.bytes, index, known)?;
    out.checksum = fetched.checksum;
    Ok(out)
}

/// Read a source's content, already in memory (`source.path` names it in messages).
pub fn read_bytes(source: &Source, bytes: &[u8], index: u16) -> Result<Ingested> {
    read_bytes_known(source, bytes, index, &HoldsNothing)
}

fn read_bytes_known(
    source: &Source,
    bytes: &[u8],
    index: u16,
    known: Known<'_>,
) -> Result<Ingested> {
    let mut sha = Sha256Hex::new();
    sha.update(bytes);
    let checksum = sha.finish();
    let mut out = parse_known(source, bytes, index, known)?;
    out.checksum = checksum;
    Ok(out)
}

/// Map a source's rows (`checksum` is left for the caller to set).
fn parse_known(source: &Source, bytes: &[u8], index: u16, known: Known<'_>) -> Result<Ingested> {
    if source.format != SourceFormat::Parquet
        && (bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF"))
    {
        return Err(Error::Input {
            path: source.path.clone(),
            line: 1,
            message: "the file is UTF-16 (it starts with a UTF-16 byte order mark); export it as UTF-8 (or windows-1252) and set `encoding` in the mapping".into(),
        });
    }
    let mut out = match source.format {
        SourceFormat::Csv => csv::read(&source.path, bytes, &source.mapping, index, known)?,
        SourceFormat::Jsonl => jsonl::read(&source.path, bytes, &source.mapping, index, known)?,
        #[cfg(feature = "polars")]
        SourceFormat::Parquet => parquet::read(&source.path, bytes, &source.mapping, index)?,
        #[cfg(not(feature = "polars"))]
        SourceFormat::Parquet => {
            return Err(Error::Config {
                path: source.path.clone(),
                message: "parquet sources need crmfuse built with `--features polars`".into(),
            });
        }
    };
    out.bytes = bytes.len() as u64;
    Ok(out)
}

/// A row as [`scan_source`] hands it over.
#[derive(Debug)]
pub enum ScanRow<'a> {
    /// The values of the columns [`scan_columns`] lists, in that order: one per CSV
    /// column, none or several for a JSON path (an array gives each of its values). Empty
    /// tokens are not removed.
    Values(&'a [Vec<String>]),
    /// The row cannot be read at all (it would be quarantined for this reason).
    Unreadable(QuarantineReason),
}

/// The columns [`scan_source`] reports: the record key (no field), then every mapped column
/// or path with the field it feeds, in mapping order.
pub fn scan_columns(mapping: &Mapping) -> Vec<(Option<Field>, String)> {
    std::iter::once((None, mapping.key.clone()))
        .chain(mapping.fields.iter().flat_map(|fm| {
            fm.columns
                .iter()
                .map(move |c| (Some(fm.field), c.trim().to_string()))
        }))
        .collect()
}

/// Stream a source row by row, with memory bounded by one row whatever the file's size:
/// what profiling needs. File-level problems are errors, as for [`read_source`].
pub fn scan_source(source: &Source, visit: &mut dyn FnMut(ScanRow<'_>)) -> Result<()> {
    match source.format {
        SourceFormat::Csv => csv::scan(&source.path, &source.mapping, visit),
        SourceFormat::Jsonl => jsonl::scan(&source.path, &source.mapping, visit),
        SourceFormat::Parquet => Err(Error::Config {
            path: source.path.clone(),
            message: "profiling parquet sources is not supported yet; profile a CSV export".into(),
        }),
    }
}

/// Turns one row's decoded values into a record or a quarantine entry, and tracks keys.
pub(crate) struct RowBuilder<'a> {
    mapping: &'a Mapping,
    source: u16,
    /// Keys of this file's rows that the store does not hold...
    seen_keys: KeySet<String>,
    /// ...and the store's rows whose keys this file had (no string kept per row).
    seen_held: RowBits,
    known: Known<'a>,
    pub out: Ingested,
}

/// A set of the store's row numbers, as bits: a sync marks hundreds of thousands of rows
/// per source, one look-up each (a hash set spent a tenth of the ingest's CPU on them).
#[derive(Default)]
struct RowBits(Vec<u64>);

impl RowBits {
    /// Add row `i`; false when it was there already.
    fn insert(&mut self, i: u32) -> bool {
        let (word, bit) = ((i / 64) as usize, i % 64);
        if word >= self.0.len() {
            self.0.resize(word + 1, 0);
        }
        let new = self.0[word] & 1 << bit == 0;
        self.0[word] |= 1 << bit;
        new
    }
}

/// One row's values, as the adapter found them.
pub(crate) struct Row<'r> {
    pub line: u64,
    /// The row's raw text (for quarantine) and the bytes its content hash is taken over.
    pub raw: &'r [u8],
    pub key: Option<String>,
    /// (field, value) in mapping order; empty tokens are removed here.
    pub values: Vec<(Field, String)>,
    pub extra: Vec<(String, String)>,
}

impl<'a> RowBuilder<'a> {
    pub fn new(mapping: &'a Mapping, source: u16, known: Known<'a>) -> Self {
        RowBuilder {
            mapping,
            source,
            seen_keys: KeySet::default(),
            seen_held: RowBits::default(),
            known,
            out: Ingested::default(),
        }
    }

    /// Whether the row with this key and raw text is one the store holds unchanged: then
    /// it is counted as read and its key as seen, and the caller maps nothing. A key
    /// repeated in the file is never unchanged (the row is quarantined as usual).
    pub fn unchanged(&mut self, key: &str, raw: &[u8], line: u64) -> bool {
        let key = key.trim();
        if key.is_empty() || !self.looks_up() {
            return false;
        }
        match self.known.key(key, content_hash(trim_newline(raw))) {
            // (Not seen before: a repeat goes to `push`, which quarantines it.)
            Some((i, true)) if self.seen_held.insert(i) => {
                self.out.unchanged.push((i, line));
                true
            }
            _ => false,
        }
    }

    /// Whether this raw line is, byte for byte, a row the store holds unchanged (found by
    /// its content hash, before the line is parsed for its key): as [`Self::unchanged`].
    pub fn unchanged_line(&mut self, raw: &[u8], line: u64) -> bool {
        if !self.looks_up() {
            return false;
        }
        let raw = trim_newline(raw);
        match self.known.line(content_hash(raw), raw) {
            Some(i) if self.seen_held.insert(i) => {
                self.out.unchanged.push((i, line));
                true
            }
            _ => false,
        }
    }

    /// Whether the store may hold rows of this source (a sync), so that looking a row up
    /// before mapping it can pay.
    pub fn looks_up(&self) -> bool {
        !self.known.holds_nothing()
    }

    pub fn quarantine(
        &mut self,
        line: u64,
        raw: &[u8],
        key: Option<String>,
        reason: QuarantineReason,
        detail: String,
    ) {
        self.out.quarantined.push(Quarantined {
            source: self.source,
            line,
            key,
            reason,
            detail,
            raw: raw_text(raw, self.mapping),
        });
    }

    pub fn push(&mut self, row: Row<'_>) {
        let key = row
            .key
            .map(|k| k.trim().to_string())
            .filter(|k| !k.is_empty());
        let Some(key) = key else {
            self.quarantine(
                row.line,
                row.raw,
                None,
                QuarantineReason::MissingKey,
                format!("the key `{}` is empty", self.mapping.key),
            );
            return;
        };
        let hash = content_hash(trim_newline(row.raw));
        let repeated = match self.known.key(&key, hash) {
            Some((i, _)) => !self.seen_held.insert(i),
            None => !self.seen_keys.insert(key.clone()),
        };
        if repeated {
            let q = repeated_key(self.source, row.line, row.raw, Some(key), self.mapping);
            self.out.quarantined.push(q);
            return;
        }
        let empty = &self.mapping.empty;
        let values = row
            .values
            .into_iter()
            .filter(|(f, v)| !empty.is_empty_in(*f, v))
            .collect();
        let extra = row
            .extra
            .into_iter()
            .filter(|(_, v)| !empty.is_empty(v))
            .collect();
        self.out.records.push(SourceRecord {
            source: self.source,
            key,
            line: row.line,
            hash,
            values,
            extra,
        });
    }
}

/// The quarantine entry of a row whose key an earlier row of the file had.
pub(crate) fn repeated_key(
    source: u16,
    line: u64,
    raw: &[u8],
    key: Option<String>,
    mapping: &Mapping,
) -> Quarantined {
    Quarantined {
        source,
        line,
        key,
        reason: QuarantineReason::DuplicateKey,
        detail: "the key repeats an earlier row of this file".into(),
        raw: raw_text(raw, mapping),
    }
}

fn trim_newline(raw: &[u8]) -> &[u8] {
    let mut end = raw.len();
    while end > 0 && (raw[end - 1] == b'\n' || raw[end - 1] == b'\r') {
        end -= 1;
    }
    &raw[..end]
}

/// The raw row as text for the quarantine table: decoded lossily in the source's encoding,
/// capped at 64 KiB so that one absurd row does not bloat the store.
fn raw_text(raw: &[u8], mapping: &Mapping) -> String {
    const CAP: usize = 64 * 1024;
    let raw = trim_newline(raw);
    let (text, _, _) = mapping.encoding.decode(&raw[..raw.len().min(CAP)]);
    let mut s = text.into_owned();
    if raw.len() > CAP {
        s.push_str(&format!(" [... {} more bytes]", raw.len() - CAP));
    }
    s
}

/// A field value decoded in the mapping's encoding; `None` when its bytes are invalid.
pub(crate) fn decode<'b>(bytes: &'b [u8], mapping: &Mapping) -> Option<std::borrow::Cow<'b, str>> {
    if mapping.encoding == encoding_rs::UTF_8 {
        std::str::from_utf8(bytes)
            .ok()
            .map(std::borrow::Cow::Borrowed)
    } else {
        mapping
            .encoding
            .decode_without_bom_handling_and_without_replacement(bytes)
    }
}

/// Human-facing name of a path for error messages.
pub(crate) fn show(path: &Path) -> String {
    path.display().to_string()
}

#[cfg(test)]
mod tests {
    use super::RowBits;

    #[test]
    fn row_bits_say_what_a_set_says() {
        let mut bits = RowBits::default();
        let mut set = std::collections::HashSet::new();
        // Rows out of order, repeated, at word edges and far apart.
        let mut x: u32 = 7;
        for _ in 0..20_000 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let i = match x % 4 {
                0 => x % 200,
                1 => 63 + x % 3,
                2 => 1_000_000 + x % 5_000,
                _ => x % 70_000,
            };
            assert_eq!(bits.insert(i), set.insert(i), "row {i}");
        }
    }
}
