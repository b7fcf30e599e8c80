//! Helpers shared by the end-to-end tests: run the real binary in a scratch copy of the
//! demo.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_crmfuse"))
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A scratch directory with `demo/` (the demo sources and pipeline) and `mappings/`, laid
/// out like the repository so the pipeline's relative paths hold.
pub struct Scratch {
    pub dir: tempfile::TempDir,
}

impl Scratch {
    pub fn demo() -> Scratch {
        let dir = tempfile::tempdir().expect("tempdir");
        let fixtures = dir.path().join("fixtures/demo");
        std::fs::create_dir_all(&fixtures).unwrap();
        std::fs::create_dir_all(dir.path().join("mappings")).unwrap();
        for entry in std::fs::read_dir(repo().join("fixtures/demo")).unwrap() {
            let e = entry.unwrap();
            std::fs::copy(e.path(), fixtures.join(e.file_name())).unwrap();
        }
        for entry in std::fs::read_dir(repo().join("mappings")).unwrap() {
            let e = entry.unwrap();
            std::fs::copy(e.path(), dir.path().join("mappings").join(e.file_name())).unwrap();
        }
        Scratch { dir }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn config(&self) -> PathBuf {
        self.path("fixtures/demo/pipeline.toml")
    }

    pub fn store(&self) -> PathBuf {
        self.path("crm.db")
    }

    /// Run crmfuse with the scratch directory as working directory.
    pub fn run(&self, args: &[&str]) -> Output {
        bin()
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .expect("run crmfuse")
    }
}

pub fn ok(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "crmfuse failed ({:?})\nstdout:\n{stdout}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

pub fn failed(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !out.status.success(),
        "crmfuse should have failed:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(!stderr.contains("panicked"), "panic: {stderr}");
    stderr
}

pub fn json(out: &Output) -> serde_json::Value {
    serde_json::from_str(&ok(out)).expect("JSON on stdout")
}

pub fn count(db: &Path, sql: &str) -> i64 {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

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
        Demo::assignment_of(&self.path("crm.db"))
    }

    /// (source, source_key) -> customer_id from the store at `db`.
    pub fn assignment_of(db: &Path) -> std::collections::BTreeMap<(String, String), String> {
        let conn = rusqlite::Connection::open(db).unwrap();
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
