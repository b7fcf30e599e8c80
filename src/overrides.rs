//! Overrides: a data steward's standing instructions, `store -> Vec<Override>`, replayed on
//! every run.
//!
//! - `link ID1 ID2`: the two customers are one. Stored as a must-link between one record
//!   of each (as they were when the steward linked them) and replayed as a `same` decision.
//! - `unlink CUSTOMER SOURCE:KEY`: the record is not this customer. Stored as cannot-links
//!   between the record and every other record the customer held, replayed as `different`
//!   decisions.
//! - `pin CUSTOMER FIELD VALUE`: survivorship may not change this golden value; the loader
//!   writes VALUE with lineage rule `pin` (source `steward`).
//!
//! Link and unlink reuse the decisions mechanism (`pipeline::ResolveOptions::decisions`);
//! a decision that comes from an override carries the override's id as its "line". Each
//! override takes effect at the next run. Writing one is the loader's job
//! (`load::record_override`), so that it has a run id, an audit event and undo rows.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use crate::decisions::{Decision, RecordRef, Verdict};
use crate::error::{Error, Result};
use crate::record::GoldenField;

/// What an override says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Directive {
    Link {
        customers: [String; 2],
        a: RecordRef,
        b: RecordRef,
    },
    Unlink {
        customer: String,
        record: RecordRef,
        others: Vec<RecordRef>,
    },
    Pin {
        customer: String,
        field: String,
        value: String,
    },
}

impl Directive {
    pub fn kind(&self) -> &'static str {
        match self {
            Directive::Link { .. } => "link",
            Directive::Unlink { .. } => "unlink",
            Directive::Pin { .. } => "pin",
        }
    }

    /// The customer the audit event is about.
    pub fn customer(&self) -> &str {
        match self {
            Directive::Link { customers, .. } => &customers[0],
            Directive::Unlink { customer, .. } | Directive::Pin { customer, .. } => customer,
        }
    }
}

/// One row of `overrides`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Override {
    pub id: i64,
    pub directive: Directive,
    pub who: String,
    pub created_at: String,
    pub why: String,
}

/// The active overrides of a store, oldest first (none when the store predates them).
pub fn read_active(conn: &Connection, store: &Path) -> Result<Vec<Override>> {
    let db = |e: rusqlite::Error| Error::store(store, e);
    let exists: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'overrides'",
            [],
            |r| r.get(0),
        )
        .map_err(db)?;
    if exists == 0 {
        return Ok(Vec::new());
    }
    let mut stmt = conn
        .prepare(
            "SELECT override_id, args, who, created_at, why FROM overrides
             WHERE active = 1 ORDER BY override_id",
        )
        .map_err(db)?;
    let rows: Vec<(i64, String, String, String, String)> = stmt
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .map_err(db)?
        .collect::<rusqlite::Result<_>>()
        .map_err(db)?;
    rows.into_iter()
        .map(|(id, args, who, created_at, why)| {
            let directive = serde_json::from_str(&args).map_err(|e| Error::Store {
                path: store.to_path_buf(),
                message: format!("override {id}: unreadable args ({e})"),
            })?;
            Ok(Override {
                id,
                directive,
                who,
                created_at,
                why,
            })
        })
        .collect()
}

/// Link and unlink overrides as must-link / cannot-link decisions.
pub fn decisions(overrides: &[Override]) -> Vec<Decision> {
    let mut out = Vec::new();
    for o in overrides {
        let line = o.id as u64;
        match &o.directive {
            Directive::Link { a, b, .. } => out.push(Decision {
                a: a.clone(),
                b: b.clone(),
                verdict: Verdict::Same,
                line,
            }),
            Directive::Unlink { record, others, .. } => {
                out.extend(others.iter().map(|other| Decision {
                    a: record.clone(),
                    b: other.clone(),
                    verdict: Verdict::Different,
                    line,
                }))
            }
            Directive::Pin { .. } => {}
        }
    }
    out
}

/// A pinned golden value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    pub override_id: i64,
    pub customer: String,
    pub field: GoldenField,
    pub value: String,
}

/// Pin overrides, later pins of the same customer and field winning.
pub fn pins(overrides: &[Override]) -> Vec<Pin> {
    overrides
        .iter()
        .filter_map(|o| match &o.directive {
            Directive::Pin {
                customer,
                field,
                value,
            } => GoldenField::from_name(field).map(|field| Pin {
                override_id: o.id,
                customer: customer.clone(),
                field,
                value: value.clone(),
            }),
            _ => None,
        })
        .collect()
}

fn not_found(store: &Path, message: String) -> Error {
    Error::Store {
        path: store.to_path_buf(),
        message,
    }
}

/// Check that `id` is an active customer of the store.
fn active_customer(conn: &Connection, store: &Path, id: &str) -> Result<()> {
    let row: Option<(String, Option<String>)> = conn
        .query_row(
            "SELECT status, merged_into FROM customers WHERE customer_id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(|e| Error::store(store, e))?;
    match row {
        None => Err(not_found(store, format!("no customer {id}"))),
        Some((s, _)) if s == "active" => Ok(()),
        Some((s, Some(into))) => Err(not_found(
            store,
            format!("customer {id} is {s} into {into}; name {into} instead"),
        )),
        Some((s, None)) => Err(not_found(store, format!("customer {id} is {s}"))),
    }
}

/// The records of a customer, in (source, key) order.
fn records_of(conn: &Connection, store: &Path, id: &str) -> Result<Vec<RecordRef>> {
    let mut stmt = conn
        .prepare(
            "SELECT source, source_key FROM customer_sources WHERE customer_id = ?1
             ORDER BY source, source_key",
        )
        .map_err(|e| Error::store(store, e))?;
    let rows = stmt
        .query_map([id], |r| {
            Ok(RecordRef {
                source: r.get(0)?,
                key: r.get(1)?,
            })
        })
        .map_err(|e| Error::store(store, e))?;
    rows.collect::<rusqlite::Result<_>>()
        .map_err(|e| Error::store(store, e))
}

/// `link ID1 ID2` against the store as it is.
pub fn prepare_link(conn: &Connection, store: &Path, id1: &str, id2: &str) -> Result<Directive> {
    if id1 == id2 {
        return Err(Error::Other(format!("cannot link {id1} with itself")));
    }
    let mut first = Vec::new();
    for id in [id1, id2] {
        active_customer(conn, store, id)?;
        let rec = records_of(conn, store, id)?
            .into_iter()
            .next()
            .ok_or_else(|| not_found(store, format!("customer {id} has no source record")))?;
        first.push(rec);
    }
    let b = first.pop().unwrap_or_else(|| unreachable!());
    let a = first.pop().unwrap_or_else(|| unreachable!());
    Ok(Directive::Link {
        customers: [id1.to_string(), id2.to_string()],
        a,
        b,
    })
}

/// `unlink CUSTOMER SOURCE:KEY` against the store as it is.
pub fn prepare_unlink(
    conn: &Connection,
    store: &Path,
    customer: &str,
    record: &str,
) -> Result<Directive> {
    let (source, key) = record
        .split_once(':')
        .ok_or_else(|| Error::Other(format!("`{record}` is not SOURCE:KEY (e.g. erp:0010001)")))?;
    let record = RecordRef {
        source: source.to_string(),
        key: key.to_string(),
    };
    active_customer(conn, store, customer)?;
    let all = records_of(conn, store, customer)?;
    if !all.contains(&record) {
        return Err(not_found(
            store,
            format!("customer {customer} has no record {source}:{key}"),
        ));
    }
    let others: Vec<RecordRef> = all.into_iter().filter(|r| r != &record).collect();
    if others.is_empty() {
        return Err(Error::Other(format!(
            "{source}:{key} is the only record of {customer}; there is nothing to split it from"
        )));
    }
    Ok(Directive::Unlink {
        customer: customer.to_string(),
        record,
        others,
    })
}

/// `pin CUSTOMER FIELD VALUE` against the store as it is.
pub fn prepare_pin(
    conn: &Connection,
    store: &Path,
    customer: &str,
    field: &str,
    value: &str,
) -> Result<Directive> {
    if GoldenField::from_name(field).is_none() {
        let names: Vec<&str> = GoldenField::ALL.iter().map(|f| f.name()).collect();
        return Err(Error::Other(format!(
            "no golden field `{field}`; the fields are {}",
            names.join(", ")
        )));
    }
    active_customer(conn, store, customer)?;
    Ok(Directive::Pin {
        customer: customer.to_string(),
        field: field.to_string(),
        value: value.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str, k: &str) -> RecordRef {
        RecordRef {
            source: s.into(),
            key: k.into(),
        }
    }

    fn o(id: i64, directive: Directive) -> Override {
        Override {
            id,
            directive,
            who: "w".into(),
            created_at: "t".into(),
            why: "y".into(),
        }
    }

    #[test]
    fn overrides_become_decisions_and_pins() {
        let all = vec![
            o(
                1,
                Directive::Link {
                    customers: ["C1".into(), "C2".into()],
                    a: r("erp", "1"),
                    b: r("crm", "2"),
                },
            ),
            o(
                2,
                Directive::Unlink {
                    customer: "C3".into(),
                    record: r("erp", "3"),
                    others: vec![r("erp", "4"), r("crm", "5")],
                },
            ),
            o(
                3,
                Directive::Pin {
                    customer: "C1".into(),
                    field: "email".into(),
                    value: "x".into(),
                },
            ),
        ];
        let d = decisions(&all);
        assert_eq!(d.len(), 3);
        assert_eq!((d[0].verdict, d[0].line), (Verdict::Same, 1));
        assert!(
            d[1..]
                .iter()
                .all(|d| d.verdict == Verdict::Different && d.line == 2 && d.a == r("erp", "3"))
        );
        let p = pins(&all);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].field, GoldenField::Email);
        let json = serde_json::to_string(&all[1].directive).unwrap();
        assert!(json.contains("\"kind\":\"unlink\""), "{json}");
        assert_eq!(
            serde_json::from_str::<Directive>(&json).unwrap(),
            all[1].directive
        );
    }
}
