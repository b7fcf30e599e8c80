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
//! - `retire SOURCE --apply` (kind `retire_source`): the source is switched off. A run whose
//!   pipeline still lists it is refused ([`refuse_retired`]); once it is gone from the
//!   pipeline, the loader marks its records deleted (`customer_sources.deleted_run_id`)
//!   instead of detaching them, so they stay in the store as lineage. See `retire`.
//!
//! `revoke OVERRIDE_ID` sets `overrides.active = 0` (`load::record_revoke`): the override is
//! kept for the record but no longer replayed.
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
    /// A source switched off, with what `retire` reported when it was applied.
    RetireSource {
        source: String,
        /// Customers whose every active record came from the source.
        customers_only_here: u64,
        /// Other customers that lose at least one golden value.
        customers_losing_values: u64,
    },
}

impl Directive {
    pub fn kind(&self) -> &'static str {
        match self {
            Directive::Link { .. } => "link",
            Directive::Unlink { .. } => "unlink",
            Directive::Pin { .. } => "pin",
            Directive::RetireSource { .. } => "retire_source",
        }
    }

    /// The customer the audit event is about (none for a retired source).
    pub fn customer(&self) -> Option<&str> {
        match self {
            Directive::Link { customers, .. } => Some(&customers[0]),
            Directive::Unlink { customer, .. } | Directive::Pin { customer, .. } => Some(customer),
            Directive::RetireSource { .. } => None,
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

/// One row of `overrides` as `crmfuse overrides` lists it, active or not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OverrideRow {
    pub override_id: i64,
    /// The run that recorded it.
    pub run_id: i64,
    pub kind: String,
    pub directive: Directive,
    pub who: String,
    pub created_at: String,
    pub why: String,
    pub active: bool,
}

/// The active overrides of a store, oldest first (none when the store predates them).
pub fn read_active(conn: &Connection, store: &Path) -> Result<Vec<Override>> {
    Ok(read_all(conn, store)?
        .into_iter()
        .filter(|o| o.active)
        .map(|o| Override {
            id: o.override_id,
            directive: o.directive,
            who: o.who,
            created_at: o.created_at,
            why: o.why,
        })
        .collect())
}

/// Every override of a store, active or not, oldest first.
pub fn read_all(conn: &Connection, store: &Path) -> Result<Vec<OverrideRow>> {
    let db = |e: rusqlite::Error| Error::store(store, e);
    if !crate::store::has_table(conn, "overrides").map_err(db)? {
        return Ok(Vec::new());
    }
    type Row = (i64, i64, String, String, String, String, String, bool);
    let mut stmt = conn
        .prepare(
            "SELECT override_id, run_id, kind, args, who, created_at, why, active <> 0
             FROM overrides ORDER BY override_id",
        )
        .map_err(db)?;
    let rows: Vec<Row> = stmt
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
            ))
        })
        .map_err(db)?
        .collect::<rusqlite::Result<_>>()
        .map_err(db)?;
    rows.into_iter()
        .map(|(id, run_id, kind, args, who, created_at, why, active)| {
            let directive = serde_json::from_str(&args).map_err(|e| Error::Store {
                path: store.to_path_buf(),
                message: format!("override {id}: unreadable args ({e})"),
            })?;
            Ok(OverrideRow {
                override_id: id,
                run_id,
                kind,
                directive,
                who,
                created_at,
                why,
                active,
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
            Directive::Pin { .. } | Directive::RetireSource { .. } => {}
        }
    }
    out
}

/// Retired sources by name, with the override that retired each (the latest, if twice).
pub fn retired_sources(overrides: &[Override]) -> std::collections::BTreeMap<String, i64> {
    overrides
        .iter()
        .filter_map(|o| match &o.directive {
            Directive::RetireSource { source, .. } => Some((source.clone(), o.id)),
            _ => None,
        })
        .collect()
}

/// Refuse a run whose pipeline still lists a retired source: its export would flow back
/// into the golden profiles that the retirement was about.
pub fn refuse_retired(pipeline: &crate::config::Pipeline, overrides: &[Override]) -> Result<()> {
    let retired = retired_sources(overrides);
    for s in &pipeline.sources {
        if let Some(id) = retired.get(&s.name) {
            return Err(Error::Config {
                path: pipeline.config_path.clone(),
                message: format!(
                    "source `{}` was retired (override {id} in store {}); remove its [[sources]] entry (and any survivorship.owners naming it), or bring it back with `crmfuse revoke {id} CONFIG --why TEXT`",
                    s.name,
                    pipeline.store_path.display()
                ),
            });
        }
    }
    Ok(())
}

/// Check that override `id` exists and is active, for `revoke`.
pub fn prepare_revoke(conn: &Connection, store: &Path, id: i64) -> Result<OverrideRow> {
    let all = read_all(conn, store)?;
    match all.into_iter().find(|o| o.override_id == id) {
        None => Err(not_found(
            store,
            format!("no override {id}; `crmfuse overrides CONFIG` lists them"),
        )),
        Some(o) if !o.active => Err(not_found(
            store,
            format!("override {id} ({}) is already inactive", o.kind),
        )),
        Some(o) => Ok(o),
    }
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
