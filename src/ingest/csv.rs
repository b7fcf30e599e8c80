//! CSV adapter: any delimiter, quoted fields with embedded newlines, a UTF-8 BOM, and any
//! ASCII-compatible encoding (fields are decoded one by one, so a bad byte quarantines its
//! row and not the file).

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use super::{Ingested, Row, RowBuilder, ScanRow, decode, show};
use crate::error::{Error, Result};
use crate::mapping::Mapping;
use crate::record::{Field, QuarantineReason};

pub(super) fn read(path: &Path, bytes: &[u8], mapping: &Mapping, source: u16) -> Result<Ingested> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(Error::Input {
            path: path.to_path_buf(),
            line: 1,
            message: "the file is empty: expected a header row".into(),
        });
    }
    // Skip the lines before the header row.
    let mut offset = 0usize;
    for _ in 1..mapping.header_line {
        match bytes[offset..].iter().position(|&b| b == b'\n') {
            Some(p) => offset += p + 1,
            None => {
                return Err(Error::Input {
                    path: path.to_path_buf(),
                    line: mapping.header_line,
                    message: format!(
                        "header_line is {} but the file has fewer lines",
                        mapping.header_line
                    ),
                });
            }
        }
    }
    let line_base = mapping.header_line - 1;
    let body = &bytes[offset..];
    let mut reader = ::csv::ReaderBuilder::new()
        .delimiter(mapping.delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(body);

    let columns = header_columns(path, mapping, &mut reader)?;
    let plan = ColumnPlan::new(path, mapping, &columns)?;

    let mut builder = RowBuilder::new(mapping, source);
    let mut record = ::csv::ByteRecord::new();
    // The csv crate's line counter lags behind quoted newlines, so physical lines are
    // counted from byte offsets (incrementally: each byte is scanned once).
    let mut counted_to = 0usize;
    let mut line = line_base + 1;
    loop {
        let start = (reader.position().byte() as usize).min(body.len());
        line += bytecount(&body[counted_to..start]);
        counted_to = start;
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let end = (reader.position().byte() as usize).min(body.len());
                let raw = &body[start.min(end)..end];
                // Skip leading blank lines that the reader passed over.
                let lead = raw
                    .iter()
                    .take_while(|b| **b == b'\r' || **b == b'\n')
                    .filter(|b| **b == b'\n')
                    .count() as u64;
                let line = line + lead;
                if record.len() == 1 && record.get(0).is_some_and(|f| f.is_empty()) {
                    continue; // a blank line is not a row
                }
                if record.len() != columns.len() {
                    builder.quarantine(
                        line,
                        raw,
                        None,
                        QuarantineReason::ColumnCount,
                        format!("expected {} columns, found {}", columns.len(), record.len()),
                    );
                    continue;
                }
                match plan.row(&record, mapping) {
                    Ok((key, values, extra)) => builder.push(Row {
                        line,
                        raw,
                        key: Some(key),
                        values,
                        extra,
                    }),
                    Err(column) => builder.quarantine(
                        line,
                        raw,
                        None,
                        QuarantineReason::Encoding,
                        format!(
                            "column `{}` is not valid {}",
                            columns[column],
                            mapping.encoding.name()
                        ),
                    ),
                }
            }
            Err(e) => {
                // The csv parser is forgiving (flexible, quotes tolerated); an error here is
                // an I/O-level failure of the whole file.
                return Err(Error::Input {
                    path: path.to_path_buf(),
                    line,
                    message: format!("cannot parse {}: {e}", show(path)),
                });
            }
        }
    }
    Ok(builder.out)
}

/// Read and decode the header row (the reader stands at it).
fn header_columns<R: Read>(
    path: &Path,
    mapping: &Mapping,
    reader: &mut ::csv::Reader<R>,
) -> Result<Vec<String>> {
    let mut header = ::csv::ByteRecord::new();
    let header_ok = reader
        .read_byte_record(&mut header)
        .map_err(|e| Error::Input {
            path: path.to_path_buf(),
            line: mapping.header_line,
            message: format!("cannot read the header row: {e}"),
        })?;
    if !header_ok {
        return Err(Error::Input {
            path: path.to_path_buf(),
            line: mapping.header_line,
            message: "no header row".into(),
        });
    }
    header
        .iter()
        .enumerate()
        .map(|(i, h)| {
            decode(h, mapping)
                .map(|s| s.trim().trim_start_matches('\u{feff}').trim().to_string())
                .ok_or_else(|| Error::Input {
                    path: path.to_path_buf(),
                    line: mapping.header_line,
                    message: format!(
                        "header column {} is not valid {}",
                        i + 1,
                        mapping.encoding.name()
                    ),
                })
        })
        .collect::<Result<_>>()
}

/// Stream the file row by row for profiling (see `super::scan_source`): memory stays that of
/// one row whatever the file's size.
pub(super) fn scan(
    path: &Path,
    mapping: &Mapping,
    visit: &mut dyn FnMut(ScanRow<'_>),
) -> Result<()> {
    let io = |e| Error::io(path, e);
    let mut input = BufReader::with_capacity(1 << 16, File::open(path).map_err(io)?);
    if input.fill_buf().map_err(io)?.starts_with(b"\xEF\xBB\xBF") {
        input.consume(3);
    }
    let mut skipped = Vec::new();
    for _ in 1..mapping.header_line {
        skipped.clear();
        if input.read_until(b'\n', &mut skipped).map_err(io)? == 0 {
            return Err(Error::Input {
                path: path.to_path_buf(),
                line: mapping.header_line,
                message: format!(
                    "header_line is {} but the file has fewer lines",
                    mapping.header_line
                ),
            });
        }
    }
    let mut reader = ::csv::ReaderBuilder::new()
        .delimiter(mapping.delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(input);
    let columns = header_columns(path, mapping, &mut reader)?;
    let plan = ColumnPlan::new(path, mapping, &columns)?;
    let indexes: Vec<usize> = std::iter::once(plan.key)
        .chain(plan.fields.iter().map(|&(_, i)| i))
        .collect();
    let mut values: Vec<Vec<String>> = vec![Vec::new(); indexes.len()];
    let mut record = ::csv::ByteRecord::new();
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(false) => return Ok(()),
            Ok(true) => {
                if record.len() == 1 && record.get(0).is_some_and(|f| f.is_empty()) {
                    continue; // a blank line is not a row
                }
                if record.len() != columns.len() {
                    visit(ScanRow::Unreadable(QuarantineReason::ColumnCount));
                    continue;
                }
                let mut readable = true;
                for (slot, &i) in values.iter_mut().zip(&indexes) {
                    slot.clear();
                    match decode(&record[i], mapping) {
                        Some(v) => slot.push(v.into_owned()),
                        None => readable = false,
                    }
                }
                if readable {
                    visit(ScanRow::Values(&values));
                } else {
                    visit(ScanRow::Unreadable(QuarantineReason::Encoding));
                }
            }
            Err(e) => {
                return Err(Error::Input {
                    path: path.to_path_buf(),
                    line: reader.position().line() + mapping.header_line - 1,
                    message: format!("cannot parse {}: {e}", show(path)),
                });
            }
        }
    }
}

/// Which header index feeds which field, resolved once per file.
struct ColumnPlan {
    key: usize,
    fields: Vec<(Field, usize)>,
    extra: Vec<(usize, String)>,
}

impl ColumnPlan {
    fn new(path: &Path, mapping: &Mapping, columns: &[String]) -> Result<ColumnPlan> {
        let find = |name: &str| -> Result<usize> {
            let exact: Vec<usize> = positions(columns, |c| c == name.trim());
            let found = if exact.is_empty() {
                let want = squash(name);
                positions(columns, |c| squash(c) == want)
            } else {
                exact
            };
            match found.as_slice() {
                [one] => Ok(*one),
                [] => Err(Error::Config {
                    path: mapping.path.clone(),
                    message: format!(
                        "column `{name}` is not in the header of {} (columns: {})",
                        show(path),
                        columns.join(", ")
                    ),
                }),
                _ => Err(Error::Config {
                    path: mapping.path.clone(),
                    message: format!(
                        "column `{name}` appears {} times in the header of {}; rename the duplicates in the export",
                        found.len(),
                        show(path)
                    ),
                }),
            }
        };
        let key = find(&mapping.key)?;
        let mut fields = Vec::new();
        for fm in &mapping.fields {
            for c in &fm.columns {
                fields.push((fm.field, find(c)?));
            }
        }
        let extra = if mapping.keep_unmapped {
            columns
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != key && !fields.iter().any(|(_, f)| f == i))
                .map(|(i, c)| {
                    (
                        i,
                        if c.is_empty() {
                            format!("column_{}", i + 1)
                        } else {
                            c.clone()
                        },
                    )
                })
                .collect()
        } else {
            Vec::new()
        };
        Ok(ColumnPlan { key, fields, extra })
    }

    /// The row's key, field values and extras; `Err(column)` when a column is undecodable.
    #[allow(clippy::type_complexity)]
    fn row(
        &self,
        record: &::csv::ByteRecord,
        mapping: &Mapping,
    ) -> std::result::Result<(String, Vec<(Field, String)>, Vec<(String, String)>), usize> {
        let get = |i: usize| -> std::result::Result<String, usize> {
            decode(&record[i], mapping).map(|s| s.into_owned()).ok_or(i)
        };
        let key = get(self.key)?;
        let mut values = Vec::with_capacity(self.fields.len());
        for &(field, i) in &self.fields {
            let v = get(i)?;
            // A single-valued field fed by several columns takes the first non-empty one.
            if !field.is_multi()
                && values
                    .iter()
                    .any(|(f, v): &(Field, String)| *f == field && !mapping.empty.is_empty(v))
            {
                continue;
            }
            values.push((field, v));
        }
        let mut extra = Vec::with_capacity(self.extra.len());
        for (i, name) in &self.extra {
            extra.push((name.clone(), get(*i)?));
        }
        Ok((key, values, extra))
    }
}

fn bytecount(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| b == b'\n').count() as u64
}

fn positions(columns: &[String], pred: impl Fn(&str) -> bool) -> Vec<usize> {
    columns
        .iter()
        .enumerate()
        .filter(|(_, c)| pred(c))
        .map(|(i, _)| i)
        .collect()
}

/// Header comparison that forgives case and white space: ` E-Mail ` = `e-mail`.
fn squash(s: &str) -> String {
    s.split_whitespace().collect::<String>().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SourceFormat;

    fn mapping(text: &str) -> Mapping {
        Mapping::parse(Path::new("m.toml"), text, SourceFormat::Csv).unwrap()
    }

    fn read_str(bytes: &[u8], m: &Mapping) -> Result<Ingested> {
        read(Path::new("in.csv"), bytes, m, 0)
    }

    #[test]
    fn reads_semicolons_quotes_newlines_and_bom() {
        let m = mapping("delimiter = \";\"\nkey = \"id\"\n[fields]\nfull_name = \"name\"\n");
        let data = "\u{feff}id;name;note\r\n1;\"Smith; John\";\"two\nlines\"\r\n2;Jane Doe;x\r\n";
        let got = read_str(data.as_bytes(), &m).unwrap();
        assert_eq!(got.records.len(), 2);
        assert!(got.quarantined.is_empty());
        let r = &got.records[0];
        assert_eq!(r.key, "1");
        assert_eq!(r.line, 2);
        assert_eq!(r.first(Field::FullName), Some("Smith; John"));
        assert_eq!(
            r.extra,
            vec![("note".to_string(), "two\nlines".to_string())]
        );
        assert_eq!(got.records[1].line, 4);
    }

    #[test]
    fn windows_1252_is_decoded() {
        let m =
            mapping("encoding = \"windows-1252\"\nkey = \"id\"\n[fields]\nfamily_name = \"n\"\n");
        let got = read_str(b"id,n\n1,M\xfcller\n", &m).unwrap();
        assert_eq!(got.records[0].first(Field::FamilyName), Some("Müller"));
    }

    #[test]
    fn bad_rows_are_quarantined_with_reasons() {
        let m = mapping("key = \"id\"\nempty = [\"n.v.\"]\n[fields]\nfamily_name = \"n\"\n");
        let data = b"id,n\n1,Ok\n2,too,many\n,NoKey\n1,Again\n3,Bad\xff\n4,n.v.\n";
        let got = read_str(data, &m).unwrap();
        let reasons: Vec<(u64, &str)> = got
            .quarantined
            .iter()
            .map(|q| (q.line, q.reason.code()))
            .collect();
        assert_eq!(
            reasons,
            [
                (3, "column_count"),
                (4, "missing_key"),
                (5, "duplicate_key"),
                (6, "encoding")
            ]
        );
        assert_eq!(got.rows_read(), 6);
        assert_eq!(got.quarantined[0].raw, "2,too,many");
        // `n.v.` is an empty token: the record has no family name.
        let last = got.records.last().unwrap();
        assert_eq!(last.key, "4");
        assert_eq!(last.first(Field::FamilyName), None);
    }

    #[test]
    fn header_line_and_forgiving_header_names() {
        let m = mapping("header_line = 2\nkey = \"ID\"\n[fields]\nemail = \"E-Mail\"\n");
        let got = read_str(b"Sales contacts\n ID , e-mail \nA1,x@example.com\n", &m).unwrap();
        assert_eq!(got.records[0].line, 3);
        assert_eq!(got.records[0].first(Field::Email), Some("x@example.com"));
    }

    #[test]
    fn missing_column_is_an_error_naming_it() {
        let m = mapping("key = \"id\"\n[fields]\nemail = \"mail\"\n");
        let e = read_str(b"id,email\n1,a\n", &m).unwrap_err().to_string();
        assert!(
            e.contains("column `mail` is not in the header of in.csv"),
            "{e}"
        );
        assert!(e.starts_with("m.toml"), "{e}");
    }

    #[test]
    fn duplicate_header_used_by_mapping_is_an_error() {
        let m = mapping("key = \"id\"\n[fields]\nemail = \"mail\"\n");
        let e = read_str(b"id,mail,mail\n1,a,b\n", &m)
            .unwrap_err()
            .to_string();
        assert!(e.contains("appears 2 times"), "{e}");
    }

    #[test]
    fn empty_file_is_an_error() {
        let m = mapping("key = \"id\"\n");
        let e = read_str(b"", &m).unwrap_err().to_string();
        assert!(e.contains("in.csv: line 1: the file is empty"), "{e}");
    }
}
