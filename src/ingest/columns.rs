//! Column resolution shared by the tabular adapters (CSV, Parquet):
//! `Mapping + the file's column names -> ColumnPlan`, and `ColumnPlan + one row -> values`.

use std::path::Path;

use super::show;
use crate::error::{Error, Result};
use crate::mapping::Mapping;
use crate::record::Field;

/// Which column index feeds which field, resolved once per file.
pub(super) struct ColumnPlan {
    pub key: usize,
    pub fields: Vec<(Field, usize)>,
    pub extra: Vec<(usize, String)>,
}

/// One row's key, field values (mapping order) and extras.
pub(super) type PlannedRow = (String, Vec<(Field, String)>, Vec<(String, String)>);

impl ColumnPlan {
    /// `within` names where the column names come from in error messages ("header",
    /// "schema").
    pub fn new(path: &Path, mapping: &Mapping, columns: &[String], within: &str) -> Result<Self> {
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
                        "column `{name}` is not in the {within} of {} (columns: {})",
                        show(path),
                        columns.join(", ")
                    ),
                }),
                _ => Err(Error::Config {
                    path: mapping.path.clone(),
                    message: format!(
                        "column `{name}` appears {} times in the {within} of {}; rename the duplicates in the export",
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

    /// The row's key, field values and extras, with `get(column)` giving one cell as text;
    /// the first error `get` gives (an undecodable cell) is returned as is.
    pub fn row<E>(
        &self,
        get: impl Fn(usize) -> std::result::Result<String, E>,
        mapping: &Mapping,
    ) -> std::result::Result<PlannedRow, E> {
        let key = get(self.key)?;
        let mut values = Vec::with_capacity(self.fields.len());
        for &(field, i) in &self.fields {
            let v = get(i)?;
            // A single-valued field fed by several columns takes the first non-empty one.
            if !field.is_multi()
                && values.iter().any(|(f, v): &(Field, String)| {
                    *f == field && !mapping.empty.is_empty_in(field, v)
                })
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

fn positions(columns: &[String], pred: impl Fn(&str) -> bool) -> Vec<usize> {
    columns
        .iter()
        .enumerate()
        .filter(|(_, c)| pred(c))
        .map(|(i, _)| i)
        .collect()
}

/// Column name comparison that forgives case and white space: ` E-Mail ` = `e-mail`.
fn squash(s: &str) -> String {
    s.split_whitespace().collect::<String>().to_lowercase()
}
