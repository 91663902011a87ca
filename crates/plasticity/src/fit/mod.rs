//! The fitting loop: epochs, minibatches, penalties, observers and the stopping reason.
//!
//! The optimiser works on `φ` ([`Parametrisation`]); the objective and the penalties
//! see the canonical θ. Penalties act on the trainable Taylor coefficients in the
//! canonical basis, `λ₁ Σ|θ_k| + λ₂ Σθ_k²`, whatever basis the optimiser uses; their
//! gradient reaches φ through the same chain rule `Mᵀ` as the data loss (for L1 the
//! subgradient `sign(θ_k)`, 0 at 0).

pub mod parametrisation;
mod solver;
pub mod staged;

use std::ops::ControlFlow;

use rand::rngs::ChaCha8Rng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

pub use parametrisation::{mean_and_std, Basis, Parametrisation, VariableScales};
pub use solver::Solver;

// Old paths of the pipelines and the profile likelihood, kept until every caller uses
// `crate::pipeline` and `crate::analysis`.
pub use crate::analysis::profile;
pub use crate::pipeline::{
    behaviour, circuit, discover, flies, neural, online, population, selection,
};

use crate::objective::Objective;
use crate::optim::{Adam, AdamState, Lbfgs, LbfgsState, LbfgsStep};
use crate::rule::{parse_expression, PlasticityRule, Rule, TrainableSpec};
use crate::{Error, Result};

/// Which optimiser.
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
    /// The optimiser.
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
    /// When none is left, the fit stops with [`StopReason::NonFinite`] and keeps that
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

/// Everything a fit needs to continue after `epochs_done` epochs as if it had never
/// stopped: the optimiser's variables φ, its state, and the histories so far. The
/// minibatch order of Adam is replayed from the seed, so it is not stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FitCheckpoint {
    /// Completed epochs.
    pub epochs_done: usize,
    /// The optimiser's variables φ after them.
    pub phi: Vec<f64>,
    /// Data loss per completed epoch.
    pub loss_history: Vec<f64>,
    /// θ after each completed epoch.
    pub theta_history: Vec<Vec<f64>>,
    /// Evaluations so far.
    pub evaluations: usize,
    /// The optimiser's own state.
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
    pub staged: Option<Box<staged::StagedCheckpoint>>,
    /// Where a staged L-BFGS circuit fit stood (stage, chunk, the chunk's own
    /// checkpoint); `None` for every other fit. CBOR in hexadecimal, like `staged`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::io::cbor_hex"
    )]
    pub chunked: Option<Box<staged::ChunkCheckpoint>>,
}

impl FitCheckpoint {
    /// The checkpoint after `epochs_done` epochs of the fitting loop.
    fn take(
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
    fn restore(
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
}

/// An optimiser's state between epochs.
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
    /// Levenberg–Marquardt's damping (circuit fits; see [`circuit`]).
    #[serde(rename = "levenberg-marquardt")]
    LevenbergMarquardt {
        /// `λ` relative to the largest diagonal entry of `JᵀJ`.
        damping: f64,
    },
}

impl OptimizerState {
    /// The optimiser that took it.
    pub fn name(&self) -> &'static str {
        match self {
            OptimizerState::Adam(_) => "Adam",
            OptimizerState::Lbfgs { .. } => "L-BFGS",
            OptimizerState::LevenbergMarquardt { .. } => "Levenberg–Marquardt",
        }
    }
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

/// `λ₁ Σ|θ_k| + λ₂ Σθ_k²` over `trainable` k, adding its gradient to `gradient`.
fn penalty(config: &FitConfig, penalised: &[usize], theta: &[f64], gradient: &mut [f64]) -> f64 {
    let mut total = 0.0;
    for &k in penalised {
        let value = theta[k];
        total += config.l1 * value.abs() + config.l2 * value * value;
        gradient[k] +=
            config.l1 * value.signum() * f64::from(value != 0.0) + 2.0 * config.l2 * value;
    }
    total
}

/// Fits `objective` starting from the canonical `initial_theta`. `penalised` lists the
/// parameters the L1/L2 penalties act on (the trainable Taylor coefficients; empty for
/// the MLP). The observer is called after every epoch and may stop the fit.
pub fn fit<O: Objective>(
    objective: &O,
    parametrisation: &Parametrisation,
    initial_theta: &[f64],
    penalised: &[usize],
    config: &FitConfig,
    observer: &mut dyn FnMut(&EpochReport<'_>) -> ControlFlow<()>,
) -> Result<FitOutcome> {
    if config.epochs == 0 {
        return Err(Error::config("epochs", "must be at least 1"));
    }
    if objective.n_items() == 0 {
        return Err(Error::config("data", "no trajectories or sessions to fit"));
    }
    let all_items: Vec<usize> = (0..objective.n_items()).collect();
    let n_theta = objective.n_parameters();
    let mut evaluations = 0usize;
    // loss + penalty and its gradient with respect to φ
    let evaluate = |phi: &[f64], items: &[usize], phi_gradient: &mut [f64]| -> (f64, f64) {
        let theta = parametrisation.theta(phi);
        let mut theta_gradient = vec![0.0; n_theta];
        let data = objective.loss_and_gradient(&theta, items, &mut theta_gradient);
        let penalty = penalty(config, penalised, &theta, &mut theta_gradient);
        phi_gradient.copy_from_slice(&parametrisation.pullback(&theta_gradient));
        (data, data + penalty)
    };

    let mut phi = parametrisation.phi(initial_theta);
    let mut loss_history = Vec::with_capacity(config.epochs);
    let mut theta_history = Vec::with_capacity(config.epochs);
    let mut stop_reason = StopReason::EpochsCompleted;
    let mut backoff = BackoffState::default();
    match config.optimizer {
        OptimizerKind::Adam => {
            let batch_size = config.batch_size.clamp(1, all_items.len());
            let mut adam = Adam::new(phi.len(), config.learning_rate);
            let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
            let mut order = all_items.clone();
            let mut gradient = vec![0.0; phi.len()];
            let mut first_epoch = 1;
            let halved = |backoffs: usize| config.learning_rate * 0.5f64.powi(backoffs as i32);
            if let Some(checkpoint) = &config.resume {
                let OptimizerState::Adam(state) = &checkpoint.optimizer else {
                    return Err(mismatched_checkpoint(&format!(
                        "it was taken by {}, not Adam",
                        checkpoint.optimizer.name()
                    )));
                };
                check_checkpoint(checkpoint, phi.len(), config)?;
                backoff.clone_from(&checkpoint.backoff);
                adam = Adam::from_state(halved(backoff.backoffs), state);
                // replay the minibatch orders of the completed epochs
                for _ in 0..checkpoint.epochs_done {
                    order.shuffle(&mut rng);
                }
                first_epoch = checkpoint.restore(
                    &mut phi,
                    &mut loss_history,
                    &mut theta_history,
                    &mut evaluations,
                );
            }
            'epochs: for epoch in first_epoch..=config.epochs {
                order.shuffle(&mut rng);
                let mut epoch_loss = 0.0;
                let mut batches = 0usize;
                for batch in order.chunks(batch_size) {
                    let data = loop {
                        let (data, total) = evaluate(&phi, batch, &mut gradient);
                        evaluations += 1;
                        if total.is_finite() && gradient.iter().all(|g| g.is_finite()) {
                            break data;
                        }
                        let what = if total.is_finite() {
                            "the gradient is not finite".to_string()
                        } else {
                            format!("the loss is {total}")
                        };
                        match &backoff.last_step {
                            Some(step) if backoff.backoffs < config.max_backoffs => {
                                // back to the last good point; retake its step with half
                                // the learning rate
                                backoff.backoffs += 1;
                                adam = Adam::from_state(halved(backoff.backoffs), &step.adam);
                                phi.clone_from(&step.phi);
                                adam.step(&mut phi, &step.gradient);
                            }
                            last_step => {
                                let kept = match last_step {
                                    Some(step) => {
                                        phi.clone_from(&step.phi);
                                        "keeping the parameters from before the last step, the last where the loss was finite"
                                    }
                                    None => "the initial parameters already fail",
                                };
                                stop_reason = StopReason::NonFinite {
                                    epoch,
                                    detail: format!(
                                        "{what} on minibatch {} of epoch {epoch} after {} backoff(s) (max-backoffs {}, learning rate now {:e}): the rule makes the simulated weights or activity overflow; {kept}",
                                        batches + 1,
                                        backoff.backoffs,
                                        config.max_backoffs,
                                        halved(backoff.backoffs),
                                    ),
                                };
                                break 'epochs;
                            }
                        }
                    };
                    backoff.last_step = Some(LastStep {
                        phi: phi.clone(),
                        adam: adam.state(),
                        gradient: gradient.clone(),
                    });
                    adam.step(&mut phi, &gradient);
                    epoch_loss += data;
                    batches += 1;
                }
                loss_history.push(epoch_loss / batches as f64);
                theta_history.push(parametrisation.theta(&phi));
                let checkpoint = || {
                    FitCheckpoint::take(
                        epoch,
                        &phi,
                        &loss_history,
                        &theta_history,
                        evaluations,
                        OptimizerState::Adam(adam.state()),
                        backoff.clone(),
                    )
                };
                let report = EpochReport {
                    epoch,
                    epochs: config.epochs,
                    loss: epoch_loss / batches as f64,
                    theta: theta_history.last().map_or(&[], |t| t.as_slice()),
                    checkpoint: &checkpoint,
                };
                let flow = observer(&report);
                if flow.is_break() {
                    stop_reason = StopReason::Interrupted;
                    break;
                }
            }
        }
        OptimizerKind::Lbfgs => {
            let mut first_epoch = 1;
            let mut recent: std::collections::VecDeque<f64> = std::collections::VecDeque::new();
            let mut lbfgs = if let Some(checkpoint) = &config.resume {
                let OptimizerState::Lbfgs {
                    state,
                    recent_losses,
                } = &checkpoint.optimizer
                else {
                    return Err(mismatched_checkpoint(&format!(
                        "it was taken by {}, not L-BFGS",
                        checkpoint.optimizer.name()
                    )));
                };
                check_checkpoint(checkpoint, phi.len(), config)?;
                first_epoch = checkpoint.restore(
                    &mut phi,
                    &mut loss_history,
                    &mut theta_history,
                    &mut evaluations,
                );
                recent.extend(recent_losses.iter().copied());
                Lbfgs::from_state(config.lbfgs_memory, state)
            } else {
                let mut gradient = vec![0.0; phi.len()];
                let (_, total) = evaluate(&phi, &all_items, &mut gradient);
                evaluations += 1;
                if !total.is_finite() || gradient.iter().any(|g| !g.is_finite()) {
                    return Err(Error::Numerical(format!(
                        "the loss at the initial parameters is {total}: the initial rule makes the simulation overflow"
                    )));
                }
                Lbfgs::new(config.lbfgs_memory, phi.clone(), total, gradient)
            };
            lbfgs.line_search = config.lbfgs_line_search;
            let mut last_data = f64::NAN;
            for epoch in first_epoch..=config.epochs {
                let mut objective_fn = |p: &[f64], g: &mut [f64]| {
                    let (data, total) = evaluate(p, &all_items, g);
                    last_data = data;
                    total
                };
                let step = lbfgs.iterate(&mut objective_fn);
                match step {
                    LbfgsStep::Accepted { evaluations: n, .. } => evaluations += n,
                    LbfgsStep::LineSearchFailed {
                        reason,
                        non_finite_trials,
                    } => {
                        evaluations += lbfgs.max_trials;
                        stop_reason = if non_finite_trials == lbfgs.max_trials {
                            StopReason::NonFinite {
                                epoch,
                                detail: format!(
                                    "iteration {epoch}: {reason}: the rule makes the simulated weights or activity overflow; keeping the parameters of iteration {}",
                                    epoch - 1
                                ),
                            }
                        } else {
                            StopReason::LineSearchFailed { detail: reason }
                        };
                        break;
                    }
                }
                phi.copy_from_slice(lbfgs.point());
                loss_history.push(last_data);
                theta_history.push(parametrisation.theta(&phi));
                recent.push_back(lbfgs.loss());
                let oldest = if recent.len() > 10 {
                    recent.pop_front()
                } else {
                    None
                };
                let checkpoint = || {
                    FitCheckpoint::take(
                        epoch,
                        &phi,
                        &loss_history,
                        &theta_history,
                        evaluations,
                        OptimizerState::Lbfgs {
                            state: lbfgs.state(),
                            recent_losses: recent.iter().copied().collect(),
                        },
                        BackoffState::default(),
                    )
                };
                let report = EpochReport {
                    epoch,
                    epochs: config.epochs,
                    loss: last_data,
                    theta: theta_history.last().map_or(&[], |t| t.as_slice()),
                    checkpoint: &checkpoint,
                };
                let flow = observer(&report);
                if flow.is_break() {
                    stop_reason = StopReason::Interrupted;
                    break;
                }
                if let Some(old) = oldest {
                    if old - lbfgs.loss() <= config.tolerance * old.abs() {
                        stop_reason = StopReason::Converged {
                            detail: format!(
                                "the loss decreased by less than a fraction {} over 10 iterations",
                                config.tolerance
                            ),
                        };
                        break;
                    }
                }
            }
            phi.copy_from_slice(lbfgs.point());
        }
    }
    let theta = parametrisation.theta(&phi);
    let final_loss = objective.loss(&theta, &all_items);
    Ok(FitOutcome {
        theta,
        loss_history,
        theta_history,
        stop_reason,
        evaluations,
        final_loss,
        backoffs: backoff.backoffs,
    })
}

fn mismatched_checkpoint(why: &str) -> Error {
    Error::config(
        "resume",
        format!("the checkpoint does not belong to this fit: {why}"),
    )
}

/// Refuses a checkpoint whose sizes do not fit this fit's parameters and histories.
fn check_checkpoint(checkpoint: &FitCheckpoint, n_phi: usize, config: &FitConfig) -> Result<()> {
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
    if done > config.epochs {
        return Err(mismatched_checkpoint(&format!(
            "it has {done} epochs done, more than the {} planned",
            config.epochs
        )));
    }
    if checkpoint.phi.iter().any(|v| !v.is_finite()) {
        return Err(mismatched_checkpoint("its parameters are not finite"));
    }
    Ok(())
}

/// The initial θ: `random` (Taylor `N(0, 1e-5²)`, MLP `N(0, 0.01²)`, drawn from
/// `seed`), `zeros`, or a Taylor expression.
pub fn initial_theta(rule: &Rule, init: &str, seed: u64) -> Result<Vec<f64>> {
    let n = rule.n_parameters();
    match init {
        "zeros" => Ok(vec![0.0; n]),
        "random" => {
            let std = match rule {
                Rule::Taylor(_) => 1e-5,
                Rule::Mlp(_) => 1e-2,
            };
            let dist = crate::random::normal(0.0, std)?;
            let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x1417_0000);
            Ok((0..n)
                .map(|_| rand::RngExt::sample(&mut rng, dist))
                .collect())
        }
        expression => match rule {
            Rule::Taylor(taylor) => parse_expression(expression, taylor.variables()),
            Rule::Mlp(_) => Err(Error::config(
                "init",
                "an MLP rule starts from 'random' or 'zeros', not an expression",
            )),
        },
    }
}

/// What the optimiser sees of `rule`: for a Taylor rule the `trainable` terms in
/// `basis` (the others stay exactly 0), penalised by L1/L2; for an MLP every
/// parameter, unpenalised. Returns the parametrisation and the penalised indices.
pub fn rule_parametrisation(
    rule: &Rule,
    trainable: &str,
    basis: Basis,
    scales: &VariableScales,
) -> Result<(Parametrisation, Vec<usize>)> {
    match rule {
        Rule::Taylor(taylor) => {
            let mask = TrainableSpec::parse(trainable)?.mask(taylor.variables())?;
            if !mask.iter().any(|&m| m) {
                return Err(Error::config("trainable", "no term is trainable"));
            }
            let zeros = vec![0.0; taylor.variables().n_terms()];
            let p = Parametrisation::taylor(taylor.variables(), &mask, basis, scales, &zeros);
            let penalised = p.trainable().to_vec();
            Ok((p, penalised))
        }
        Rule::Mlp(_) => Ok((Parametrisation::identity(rule.n_parameters()), Vec::new())),
    }
}
