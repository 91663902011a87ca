//! Ctrl-C and SIGTERM: the first asks a running fit to stop at its next safe point.
//!
//! The library installs no signal handler (see the crate's doc): the binary's handler
//! (`main.rs`) and a host (the Python bindings) call [`request`]; every command polls
//! [`interrupted`] at its safe points.

use std::sync::atomic::{AtomicBool, Ordering};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Whether Ctrl-C (SIGINT) or SIGTERM asked a running fit to stop.
pub(crate) fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::Relaxed)
}

/// Asks the running command to stop at its next safe point (this epoch, step or
/// unit); its results are written with `stop_reason` "interrupted". Returns whether a
/// stop had been asked already (the binary then exits at once).
pub(crate) fn request() -> bool {
    INTERRUPTED.swap(true, Ordering::Relaxed)
}

/// Forgets a stop asked of an earlier in-process call.
pub(crate) fn clear() {
    INTERRUPTED.store(false, Ordering::Relaxed);
}
