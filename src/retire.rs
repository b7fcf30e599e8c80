//! Retire: `(store, SOURCE) -> Retirement`, what switching a source off would mean, read
//! from what the store holds.
//!
//! - Customers that exist only in the source: every active record (`customer_sources` rows
//!   not marked deleted) of the active customer comes from it. Once the source is gone the
//!   next run marks those records deleted and retires the customer.
//! - Customers that lose a golden value: a field whose `field_lineage` names the source and
//!   that survivorship, re-run on the customer's other records (their stored
//!   `record_json`, with the pipeline's rules, sources and trust), leaves empty. Field groups
//!   (the address, the name) survive as a unit from one record, so a value can be lost even
//!   when another record has one: the record the rules now choose for the group may not. A
//!   value the CRM's users edited is kept by the next run (unless `[sync] source_wins`
//!   names the field), and so is a pinned one: neither is lost.
//!
//! What is not predicted: re-clustering. Without the source's records, customers that
//! only its records held together may split (and scores shift a little); a dry run of the
//! pipeline without the source (`crmfuse run CONFIG --dry-run`) shows that.
//!
//! Recording a retirement (`--apply`) is the loader's job (`load::record_override` with
//! `Directive::RetireSource`); what it means for later runs is in `overrides`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;

use rusqlite::Connection;
use serde::Serialize;

use crate::config::{Pipeline, Source, SurvivorshipConfig};
use crate::error::{Error, Result};
use crate::overrides;
use crate::record::{Customer, GoldenField};
use crate::survive;

/// How many customer ids the text report lists per section.
pub const LISTED: usize = 20;

/// What retiring a source means for the store.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Retirement {
    pub source: String,
    pub store: String,
    /// The override that already retired the source, if any.
    pub already_retired: Option<i64>,
    /// Active records of the source (rows of active customers not marked deleted).
    pub records: u64,
    /// Active customers holding at least one of them.
    pub customers_with_records: u64,
    /// Customers whose every active record comes from the source, sorted.
    pub only_here: Vec<String>,
    /// Other customers that lose at least one golden value, sorted by id.
    pub losing_values: Vec<LostValues>,
    /// Per golden field, how many customers lose it.
    pub fields: BTreeMap<&'static str, u64>,
    /// Golden values lost in all.
    pub values_lost: u64,
    /// `only_here` + `losing_values`.
    pub customers_affected: u64,
    /// Set once `--apply` has recorded the retirement.
    pub applied: Option<Applied>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct LostValues {
    pub customer_id: String,
    pub fields: Vec<&'static str>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Applied {
    pub override_id: i64,
    pub run_id: i64,
}

impl Retirement {
    /// The override that records this retirement.
    pub fn directive(&self) -> overrides::Directive {
        overrides::Directive::RetireSource {
            source: self.source.clone(),
            customers_only_here: self.only_here.len() as u64,
            customers_losing_values: self.losing_values.len() as u64,
        }
    }
}

/// One active record of an affected customer.
struct StoredRecord {
    source: String,
    key: String,
    json: String,
}

/// What retiring `source` means, read from the store behind `conn`. The caller holds one
/// transaction around it (a read transaction, or the write transaction of `--apply`), so
/// that every query sees the same store.
pub fn assess(
    conn: &Connection,
    store: &Path,
    pipeline: &Pipeline,
    source: &str,
) -> Result<Retirement> {
    let db = |e: rusqlite::Error| Error::store(store, e);
    let known: Vec<String> = conn
        .prepare("SELECT DISTINCT source FROM customer_sources ORDER BY source")
        .and_then(|mut s| {
            s.query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()
        })
        .map_err(db)?;
    if !known.iter().any(|k| k == source) {
        return Err(Error::Store {
            path: store.to_path_buf(),
            message: format!(
                "no records of source `{source}` in this store; its sources are {}",
                if known.is_empty() {
                    "none yet".to_string()
                } else {
                    known.join(", ")
                }
            ),
        });
    }
    let active = overrides::read_active(conn, store)?;
    let already_retired = overrides::retired_sources(&active).get(source).copied();
    let pinned: BTreeSet<(String, GoldenField)> = overrides::pins(&active)
        .into_iter()
        .map(|p| (p.customer, p.field))
        .collect();

    // Every active record of every active customer that holds an active record of the source.
    let mut by_customer: BTreeMap<String, Vec<StoredRecord>> = BTreeMap::new();
    {
        let mut stmt = conn
            .prepare(
                "SELECT s.customer_id, s.source, s.source_key, s.record_json
                 FROM customer_sources s JOIN customers c ON c.customer_id = s.customer_id
                 WHERE c.status = 'active' AND s.deleted_run_id IS NULL
                   AND s.customer_id IN (SELECT customer_id FROM customer_sources
                                         WHERE source = ?1 AND deleted_run_id IS NULL)
                 ORDER BY s.customer_id, s.source, s.source_key",
            )
            .map_err(db)?;
        let mut rows = stmt.query([source]).map_err(db)?;
        while let Some(r) = rows.next().map_err(db)? {
            by_customer
                .entry(r.get(0).map_err(db)?)
                .or_default()
                .push(StoredRecord {
                    source: r.get(1).map_err(db)?,
                    key: r.get(2).map_err(db)?,
                    json: r.get(3).map_err(db)?,
                });
        }
    }

    let golden_cols: Vec<&str> = crate::store::golden_columns().collect();
    let mut current_stmt = conn
        .prepare(&format!(
            "SELECT {} FROM customers WHERE customer_id = ?1",
            golden_cols.join(", ")
        ))
        .map_err(db)?;
    let mut lineage_stmt = conn
        .prepare(
            "SELECT field, value FROM field_lineage WHERE customer_id = ?1 AND source = ?2
             ORDER BY field",
        )
        .map_err(db)?;

    let mut out = Retirement {
        source: source.to_string(),
        store: store.display().to_string(),
        already_retired,
        records: 0,
        customers_with_records: by_customer.len() as u64,
        only_here: Vec::new(),
        losing_values: Vec::new(),
        fields: BTreeMap::new(),
        values_lost: 0,
        customers_affected: 0,
        applied: None,
    };
    for (customer, records) in &by_customer {
        out.records += records.iter().filter(|r| r.source == source).count() as u64;
        if records.iter().all(|r| r.source == source) {
            out.only_here.push(customer.clone());
            continue;
        }
        // The records the pipeline still reads, as the next run would order them.
        let mut remaining = Vec::new();
        for r in records.iter().filter(|r| r.source != source) {
            let Some(i) = pipeline.source_index(&r.source) else {
                continue;
            };
            let mut c: Customer = serde_json::from_str(&r.json).map_err(|e| Error::Store {
                path: store.to_path_buf(),
                message: format!(
                    "customer_sources {}:{}: unreadable record_json ({e})",
                    r.source, r.key
                ),
            })?;
            c.source = i as u16;
            c.key = r.key.clone();
            remaining.push(c);
        }
        remaining.sort_by(|a, b| (a.source, &a.key).cmp(&(b.source, &b.key)));
        let current: Vec<Option<String>> = current_stmt
            .query_row([customer], |r| {
                (0..golden_cols.len())
                    .map(|i| r.get::<_, Option<String>>(i))
                    .collect()
            })
            .map_err(db)?;
        let from_source: Vec<(GoldenField, String)> = lineage_stmt
            .query_map([customer.as_str(), source], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })
            .map_err(db)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(db)?
            .into_iter()
            .filter_map(|(f, v)| GoldenField::from_name(&f).map(|f| (f, v)))
            .collect();
        let is_pinned = |f: GoldenField| pinned.contains(&(customer.clone(), f));
        let lost = values_lost(
            &remaining,
            &from_source,
            &current,
            &is_pinned,
            &Rules {
                survivorship: &pipeline.survivorship,
                sources: &pipeline.sources,
                source_wins: &pipeline.sync.source_wins,
            },
        );
        if !lost.is_empty() {
            for f in &lost {
                *out.fields.entry(f.name()).or_default() += 1;
            }
            out.values_lost += lost.len() as u64;
            out.losing_values.push(LostValues {
                customer_id: customer.clone(),
                fields: lost.iter().map(|f| f.name()).collect(),
            });
        }
    }
    out.customers_affected = (out.only_here.len() + out.losing_values.len()) as u64;
    Ok(out)
}

/// The rules the next run survives by.
pub struct Rules<'a> {
    pub survivorship: &'a SurvivorshipConfig,
    pub sources: &'a [Source],
    pub source_wins: &'a [String],
}

/// The golden fields a customer loses when the retired source's records are gone.
///
/// `remaining`: the customer's other records (their `source` an index into
/// `rules.sources`), `from_source`: the fields whose lineage names the retired source, with
/// the value the source supplied, `current`: the customer's golden values now (in
/// `GoldenField` order).
pub fn values_lost(
    remaining: &[Customer],
    from_source: &[(GoldenField, String)],
    current: &[Option<String>],
    is_pinned: &dyn Fn(GoldenField) -> bool,
    rules: &Rules,
) -> Vec<GoldenField> {
    let members: Vec<u32> = (0..remaining.len() as u32).collect();
    let after = survive::survive(remaining, &members, rules.survivorship, rules.sources);
    let mut lost: Vec<GoldenField> = from_source
        .iter()
        .filter(|(f, supplied)| {
            // A value the CRM's users changed is kept (the loader's rule), unless the
            // source wins for that field.
            let edited = current.get(f.index()).and_then(|v| v.as_deref()) != Some(supplied);
            let kept_edit = edited && !rules.source_wins.iter().any(|w| w == f.name());
            !kept_edit && !is_pinned(*f) && after.lineage[f.index()].is_none()
        })
        .map(|(f, _)| *f)
        .collect();
    lost.sort();
    lost
}

impl fmt::Display for Retirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids = |f: &mut fmt::Formatter<'_>,
                   ids: &mut dyn Iterator<Item = String>,
                   n: usize,
                   per_line: usize| {
            let shown: Vec<String> = ids.take(LISTED).collect();
            for chunk in shown.chunks(per_line) {
                writeln!(f, "  {}", chunk.join("  "))?;
            }
            if n > shown.len() {
                writeln!(f, "  ... and {} more (--json lists all)", n - shown.len())?;
            }
            Ok(())
        };
        match (&self.applied, self.already_retired) {
            (Some(a), _) => writeln!(
                f,
                "source `{}` RETIRED in {}: override {}, run {}",
                self.source, self.store, a.override_id, a.run_id
            )?,
            (None, Some(id)) => writeln!(
                f,
                "source `{}` was already retired in {} (override {id}); what the store still shows:",
                self.source, self.store
            )?,
            (None, None) => writeln!(
                f,
                "retiring source `{}` of {} would mean (nothing written; --apply records it):",
                self.source, self.store
            )?,
        }
        writeln!(
            f,
            "{} active record(s) of {} held by {} active customer(s)",
            self.records, self.source, self.customers_with_records
        )?;
        writeln!(f)?;
        writeln!(
            f,
            "customers only in {}: {}",
            self.source,
            self.only_here.len()
        )?;
        ids(
            f,
            &mut self.only_here.iter().cloned(),
            self.only_here.len(),
            5,
        )?;
        writeln!(f)?;
        writeln!(
            f,
            "customers losing their only source for a golden value: {} ({} value(s))",
            self.losing_values.len(),
            self.values_lost
        )?;
        if !self.fields.is_empty() {
            writeln!(f, "  {:<20} {:>9}", "field", "customers")?;
            for (name, n) in &self.fields {
                writeln!(f, "  {name:<20} {n:>9}")?;
            }
        }
        ids(
            f,
            &mut self
                .losing_values
                .iter()
                .map(|l| format!("{} ({})", l.customer_id, l.fields.join(", "))),
            self.losing_values.len(),
            1,
        )?;
        writeln!(f)?;
        write!(f, "total: {} customer(s) affected", self.customers_affected)?;
        if self.applied.is_some() {
            write!(
                f,
                "\n\nfrom the next run on, a pipeline that still lists `{}` is refused; once it is removed, \
                 its records are kept in the store marked deleted, and customers with no other \
                 record are retired",
                self.source
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{DisappearPolicy, SourceFormat, SurvivorRule};
    use crate::record::{FieldGroup, Value};

    fn source(name: &str, trust: u32) -> Source {
        Source {
            name: name.into(),
            path: "x".into(),
            format: SourceFormat::Csv,
            mapping_path: "m".into(),
            mapping: crate::mapping::Mapping::parse(
                Path::new("m"),
                "key = \"id\"\n",
                SourceFormat::Csv,
            )
            .unwrap(),
            trust,
            shadow: false,
            on_disappear: DisappearPolicy::Detach,
        }
    }

    fn v(s: &str) -> Option<Value> {
        Some(Value::valid(s.into(), s.into()))
    }

    fn current(values: &[(GoldenField, &str)]) -> Vec<Option<String>> {
        let mut c = vec![None; GoldenField::ALL.len()];
        for (f, s) in values {
            c[f.index()] = Some(s.to_string());
        }
        c
    }

    /// Each case: the other records, what the retired source supplied (lineage), the
    /// customer's current values, pinned fields, source_wins, and the fields lost.
    #[test]
    fn values_lost_follows_survivorship_edits_and_pins() {
        use GoldenField as G;
        let sources = vec![source("erp", 1), source("shop", 2)];
        let mut owners = BTreeMap::new();
        owners.insert(FieldGroup::Address, vec!["erp".to_string()]);
        let rules_cfg = SurvivorshipConfig {
            order: vec![SurvivorRule::Owner, SurvivorRule::Trust],
            owners,
        };
        let erp_street_only = Customer {
            source: 0,
            key: "1".into(),
            address_line1: v("Hauptstr. 1"),
            ..Customer::default()
        };
        let erp_with_email = Customer {
            source: 0,
            key: "2".into(),
            emails: vec![Value::valid("a@x.de".into(), "a@x.de".into())],
            ..Customer::default()
        };
        let shop_city = Customer {
            source: 1,
            key: "3".into(),
            city: v("Berlin"),
            ..Customer::default()
        };
        type Case<'a> = (
            &'a str,
            Vec<Customer>,
            Vec<(G, &'a str)>,
            Vec<(G, &'a str)>,
            Vec<G>,
            Vec<&'a str>,
            Vec<G>,
        );
        let cases: Vec<Case> = vec![
            (
                "a field no other record has is lost",
                vec![erp_with_email.clone()],
                vec![(G::Phone, "+49 30 1")],
                vec![(G::Phone, "+49 30 1")],
                vec![],
                vec![],
                vec![G::Phone],
            ),
            (
                "a field another record has is not lost",
                vec![erp_with_email.clone()],
                vec![(G::Email, "b@y.de")],
                vec![(G::Email, "b@y.de")],
                vec![],
                vec![],
                vec![],
            ),
            (
                "the owner's record wins the address group and has no city: lost although shop has one",
                vec![erp_street_only.clone(), shop_city.clone()],
                vec![(G::City, "Hamburg"), (G::AddressLine1, "Weg 2")],
                vec![(G::City, "Hamburg"), (G::AddressLine1, "Weg 2")],
                vec![],
                vec![],
                vec![G::City],
            ),
            (
                "a value edited in the CRM is kept",
                vec![erp_with_email.clone()],
                vec![(G::Phone, "+49 30 1")],
                vec![(G::Phone, "+49 30 2")],
                vec![],
                vec![],
                vec![],
            ),
            (
                "... unless the source wins for that field",
                vec![erp_with_email.clone()],
                vec![(G::Phone, "+49 30 1")],
                vec![(G::Phone, "+49 30 2")],
                vec![],
                vec!["phone"],
                vec![G::Phone],
            ),
            (
                "a pinned value is kept",
                vec![erp_with_email.clone()],
                vec![(G::Phone, "+49 30 1")],
                vec![(G::Phone, "+49 30 1")],
                vec![G::Phone],
                vec![],
                vec![],
            ),
            (
                "no other record the pipeline reads: everything the source supplied is lost",
                vec![],
                vec![(G::Email, "b@y.de"), (G::City, "Ulm")],
                vec![(G::Email, "b@y.de"), (G::City, "Ulm")],
                vec![],
                vec![],
                vec![G::Email, G::City],
            ),
        ];
        for (name, remaining, from, now, pins, wins, want) in cases {
            let from: Vec<(G, String)> = from.into_iter().map(|(f, s)| (f, s.into())).collect();
            let wins: Vec<String> = wins.into_iter().map(String::from).collect();
            let is_pinned = |f: G| pins.contains(&f);
            let got = values_lost(
                &remaining,
                &from,
                &current(&now),
                &is_pinned,
                &Rules {
                    survivorship: &rules_cfg,
                    sources: &sources,
                    source_wins: &wins,
                },
            );
            let mut want = want;
            want.sort();
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn stored_records_read_back() {
        let c = Customer {
            source: 3,
            key: "k".into(),
            emails: vec![Value::valid("a@x.de".into(), "a@x.de".into())],
            city: Some(Value::invalid("??".into())),
            marketing_consent: Some(true),
            extra: vec![("note".into(), "x".into())],
            ..Customer::default()
        };
        let json = serde_json::to_string(&c).unwrap();
        let back: Customer = serde_json::from_str(&json).unwrap();
        assert_eq!(
            back,
            Customer {
                source: 0,
                key: String::new(),
                ..c.clone()
            }
        );
        for f in GoldenField::ALL {
            assert_eq!(back.golden_value(f), c.golden_value(f), "{f:?}");
        }
    }
}
