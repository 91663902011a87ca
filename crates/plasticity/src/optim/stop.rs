//! Why a solver stopped.

use serde::{Deserialize, Serialize};

/// Why a solver stopped: the one stop reason of every solver and of the fitting
/// driver, recorded in `results.json` as `stop_reason`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "reason")]
pub enum StopReason {
    /// All epochs ran.
    EpochsCompleted,
    /// The loss stopped decreasing (L-BFGS, Levenberg–Marquardt).
    Converged {
        /// The test that was met.
        detail: String,
    },
    /// No step lowered the loss (L-BFGS's line search, Levenberg–Marquardt's damping);
    /// the last good θ is kept.
    LineSearchFailed {
        /// Why.
        detail: String,
    },
    /// The loss or gradient became NaN or infinite (for Adam: again after every
    /// allowed backoff); the last θ where the loss was finite is kept.
    NonFinite {
        /// The epoch (1-based) where it happened.
        epoch: usize,
        /// What was non-finite.
        detail: String,
    },
    /// The observer asked to stop.
    Interrupted,
}
