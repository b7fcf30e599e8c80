//! Parquet adapter (cargo feature `polars`): a Parquet file's bytes -> `Ingested`.
//!
//! The file is decoded in slices of rows with polars' eager `ParquetReader` (pages outside a
//! slice are skipped), every cell is rendered as text, and the rows go through the same
//! column plan and record builder as CSV rows. A row's line is its 1-based row number; its
//! raw text (quarantine table, content hash) is the row as a JSON object over all columns.

use std::io::Cursor;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use polars::prelude::*;

use super::columns::ColumnPlan;
use super::{Ingested, Row, RowBuilder, decode, show};
use crate::error::{Error, Result};
use crate::mapping::Mapping;
use crate::record::QuarantineReason;

/// Rows decoded at a time: bounds polars' share of memory whatever the row-group size.
const SLICE_ROWS: usize = 64 * 1024;

pub(super) fn read(path: &Path, bytes: &[u8], mapping: &Mapping, source: u16) -> Result<Ingested> {
    read_in_slices(path, bytes, mapping, source, SLICE_ROWS)
}

fn read_in_slices(
    path: &Path,
    bytes: &[u8],
    mapping: &Mapping,
    source: u16,
    slice_rows: usize,
) -> Result<Ingested> {
    let not_parquet = "not a readable Parquet file";
    let (schema, metadata) = guarded(path, 1, not_parquet, || {
        let mut reader = ParquetReader::new(Cursor::new(bytes));
        Ok((reader.schema()?, reader.get_metadata()?.clone()))
    })?;
    let columns: Vec<String> = schema.iter_names().map(|n| n.to_string()).collect();
    let plan = ColumnPlan::new(path, mapping, &columns, "schema")?;
    let dtypes: Vec<DataType> = schema
        .iter_values()
        .map(DataType::from_arrow_field)
        .collect();
    for i in std::iter::once(plan.key).chain(plan.fields.iter().map(|(_, i)| *i)) {
        if dtypes[i].is_nested() {
            return Err(Error::Config {
                path: mapping.path.clone(),
                message: format!(
                    "column `{}` of {} holds {} values; a mapped column must hold single values (text, numbers, dates)",
                    columns[i],
                    show(path),
                    dtypes[i]
                ),
            });
        }
    }

    let mut builder = RowBuilder::new(mapping, source, &crate::ingest::HoldsNothing);
    let mut raw = String::new();
    let total = metadata.num_rows;
    let mut offset = 0usize;
    while offset < total {
        let len = slice_rows.min(total - offset);
        let first_line = offset as u64 + 1;
        let what = format!("cannot decode rows {first_line}..{}", offset + len);
        let cells = guarded(path, first_line, &what, || {
            let mut reader = ParquetReader::new(Cursor::new(bytes)).with_slice(Some((offset, len)));
            reader.set_metadata(metadata.clone());
            let frame = reader.finish()?;
            if frame.height() != len {
                return Err(PolarsError::ComputeError(
                    format!(
                        "the footer counts {len} rows here, the pages hold {}",
                        frame.height()
                    )
                    .into(),
                ));
            }
            frame
                .columns()
                .iter()
                .map(Cells::new)
                .collect::<PolarsResult<Vec<_>>>()
        })?;
        let by_column: Vec<Vec<Cell<'_>>> = cells.iter().map(Cells::cells).collect();
        for row in 0..len {
            let line = first_line + row as u64;
            raw_row(&columns, &by_column, row, mapping, &mut raw);
            // RowBuilder decodes raw bytes in the mapping's encoding: encode the line in it so
            // that the quarantine table shows the text, not mojibake.
            let (raw_bytes, _, _) = mapping.encoding.encode(&raw);
            let cell = |i: usize| by_column[i][row].text(mapping).ok_or(i);
            match plan.row(cell, mapping) {
                Ok((key, values, extra)) => builder.push(Row {
                    line,
                    raw: &raw_bytes,
                    key: Some(key),
                    values,
                    extra,
                }),
                Err(i) => builder.quarantine(
                    line,
                    &raw_bytes,
                    None,
                    QuarantineReason::Encoding,
                    format!(
                        "column `{}` is binary and not valid {}",
                        columns[i],
                        mapping.encoding.name()
                    ),
                ),
            }
        }
        offset += len;
    }
    Ok(builder.out)
}

/// Runs a polars call; its error, or a panic of its decoder on a corrupt file, becomes an
/// input error at `line` of the file.
fn guarded<T>(
    path: &Path,
    line: u64,
    what: &str,
    call: impl FnOnce() -> PolarsResult<T>,
) -> Result<T> {
    let message = match catch_unwind(AssertUnwindSafe(call)) {
        Ok(Ok(value)) => return Ok(value),
        Ok(Err(e)) => format!("{what}: {e}"),
        Err(panic) => {
            let detail = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("no detail");
            format!(
                "{what}: the Parquet decoder failed ({detail}); is the file truncated or corrupt?"
            )
        }
    };
    Err(Error::Input {
        path: path.to_path_buf(),
        line,
        message,
    })
}

/// One column of a slice, rendered as text.
enum Cells {
    Text(StringChunked),
    /// Byte arrays without a string type: decoded in the mapping's encoding, per cell.
    Bytes(BinaryChunked),
    /// Lists and structs, as JSON.
    Json(Vec<Option<String>>),
}

impl Cells {
    fn new(column: &Column) -> PolarsResult<Cells> {
        Ok(match column.dtype() {
            DataType::Binary => Cells::Bytes(column.binary()?.clone()),
            dtype if dtype.is_nested() => Cells::Json(json_cells(column.as_materialized_series())?),
            _ => Cells::Text(text(column.as_materialized_series())?),
        })
    }

    /// The column's cells in row order (one pass, so that rows index a `Vec`).
    fn cells(&self) -> Vec<Cell<'_>> {
        match self {
            Cells::Text(ca) => ca
                .iter()
                .map(|v| v.map_or(Cell::Null, Cell::Text))
                .collect(),
            Cells::Bytes(ca) => ca
                .iter()
                .map(|v| v.map_or(Cell::Null, Cell::Bytes))
                .collect(),
            Cells::Json(v) => v
                .iter()
                .map(|v| v.as_deref().map_or(Cell::Null, Cell::Json))
                .collect(),
        }
    }
}

#[derive(Clone, Copy)]
enum Cell<'a> {
    Null,
    Text(&'a str),
    Bytes(&'a [u8]),
    Json(&'a str),
}

impl Cell<'_> {
    /// The cell as text, `""` for null; `None` when binary bytes are not valid in the
    /// mapping's encoding.
    fn text(self, mapping: &Mapping) -> Option<String> {
        match self {
            Cell::Null => Some(String::new()),
            Cell::Text(s) | Cell::Json(s) => Some(s.to_string()),
            Cell::Bytes(b) => decode(b, mapping).map(|s| s.into_owned()),
        }
    }
}

/// A scalar column as text: dates as `YYYY-MM-DD`, timestamps to the second (all the
/// pipeline keeps) as `YYYY-MM-DD HH:MM:SS`, or RFC 3339 in UTC when the column has a time
/// zone; the rest as polars casts it to a string.
fn text(series: &Series) -> PolarsResult<StringChunked> {
    let ca = match series.dtype() {
        DataType::Datetime(unit, zone) => {
            // Instants are stored in UTC whatever the zone; format them as such.
            let utc = series
                .datetime()?
                .physical()
                .clone()
                .into_datetime(*unit, None);
            let format = if zone.is_some() {
                "%Y-%m-%dT%H:%M:%SZ"
            } else {
                "%Y-%m-%d %H:%M:%S"
            };
            utc.to_string(format)?
        }
        _ => match series.cast(&DataType::String) {
            Ok(text) => text.str()?.clone(),
            // Types polars has no string cast for (durations): their display form.
            Err(_) => (0..series.len())
                .map(|i| {
                    let value = series.get(i)?;
                    Ok((!value.is_null()).then(|| value.to_string()))
                })
                .collect::<PolarsResult<StringChunked>>()?,
        },
    };
    Ok(ca)
}

/// Nested values as JSON text, one per row (`None` for null).
fn json_cells(series: &Series) -> PolarsResult<Vec<Option<String>>> {
    let json_list = |items: Option<Series>| -> PolarsResult<Option<String>> {
        let Some(items) = items else { return Ok(None) };
        let values = json_cells(&items)?;
        let parts: Vec<&str> = values
            .iter()
            .map(|v| v.as_deref().unwrap_or("null"))
            .collect();
        Ok(Some(format!("[{}]", parts.join(","))))
    };
    match series.dtype() {
        DataType::List(_) => {
            let ca = series.list()?;
            (0..ca.len())
                .map(|i| json_list(ca.get_as_series(i)))
                .collect()
        }
        DataType::Array(_, _) => {
            let ca = series.array()?;
            (0..ca.len())
                .map(|i| json_list(ca.get_as_series(i)))
                .collect()
        }
        DataType::Struct(_) => {
            let ca = series.struct_()?;
            let fields = ca.fields_as_series();
            let values = fields
                .iter()
                .map(json_cells)
                .collect::<PolarsResult<Vec<_>>>()?;
            let nulls = ca.is_null();
            Ok((0..ca.len())
                .map(|row| {
                    if nulls.get(row) == Some(true) {
                        return None;
                    }
                    let members: Vec<String> = fields
                        .iter()
                        .zip(&values)
                        .map(|(f, v)| {
                            format!(
                                "{}:{}",
                                json_string(f.name()),
                                v[row].as_deref().unwrap_or("null")
                            )
                        })
                        .collect();
                    Some(format!("{{{}}}", members.join(",")))
                })
                .collect())
        }
        DataType::Binary => Ok(series
            .binary()?
            .iter()
            .map(|b| b.map(|b| json_string(&String::from_utf8_lossy(b))))
            .collect()),
        _ => Ok(text(series)?.iter().map(|s| s.map(json_string)).collect()),
    }
}

/// The row as a JSON object over every column, in file order; values as text.
fn raw_row(
    columns: &[String],
    by_column: &[Vec<Cell<'_>>],
    row: usize,
    mapping: &Mapping,
    out: &mut String,
) {
    out.clear();
    out.push('{');
    for (i, (name, cells)) in columns.iter().zip(by_column).enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_json_string(out, name);
        out.push(':');
        match cells[row] {
            Cell::Null => out.push_str("null"),
            Cell::Text(s) => write_json_string(out, s),
            Cell::Bytes(b) => {
                write_json_string(out, &mapping.encoding.decode_without_bom_handling(b).0)
            }
            Cell::Json(json) => out.push_str(json),
        }
    }
    out.push('}');
}

/// `s` as a JSON string literal. Hand-rolled because it runs once per cell: text without
/// quotes, backslashes or control characters is copied as is.
fn write_json_string(out: &mut String, s: &str) {
    out.push('"');
    let mut plain = 0;
    for (i, b) in s.bytes().enumerate() {
        if b != b'"' && b != b'\\' && b >= 0x20 {
            continue;
        }
        out.push_str(&s[plain..i]);
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            _ => out.push_str(&format!("\\u{b:04x}")),
        }
        plain = i + 1;
    }
    out.push_str(&s[plain..]);
    out.push('"');
}

fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    write_json_string(&mut out, s);
    out
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::config::{DisappearPolicy, Source, SourceFormat};
    use crate::ingest::read_source;
    use crate::record::Field;

    fn mapping(text: &str) -> Mapping {
        Mapping::parse(Path::new("m.toml"), text, SourceFormat::Parquet).unwrap()
    }

    /// Customers with text, integer, date, timestamp, boolean and null cells; row 3 has no
    /// key and row 4 repeats row 1's key.
    fn customers() -> DataFrame {
        let day = |y, m, d| {
            chrono::NaiveDate::from_ymd_opt(y, m, d)
                .unwrap()
                .signed_duration_since(chrono::NaiveDate::default())
                .num_days() as i32
        };
        let columns = vec![
            Column::new(
                "id".into(),
                [Some("C1"), Some("C2"), None, Some("C1"), Some("C5")],
            ),
            Column::new(
                "Full Name".into(),
                [
                    Some("Anna Schmidt"),
                    Some("Ben Ode"),
                    Some("No Key"),
                    Some("Anna S."),
                    None,
                ],
            ),
            Column::new(
                "orders".into(),
                [Some(3i64), None, Some(1), Some(2), Some(-7)],
            ),
            Column::new(
                "born".into(),
                [
                    Some(day(1990, 1, 2)),
                    Some(day(1985, 12, 31)),
                    None,
                    None,
                    None,
                ],
            )
            .cast(&DataType::Date)
            .unwrap(),
            Column::new(
                "updated".into(),
                [
                    Some(1_700_000_000_000i64),
                    Some(1_700_000_061_500),
                    None,
                    None,
                    None,
                ],
            )
            .cast(&DataType::Datetime(TimeUnit::Milliseconds, None))
            .unwrap(),
            Column::new(
                "newsletter".into(),
                [Some(true), Some(false), None, None, None],
            ),
            Column::new_empty("fax".into(), &DataType::String)
                .extend_constant(AnyValue::Null, 5)
                .unwrap(),
        ];
        DataFrame::new_infer_height(columns).unwrap()
    }

    fn write(dir: &Path, mut frame: DataFrame, row_group: usize) -> PathBuf {
        let path = dir.join("customers.parquet");
        let file = std::fs::File::create(&path).unwrap();
        ParquetWriter::new(file)
            .with_row_group_size(Some(row_group))
            .finish(&mut frame)
            .unwrap();
        path
    }

    fn source(path: PathBuf, mapping: Mapping) -> Source {
        Source {
            name: "shop".into(),
            path,
            format: SourceFormat::Parquet,
            mapping_path: PathBuf::from("m.toml"),
            mapping,
            trust: 1,
            shadow: false,
            on_disappear: DisappearPolicy::Detach,
        }
    }

    const M: &str = "key = \"id\"\n[fields]\nfull_name = \"full name\"\nbirth_date = \"born\"\nupdated_at = \"updated\"\nmarketing_consent = \"newsletter\"\nphone = \"fax\"\n";

    #[test]
    fn reads_records_lines_extras_and_quarantine() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), customers(), 2);
        let got = read_source(&source(path, mapping(M)), 3).unwrap();

        let keys: Vec<(u64, &str)> = got
            .records
            .iter()
            .map(|r| (r.line, r.key.as_str()))
            .collect();
        assert_eq!(keys, [(1, "C1"), (2, "C2"), (5, "C5")]);
        let reasons: Vec<(u64, &str)> = got
            .quarantined
            .iter()
            .map(|q| (q.line, q.reason.code()))
            .collect();
        assert_eq!(reasons, [(3, "missing_key"), (4, "duplicate_key")]);
        assert_eq!(got.rows_read(), 5);
        assert_eq!(got.checksum.len(), 64);

        let anna = &got.records[0];
        assert_eq!(anna.source, 3);
        assert_eq!(anna.first(Field::FullName), Some("Anna Schmidt"));
        assert_eq!(anna.first(Field::BirthDate), Some("1990-01-02"));
        assert_eq!(anna.first(Field::UpdatedAt), Some("2023-11-14 22:13:20"));
        assert_eq!(anna.first(Field::MarketingConsent), Some("true"));
        // Null cells are empty: no value, no extra.
        assert_eq!(anna.first(Field::Phone), None);
        assert_eq!(anna.extra, [("orders".to_string(), "3".to_string())]);
        let ben = &got.records[1];
        // Sub-second digits are dropped: the cleanser parses `%Y-%m-%d %H:%M:%S`.
        assert_eq!(ben.first(Field::UpdatedAt), Some("2023-11-14 22:14:21"));
        assert_eq!(ben.first(Field::MarketingConsent), Some("false"));
        assert!(ben.extra.is_empty());
        let last = &got.records[2];
        assert_eq!(last.first(Field::FullName), None);
        assert_eq!(last.extra, [("orders".to_string(), "-7".to_string())]);

        let again = &got.quarantined[1];
        assert_eq!(again.key.as_deref(), Some("C1"));
        assert_eq!(
            again.raw,
            r#"{"id":"C1","Full Name":"Anna S.","orders":"2","born":null,"updated":null,"newsletter":null,"fax":null}"#
        );
        assert!(
            got.quarantined[0]
                .raw
                .starts_with(r#"{"id":null,"Full Name":"No Key""#)
        );
    }

    #[test]
    fn slices_smaller_than_row_groups_give_the_same_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), customers(), 4);
        let bytes = std::fs::read(&path).unwrap();
        let m = mapping(M);
        let whole = read_in_slices(&path, &bytes, &m, 0, SLICE_ROWS).unwrap();
        assert_eq!((whole.records.len(), whole.quarantined.len()), (3, 2));
        for slice_rows in [1, 2, 3] {
            let sliced = read_in_slices(&path, &bytes, &m, 0, slice_rows).unwrap();
            assert_eq!(sliced.records, whole.records, "slices of {slice_rows}");
            assert_eq!(
                sliced.quarantined, whole.quarantined,
                "slices of {slice_rows}"
            );
        }
    }

    #[test]
    fn keep_unmapped_false_drops_extras() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), customers(), 8);
        let m = mapping("key = \"id\"\nkeep_unmapped = false\n");
        let got = read_source(&source(path, m), 0).unwrap();
        assert!(
            got.records
                .iter()
                .all(|r| r.extra.is_empty() && r.values.is_empty())
        );
    }

    #[test]
    fn missing_column_is_an_error_naming_it_and_the_columns() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), customers(), 8);
        let m = mapping("key = \"id\"\n[fields]\nemail = \"mail\"\n");
        let e = read_source(&source(path, m), 0).unwrap_err().to_string();
        assert!(
            e.starts_with("m.toml: column `mail` is not in the schema of "),
            "{e}"
        );
        assert!(
            e.ends_with(
                "customers.parquet (columns: id, Full Name, orders, born, updated, newsletter, fax)"
            ),
            "{e}"
        );
    }

    #[test]
    fn binary_columns_are_decoded_in_the_mapping_encoding() {
        let dir = tempfile::tempdir().unwrap();
        let names: [Option<&[u8]>; 3] = [Some(b"M\xfcller"), Some(b"Meier"), None];
        let frame = DataFrame::new_infer_height(vec![
            Column::new("id".into(), ["1", "2", "3"]),
            Column::new("name".into(), names),
        ])
        .unwrap();
        let path = write(dir.path(), frame, 8);
        let latin = "encoding = \"windows-1252\"\nkey = \"id\"\n[fields]\nfamily_name = \"name\"\n";
        let got = read_source(&source(path.clone(), mapping(latin)), 0).unwrap();
        assert_eq!(got.records[0].first(Field::FamilyName), Some("Müller"));
        assert_eq!(got.records.len(), 3);

        let utf8 = "key = \"id\"\n[fields]\nfamily_name = \"name\"\n";
        let got = read_source(&source(path, mapping(utf8)), 0).unwrap();
        assert_eq!(got.records.len(), 2);
        let q = &got.quarantined[0];
        assert_eq!((q.line, q.reason.code()), (1, "encoding"));
        assert!(
            q.detail
                .contains("column `name` is binary and not valid UTF-8"),
            "{}",
            q.detail
        );
    }

    #[test]
    fn nested_columns_are_json_extras_and_cannot_be_mapped() {
        let dir = tempfile::tempdir().unwrap();
        let tags = Series::new("x".into(), ["vip", "b2b"]);
        let frame = DataFrame::new_infer_height(vec![
            Column::new("id".into(), ["1", "2"]),
            Column::new("tags".into(), [Some(tags), None]),
        ])
        .unwrap();
        let path = write(dir.path(), frame, 8);
        let got = read_source(&source(path.clone(), mapping("key = \"id\"\n")), 0).unwrap();
        assert_eq!(
            got.records[0].extra,
            [("tags".to_string(), r#"["vip","b2b"]"#.to_string())]
        );
        assert!(got.records[1].extra.is_empty());

        let m = mapping("key = \"id\"\n[fields]\nphone = \"tags\"\n");
        let e = read_source(&source(path, m), 0).unwrap_err().to_string();
        assert!(
            e.contains("column `tags` of") && e.contains("holds list[str] values"),
            "{e}"
        );
    }

    #[test]
    fn a_corrupt_file_is_an_input_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), customers(), 2);
        let good = std::fs::read(&path).unwrap();
        let m = mapping(M);
        let cases: [(&str, Vec<u8>); 3] = [
            ("empty", Vec::new()),
            ("not parquet", b"id,name\n1,Anna\n".to_vec()),
            ("truncated", good[..good.len() / 2].to_vec()),
        ];
        for (what, bytes) in cases {
            let e = read_in_slices(&path, &bytes, &m, 0, SLICE_ROWS).unwrap_err();
            assert!(matches!(e, Error::Input { line: 1, .. }), "{what}: {e}");
            let e = e.to_string();
            assert!(
                e.contains("customers.parquet: line 1: not a readable Parquet file"),
                "{what}: {e}"
            );
        }
    }

    #[test]
    fn every_scalar_type_renders_as_text() {
        let utc = Int64Chunked::new("utc".into(), [1_700_000_000_123i64])
            .into_datetime(TimeUnit::Milliseconds, Some(TimeZone::UTC))
            .into_column();
        let one = |name: &str, dtype: DataType, value: AnyValue| {
            Column::new(name.into(), [value]).cast(&dtype).unwrap()
        };
        let cases = [
            (Column::new("f64".into(), [1.5f64]), "1.5"),
            (Column::new("u8".into(), [255u8]), "255"),
            (Column::new("i16".into(), [-3i16]), "-3"),
            (
                one("time", DataType::Time, AnyValue::Int64(3_723_000_000_000)),
                "01:02:03",
            ),
            (
                one(
                    "dur",
                    DataType::Duration(TimeUnit::Milliseconds),
                    AnyValue::Int64(90_000),
                ),
                "1m 30s",
            ),
            (
                one("dec", DataType::Decimal(10, 2), AnyValue::Int128(12345)),
                "12345.00",
            ),
            (
                Column::new("cat".into(), ["gold"])
                    .cast(&DataType::from_categories(Categories::global()))
                    .unwrap(),
                "gold",
            ),
            (utc, "2023-11-14T22:13:20Z"),
            (
                StructChunked::from_columns(
                    "st".into(),
                    1,
                    &[
                        Column::new("a".into(), [1i32]),
                        Column::new("b".into(), ["x\"y"]),
                    ],
                )
                .unwrap()
                .into_column(),
                r#"{"a":"1","b":"x\"y"}"#,
            ),
        ];
        let mut columns = vec![Column::new("id".into(), ["1"])];
        columns.extend(cases.iter().map(|(c, _)| c.clone()));
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), DataFrame::new_infer_height(columns).unwrap(), 8);
        let got = read_source(&source(path, mapping("key = \"id\"\n")), 0).unwrap();
        let extra = &got.records[0].extra;
        assert_eq!(extra.len(), cases.len());
        for ((column, want), (name, text)) in cases.iter().zip(extra) {
            assert_eq!(
                (name.as_str(), text.as_str()),
                (column.name().as_str(), *want)
            );
        }
    }

    #[test]
    fn json_strings_escape_what_json_requires() {
        let cases = [
            ("plain", r#""plain""#),
            ("", r#""""#),
            ("Müller", r#""Müller""#),
            ("say \"hi\"", r#""say \"hi\"""#),
            ("a\\b", r#""a\\b""#),
            ("two\nlines\r\tend", r#""two\nlines\r\tend""#),
            ("bell\u{7}", r#""bell\u0007""#),
        ];
        for (text, want) in cases {
            assert_eq!(json_string(text), want, "{text:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn json_strings_round_trip_through_serde(text in ".*") {
            let back: String = serde_json::from_str(&json_string(&text)).unwrap();
            proptest::prop_assert_eq!(back, text);
        }
    }

    #[test]
    fn a_decoder_panic_is_an_input_error() {
        let e = guarded(
            Path::new("x.parquet"),
            7,
            "cannot decode rows 7..9",
            || -> PolarsResult<()> { panic!("index out of bounds") },
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            e,
            "x.parquet: line 7: cannot decode rows 7..9: the Parquet decoder failed (index out of bounds); is the file truncated or corrupt?"
        );
    }

    /// Flipped bytes anywhere in a file give records or an input error, never a panic.
    #[test]
    fn damaged_bytes_never_escape_as_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let frame = DataFrame::new_infer_height(vec![
            Column::new("id".into(), ["1", "2"]),
            Column::new("n".into(), [Some(1i64), None]),
        ])
        .unwrap();
        let path = write(dir.path(), frame, 8);
        let good = std::fs::read(&path).unwrap();
        let m = mapping("key = \"id\"\n[fields]\ncompany = \"n\"\n");
        for at in 0..good.len() {
            let mut bytes = good.clone();
            for b in &mut bytes[at..(at + 4).min(good.len())] {
                *b ^= 0xa5;
            }
            match read_in_slices(&path, &bytes, &m, 0, 1) {
                Ok(got) => assert!(got.rows_read() <= 2, "byte {at}"),
                Err(Error::Input { .. }) => {}
                Err(e) => panic!("byte {at}: {e}"),
            }
        }
    }
}
