//! JSON Lines adapter: one JSON object per line, nested values addressed by dotted paths
//! (`contact.email`, `phones.0`); a path ending at an array of scalars gives several values.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use serde_json::Value as Json;

use rayon::prelude::*;

use super::{Ingested, Row, RowBuilder, ScanRow, decode};
use crate::error::{Error, Result};
use crate::hash::KeySet;
use crate::mapping::Mapping;
use crate::record::{Field, QuarantineReason};

pub(super) fn read(
    path: &Path,
    bytes: &[u8],
    mapping: &Mapping,
    source: u16,
    known: super::Known<'_>,
) -> Result<Ingested> {
    let threads = rayon::current_num_threads();
    let chunk = if bytes.len() >= CHUNKED_FROM && threads > 1 {
        bytes.len().div_ceil(2 * threads)
    } else {
        usize::MAX
    };
    read_in_chunks(path, bytes, mapping, source, known, chunk)
}

/// A file this large or larger is read in chunks of whole lines on all cores (a 156 MB
/// export was one core's work while the other sources were long done).
const CHUNKED_FROM: usize = 8 << 20;

/// What the fields' paths are, split at dots.
struct Paths<'m> {
    fields: Vec<(Field, Vec<&'m str>)>,
    key: Vec<&'m str>,
}

/// One chunk's rows, with line numbers counted from the chunk's start.
struct Part {
    out: Ingested,
    /// Whether each field path occurred in a row of the chunk.
    path_seen: Vec<bool>,
    /// Line breaks in the chunk.
    breaks: u64,
}

/// [`read`], in chunks of about `chunk` bytes that end at line breaks, read in parallel
/// and joined as one pass over the file would have read them: a key repeated across
/// chunks is quarantined where it repeats.
fn read_in_chunks(
    path: &Path,
    bytes: &[u8],
    mapping: &Mapping,
    source: u16,
    known: super::Known<'_>,
    chunk: usize,
) -> Result<Ingested> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let paths = Paths {
        fields: mapping
            .fields
            .iter()
            .flat_map(|fm| {
                fm.columns
                    .iter()
                    .map(move |c| (fm.field, c.split('.').collect()))
            })
            .collect(),
        key: mapping.key.split('.').collect(),
    };
    let mut chunks: Vec<&[u8]> = Vec::new();
    let mut rest = bytes;
    while rest.len() > chunk {
        match rest[chunk..].iter().position(|&b| b == b'\n') {
            Some(at) if chunk + at + 1 < rest.len() => {
                let (head, tail) = rest.split_at(chunk + at + 1);
                chunks.push(head);
                rest = tail;
            }
            _ => break,
        }
    }
    chunks.push(rest);
    let parts: Vec<Part> = chunks
        .par_iter()
        .map(|c| read_part(c, &paths, mapping, source, known))
        .collect();

    let mut out = Ingested::default();
    let mut path_seen = vec![false; paths.fields.len()];
    // Keys (as stored rows, or as text for rows the store does not hold) of earlier chunks.
    let mut held_before: KeySet<u32> = KeySet::default();
    let mut keys_before: KeySet<String> = KeySet::default();
    let mut first_line = 0u64;
    let single = parts.len() == 1;
    for (part, chunk) in parts.into_iter().zip(&chunks) {
        for (seen, now) in path_seen.iter_mut().zip(&part.path_seen) {
            *seen |= now;
        }
        let Part {
            out: mut got,
            breaks,
            ..
        } = part;
        if single {
            out = got;
            break;
        }
        // The raw line of a row of this chunk, for a quarantine entry (the chunk's lines
        // are found once, when the first is asked for: a file may repeat thousands).
        let lines = std::cell::OnceCell::new();
        let raw_line = |line: u64| -> &[u8] {
            let lines: &Vec<&[u8]> = lines.get_or_init(|| chunk.split(|&b| b == b'\n').collect());
            let raw = lines.get(line as usize - 1).copied().unwrap_or_default();
            raw.strip_suffix(b"\r").unwrap_or(raw)
        };
        let repeat = |line: u64, key: Option<String>| {
            super::repeated_key(source, first_line + line, raw_line(line), key, mapping)
        };
        let (mut held_now, mut keys_now) = (Vec::new(), Vec::new());
        for (i, line) in got.unchanged {
            if held_before.contains(&i) {
                let key = decode(raw_line(line), mapping)
                    .and_then(|t| probe_key(&t, &paths.key))
                    .map(|k| k.trim().to_string());
                out.quarantined.push(repeat(line, key));
            } else {
                held_now.push(i);
                out.unchanged.push((i, first_line + line));
            }
        }
        for mut r in got.records.drain(..) {
            let repeated = match known.key(&r.key, r.hash) {
                Some((i, _)) if held_before.contains(&i) => true,
                Some((i, _)) => {
                    held_now.push(i);
                    false
                }
                None if keys_before.contains(&r.key) => true,
                None => {
                    keys_now.push(r.key.clone());
                    false
                }
            };
            if repeated {
                out.quarantined.push(repeat(r.line, Some(r.key)));
            } else {
                r.line += first_line;
                out.records.push(r);
            }
        }
        for mut q in got.quarantined {
            q.line += first_line;
            out.quarantined.push(q);
        }
        held_before.extend(held_now);
        keys_before.extend(keys_now);
        first_line += breaks;
    }
    out.quarantined.sort_by_key(|q| q.line);

    // (Rows skipped as unchanged were checked when they were loaded.)
    if !out.records.is_empty() && out.unchanged.is_empty() {
        let missing: Vec<String> = paths
            .fields
            .iter()
            .zip(&path_seen)
            .filter(|(_, seen)| !**seen)
            .map(|((_, p), _)| p.join("."))
            .collect();
        if !missing.is_empty() {
            return Err(Error::Config {
                path: mapping.path.clone(),
                message: format!(
                    "path(s) {} occur in none of the {} rows of {}; check the mapping",
                    missing
                        .iter()
                        .map(|m| format!("`{m}`"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    out.records.len(),
                    path.display()
                ),
            });
        }
    }
    Ok(out)
}

/// Read one chunk of whole lines (its own line numbers start at 1).
fn read_part(
    bytes: &[u8],
    paths: &Paths<'_>,
    mapping: &Mapping,
    source: u16,
    known: super::Known<'_>,
) -> Part {
    let mut path_seen = vec![false; paths.fields.len()];
    let mut builder = RowBuilder::new(mapping, source, known);
    let mut line_no = 0u64;
    for raw in bytes.split(|&b| b == b'\n') {
        line_no += 1;
        let trimmed = raw.strip_suffix(b"\r").unwrap_or(raw);
        if trimmed.iter().all(|b| b.is_ascii_whitespace()) {
            continue;
        }
        // A line the store holds byte for byte: recognised by its content hash alone
        // (most rows of a nightly export are unchanged).
        if builder.unchanged_line(trimmed, line_no) {
            continue;
        }
        let Some(text) = decode(trimmed, mapping) else {
            builder.quarantine(
                line_no,
                trimmed,
                None,
                QuarantineReason::Encoding,
                format!("the line is not valid {}", mapping.encoding.name()),
            );
            continue;
        };
        // A row held unchanged whose key is not written as such in its line (escaped, or
        // in another encoding): its key found without building the row's JSON tree.
        if builder.looks_up()
            && let Some(key) = probe_key(&text, &paths.key)
            && builder.unchanged(&key, trimmed, line_no)
        {
            continue;
        }
        let value: Json = match serde_json::from_str(&text) {
            Ok(v) => v,
            Err(e) => {
                builder.quarantine(
                    line_no,
                    trimmed,
                    None,
                    QuarantineReason::InvalidJson,
                    format!(
                        "invalid JSON at column {}: {}",
                        e.column(),
                        e.classify_name()
                    ),
                );
                continue;
            }
        };
        if !value.is_object() {
            builder.quarantine(
                line_no,
                trimmed,
                None,
                QuarantineReason::NotAnObject,
                "the line is JSON but not an object".into(),
            );
            continue;
        }
        let key = lookup(&value, &paths.key).and_then(|v| scalars(v).into_iter().next());
        let mut values = Vec::new();
        for (i, (field, p)) in paths.fields.iter().enumerate() {
            let Some(found) = lookup(&value, p) else {
                continue;
            };
            path_seen[i] = true;
            let vals = scalars(found);
            if field.is_multi() {
                values.extend(vals.into_iter().map(|v| (*field, v)));
            } else if !values.iter().any(|(f, _)| f == field)
                && let Some(v) = vals
                    .into_iter()
                    .find(|v| !mapping.empty.is_empty_in(*field, v))
            {
                values.push((*field, v));
            }
        }
        let mut extra = Vec::new();
        if mapping.keep_unmapped {
            let mapped: Vec<String> = mapping.columns().map(str::to_string).collect();
            flatten(&value, String::new(), &mapped, &mut extra);
        }
        builder.push(Row {
            line: line_no,
            raw: trimmed,
            key,
            values,
            extra,
        });
    }
    Part {
        out: builder.out,
        path_seen,
        breaks: line_no - 1,
    }
}

/// Stream the file line by line for profiling (see `super::scan_source`): memory stays that
/// of one line whatever the file's size.
pub(super) fn scan(
    path: &Path,
    mapping: &Mapping,
    visit: &mut dyn FnMut(ScanRow<'_>),
) -> Result<()> {
    let io = |e| Error::io(path, e);
    let mut input = BufReader::with_capacity(1 << 16, File::open(path).map_err(io)?);
    if input.fill_buf().map_err(io)?.starts_with(b"\xEF\xBB\xBF") {
        input.consume(3);
    }
    let paths: Vec<Vec<&str>> = std::iter::once(mapping.key.as_str())
        .chain(
            mapping
                .fields
                .iter()
                .flat_map(|fm| fm.columns.iter().map(String::as_str)),
        )
        .map(|p| p.split('.').collect())
        .collect();
    let mut values: Vec<Vec<String>> = vec![Vec::new(); paths.len()];
    let mut line = Vec::new();
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line).map_err(io)? == 0 {
            return Ok(());
        }
        let mut trimmed = line.as_slice();
        while let [rest @ .., b'\n' | b'\r'] = trimmed {
            trimmed = rest;
        }
        if trimmed.iter().all(|b| b.is_ascii_whitespace()) {
            continue;
        }
        let Some(text) = decode(trimmed, mapping) else {
            visit(ScanRow::Unreadable(QuarantineReason::Encoding));
            continue;
        };
        let value: Json = match serde_json::from_str(&text) {
            Ok(v) => v,
            Err(_) => {
                visit(ScanRow::Unreadable(QuarantineReason::InvalidJson));
                continue;
            }
        };
        if !value.is_object() {
            visit(ScanRow::Unreadable(QuarantineReason::NotAnObject));
            continue;
        }
        for (slot, p) in values.iter_mut().zip(&paths) {
            *slot = lookup(&value, p).map(scalars).unwrap_or_default();
        }
        visit(ScanRow::Values(&values));
    }
}

trait ClassifyName {
    fn classify_name(&self) -> &'static str;
}

impl ClassifyName for serde_json::Error {
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Eof => "the line ends before the JSON does (truncated?)",
            serde_json::error::Category::Syntax => "syntax error",
            serde_json::error::Category::Data => "unexpected data",
            serde_json::error::Category::Io => "read error",
        }
    }
}

/// The key of a JSON object line at a path of object members, when it is a string or an
/// integer (as [`lookup`] and [`scalars`] would give it); `None` for anything else (the
/// caller then parses the line in full). Skips every other value without building it.
fn probe_key(text: &str, path: &[&str]) -> Option<String> {
    use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
    type Res<T, E> = std::result::Result<T, E>;
    struct Probe<'p>(&'p [&'p str]);
    impl<'de> DeserializeSeed<'de> for Probe<'_> {
        type Value = Option<String>;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Res<Self::Value, D::Error> {
            d.deserialize_any(self)
        }
    }
    impl<'de> Visitor<'de> for Probe<'_> {
        type Value = Option<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a JSON value")
        }
        fn visit_str<E>(self, v: &str) -> Res<Self::Value, E> {
            Ok(self.0.is_empty().then(|| v.to_string()))
        }
        fn visit_u64<E>(self, v: u64) -> Res<Self::Value, E> {
            Ok(self.0.is_empty().then(|| v.to_string()))
        }
        fn visit_i64<E>(self, v: i64) -> Res<Self::Value, E> {
            Ok(self.0.is_empty().then(|| v.to_string()))
        }
        fn visit_f64<E>(self, _: f64) -> Res<Self::Value, E> {
            Ok(None)
        }
        fn visit_bool<E>(self, _: bool) -> Res<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E>(self) -> Res<Self::Value, E> {
            Ok(None)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Res<Self::Value, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(None)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Res<Self::Value, A::Error> {
            let Some((head, rest)) = self.0.split_first() else {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                return Ok(None);
            };
            // The last of repeated members wins, as in a parsed object.
            let mut found = None;
            while let Some(is_head) = map.next_key_seed(KeyIs(head))? {
                if is_head {
                    found = map.next_value_seed(Probe(rest))?;
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            Ok(found)
        }
    }
    /// Whether a member's name is the one wanted, compared without copying it.
    struct KeyIs<'k>(&'k str);
    impl<'de> DeserializeSeed<'de> for KeyIs<'_> {
        type Value = bool;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Res<Self::Value, D::Error> {
            d.deserialize_str(self)
        }
    }
    impl<'de> Visitor<'de> for KeyIs<'_> {
        type Value = bool;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a member name")
        }
        fn visit_str<E>(self, v: &str) -> Res<Self::Value, E> {
            Ok(v == self.0)
        }
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let key = Probe(path).deserialize(&mut de).ok()??;
    de.end().ok()?;
    Some(key)
}

fn lookup<'v>(value: &'v Json, path: &[&str]) -> Option<&'v Json> {
    let mut cur = value;
    for part in path {
        cur = match cur {
            Json::Object(map) => map.get(*part)?,
            Json::Array(items) => items.get(part.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    (!cur.is_null()).then_some(cur)
}

/// Scalar values as text; an array of scalars gives each.
fn scalars(value: &Json) -> Vec<String> {
    match value {
        Json::String(s) => vec![s.clone()],
        Json::Number(n) => vec![n.to_string()],
        Json::Bool(b) => vec![b.to_string()],
        Json::Array(items) => items.iter().flat_map(scalars).collect(),
        Json::Null | Json::Object(_) => Vec::new(),
    }
}

fn flatten(value: &Json, prefix: String, mapped: &[String], out: &mut Vec<(String, String)>) {
    if mapped.contains(&prefix) {
        return;
    }
    match value {
        Json::Object(map) => {
            for (k, v) in map {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(v, p, mapped, out);
            }
        }
        Json::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                flatten(v, format!("{prefix}.{i}"), mapped, out);
            }
        }
        Json::Null => {}
        other => out.push((prefix, scalars(other).concat())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SourceFormat;
    use crate::ingest::HoldsNothing;

    fn mapping(text: &str) -> Mapping {
        Mapping::parse(Path::new("m.toml"), text, SourceFormat::Jsonl).unwrap()
    }

    const M: &str = "key = \"id\"\n[fields]\ngiven_name = \"name.first\"\nemail = \"contact.email\"\nphone = \"contact.phones\"\ncity = \"addresses.0.city\"\n";

    /// A store holding rows `k0`, `k1`, ... with these content hashes; `by_line`: it
    /// recognises a line by its content hash too (as a sync's store does).
    struct Store {
        held: Vec<u64>,
        by_line: bool,
        lines_found: std::sync::atomic::AtomicUsize,
    }

    impl crate::ingest::Holds for Store {
        fn key(&self, key: &str, hash: u64) -> Option<(u32, bool)> {
            let k: usize = key.strip_prefix('k')?.parse().ok()?;
            self.held.get(k).map(|&h| (k as u32, h == hash))
        }
        fn line(&self, hash: u64, raw: &[u8]) -> Option<u32> {
            let k = self.held.iter().position(|&h| h == hash && self.by_line)?;
            let key = format!("k{k}");
            memchr::memmem::find(raw, key.as_bytes())?;
            self.lines_found
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Some(k as u32)
        }
    }

    /// Read in chunks of any size, a file gives what one pass gives: the same records,
    /// unchanged rows and quarantine entries (repeated keys across chunks included), on the
    /// same lines, or the same error. Lines recognised by their content hash change
    /// nothing either.
    #[test]
    fn chunks_read_as_one_pass() {
        let m = mapping(M);
        let canonical = |k: usize| format!(r#"{{"id": "k{k}", "name": {{"first": "A"}}}}"#);
        // The store holds k0..k3 with their canonical rows.
        let store = |by_line| Store {
            held: (0..4)
                .map(|k| crate::hash::content_hash(canonical(k).as_bytes()))
                .collect(),
            by_line,
            lines_found: Default::default(),
        };
        let by_key = store(false);
        let known = store(true);
        let mut rng = crate::rng::Rng::new(7);
        for case in 0..300 {
            let mut text = String::new();
            if case % 7 == 0 {
                text.push('\u{feff}');
            }
            for _ in 0..rng.next_u64() % 30 {
                let k = (rng.next_u64() % 7) as usize;
                let line = match rng.next_u64() % 10 {
                    0..=3 if k < 4 => canonical(k),
                    0..=5 => format!(
                        r#"{{"id": " k{k} ", "name": {{"first": "B{}"}}, "contact": {{"email": "x@y.de", "phones": ["1"]}}, "addresses": [{{"city": "C"}}]}}"#,
                        rng.next_u64() % 3
                    ),
                    6 => String::new(),
                    7 => r#"{"id": "k1", "name": "#.into(),
                    8 => "[1, 2]".into(),
                    _ => format!(r#"{{"name": {{"first": "N{k}"}}}}"#),
                };
                text.push_str(&line);
                text.push_str(if rng.next_u64().is_multiple_of(4) {
                    "\r\n"
                } else {
                    "\n"
                });
            }
            let bytes = text.as_bytes();
            let p = Path::new("in.jsonl");
            let whole = read_in_chunks(p, bytes, &m, 0, &by_key, usize::MAX);
            for chunk in [
                usize::MAX,
                1,
                2,
                17,
                64,
                1 + (rng.next_u64() % 400) as usize,
            ] {
                let parts = read_in_chunks(p, bytes, &m, 0, &known, chunk);
                assert_eq!(
                    format!("{parts:?}"),
                    format!("{whole:?}"),
                    "case {case}, chunks of {chunk}:\n{text}"
                );
            }
        }
        assert!(known.lines_found.into_inner() > 100);
        assert_eq!(by_key.lines_found.into_inner(), 0);
    }

    #[test]
    fn the_key_probe_finds_what_a_full_parse_finds_or_gives_up() {
        for (line, path) in [
            (r#"{"id": "W-1", "name": {"first": "Ann"}}"#, "id"),
            (r#"{"name": {"first": "Ann"}, "id": 42}"#, "id"),
            (r#"{"id": -7}"#, "id"),
            (r#"{"id": "a\"b\u00e9"}"#, "id"),
            (r#"{"id": "x", "id": "y"}"#, "id"),
            (r#"{"meta": {"ref": "K9", "x": [1, {"y": 2}]}}"#, "meta.ref"),
            (r#"{"ids": ["A", "B"]}"#, "ids"),
            (r#"{"id": 1.5}"#, "id"),
            (r#"{"id": null}"#, "id"),
            (r#"{"id": {"v": 1}}"#, "id"),
            (r#"{"other": 1}"#, "id"),
            (r#"{"id": "x"} trailing"#, "id"),
            (r#"{"id": "x""#, "id"),
            (r#"["id"]"#, "id"),
        ] {
            let path: Vec<&str> = path.split('.').collect();
            let full = serde_json::from_str::<Json>(line)
                .ok()
                .and_then(|v| lookup(&v, &path).and_then(|v| scalars(v).into_iter().next()));
            if let Some(probed) = probe_key(line, &path) {
                assert_eq!(Some(probed), full, "{line}");
            }
        }
        // The common shapes are found without a full parse.
        assert_eq!(
            probe_key(r#"{"id": 42, "x": [1]}"#, &["id"]).as_deref(),
            Some("42")
        );
        assert_eq!(
            probe_key(r#"{"m": {"ref": "K9"}}"#, &["m", "ref"]).as_deref(),
            Some("K9")
        );
    }

    #[test]
    fn reads_nested_paths_arrays_and_extras() {
        let m = mapping(M);
        let data = br#"{"id": "W-1", "name": {"first": "Anna"}, "contact": {"email": "a@example.com", "phones": ["030 1", "030 2"]}, "addresses": [{"city": "Berlin"}], "vip": true}
"#;
        let got = read(Path::new("w.jsonl"), data, &m, 1, &HoldsNothing).unwrap();
        let r = &got.records[0];
        assert_eq!(r.key, "W-1");
        assert_eq!(r.source, 1);
        assert_eq!(r.all(Field::Phone).collect::<Vec<_>>(), ["030 1", "030 2"]);
        assert_eq!(r.first(Field::City), Some("Berlin"));
        assert_eq!(r.extra, vec![("vip".to_string(), "true".to_string())]);
    }

    #[test]
    fn broken_lines_are_quarantined() {
        let m = mapping("key = \"id\"\n[fields]\nemail = \"e\"\n");
        let data = b"{\"id\": 1, \"e\": \"x\"}\n{\"id\": 2, \"e\": \n[1,2]\n{\"e\": \"y\"}\n\n{\"id\": \"3\", \"e\": \"\xff\"}\n";
        let got = read(Path::new("w.jsonl"), data, &m, 0, &HoldsNothing).unwrap();
        assert_eq!(got.records.len(), 1);
        assert_eq!(got.records[0].key, "1");
        let reasons: Vec<(u64, &str)> = got
            .quarantined
            .iter()
            .map(|q| (q.line, q.reason.code()))
            .collect();
        assert_eq!(
            reasons,
            [
                (2, "invalid_json"),
                (3, "not_an_object"),
                (4, "missing_key"),
                (6, "encoding")
            ]
        );
        assert!(got.quarantined[0].detail.contains("truncated"));
    }

    #[test]
    fn a_path_that_never_occurs_is_an_error() {
        let m = mapping("key = \"id\"\n[fields]\nemail = \"contact.mail\"\n");
        let e = read(
            Path::new("w.jsonl"),
            b"{\"id\": 1, \"contact\": {\"email\": \"x\"}}\n",
            &m,
            0,
            &HoldsNothing,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("`contact.mail` occur in none of the 1 rows"),
            "{e}"
        );
    }
}
