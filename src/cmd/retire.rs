//! `crmfuse retire SOURCE CONFIG [--json] [--apply --why TEXT [--who NAME]]`: what
//! switching a shadow system off would mean, read from the store in one transaction:
//! customers that exist only in SOURCE, and customers that would lose their only source
//! for a golden value (per field, with a total). Prints customer ids and field names, never
//! values.
//!
//! `--apply` records the retirement as a steward override (kind `retire_source`, a run of
//! its own with a `retire_source` audit event, undone by `rollback`, deactivated by
//! `revoke`). From then on a run or sync whose pipeline still lists SOURCE is refused;
//! once SOURCE is removed from the pipeline, its records stay in the store marked deleted
//! (lineage), and customers left with no other record are retired.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crmfuse::retire::{self, Applied};
use crmfuse::store;

#[derive(Args)]
pub struct RetireArgs {
    /// The source to retire (its `name` in the pipeline and in the store).
    source: String,
    /// The pipeline config (pipeline.toml) that names the store.
    config: PathBuf,
    /// Record the retirement in the store (needs --why).
    #[arg(long)]
    apply: bool,
    /// Print the report as JSON on stdout.
    #[arg(long)]
    json: bool,
    /// Why (recorded with the retirement; required with --apply).
    #[arg(long)]
    why: Option<String>,
    /// Who retires it (default: $USER).
    #[arg(long)]
    who: Option<String>,
}

pub fn run(a: RetireArgs) -> anyhow::Result<ExitCode> {
    let report = if a.apply {
        let Some(why) = a.why.as_deref() else {
            anyhow::bail!("--apply needs --why TEXT (it is recorded with the retirement)");
        };
        let mut report = None;
        let done = super::steward::record(&a.config, a.who.clone(), why, |conn, pipeline| {
            let r = retire::assess(conn, &pipeline.store_path, pipeline, &a.source)?;
            if let Some(id) = r.already_retired {
                return Err(crmfuse::Error::Store {
                    path: pipeline.store_path.clone(),
                    message: format!("source `{}` is already retired (override {id})", a.source),
                });
            }
            let directive = r.directive();
            report = Some(r);
            Ok(directive)
        })?;
        let mut report =
            report.ok_or_else(|| anyhow::anyhow!("the retirement report was not made"))?;
        report.applied = Some(Applied {
            override_id: done.override_id,
            run_id: done.run_id,
        });
        report
    } else {
        if a.why.is_some() || a.who.is_some() {
            anyhow::bail!("--why and --who are recorded only with --apply");
        }
        let pipeline = super::load_pipeline(&a.config)?;
        let path = &pipeline.store_path;
        let conn = store::open_existing(path)?;
        // One read transaction: every query sees the same store.
        let tx = conn
            .unchecked_transaction()
            .map_err(|e| crmfuse::Error::store(path, e))?;
        retire::assess(&tx, path, &pipeline, &a.source)?
    };
    if a.json {
        super::emit(serde_json::to_string_pretty(&report)?)?;
    } else {
        super::emit(&report)?;
    }
    Ok(ExitCode::SUCCESS)
}
