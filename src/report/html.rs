//! HTML rendering: `&Report -> String`, one self-contained page.
//!
//! No scripts, no fonts, no images, nothing fetched: the styles are inline and the charts
//! are inline SVG, and a Content-Security-Policy forbids everything else, so the file opens
//! the same from a mail attachment as from a file share. Every value that comes from the
//! input (customer values, keys, raw rows, paths, names) goes through [`esc`]; the markup
//! itself is built from literals and numbers only.

use std::borrow::Cow;
use std::fmt::Write as _;

use super::{
    ClusterView, Matching, RecordView, Report, ReviewPair, ShadowDependency, SourceReconciliation,
    StoreEffect, WeightBin,
};
use crate::gates::GateResult;
use crate::quality::{FieldQuality, SourceQuality};

/// Rows shown in long tables; the rest are in report.json.
const TABLE_ROWS: usize = 300;

/// Escape text for HTML element content and quoted attribute values.
pub fn esc(s: &str) -> Cow<'_, str> {
    if !s.contains(['&', '<', '>', '"', '\'']) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// 1234567 -> "1,234,567"
fn int(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn pct(x: f64) -> String {
    if x > 0.0 && x < 0.001 {
        "&lt;0.1%".into()
    } else {
        format!("{:.1}%", x * 100.0)
    }
}

/// A probability; near-certain ones are not rounded up to 100%.
fn probability(x: f64) -> String {
    if (0.999..1.0).contains(&x) {
        format!("{:.2}%", (x * 100.0).min(99.99))
    } else {
        pct(x)
    }
}

fn signed(x: f64) -> String {
    format!("{x:+.1}")
}

/// Plain words for quarantine reasons, cleansing issues and gates; the code is shown too.
const WORDS: &[(&str, &str)] = &[
    ("column_count", "wrong number of columns"),
    ("invalid_json", "not valid JSON"),
    ("not_an_object", "a JSON value that is not a record"),
    (
        "encoding",
        "bytes that are not valid in the file's encoding",
    ),
    ("missing_key", "no record key"),
    ("duplicate_key", "record key repeats an earlier row"),
    ("malformed", "could not be parsed"),
    ("email.invalid", "not a valid e-mail address"),
    ("phone.invalid", "not a valid phone number"),
    ("phone.no_region", "phone number without country code"),
    ("postcode.invalid", "postcode does not fit the country"),
    ("country.unknown", "country not recognised"),
    ("dob.future", "birth date in the future"),
    ("dob.implausible", "implausible birth date"),
    ("date.invalid", "not a date"),
    ("timestamp.invalid", "not a date and time"),
    ("consent.unknown", "consent flag not recognised"),
    ("name.empty", "name is empty"),
    ("reconciliation_must_balance", "Every row accounted for"),
    ("max_quarantine_rate", "Quarantine rate"),
    ("min_rows", "Expected number of rows"),
    ("max_cluster_size", "Largest customer"),
    ("min_email_validity", "E-mail validity"),
    ("max_overwrites", "Overwritten CRM values"),
    ("max_disappeared_rate", "Rows gone from the export"),
];

fn words(code: &str) -> Option<&'static str> {
    WORDS.iter().find(|(c, _)| *c == code).map(|(_, w)| *w)
}

const CSS: &str = r#"
:root{--ink:#1f2328;--muted:#59636e;--line:#d1d9e0;--soft:#f6f8fa;--pass:#1a7f37;--passbg:#dafbe1;--fail:#cf222e;--failbg:#ffebe9;--warn:#9a6700;--warnbg:#fff8c5;--link:#2da44e;--below:#8c959f;--veto:#d4761c;--accent:#0969da}
*{box-sizing:border-box}
body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--ink);background:#fff}
main{max-width:1120px;margin:0 auto;padding:24px 28px 64px}
h1{font-size:28px;margin:0 0 4px}
h2{font-size:21px;margin:44px 0 6px;padding-top:12px;border-top:2px solid var(--line)}
h3{font-size:16px;margin:22px 0 6px}
p{margin:6px 0 10px}
.sub,.explain{color:var(--muted)}
.explain{max-width:820px}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:13px}
.tag{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600;background:var(--soft);border:1px solid var(--line);color:var(--muted);vertical-align:middle}
.tag.pass{background:var(--passbg);color:var(--pass);border-color:#aceebb}
.tag.fail{background:var(--failbg);color:var(--fail);border-color:#ffcecb}
.tag.warn{background:var(--warnbg);color:var(--warn);border-color:#eed888}
.tag.dry{background:#ddf4ff;color:var(--accent);border-color:#b6e3ff}
.verdict{margin:20px 0;padding:18px 22px;border-radius:10px;border:2px solid}
.verdict.pass{background:var(--passbg);border-color:var(--pass)}
.verdict.fail{background:var(--failbg);border-color:var(--fail)}
.verdict .big{font-size:22px;font-weight:700}
.verdict.pass .big{color:var(--pass)}
.verdict.fail .big{color:var(--fail)}
.verdict table{margin-top:12px;background:#fff}
.tiles{display:flex;flex-wrap:wrap;gap:12px;margin:14px 0}
.tile{flex:1 1 130px;border:1px solid var(--line);border-radius:8px;padding:10px 14px;background:var(--soft)}
.tile .n{font-size:24px;font-weight:700}
.tile .l{color:var(--muted);font-size:13px}
nav{margin:10px 0 0;padding:10px 14px;background:var(--soft);border-radius:8px;font-size:14px}
nav a{color:var(--accent);text-decoration:none;margin-right:16px;white-space:nowrap}
table{border-collapse:collapse;width:100%;margin:8px 0 14px;font-size:14px}
th,td{text-align:left;padding:6px 10px;border-bottom:1px solid var(--line);vertical-align:top}
thead th{background:var(--soft);font-weight:600;border-bottom:2px solid var(--line)}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.failrow td{background:#fff5f5}
table.quality{table-layout:fixed}
td.nw{white-space:nowrap}
.bar{display:inline-block;width:90px;height:9px;background:#eaeef2;border-radius:5px;vertical-align:middle;margin-right:8px;overflow:hidden}
.bar span{display:block;height:100%;background:var(--accent)}
.bar.ok span{background:var(--pass)}.bar.mid span{background:#bf8700}.bar.low span{background:var(--fail)}
details{margin:6px 0 10px;border:1px solid var(--line);border-radius:8px;padding:6px 12px}
details>summary{cursor:pointer;font-weight:600}
pre.raw{white-space:pre-wrap;word-break:break-all;margin:0;font-size:12px;background:var(--soft);padding:4px 6px;border-radius:4px}
.chart{margin:6px 0 4px}
.legend{font-size:13px;color:var(--muted)}
.sw{display:inline-block;width:11px;height:11px;border-radius:2px;margin:0 5px 0 12px;vertical-align:-1px}
.pairs{display:grid;grid-template-columns:repeat(auto-fill,minmax(500px,1fr));gap:12px}
.pair{border:1px solid var(--line);border-radius:8px;padding:8px 12px}
.pair table{margin:6px 0;font-size:13px}
.pair th{width:92px;color:var(--muted);font-weight:600}
.pair td{width:42%;word-break:break-word}
.pair td.same{background:#eefbf1}
.pair td.diff{background:#fff8e6}
.pairhead{font-weight:600}
.evidence{font-size:12px;color:var(--muted)}
.old{color:var(--fail);text-decoration:line-through}
.new{color:var(--pass);font-weight:600}
.none{color:var(--muted);font-style:italic}
footer{margin-top:48px;color:var(--muted);font-size:13px;border-top:1px solid var(--line);padding-top:10px}
@media print{nav{display:none}details{border:none}.pairs{display:block}}
"#;

/// Render the report as one self-contained HTML page.
pub fn render(r: &Report) -> String {
    let mut h = String::with_capacity(64 * 1024);
    h.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    h.push_str("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n");
    h.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    h.push_str("<title>crmfuse reconciliation report</title>\n<style>");
    h.push_str(CSS);
    h.push_str("</style>\n</head>\n<body>\n<main>\n");
    header(&mut h, r);
    verdict(&mut h, r);
    h.push_str("<nav><a href=\"#reconciliation\">1. Every row accounted for</a><a href=\"#quality\">2. Data quality</a><a href=\"#matching\">3. Matching</a><a href=\"#store\">4. Effect on the CRM</a><a href=\"#shadow\">5. Shadow systems</a><a href=\"#run\">6. Run details</a></nav>\n");
    reconciliation(&mut h, &r.reconciliation);
    quality(&mut h, &r.quality);
    matching(&mut h, &r.matching);
    store(&mut h, &r.store, r.verdict.loaded);
    shadow(&mut h, &r.shadow);
    run_details(&mut h, r);
    let _ = writeln!(
        h,
        "<footer>crmfuse {} · report format {} · the same data is in report.json; borderline pairs for review are in review.csv. This report contains customer data: keep it where the CRM data is kept.</footer>",
        esc(&r.run.tool_version),
        r.format_version
    );
    h.push_str("</main>\n</body>\n</html>\n");
    h
}

fn header(h: &mut String, r: &Report) {
    let mode = if r.verdict.dry_run {
        "<span class=\"tag dry\">DRY RUN</span>"
    } else if r.verdict.loaded {
        "<span class=\"tag\">LOADED</span>"
    } else {
        "<span class=\"tag fail\">NOT LOADED</span>"
    };
    let _ = writeln!(
        h,
        "<header><h1>Reconciliation report {mode}</h1><p class=\"sub\">Pipeline <code>{}</code> · store <code>{}</code> · run {}{} · generated {} · crmfuse {}</p></header>",
        esc(&r.run.config_path),
        esc(&r.run.store),
        r.run.run_id,
        if r.verdict.loaded {
            ""
        } else {
            " (not loaded)"
        },
        esc(&r.run.generated_at),
        esc(&r.run.tool_version)
    );
}

fn verdict(h: &mut String, r: &Report) {
    let v = &r.verdict;
    let (class, mark) = if v.passed {
        ("pass", "&#10003;")
    } else {
        ("fail", "&#10007;")
    };
    let _ = writeln!(
        h,
        "<section class=\"verdict {class}\" id=\"verdict\"><div class=\"big\">{mark} {}</div>",
        esc(&v.headline)
    );
    if r.gates.is_empty() {
        h.push_str("<p>No gates are configured. Add a <code>[gates]</code> section to the pipeline file to make this report a go-live check.</p>\n");
    } else {
        let failed: Vec<&GateResult> = r.gates.iter().filter(|g| !g.passed).collect();
        if !failed.is_empty() {
            h.push_str("<h3>What failed</h3>\n<table><thead><tr><th>Check</th><th>Source</th><th>Limit</th><th>Found</th><th>Why it matters</th></tr></thead><tbody>\n");
            for g in failed {
                let _ = writeln!(
                    h,
                    "<tr class=\"failrow\"><td><span class=\"tag fail\">FAIL</span> {}<br><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    esc(words(g.gate).unwrap_or(g.gate)),
                    esc(g.gate),
                    g.source.as_deref().map_or(Cow::Borrowed("all"), esc),
                    esc(&g.limit),
                    esc(&g.actual),
                    esc(&g.reason)
                );
            }
            h.push_str("</tbody></table>\n");
        }
        // One row per gate for what passed: a gate judged per source lists each source.
        let mut passed: Vec<(&str, Vec<&GateResult>)> = Vec::new();
        for g in r.gates.iter().filter(|g| g.passed) {
            match passed.iter_mut().find(|p| p.0 == g.gate) {
                Some(p) => p.1.push(g),
                None => passed.push((g.gate, vec![g])),
            }
        }
        if !passed.is_empty() {
            h.push_str("<table><thead><tr><th>Check passed</th><th>Limit</th><th>Found</th></tr></thead><tbody>\n");
            for (gate, results) in passed {
                let same_limit = results.iter().all(|g| g.limit == results[0].limit);
                let found: Vec<String> = results
                    .iter()
                    .map(|g| {
                        let limit = if same_limit {
                            String::new()
                        } else {
                            format!(" <span class=\"sub\">({})</span>", esc(&g.limit))
                        };
                        match &g.source {
                            Some(s) => format!("<b>{}</b>: {}{limit}", esc(s), esc(&g.actual)),
                            None => format!("{}{limit}", esc(&g.actual)),
                        }
                    })
                    .collect();
                let per_source = results.iter().any(|g| g.source.is_some());
                let limit = match (same_limit, per_source) {
                    (true, true) => format!("{} (per source)", esc(&results[0].limit)),
                    (true, false) => esc(&results[0].limit).into_owned(),
                    (false, _) => "per source".to_string(),
                };
                let _ = writeln!(
                    h,
                    "<tr><td><span class=\"tag pass\">PASS</span> {}<br><code>{}</code></td><td>{limit}</td><td>{}</td></tr>",
                    esc(words(gate).unwrap_or(gate)),
                    esc(gate),
                    found.join("<br>")
                );
            }
            h.push_str("</tbody></table>\n");
        }
    }
    let read: u64 = r.reconciliation.iter().map(|s| s.rows_read).sum();
    let loaded: u64 = r.reconciliation.iter().map(|s| s.loaded).sum();
    let quarantined: u64 = r.reconciliation.iter().map(|s| s.quarantined).sum();
    let c = &r.store.counts;
    let would = if v.loaded { "" } else { "to be " };
    h.push_str("<div class=\"tiles\">");
    for (n, label) in [
        (read, "rows read".to_string()),
        (
            loaded,
            if v.loaded {
                "records loaded"
            } else {
                "records to load"
            }
            .to_string(),
        ),
        (quarantined, "rows quarantined".to_string()),
        (r.matching.customers, "customers".to_string()),
        (c.created, format!("{would}created")),
        (c.updated, format!("{would}updated")),
        (
            r.store.overwrites.len() as u64,
            "values overwritten".to_string(),
        ),
    ] {
        let _ = write!(
            h,
            "<div class=\"tile\"><div class=\"n\">{}</div><div class=\"l\">{}</div></div>",
            int(n),
            esc(&label)
        );
    }
    h.push_str("</div></section>\n");
}

fn reconciliation(h: &mut String, sources: &[SourceReconciliation]) {
    h.push_str("<section id=\"reconciliation\"><h2>1. Every row accounted for</h2>\n<p class=\"explain\">Every row read from a source must end up either loaded into the CRM or set aside in quarantine with a reason: rows read = loaded + quarantined. Quarantined rows are kept in the store's <code>quarantine</code> table for correction at the source.</p>\n");
    h.push_str("<table><thead><tr><th>Source</th><th class=\"n\">Rows read</th><th class=\"n\">Loaded</th><th class=\"n\">Quarantined</th><th class=\"n\">Quarantine rate</th><th>Read = loaded + quarantined</th><th>Status</th></tr></thead><tbody>\n");
    for s in sources {
        let _ = writeln!(
            h,
            "<tr{}><td><b>{}</b>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{} {} = {} + {}</td><td><span class=\"tag {}\">{}</span>{}</td></tr>",
            if s.status == "PASS" {
                ""
            } else {
                " class=\"failrow\""
            },
            esc(&s.source),
            if s.shadow {
                " <span class=\"tag warn\">shadow</span>"
            } else {
                ""
            },
            int(s.rows_read),
            int(s.loaded),
            int(s.quarantined),
            pct(s.quarantine_rate),
            if s.balanced { "&#10003;" } else { "&#10007;" },
            int(s.rows_read),
            int(s.loaded),
            int(s.quarantined),
            if s.status == "PASS" { "pass" } else { "fail" },
            s.status,
            if s.failed_gates.is_empty() {
                String::new()
            } else {
                format!(
                    "<br><span class=\"sub\">failed: {}</span>",
                    esc(&s.failed_gates.join(", "))
                )
            }
        );
    }
    h.push_str("</tbody></table>\n");
    let with_reasons: Vec<&SourceReconciliation> =
        sources.iter().filter(|s| !s.reasons.is_empty()).collect();
    if with_reasons.is_empty() {
        h.push_str("<p>No row was quarantined.</p>\n");
    } else {
        h.push_str("<h3>Why rows were quarantined</h3>\n");
    }
    for s in with_reasons {
        for g in &s.reasons {
            let _ = writeln!(
                h,
                "<details><summary>{}: {} ({} row{}) <code>{}</code></summary>\n<table><thead><tr><th class=\"n\">Line</th><th>Key</th><th>Problem</th><th>Raw row as in the file</th></tr></thead><tbody>",
                esc(&s.source),
                esc(words(&g.reason).unwrap_or(&g.reason)),
                int(g.rows),
                if g.rows == 1 { "" } else { "s" },
                esc(&g.reason)
            );
            for q in &g.samples {
                let _ = writeln!(
                    h,
                    "<tr><td class=\"n\">{}</td><td>{}</td><td>{}</td><td><pre class=\"raw\">{}</pre></td></tr>",
                    q.line,
                    q.key
                        .as_deref()
                        .map_or(Cow::Borrowed("<span class=\"none\">none</span>"), esc),
                    esc(&q.detail),
                    esc(&q.raw)
                );
            }
            h.push_str("</tbody></table>");
            if g.rows > g.samples.len() as u64 {
                let _ = write!(
                    h,
                    "<p class=\"sub\">Showing {} of {} rows; all are in the store's quarantine table.</p>",
                    g.samples.len(),
                    int(g.rows)
                );
            }
            h.push_str("</details>\n");
        }
    }
    h.push_str("</section>\n");
}

fn bar(rate: f64, grade: bool) -> String {
    let class = if !grade {
        ""
    } else if rate >= 0.9 {
        " ok"
    } else if rate >= 0.7 {
        " mid"
    } else {
        " low"
    };
    format!(
        "<span class=\"bar{class}\"><span style=\"width:{:.1}%\"></span></span>",
        (rate * 100.0).clamp(0.0, 100.0)
    )
}

fn quality(h: &mut String, sources: &[SourceQuality]) {
    h.push_str("<section id=\"quality\"><h2>2. Data quality</h2>\n<p class=\"explain\"><b>Filled in source</b>: share of records that have a value. <b>Usable after cleansing</b>: share of records whose value was standardised successfully and can be used for matching. <b>Validity</b>: of the filled values, the share that is usable. A value that fails cleansing is still loaded as given, flagged with an issue.</p>\n");
    for s in sources {
        let _ = writeln!(
            h,
            "<h3>{} <span class=\"sub\">({} records)</span></h3>\n<table class=\"quality\"><colgroup><col style=\"width:16%\"><col style=\"width:22%\"><col style=\"width:19%\"><col style=\"width:17%\"><col></colgroup><thead><tr><th>Field</th><th>Filled in source</th><th>Usable after cleansing</th><th>Validity</th><th>Issues found</th></tr></thead><tbody>",
            esc(&s.source),
            int(s.records)
        );
        for f in &s.fields {
            field_row(h, f);
        }
        h.push_str("</tbody></table>\n");
    }
    h.push_str("</section>\n");
}

fn field_row(h: &mut String, f: &FieldQuality) {
    let issues: Vec<String> = f
        .issues
        .iter()
        .map(|(code, n)| {
            format!(
                "{} <code>{}</code>: {}",
                esc(words(code).unwrap_or("")),
                esc(code),
                int(*n)
            )
        })
        .collect();
    let _ = writeln!(
        h,
        "<tr><td><code>{}</code></td><td class=\"nw\">{}{} <span class=\"sub\">({})</span></td><td class=\"nw\">{}{}</td><td class=\"nw\">{}</td><td>{}</td></tr>",
        esc(f.field),
        bar(f.fill_rate, false),
        pct(f.fill_rate),
        int(f.filled),
        bar(f.valid_rate, false),
        pct(f.valid_rate),
        match f.validity {
            Some(v) => format!("{}{}", bar(v, true), pct(v)),
            None => "<span class=\"none\">no values</span>".into(),
        },
        if issues.is_empty() {
            "<span class=\"none\">none</span>".into()
        } else {
            issues.join("<br>")
        }
    );
}

fn matching(h: &mut String, m: &Matching) {
    let _ = writeln!(
        h,
        "<section id=\"matching\"><h2>3. Matching</h2>\n<p class=\"explain\">Records that may be the same customer are found by <b>blocking rules</b> (records sharing an e-mail, a phone, a name and birth date, ...) and then compared field by field. Each comparison adds or subtracts evidence; the total is the <b>match weight</b>. Pairs with a match probability of at least {} (weight {}) are linked, unless a <b>veto</b> (different birth dates, clearly different first names, Jr/Sr) keeps them apart.</p>",
        pct(m.threshold),
        signed(m.threshold_weight)
    );
    h.push_str("<div class=\"tiles\">");
    for (n, label) in [
        (m.records, "records compared"),
        (m.candidate_pairs, "candidate pairs"),
        (m.linked_pairs, "pairs linked"),
        (m.vetoed_pairs, "pairs vetoed"),
        (m.customers, "customers"),
    ] {
        let _ = write!(
            h,
            "<div class=\"tile\"><div class=\"n\">{}</div><div class=\"l\">{label}</div></div>",
            int(n)
        );
    }
    h.push_str("</div>\n<h3>Candidate pairs per blocking rule</h3>\n<table><thead><tr><th>Rule: records that share</th><th class=\"n\">Blocks</th><th class=\"n\">Candidate pairs</th><th class=\"n\">Largest block</th><th class=\"n\">Oversized blocks skipped</th><th class=\"n\">Records in them</th></tr></thead><tbody>\n");
    for b in &m.blocking {
        let _ = writeln!(
            h,
            "<tr{}><td><code>{}</code></td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            if b.capped_blocks > 0 {
                " class=\"failrow\""
            } else {
                ""
            },
            esc(&b.rule),
            int(b.blocks),
            int(b.pairs),
            int(b.largest_block),
            int(b.capped_blocks),
            int(b.capped_records)
        );
    }
    h.push_str("</tbody></table>\n<p class=\"sub\">A pair proposed by several rules is compared once. An oversized block (a value shared by too many records, such as a placeholder phone number) is skipped and its records are compared through the other rules only.</p>\n");
    h.push_str("<h3>Match weights of all candidate pairs</h3>\n");
    histogram(h, &m.histogram, m.threshold_weight);
    h.push_str("<h3>Customers by number of source records</h3>\n");
    cluster_sizes(h, m);
    if !m.largest_clusters.is_empty() {
        h.push_str("<h3>Largest customers</h3>\n<p class=\"explain\">The customers that merge the most source records. An implausibly large one usually means records were chained together through a shared value.</p>\n<table><thead><tr><th>Customer</th><th>Name</th><th class=\"n\">Records</th><th>From</th></tr></thead><tbody>\n");
        for c in &m.largest_clusters {
            cluster_row(h, c);
        }
        h.push_str("</tbody></table>\n");
    }
    review(h, m);
    h.push_str("</section>\n");
}

fn cluster_row(h: &mut String, c: &ClusterView) {
    let from: Vec<String> = c
        .sources
        .iter()
        .map(|(s, n)| format!("{} &times; {}", int(*n), esc(s)))
        .collect();
    let _ = writeln!(
        h,
        "<tr><td><code>{}</code></td><td>{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
        esc(&c.customer_id),
        c.name
            .as_deref()
            .map_or(Cow::Borrowed("<span class=\"none\">no name</span>"), esc),
        int(c.records),
        from.join(", ")
    );
}

const BELOW: &str = "#8c959f";
const LINKED: &str = "#2da44e";
const VETOED: &str = "#d4761c";

fn histogram(h: &mut String, bins: &[WeightBin], threshold_weight: f64) {
    if bins.is_empty() {
        h.push_str("<p>No candidate pairs.</p>\n");
        return;
    }
    let (w, ht, left, bottom, top) = (960.0, 260.0, 56.0, 42.0, 26.0);
    let plot_w = w - left - 16.0;
    let plot_h = ht - bottom - top;
    let max = bins
        .iter()
        .map(|b| b.below + b.linked + b.vetoed)
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let lo = bins[0].from;
    let hi = bins[bins.len() - 1].to;
    let x = |v: f64| left + (v - lo) / (hi - lo) * plot_w;
    let y = |n: f64| top + plot_h - n / max * plot_h;
    let _ = writeln!(
        h,
        "<svg class=\"chart\" viewBox=\"0 0 {w} {ht}\" width=\"100%\" role=\"img\" aria-label=\"Histogram of match weights with the threshold marked\" xmlns=\"http://www.w3.org/2000/svg\" font-family=\"system-ui,sans-serif\" font-size=\"12\">"
    );
    // Horizontal grid and counts.
    for i in 0..=4 {
        let n = max * i as f64 / 4.0;
        let _ = writeln!(
            h,
            "<line x1=\"{left}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#eaeef2\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#59636e\">{}</text>",
            w - 16.0,
            y(n),
            y(n),
            left - 6.0,
            y(n) + 4.0,
            int(n.round() as u64)
        );
    }
    let bw = plot_w / bins.len() as f64;
    for b in bins {
        let x0 = x(b.from) + 1.0;
        let mut base = 0.0;
        for (n, colour, what) in [
            (b.below, BELOW, "not linked"),
            (b.linked, LINKED, "linked"),
            (b.vetoed, VETOED, "vetoed"),
        ] {
            if n == 0 {
                continue;
            }
            let top_y = y(base + n as f64);
            let _ = writeln!(
                h,
                "<rect x=\"{x0:.1}\" y=\"{top_y:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{colour}\"><title>weight {} to {}: {} pair(s) {what}</title></rect>",
                (bw - 2.0).max(1.0),
                y(base) - top_y,
                signed(b.from),
                signed(b.to),
                int(n)
            );
            base += n as f64;
        }
    }
    // X axis with ticks every 10 weight units.
    let axis_y = top + plot_h;
    let _ = writeln!(
        h,
        "<line x1=\"{left}\" x2=\"{:.1}\" y1=\"{axis_y:.1}\" y2=\"{axis_y:.1}\" stroke=\"#59636e\"/>",
        w - 16.0
    );
    let mut t = (lo / 10.0).ceil() * 10.0;
    while t <= hi {
        let _ = writeln!(
            h,
            "<line x1=\"{0:.1}\" x2=\"{0:.1}\" y1=\"{axis_y:.1}\" y2=\"{1:.1}\" stroke=\"#59636e\"/><text x=\"{0:.1}\" y=\"{2:.1}\" text-anchor=\"middle\" fill=\"#59636e\">{3}</text>",
            x(t),
            axis_y + 5.0,
            axis_y + 18.0,
            t as i64
        );
        t += 10.0;
    }
    let _ = writeln!(
        h,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#59636e\">match weight (evidence that two records are the same customer; higher = stronger)</text>",
        left + plot_w / 2.0,
        ht - 4.0
    );
    let tx = x(threshold_weight);
    let _ = writeln!(
        h,
        "<line x1=\"{tx:.1}\" x2=\"{tx:.1}\" y1=\"{:.1}\" y2=\"{axis_y:.1}\" stroke=\"#cf222e\" stroke-width=\"2\" stroke-dasharray=\"6 4\"/><text x=\"{:.1}\" y=\"{:.1}\" fill=\"#cf222e\" font-weight=\"600\"{}>threshold {}</text>",
        top - 14.0,
        if tx > left + plot_w * 0.75 {
            tx - 6.0
        } else {
            tx + 6.0
        },
        top - 4.0,
        if tx > left + plot_w * 0.75 {
            " text-anchor=\"end\""
        } else {
            ""
        },
        signed(threshold_weight)
    );
    h.push_str("</svg>\n");
    let _ = writeln!(
        h,
        "<div class=\"legend\"><span class=\"sw\" style=\"background:{BELOW}\"></span>not linked<span class=\"sw\" style=\"background:{LINKED}\"></span>linked<span class=\"sw\" style=\"background:{VETOED}\"></span>vetoed (kept apart)<span class=\"sw\" style=\"background:#cf222e\"></span>threshold: pairs to the right are linked. Pairs close to the line are the ones worth a human look (below).</div>"
    );
}

fn cluster_sizes(h: &mut String, m: &Matching) {
    const MAX_BARS: u64 = 30;
    let mut bars: Vec<(String, u64)> = Vec::new();
    let mut rest = 0;
    for s in &m.cluster_sizes {
        if s.size < MAX_BARS {
            bars.push((s.size.to_string(), s.customers));
        } else {
            rest += s.customers;
        }
    }
    if rest > 0 {
        bars.push((format!("{MAX_BARS}+"), rest));
    }
    if bars.is_empty() {
        h.push_str("<p>No customers.</p>\n");
        return;
    }
    let (w, ht, left, bottom, top) = (960.0, 200.0, 56.0, 40.0, 22.0);
    let plot_w = w - left - 16.0;
    let plot_h = ht - bottom - top;
    let max = bars.iter().map(|b| b.1).max().unwrap_or(1).max(1) as f64;
    let slot = (plot_w / bars.len() as f64).min(80.0);
    let _ = writeln!(
        h,
        "<svg class=\"chart\" viewBox=\"0 0 {w} {ht}\" width=\"100%\" role=\"img\" aria-label=\"Customers by number of source records\" xmlns=\"http://www.w3.org/2000/svg\" font-family=\"system-ui,sans-serif\" font-size=\"12\">"
    );
    let axis_y = top + plot_h;
    for (i, (label, n)) in bars.iter().enumerate() {
        let bh = *n as f64 / max * plot_h;
        let x0 = left + i as f64 * slot + slot * 0.15;
        let _ = writeln!(
            h,
            "<rect x=\"{x0:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{bh:.1}\" fill=\"#0969da\"><title>{} customer(s) with {} record(s)</title></rect><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#1f2328\">{}</text><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#59636e\">{}</text>",
            axis_y - bh,
            slot * 0.7,
            int(*n),
            esc(label),
            x0 + slot * 0.35,
            axis_y - bh - 4.0,
            int(*n),
            x0 + slot * 0.35,
            axis_y + 16.0,
            esc(label)
        );
    }
    let _ = writeln!(
        h,
        "<line x1=\"{left}\" x2=\"{:.1}\" y1=\"{axis_y:.1}\" y2=\"{axis_y:.1}\" stroke=\"#59636e\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#59636e\">source records per customer</text></svg>",
        left + bars.len() as f64 * slot,
        left + plot_w / 2.0,
        ht - 4.0
    );
}

fn review(h: &mut String, m: &Matching) {
    h.push_str("<h3>Borderline pairs for review</h3>\n<p class=\"explain\">Pairs just above the threshold (linked) and just below it (not linked), and vetoed pairs with strong evidence, side by side. Matching fields are green, differing ones yellow. A data steward can mark each pair <b>same</b> or <b>different</b> in the <code>decision</code> column of <code>review.csv</code> and rerun with <code>--decisions review.csv</code>.</p>\n");
    if m.review.is_empty() {
        h.push_str("<p>No pair is close to the threshold.</p>\n");
        return;
    }
    if !m.review.iter().any(|p| p.side != "vetoed") {
        h.push_str("<p>No pair without a veto lies close to the threshold: the model is sure about every other pair.</p>\n");
    }
    for (side, title) in [
        ("above", "Linked, just above the threshold"),
        ("below", "Not linked, just below the threshold"),
        ("vetoed", "Strong evidence, but kept apart by a veto"),
    ] {
        let pairs: Vec<&ReviewPair> = m.review.iter().filter(|p| p.side == side).collect();
        if pairs.is_empty() {
            continue;
        }
        let _ = writeln!(
            h,
            "<details open><summary>{title} ({})</summary>\n<div class=\"pairs\">",
            pairs.len()
        );
        for p in pairs {
            review_pair(h, p);
        }
        h.push_str("</div></details>\n");
    }
}

fn review_pair(h: &mut String, p: &ReviewPair) {
    let decision = match p.decision {
        Some(d) => format!(
            " <span class=\"tag {}\">steward: {}</span>",
            if d.name() == "same" { "pass" } else { "fail" },
            d.name()
        ),
        None => String::new(),
    };
    let _ = writeln!(
        h,
        "<div class=\"pair\"><div class=\"pairhead\">Pair {} · weight {} · probability {}{decision}</div>\n<table><thead><tr><th></th><th>{} <code>{}</code></th><th>{} <code>{}</code></th></tr></thead><tbody>",
        p.pair_id,
        signed(p.weight),
        probability(p.probability),
        esc(&p.a.source),
        esc(&p.a.key),
        esc(&p.b.source),
        esc(&p.b.key)
    );
    type Pick = fn(&RecordView) -> Option<&str>;
    let rows: [(&str, Pick); 6] = [
        ("Name", |r| r.name.as_deref()),
        ("E-mail", |r| r.email.as_deref()),
        ("Phone", |r| r.phone.as_deref()),
        ("Birth date", |r| r.birth_date.as_deref()),
        ("Address", |r| r.address.as_deref()),
        ("Company", |r| r.company.as_deref()),
    ];
    for (label, pick) in rows {
        let (a, b) = (pick(&p.a), pick(&p.b));
        if a.is_none() && b.is_none() {
            continue;
        }
        let class = match (a, b) {
            (Some(a), Some(b)) if a.to_lowercase() == b.to_lowercase() => " class=\"same\"",
            (Some(_), Some(_)) => " class=\"diff\"",
            _ => "",
        };
        fn cell(v: Option<&str>) -> Cow<'_, str> {
            v.map_or(Cow::Borrowed("<span class=\"none\">empty</span>"), esc)
        }
        let _ = writeln!(
            h,
            "<tr><th>{label}</th><td{class}>{}</td><td{class}>{}</td></tr>",
            cell(a),
            cell(b)
        );
    }
    let evidence: Vec<String> = p
        .evidence
        .iter()
        .filter(|e| e.level != "null")
        .map(|e| {
            let name = serde_json::to_value(e.comparison)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            let veto = if p.vetoed_by.contains(&e.comparison) {
                " <b>(veto)</b>"
            } else {
                ""
            };
            format!(
                "{} {} {}{veto}",
                esc(&name),
                esc(&e.level),
                signed(e.weight)
            )
        })
        .collect();
    let _ = writeln!(
        h,
        "</tbody></table><div class=\"evidence\">Evidence: {}</div></div>",
        evidence.join(" · ")
    );
}

fn store(h: &mut String, s: &StoreEffect, loaded: bool) {
    let would = if loaded { "" } else { "would be " };
    let _ = writeln!(
        h,
        "<section id=\"store\"><h2>4. Effect on the CRM store</h2>\n<p class=\"explain\">What {} the store <code>{}</code>. Customers keep their ids from earlier loads; a customer whose golden values are the same as in the store is left unchanged.</p>",
        if loaded {
            "this load did to"
        } else {
            "loading would do to"
        },
        esc(&s.store)
    );
    let c = &s.counts;
    h.push_str("<div class=\"tiles\">");
    for (n, label) in [
        (c.created, format!("customers {would}created")),
        (c.updated, format!("customers {would}updated")),
        (c.unchanged, "customers unchanged".to_string()),
        (c.merged, format!("customers {would}merged into another")),
        (c.retired, format!("customers {would}retired")),
        (s.events, "audit events".to_string()),
    ] {
        let _ = write!(
            h,
            "<div class=\"tile\"><div class=\"n\">{}</div><div class=\"l\">{}</div></div>",
            int(n),
            esc(&label)
        );
    }
    h.push_str("</div>\n<h3>Rows per table</h3>\n<table><thead><tr><th>Table</th><th class=\"n\">Inserted</th><th class=\"n\">Updated</th><th class=\"n\">Deleted</th></tr></thead><tbody>\n");
    for t in &s.tables {
        let _ = writeln!(
            h,
            "<tr><td><code>{}</code></td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            esc(t.table),
            int(t.inserted),
            int(t.updated),
            int(t.deleted)
        );
    }
    h.push_str("</tbody></table>\n<h3>Existing values that would be overwritten</h3>\n");
    if s.overwrites.is_empty() {
        h.push_str("<p><span class=\"tag pass\">none</span> No value already in the CRM is replaced by a different one.</p>\n");
    } else {
        let _ = writeln!(
            h,
            "<p class=\"explain\">{} value(s) in the CRM {}replaced by a different value from the sources. If people have edited these customers in the CRM, their edits are lost.</p>\n<table><thead><tr><th>Customer</th><th>Field</th><th>Value in the CRM</th><th>New value</th><th>From</th><th>Rule</th></tr></thead><tbody>",
            int(s.overwrites.len() as u64),
            if loaded { "were " } else { "would be " }
        );
        for o in s.overwrites.iter().take(TABLE_ROWS) {
            let _ = writeln!(
                h,
                "<tr><td><code>{}</code></td><td><code>{}</code></td><td class=\"old\">{}</td><td class=\"new\">{}</td><td>{} <code>{}</code></td><td>{}</td></tr>",
                esc(&o.customer_id),
                esc(&o.field),
                esc(&o.existing),
                esc(&o.new),
                esc(o.source.as_deref().unwrap_or("")),
                esc(o.source_key.as_deref().unwrap_or("")),
                esc(o.rule.as_deref().unwrap_or(""))
            );
        }
        h.push_str("</tbody></table>\n");
        more(h, s.overwrites.len(), TABLE_ROWS);
    }
    h.push_str("</section>\n");
}

fn more(h: &mut String, total: usize, shown: usize) {
    if total > shown {
        let _ = writeln!(
            h,
            "<p class=\"sub\">Showing {} of {}; report.json has them all.</p>",
            int(shown as u64),
            int(total as u64)
        );
    }
}

fn shadow(h: &mut String, s: &ShadowDependency) {
    h.push_str("<section id=\"shadow\"><h2>5. Shadow systems</h2>\n");
    if s.shadow_sources.is_empty() {
        h.push_str("<p>No source is marked <code>shadow = true</code>.</p></section>\n");
        return;
    }
    let _ = writeln!(
        h,
        "<p class=\"explain\">Shadow systems ({}) are unofficial sources, such as a team's spreadsheet, that are to be retired. These customers and values exist only there: retiring the shadow system without moving them loses them.</p>",
        s.shadow_sources
            .iter()
            .map(|n| format!("<b>{}</b>", esc(n)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    h.push_str("<div class=\"tiles\">");
    let _ = writeln!(
        h,
        "<div class=\"tile\"><div class=\"n\">{}</div><div class=\"l\">customers only in shadow systems</div></div><div class=\"tile\"><div class=\"n\">{}</div><div class=\"l\">golden values only a shadow system provides</div></div></div>",
        int(s.customers_only_in_shadow),
        int(s.values_total)
    );
    if !s.fields_mapped_only_by_shadow.is_empty() {
        let _ = writeln!(
            h,
            "<p>Fields that no other source has at all: {}.</p>",
            s.fields_mapped_only_by_shadow
                .iter()
                .map(|f| format!("<code>{}</code>", esc(f)))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if !s.fields_only_from_shadow.is_empty() {
        h.push_str("<h3>Fields whose value only a shadow system provides</h3>\n<table><thead><tr><th>Field</th><th class=\"n\">Customers</th></tr></thead><tbody>\n");
        for f in &s.fields_only_from_shadow {
            let _ = writeln!(
                h,
                "<tr><td><code>{}</code></td><td class=\"n\">{}</td></tr>",
                esc(&f.field),
                int(f.customers)
            );
        }
        h.push_str("</tbody></table>\n");
        let _ = writeln!(
            h,
            "<details><summary>The values ({})</summary><table><thead><tr><th>Customer</th><th>Field</th><th>Value</th><th>From</th></tr></thead><tbody>",
            int(s.values_total)
        );
        for v in s.values.iter().take(TABLE_ROWS) {
            let _ = writeln!(
                h,
                "<tr><td><code>{}</code></td><td><code>{}</code></td><td>{}</td><td>{} <code>{}</code></td></tr>",
                esc(&v.customer_id),
                esc(&v.field),
                esc(&v.value),
                esc(&v.source),
                esc(&v.source_key)
            );
        }
        h.push_str("</tbody></table>");
        more(h, s.values_total as usize, TABLE_ROWS.min(s.values.len()));
        h.push_str("</details>\n");
    }
    if s.customers_only_in_shadow > 0 {
        let _ = writeln!(
            h,
            "<details><summary>Customers only in shadow systems ({})</summary><table><thead><tr><th>Customer</th><th>Name</th><th>Records</th></tr></thead><tbody>",
            int(s.customers_only_in_shadow)
        );
        for c in s.customers.iter().take(TABLE_ROWS) {
            let records: Vec<String> = c
                .records
                .iter()
                .map(|r| format!("{} <code>{}</code>", esc(&r.source), esc(&r.key)))
                .collect();
            let _ = writeln!(
                h,
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                esc(&c.customer_id),
                c.name
                    .as_deref()
                    .map_or(Cow::Borrowed("<span class=\"none\">no name</span>"), esc),
                records.join(", ")
            );
        }
        h.push_str("</tbody></table>");
        more(
            h,
            s.customers_only_in_shadow as usize,
            TABLE_ROWS.min(s.customers.len()),
        );
        h.push_str("</details>\n");
    }
    h.push_str("</section>\n");
}

fn run_details(h: &mut String, r: &Report) {
    let m = &r.run;
    h.push_str("<section id=\"run\"><h2>6. Run details</h2>\n<p class=\"explain\">What exactly was run, so that the result can be reproduced and the inputs checked: the same checksums mean the same files.</p>\n<table><tbody>\n");
    let rows = [
        ("crmfuse version", esc(&m.tool_version).into_owned()),
        (
            "Pipeline file",
            format!("<code>{}</code>", esc(&m.config_path)),
        ),
        (
            "Configuration hash",
            format!(
                "<code>{}</code> <span class=\"sub\">(SHA-256 of the pipeline and mapping files)</span>",
                esc(&m.config_hash)
            ),
        ),
        ("Store", format!("<code>{}</code>", esc(&m.store))),
        ("Run id", m.run_id.to_string()),
        ("Generated", esc(&m.generated_at).into_owned()),
    ];
    for (k, v) in rows {
        let _ = writeln!(h, "<tr><th>{k}</th><td>{v}</td></tr>");
    }
    let d = &m.decisions;
    let decisions = match &d.file {
        None => "none".to_string(),
        Some(f) => format!(
            "<code>{}</code> (SHA-256 <code>{}</code>): {} read, {} same and {} different applied, {} not applicable, {} overruled",
            esc(f),
            esc(d.checksum.as_deref().unwrap_or("")),
            int(d.read),
            int(d.applied_same),
            int(d.applied_different),
            int(d.stale.len() as u64),
            int(d.conflicts.len() as u64)
        ),
    };
    let _ = writeln!(h, "<tr><th>Steward decisions</th><td>{decisions}</td></tr>");
    h.push_str("</tbody></table>\n");
    if !d.stale.is_empty() || !d.conflicts.is_empty() {
        h.push_str("<details open><summary>Decisions that were not applied</summary><table><thead><tr><th class=\"n\">Line</th><th>Pair</th><th>Decision</th><th>Why not</th></tr></thead><tbody>\n");
        for u in d.stale.iter().chain(&d.conflicts) {
            let _ = writeln!(
                h,
                "<tr><td class=\"n\">{}</td><td>{} <code>{}</code> / {} <code>{}</code></td><td>{}</td><td>{}</td></tr>",
                u.line,
                esc(&u.a.source),
                esc(&u.a.key),
                esc(&u.b.source),
                esc(&u.b.key),
                u.verdict.name(),
                esc(&u.reason)
            );
        }
        h.push_str("</tbody></table></details>\n");
    }
    h.push_str("<h3>Input files</h3>\n<table><thead><tr><th>Source</th><th>File</th><th class=\"n\">Size</th><th>SHA-256</th></tr></thead><tbody>\n");
    for i in &m.inputs {
        let _ = writeln!(
            h,
            "<tr><td><b>{}</b> <span class=\"sub\">{} · trust {}{}</span></td><td><code>{}</code><br><span class=\"sub\">mapping <code>{}</code></span></td><td class=\"n\">{} bytes</td><td><code style=\"word-break:break-all\">{}</code></td></tr>",
            esc(&i.source),
            esc(&i.format),
            i.trust,
            if i.shadow { " · shadow" } else { "" },
            esc(&i.path),
            esc(&i.mapping),
            int(i.bytes),
            esc(&i.sha256)
        );
    }
    h.push_str("</tbody></table>\n<h3>Time per stage</h3>\n<table><thead><tr><th>Stage</th><th class=\"n\">Time</th><th></th></tr></thead><tbody>\n");
    let total = m.total_ms.max(1) as f64;
    for t in &m.timings_ms {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td class=\"n\">{} ms</td><td>{}</td></tr>",
            esc(&t.stage),
            int(t.ms),
            bar(t.ms as f64 / total, false)
        );
    }
    let _ = writeln!(
        h,
        "<tr><th>total</th><th class=\"n\">{} ms</th><th></th></tr></tbody></table>\n</section>",
        int(m.total_ms)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        let cases = [
            (
                "<script>alert(1)</script>",
                "&lt;script&gt;alert(1)&lt;/script&gt;",
            ),
            ("a & b", "a &amp; b"),
            ("\"x\" 'y'", "&quot;x&quot; &#39;y&#39;"),
            ("Müller", "Müller"),
        ];
        for (raw, want) in cases {
            assert_eq!(esc(raw), want);
        }
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(int(0), "0");
        assert_eq!(int(999), "999");
        assert_eq!(int(1000), "1,000");
        assert_eq!(int(1234567), "1,234,567");
        assert_eq!(pct(0.0523), "5.2%");
        assert_eq!(pct(0.0), "0.0%");
    }
}
