//! Where a fit stood when it was interrupted ([`FitCheckpoint`]): φ, the optimizer's
//! state, the histories so far; and the checks that refuse a checkpoint taken by
//! another fit. A fit over a staged horizon (the first `h₁` steps, then `h₂`, …, then
//! all `T`, each stage warm-started from the last) also records its stage reports and
//! where a staged Levenberg–Marquardt or chunked L-BFGS fit stood.

use serde::{Deserialize, Serialize};

use super::outcome::{FitOutcome, StopReason};
use crate::optim::state::mismatched_checkpoint;
use crate::optim::{BackoffState, OptimizerState, Resume};
use crate::Result;

/// Everything a fit needs to continue after `epochs_done` epochs as if it had never
/// stopped: the optimizer's variables φ, its state, and the histories so far. The
/// minibatch order of Adam is replayed from the seed, so it is not stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FitCheckpoint {
    /// Completed epochs.
    pub epochs_done: usize,
    /// The optimizer's variables φ after them.
    pub phi: Vec<f64>,
    /// Data loss per completed epoch.
    pub loss_history: Vec<f64>,
    /// θ after each completed epoch.
    pub theta_history: Vec<Vec<f64>>,
    /// Evaluations so far.
    pub evaluations: usize,
    /// The optimizer's own state.
    pub optimizer: OptimizerState,
    /// Adam's back-off state (empty for L-BFGS and for checkpoints that predate it).
    #[serde(default)]
    pub backoff: BackoffState,
    /// Where a staged Levenberg–Marquardt circuit fit stood (start, stage, the state
    /// within it); `None` for every other fit. Stored as CBOR in hexadecimal, since
    /// its histories may hold NaN or ±∞, which JSON cannot.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::io::cbor_hex"
    )]
    pub staged: Option<Box<StagedCheckpoint>>,
    /// Where a staged L-BFGS circuit fit stood (stage, chunk, the chunk's own
    /// checkpoint); `None` for every other fit. CBOR in hexadecimal, like `staged`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::io::cbor_hex"
    )]
    pub chunked: Option<Box<ChunkCheckpoint>>,
}

impl FitCheckpoint {
    /// The checkpoint after `epochs_done` epochs of the fitting loop.
    pub(super) fn take(
        epochs_done: usize,
        phi: &[f64],
        loss_history: &[f64],
        theta_history: &[Vec<f64>],
        evaluations: usize,
        optimizer: OptimizerState,
        backoff: BackoffState,
    ) -> FitCheckpoint {
        FitCheckpoint {
            epochs_done,
            phi: phi.to_vec(),
            loss_history: loss_history.to_vec(),
            theta_history: theta_history.to_vec(),
            evaluations,
            optimizer,
            backoff,
            staged: None,
            chunked: None,
        }
    }

    /// Puts the loop's variables back as they were when the checkpoint was taken;
    /// returns the first epoch still to run.
    pub(super) fn restore(
        &self,
        phi: &mut Vec<f64>,
        loss_history: &mut Vec<f64>,
        theta_history: &mut Vec<Vec<f64>>,
        evaluations: &mut usize,
    ) -> usize {
        phi.clone_from(&self.phi);
        loss_history.clone_from(&self.loss_history);
        theta_history.clone_from(&self.theta_history);
        *evaluations = self.evaluations;
        self.epochs_done + 1
    }

    /// What the solver continues from.
    pub(crate) fn resume(&self) -> Resume<'_> {
        Resume {
            optimizer: &self.optimizer,
            backoff: &self.backoff,
            epochs_done: self.epochs_done,
        }
    }

    /// Refuses a checkpoint whose sizes do not fit this fit's parameters and histories.
    pub(crate) fn check(&self, n_phi: usize, epochs: usize) -> Result<()> {
        let checkpoint = self;
        let done = checkpoint.epochs_done;
        if checkpoint.phi.len() != n_phi {
            return Err(mismatched_checkpoint(&format!(
                "it has {} parameters, this fit {n_phi}",
                checkpoint.phi.len()
            )));
        }
        if checkpoint.loss_history.len() != done || checkpoint.theta_history.len() != done {
            return Err(mismatched_checkpoint(&format!(
                "its histories do not have {done} epochs"
            )));
        }
        if done > epochs {
            return Err(mismatched_checkpoint(&format!(
                "it has {done} epochs done, more than the {epochs} planned"
            )));
        }
        if checkpoint.phi.iter().any(|v| !v.is_finite()) {
            return Err(mismatched_checkpoint("its parameters are not finite"));
        }
        Ok(())
    }
}

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
    /// The checkpoint of the stage in progress, as the driver took it (its epochs,
    /// histories and Levenberg–Marquardt's state are the stage's own).
    pub inner: Box<FitCheckpoint>,
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
    pub stop_reason: StopReason,
}
