//! Ctrl-C (and SIGTERM): a process-wide request to stop, because signals are process-wide.
//!
//! The CLI installs the handler; the library only reads the flag, between stages and
//! before it commits, and answers with [`Error::Interrupted`]. A run stopped this way rolls
//! back: nothing is written.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{Error, Result};

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// Ask the running pipeline to stop at its next check. Returns whether a stop had already
/// been asked for (a second Ctrl-C).
pub fn request() -> bool {
    REQUESTED.swap(true, Ordering::SeqCst)
}

pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

/// `Err(Error::Interrupted)` once a stop was requested.
pub fn check() -> Result<()> {
    if requested() {
        Err(Error::Interrupted)
    } else {
        Ok(())
    }
}
