//! `crmfuse link ID1 ID2 CONFIG --why TEXT`, `crmfuse unlink CUSTOMER_ID SOURCE:KEY CONFIG
//! --why TEXT` and `crmfuse pin CUSTOMER_ID FIELD VALUE CONFIG --why TEXT`: a data
//! steward's overrides, stored in the store and replayed on every run from the next one on.
//! Each is recorded with who ($USER), when and why, as a run of its own with an audit
//! event (so `history` lists it and `rollback` undoes it).
//!
//! `crmfuse revoke OVERRIDE_ID CONFIG --why TEXT` deactivates an override (`crmfuse
//! overrides CONFIG` lists them): it is kept in `overrides` with `active = 0` and is no
//! longer replayed from the next run on. A revoke is a run of its own too, so `rollback`
//! brings the override back.

use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{SecondsFormat, Utc};
use clap::Args;
use rusqlite::TransactionBehavior;

use crmfuse::config::Pipeline;
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

#[derive(Args)]
pub struct RevokeArgs {
    /// The override to deactivate (`crmfuse overrides CONFIG` lists them).
    override_id: i64,
    /// The pipeline config (pipeline.toml) that names the store.
    config: PathBuf,
    /// Why (recorded with the revocation).
    #[arg(long)]
    why: String,
    /// Who revokes it (default: $USER).
    #[arg(long)]
    who: Option<String>,
}

pub fn link(a: LinkArgs) -> anyhow::Result<ExitCode> {
    recorded(record(&a.config, None, &a.why, |conn, p| {
        overrides::prepare_link(conn, &p.store_path, &a.id1, &a.id2)
    })?)
}

pub fn unlink(a: UnlinkArgs) -> anyhow::Result<ExitCode> {
    recorded(record(&a.config, None, &a.why, |conn, p| {
        overrides::prepare_unlink(conn, &p.store_path, &a.customer_id, &a.record)
    })?)
}

pub fn pin(a: PinArgs) -> anyhow::Result<ExitCode> {
    recorded(record(&a.config, None, &a.why, |conn, p| {
        overrides::prepare_pin(conn, &p.store_path, &a.customer_id, &a.field, &a.value)
    })?)
}

pub fn revoke(a: RevokeArgs) -> anyhow::Result<ExitCode> {
    let why = required_why(&a.why)?;
    let pipeline = super::load_pipeline(&a.config)?;
    let path = &pipeline.store_path;
    drop(store::open_existing(path)?);
    let mut conn = store::open_rw(path)?;
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| store::writer_error(path, e))?;
    let o = overrides::prepare_revoke(&tx, path, a.override_id)?;
    let run_id = load::record_revoke(&tx, &pipeline, o.override_id, &who(a.who), why, &now())?;
    tx.commit().map_err(|e| crmfuse::Error::store(path, e))?;
    println!(
        "override {} ({}) revoked as run {run_id}; from the next run on it is no longer replayed",
        o.override_id, o.kind
    );
    Ok(ExitCode::SUCCESS)
}

/// What `record` wrote.
pub struct Recorded {
    pub directive: Directive,
    pub run_id: i64,
    pub override_id: i64,
}

fn recorded(r: Recorded) -> anyhow::Result<ExitCode> {
    println!(
        "override {} ({}) recorded as run {}; it applies from the next run",
        r.override_id,
        r.directive.kind(),
        r.run_id
    );
    Ok(ExitCode::SUCCESS)
}

fn required_why(why: &str) -> anyhow::Result<&str> {
    if why.trim().is_empty() {
        anyhow::bail!("--why must say why (it is recorded with the override)");
    }
    Ok(why)
}

/// `--who`, else $USER, else $LOGNAME (cron sets only that one), else `unknown`.
fn who(given: Option<String>) -> String {
    who_from(given, |name| std::env::var(name).ok())
}

fn who_from(given: Option<String>, env: impl Fn(&str) -> Option<String>) -> String {
    let named = |u: &String| !u.trim().is_empty();
    given
        .filter(named)
        .or_else(|| env("USER").filter(named))
        .or_else(|| env("LOGNAME").filter(named))
        .unwrap_or_else(|| "unknown".into())
}

fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Record the override that `prepare` makes of the store as it is, in one write
/// transaction, as a run of its own.
pub fn record(
    config: &std::path::Path,
    who_: Option<String>,
    why: &str,
    prepare: impl FnOnce(&rusqlite::Connection, &Pipeline) -> crmfuse::Result<Directive>,
) -> anyhow::Result<Recorded> {
    let why = required_why(why)?;
    let pipeline = super::load_pipeline(config)?;
    let path = &pipeline.store_path;
    drop(store::open_existing(path)?);
    let mut conn = store::open_rw(path)?;
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| store::writer_error(path, e))?;
    let directive = prepare(&tx, &pipeline)?;
    let (run_id, override_id) =
        load::record_override(&tx, &pipeline, &directive, &who(who_), why, &now())?;
    tx.commit().map_err(|e| crmfuse::Error::store(path, e))?;
    Ok(Recorded {
        directive,
        run_id,
        override_id,
    })
}

#[cfg(test)]
mod tests {
    use super::who_from;

    #[test]
    fn who_is_the_flag_then_user_then_logname() {
        let env = |user: Option<&str>, logname: Option<&str>| {
            let (user, logname) = (user.map(String::from), logname.map(String::from));
            move |name: &str| match name {
                "USER" => user.clone(),
                "LOGNAME" => logname.clone(),
                _ => None,
            }
        };
        let flag = || Some("steward".to_string());
        assert_eq!(who_from(flag(), env(Some("u"), Some("l"))), "steward");
        assert_eq!(who_from(None, env(Some("u"), Some("l"))), "u");
        // Under cron: no $USER, only $LOGNAME.
        assert_eq!(who_from(None, env(None, Some("l"))), "l");
        assert_eq!(who_from(None, env(Some(" "), Some("l"))), "l");
        assert_eq!(who_from(Some("".into()), env(None, None)), "unknown");
    }
}
