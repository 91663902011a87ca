//! What a fit is asked to do ([`FitConfig`]: optimizer, epochs, penalties, back-off,
//! resume) and what it reports: each epoch ([`EpochReport`]), why it stopped
//! ([`StopReason`]) and its outcome ([`FitOutcome`]).

use serde::{Deserialize, Serialize};

use super::checkpoint::FitCheckpoint;

/// Which optimizer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    /// Adam on minibatches of trajectories (the paper's default).
    Adam,
    /// L-BFGS on the full batch with a backtracking line search.
    Lbfgs,
}

/// Settings of a fit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FitConfig {
    /// The optimizer.
    pub optimizer: OptimizerKind,
    /// Epochs (Adam: passes over the data; L-BFGS: iterations).
    pub epochs: usize,
    /// Adam's step size.
    pub learning_rate: f64,
    /// Trajectories (or sessions) per Adam minibatch.
    pub batch_size: usize,
    /// L1 penalty `λ₁` on trainable Taylor coefficients.
    pub l1: f64,
    /// L2 penalty `λ₂` on trainable Taylor coefficients.
    pub l2: f64,
    /// Seed of the minibatch shuffling.
    pub seed: u64,
    /// Curvature pairs kept by L-BFGS.
    pub lbfgs_memory: usize,
    /// L-BFGS stops when the loss has decreased by less than this fraction over the
    /// last 10 iterations.
    pub tolerance: f64,
    /// Adam: how many times a non-finite loss or gradient may be answered by going back
    /// to the last point where the loss was finite and retaking the step from there
    /// with half the learning rate (which then stays halved); 0 stops at the first.
    /// When none is left, the fit stops with [`crate::fit::StopReason::NonFinite`] and keeps that
    /// last good point. L-BFGS needs none: its line search already halves a trial step
    /// that gives a non-finite loss.
    #[serde(default = "default_max_backoffs")]
    pub max_backoffs: usize,
    /// L-BFGS's line search.
    #[serde(default)]
    pub lbfgs_line_search: crate::optim::LineSearch,
    /// Continue from this checkpoint (taken by an earlier fit with the same objective,
    /// parametrisation and settings) instead of starting afresh; the fit then ends
    /// exactly where the uninterrupted fit would have. Not part of the recorded settings.
    #[serde(skip)]
    pub resume: Option<Box<FitCheckpoint>>,
}

/// The default of [`FitConfig::max_backoffs`].
pub const DEFAULT_MAX_BACKOFFS: usize = 5;

fn default_max_backoffs() -> usize {
    DEFAULT_MAX_BACKOFFS
}

impl Default for FitConfig {
    fn default() -> Self {
        FitConfig {
            optimizer: OptimizerKind::Lbfgs,
            epochs: 250,
            learning_rate: 1e-3,
            batch_size: 1,
            l1: 0.0,
            l2: 0.0,
            seed: 0,
            lbfgs_memory: 20,
            lbfgs_line_search: crate::optim::LineSearch::Backtracking,
            tolerance: 1e-10,
            max_backoffs: DEFAULT_MAX_BACKOFFS,
            resume: None,
        }
    }
}

impl FitConfig {
    /// Adam's settings.
    pub fn adam_settings(&self) -> crate::optim::AdamSettings {
        crate::optim::AdamSettings {
            learning_rate: self.learning_rate,
            batch_size: self.batch_size,
            seed: self.seed,
            max_backoffs: self.max_backoffs,
        }
    }

    /// L-BFGS's settings.
    pub fn lbfgs_settings(&self) -> crate::optim::LbfgsSettings {
        crate::optim::LbfgsSettings {
            memory: self.lbfgs_memory,
            line_search: self.lbfgs_line_search,
            tolerance: self.tolerance,
        }
    }
}

/// What the observer sees after each epoch.
#[derive(Clone)]
pub struct EpochReport<'a> {
    /// 1-based epoch.
    pub epoch: usize,
    /// Total epochs planned.
    pub epochs: usize,
    /// Data loss of the epoch (Adam: mean over its minibatches; L-BFGS: full batch).
    pub loss: f64,
    /// The canonical parameters θ after the epoch.
    pub theta: &'a [f64],
    /// Takes a checkpoint from which the fit can continue after this epoch.
    pub checkpoint: &'a dyn Fn() -> FitCheckpoint,
}

impl std::fmt::Debug for EpochReport<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EpochReport")
            .field("epoch", &self.epoch)
            .field("epochs", &self.epochs)
            .field("loss", &self.loss)
            .field("theta", &self.theta)
            .finish_non_exhaustive()
    }
}
