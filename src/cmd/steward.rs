//! `crmfuse link ID1 ID2 CONFIG --why TEXT`, `crmfuse unlink CUSTOMER_ID SOURCE:KEY CONFIG
//! --why TEXT` and `crmfuse pin CUSTOMER_ID FIELD VALUE CONFIG --why TEXT`: a data
//! steward's overrides, stored in the store and replayed on every run from the next one on.
//! Each is recorded with who ($USER), when and why, as a run of its own with an audit
//! event (so `history` lists it and `rollback` undoes it).

use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{SecondsFormat, Utc};
use clap::Args;
use rusqlite::TransactionBehavior;

use crmfuse::overrides::{self, Directive};
use crmfuse::{load, store};

#[derive(Args)]
pub struct LinkArgs {
    /// The customer that the other one joins.
    id1: String,
    id2: String,
    /// The pipeline config (pipeline.toml) that names the store.
    config: PathBuf,
    /// Why (recorded with the override).
    #[arg(long)]
    why: String,
}

#[derive(Args)]
pub struct UnlinkArgs {
    customer_id: String,
    /// The record to split off the customer, as SOURCE:KEY (e.g. erp:0010001).
    record: String,
    config: PathBuf,
    #[arg(long)]
    why: String,
}

#[derive(Args)]
pub struct PinArgs {
    customer_id: String,
    /// A golden field (a column of `customers`, e.g. email).
    field: String,
    /// The value survivorship may not change (stored as given).
    value: String,
    config: PathBuf,
    #[arg(long)]
    why: String,
}

pub fn link(a: LinkArgs) -> anyhow::Result<ExitCode> {
    record(&a.config, &a.why, |conn, path| {
        overrides::prepare_link(conn, path, &a.id1, &a.id2)
    })
}

pub fn unlink(a: UnlinkArgs) -> anyhow::Result<ExitCode> {
    record(&a.config, &a.why, |conn, path| {
        overrides::prepare_unlink(conn, path, &a.customer_id, &a.record)
    })
}

pub fn pin(a: PinArgs) -> anyhow::Result<ExitCode> {
    record(&a.config, &a.why, |conn, path| {
        overrides::prepare_pin(conn, path, &a.customer_id, &a.field, &a.value)
    })
}

fn record(
    config: &std::path::Path,
    why: &str,
    prepare: impl FnOnce(&rusqlite::Connection, &std::path::Path) -> crmfuse::Result<Directive>,
) -> anyhow::Result<ExitCode> {
    if why.trim().is_empty() {
        anyhow::bail!("--why must say why (it is recorded with the override)");
    }
    let pipeline = super::load_pipeline(config)?;
    let path = &pipeline.store_path;
    drop(store::open_existing(path)?);
    let mut conn = store::open_rw(path)?;
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| crmfuse::Error::store(path, e))?;
    let directive = prepare(&tx, path)?;
    let who = std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "unknown".into());
    let at = Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true);
    let (run_id, id) = load::record_override(&tx, &pipeline, &directive, &who, why, &at)?;
    tx.commit().map_err(|e| crmfuse::Error::store(path, e))?;
    println!(
        "override {id} ({}) recorded as run {run_id}; it applies from the next run",
        directive.kind()
    );
    Ok(ExitCode::SUCCESS)
}
