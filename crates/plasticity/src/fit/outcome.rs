//! How a fit ended: why it stopped ([`StopReason`]) and what it found
//! ([`FitOutcome`]: θ, the histories, evaluations, the final loss).

use serde::{Deserialize, Serialize};

/// Why a fit stopped.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "reason")]
pub enum StopReason {
    /// All epochs ran.
    EpochsCompleted,
    /// The loss stopped decreasing (L-BFGS).
    Converged {
        /// The test that was met.
        detail: String,
    },
    /// The line search found no decrease (L-BFGS); the last good θ is kept.
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

/// The result of a fit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FitOutcome {
    /// The fitted θ (canonical basis).
    pub theta: Vec<f64>,
    /// Data loss per epoch.
    pub loss_history: Vec<f64>,
    /// θ after each epoch.
    pub theta_history: Vec<Vec<f64>>,
    /// Why the fit stopped.
    pub stop_reason: StopReason,
    /// Loss-and-gradient evaluations on the full data (or batches, for Adam).
    pub evaluations: usize,
    /// Data loss of the fitted θ on all items (no penalty).
    pub final_loss: f64,
    /// Adam's backoffs after a non-finite loss (each halved the learning rate).
    #[serde(default)]
    pub backoffs: usize,
}
