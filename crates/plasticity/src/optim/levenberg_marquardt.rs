//! Levenberg–Marquardt for a least-squares loss `L(φ) = ‖r(φ)‖² / N`, and Fisher
//! scoring (damped) for a negative log-likelihood.
//!
//! From the Gauss–Newton pieces `g = Jᵀr / N` and `H = JᵀJ / N` at `φ`, a step solves
//! `(H + λ D) δ = −g` with `D = diag(H)` (Marquardt's scaling, so the step does not
//! depend on the parameters' units) and is kept when the loss falls. The damping follows
//! the gain ratio `ρ = (L(φ) − L(φ + δ)) / (L(φ) − m(δ))`, `m(δ) = L + 2gᵀδ + δᵀHδ` the
//! Gauss–Newton model: `λ ← λ max(1/3, 1 − (2ρ − 1)³)` after a kept step, `λ ← λν`,
//! `ν ← 2ν` after a refused one (Nielsen's rule). On a zero-residual problem the steps
//! become Gauss–Newton steps and converge quadratically; L-BFGS on the same
//! ill-conditioned losses crawls.
//!
//! **Likelihoods** ([`LossModel::Likelihood`]). For Bernoulli observations `y_i` with
//! logits `η_i(φ)`, `p_i = σ(η_i)`, `w_i = p_i(1 − p_i)`, the working residuals
//! `r̃_i = (p_i − y_i)/√w_i` and rows `J̃_i = √w_i ∂η_i/∂φ` give `J̃ᵀr̃ = ∇L` and
//! `J̃ᵀJ̃ = F`, the Fisher information (the expected Hessian of the negative
//! log-likelihood `L`): the same normal equations, so the same step, is Fisher
//! scoring — a generalised Gauss–Newton step. Only the model changes: `m(δ) = L + gᵀδ +
//! ½δᵀHδ` with `g = ∇L`, `H = F`, and steps are kept on `L` itself (the problem's
//! [`LeastSquaresProblem::loss`] and the system's `sse`), never on `Σ r̃²`.
use std::ops::ControlFlow;

use nalgebra::{DMatrix, DVector};
use serde::{Deserialize, Serialize};

use super::least_squares::GaussNewtonSystem;
use crate::Result;

/// What a problem's loss `L` is to its system's `g` and `H`, and so the model `m(δ)`
/// the gain ratio compares the loss's decrease with. The step is the same for both.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LossModel {
    /// `L = ‖r‖² / N`, `g = Jᵀr / N`, `H = JᵀJ / N`: `m(δ) = L + 2gᵀδ + δᵀHδ`.
    #[default]
    SumOfSquares,
    /// `L` a negative log-likelihood, `g = ∇L` and `H` its Fisher information (`J̃ᵀr̃`
    /// and `J̃ᵀJ̃` of the working residuals, see the module's doc), both divided by the
    /// same count as `L`: `m(δ) = L + gᵀδ + ½δᵀHδ`.
    Likelihood,
}

/// A least-squares problem in the optimizer's parameters `φ`.
pub trait LeastSquaresProblem {
    /// `L(φ)` (non-finite where the model breaks down): what a step is kept on.
    fn loss(&self, phi: &[f64]) -> f64;
    /// `L`, `g` and `H` at `φ` (in [`GaussNewtonSystem::sse`], `gradient` and
    /// `normal`): `Jᵀr / N` and `JᵀJ / N` for a sum of squares; for a likelihood see
    /// [`LossModel::Likelihood`].
    fn system(&self, phi: &[f64]) -> Result<GaussNewtonSystem>;
    /// What `L` is to `g` and `H` (a sum of squares unless said otherwise).
    fn model(&self) -> LossModel {
        LossModel::SumOfSquares
    }
}

/// Settings of [`minimise`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LevenbergMarquardt {
    /// Kept steps at most (each costs one Jacobian).
    pub max_iterations: usize,
    /// Stop when two kept steps in a row lowered the loss by less than this fraction.
    pub tolerance: f64,
    /// The first `λ`, relative to the largest diagonal entry of `H`.
    pub initial_damping: f64,
    /// A loss at or below this is a zero residual, at round-off (for residuals of
    /// activities of order 1, `1e-30` is `(1e-15)²`): stop there.
    pub zero_loss: f64,
    /// The damping matrix is `D = diag(max(H_kk, f · max_j H_jj))` with this `f`: near
    /// 0, Marquardt's scaling (steps independent of the parameters' units); at 1,
    /// Levenberg's `D = max_j H_jj · I`, which keeps steps small along parameters the
    /// loss barely feels yet (high-order terms of a rule whose variables are still
    /// small), where Marquardt's steps are largest.
    pub damping_floor: f64,
}

impl Default for LevenbergMarquardt {
    fn default() -> Self {
        LevenbergMarquardt {
            max_iterations: 100,
            tolerance: 1e-10,
            initial_damping: 1e-3,
            zero_loss: 1e-30,
            damping_floor: 1e-12,
        }
    }
}

/// What the observer sees after each kept step.
#[derive(Clone, Copy, Debug)]
pub struct LevenbergMarquardtReport<'a> {
    /// 1-based kept step.
    pub iteration: usize,
    /// `L` after it.
    pub loss: f64,
    /// `φ` after it.
    pub phi: &'a [f64],
    /// The damping `λ` (relative to the largest `H_kk`) for the next step.
    pub damping: f64,
    /// Everything [`minimise_from`] needs to continue from here as if it had not
    /// stopped (the checkpoint).
    pub state: &'a LevenbergMarquardtState,
}

/// Where a minimisation stands after a kept step (or at its start): continuing from it
/// with [`minimise_from`] gives exactly the steps an uninterrupted run takes, since the
/// next Gauss–Newton system is a function of `φ` and the step rule of `λ` and the count
/// of small steps.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LevenbergMarquardtState {
    /// Kept steps so far.
    pub iteration: usize,
    /// `φ` after them.
    pub phi: Vec<f64>,
    /// `L(φ)` (the loss at the start before any step).
    pub loss: f64,
    /// The damping `λ` for the next step.
    pub damping: f64,
    /// Kept steps in a row, up to the last, that lowered the loss by less than the
    /// tolerance.
    pub small_steps: usize,
    /// `L` after each kept step.
    pub loss_history: Vec<f64>,
    /// `φ` after each kept step.
    pub phi_history: Vec<Vec<f64>>,
    /// Gauss–Newton systems computed so far.
    pub systems: usize,
    /// Losses computed at trial steps so far.
    pub trial_losses: usize,
}

impl LevenbergMarquardtState {
    /// The state before the first step from `start`.
    pub fn start(start: &[f64], settings: &LevenbergMarquardt) -> Self {
        LevenbergMarquardtState {
            iteration: 0,
            phi: start.to_vec(),
            loss: f64::NAN,
            damping: settings.initial_damping,
            small_steps: 0,
            loss_history: Vec::new(),
            phi_history: Vec::new(),
            systems: 0,
            trial_losses: 0,
        }
    }
}

/// Why [`minimise`] stopped.
#[derive(Clone, Debug, PartialEq)]
pub enum LevenbergMarquardtStop {
    /// `max_iterations` steps were kept.
    IterationsCompleted,
    /// The loss stopped falling (two steps below `tolerance`, a zero loss, or a step
    /// too small to change `φ`).
    Converged(String),
    /// No damping gave a lower loss.
    NoDecrease(String),
    /// The loss or the system was not finite at the start.
    NonFinite(String),
    /// The observer asked to stop.
    Stopped,
}

/// The result of [`minimise`].
#[derive(Clone, Debug)]
pub struct LevenbergMarquardtOutcome {
    /// The last kept `φ`.
    pub phi: Vec<f64>,
    /// `L(φ)`.
    pub loss: f64,
    /// `L` after each kept step.
    pub loss_history: Vec<f64>,
    /// `φ` after each kept step.
    pub phi_history: Vec<Vec<f64>>,
    /// Gauss–Newton systems computed (one per kept step, plus the first).
    pub systems: usize,
    /// Losses computed at trial steps.
    pub trial_losses: usize,
    /// Why it stopped.
    pub stop: LevenbergMarquardtStop,
}

/// Solves `(H + λ D) δ = −g` (`D` as [`LevenbergMarquardt::damping_floor`] says);
/// `None` when the damped matrix is not positive definite.
fn damped_step(system: &GaussNewtonSystem, damping: f64, relative_floor: f64) -> Option<Vec<f64>> {
    let n = system.n_parameters();
    let largest = (0..n)
        .map(|k| system.normal[k * n + k])
        .fold(0.0f64, f64::max);
    let floor = relative_floor * largest.max(f64::MIN_POSITIVE);
    let mut matrix = DMatrix::from_row_slice(n, n, &system.normal);
    for k in 0..n {
        matrix[(k, k)] += damping * system.normal[k * n + k].max(floor);
    }
    let rhs = DVector::from_iterator(n, system.gradient.iter().map(|g| -g));
    let step = matrix.cholesky()?.solve(&rhs);
    step.iter()
        .all(|v| v.is_finite())
        .then(|| step.iter().copied().collect())
}

/// `L − m(δ)`, the decrease the Gauss–Newton model predicts: `−(2gᵀδ + δᵀHδ)` for a
/// sum of squares, half that for a likelihood.
fn predicted_decrease(system: &GaussNewtonSystem, step: &[f64], model: LossModel) -> f64 {
    let n = step.len();
    let linear: f64 = system.gradient.iter().zip(step).map(|(g, d)| g * d).sum();
    let quadratic: f64 = (0..n)
        .map(|a| {
            let row = &system.normal[a * n..(a + 1) * n];
            step[a] * row.iter().zip(step).map(|(h, d)| h * d).sum::<f64>()
        })
        .sum();
    let half = match model {
        LossModel::SumOfSquares => 1.0,
        LossModel::Likelihood => 0.5,
    };
    -half * (2.0 * linear + quadratic)
}

/// Minimises `problem` from `start`.
pub fn minimise(
    problem: &dyn LeastSquaresProblem,
    start: &[f64],
    settings: &LevenbergMarquardt,
    observer: &mut dyn FnMut(&LevenbergMarquardtReport<'_>) -> ControlFlow<()>,
) -> Result<LevenbergMarquardtOutcome> {
    minimise_from(
        problem,
        LevenbergMarquardtState::start(start, settings),
        settings,
        observer,
    )
}

/// Minimises `problem` from `state`: a start ([`LevenbergMarquardtState::start`]) or
/// the state an earlier run reported after a kept step, which it continues exactly.
pub fn minimise_from(
    problem: &dyn LeastSquaresProblem,
    mut state: LevenbergMarquardtState,
    settings: &LevenbergMarquardt,
    observer: &mut dyn FnMut(&LevenbergMarquardtReport<'_>) -> ControlFlow<()>,
) -> Result<LevenbergMarquardtOutcome> {
    let resumed = state.iteration > 0;
    let stop = if !resumed {
        None
    } else if state.small_steps >= 2 {
        Some(small_steps_stop(settings))
    } else if state.iteration >= settings.max_iterations {
        Some(LevenbergMarquardtStop::IterationsCompleted)
    } else {
        None
    };
    if let Some(stop) = stop {
        return Ok(outcome_of(state, stop));
    }
    let mut system = problem.system(&state.phi)?;
    state.systems += 1;
    if !resumed {
        state.loss = system.sse;
        let finite = system.sse.is_finite()
            && system.normal.iter().all(|v| v.is_finite())
            && system.gradient.iter().all(|v| v.is_finite());
        if !finite {
            let stop = LevenbergMarquardtStop::NonFinite(
                "the loss or its Jacobian at the start is not finite: the rule makes the simulated weights or activity overflow".into(),
            );
            return Ok(outcome_of(state, stop));
        }
    } else if !system.sse.is_finite() {
        return Ok(outcome_of(state, after_step_overflow()));
    }
    let mut growth = 2.0;
    let mut stop = LevenbergMarquardtStop::IterationsCompleted;
    for iteration in state.iteration + 1..=settings.max_iterations {
        if system.sse <= settings.zero_loss {
            stop = LevenbergMarquardtStop::Converged(format!(
                "the loss {:e} is at round-off (≤ {:e})",
                system.sse, settings.zero_loss
            ));
            break;
        }
        // damp until a step lowers the loss
        let mut kept = None;
        while state.damping < 1e16 {
            let Some(step) = damped_step(&system, state.damping, settings.damping_floor) else {
                state.damping *= growth;
                growth *= 2.0;
                continue;
            };
            let trial: Vec<f64> = state.phi.iter().zip(&step).map(|(p, d)| p + d).collect();
            if trial == state.phi {
                break;
            }
            let loss = problem.loss(&trial);
            state.trial_losses += 1;
            let predicted = predicted_decrease(&system, &step, problem.model());
            if loss.is_finite() && loss < system.sse && predicted > 0.0 {
                let gain = (system.sse - loss) / predicted;
                state.damping *= (1.0 - (2.0 * gain - 1.0).powi(3)).max(1.0 / 3.0);
                growth = 2.0;
                kept = Some((trial, loss));
                break;
            }
            state.damping *= growth;
            growth *= 2.0;
        }
        let Some((trial, loss)) = kept else {
            stop = if state.damping >= 1e16 {
                LevenbergMarquardtStop::NoDecrease(format!(
                    "no damping up to 1e16 lowered the loss below {:e}",
                    system.sse
                ))
            } else {
                LevenbergMarquardtStop::Converged("the step no longer changes φ".into())
            };
            break;
        };
        let decrease = system.sse - loss;
        state.iteration = iteration;
        state.phi = trial;
        state.loss = loss;
        state.loss_history.push(loss);
        state.phi_history.push(state.phi.clone());
        state.small_steps = if decrease <= settings.tolerance * system.sse {
            state.small_steps + 1
        } else {
            0
        };
        let report = LevenbergMarquardtReport {
            iteration,
            loss,
            phi: &state.phi,
            damping: state.damping,
            state: &state,
        };
        if observer(&report).is_break() {
            stop = LevenbergMarquardtStop::Stopped;
            break;
        }
        if state.small_steps >= 2 {
            stop = small_steps_stop(settings);
            break;
        }
        if iteration == settings.max_iterations {
            break;
        }
        system = problem.system(&state.phi)?;
        state.systems += 1;
        if !system.sse.is_finite() {
            stop = after_step_overflow();
            break;
        }
    }
    Ok(outcome_of(state, stop))
}

fn small_steps_stop(settings: &LevenbergMarquardt) -> LevenbergMarquardtStop {
    LevenbergMarquardtStop::Converged(format!(
        "two steps each lowered the loss by less than {:e} of it",
        settings.tolerance
    ))
}

fn after_step_overflow() -> LevenbergMarquardtStop {
    LevenbergMarquardtStop::NonFinite(
        "the Jacobian after a kept step is not finite: the rule makes the simulated weights or activity overflow".into(),
    )
}

fn outcome_of(
    state: LevenbergMarquardtState,
    stop: LevenbergMarquardtStop,
) -> LevenbergMarquardtOutcome {
    LevenbergMarquardtOutcome {
        phi: state.phi,
        loss: state.loss,
        loss_history: state.loss_history,
        phi_history: state.phi_history,
        systems: state.systems,
        trial_losses: state.trial_losses,
        stop,
    }
}

#[cfg(test)]
mod tests;
