//! Decisions: a data steward's verdicts on record pairs, `review.csv -> Decisions`.
//!
//! The report exports borderline pairs as `review.csv`; the steward writes `same` or
//! `different` in its `decision` column, and `crmfuse run --decisions review.csv` hands the
//! file back. Records are named by (source, source key), never by position, so a decision
//! survives re-runs and new exports. The cluster stage applies `same` as a must-link and
//! `different` as a cannot-link.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::csv_out;
use crate::error::{Error, Result};

/// The columns of `review.csv` that decisions are read from; the report writes them.
pub const SOURCE_A: &str = "source_a";
pub const KEY_A: &str = "key_a";
pub const SOURCE_B: &str = "source_b";
pub const KEY_B: &str = "key_b";
pub const DECISION: &str = "decision";

/// One source record, by its source's name and its own key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize)]
pub struct RecordRef {
    pub source: String,
    pub key: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The two records are the same customer: must-link.
    Same,
    /// They are different customers: cannot-link.
    Different,
}

impl Verdict {
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Same => "same",
            Verdict::Different => "different",
        }
    }

    /// `same` / `different` (and the obvious short forms); `Some(None)` for an empty cell,
    /// `None` for anything else.
    pub fn parse(cell: &str) -> Option<Option<Verdict>> {
        match cell.trim().to_lowercase().as_str() {
            "" => Some(None),
            "same" | "s" | "yes" | "y" | "match" => Some(Some(Verdict::Same)),
            "different" | "diff" | "d" | "no" | "n" | "no match" => Some(Some(Verdict::Different)),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub a: RecordRef,
    pub b: RecordRef,
    pub verdict: Verdict,
    /// 1-based line in the decisions file.
    pub line: u64,
}

/// The decisions of one file (empty when none was given).
#[derive(Debug, Clone, Default)]
pub struct Decisions {
    pub path: Option<PathBuf>,
    /// SHA-256 of the file, hex.
    pub checksum: Option<String>,
    pub decisions: Vec<Decision>,
}

impl Decisions {
    pub fn is_empty(&self) -> bool {
        self.decisions.is_empty()
    }

    /// Read a decisions file: any CSV with the columns `source_a`, `key_a`, `source_b`,
    /// `key_b` and `decision` (other columns are ignored). Rows with an empty decision are
    /// skipped. A file saved by a spreadsheet with `;` as the delimiter, or with a byte
    /// order mark, is read as well.
    pub fn read(path: &Path) -> Result<Decisions> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let mut sha = crate::hash::Sha256Hex::new();
        sha.update(&bytes);
        let text = std::str::from_utf8(&bytes).map_err(|e| Error::Input {
            path: path.to_path_buf(),
            line: bytes[..e.valid_up_to()]
                .iter()
                .filter(|&&b| b == b'\n')
                .count() as u64
                + 1,
            message: "not valid UTF-8; save the file as CSV UTF-8".into(),
        })?;
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let header = text.lines().next().unwrap_or("");
        let delimiter =
            if header.contains(DECISION) && header.contains(';') && !header.contains(',') {
                b';'
            } else {
                b','
            };
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .flexible(true)
            .from_reader(text.as_bytes());
        let headers = reader
            .headers()
            .map_err(|e| input(path, 1, e.to_string()))?
            .clone();
        let col = |name: &str| {
            headers.iter().position(|h| h.trim() == name).ok_or_else(|| {
                input(
                    path,
                    1,
                    format!(
                        "no `{name}` column; a decisions file needs {SOURCE_A}, {KEY_A}, {SOURCE_B}, {KEY_B} and {DECISION} (the columns of review.csv)"
                    ),
                )
            })
        };
        let (sa, ka, sb, kb, d) = (
            col(SOURCE_A)?,
            col(KEY_A)?,
            col(SOURCE_B)?,
            col(KEY_B)?,
            col(DECISION)?,
        );
        let mut decisions = Vec::new();
        for row in reader.records() {
            let row = row.map_err(|e| {
                let line = e.position().map_or(0, |p| p.line());
                input(path, line, e.to_string())
            })?;
            let line = row.position().map_or(0, |p| p.line());
            let cell = |i: usize| csv_out::restore(row.get(i).unwrap_or("").trim()).to_string();
            let verdict = match Verdict::parse(&cell(d)) {
                Some(Some(v)) => v,
                Some(None) => continue,
                None => {
                    return Err(input(
                        path,
                        line,
                        format!(
                            "decision `{}` is neither `same` nor `different` (leave it empty to decide later)",
                            cell(d)
                        ),
                    ));
                }
            };
            let (a, b) = (
                RecordRef {
                    source: cell(sa),
                    key: cell(ka),
                },
                RecordRef {
                    source: cell(sb),
                    key: cell(kb),
                },
            );
            if a.source.is_empty() || a.key.is_empty() || b.source.is_empty() || b.key.is_empty() {
                return Err(input(
                    path,
                    line,
                    "a decided pair needs source_a, key_a, source_b and key_b".into(),
                ));
            }
            decisions.push(Decision {
                a,
                b,
                verdict,
                line,
            });
        }
        Ok(Decisions {
            path: Some(path.to_path_buf()),
            checksum: Some(sha.finish()),
            decisions,
        })
    }
}

fn input(path: &Path, line: u64, message: String) -> Error {
    Error::Input {
        path: path.to_path_buf(),
        line,
        message,
    }
}

/// A decision the run could not apply, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unapplied {
    pub line: u64,
    pub a: RecordRef,
    pub b: RecordRef,
    pub verdict: Verdict,
    pub reason: String,
}

/// What became of the decisions in a run.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DecisionOutcome {
    pub file: Option<String>,
    pub checksum: Option<String>,
    /// Decisions read from the file (non-empty `decision` cells).
    pub read: u64,
    pub applied_same: u64,
    pub applied_different: u64,
    /// Decisions naming a record that is not in this run's sources (or an unknown source).
    pub stale: Vec<Unapplied>,
    /// `different` decisions that other `same` decisions overrule (the two records end up
    /// in one customer through a chain of must-links).
    pub conflicts: Vec<Unapplied>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("review.csv");
        std::fs::write(&p, text).unwrap();
        (dir, p)
    }

    #[test]
    fn reads_decided_rows_and_skips_undecided() {
        let (_d, p) = write(
            "pair_id,decision,source_a,key_a,source_b,key_b,name_a\n\
             1,same,erp,0010001,webshop,W-1,Anna\n\
             2,,erp,0010002,webshop,W-2,Bob\n\
             3, Different ,erp,'-7,support,'=x,Eve\n",
        );
        let d = Decisions::read(&p).unwrap();
        assert_eq!(d.decisions.len(), 2);
        assert_eq!(d.decisions[0].verdict, Verdict::Same);
        assert_eq!(d.decisions[0].a.key, "0010001");
        assert_eq!(d.decisions[1].verdict, Verdict::Different);
        // Neutralised keys are restored.
        assert_eq!(d.decisions[1].a.key, "-7");
        assert_eq!(d.decisions[1].b.key, "=x");
        assert_eq!(d.decisions[1].line, 4);
        assert_eq!(d.checksum.as_ref().unwrap().len(), 64);
    }

    #[test]
    fn reads_a_semicolon_file_with_a_bom() {
        let (_d, p) =
            write("\u{feff}pair_id;decision;source_a;key_a;source_b;key_b\n1;s;erp;1;webshop;2\n");
        let d = Decisions::read(&p).unwrap();
        assert_eq!(d.decisions.len(), 1);
        assert_eq!(d.decisions[0].b.source, "webshop");
    }

    #[test]
    fn bad_decisions_name_file_line_and_value() {
        let (_d, p) = write("decision,source_a,key_a,source_b,key_b\nmaybe,erp,1,shop,2\n");
        let msg = Decisions::read(&p).unwrap_err().to_string();
        assert!(msg.contains("review.csv: line 2"), "{msg}");
        assert!(msg.contains("`maybe`"), "{msg}");
        let (_d, p) = write("decision,source_a,key_a\nsame,erp,1\n");
        let msg = Decisions::read(&p).unwrap_err().to_string();
        assert!(msg.contains("no `source_b` column"), "{msg}");
    }
}
