//! Classic models of choice behaviour that plasticity rules are compared against,
//! fitted with the same likelihood (the cross-entropy of every recorded decision:
//! Bernoulli for accept/reject, categorical for a choice among options) and reported
//! with the same metrics.

pub mod choice_q_learning;
pub mod q_learning;

use crate::fit::{fit, FitConfig, FitOutcome, OptimizerKind, Parametrisation};
use crate::objective::Objective;
use crate::{Error, Result};

/// Maximum likelihood of a baseline from several starting points: L-BFGS (at most
/// `iterations`, tolerance 1e-12) over every parameter of `objective` from each of
/// `starts`; the lowest finite loss wins (the first on ties). Returns its start's index
/// and its outcome; an error naming `what` when every start diverged. The likelihood
/// of the Q-learning agents is not convex in their rates, hence several starts.
pub(crate) fn best_of_starts<O: Objective>(
    objective: &O,
    starts: impl IntoIterator<Item = Vec<f64>>,
    iterations: usize,
    what: &str,
) -> Result<(usize, FitOutcome)> {
    let parametrisation = Parametrisation::identity(objective.n_parameters());
    let config = FitConfig {
        optimizer: OptimizerKind::Lbfgs,
        epochs: iterations,
        tolerance: 1e-12,
        ..FitConfig::default()
    };
    let mut best: Option<(usize, FitOutcome)> = None;
    for (start, initial) in starts.into_iter().enumerate() {
        let outcome = fit(
            objective,
            &parametrisation,
            &initial,
            &[],
            &config,
            &mut |_| std::ops::ControlFlow::Continue(()),
        )?;
        if outcome.final_loss.is_finite()
            && best
                .as_ref()
                .is_none_or(|(_, b)| outcome.final_loss < b.final_loss)
        {
            best = Some((start, outcome));
        }
    }
    best.ok_or_else(|| {
        Error::Numerical(format!("the {what} fit diverged from every starting point"))
    })
}

pub use choice_q_learning::{
    choice_q_learning_losses, choice_q_learning_mean_loss_and_gradient, fit_choice_q_learning,
    ChoiceQLearningFit, ChoiceQLearningObjective, ChoiceQLearningParameters, ChoiceQVariant,
    ChoiceSequence,
};
pub use q_learning::{
    fit_q_learning, q_learning_losses, q_learning_mean_loss_and_gradient, QLearningFit,
    QLearningObjective, QLearningParameters,
};
