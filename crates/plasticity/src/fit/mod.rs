//! Fitting: the one driver (`driver.rs`: epochs, observers, checkpoints, resume, the
//! stop reason) under which every solver runs — Adam and L-BFGS on the penalised
//! loss ([`fit`]), Levenberg–Marquardt and Fisher scoring on least-squares and
//! likelihood problems ([`fit_least_squares`]).
//!
//! The optimizer works on `φ` ([`Parametrisation`]); the objective and the penalties
//! see the canonical θ. Penalties act on the trainable Taylor coefficients in the
//! canonical basis, `λ₁ Σ|θ_k| + λ₂ Σθ_k²`, whatever basis the optimizer uses; their
//! gradient reaches φ through the same chain rule `Mᵀ` as the data loss (for L1 the
//! subgradient `sign(θ_k)`, 0 at 0).

mod checkpoint;
mod config;
mod driver;
mod least_squares;
mod outcome;
pub mod parametrisation;
mod solver;

use std::ops::ControlFlow;

use rand::rngs::ChaCha8Rng;
use rand::SeedableRng;

pub use crate::optim::{BackoffState, LastStep, OptimizerState};
pub use checkpoint::{ChunkCheckpoint, FitCheckpoint, StageReport, StagedCheckpoint, StartResult};
pub use config::{EpochReport, FitConfig, OptimizerKind, DEFAULT_MAX_BACKOFFS};
pub use outcome::{FitOutcome, StopReason};
pub use parametrisation::{Basis, Parametrisation, VariableScales};
pub use solver::Solver;

use crate::objective::Objective;
use crate::optim::{AdamEpochs, IterativeSolver, LbfgsEpochs};
use crate::rule::{PlasticityRule, Rule};
use crate::{Error, Result};
pub(crate) use driver::{drive, Schedule};
pub use least_squares::fit_least_squares;

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
    let phi = parametrisation.phi(initial_theta);
    let resume = config.resume.as_deref().map(FitCheckpoint::resume);
    let mut solver: Box<dyn IterativeSolver + '_> = match config.optimizer {
        OptimizerKind::Adam => Box::new(AdamEpochs::start(
            config.adam_settings(),
            &evaluate,
            (phi.len(), &all_items),
            resume,
        )?),
        OptimizerKind::Lbfgs => Box::new(LbfgsEpochs::start(
            config.lbfgs_settings(),
            &evaluate,
            (&phi, &all_items),
            resume,
            &mut evaluations,
        )?),
    };
    let schedule = Schedule {
        epochs: config.epochs,
        parametrisation,
        resume: config.resume.as_deref(),
    };
    let driven = drive(solver.as_mut(), phi, evaluations, &schedule, observer)?;
    let theta = parametrisation.theta(&driven.phi);
    let final_loss = objective.loss(&theta, &all_items);
    Ok(FitOutcome {
        theta,
        loss_history: driven.loss_history,
        theta_history: driven.theta_history,
        stop_reason: driven.stop_reason,
        evaluations: driven.evaluations,
        final_loss,
        backoffs: driven.backoffs,
    })
}

/// The initial θ: `random` (drawn from `seed` with the family's spread,
/// [`Rule::initial_spread`]: Taylor `N(0, 1e-5²)`, MLP `N(0, 0.01²)`), `zeros`, or an
/// expression ([`Rule::parse_theta`]).
pub fn initial_theta(rule: &Rule, init: &str, seed: u64) -> Result<Vec<f64>> {
    let n = rule.n_parameters();
    match init {
        "zeros" => Ok(vec![0.0; n]),
        "random" => {
            let dist = crate::random::normal(0.0, rule.initial_spread())?;
            let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x1417_0000);
            Ok((0..n)
                .map(|_| rand::RngExt::sample(&mut rng, dist))
                .collect())
        }
        expression => rule.parse_theta(expression, "init"),
    }
}

/// What the optimizer sees of `rule` ([`Parametrisation::of_rule`]), refused when no
/// term is trainable, and the penalised indices: a Taylor rule's trainable terms
/// (the L1/L2 penalties act on coefficients), none for an MLP.
pub fn rule_parametrisation(
    rule: &Rule,
    trainable: &str,
    basis: Basis,
    scales: &VariableScales,
) -> Result<(Parametrisation, Vec<usize>)> {
    let parametrisation = Parametrisation::of_rule(rule, trainable, basis, scales)?;
    if parametrisation.n_free() == 0 {
        return Err(Error::config("trainable", "no term is trainable"));
    }
    let penalised = match rule.as_taylor() {
        Some(_) => parametrisation.trainable().to_vec(),
        None => Vec::new(),
    };
    Ok((parametrisation, penalised))
}
