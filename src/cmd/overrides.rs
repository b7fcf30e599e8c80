//! `crmfuse overrides CONFIG|--store PATH [--json]`: the steward's overrides (link, unlink,
//! pin, retire_source), active or revoked, oldest first, with the id that `revoke` takes.
//! The text lists customer ids, source keys and field names; pinned values only in --json.

use std::process::ExitCode;

use clap::Args;

use crmfuse::overrides::{self, Directive, OverrideRow};
use crmfuse::store;

#[derive(Args)]
pub struct OverridesArgs {
    #[command(flatten)]
    store: super::StoreArgs,
    /// Print the overrides as JSON on stdout.
    #[arg(long)]
    json: bool,
}

pub fn run(a: OverridesArgs) -> anyhow::Result<ExitCode> {
    let path = a.store.store_path()?;
    let rows = match store::open_ro(&path)? {
        Some(conn) => overrides::read_all(&conn, &path)?,
        None => Vec::new(),
    };
    if a.json {
        super::emit(serde_json::to_string_pretty(&rows)?)?;
    } else if rows.is_empty() {
        super::emit(format!("no overrides in {}", path.display()))?;
    } else {
        super::emit(format_table(&rows))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// What an override says, without the pinned value.
fn what(d: &Directive) -> String {
    match d {
        Directive::Link { customers, .. } => format!("{} + {}", customers[0], customers[1]),
        Directive::Unlink {
            customer, record, ..
        } => format!("{}:{} off {customer}", record.source, record.key),
        Directive::Pin {
            customer, field, ..
        } => format!("{customer} {field}"),
        Directive::RetireSource { source, .. } => source.clone(),
    }
}

fn format_table(rows: &[OverrideRow]) -> String {
    let mut out = format!(
        "{:>8}  {:>5}  {:<13}  {:<7}  {:<24}  {:<12}  {:<30}  why",
        "override", "run", "kind", "active", "created", "who", "what"
    );
    for r in rows {
        out.push_str(&format!(
            "\n{:>8}  {:>5}  {:<13}  {:<7}  {:<24}  {:<12}  {:<30}  {}",
            r.override_id,
            r.run_id,
            r.kind,
            if r.active { "yes" } else { "revoked" },
            r.created_at,
            r.who,
            what(&r.directive),
            r.why
        ));
    }
    out
}
