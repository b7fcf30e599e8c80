//! `crmfuse sync CONFIG [--dry-run] [--json] ...`: the nightly job. Compares each source
//! with the store by per-row content hash (new / changed / unchanged / disappeared rows,
//! shown in the summary), applies each source's `on_disappear` policy, replays the
//! steward's overrides, and loads the result in one transaction, recorded as a `sync` run.
//!
//! This first version resolves the whole of every source (the `run` path); matching only
//! the new and changed rows against the store is not built yet.

use std::process::ExitCode;

pub fn run(args: super::run::RunArgs) -> anyhow::Result<ExitCode> {
    super::run::run_as(args, "sync")
}
