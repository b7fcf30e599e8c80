//! The library's error type. Messages name the file, the line and the problem, and never
//! quote customer values beyond what the message needs.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {message}", path.display())]
    Config { path: PathBuf, message: String },
    #[error("{}: line {line}: {message}", path.display())]
    Input {
        path: PathBuf,
        line: u64,
        message: String,
    },
    #[error("store {}: {message}", path.display())]
    Store { path: PathBuf, message: String },
    #[error(
        "blocking would compare {pairs} candidate pairs, over the budget of {budget}; raise matching.pair_budget or tighten matching.max_block_size"
    )]
    PairBudget { pairs: u64, budget: u64 },
    /// The run outgrew (or would outgrow) `--memory-limit`; nothing was written.
    #[error(
        "memory limit: {what} ({needed_mib} MiB) is over the limit of {limit_mib} MiB; nothing was written. Raise --memory-limit, or run the sources in parts"
    )]
    MemoryLimit {
        what: String,
        needed_mib: u64,
        limit_mib: u64,
    },
    /// Ctrl-C or SIGTERM stopped the run before it committed.
    #[error("interrupted, nothing was written")]
    Interrupted,
    #[error("{0}")]
    Other(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Error::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// A TOML parse or schema error, with the 1-based line of the offending key.
    pub fn toml(path: &Path, text: &str, e: &toml::de::Error) -> Self {
        let line = e
            .span()
            .map(|span| text[..span.start.min(text.len())].matches('\n').count() + 1);
        let message = e.message().trim().to_string();
        Error::Config {
            path: path.to_path_buf(),
            message: match line {
                Some(l) => format!("line {l}: {message}"),
                None => message,
            },
        }
    }

    pub fn store(path: &Path, e: impl std::fmt::Display) -> Self {
        Error::Store {
            path: path.to_path_buf(),
            message: e.to_string(),
        }
    }
}
