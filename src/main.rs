//! The crmfuse command line: parses arguments and dispatches to one file per verb.

mod cmd;

use std::process::ExitCode;

use clap::Parser;

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
