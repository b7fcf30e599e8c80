//! Helpers for the end-to-end tests: a private copy of the demo and the real binary.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Output;

/// A copy of fixtures/demo (and the mappings it refers to) in a temporary directory, so
/// that no test writes a store into the repository.
pub struct Demo {
    pub _dir: tempfile::TempDir,
    /// The directory holding pipeline.toml and the source files (runs start here).
    pub root: PathBuf,
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

impl Demo {
    pub fn new() -> Demo {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("fixtures/demo");
        copy_dir(&repo.join("fixtures/demo"), &root);
        copy_dir(&repo.join("mappings"), &dir.path().join("mappings"));
        Demo { _dir: dir, root }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// Run crmfuse in the demo directory.
    pub fn crmfuse(&self, args: &[&str]) -> Output {
        std::process::Command::new(env!("CARGO_BIN_EXE_crmfuse"))
            .args(args)
            .current_dir(&self.root)
            .output()
            .unwrap()
    }

    pub fn report_json(&self, dir: &str) -> serde_json::Value {
        let text = std::fs::read_to_string(self.path(dir).join("report.json")).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    /// Keep the header and the first half of the data rows of a source file.
    pub fn truncate_to_half(&self, file: &str) -> (usize, usize) {
        let path = self.path(file);
        let bytes = std::fs::read(&path).unwrap();
        let lines: Vec<&[u8]> = bytes.split_inclusive(|&b| b == b'\n').collect();
        let rows = lines.len() - 1;
        let keep = 1 + rows / 2;
        std::fs::write(&path, lines[..keep].concat()).unwrap();
        (rows, rows / 2)
    }

    /// (source, source_key) -> customer_id from the store.
    pub fn assignment(&self) -> std::collections::BTreeMap<(String, String), String> {
        let conn = rusqlite::Connection::open(self.path("crm.db")).unwrap();
        let mut stmt = conn
            .prepare("SELECT source, source_key, customer_id FROM customer_sources")
            .unwrap();
        stmt.query_map([], |r| Ok(((r.get(0)?, r.get(1)?), r.get(2)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    }
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Fail with the command's output when it did not exit with `code`.
pub fn expect_code(out: &Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}
