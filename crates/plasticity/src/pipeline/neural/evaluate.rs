//! A fitted rule against the recording and, for simulated data, the generating rule:
//! loss, R² of weights and activity on fresh trajectories, coefficient error, and what
//! the data determine (identifiability).

use serde::{Deserialize, Serialize};

use crate::analysis::metrics::{
    evaluate_neural, named_coefficient_error, FreshTrajectories, NeuralEvaluation,
};
use crate::data::mean_and_std;
use crate::data::NeuralDataset;
use crate::fit::{Basis, FitOutcome, VariableScales};
use crate::gradient::GradientStrategy;
use crate::objective::{NeuralObjective, Objective};
use crate::rule::{parse_expression, PlasticityRule, Rule, TaylorRule, Variables};
use crate::Result;

/// Metrics of a fitted rule.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NeuralFitMetrics {
    /// Median R² of weights on fresh trajectories (`None` without a generating rule).
    pub r2_weights: Option<f64>,
    /// Median R² of activity on fresh trajectories.
    pub r2_activity: Option<f64>,
    /// Data loss of the fitted rule (no penalty).
    pub final_loss: f64,
    /// Data loss of the generating rule on the same data, for comparison.
    pub loss_at_generating_rule: Option<f64>,
    /// Fitted minus generating coefficient per term (Taylor with a generating rule).
    pub coefficient_error: Option<serde_json::Map<String, serde_json::Value>>,
    /// Per-trajectory details of the evaluation.
    pub evaluation: Option<NeuralEvaluation>,
}

/// A finished fit of a neural dataset.
#[derive(Clone, Debug)]
pub struct NeuralFit {
    /// The rule that was fitted.
    pub rule: Rule,
    /// Optimizer outcome (θ, histories, stopping reason).
    pub outcome: FitOutcome,
    /// Metrics.
    pub metrics: NeuralFitMetrics,
    /// The basis the optimizer actually used.
    pub basis_used: Basis,
    /// The variable scales measured on the data.
    pub scales: VariableScales,
    /// What the data determine about the fitted θ ([`crate::analysis::identifiability`]), as the
    /// `identifiability` section of `results.json`.
    pub identifiability: serde_json::Value,
    /// The optimizer that ran: `levenberg-marquardt`, `lbfgs` or `adam`.
    pub solver_used: &'static str,
}

/// Means and standard deviations of x (inputs), y (recorded activity) and w (initial
/// weights) in the data; r is absent (mean 0, scale 1).
pub fn neural_scales(dataset: &NeuralDataset) -> VariableScales {
    let (mx, sx) = mean_and_std(dataset.inputs.iter().copied());
    let (my, sy) = mean_and_std(dataset.recorded_activity.iter().copied());
    let (mw, sw) = mean_and_std(dataset.initial_weights.iter().copied());
    VariableScales {
        mean: [mx, my, mw, 0.0],
        std: [sx, sy, sw, 1.0],
    }
}

/// The generating θ (Taylor over (x, y, w)) from the dataset's metadata, if any.
pub fn generating_theta(dataset: &NeuralDataset) -> Result<Option<Vec<f64>>> {
    dataset
        .generating_rule()
        .map(|expression| parse_expression(expression, Variables::Xyw))
        .transpose()
}

/// How fresh evaluation trajectories are drawn for this dataset: the metadata's
/// distributions where recorded, otherwise those measured on the data.
pub fn fresh_trajectories(dataset: &NeuralDataset, count: usize, seed: u64) -> FreshTrajectories {
    let scales = neural_scales(dataset);
    FreshTrajectories {
        n_pre: dataset.n_pre(),
        n_post: dataset.n_post(),
        steps: dataset.steps(),
        input_std: dataset.metadata_f64("input_std").unwrap_or(scales.std[0]),
        initial_weight_std: dataset
            .metadata_f64("initial_weight_std")
            .unwrap_or(scales.std[2]),
        trajectories: count,
        // a stream of its own, apart from the data's and the fit's
        seed: seed ^ 0x5eed_e7a1_0000_0001,
    }
}

/// Evaluates `theta` of `rule` on a dataset: the data loss, and against the generating
/// rule (if the metadata has one) R² of weights and activity on `eval_trajectories`
/// fresh trajectories and the coefficient error.
pub fn evaluate_on_dataset(
    dataset: &NeuralDataset,
    rule: &Rule,
    theta: &[f64],
    eval_trajectories: usize,
    seed: u64,
) -> Result<NeuralFitMetrics> {
    let items: Vec<usize> = (0..dataset.n_trajectories()).collect();
    let objective = NeuralObjective::new(dataset, rule.clone(), GradientStrategy::Checkpointed)?;
    let final_loss = objective.loss(theta, &items);
    let generating = generating_theta(dataset)?;
    let Some(true_theta) = generating else {
        return Ok(NeuralFitMetrics {
            r2_weights: None,
            r2_activity: None,
            final_loss,
            loss_at_generating_rule: None,
            coefficient_error: None,
            evaluation: None,
        });
    };
    let true_rule = TaylorRule::new(Variables::Xyw);
    let true_objective = NeuralObjective::new(dataset, true_rule, GradientStrategy::Checkpointed)?;
    let loss_at_generating_rule = Some(true_objective.loss(&true_theta, &items));
    let evaluation = if eval_trajectories > 0 {
        let fresh = fresh_trajectories(dataset, eval_trajectories, seed);
        Some(evaluate_neural(
            &true_rule,
            &true_theta,
            rule,
            theta,
            &fresh,
        )?)
    } else {
        None
    };
    let coefficient_error = rule
        .as_taylor()
        .map(|taylor| named_coefficient_error(taylor.variables(), theta, &true_theta));
    Ok(NeuralFitMetrics {
        r2_weights: evaluation.as_ref().map(|e| e.r2_weights),
        r2_activity: evaluation.as_ref().map(|e| e.r2_activity),
        final_loss,
        loss_at_generating_rule,
        coefficient_error,
        evaluation,
    })
}

/// The name [`NeuralFit::solver_used`] gives an optimizer of [`fit`].
pub(crate) fn optimizer_name(optimizer: crate::fit::OptimizerKind) -> &'static str {
    match optimizer {
        crate::fit::OptimizerKind::Lbfgs => "lbfgs",
        crate::fit::OptimizerKind::Adam => "adam",
    }
}

/// What the data determine about `theta` ([`crate::analysis::identifiability`]) for its
/// `trainable` parameters, as the `identifiability` section of `results.json`.
pub(crate) fn neural_identifiability(
    dataset: &NeuralDataset,
    rule: &Rule,
    theta: &[f64],
    trainable: &[usize],
) -> serde_json::Value {
    match rule.as_taylor() {
        Some(taylor) => crate::analysis::identifiability::results_section(
            crate::analysis::identifiability::neural_curvature(dataset, taylor, theta, trainable),
            &rule.parameter_names(),
            theta,
        ),
        None => crate::analysis::identifiability::not_computed(
            "an MLP's parameters have no names whose identifiability could be stated",
        ),
    }
}
