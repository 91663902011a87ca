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
use nalgebra::{DMatrix, DVector};

use super::least_squares::GaussNewtonSystem;
use super::solver::{EpochStep, IterativeSolver};
pub use super::state::LevenbergMarquardtState;
use super::state::{taken_by_another, BackoffState, OptimizerState, Resume};
use super::stop::StopReason;
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

/// Settings of [`LevenbergMarquardtSolver`].
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

/// Levenberg–Marquardt as a solver that takes one kept step per call (state in, state
/// out): the fitting driver owns the iterations, histories, observers and stop.
pub struct LevenbergMarquardtSolver<'p> {
    problem: &'p dyn LeastSquaresProblem,
    settings: LevenbergMarquardt,
    state: LevenbergMarquardtState,
    /// The system at the current `φ`, once computed.
    system: Option<GaussNewtonSystem>,
}

impl<'p> LevenbergMarquardtSolver<'p> {
    /// The solver of `problem` from `state` ([`LevenbergMarquardtState::start`], or a
    /// state it reported after a kept step, which it continues exactly).
    pub fn new(
        problem: &'p dyn LeastSquaresProblem,
        settings: LevenbergMarquardt,
        state: LevenbergMarquardtState,
    ) -> Self {
        LevenbergMarquardtSolver {
            problem,
            settings,
            state,
            system: None,
        }
    }

    /// Its state after the last kept step.
    pub fn state(&self) -> &LevenbergMarquardtState {
        &self.state
    }

    /// The solver from `resume`'s state (an error where another solver took it), or
    /// from the start.
    pub fn resume(
        problem: &'p dyn LeastSquaresProblem,
        settings: LevenbergMarquardt,
        resume: Option<Resume<'_>>,
    ) -> Result<Self> {
        let state = match resume {
            None => LevenbergMarquardtState::start(settings.initial_damping),
            Some(Resume {
                optimizer: OptimizerState::LevenbergMarquardt(state),
                ..
            }) => state.clone(),
            Some(other) => return Err(taken_by_another(other.optimizer, "Levenberg–Marquardt")),
        };
        Ok(Self::new(problem, settings, state))
    }
}

impl IterativeSolver for LevenbergMarquardtSolver<'_> {
    /// One kept step from `phi` (updated in place), the `epoch`-th of the fit: the
    /// Gauss–Newton system at `phi` (computed once per kept step, counted in
    /// `evaluations` with every trial loss), then damped steps, `λ` growing, until one
    /// lowers the loss.
    fn step(
        &mut self,
        epoch: usize,
        phi: &mut [f64],
        evaluations: &mut usize,
    ) -> Result<EpochStep> {
        let system = match self.system.take() {
            Some(system) => system,
            None => {
                *evaluations += 1;
                self.state.systems += 1;
                self.problem.system(phi)?
            }
        };
        if self.state.steps == 0 {
            self.state.loss = system.sse;
        }
        if let Some(why) = self.not_finite(&system) {
            return Ok(EpochStep::Stop(StopReason::NonFinite {
                epoch,
                detail: why.into(),
            }));
        }
        if system.sse <= self.settings.zero_loss {
            return Ok(EpochStep::Stop(StopReason::Converged {
                detail: format!(
                    "the loss {:e} is at round-off (≤ {:e})",
                    system.sse, self.settings.zero_loss
                ),
            }));
        }
        let (trial, loss) = match self.damped_until_lower(phi, &system, evaluations) {
            Ok(kept) => kept,
            Err(stop) => {
                self.system = Some(system);
                return Ok(EpochStep::Stop(stop));
            }
        };
        let decrease = system.sse - loss;
        phi.copy_from_slice(&trial);
        self.state.steps += 1;
        self.state.loss = loss;
        self.state.small_steps = if decrease <= self.settings.tolerance * system.sse {
            self.state.small_steps + 1
        } else {
            0
        };
        Ok(EpochStep::Done(loss))
    }

    fn checkpoint_state(&self) -> (OptimizerState, BackoffState) {
        (
            OptimizerState::LevenbergMarquardt(self.state.clone()),
            BackoffState::default(),
        )
    }

    /// Converged after two kept steps in a row each lowered the loss by less than the
    /// tolerance.
    fn converged(&self) -> Option<StopReason> {
        (self.state.small_steps >= 2).then(|| StopReason::Converged {
            detail: format!(
                "two steps each lowered the loss by less than {:e} of it",
                self.settings.tolerance
            ),
        })
    }
}

impl LevenbergMarquardtSolver<'_> {
    /// Why `system` cannot start a step: at the start any non-finite entry, after a
    /// kept step a non-finite loss.
    fn not_finite(&self, system: &GaussNewtonSystem) -> Option<&'static str> {
        let finite = if self.state.steps == 0 {
            system.sse.is_finite()
                && system.normal.iter().all(|v| v.is_finite())
                && system.gradient.iter().all(|v| v.is_finite())
        } else {
            system.sse.is_finite()
        };
        match (finite, self.state.steps) {
            (true, _) => None,
            (false, 0) => Some("the loss or its Jacobian at the start is not finite: the rule makes the simulated weights or activity overflow"),
            (false, _) => Some("the Jacobian after a kept step is not finite: the rule makes the simulated weights or activity overflow"),
        }
    }

    /// Damped steps from `phi`, `λ` growing (Nielsen's rule) until one lowers the loss:
    /// that step's point and loss, or why none does.
    fn damped_until_lower(
        &mut self,
        phi: &[f64],
        system: &GaussNewtonSystem,
        evaluations: &mut usize,
    ) -> std::result::Result<(Vec<f64>, f64), StopReason> {
        let mut growth = 2.0;
        while self.state.damping < 1e16 {
            let Some(step) = damped_step(system, self.state.damping, self.settings.damping_floor)
            else {
                self.state.damping *= growth;
                growth *= 2.0;
                continue;
            };
            let trial: Vec<f64> = phi.iter().zip(&step).map(|(p, d)| p + d).collect();
            if trial == phi {
                return Err(StopReason::Converged {
                    detail: "the step no longer changes φ".into(),
                });
            }
            let loss = self.problem.loss(&trial);
            *evaluations += 1;
            self.state.trial_losses += 1;
            let predicted = predicted_decrease(system, &step, self.problem.model());
            if loss.is_finite() && loss < system.sse && predicted > 0.0 {
                let gain = (system.sse - loss) / predicted;
                self.state.damping *= (1.0 - (2.0 * gain - 1.0).powi(3)).max(1.0 / 3.0);
                return Ok((trial, loss));
            }
            self.state.damping *= growth;
            growth *= 2.0;
        }
        Err(StopReason::LineSearchFailed {
            detail: format!(
                "no damping up to 1e16 lowered the loss below {:e}",
                system.sse
            ),
        })
    }
}

#[cfg(test)]
pub(crate) mod tests;
