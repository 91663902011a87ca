//! What a circuit fit is asked to do: its settings (solver, basis, horizon stages,
//! epochs, the fitted `W₀`) and the default staged horizon.

use serde::{Deserialize, Serialize};

use crate::fit::{Basis, FitConfig};
use crate::gradient::GradientStrategy;

/// Everything that defines a fit of a circuit recording (the rules, their trainable
/// terms and the treatment of `W₀` come from the circuit file).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CircuitFitSettings {
    /// Optimizer settings (`epochs` is the last stage's).
    pub fit: FitConfig,
    /// The basis the optimizer works in (Taylor rules).
    pub basis: Basis,
    /// Initial θ: `random` (Taylor `N(0, 1e-5²)`, MLP `N(0, 0.01²)`) or `zeros`.
    pub init: String,
    /// Trajectory gradient strategy.
    pub gradient: GradientStrategy,
    /// Horizons fitted before the whole recording, ascending (those ≥ T are skipped;
    /// `[0]`: none); empty: [`default_horizon_stages`] for the solver.
    pub horizon_stages: Vec<usize>,
    /// Epochs of each stage before the last (0: the solver's default,
    /// [`default_stage_epochs`]).
    pub stage_epochs: usize,
    /// Clip of plastic weights during the fit (overrides the circuit file's).
    pub weight_bound: Option<f64>,
    /// Fresh trajectories for the metrics.
    pub eval_trajectories: usize,
    /// At the start of every stage, rescale each free parameter to unit curvature of
    /// the loss (Jacobi preconditioning, from finite differences of the gradient).
    pub precondition: bool,
    /// Re-precondition (and restart L-BFGS) every this many epochs within a stage,
    /// as the curvature changes along the way (0: once per stage).
    pub precondition_every: usize,
    /// Epochs that fit only the shared `W₀` (θ held at its start) on the first step
    /// of every trajectory, before the rules join in (circuits with a fitted `W₀`;
    /// 0: none). The first step's activity `y_0 = f(W₀ a_0 + …)` does not depend on θ
    /// yet, so this is a regression of the recorded activity on `W₀` alone, and the
    /// joint fit then starts near the true `W₀` instead of at a draw of its prior.
    pub initial_weights_epochs: usize,
    /// Trajectories the curvature is measured on when a stage is re-preconditioned
    /// (`precondition_every`), evenly spaced through the recording (0: all); a stage's
    /// first scales always come from every trajectory. Each measurement costs one
    /// gradient per rule coefficient: on all 50 trajectories of the recurrent set-up
    /// they took half of a fit's gradients. (With a subset at the start of every
    /// stage too, 2 of the 8 fits of the recurrent grid failed that pass with every
    /// trajectory: the scales matter most where the horizon changes.)
    pub precondition_trajectories: usize,
    /// The optimizer of every stage (see [`CircuitSolver`]).
    #[serde(default)]
    pub solver: CircuitSolver,
    /// Levenberg–Marquardt: a stage before the last ends when two steps in a row
    /// lowered its loss by less than this fraction (the last stage: 1e-10). On noisy
    /// recordings the early stages otherwise spend many steps on decreases of 1e-6
    /// that the next horizon undoes.
    #[serde(default = "default_stage_tolerance")]
    pub stage_tolerance: f64,
    /// Levenberg–Marquardt: where the fit did not reach a zero residual (a loss at
    /// round-off), fit again from the same start in this basis and keep the lower loss
    /// (`None`: one fit). Levenberg–Marquardt's damping `λ diag JᵀJ` depends on the
    /// basis, and so does which valley a noisy fit with latent neurons ends in: on the
    /// recurrent set-up at σ = 0.05 the centred basis reached the truth's loss with 25 %
    /// of the neurons recorded and not with 10 %, the scaled one the other way round.
    #[serde(default = "default_second_basis")]
    pub second_basis: Option<Basis>,
}

fn default_second_basis() -> Option<Basis> {
    Some(Basis::Scaled)
}

fn default_stage_tolerance() -> f64 {
    1e-5
}

/// The optimizer of a circuit fit (the solver choice every least-squares fit shares).
pub type CircuitSolver = crate::fit::Solver;

impl Default for CircuitFitSettings {
    fn default() -> Self {
        CircuitFitSettings {
            fit: FitConfig {
                optimizer: crate::fit::OptimizerKind::Lbfgs,
                epochs: 300,
                l1: 0.0,
                lbfgs_line_search: crate::optim::LineSearch::Backtracking,
                ..FitConfig::default()
            },
            basis: Basis::Centred,
            init: "random".into(),
            gradient: GradientStrategy::Checkpointed,
            horizon_stages: Vec::new(),
            stage_epochs: 0,
            weight_bound: None,
            eval_trajectories: 5,
            precondition: true,
            precondition_every: 50,
            precondition_trajectories: 10,
            initial_weights_epochs: 200,
            solver: CircuitSolver::Auto,
            stage_tolerance: default_stage_tolerance(),
            second_basis: default_second_basis(),
        }
    }
}

/// The horizons fitted before the whole recording when the settings name none:
/// for Levenberg–Marquardt 5 steps growing by 1.2× (5, 6, 7, 8, 10, 12, 14, 17, 20,
/// 24, …), each stage a small change of the last so that the fit follows its minimum
/// as the horizon grows (with noisy recordings, doubling the horizon after a fit that
/// has converged on the noise of the short one lands in another valley); for L-BFGS,
/// whose stages are not fitted to convergence, 5, 10 and 20.
pub fn default_horizon_stages(levenberg_marquardt: bool, steps: usize) -> Vec<usize> {
    if !levenberg_marquardt {
        return vec![5, 10, 20];
    }
    let mut stages = Vec::new();
    let mut horizon = 5.0f64;
    while (horizon.round() as usize) < steps {
        let h = horizon.round() as usize;
        if stages.last() != Some(&h) {
            stages.push(h);
        }
        horizon *= HORIZON_GROWTH;
    }
    stages
}

/// The iterations of each stage before the last when the settings name none: for
/// Levenberg–Marquardt 2 kept steps (a stage is a step along the horizon, not a fit of
/// it: on noisy recordings with latent neurons, stages fitted to convergence settled on
/// the noise of their short horizon and the fit ended in another valley: σ = 0.05,
/// f = 0.25, 0.019 against 2.49e-3 at the truth, and 2.485e-3 with 2 steps); for
/// L-BFGS 40 iterations.
pub fn default_stage_epochs(levenberg_marquardt: bool) -> usize {
    if levenberg_marquardt {
        2
    } else {
        40
    }
}

/// The growth of the horizon from one Levenberg–Marquardt stage to the next.
pub const HORIZON_GROWTH: f64 = 1.2;
