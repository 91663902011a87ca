//! The state of a fit over a staged horizon (the first `h₁` steps, then `h₂`, …, then
//! all `T`, each stage warm-started from the last), as a checkpoint holds it: the
//! stage reports, and where a staged Levenberg–Marquardt or chunked L-BFGS fit stood.

use serde::{Deserialize, Serialize};

use super::{FitCheckpoint, FitOutcome};
use crate::optim::levenberg_marquardt::LevenbergMarquardtState;

/// Where a staged Levenberg–Marquardt fit stood when its checkpoint was taken.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StagedCheckpoint {
    /// Which start: 0 in the first basis, 1 in the second.
    pub start: usize,
    /// The first start's result, when the checkpoint is of the second.
    pub first: Option<StartResult>,
    /// The stage in progress (an index into the plan of horizons).
    pub stage: usize,
    /// This start's finished stages: histories, evaluations, last stop reason.
    pub done: FitOutcome,
    /// Their reports.
    pub reports: Vec<StageReport>,
    /// Levenberg–Marquardt's state within the stage in progress.
    pub state: LevenbergMarquardtState,
}

/// The outcome of one start of the staged fit and its stage reports.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StartResult {
    /// The outcome (θ after the last stage).
    pub outcome: FitOutcome,
    /// One report per stage.
    pub stages: Vec<StageReport>,
}

/// Where a staged L-BFGS circuit fit stood: the stage and chunk in progress, θ where
/// that chunk started (its preconditioning is computed there again), the finished
/// chunks, and the chunk fit's own checkpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChunkCheckpoint {
    /// The stage in progress (an index into the plan of horizons).
    pub stage: usize,
    /// The chunk in progress within it.
    pub chunk: usize,
    /// The parameters where that chunk started.
    pub chunk_start: Vec<f64>,
    /// The finished chunks' outcome, joined.
    pub joined: Option<FitOutcome>,
    /// Their reports.
    pub reports: Vec<StageReport>,
    /// Epochs of the finished chunks.
    pub epoch_offset: usize,
    /// The chunk fit's checkpoint.
    pub inner: Box<FitCheckpoint>,
}

/// One stage of the staged horizon (or one preconditioned chunk of it).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StageReport {
    /// Steps fitted.
    pub horizon: usize,
    /// Epochs run.
    pub epochs: usize,
    /// Loss-and-gradient evaluations.
    pub evaluations: usize,
    /// Data loss at the end of the stage (on its horizon).
    pub loss: f64,
    /// Why it stopped.
    pub stop_reason: super::StopReason,
}
