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
