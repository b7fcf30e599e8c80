//! CSV output shared by every writer: cells -> a CSV file that is safe to open in a
//! spreadsheet.
//!
//! A spreadsheet runs a cell that starts with `=`, `+`, `-` or `@` (some also a tab or a
//! carriage return) as a formula, so an exported customer name such as
//! `=HYPERLINK("http://evil","click")` would be an injection. Every text cell that starts
//! with one of those gets a leading apostrophe, which spreadsheets show as text. A text cell
//! that already starts with an apostrophe gets one more, so that [`restore`] undoes the
//! neutralisation exactly when crmfuse reads its own CSV back (a steward's `review.csv`).
//! Numbers the tool computes (weights, counts) are written as numbers: `-3.5` is not a
//! formula, and an apostrophe would turn it into text.

use std::borrow::Cow;
use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};

/// Characters that make a spreadsheet treat a cell as a formula.
const FORMULA_START: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// The cell as it is safe to write: text that a spreadsheet would run gets a leading `'`.
pub fn neutralise(cell: &str) -> Cow<'_, str> {
    match cell.chars().next() {
        Some(c) if FORMULA_START.contains(&c) || c == '\'' => Cow::Owned(format!("'{cell}")),
        _ => Cow::Borrowed(cell),
    }
}

/// Undo [`neutralise`] on a cell read back from a CSV crmfuse wrote.
pub fn restore(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest)
            if rest
                .chars()
                .next()
                .is_some_and(|c| FORMULA_START.contains(&c) || c == '\'') =>
        {
            rest
        }
        _ => cell,
    }
}

/// One cell of a row: text from the data (neutralised) or a number the tool computed.
#[derive(Debug, Clone, PartialEq)]
pub enum CsvCell<'a> {
    Text(Cow<'a, str>),
    /// Already formatted by the caller; written as it is.
    Number(String),
}

impl<'a> From<&'a str> for CsvCell<'a> {
    fn from(s: &'a str) -> Self {
        CsvCell::Text(Cow::Borrowed(s))
    }
}

impl<'a> From<&'a String> for CsvCell<'a> {
    fn from(s: &'a String) -> Self {
        CsvCell::Text(Cow::Borrowed(s.as_str()))
    }
}

impl From<String> for CsvCell<'_> {
    fn from(s: String) -> Self {
        CsvCell::Text(Cow::Owned(s))
    }
}

impl<'a> From<Option<&'a str>> for CsvCell<'a> {
    fn from(s: Option<&'a str>) -> Self {
        CsvCell::Text(Cow::Borrowed(s.unwrap_or("")))
    }
}

impl From<u64> for CsvCell<'_> {
    fn from(n: u64) -> Self {
        CsvCell::Number(n.to_string())
    }
}

impl From<u32> for CsvCell<'_> {
    fn from(n: u32) -> Self {
        CsvCell::Number(n.to_string())
    }
}

impl CsvCell<'_> {
    /// A real number with a fixed number of decimals.
    pub fn real(x: f64, decimals: usize) -> CsvCell<'static> {
        CsvCell::Number(if x.is_finite() {
            format!("{x:.decimals$}")
        } else {
            String::new()
        })
    }
}

/// A CSV writer that neutralises every text cell.
pub struct CsvOut<W: Write> {
    inner: csv::Writer<W>,
    path: std::path::PathBuf,
}

impl CsvOut<std::fs::File> {
    pub fn create(path: &Path) -> Result<Self> {
        let file = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
        Ok(CsvOut {
            inner: csv::Writer::from_writer(file),
            path: path.to_path_buf(),
        })
    }
}

impl<W: Write> CsvOut<W> {
    pub fn from_writer(w: W) -> Self {
        CsvOut {
            inner: csv::Writer::from_writer(w),
            path: std::path::PathBuf::from("<output>"),
        }
    }

    /// Write one row.
    pub fn row<'c>(&mut self, cells: impl IntoIterator<Item = CsvCell<'c>>) -> Result<()> {
        let cells: Vec<Cow<'_, str>> = cells
            .into_iter()
            .map(|c| match c {
                CsvCell::Text(t) => Cow::Owned(neutralise(&t).into_owned()),
                CsvCell::Number(n) => Cow::Owned(n),
            })
            .collect();
        self.inner
            .write_record(cells.iter().map(|c| c.as_bytes()))
            .map_err(|e| self.error(e))
    }

    /// Flush and give back the underlying writer.
    pub fn finish(self) -> Result<W> {
        let path = self.path.clone();
        self.inner
            .into_inner()
            .map_err(|e| Error::io(&path, std::io::Error::other(e.to_string())))
    }

    fn error(&self, e: csv::Error) -> Error {
        Error::io(&self.path, std::io::Error::other(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_neutralised() {
        let cases = [
            ("=1+1", "'=1+1"),
            ("+49 171 1234567", "'+49 171 1234567"),
            ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            ("'quoted", "''quoted"),
            ("Anna Müller", "Anna Müller"),
            ("a=b", "a=b"),
            ("", ""),
            ("0010001", "0010001"),
        ];
        for (raw, want) in cases {
            assert_eq!(neutralise(raw), want, "{raw:?}");
            assert_eq!(restore(&neutralise(raw)), raw, "round trip {raw:?}");
        }
    }

    #[test]
    fn restore_leaves_other_apostrophes_alone() {
        assert_eq!(restore("'abc"), "'abc");
        assert_eq!(restore("O'Brien"), "O'Brien");
        assert_eq!(restore("'"), "'");
    }

    #[test]
    fn writer_neutralises_text_but_not_numbers() {
        let mut out = CsvOut::from_writer(Vec::new());
        out.row(["name".into(), "weight".into()]).unwrap();
        out.row(["=cmd()".into(), CsvCell::real(-3.25, 2)]).unwrap();
        out.row([CsvCell::from("@x"), CsvCell::from(7u64)]).unwrap();
        let text = String::from_utf8(out.finish().unwrap()).unwrap();
        assert_eq!(text, "name,weight\n'=cmd(),-3.25\n'@x,7\n");
    }
}
