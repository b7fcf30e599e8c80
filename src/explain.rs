//! Explain: `customer id -> Explanation` from the store: the golden profile, its source
//! records, the links with their evidence (a waterfall of match weights), and where each
//! field came from.

use rusqlite::{Connection, OptionalExtension};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::store;

#[derive(Debug, Serialize)]
pub struct Explanation {
    pub customer_id: String,
    pub status: String,
    /// Set when this id was merged into another customer.
    pub merged_into: Option<String>,
    pub fields: Vec<FieldExplanation>,
    pub sources: Vec<SourceRecordView>,
    pub links: Vec<LinkView>,
    pub history: Vec<EventView>,
}

#[derive(Debug, Serialize)]
pub struct FieldExplanation {
    pub field: String,
    pub value: Option<String>,
    pub source: Option<String>,
    pub source_key: Option<String>,
    pub rule: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct SourceRecordView {
    pub source: String,
    pub source_key: String,
    pub line: i64,
    pub match_score: Option<f64>,
    pub record: serde_json::Value,
    pub issues: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct LinkView {
    pub a: String,
    pub b: String,
    pub weight: f64,
    pub probability: f64,
    pub evidence: serde_json::Value,
}

#[derive(Debug, Serialize)]
pub struct EventView {
    pub run_id: i64,
    pub event: String,
    pub field: Option<String>,
    pub before: Option<String>,
    pub after: Option<String>,
    pub detail: Option<String>,
}

pub fn explain(conn: &Connection, store_path: &std::path::Path, id: &str) -> Result<Explanation> {
    let db = |e: rusqlite::Error| Error::store(store_path, e);
    let cols: Vec<&str> = store::golden_columns().collect();
    let sql = format!(
        "SELECT status, merged_into, {} FROM customers WHERE customer_id = ?1",
        cols.join(", ")
    );
    let row: Option<(String, Option<String>, Vec<Option<String>>)> = conn
        .query_row(&sql, [id], |r| {
            let mut vals = Vec::with_capacity(cols.len());
            for i in 0..cols.len() {
                vals.push(r.get(i + 2)?);
            }
            Ok((r.get(0)?, r.get(1)?, vals))
        })
        .optional()
        .map_err(db)?;
    let Some((status, merged_into, values)) = row else {
        return Err(Error::Other(format!(
            "no customer `{id}` in {}",
            store_path.display()
        )));
    };
    let mut lineage = conn
        .prepare("SELECT field, source, source_key, rule FROM field_lineage WHERE customer_id = ?1")
        .map_err(db)?;
    let lineage: Vec<(String, String, String, String)> = lineage
        .query_map([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .map_err(db)?
        .collect::<rusqlite::Result<_>>()
        .map_err(db)?;
    let fields = cols
        .iter()
        .zip(values)
        .map(|(c, v)| {
            let l = lineage.iter().find(|l| l.0 == *c);
            FieldExplanation {
                field: c.to_string(),
                value: v,
                source: l.map(|l| l.1.clone()),
                source_key: l.map(|l| l.2.clone()),
                rule: l.map(|l| l.3.clone()),
            }
        })
        .collect();
    let mut stmt = conn
        .prepare(
            "SELECT source, source_key, line, match_score, record_json FROM customer_sources
             WHERE customer_id = ?1 ORDER BY source, source_key",
        )
        .map_err(db)?;
    let mut sources: Vec<SourceRecordView> = stmt
        .query_map([id], |r| {
            let json: String = r.get(4)?;
            Ok(SourceRecordView {
                source: r.get(0)?,
                source_key: r.get(1)?,
                line: r.get(2)?,
                match_score: r.get(3)?,
                record: serde_json::from_str(&json).unwrap_or(serde_json::Value::Null),
                issues: Vec::new(),
            })
        })
        .map_err(db)?
        .collect::<rusqlite::Result<_>>()
        .map_err(db)?;
    let mut issues = conn
        .prepare("SELECT field || ': ' || code FROM record_issues WHERE source = ?1 AND source_key = ?2 ORDER BY 1")
        .map_err(db)?;
    for s in &mut sources {
        s.issues = issues
            .query_map([&s.source, &s.source_key], |r| r.get(0))
            .map_err(db)?
            .collect::<rusqlite::Result<_>>()
            .map_err(db)?;
    }
    let mut stmt = conn
        .prepare(
            "SELECT source_a || ':' || key_a, source_b || ':' || key_b, weight, probability, evidence
             FROM match_links WHERE customer_id = ?1 ORDER BY probability DESC, 1, 2",
        )
        .map_err(db)?;
    let links = stmt
        .query_map([id], |r| {
            let ev: String = r.get(4)?;
            Ok(LinkView {
                a: r.get(0)?,
                b: r.get(1)?,
                weight: r.get(2)?,
                probability: r.get(3)?,
                evidence: serde_json::from_str(&ev).unwrap_or(serde_json::Value::Null),
            })
        })
        .map_err(db)?
        .collect::<rusqlite::Result<_>>()
        .map_err(db)?;
    let mut stmt = conn
        .prepare(
            "SELECT run_id, event, field, before, after, detail FROM audit_events
             WHERE customer_id = ?1 ORDER BY event_id",
        )
        .map_err(db)?;
    let history = stmt
        .query_map([id], |r| {
            Ok(EventView {
                run_id: r.get(0)?,
                event: r.get(1)?,
                field: r.get(2)?,
                before: r.get(3)?,
                after: r.get(4)?,
                detail: r.get(5)?,
            })
        })
        .map_err(db)?
        .collect::<rusqlite::Result<_>>()
        .map_err(db)?;
    Ok(Explanation {
        customer_id: id.to_string(),
        status,
        merged_into,
        fields,
        sources,
        links,
        history,
    })
}

impl std::fmt::Display for Explanation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "customer {} ({})", self.customer_id, self.status)?;
        if let Some(m) = &self.merged_into {
            write!(f, ", merged into {m}")?;
        }
        writeln!(f)?;
        writeln!(f, "\ngolden profile:")?;
        for fe in self.fields.iter().filter(|fe| fe.value.is_some()) {
            writeln!(
                f,
                "  {:<17} {:<36} <- {}:{} ({})",
                fe.field,
                fe.value.as_deref().unwrap_or(""),
                fe.source.as_deref().unwrap_or("?"),
                fe.source_key.as_deref().unwrap_or("?"),
                fe.rule.as_deref().unwrap_or("?")
            )?;
        }
        writeln!(f, "\nsource records ({}):", self.sources.len())?;
        for s in &self.sources {
            write!(f, "  {}:{} (line {})", s.source, s.source_key, s.line)?;
            if let Some(p) = s.match_score {
                write!(f, " match probability {p:.4}")?;
            }
            writeln!(f)?;
            if !s.issues.is_empty() {
                writeln!(f, "    issues: {}", s.issues.join(", "))?;
            }
        }
        writeln!(f, "\nlinks ({}):", self.links.len())?;
        for l in &self.links {
            writeln!(
                f,
                "  {} ~ {}: weight {:+.2}, probability {:.4}",
                l.a, l.b, l.weight, l.probability
            )?;
            if let Some(items) = l.evidence.as_array() {
                let mut running = l.weight
                    - items
                        .iter()
                        .filter_map(|e| e["weight"].as_f64())
                        .sum::<f64>();
                writeln!(
                    f,
                    "    {:<14} {:<28} {:>8} {:>9}",
                    "prior",
                    "",
                    format!("{running:+.2}"),
                    format!("{running:+.2}")
                )?;
                for e in items {
                    let w = e["weight"].as_f64().unwrap_or(0.0);
                    running += w;
                    let bar = if w >= 0.0 {
                        "+".repeat((w.round() as usize).min(20))
                    } else {
                        "-".repeat(((-w).round() as usize).min(20))
                    };
                    writeln!(
                        f,
                        "    {:<14} {:<28} {:>8} {:>9}  {bar}",
                        e["comparison"].as_str().unwrap_or("?"),
                        e["level"].as_str().unwrap_or("?"),
                        format!("{w:+.2}"),
                        format!("{running:+.2}")
                    )?;
                }
            }
        }
        writeln!(f, "\nhistory:")?;
        for e in &self.history {
            write!(f, "  run {}: {}", e.run_id, e.event)?;
            if let Some(field) = &e.field {
                write!(
                    f,
                    " {field}: {:?} -> {:?}",
                    e.before.as_deref().unwrap_or(""),
                    e.after.as_deref().unwrap_or("")
                )?;
            }
            if let Some(d) = &e.detail {
                write!(f, " ({d})")?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}
