//! Helpers shared by the end-to-end tests: run the real binary in a scratch copy of the
//! demo.
#![allow(dead_code)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use rusqlite::{Connection, OpenFlags, types::ValueRef};

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

// Reliability tests (check, crash, bad files, hostile values, concurrency): the real binary
// in any directory, canonical store dumps, a generated larger source.

/// `crmfuse ARGS` in `dir` (where relative store paths land), waited for.
pub fn crmfuse(dir: &Path, args: &[&str]) -> Output {
    bin()
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the crmfuse binary runs")
}

/// Exit code, stdout and stderr, for assertion messages.
pub fn show(o: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        text(&o.stdout),
        text(&o.stderr)
    )
}

/// The run succeeded (and said nothing about a panic).
pub fn assert_ok(o: &Output) {
    assert!(o.status.success(), "{}", show(o));
    assert_no_panic(o);
}

/// The run's summary ends with "0 change(s) recorded" (and not "130 change(s) ...").
pub fn recorded_no_change(o: &Output) -> bool {
    text(&o.stdout).lines().any(|l| l == "0 change(s) recorded")
}

pub fn assert_no_panic(o: &Output) {
    let err = text(&o.stderr);
    assert!(
        !err.contains("panicked")
            && !err.contains("RUST_BACKTRACE")
            && !err.contains("stack backtrace"),
        "{}",
        show(o)
    );
}

/// `crmfuse check --store DB` passes.
pub fn assert_store_sound(db: &Path) {
    let dir = db.parent().unwrap_or(Path::new("."));
    assert_check_passes(dir, db.file_name().unwrap().to_str().unwrap());
}

/// `crmfuse check --store STORE`, run in `dir`, passes.
pub fn assert_check_passes(dir: &Path, store: &str) {
    let o = crmfuse(dir, &["check", "--store", store]);
    assert!(
        o.status.success() && text(&o.stdout).contains("ok: every invariant holds"),
        "check failed on {}: {}",
        dir.join(store).display(),
        show(&o)
    );
}

/// Copy `fixtures/demo` and `mappings/` into `to` with the repository's layout; returns the
/// pipeline file. Its store (`crm.db`) lands in the working directory of the run.
pub fn copy_demo(to: &Path) -> PathBuf {
    copy_dir(&repo().join("fixtures/demo"), &to.join("fixtures/demo"));
    copy_dir(&repo().join("mappings"), &to.join("mappings"));
    to.join("fixtures/demo/pipeline.toml")
}

/// Add a generated source `crowd` of `rows` people (see [`crowd_csv`]) to a copied demo.
pub fn add_crowd(pipeline: &Path, rows: usize, variant: u32) {
    let dir = pipeline.parent().unwrap();
    std::fs::write(
        dir.join("crowd.toml"),
        "key = \"id\"\nphone_region = \"DE\"\ndate_format = \"%Y-%m-%d\"\n[fields]\n\
         given_name = \"given\"\nfamily_name = \"family\"\nemail = \"email\"\nphone = \"phone\"\n\
         address_line1 = \"street\"\npostcode = \"postcode\"\ncity = \"city\"\n\
         birth_date = \"birth_date\"\n",
    )
    .unwrap();
    let mut p = std::fs::read_to_string(pipeline).unwrap();
    if !p.contains("name = \"crowd\"") {
        let at = p.find("[survivorship").unwrap_or(p.len());
        p.insert_str(
            at,
            "[[sources]]\nname = \"crowd\"\npath = \"crowd.csv\"\nformat = \"csv\"\nmapping = \"crowd.toml\"\ntrust = 5\n\n",
        );
        std::fs::write(pipeline, p).unwrap();
    }
    std::fs::write(dir.join("crowd.csv"), crowd_csv(rows, variant)).unwrap();
}

/// A CSV of `rows` distinct people. `variant` 1 changes the export the way a silo changes
/// between two runs: some e-mails and streets edited, some rows gone, new rows, and some
/// rows that now duplicate another person (they merge).
pub fn crowd_csv(rows: usize, variant: u32) -> String {
    const GIVEN: [&str; 16] = [
        "Anna", "Bernd", "Clara", "Dieter", "Eva", "Frank", "Greta", "Hans", "Ida", "Jonas",
        "Karl", "Lena", "Max", "Nina", "Otto", "Paula",
    ];
    const FAMILY: [&str; 14] = [
        "Meyer",
        "Schmidt",
        "Fischer",
        "Weber",
        "Wagner",
        "Becker",
        "Hoffmann",
        "Koch",
        "Richter",
        "Klein",
        "Wolf",
        "Neumann",
        "Braun",
        "Zimmermann",
    ];
    let mut out = String::from("id,given,family,email,phone,street,postcode,city,birth_date\n");
    let person = |i: usize| {
        let g = GIVEN[i % 16];
        let f = format!("{}{}", FAMILY[(i / 16) % 14], to_letters(i / 224));
        (g, f)
    };
    let total = if variant == 1 { rows + rows / 10 } else { rows };
    for i in 0..total {
        if variant == 1 && i % 17 == 3 && i < rows {
            continue; // gone from the export
        }
        // In variant 1 every 23rd row is the same person as the row before it.
        let who = if variant == 1 && i % 23 == 5 && i > 0 {
            i - 1
        } else {
            i
        };
        let (g, f) = person(who);
        let edited = variant == 1 && i % 11 == 7;
        let email = if edited {
            format!(
                "{}.{}.new{who}@example.org",
                g.to_lowercase(),
                f.to_lowercase()
            )
        } else {
            format!("{}.{}{who}@example.com", g.to_lowercase(), f.to_lowercase())
        };
        let street = if edited {
            format!("Nebenweg {}", who % 90 + 1)
        } else {
            format!("Hauptstr. {}", who % 200 + 1)
        };
        let _ = writeln!(
            out,
            "K{i:06},{g},{f},{email},0151 {},{street},{},Berlin,19{}-0{}-1{}",
            10_000_000 + who * 7,
            10_000 + who * 3,
            50 + who % 50,
            1 + who % 9,
            who % 9
        );
    }
    out
}

/// 0 -> "", 1 -> "a", ... : distinct family names without digits.
fn to_letters(mut n: usize) -> String {
    let mut s = String::new();
    while n > 0 {
        s.push((b'a' + ((n - 1) % 26) as u8) as char);
        n = (n - 1) / 26;
    }
    s
}

/// Every table of the store, every row, in a canonical order, as text; the runs' clock
/// columns (started_at, finished_at, and the stage timings and memory inside summary_json) are left
/// out, so that two stores with the same content dump the same.
pub fn dump(store: &Path) -> String {
    let conn = Connection::open_with_flags(store, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    dump_conn(&conn)
}

pub fn dump_conn(conn: &Connection) -> String {
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut out = String::new();
    for table in tables {
        let cols: Vec<String> = conn
            .prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let keep: Vec<&String> = cols
            .iter()
            .filter(|c| !(table == "runs" && (*c == "started_at" || *c == "finished_at")))
            .collect();
        let list = keep
            .iter()
            .map(|c| format!("\"{c}\""))
            .collect::<Vec<_>>()
            .join(", ");
        let order = (1..=keep.len())
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(", ");
        let _ = writeln!(out, "== {table} ({list})");
        let mut stmt = conn
            .prepare(&format!("SELECT {list} FROM \"{table}\" ORDER BY {order}"))
            .unwrap();
        let mut rows = stmt.query([]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            let mut cells = Vec::with_capacity(keep.len());
            for (i, c) in keep.iter().enumerate() {
                let cell = match row.get_ref(i).unwrap() {
                    ValueRef::Null => "NULL".to_string(),
                    ValueRef::Integer(v) => v.to_string(),
                    ValueRef::Real(v) => format!("{v:?}"),
                    ValueRef::Text(t) => {
                        let t = text(t);
                        if table == "runs" && *c == "summary_json" {
                            without_timings(&t)
                        } else {
                            format!("{t:?}")
                        }
                    }
                    ValueRef::Blob(b) => format!("blob {b:?}"),
                };
                cells.push(cell);
            }
            let _ = writeln!(out, "{}", cells.join(" | "));
        }
    }
    out
}

fn without_timings(summary: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(summary) {
        Ok(mut v) => {
            if let Some(o) = v.as_object_mut() {
                o.remove("timings_ms");
                o.remove("peak_memory_mib");
            }
            v.to_string()
        }
        Err(_) => summary.to_string(),
    }
}

/// A scalar query on an open store.
pub fn count_in(conn: &Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}
