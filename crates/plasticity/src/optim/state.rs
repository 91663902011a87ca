//! A solver's state between epochs, as checkpoints hold it: what continuing needs to
//! take exactly the steps an uninterrupted run takes.

use serde::{Deserialize, Serialize};

use super::{AdamState, LbfgsState};
use crate::Error;

/// What Adam's back-off carries between steps: how many backoffs were taken, and the
/// last step, so that it can be retaken with a smaller learning rate.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BackoffState {
    /// Backoffs taken so far (the learning rate is the configured one times 0.5 to
    /// this power).
    pub backoffs: usize,
    /// The last step taken, if any.
    pub last_step: Option<LastStep>,
}

/// One Adam step, as needed to take it again: where it started (a point where the loss
/// was finite), Adam's state before it, and the gradient it followed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LastStep {
    /// φ before the step.
    pub phi: Vec<f64>,
    /// Adam's moments before the step.
    pub adam: AdamState,
    /// The minibatch gradient the step followed.
    pub gradient: Vec<f64>,
}

/// An optimizer's state between epochs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "kind")]
pub enum OptimizerState {
    /// Adam's moments.
    Adam(AdamState),
    /// L-BFGS's point, gradient and curvature pairs, and the losses of the last
    /// iterations that the convergence test compares.
    Lbfgs {
        /// The L-BFGS state.
        state: LbfgsState,
        /// Losses of the last (up to 10) iterations.
        recent_losses: Vec<f64>,
    },
    /// Levenberg–Marquardt's damping, kept steps, loss and count of small steps.
    #[serde(rename = "levenberg-marquardt")]
    LevenbergMarquardt(LevenbergMarquardtState),
    /// Meta-Adam's moments, step-size factor and skipped steps (rules from function).
    #[serde(rename = "meta-adam")]
    MetaAdam(MetaAdamState),
    /// CMA-ES: every fitness value so far, in order of evaluation (the crate's state is
    /// rebuilt by replaying its seed with them).
    #[serde(rename = "cma-es")]
    Cmaes {
        /// The fitness values.
        fitness: Vec<f64>,
    },
}

impl OptimizerState {
    /// The optimizer that took it.
    pub fn name(&self) -> &'static str {
        match self {
            OptimizerState::Adam(_) => "Adam",
            OptimizerState::Lbfgs { .. } => "L-BFGS",
            OptimizerState::LevenbergMarquardt { .. } => "Levenberg–Marquardt",
            OptimizerState::MetaAdam(_) => "meta-Adam",
            OptimizerState::Cmaes { .. } => "CMA-ES",
        }
    }
}

/// What a solver continues from: its state and back-off state in a checkpoint taken
/// after `epochs_done` epochs.
#[derive(Clone, Copy, Debug)]
pub struct Resume<'a> {
    /// The solver's state.
    pub optimizer: &'a OptimizerState,
    /// Adam's back-off state.
    pub backoff: &'a BackoffState,
    /// Epochs done when it was taken.
    pub epochs_done: usize,
}

/// The error of a checkpoint that another fit took.
pub fn mismatched_checkpoint(why: &str) -> Error {
    Error::config(
        "resume",
        format!("the checkpoint does not belong to this fit: {why}"),
    )
}

/// The error of a checkpoint taken by another solver than `solver`.
pub(crate) fn taken_by_another(state: &OptimizerState, solver: &str) -> Error {
    mismatched_checkpoint(&format!("it was taken by {}, not {solver}", state.name()))
}

/// Where a minimisation stands after a kept step (or at its start): continuing from it
/// gives exactly the steps of an uninterrupted run, since the next Gauss–Newton system
/// is a function of `φ` alone and the step rule needs only `λ` and the count of small
/// steps. `φ` and the histories are the driver's (the solvers never keep them).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LevenbergMarquardtState {
    /// The damping `λ` (relative to `D`) for the next step.
    pub damping: f64,
    /// Kept steps so far.
    #[serde(default)]
    pub steps: usize,
    /// `L(φ)` at the current `φ` (NaN before the first system).
    #[serde(default = "not_yet")]
    pub loss: f64,
    /// Kept steps in a row, up to the last, that lowered the loss by less than the
    /// tolerance.
    #[serde(default)]
    pub small_steps: usize,
    /// Gauss–Newton systems computed so far.
    #[serde(default)]
    pub systems: usize,
    /// Losses computed at trial steps so far.
    #[serde(default)]
    pub trial_losses: usize,
}

fn not_yet() -> f64 {
    f64::NAN
}

impl LevenbergMarquardtState {
    /// The state before the first step, with the damping `initial_damping`.
    pub fn start(initial_damping: f64) -> Self {
        LevenbergMarquardtState {
            damping: initial_damping,
            steps: 0,
            loss: f64::NAN,
            small_steps: 0,
            systems: 0,
            trial_losses: 0,
        }
    }
}

/// Adam's meta-optimization state between steps.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetaAdamState {
    /// Adam's moments.
    pub adam: AdamState,
    /// The step-size factor after non-finite steps (halved at each).
    pub step_scale: f64,
    /// Non-finite steps in a row.
    pub consecutive: usize,
    /// Non-finite steps skipped so far.
    pub skipped: usize,
}
