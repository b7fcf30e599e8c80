//! The crmfuse command line: parses arguments and dispatches to one file per verb.

mod cmd;

use std::process::ExitCode;

use clap::Parser;

/// mimalloc instead of glibc's malloc: the pipeline allocates millions of short strings
/// (cleansed values, SQL cells) and frees them in bulk, where glibc's allocator spent about
/// a sixth of a run's cycles (malloc_consolidate, unlink_chunk). See benches/README.md.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = cmd::Cli::parse();
    match cmd::dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            let code = cmd::exit_code(&e);
            if code == cmd::INTERRUPTED {
                eprintln!("crmfuse: {e}");
            } else {
                eprintln!("error: {e:#}");
            }
            ExitCode::from(code)
        }
    }
}
