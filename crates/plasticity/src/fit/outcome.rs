//! How a fit ended: what it found ([`FitOutcome`]: θ, the histories, evaluations,
//! the final loss) and why it stopped ([`StopReason`], the solvers' one type).

use serde::{Deserialize, Serialize};

pub use crate::optim::StopReason;

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
