//! `crmfuse sync CONFIG [--dry-run] [--json] ...`: the nightly job. Compares each source
//! with the store by per-row content hash (new / changed / unchanged / disappeared rows,
//! shown in the summary), applies each source's `on_disappear` policy, replays the
//! steward's overrides, and loads the result in one transaction, recorded as a `sync` run.
//!
//! Only the new, changed and disappeared rows are cleansed and matched, against the
//! customers the store holds, and only the customers they touch are re-resolved (see
//! `crmfuse::incremental`); `--full` re-resolves everything, as a run does. The summary's
//! `sync` section says which, and why a sync had to resolve everything.

use std::process::ExitCode;

pub fn run(args: super::run::RunArgs) -> anyhow::Result<ExitCode> {
    super::run::run_as(args, "sync")
}
