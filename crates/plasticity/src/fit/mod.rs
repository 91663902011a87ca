//! The fitting loop: epochs, minibatches, penalties, observers and the stopping reason.
//!
//! The optimizer works on `φ` ([`Parametrisation`]); the objective and the penalties
//! see the canonical θ. Penalties act on the trainable Taylor coefficients in the
//! canonical basis, `λ₁ Σ|θ_k| + λ₂ Σθ_k²`, whatever basis the optimizer uses; their
//! gradient reaches φ through the same chain rule `Mᵀ` as the data loss (for L1 the
//! subgradient `sign(θ_k)`, 0 at 0).

mod checkpoint;
mod config;
mod epochs;
mod outcome;
pub mod parametrisation;
mod solver;

use std::ops::ControlFlow;

use rand::rngs::ChaCha8Rng;
use rand::SeedableRng;

pub use checkpoint::{
    BackoffState, ChunkCheckpoint, FitCheckpoint, LastStep, OptimizerState, StageReport,
    StagedCheckpoint, StartResult,
};
pub use config::{EpochReport, FitConfig, OptimizerKind, DEFAULT_MAX_BACKOFFS};
pub use outcome::{FitOutcome, StopReason};
pub use parametrisation::{Basis, Parametrisation, VariableScales};
pub use solver::Solver;

use crate::objective::Objective;
use crate::rule::{parse_expression, PlasticityRule, Rule, TrainableSpec};
use crate::{Error, Result};
use epochs::{AdamEpochs, EpochSolver, EpochStep, LbfgsEpochs};

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
    let mut solver: Box<dyn EpochSolver + '_> = match config.optimizer {
        OptimizerKind::Adam => Box::new(AdamEpochs::start(config, phi.len(), &all_items)?),
        OptimizerKind::Lbfgs => Box::new(LbfgsEpochs::start(
            config,
            &phi,
            &all_items,
            &evaluate,
            &mut evaluations,
        )?),
    };
    let first_epoch = match &config.resume {
        Some(checkpoint) => checkpoint.restore(
            &mut phi,
            &mut loss_history,
            &mut theta_history,
            &mut evaluations,
        ),
        None => 1,
    };
    let mut stop_reason = StopReason::EpochsCompleted;
    for epoch in first_epoch..=config.epochs {
        let loss = match solver.epoch(epoch, &mut phi, &evaluate, &mut evaluations) {
            EpochStep::Done(loss) => loss,
            EpochStep::Stop(reason) => {
                stop_reason = reason;
                break;
            }
        };
        loss_history.push(loss);
        theta_history.push(parametrisation.theta(&phi));
        let checkpoint = || {
            let (optimizer, backoff) = solver.checkpoint_state();
            FitCheckpoint::take(
                epoch,
                &phi,
                &loss_history,
                &theta_history,
                evaluations,
                optimizer,
                backoff,
            )
        };
        let report = EpochReport {
            epoch,
            epochs: config.epochs,
            loss,
            theta: theta_history.last().map_or(&[], |t| t.as_slice()),
            checkpoint: &checkpoint,
        };
        if observer(&report).is_break() {
            stop_reason = StopReason::Interrupted;
            break;
        }
        if let Some(converged) = solver.converged() {
            stop_reason = converged;
            break;
        }
    }
    solver.finish(&mut phi);
    let theta = parametrisation.theta(&phi);
    let final_loss = objective.loss(&theta, &all_items);
    Ok(FitOutcome {
        theta,
        loss_history,
        theta_history,
        stop_reason,
        evaluations,
        final_loss,
        backoffs: solver.backoffs(),
    })
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

/// What the optimizer sees of `rule`: for a Taylor rule the `trainable` terms in
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
