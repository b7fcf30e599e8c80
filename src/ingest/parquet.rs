//! Parquet adapter (cargo feature `polars`): every column is read as text and the rows go
//! through the same record builder as CSV rows.

use std::path::Path;

use super::Ingested;
use crate::error::{Error, Result};
use crate::mapping::Mapping;

pub(super) fn read(path: &Path, _mapping: &Mapping, _source: u16) -> Result<Ingested> {
    Err(Error::Config {
        path: path.to_path_buf(),
        message: "parquet support is being built".into(),
    })
}
