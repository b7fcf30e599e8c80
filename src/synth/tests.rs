use std::collections::{BTreeMap, HashMap, HashSet};

use super::*;

fn gen_in(dir: &Path, people: usize, seed: u64) -> SynthSummary {
    generate(&SynthOptions {
        people,
        seed,
        out: dir.to_path_buf(),
    })
    .expect("generate")
}

fn synth(people: usize, seed: u64) -> (tempfile::TempDir, SynthSummary) {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = gen_in(dir.path(), people, seed);
    (dir, s)
}

/// All written files by path relative to the output directory.
fn read_all(dir: &Path, summary: &SynthSummary) -> BTreeMap<String, Vec<u8>> {
    summary
        .files
        .iter()
        .map(|f| {
            let rel = f.strip_prefix(dir).expect("inside out dir");
            (
                rel.to_string_lossy().into_owned(),
                std::fs::read(f).expect("read"),
            )
        })
        .collect()
}

fn mapping_of(dir: &Path, src: Src) -> toml::Table {
    let text = std::fs::read_to_string(dir.join("mappings").join(format!("{}.toml", src.name())))
        .expect("mapping file");
    text.parse::<toml::Table>().expect("mapping is TOML")
}

/// A parsed data file: header (csv) and rows with key, 1-based start line and fields.
struct Parsed {
    header: Vec<String>,
    rows: Vec<ParsedRow>,
    json: Vec<serde_json::Value>,
}

struct ParsedRow {
    key: String,
    line: u64,
    fields: Vec<String>,
}

fn parse_source(dir: &Path, src: Src) -> Parsed {
    let bytes = std::fs::read(dir.join(src.file())).expect("data file");
    let map = mapping_of(dir, src);
    let key_name = map["key"].as_str().expect("key").to_string();
    if src == Src::Webshop {
        let text = String::from_utf8(bytes).expect("jsonl is UTF-8");
        let mut rows = Vec::new();
        let mut json = Vec::new();
        for (i, l) in text.split_terminator('\n').enumerate() {
            let v: serde_json::Value = serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("line {} is not JSON: {e}: {l}", i + 1));
            let key = json_path(&v, &key_name)
                .and_then(|k| k.as_str().map(str::to_string))
                .expect("jsonl key");
            rows.push(ParsedRow {
                key,
                line: i as u64 + 1,
                fields: Vec::new(),
            });
            json.push(v);
        }
        assert!(text.ends_with('\n'));
        return Parsed {
            header: Vec::new(),
            rows,
            json,
        };
    }
    let text = match map.get("encoding").and_then(|e| e.as_str()) {
        Some("windows-1252") => {
            let (t, had_errors) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(&bytes);
            assert!(!had_errors);
            assert!(
                !t.chars().any(|c| ('\u{80}'..='\u{9F}').contains(&c)),
                "no undefined / C1 bytes in the cp1252 file"
            );
            t.into_owned()
        }
        _ => {
            let t = String::from_utf8(bytes).expect("UTF-8");
            match t.strip_prefix('\u{FEFF}') {
                Some(rest) => {
                    assert_eq!(src, Src::Support, "only support.csv has a BOM");
                    rest.to_string()
                }
                None => t,
            }
        }
    };
    let header_line = map
        .get("header_line")
        .and_then(|h| h.as_integer())
        .unwrap_or(1) as usize;
    let mut offset = 0;
    for _ in 1..header_line {
        offset += text[offset..].find('\n').expect("preamble line") + 1;
    }
    let delim = map
        .get("delimiter")
        .and_then(|d| d.as_str())
        .unwrap_or(",")
        .as_bytes()[0];
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(delim)
        .has_headers(true)
        .flexible(false)
        .from_reader(&text.as_bytes()[offset..]);
    let header: Vec<String> = rdr
        .headers()
        .expect("header")
        .iter()
        .map(str::to_string)
        .collect();
    let key_idx = header
        .iter()
        .position(|h| *h == key_name)
        .expect("key column in header");
    let mut rows = Vec::new();
    let bytes = text.as_bytes();
    let (mut counted_to, mut newlines) = (0usize, 0u64);
    for rec in rdr.records() {
        let rec = rec.unwrap_or_else(|e| panic!("{}: bad csv record: {e}", src.file()));
        // Physical line from the byte offset (csv's own line counter is not the physical
        // line, and with CRLF the offset points at the previous line's '\n').
        let mut byte = offset + rec.position().expect("position").byte() as usize;
        while matches!(bytes.get(byte), Some(b'\r' | b'\n')) {
            byte += 1;
        }
        newlines += bytes[counted_to..byte]
            .iter()
            .filter(|b| **b == b'\n')
            .count() as u64;
        counted_to = byte;
        let line = 1 + newlines;
        rows.push(ParsedRow {
            key: rec[key_idx].to_string(),
            line,
            fields: rec.iter().map(str::to_string).collect(),
        });
    }
    Parsed {
        header,
        rows,
        json: Vec::new(),
    }
}

fn json_path<'a>(v: &'a serde_json::Value, path: &str) -> Option<&'a serde_json::Value> {
    let mut cur = v;
    for part in path.split('.') {
        cur = match part.parse::<usize>() {
            Ok(i) => cur.get(i)?,
            Err(_) => cur.get(part)?,
        };
    }
    Some(cur)
}

struct TruthRow {
    source: String,
    key: String,
    person: String,
    line: u64,
}

fn read_truth(dir: &Path) -> Vec<TruthRow> {
    let mut rdr = csv::Reader::from_path(dir.join("truth.csv")).expect("truth.csv");
    assert_eq!(
        rdr.headers().expect("header").iter().collect::<Vec<_>>(),
        ["source", "source_key", "person_id", "line"]
    );
    rdr.records()
        .map(|r| {
            let r = r.expect("truth row");
            TruthRow {
                source: r[0].to_string(),
                key: r[1].to_string(),
                person: r[2].to_string(),
                line: r[3].parse().expect("line number"),
            }
        })
        .collect()
}

/// Column names (csv) or paths (jsonl) a mapping's `[fields]` refers to, by field.
fn mapped_columns(map: &toml::Table) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let fields = map["fields"].as_table().expect("[fields]");
    for (field, v) in fields {
        match v {
            toml::Value::String(s) => out.push((field.clone(), s.clone())),
            toml::Value::Array(a) => {
                for s in a {
                    out.push((field.clone(), s.as_str().expect("column").to_string()));
                }
            }
            toml::Value::Table(t) => {
                for k in t.keys() {
                    assert!(
                        ["column", "order", "format", "yes", "no"].contains(&k.as_str()),
                        "unknown option {k} for {field}"
                    );
                }
                out.push((
                    field.clone(),
                    t["column"].as_str().expect("column").to_string(),
                ));
            }
            other => panic!("unexpected field value {other:?}"),
        }
    }
    out
}

#[test]
fn same_seed_same_bytes_different_seed_different_bytes() {
    let (d1, s1) = synth(3000, 7);
    let (d2, s2) = synth(3000, 7);
    let (d3, s3) = synth(3000, 8);
    let a = read_all(d1.path(), &s1);
    let b = read_all(d2.path(), &s2);
    let c = read_all(d3.path(), &s3);
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (k, v) in &a {
        assert!(v == &b[k], "{k} differs for the same seed");
    }
    for src in SOURCES {
        assert_ne!(
            a[src.file()],
            c[src.file()],
            "{} same for another seed",
            src.file()
        );
    }
    assert_ne!(a["truth.csv"], c["truth.csv"]);
    assert_eq!(s1.records_per_source, s2.records_per_source);
}

#[test]
fn output_does_not_depend_on_thread_count() {
    // Several chunks, so chunks really run in parallel on the wider pool.
    let people = CHUNK * 3 + 17;
    let run = |threads: usize| {
        let dir = tempfile::tempdir().expect("tempdir");
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("pool");
        let s = pool.install(|| gen_in(dir.path(), people, 99));
        let files = read_all(dir.path(), &s);
        (dir, files)
    };
    let (_d1, one) = run(1);
    let (_d3, three) = run(3);
    assert!(one == three, "output differs between 1 and 3 threads");
}

#[test]
fn truth_has_one_row_per_data_row_with_its_line() {
    let (dir, summary) = synth(4000, 3);
    let dir = dir.path();
    let truth = read_truth(dir);
    let mut by_source: HashMap<&str, Vec<&TruthRow>> = HashMap::new();
    for t in &truth {
        by_source.entry(t.source.as_str()).or_default().push(t);
    }
    let mut total = 0;
    for (src, (name, count)) in SOURCES.iter().zip(&summary.records_per_source) {
        assert_eq!(src.name(), name);
        let parsed = parse_source(dir, *src);
        let rows = by_source.get(src.name()).cloned().unwrap_or_default();
        assert_eq!(parsed.rows.len(), *count, "{name}: summary count");
        assert_eq!(parsed.rows.len(), rows.len(), "{name}: truth rows");
        for (p, t) in parsed.rows.iter().zip(&rows) {
            assert_eq!(p.key, t.key, "{name}: truth order follows the file");
            assert_eq!(p.line, t.line, "{name}: line of key {}", p.key);
        }
        // Keys are unique within a file.
        let keys: HashSet<&str> = parsed.rows.iter().map(|r| r.key.as_str()).collect();
        assert_eq!(keys.len(), parsed.rows.len(), "{name}: duplicate key");
        total += rows.len();
    }
    assert_eq!(total, truth.len(), "truth names only the five sources");

    // Every person appears somewhere, person ids are the expected ones.
    let persons: HashSet<&str> = truth.iter().map(|t| t.person.as_str()).collect();
    assert_eq!(persons.len(), 4000);
    assert!(persons.contains("P0000001") && persons.contains("P0004000"));
    assert!(!persons.contains("P0004001"));
}

#[test]
fn multi_line_fields_are_counted_as_physical_lines() {
    let (dir, _) = synth(3000, 5);
    let dir = dir.path();
    let parsed = parse_source(dir, Src::Support);
    let multi = parsed
        .rows
        .iter()
        .filter(|r| r.fields.iter().any(|f| f.contains('\n')))
        .count();
    assert!(multi > 0, "support.csv should have quoted multi-line notes");
    // Lines strictly increase and skip exactly the embedded newlines.
    for w in parsed.rows.windows(2) {
        let embedded = w[0]
            .fields
            .iter()
            .map(|f| f.matches('\n').count() as u64)
            .sum::<u64>();
        assert_eq!(w[1].line, w[0].line + 1 + embedded);
    }
}

#[test]
fn records_per_person_and_duplicates() {
    let (dir, summary) = synth(20_000, 11);
    let total: usize = summary.records_per_source.iter().map(|(_, n)| n).sum();
    let per_person = total as f64 / 20_000.0;
    assert!(
        (1.3..=1.6).contains(&per_person),
        "records per person {per_person}"
    );
    let truth = read_truth(dir.path());
    let mut sources_of: HashMap<&str, Vec<&str>> = HashMap::new();
    for t in &truth {
        sources_of
            .entry(t.person.as_str())
            .or_default()
            .push(t.source.as_str());
    }
    let mut twice_in_one = 0;
    let mut by_count = [0usize; 6];
    for srcs in sources_of.values() {
        let distinct: HashSet<&&str> = srcs.iter().collect();
        if distinct.len() < srcs.len() {
            twice_in_one += 1;
        }
        by_count[distinct.len().min(5)] += 1;
    }
    assert!(
        twice_in_one > 200,
        "{twice_in_one} persons twice in a source"
    );
    let one_to_three = by_count[1] + by_count[2] + by_count[3];
    assert!(one_to_three as f64 / 20_000.0 > 0.95, "{by_count:?}");
    assert!(by_count[2] > 3000 && by_count[3] > 500, "{by_count:?}");
}

#[test]
fn mappings_and_pipeline_parse_and_name_existing_columns() {
    let (dir, _) = synth(2000, 21);
    let dir = dir.path();
    let allowed_top = [
        "encoding",
        "delimiter",
        "header_line",
        "key",
        "empty",
        "phone_region",
        "date_format",
        "keep_unmapped",
        "fields",
    ];
    let allowed_fields = [
        "full_name",
        "title",
        "given_name",
        "middle_name",
        "family_name",
        "suffix",
        "email",
        "phone",
        "address_line1",
        "address_line2",
        "city",
        "region",
        "postcode",
        "country",
        "birth_date",
        "company",
        "created_at",
        "updated_at",
        "marketing_consent",
    ];
    for src in SOURCES {
        let map = mapping_of(dir, src);
        for k in map.keys() {
            assert!(allowed_top.contains(&k.as_str()), "{}: key {k}", src.name());
        }
        let parsed = parse_source(dir, src);
        let mut columns = mapped_columns(&map);
        columns.push(("key".into(), map["key"].as_str().expect("key").into()));
        for (field, col) in columns {
            assert!(
                field == "key" || allowed_fields.contains(&field.as_str()),
                "{}: field {field}",
                src.name()
            );
            if src == Src::Webshop {
                let found = parsed.json.iter().any(|v| json_path(v, &col).is_some());
                assert!(found, "webshop: path {col} never present");
            } else {
                assert!(
                    parsed.header.contains(&col),
                    "{}: column {col:?} not in header {:?}",
                    src.name(),
                    parsed.header
                );
            }
        }
    }

    let text = std::fs::read_to_string(dir.join("pipeline.toml")).expect("pipeline.toml");
    let p: toml::Table = text.parse().expect("pipeline.toml is TOML");
    let keys: Vec<&str> = p.keys().map(String::as_str).collect();
    assert_eq!(keys, ["sources", "store", "survivorship"], "no [matching]");
    assert_eq!(p["store"]["path"].as_str(), Some("crm.db"));
    let sources = p["sources"].as_array().expect("[[sources]]");
    assert_eq!(sources.len(), 5);
    let mut names = Vec::new();
    for s in sources {
        let t = s.as_table().expect("source table");
        for k in t.keys() {
            assert!(
                [
                    "name",
                    "path",
                    "format",
                    "mapping",
                    "trust",
                    "shadow",
                    "on_disappear"
                ]
                .contains(&k.as_str())
            );
        }
        let name = t["name"].as_str().expect("name");
        assert!(
            name.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        );
        assert!(dir.join(t["path"].as_str().expect("path")).is_file());
        assert!(dir.join(t["mapping"].as_str().expect("mapping")).is_file());
        assert_eq!(t["shadow"].as_bool(), Some(name == "sales_sheet"));
        names.push(name.to_string());
    }
    let trusts: HashSet<i64> = sources
        .iter()
        .map(|s| s["trust"].as_integer().expect("trust"))
        .collect();
    assert_eq!(trusts.len(), 5);
    let owners = p["survivorship"]["owners"].as_table().expect("owners");
    for (group, list) in owners {
        assert!(
            [
                "name",
                "email",
                "phone",
                "address",
                "birth_date",
                "company",
                "marketing_consent"
            ]
            .contains(&group.as_str())
        );
        for s in list.as_array().expect("owner list") {
            assert!(names.contains(&s.as_str().expect("name").to_string()));
        }
    }
}

/// Values of mapped date/time columns parse with the mapping's format (where not empty).
#[test]
fn dates_parse_with_the_mapping_formats() {
    use chrono::{NaiveDate, NaiveDateTime};
    let (dir, _) = synth(6000, 31);
    let dir = dir.path();
    let defaults_empty = [
        "",
        "null",
        "none",
        "n/a",
        "na",
        "-",
        "--",
        "0000-00-00",
        "nil",
    ];
    for src in SOURCES {
        let map = mapping_of(dir, src);
        let mut empty: Vec<String> = defaults_empty.iter().map(|s| s.to_string()).collect();
        if let Some(e) = map.get("empty").and_then(|e| e.as_array()) {
            empty.extend(e.iter().map(|s| s.as_str().expect("token").to_lowercase()));
        }
        let default_fmt = map
            .get("date_format")
            .and_then(|d| d.as_str())
            .map(str::to_string);
        let parsed = parse_source(dir, src);
        let fields = map["fields"].as_table().expect("fields");
        for field in ["birth_date", "created_at", "updated_at"] {
            let Some(spec) = fields.get(field) else {
                continue;
            };
            let (col, fmt) = match spec {
                toml::Value::String(c) => (c.clone(), default_fmt.clone().expect("date_format")),
                toml::Value::Table(t) => (
                    t["column"].as_str().expect("column").to_string(),
                    t.get("format")
                        .and_then(|f| f.as_str())
                        .map(str::to_string)
                        .or(default_fmt.clone())
                        .expect("format"),
                ),
                _ => panic!("date spec"),
            };
            let values: Vec<String> = if src == Src::Webshop {
                parsed
                    .json
                    .iter()
                    .filter_map(|v| {
                        json_path(v, &col)
                            .and_then(|x| x.as_str())
                            .map(str::to_string)
                    })
                    .collect()
            } else {
                let i = parsed
                    .header
                    .iter()
                    .position(|h| *h == col)
                    .expect("column");
                parsed.rows.iter().map(|r| r.fields[i].clone()).collect()
            };
            let mut ok = 0;
            let mut bad = Vec::new();
            for v in &values {
                if empty.contains(&v.trim().to_lowercase()) {
                    continue;
                }
                let good = if field == "birth_date" {
                    NaiveDate::parse_from_str(v, &fmt).is_ok()
                } else {
                    NaiveDateTime::parse_from_str(v, &fmt).is_ok()
                };
                if good {
                    ok += 1;
                } else {
                    bad.push(v.clone());
                }
            }
            assert!(ok > 50, "{} {field}: only {ok} values", src.name());
            if src == Src::Sales && field == "birth_date" {
                // Day-first dates typed by a European colleague: deliberately rare and bad.
                assert!(bad.len() * 20 < ok, "sales DOB: {} bad of {ok}", bad.len());
            } else {
                assert!(
                    bad.is_empty(),
                    "{} {field} ({fmt}): {:?}",
                    src.name(),
                    &bad[..bad.len().min(5)]
                );
            }
        }
    }
}

#[test]
fn realism_markers_are_present() {
    let (dir, _) = synth(20_000, 2);
    let dir = dir.path();
    let erp = parse_source(dir, Src::Erp);
    let support = parse_source(dir, Src::Support);
    let sales = parse_source(dir, Src::Sales);
    let newsletter = parse_source(dir, Src::Newsletter);
    let web = parse_source(dir, Src::Webshop);
    let col = |p: &Parsed, name: &str| p.header.iter().position(|h| h == name).expect(name);

    // ERP: "LAST, FIRST", some ALL CAPS, diacritics, abbreviations, '?' for unmappable.
    let names: Vec<&str> = erp
        .rows
        .iter()
        .map(|r| r.fields[col(&erp, "NAME")].as_str())
        .collect();
    assert!(names.iter().all(|n| n.contains(", ")));
    assert!(names.iter().any(|n| n.chars().any(char::is_lowercase)));
    assert!(names.iter().any(|n| *n == n.to_uppercase() && n.len() > 6));
    assert!(names.iter().any(|n| n.contains('ü') || n.contains('Ü')));
    assert!(
        names.iter().any(|n| n.contains('?')),
        "cp1252 loses some letters"
    );
    let streets: Vec<&str> = erp
        .rows
        .iter()
        .map(|r| r.fields[col(&erp, "STRASSE")].as_str())
        .collect();
    assert!(streets.iter().any(|s| s.contains("str.")));
    assert!(streets.iter().any(|s| s.contains("straße")));
    assert!(
        streets
            .iter()
            .any(|s| s.ends_with(" St") || s.contains(" St,"))
    );
    let tels: Vec<&str> = erp
        .rows
        .iter()
        .map(|r| r.fields[col(&erp, "TELEFON")].as_str())
        .collect();
    assert!(tels.iter().any(|t| t.starts_with("030/")));
    assert!(tels.iter().any(|t| t.starts_with("0044 ")));
    assert!(
        erp.rows
            .iter()
            .any(|r| r.fields[col(&erp, "GEBDAT")] == "00.00.0000")
    );

    // Nicknames and typos in support; wrong-order names; two numbers in one field.
    let snames: Vec<&str> = support
        .rows
        .iter()
        .map(|r| r.fields[col(&support, "name")].as_str())
        .collect();
    let nicks = [
        "Bob ", "Liz ", "Bill ", "Kathi ", "Hans ", "Mike ", "Tom ", "Steffi ", "Andi ", "Jim ",
        "Chris ", "Beth ", "Basti ", "Fred ", "Seb ",
    ];
    let used = nicks
        .iter()
        .filter(|nick| snames.iter().any(|n| n.starts_with(*nick)))
        .count();
    assert!(used >= 8, "only {used} nicknames seen");
    assert!(snames.iter().any(|n| n.contains(", ")));
    assert!(
        support
            .rows
            .iter()
            .any(|r| r.fields[col(&support, "phone")].contains(" / "))
    );

    // E-mail habits: case, gmail dots / +tags, googlemail.
    let emails: Vec<String> = web
        .json
        .iter()
        .map(|v| v["contact"]["email"].as_str().expect("email").to_string())
        .chain(newsletter.rows.iter().map(|r| r.fields[1].clone()))
        .collect();
    assert!(emails.iter().any(|e| e.contains("+shop@")));
    assert!(emails.iter().any(|e| e.contains("+news@")));
    assert!(emails.iter().any(|e| e.contains("@googlemail.com")));
    assert!(
        emails
            .iter()
            .any(|e| e.chars().any(|c| c.is_ascii_uppercase()))
    );
    assert!(emails.iter().any(|e| e.ends_with("@example.com")));
    assert!(emails.iter().any(|e| e.ends_with("@web.de")));

    // Sales sheet: N/A values, leading zeros lost, US phone formats, US dates.
    let zips: Vec<&str> = sales
        .rows
        .iter()
        .map(|r| r.fields[col(&sales, "Zip/Postcode")].as_str())
        .collect();
    assert!(
        zips.iter()
            .any(|z| z.len() == 4 && z.bytes().all(|b| b.is_ascii_digit()))
    );
    assert!(
        sales
            .rows
            .iter()
            .any(|r| r.fields.iter().any(|f| f == "N/A"))
    );
    assert!(
        sales
            .rows
            .iter()
            .any(|r| r.fields[col(&sales, "Cell")].starts_with('('))
    );

    // Webshop: phones arrays, nested addresses, US states.
    assert!(web.json.iter().any(|v| {
        v["contact"]["phones"]
            .as_array()
            .is_some_and(|a| a.len() == 2)
    }));
    assert!(
        web.json
            .iter()
            .any(|v| v["addresses"][0]["state"].is_string())
    );
    assert!(
        web.json
            .iter()
            .any(|v| v["addresses"].as_array().is_some_and(|a| a.len() == 2))
    );
}

#[test]
fn look_alike_groups_have_the_intended_shape() {
    let mut rng = Rng::new(1);
    for i in 0..200u64 {
        let a = gen_person(i * 2, &mut rng);
        let mut b = gen_person(i * 2 + 1, &mut rng);
        make_twin(&a, &mut b, &mut rng);
        assert_eq!(a.family, b.family);
        assert_eq!(a.birth, b.birth);
        assert_eq!(a.addr.street, b.addr.street);
        assert_eq!(a.addr.house, b.addr.house);
        assert_eq!(a.addr.postcode, b.addr.postcode);
        assert_ne!(a.given.name, b.given.name);
        assert_ne!(a.email, b.email);

        let mut sr = gen_person(i * 2, &mut rng);
        let mut jr = gen_person(i * 2 + 1, &mut rng);
        make_junior(&mut sr, &mut jr, &mut rng);
        assert_eq!(sr.given.name, jr.given.name);
        assert_eq!(sr.family, jr.family);
        assert_eq!(sr.addr.postcode, jr.addr.postcode);
        assert!(jr.birth - sr.birth >= 20 * 365, "{} {}", sr.birth, jr.birth);
        assert!(sr.suffix.is_some() && jr.suffix.is_some() && sr.suffix != jr.suffix);
        assert_ne!(sr.email, jr.email);

        let mut x = gen_person(i * 2, &mut rng);
        let mut y = gen_person(i * 2 + 1, &mut rng);
        make_couple(&mut x, &mut y, &mut rng);
        assert_eq!(x.addr.postcode, y.addr.postcode);
        assert_eq!(
            x.landline.as_ref().map(|p| &p.sub),
            y.landline.as_ref().map(|p| &p.sub)
        );

        let model = gen_person(i, &mut rng);
        let mut n = gen_person(i + 1, &mut rng);
        make_namesake(&model, &mut n, &mut rng);
        assert_eq!(model.given.name, n.given.name);
        assert_eq!(model.family, n.family);
    }
}

#[test]
fn groups_occur_in_generated_chunks() {
    // Count look-alike pairs among generated persons of one chunk set (via the same
    // picking the generator uses).
    let mut rng = Rng::new(5);
    let mut counts: HashMap<String, usize> = HashMap::new();
    for _ in 0..100_000 {
        *counts
            .entry(format!("{:?}", pick_group(&mut rng, 10)))
            .or_default() += 1;
    }
    for g in ["Twins", "JuniorSenior", "Couple", "Namesake", "Single"] {
        assert!(counts.get(g).copied().unwrap_or(0) > 300, "{g}: {counts:?}");
    }
}

#[test]
fn people_zero_is_an_error_and_out_dir_is_created() {
    let dir = tempfile::tempdir().expect("tempdir");
    let err = generate(&SynthOptions {
        people: 0,
        seed: 1,
        out: dir.path().join("x"),
    })
    .unwrap_err();
    assert!(matches!(err, SynthError::NoPeople));
    let nested = dir.path().join("a/b/c");
    let s = gen_in(&nested, 1, 1);
    assert!(nested.join("pipeline.toml").is_file());
    assert!(s.records_per_source.iter().map(|(_, n)| n).sum::<usize>() >= 1);
    assert_eq!(s.files.len(), 12);
}

#[test]
fn write_errors_name_the_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, "x").expect("write");
    let err = generate(&SynthOptions {
        people: 5,
        seed: 1,
        out: blocker.clone(),
    })
    .unwrap_err();
    let msg = err.to_string();
    assert!(msg.starts_with("cannot write "), "{msg}");
    assert!(msg.contains("file"), "{msg}");
}

// ---- helpers ----------------------------------------------------------------------------

#[test]
fn permutations_are_bijections() {
    for n in [1u64, 2, 3, 7, 100, 1000, 4097] {
        let mut seen: Vec<u64> = (0..n).map(|x| permute_below(x, n, 12345)).collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..n).collect::<Vec<_>>(), "n = {n}");
    }
    let mut v: Vec<u64> = (0..5000).map(|x| permute_bits(x, 32, 9)).collect();
    v.sort_unstable();
    v.dedup();
    assert_eq!(v.len(), 5000);
}

#[test]
fn civil_dates_round_trip() {
    assert_eq!(days_from_civil(1970, 1, 1), 0);
    assert_eq!(civil_from_days(0), (1970, 1, 1));
    assert_eq!(days_from_civil(2000, 3, 1), 11_017);
    for d in (-30_000..30_000).step_by(37) {
        let (y, m, dd) = civil_from_days(d);
        assert_eq!(days_from_civil(y, m, dd), d);
    }
    assert_eq!(
        fmt_date(days_from_civil(1984, 3, 9), DateStyle::German),
        "09.03.1984"
    );
    assert_eq!(
        fmt_date(days_from_civil(1984, 3, 9), DateStyle::UsLoose),
        "3/9/1984"
    );
    assert_eq!(
        fmt_date(days_from_civil(1984, 3, 9), DateStyle::Iso),
        "1984-03-09"
    );
}

#[test]
fn phone_formats() {
    let de = Phone {
        country: Country::De,
        area: "30",
        sub: "2312512345".into(),
        ext: 2,
    };
    assert_eq!(fmt_phone(&de, PhoneFmt::E164), "+49302312512345");
    assert_eq!(fmt_phone(&de, PhoneFmt::National), "030 2312512345");
    assert_eq!(fmt_phone(&de, PhoneFmt::NationalAlt), "030/2312512345");
    assert_eq!(fmt_phone(&de, PhoneFmt::NationalAlt2), "(030) 23125123-45");
    assert_eq!(fmt_phone(&de, PhoneFmt::Intl00), "0049 30 2312512345");
    assert_eq!(fmt_phone(&de, PhoneFmt::IntlTrunk), "+49 (0)30 2312512345");
    let uk = Phone {
        country: Country::Uk,
        area: "20",
        sub: "79460123".into(),
        ext: 0,
    };
    assert_eq!(fmt_phone(&uk, PhoneFmt::National), "020 7946 0123");
    assert_eq!(fmt_phone(&uk, PhoneFmt::Intl), "+44 20 7946 0123");
    let us = Phone {
        country: Country::Us,
        area: "212",
        sub: "5550142".into(),
        ext: 0,
    };
    assert_eq!(fmt_phone(&us, PhoneFmt::National), "(212) 555-0142");
    assert_eq!(fmt_phone(&us, PhoneFmt::NationalAlt2), "212.555.0142");
    assert_eq!(fmt_phone(&us, PhoneFmt::E164), "+12125550142");
    let fr = Phone {
        country: Country::Fr,
        area: "1",
        sub: "99001234".into(),
        ext: 0,
    };
    assert_eq!(fmt_phone(&fr, PhoneFmt::National), "01 99 00 12 34");
    assert_eq!(fmt_phone(&fr, PhoneFmt::NationalAlt), "01.99.00.12.34");
    assert_eq!(fmt_phone(&fr, PhoneFmt::IntlTrunk), "+33 (0)1 99 00 12 34");
}

#[test]
fn generated_numbers_are_valid_numbers() {
    let mut rng = Rng::new(3);
    for i in 0..3000 {
        let p = gen_person(i, &mut rng);
        for ph in [&p.landline, &p.mobile, &p.old_mobile]
            .into_iter()
            .flatten()
        {
            let cc = match ph.country {
                Country::De => "49",
                Country::Uk => "44",
                Country::Us => "1",
                Country::Fr => "33",
            };
            let e164 = format!("+{cc}{}{}", ph.area, ph.sub);
            let clean = crate::cleanse::phone::cleanse_phone(&e164, None);
            assert_eq!(
                clean.e164.as_deref(),
                Some(e164.as_str()),
                "{:?}",
                ph.country
            );
        }
    }
}

#[test]
fn text_noise_helpers() {
    assert_eq!(folded("Müller-Weiß", Fold::German), "Mueller-Weiss");
    assert_eq!(folded("Müller-Weiß", Fold::Strip), "Muller-Weiss");
    assert_eq!(folded("Héloïse Çelik", Fold::Strip), "Heloise Celik");
    assert_eq!(folded("Müller", Fold::Keep), "Müller");
    assert_eq!(
        cased("McDonald van der Berg", Case::Proper),
        "Mcdonald Van Der Berg"
    );
    assert_eq!(cased("Weiß", Case::Upper), "WEISS");
    assert_eq!(
        abbreviate_street("Hauptstraße 12", Country::De),
        "Hauptstr. 12"
    );
    assert_eq!(
        abbreviate_street("Berliner Straße 3", Country::De),
        "Berliner Str. 3"
    );
    assert_eq!(
        abbreviate_street("12 High Street", Country::Uk),
        "12 High St"
    );
    assert_eq!(
        abbreviate_street("3 avenue Foch", Country::Fr),
        "3 av. Foch"
    );
    assert_eq!(mail_part("O'Brien", Fold::German), "obrien");
    assert_eq!(mail_part("van der Berg", Fold::German), "vanderberg");

    let mut rng = Rng::new(8);
    for _ in 0..500 {
        let t = typo("Katharina", &mut rng);
        assert_ne!(t, "Katharina");
        let dl = t.chars().count() as i64 - 9;
        assert!((-1..=1).contains(&dl), "{t}");
        assert!(t.starts_with('K'), "first letter kept: {t}");
    }
    assert_eq!(typo("Al", &mut rng), "Al");
}

#[test]
fn cp1252_and_csv_helpers() {
    let mut b = Vec::new();
    encode_cp1252("Müller; Œuvre € Dvořák", &mut b);
    let (t, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(&b);
    assert_eq!(t, "Müller; Œuvre € Dvo?ák");
    let mut s = String::new();
    csv_row(&mut s, &["a", "b,c", "say \"hi\"", "x\ny"], ',', "\n");
    assert_eq!(s, "a,\"b,c\",\"say \"\"hi\"\"\",\"x\ny\"\n");
    let mut j = String::new();
    json_str(&mut j, "a\"b\\c\nd\u{1}");
    assert_eq!(j, "\"a\\\"b\\\\c\\nd\\u0001\"");
}

/// `cargo test --release -- --ignored --nocapture synth_one_million`
#[test]
#[ignore = "benchmark: 1,000,000 people, run in release"]
fn synth_one_million() {
    let dir = tempfile::tempdir().expect("tempdir");
    let start = std::time::Instant::now();
    let s = gen_in(dir.path(), 1_000_000, 42);
    let took = start.elapsed();
    let bytes: u64 = s
        .files
        .iter()
        .map(|f| std::fs::metadata(f).expect("meta").len())
        .sum();
    let total: usize = s.records_per_source.iter().map(|(_, n)| n).sum();
    eprintln!(
        "1,000,000 people: {total} records ({:.3}/person), {:.1} MiB, {took:.2?} on {} threads",
        total as f64 / 1e6,
        bytes as f64 / 1048576.0,
        rayon::current_num_threads()
    );
    eprintln!("{:?}", s.records_per_source);
    assert!(took.as_secs() < 60);
}

#[test]
fn a_mailbox_has_one_owner_except_a_households_shared_one() {
    let mut rng = Rng::new(5);
    let mut ps: Vec<Person> = (0..4).map(|i| gen_person(i, &mut rng)).collect();
    for p in &mut ps {
        p.email = "anna.schmidt@gmail.com".into();
        p.old_email = None;
        p.work_email = None;
    }
    // Person 1 is person 0's partner, sharing the family mailbox; 2 and 3 are strangers
    // whose sign-up came out the same (3 with Gmail's dots left out).
    ps[1].household = 0;
    ps[3].email = "annaschmidt@googlemail.com".into();
    let mut boxes = Mailboxes::default();
    for p in &mut ps {
        boxes.claim(p);
    }
    assert_eq!(ps[0].email, "anna.schmidt@gmail.com");
    assert_eq!(ps[1].email, "anna.schmidt@gmail.com");
    assert!(ps[2].email.starts_with("anna.schmidt") && ps[2].email.ends_with("@gmail.com"));
    assert_ne!(ps[2].email, ps[0].email);
    assert!(ps[3].email.starts_with("annaschmidt"), "{}", ps[3].email);
    assert_ne!(mailbox_hash(&ps[3].email), mailbox_hash(&ps[2].email));
    assert_ne!(mailbox_hash(&ps[3].email), mailbox_hash(&ps[0].email));
}
