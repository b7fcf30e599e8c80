//! CSV adapter: any delimiter, quoted fields with embedded newlines, a UTF-8 BOM, and any
//! ASCII-compatible encoding (fields are decoded one by one, so a bad byte quarantines its
//! row and not the file).

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use super::columns::ColumnPlan;
use super::{Ingested, Row, RowBuilder, ScanRow, decode, show};
use crate::error::{Error, Result};
use crate::mapping::Mapping;
use crate::record::QuarantineReason;

pub(super) fn read(
    path: &Path,
    bytes: &[u8],
    mapping: &Mapping,
    source: u16,
    known: super::Known<'_>,
) -> Result<Ingested> {
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
    let plan = ColumnPlan::new(path, mapping, &columns, "header")?;

    let mut builder = RowBuilder::new(mapping, source, known);
    let mut record = ::csv::ByteRecord::new();
    // The csv crate's line counter lags behind quoted newlines, so physical lines are
    // counted from byte offsets (incrementally: each byte is scanned once).
    let mut counted_to = 0usize;
    let mut line = line_base + 1;
    loop {
        let start = (reader.position().byte() as usize).min(body.len());
        line += line_breaks(body, counted_to, start);
        counted_to = start;
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let end = (reader.position().byte() as usize).min(body.len());
                let raw = &body[start.min(end)..end];
                // Skip leading blank lines that the reader passed over.
                let lead_len = raw
                    .iter()
                    .take_while(|b| **b == b'\r' || **b == b'\n')
                    .count();
                let line = line + line_breaks(body, start, start + lead_len);
                if record.len() == 1 && record.get(0).is_some_and(|f| f.is_empty()) {
                    continue; // a blank line is not a row
                }
                // A quote that is never closed swallows the rest of the file into one row,
                // whatever its column count: the rows after it must not pass as values.
                if end == body.len() && ends_inside_quotes(&raw[lead_len..], mapping.delimiter) {
                    let content_end = raw.len()
                        - raw
                            .iter()
                            .rev()
                            .take_while(|b| **b == b'\r' || **b == b'\n')
                            .count();
                    let last = line + line_breaks(raw, lead_len, content_end.max(lead_len));
                    builder.quarantine(
                        line,
                        raw,
                        None,
                        QuarantineReason::Malformed,
                        format!(
                            "a quoted field opened in this row is never closed: lines {line} to {last} (the end of the file) were read as this one row"
                        ),
                    );
                    continue;
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
                if let Some(key) = decode(&record[plan.key], mapping)
                    && builder.unchanged(&key, raw, line)
                {
                    continue;
                }
                let cell = |i: usize| decode(&record[i], mapping).map(|s| s.into_owned()).ok_or(i);
                match plan.row(cell, mapping) {
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

/// Line breaks in `bytes[from..to]`: `\n`, `\r\n` and a lone `\r` (old Mac files, or a
/// file stitched from several), which the csv crate also ends a record at. A `\r` at `to - 1`
/// followed by `\n` is left for the `\n` to count.
fn line_breaks(bytes: &[u8], from: usize, to: usize) -> u64 {
    let to = to.min(bytes.len());
    let from = from.min(to);
    bytes[from..to]
        .iter()
        .enumerate()
        .filter(|&(i, &b)| b == b'\n' || (b == b'\r' && bytes.get(from + i + 1) != Some(&b'\n')))
        .count() as u64
}

/// Whether a row that runs to the end of the file ends inside a quoted field (its quote was
/// never closed). Mirrors the csv crate's rules: a quote opens a quoted field only at the
/// start of a field, and `""` inside one is a literal quote.
fn ends_inside_quotes(raw: &[u8], delimiter: u8) -> bool {
    let (mut at_field_start, mut quoted, mut quote_pending) = (true, false, false);
    for &b in raw {
        if quoted {
            if quote_pending {
                quote_pending = false;
                if b == b'"' {
                    continue; // `""`: a literal quote, still inside
                }
                quoted = false; // the quote closed the field; `b` is read as unquoted
            } else {
                quote_pending = b == b'"';
                continue;
            }
        }
        if b == delimiter || b == b'\n' || b == b'\r' {
            at_field_start = true;
        } else if at_field_start && b == b'"' {
            quoted = true;
            at_field_start = false;
        } else {
            at_field_start = false;
        }
    }
    quoted && !quote_pending
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
    let plan = ColumnPlan::new(path, mapping, &columns, "header")?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SourceFormat;
    use crate::ingest::HoldsNothing;
    use crate::record::Field;

    fn mapping(text: &str) -> Mapping {
        Mapping::parse(Path::new("m.toml"), text, SourceFormat::Csv).unwrap()
    }

    fn read_str(bytes: &[u8], m: &Mapping) -> Result<Ingested> {
        read(Path::new("in.csv"), bytes, m, 0, &HoldsNothing)
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

    /// Against a store that holds keys `a` (this content) and `b` (other content), every
    /// key's first row counts and every repeat is quarantined, whichever way it went.
    #[test]
    fn a_key_repeated_is_quarantined_whether_the_store_holds_it_or_not() {
        let m = mapping("key = \"id\"\n[fields]\nfull_name = \"name\"\n");
        let held_a = crate::hash::content_hash(b"a,Ann");
        let known = move |key: &str, hash: u64| match key {
            "a" => Some((0, hash == held_a)),
            "b" => Some((1, false)),
            _ => None,
        };
        let data = "id,name\na,Ann\na,Ann\nb,Bob\nb,Bob\nc,Cy\nc,Cy\na,Anne\n";
        let got = read(Path::new("in.csv"), data.as_bytes(), &m, 0, &known).unwrap();
        assert_eq!(got.unchanged, vec![(0, 2)]);
        let kept: Vec<(&str, u64)> = got
            .records
            .iter()
            .map(|r| (r.key.as_str(), r.line))
            .collect();
        assert_eq!(kept, vec![("b", 4), ("c", 6)]);
        let repeats: Vec<(u64, QuarantineReason)> =
            got.quarantined.iter().map(|q| (q.line, q.reason)).collect();
        use QuarantineReason::DuplicateKey as D;
        assert_eq!(repeats, vec![(3, D), (5, D), (7, D), (8, D)]);
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
    fn every_line_ending_counts_as_a_line() {
        // CRLF, LF and a lone CR: rows keep distinct, correct line numbers, so that two
        // quarantined rows never collide in the store (quarantine is keyed by line).
        let m = mapping("key = \"id\"\n[fields]\nfamily_name = \"n\"\n");
        let data = b"id,n\r\n1,A\r\n2,B\n3,C\r4,D\r\n5\r6\n\r\n7,G\n";
        let got = read_str(data, &m).unwrap();
        let lines: Vec<(&str, u64)> = got
            .records
            .iter()
            .map(|r| (r.key.as_str(), r.line))
            .collect();
        assert_eq!(lines, [("1", 2), ("2", 3), ("3", 4), ("4", 5), ("7", 9)]);
        let q: Vec<u64> = got.quarantined.iter().map(|q| q.line).collect();
        assert_eq!(q, [6, 7]);
    }

    #[test]
    fn a_quote_never_closed_is_malformed_not_a_row_with_the_rest_of_the_file() {
        let m = mapping("key = \"id\"\n[fields]\nfamily_name = \"n\"\n");
        // The open quote is in the last column: the row would have the right column count.
        let data = b"id,x,n\n1,a,Ok\n2,b,\"Never closed\n3,c,Lost\n4,d,Lost too\n";
        let got = read_str(data, &m).unwrap();
        assert_eq!(got.records.len(), 1);
        assert_eq!(got.quarantined.len(), 1);
        let q = &got.quarantined[0];
        assert_eq!((q.line, q.reason.code()), (3, "malformed"));
        assert!(q.detail.contains("lines 3 to 5"), "{}", q.detail);
        assert!(q.raw.contains("Lost too"));
    }

    #[test]
    fn quotes_that_close_are_not_malformed() {
        let m = mapping("key = \"id\"\n[fields]\nfamily_name = \"n\"\n");
        for data in [
            &b"id,n\n1,\"a \"\"quoted\"\" word\""[..],
            b"id,n\n1,5\" screen",
            b"id,n\n1,\"multi\nline\"",
            b"id,n\n1,\"\"",
        ] {
            let got = read_str(data, &m).unwrap();
            assert_eq!(got.records.len(), 1, "{}", String::from_utf8_lossy(data));
        }
        assert!(ends_inside_quotes(b"1,\"open", b','));
        assert!(ends_inside_quotes(b"1,\"open \"\" still", b','));
        assert!(!ends_inside_quotes(b"1,\"closed\"", b','));
        assert!(!ends_inside_quotes(b"1,mid\"dle", b','));
    }

    #[test]
    fn empty_file_is_an_error() {
        let m = mapping("key = \"id\"\n");
        let e = read_str(b"", &m).unwrap_err().to_string();
        assert!(e.contains("in.csv: line 1: the file is empty"), "{e}");
    }
}
