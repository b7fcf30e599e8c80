//! Renders report.html in headless Chromium, takes a screenshot, and fails on any console
//! message. The report has no scripts and its Content-Security-Policy forbids everything
//! but inline styles, so any console message is an error: a resource it tried to fetch, or
//! markup from the data that escaped escaping.
//!
//! Chromium comes from Debian (`apt-get install -y chromium`). Without it the test is
//! skipped with a message, except under CI (`CI` set), where it fails.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Demo, expect_code};

fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CRMFUSE_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|p| p.is_file())
}

/// Render `page` and screenshot it; gives Chromium's log (stderr).
fn render(browser: &Path, page: &Path, png: &Path, work: &Path) -> String {
    let profile = tempfile::tempdir_in(work).unwrap();
    let log_path = work.join(format!(
        "{}.log",
        png.file_stem().unwrap().to_string_lossy()
    ));
    let log = std::fs::File::create(&log_path).unwrap();
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1280,6000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            assert!(status.success(), "chromium exited with {status}:\n{log}");
            return log;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within 120 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Console messages in Chromium's log (`...:INFO:CONSOLE:12] "message", source: ...`;
/// older versions write `CONSOLE(12)`), and uncaught exceptions.
fn console_messages(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| l.contains(":CONSOLE") || l.contains("Uncaught"))
        .collect()
}

fn assert_png(png: &Path, min_bytes: u64) {
    let bytes = std::fs::read(png).unwrap();
    assert!(
        bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "{} is not a PNG",
        png.display()
    );
    assert!(
        bytes.len() as u64 >= min_bytes,
        "screenshot of {} bytes: is the page blank?",
        bytes.len()
    );
}

#[test]
fn report_renders_in_headless_chromium_without_console_errors() {
    let Some(browser) = chromium() else {
        if std::env::var_os("CI").is_some() {
            panic!(
                "chromium is not installed, and CI must run this test: apt-get install -y chromium"
            );
        }
        eprintln!(
            "SKIPPED report_renders_in_headless_chromium_without_console_errors: no chromium on PATH (apt-get install -y chromium, or set CRMFUSE_CHROMIUM)"
        );
        return;
    };
    let work = tempfile::tempdir().unwrap();

    // The check must be able to fail: a page with an error has to show up in the log.
    let canary = work.path().join("canary.html");
    std::fs::write(
        &canary,
        "<!DOCTYPE html><html><head><title>canary</title></head><body><p>canary</p><script>console.error('crmfuse-canary'); notAFunction();</script></body></html>",
    )
    .unwrap();
    let log = render(
        &browser,
        &canary,
        &work.path().join("canary.png"),
        work.path(),
    );
    let seen = console_messages(&log);
    assert!(
        seen.iter().any(|l| l.contains("crmfuse-canary"))
            && seen.iter().any(|l| l.contains("Uncaught")),
        "this chromium does not log console errors the way the test reads them, so the check would pass whatever the report does; log:\n{log}"
    );

    // The demo's report, and one built from hostile data: neither may log anything.
    let demo = Demo::new();
    let sheet = demo.path("sales_sheet.csv");
    let hostile = Demo::new();
    let mut csv = std::fs::read_to_string(&sheet).unwrap();
    csv.push_str("NW-900,<script>alert(1)</script>,x@example.com,,<img src=x onerror=alert(2)>,Berlin,10115,Germany,,1/7/2024,,\n\"<script>alert(3)</script>\"\n");
    std::fs::write(hostile.path("sales_sheet.csv"), csv).unwrap();
    for (name, d) in [("report", &demo), ("hostile", &hostile)] {
        let out = d.crmfuse(&["run", "pipeline.toml", "--dry-run", "--report", "out"]);
        expect_code(&out, 0);
        let png = work.path().join(format!("{name}.png"));
        let log = render(&browser, &d.path("out/report.html"), &png, work.path());
        let messages = console_messages(&log);
        assert!(
            messages.is_empty(),
            "{name}: console messages while rendering report.html:\n{}",
            messages.join("\n")
        );
        assert_png(&png, 50_000);
        // Kept for a person to look at.
        let keep = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-screenshot.png"));
        std::fs::copy(&png, &keep).unwrap();
        eprintln!("screenshot: {}", keep.display());
    }
}
