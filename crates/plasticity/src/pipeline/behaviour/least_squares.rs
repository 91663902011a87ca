//! Choices fitted by Levenberg–Marquardt as damped Fisher scoring (a generalised
//! Gauss–Newton method): the cross-entropy of the decisions is a Bernoulli negative
//! log-likelihood, whose working residuals `(p − d)/√(p(1−p))` and rows
//! `√(p(1−p)) ∂z/∂θ` have `J̃ᵀr̃ = ∇L` and `J̃ᵀJ̃ =` the Fisher information (the matrix
//! `identify` reports). The same solver and driver as the circuit and neural fits run
//! it ([`levenberg_marquardt_stages`] with one stage, so the same observer, checkpoints
//! and resume), with [`LossModel::Likelihood`]: steps are kept on the cross-entropy
//! itself. The tangents `∂z/∂θ` come from the engine's forward mode, which
//! differentiates the weight bound's clip exactly.

use std::ops::ControlFlow;

use super::BehaviourFitSettings;
use crate::fit::Solver;
use crate::fit::{EpochReport, FitOutcome, OptimizerKind, OptimizerState, Parametrisation};
use crate::objective::{BehaviourObjective, Objective};
use crate::optim::least_squares::GaussNewtonSystem;
use crate::optim::levenberg_marquardt::{LevenbergMarquardt, LossModel};
use crate::pipeline::circuit::least_squares::{
    levenberg_marquardt_stages, StagedProblem, Start, ThetaLeastSquares,
};
use crate::rule::PlasticityRule;
use crate::Result;

/// The name `solver_used` gives Levenberg–Marquardt (Fisher scoring).
pub const LEVENBERG_MARQUARDT: &str = "levenberg-marquardt";

/// Why Levenberg–Marquardt does not apply to a behaviour fit with `settings`, if it
/// does not: a penalty (the loss is then not a likelihood), Adam asked for, or a
/// checkpoint of an Adam or L-BFGS fit to continue.
fn obstacle(settings: &BehaviourFitSettings) -> Option<String> {
    let resumes_another = settings.fit.resume.as_ref().is_some_and(|checkpoint| {
        !matches!(
            checkpoint.optimizer,
            OptimizerState::LevenbergMarquardt { .. }
        )
    });
    let (l1, l2) = (settings.fit.l1, settings.fit.l2);
    if l1 != 0.0 || l2 != 0.0 {
        Some(format!(
            "Levenberg–Marquardt (Fisher scoring) fits the plain cross-entropy of the \
             choices, without a penalty, but --l1 {l1} --l2 {l2} ask for one: give \
             --l1 0 (without --l1, --solver levenberg-marquardt sets it to 0), or keep \
             the penalty with --solver lbfgs or --optimizer adam"
        ))
    } else if settings.fit.optimizer != OptimizerKind::Lbfgs {
        Some(
            "--optimizer adam asks for Adam, not Levenberg–Marquardt (leave out one of the two)"
                .into(),
        )
    } else if resumes_another {
        Some("the checkpoint to continue is of an Adam or L-BFGS fit (use the solver it was taken with)".into())
    } else {
        None
    }
}

/// The solver a behaviour fit with `settings` runs (as `solver_used` names it), or
/// why the one asked for does not apply. `auto` keeps the `optimizer` asked for
/// (Adam with L1 1e-2 by default, the paper's protocol): on the measurements of
/// docs/performance.md it is not replaced by Levenberg–Marquardt.
pub fn solver_for(settings: &BehaviourFitSettings) -> Result<&'static str> {
    match settings.solver {
        Solver::LevenbergMarquardt => match obstacle(settings) {
            Some(why) => Err(crate::Error::config("solver", why)),
            None => Ok(LEVENBERG_MARQUARDT),
        },
        Solver::Auto | Solver::Lbfgs => Ok(match settings.fit.optimizer {
            OptimizerKind::Lbfgs => "lbfgs",
            OptimizerKind::Adam => "adam",
        }),
    }
}

/// The cross-entropy on every session as a likelihood problem over θ.
struct Choices<'a, R> {
    objective: &'a BehaviourObjective<'a, R>,
    items: Vec<usize>,
}

impl<R: PlasticityRule> ThetaLeastSquares for Choices<'_, R> {
    fn loss(&self, theta: &[f64]) -> f64 {
        self.objective.loss(theta, &self.items)
    }

    /// Over the objective's active parameters, which [`fit_choices`] makes the
    /// parametrisation's trainable ones (`_active`).
    fn system(&self, theta: &[f64], _active: &[usize]) -> Result<GaussNewtonSystem> {
        self.objective.fisher_scoring(theta, &self.items)
    }

    fn model(&self) -> LossModel {
        LossModel::Likelihood
    }
}

/// The solver's settings for choices: Levenberg's damping `D = max_j H_jj · I`
/// (`damping_floor` 1) rather than Marquardt's `diag H`. From θ ≈ 0 with all 81 terms,
/// Marquardt's first steps put coefficients of order 1 on high-order terms whose
/// monomials are still tiny (`x²y²r`); the weights then run into the bound, where the
/// clip's zero derivative leaves the fit on a plateau (cross-entropy 0.636 after 250
/// steps on `simulate behaviour`, against 0.379 with Levenberg's damping in 44
/// steps; with 5 terms both give the same optimum).
fn choices_solver(settings: &BehaviourFitSettings) -> LevenbergMarquardt {
    LevenbergMarquardt {
        tolerance: settings.fit.tolerance,
        damping_floor: 1.0,
        ..LevenbergMarquardt::default()
    }
}

/// Fits `objective` (whose active parameters are `parametrisation`'s trainable ones)
/// from the canonical `start` by Levenberg–Marquardt: at most `settings.fit.epochs`
/// kept steps, each one Fisher-scoring system; continues the checkpoint in
/// `settings.fit.resume` exactly.
pub(super) fn fit_choices<R: PlasticityRule>(
    objective: &BehaviourObjective<'_, R>,
    parametrisation: &Parametrisation,
    start: &[f64],
    settings: &BehaviourFitSettings,
    observer: &mut dyn FnMut(&EpochReport<'_>) -> ControlFlow<()>,
) -> Result<FitOutcome> {
    if settings.fit.epochs == 0 {
        return Err(crate::Error::config("epochs", "must be at least 1"));
    }
    let items: Vec<usize> = (0..objective.n_items()).collect();
    let problem_of = |_: usize| Choices {
        objective,
        items: items.clone(),
    };
    // one stage over the whole sessions: the horizon is only a label here
    let whole = usize::MAX;
    let staged = StagedProblem {
        problem_of: &problem_of,
        full_horizon: whole,
        stage_tolerance: settings.fit.tolerance,
        solver: choices_solver(settings),
    };
    let resume = settings
        .fit
        .resume
        .as_ref()
        .and_then(|checkpoint| checkpoint.staged.as_deref());
    let fitted = levenberg_marquardt_stages(
        &staged,
        parametrisation,
        start,
        &[(whole, settings.fit.epochs, true)],
        Start {
            index: 0,
            first: None,
            resume,
        },
        observer,
    )?;
    let mut outcome = fitted.outcome;
    outcome.final_loss = match outcome.loss_history.last() {
        Some(&loss) => loss,
        None => objective.loss(&outcome.theta, &items),
    };
    Ok(outcome)
}

#[cfg(test)]
mod tests;
