//! Mapping files: `mappings/*.toml -> Mapping`, the declarative description of how one
//! source's export is read and which of its columns feed which canonical field.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::cleanse::empty::EmptyTokens;
use crate::cleanse::name::NameOrder;
use crate::config::SourceFormat;
use crate::error::{Error, Result};
use crate::record::Field;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MappingFile {
    encoding: Option<String>,
    delimiter: Option<Spanned<String>>,
    header_line: Option<Spanned<u64>>,
    key: String,
    #[serde(default)]
    empty: Vec<String>,
    phone_region: Option<Spanned<String>>,
    date_format: Option<String>,
    #[serde(default = "yes")]
    keep_unmapped: bool,
    #[serde(default)]
    fields: BTreeMap<String, Spanned<toml::Value>>,
}

fn yes() -> bool {
    true
}

/// How one canonical field is fed.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldMapping {
    pub field: Field,
    /// Columns (CSV) or dotted paths (JSON Lines); several give several values for a
    /// multi-valued field, or the first non-empty one for a single-valued field.
    pub columns: Vec<String>,
    /// chrono format for date and timestamp fields.
    pub format: Option<String>,
    /// How a full name is ordered.
    pub order: NameOrder,
    /// Tokens meaning yes / no for marketing consent (lower-case).
    pub yes: Vec<String>,
    pub no: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Mapping {
    pub path: PathBuf,
    pub encoding: &'static encoding_rs::Encoding,
    pub delimiter: u8,
    /// 1-based line of the CSV header row.
    pub header_line: u64,
    pub key: String,
    pub empty: EmptyTokens,
    /// ISO 3166-1 alpha-2, upper-case.
    pub phone_region: Option<String>,
    pub date_format: Option<String>,
    pub keep_unmapped: bool,
    pub fields: Vec<FieldMapping>,
}

const DEFAULT_YES: &[&str] = &["true", "yes", "y", "1", "x", "ja", "j", "oui", "t"];
const DEFAULT_NO: &[&str] = &["false", "no", "n", "0", "nein", "non", "f"];

impl Mapping {
    pub fn parse(path: &Path, text: &str, format: SourceFormat) -> Result<Mapping> {
        let file: MappingFile = toml::from_str(text).map_err(|e| Error::toml(path, text, &e))?;
        let err = |span: Option<std::ops::Range<usize>>, message: String| {
            let message = match span {
                Some(s) => format!(
                    "line {}: {message}",
                    text[..s.start.min(text.len())].matches('\n').count() + 1
                ),
                None => message,
            };
            Error::Config {
                path: path.to_path_buf(),
                message,
            }
        };
        let encoding = match &file.encoding {
            None => encoding_rs::UTF_8,
            Some(label) => encoding_rs::Encoding::for_label(label.trim().as_bytes())
                .filter(|e| e.is_ascii_compatible())
                .ok_or_else(|| {
                    err(
                        None,
                        format!(
                            "encoding `{label}` is not supported (use utf-8, windows-1252, iso-8859-1, iso-8859-15 or another ASCII-compatible WHATWG label)"
                        ),
                    )
                })?,
        };
        if format != SourceFormat::Csv {
            if let Some(d) = &file.delimiter {
                return Err(err(
                    Some(d.span()),
                    "`delimiter` applies to csv sources only".into(),
                ));
            }
            if let Some(h) = &file.header_line {
                return Err(err(
                    Some(h.span()),
                    "`header_line` applies to csv sources only".into(),
                ));
            }
        }
        let delimiter = match &file.delimiter {
            None => b',',
            Some(d) => match d.get_ref().as_str() {
                "\\t" | "\t" | "tab" => b'\t',
                s if s.len() == 1 && s.is_ascii() => s.as_bytes()[0],
                s => {
                    return Err(err(
                        Some(d.span()),
                        format!("delimiter must be one ASCII character, got `{s}`"),
                    ));
                }
            },
        };
        let header_line = match &file.header_line {
            None => 1,
            Some(h) if *h.get_ref() >= 1 => *h.get_ref(),
            Some(h) => return Err(err(Some(h.span()), "header_line starts at 1".into())),
        };
        let phone_region = match &file.phone_region {
            None => None,
            Some(r) => {
                let code = r.get_ref().trim().to_ascii_uppercase();
                if code.len() != 2 || !code.chars().all(|c| c.is_ascii_alphabetic()) {
                    return Err(err(
                        Some(r.span()),
                        format!(
                            "phone_region must be an ISO 3166-1 alpha-2 code such as DE, got `{}`",
                            r.get_ref()
                        ),
                    ));
                }
                Some(code)
            }
        };
        if file.key.trim().is_empty() {
            return Err(err(
                None,
                "`key` must name the source's record key column".into(),
            ));
        }

        let mut fields = Vec::with_capacity(file.fields.len());
        for (name, spec) in &file.fields {
            let span = Some(spec.span());
            let field = Field::from_name(name).ok_or_else(|| {
                err(
                    span.clone(),
                    format!(
                        "unknown field `{name}`; known fields: {}",
                        Field::ALL.map(Field::name).join(", ")
                    ),
                )
            })?;
            let fm = parse_field(field, spec.get_ref()).map_err(|m| err(span, m))?;
            fields.push(fm);
        }
        fields.sort_by_key(|f| f.field);
        Ok(Mapping {
            path: path.to_path_buf(),
            encoding,
            delimiter,
            header_line,
            key: file.key,
            empty: EmptyTokens::new(&file.empty),
            phone_region,
            date_format: file.date_format,
            keep_unmapped: file.keep_unmapped,
            fields,
        })
    }

    /// Every column or path the mapping reads, the key first.
    pub fn columns(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.key.as_str()).chain(
            self.fields
                .iter()
                .flat_map(|f| f.columns.iter().map(String::as_str)),
        )
    }

    pub fn field(&self, field: Field) -> Option<&FieldMapping> {
        self.fields.iter().find(|f| f.field == field)
    }
}

fn parse_field(field: Field, value: &toml::Value) -> std::result::Result<FieldMapping, String> {
    let mut fm = FieldMapping {
        field,
        columns: Vec::new(),
        format: None,
        order: NameOrder::Auto,
        yes: DEFAULT_YES.iter().map(|s| s.to_string()).collect(),
        no: DEFAULT_NO.iter().map(|s| s.to_string()).collect(),
    };
    let strings = |v: &toml::Value, what: &str| -> std::result::Result<Vec<String>, String> {
        match v {
            toml::Value::String(s) => Ok(vec![s.clone()]),
            toml::Value::Array(items) => items
                .iter()
                .map(|i| {
                    i.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| format!("`{what}` must be a list of strings"))
                })
                .collect(),
            _ => Err(format!("`{what}` must be a string or a list of strings")),
        }
    };
    match value {
        toml::Value::String(_) | toml::Value::Array(_) => {
            fm.columns = strings(value, field.name())?
        }
        toml::Value::Table(t) => {
            for (k, v) in t {
                match k.as_str() {
                    "column" | "columns" | "path" => fm.columns.extend(strings(v, k)?),
                    "format" if is_date(field) => {
                        fm.format = Some(
                            v.as_str()
                                .ok_or("`format` must be a string such as \"%d.%m.%Y\"")?
                                .to_string(),
                        )
                    }
                    "order" if field == Field::FullName => {
                        fm.order = match v.as_str() {
                            Some("auto") => NameOrder::Auto,
                            Some("first_last") => NameOrder::FirstLast,
                            Some("last_first") => NameOrder::LastFirst,
                            _ => {
                                return Err("`order` must be auto, first_last or last_first".into());
                            }
                        }
                    }
                    "yes" if field == Field::MarketingConsent => {
                        fm.yes = lower(strings(v, k)?);
                    }
                    "no" if field == Field::MarketingConsent => {
                        fm.no = lower(strings(v, k)?);
                    }
                    other => {
                        return Err(format!(
                            "`{other}` is not an option of field `{}` (options: column, columns{})",
                            field.name(),
                            match field {
                                Field::FullName => ", order",
                                Field::MarketingConsent => ", yes, no",
                                f if is_date(f) => ", format",
                                _ => "",
                            }
                        ));
                    }
                }
            }
        }
        _ => {
            return Err(format!(
                "field `{}` must be a column name, a list or a table",
                field.name()
            ));
        }
    }
    if fm.columns.is_empty() || fm.columns.iter().any(|c| c.trim().is_empty()) {
        return Err(format!("field `{}` names no column", field.name()));
    }
    Ok(fm)
}

fn is_date(field: Field) -> bool {
    matches!(
        field,
        Field::BirthDate | Field::CreatedAt | Field::UpdatedAt
    )
}

fn lower(v: Vec<String>) -> Vec<String> {
    v.into_iter().map(|s| s.trim().to_lowercase()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Mapping> {
        Mapping::parse(Path::new("m.toml"), text, SourceFormat::Csv)
    }

    #[test]
    fn parses_every_form_of_field() {
        let m = parse(
            r#"
encoding = "windows-1252"
delimiter = ";"
header_line = 2
key = "NR"
empty = ["n.v."]
phone_region = "de"
[fields]
full_name = { column = "NAME", order = "last_first" }
phone = ["TEL", "MOBIL"]
email = "MAIL"
birth_date = { column = "GEB", format = "%d.%m.%Y" }
marketing_consent = { column = "NL", yes = ["J"], no = ["N"] }
"#,
        )
        .unwrap();
        assert_eq!(m.encoding, encoding_rs::WINDOWS_1252);
        assert_eq!(m.delimiter, b';');
        assert_eq!(m.header_line, 2);
        assert_eq!(m.phone_region.as_deref(), Some("DE"));
        let name = m.field(Field::FullName).unwrap();
        assert_eq!(name.order, NameOrder::LastFirst);
        assert_eq!(m.field(Field::Phone).unwrap().columns, ["TEL", "MOBIL"]);
        assert_eq!(m.field(Field::MarketingConsent).unwrap().yes, ["j"]);
        assert_eq!(
            m.columns().collect::<Vec<_>>(),
            ["NR", "NAME", "MAIL", "TEL", "MOBIL", "GEB", "NL"]
        );
        assert!(m.empty.is_empty("N.V."));
    }

    #[test]
    fn tab_delimiter() {
        let m = parse("delimiter = \"\\t\"\nkey = \"id\"\n").unwrap();
        assert_eq!(m.delimiter, b'\t');
    }

    #[test]
    fn errors_name_the_line_and_problem() {
        let cases = [
            (
                "key = \"id\"\n[fields]\nemial = \"x\"\n",
                "line 3: unknown field `emial`",
            ),
            (
                "key = \"id\"\nencoding = \"klingon\"\n",
                "encoding `klingon`",
            ),
            (
                "key = \"id\"\ndelimiter = \";;\"\n",
                "line 2: delimiter must be one",
            ),
            (
                "key = \"id\"\nphone_region = \"Germany\"\n",
                "line 2: phone_region",
            ),
            (
                "key = \"id\"\n[fields]\nemail = { column = \"m\", order = \"auto\" }\n",
                "`order` is not an option",
            ),
            ("key = \"id\"\nkye = 1\n", "line 2"),
            ("[fields]\nemail = \"m\"\n", "key"),
            (
                "key = \"id\"\n[fields]\nemail = 3\n",
                "must be a column name",
            ),
        ];
        for (text, want) in cases {
            let msg = parse(text).unwrap_err().to_string();
            assert!(msg.contains(want), "{text:?}: {msg}");
            assert!(msg.starts_with("m.toml"), "{msg}");
        }
    }

    #[test]
    fn csv_options_rejected_for_jsonl() {
        let e = Mapping::parse(
            Path::new("m.toml"),
            "key = \"id\"\ndelimiter = \";\"\n",
            SourceFormat::Jsonl,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("csv sources only"), "{e}");
    }
}
