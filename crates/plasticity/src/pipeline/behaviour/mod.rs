//! Fitting a rule to choices (docs/model.md §4.2): the model is driven by the recorded odours,
//! decisions and rewards with freshly re-sampled sensory noise, fitted by Adam or
//! L-BFGS on the cross-entropy plus an L1 penalty (or by Levenberg–Marquardt as Fisher
//! scoring on the plain cross-entropy: `least_squares.rs`), and evaluated on fresh
//! sessions against the generating rule (R² of weights and activity, percent deviance and the
//! generating rule's own percent deviance, the ceiling). The loss, its gradient (adjoint
//! or forward mode) and the Fisher-scoring system come from the engine, which runs the
//! circuit as its network instance ([`crate::gradient::network::BehaviourEngine`]).

mod least_squares;

use std::ops::ControlFlow;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::analysis::metrics::{median, named_coefficient_error, ColumnR2, WeightTrajectories};
use crate::circuit::BehaviourCircuit;
use crate::data::{BehaviourDataset, BehaviourKind};
use crate::fit::{
    fit, initial_theta, rule_parametrisation, Basis, EpochReport, FitConfig, FitOutcome,
    OptimizerKind, Solver, VariableScales,
};
use crate::gradient::network::{BehaviourEngine, NetworkWorkspace};
use crate::gradient::{replay_session, GradientStrategy};
use crate::objective::BehaviourObjective;
use crate::rule::RuleFamily;
use crate::rule::{parse_expression, PlasticityRule, Rule, TaylorRule, Variables};
use crate::task::BehaviourTask;
use crate::{Error, Result};

pub use crate::data::behaviour::{circuit_of, resample_inputs};
pub use least_squares::{solver_for, LEVENBERG_MARQUARDT};

/// Which inputs drive the model during a fit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InputSource {
    /// Each presentation's odour pattern plus freshly drawn sensory noise (docs/model.md §4.2:
    /// an animal's exact sensory noise is unknowable).
    #[default]
    Resampled,
    /// The dataset's `inputs` exactly.
    Recorded,
}

/// Everything that defines a fit of a behaviour dataset.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BehaviourFitSettings {
    /// Rule family (over x, y, w, r).
    pub rule_family: RuleFamily,
    /// Trainable Taylor terms.
    pub trainable: String,
    /// MLP hidden layer sizes.
    pub hidden: Vec<usize>,
    /// The optimizer's basis (Taylor); behaviour fits default to the canonical
    /// monomials (the weights drift far from their initial scale during a session, so
    /// no scale measured on the data is typical).
    pub basis: Basis,
    /// Initial θ: `random`, `zeros` or an expression.
    pub init: String,
    /// Optimizer settings (defaults: Adam, 250 epochs, learning rate 1e-3, one session
    /// per minibatch, L1 1e-2).
    pub fit: FitConfig,
    /// Gradient strategy over presentations.
    pub gradient: GradientStrategy,
    /// Bound `B` on the weights during the fit (`W ← clip(W, −B, B)` after every
    /// update), or `None`. Default 10, as in the PyTorch reproduction of the paper.
    pub weight_bound: Option<f64>,
    /// Which inputs drive the model.
    pub inputs: InputSource,
    /// Seed of the re-sampled sensory noise (apart from the fit's own seed, so that
    /// several re-samples can be fitted with the same optimizer seed).
    pub input_seed: u64,
    /// Fresh sessions for the metrics (SPEC: 7).
    pub eval_sessions: usize,
    /// `levenberg-marquardt`: damped Fisher scoring on the plain cross-entropy (no
    /// penalty, not Adam); `auto` and `lbfgs`: the `fit.optimizer` (see
    /// [`solver_for`]).
    #[serde(default)]
    pub solver: Solver,
}

impl Default for BehaviourFitSettings {
    fn default() -> Self {
        BehaviourFitSettings {
            rule_family: RuleFamily::Taylor,
            trainable: "all".into(),
            hidden: vec![10],
            basis: Basis::Canonical,
            init: "random".into(),
            fit: FitConfig {
                optimizer: OptimizerKind::Adam,
                epochs: 250,
                l1: 1e-2,
                ..FitConfig::default()
            },
            gradient: GradientStrategy::Checkpointed,
            weight_bound: Some(10.0),
            inputs: InputSource::Resampled,
            input_seed: 0,
            eval_sessions: 7,
            solver: Solver::Auto,
        }
    }
}

/// R² of weights and activity and percent deviance on fresh sessions, for the fitted
/// rule and (the ceiling) the generating rule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BehaviourEvaluation {
    /// Median over sessions of the R² of the weight trajectories.
    pub r2_weights: f64,
    /// Median over sessions of the R² of the hidden activity at every presentation.
    pub r2_activity: f64,
    /// `100 (D_null − D_fit) / D_null` over the sessions' presentations.
    pub percent_deviance: f64,
    /// The same for the generating rule: the ceiling a fit can reach.
    pub ceiling_percent_deviance: f64,
    /// Per-session R² of weights.
    pub r2_weights_per_session: Vec<f64>,
    /// Per-session R² of activity.
    pub r2_activity_per_session: Vec<f64>,
    /// Number of fresh sessions.
    pub sessions: usize,
}

/// Metrics of a fitted behaviour rule.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BehaviourFitMetrics {
    /// Median R² of weights on fresh sessions (`None` without a generating rule).
    pub r2_weights: Option<f64>,
    /// Median R² of activity on fresh sessions.
    pub r2_activity: Option<f64>,
    /// Cross-entropy of the fitted rule on the training data (no penalty).
    pub final_loss: f64,
    /// Percent deviance explained on the training data, against `θ = 0` from the
    /// same `W₀`.
    pub percent_deviance: f64,
    /// The generating rule's cross-entropy on the same training inputs.
    pub loss_at_generating_rule: Option<f64>,
    /// Fitted minus generating coefficient per term (Taylor, simulated data).
    pub coefficient_error: Option<serde_json::Map<String, serde_json::Value>>,
    /// Fresh-session evaluation against the generating rule.
    pub evaluation: Option<BehaviourEvaluation>,
    /// Weights the bound clipped while the fitted rule ran over the training data.
    pub weights_clipped_at_fit: usize,
    /// Weights the bound clipped over every evaluation of the fit.
    pub weights_clipped_during_fit: usize,
}

/// A finished fit of a behaviour dataset.
#[derive(Clone, Debug)]
pub struct BehaviourFit {
    /// The rule that was fitted.
    pub rule: Rule,
    /// Optimizer outcome.
    pub outcome: FitOutcome,
    /// Metrics.
    pub metrics: BehaviourFitMetrics,
    /// The basis the optimizer used.
    pub basis_used: Basis,
    /// What the choices determine about the fitted θ ([`crate::analysis::identifiability`]), as
    /// the `identifiability` section of `results.json`.
    pub identifiability: serde_json::Value,
    /// The solver that ran: `adam`, `lbfgs` or `levenberg-marquardt`.
    pub solver_used: &'static str,
}

/// The rule of a family over (x, y, w, r).
pub fn build_rule(family: RuleFamily, hidden: &[usize]) -> Result<Rule> {
    Rule::of_family(family, Variables::Xywr, hidden)
}

/// The generating θ (Taylor over (x, y, w, r)) from the metadata, if any.
pub fn generating_theta(dataset: &BehaviourDataset) -> Result<Option<Vec<f64>>> {
    dataset
        .generating_rule()
        .map(|expression| parse_expression(expression, Variables::Xywr))
        .transpose()
}

/// The task that generated a dataset, from its metadata (`task`), if recorded.
pub fn generating_task(dataset: &BehaviourDataset) -> Option<BehaviourTask> {
    dataset
        .metadata
        .get("task")
        .and_then(|v| serde_json::from_value(v.clone()).ok())
}

/// Simulates `sessions` fresh sessions with the generating task and rule, and compares
/// the fitted rule (run by `circuit`, driven by each session's inputs, decisions and
/// rewards from the same `W₀`) with the generating rule (docs/model.md §5).
pub fn evaluate_behaviour(
    task: &BehaviourTask,
    circuit: &BehaviourCircuit,
    rule: &Rule,
    theta: &[f64],
    sessions: usize,
    seed: u64,
) -> Result<BehaviourEvaluation> {
    let fresh_task = BehaviourTask {
        // a stream of its own, apart from the data's and the fit's; the two seeds are
        // mixed (not XOR-ed), so that no two (data, fit) seed pairs share sessions
        seed: mix_seeds(task.seed, seed),
        sessions,
        ..task.clone()
    };
    let simulated = fresh_task.simulate_sessions(0, sessions)?;
    let data = fresh_task.dataset(&simulated)?;
    let true_theta = parse_expression(&task.rule, Variables::Xywr)?;
    let true_engine = BehaviourEngine::new(&task.circuit(), Rule::taylor(Variables::Xywr))?;
    let engine = BehaviourEngine::new(circuit, rule.clone())?;
    let null_theta = vec![0.0; theta.len()];
    let per_session = (0..sessions)
        .into_par_iter()
        .map(|k| {
            let session = data.session(k);
            let true_session = true_engine.trajectory(session)?;
            let fitted_session = engine.trajectory(session)?;
            let n_syn = circuit.n_synapses();
            let mut truth = Vec::with_capacity(session.n_presentations());
            let mut ws = NetworkWorkspace::new();
            let true_loss =
                true_engine.replay(&true_theta, &true_session, &mut ws, |_, w, h, _| {
                    truth.push((w.to_vec(), h.to_vec()))
                });
            let mut r2_weights = ColumnR2::new(n_syn);
            let mut r2_activity = ColumnR2::new(circuit.n_hidden);
            // both replays visit the presentations in the engine's (same) order
            let mut step = 0;
            let fitted_loss = engine.replay(theta, &fitted_session, &mut ws, |_, w, h, _| {
                r2_weights.add_row(&truth[step].0, w);
                r2_activity.add_row(&truth[step].1, h);
                step += 1;
            });
            let null_loss = match data.kind() {
                BehaviourKind::Choice => data.chance_loss(k),
                BehaviourKind::AcceptReject => {
                    engine
                        .replay(&null_theta, &fitted_session, &mut ws, |_, _, _, _| {})
                        .loss
                }
            };
            let n = data.n_decisions(k) as f64;
            Ok((
                r2_weights.value(),
                r2_activity.value(),
                fitted_loss.loss * n,
                true_loss.loss * n,
                null_loss * n,
            ))
        })
        .collect::<Result<Vec<(f64, f64, f64, f64, f64)>>>()?;
    let r2_weights_per_session: Vec<f64> = per_session.iter().map(|s| s.0).collect();
    let r2_activity_per_session: Vec<f64> = per_session.iter().map(|s| s.1).collect();
    let (fitted, truth, null) = per_session.iter().fold((0.0, 0.0, 0.0), |acc, s| {
        (acc.0 + s.2, acc.1 + s.3, acc.2 + s.4)
    });
    Ok(BehaviourEvaluation {
        r2_weights: median(&r2_weights_per_session),
        r2_activity: median(&r2_activity_per_session),
        percent_deviance: percent_deviance(fitted, null),
        ceiling_percent_deviance: percent_deviance(truth, null),
        r2_weights_per_session,
        r2_activity_per_session,
        sessions,
    })
}

/// The weight trajectories of the `count` most-changing synapses over fresh session 0
/// of [`evaluate_behaviour`] (same task, seeds and circuit), one row per presentation,
/// under the generating rule and under `theta` of `rule`.
pub fn behaviour_weight_trajectories(
    task: &BehaviourTask,
    circuit: &BehaviourCircuit,
    rule: &Rule,
    theta: &[f64],
    seed: u64,
    count: usize,
) -> Result<WeightTrajectories> {
    let fresh_task = BehaviourTask {
        seed: mix_seeds(task.seed, seed),
        sessions: 1,
        ..task.clone()
    };
    let simulated = fresh_task.simulate_sessions(0, 1)?;
    let data = fresh_task.dataset(&simulated)?;
    let session = data.session(0);
    let true_theta = parse_expression(&task.rule, Variables::Xywr)?;
    let mut truth = Vec::with_capacity(session.n_presentations());
    replay_session(
        &task.circuit(),
        &TaylorRule::new(Variables::Xywr),
        &true_theta,
        session,
        |_, w, _, _| truth.push(w.to_vec()),
    )?;
    let mut fitted = Vec::with_capacity(session.n_presentations());
    replay_session(circuit, rule, theta, session, |_, w, _, _| {
        fitted.push(w.to_vec())
    })?;
    Ok(WeightTrajectories::of_most_changing(
        &truth,
        &fitted,
        count,
        circuit.n_in,
    ))
}

/// A seed for fresh evaluation sessions from the data's and the fit's seeds: the
/// SplitMix64 finaliser of a combination that is injective in the fit's seed.
fn mix_seeds(data_seed: u64, fit_seed: u64) -> u64 {
    let mut z = data_seed
        .wrapping_mul(0x9e37_79b9_7f4a_7c15)
        .wrapping_add(fit_seed)
        ^ 0x5eed_e7a1_0000_0001;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// `100 (D_null − D_model) / D_null` (docs/model.md §5); the factor 2 and the averaging of
/// `D = mean −2 log p` cancel, so cross-entropies of the same presentations serve.
pub fn percent_deviance(model_loss: f64, null_loss: f64) -> f64 {
    100.0 * (null_loss - model_loss) / null_loss
}

/// Fits `settings` to `dataset`; `observer` sees every epoch and may stop the fit.
pub fn fit_behaviour(
    dataset: &BehaviourDataset,
    settings: &BehaviourFitSettings,
    observer: &mut dyn FnMut(&EpochReport<'_>) -> ControlFlow<()>,
) -> Result<BehaviourFit> {
    if let Some(bound) = settings.weight_bound {
        if !(bound.is_finite() && bound > 0.0) {
            return Err(Error::config(
                "weight-bound",
                format!("must be a positive number or 'none', got {bound}"),
            ));
        }
    }
    let solver_used = solver_for(settings)?;
    let rule = build_rule(settings.rule_family, &settings.hidden)?;
    let theta0 = initial_theta(&rule, &settings.init, settings.fit.seed)?;
    let (parametrisation, penalised) = rule_parametrisation(
        &rule,
        &settings.trainable,
        settings.basis,
        &VariableScales::default(),
    )?;
    let start = parametrisation.theta(&parametrisation.phi(&theta0));
    let inputs = match settings.inputs {
        InputSource::Resampled => resample_inputs(dataset, settings.input_seed)?,
        InputSource::Recorded => dataset.inputs.clone(),
    };
    let circuit = circuit_of(dataset, settings.weight_bound);
    // forward mode carries tangents for the trainable parameters only
    let objective =
        BehaviourObjective::new(dataset, inputs, circuit, rule.clone(), settings.gradient)?
            .with_active_parameters(parametrisation.trainable().to_vec());
    let outcome = if solver_used == LEVENBERG_MARQUARDT {
        least_squares::fit_choices(&objective, &parametrisation, &start, settings, observer)?
    } else {
        fit(
            &objective,
            &parametrisation,
            &start,
            &penalised,
            &settings.fit,
            observer,
        )?
    };
    let weights_clipped_during_fit = objective.clipped();
    let (fitted_losses, weights_clipped_at_fit) = objective.session_losses(&outcome.theta);
    let null_losses = null_losses(dataset, &objective, outcome.theta.len());
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let final_loss = mean(&fitted_losses);
    let generating = generating_theta(dataset)?;
    let loss_at_generating_rule = match &generating {
        Some(true_theta) => {
            let true_objective = BehaviourObjective::new(
                dataset,
                objective.inputs().clone(),
                circuit_of(dataset, None),
                TaylorRule::new(Variables::Xywr),
                settings.gradient,
            )?;
            Some(mean(&true_objective.session_losses(true_theta).0))
        }
        None => None,
    };
    let evaluation = match (generating_task(dataset), settings.eval_sessions) {
        (Some(task), n) if n > 0 => Some(evaluate_behaviour(
            &task,
            &circuit,
            &rule,
            &outcome.theta,
            n,
            settings.fit.seed,
        )?),
        _ => None,
    };
    let coefficient_error = match (rule.as_taylor(), &generating) {
        (Some(taylor), Some(true_theta)) => Some(named_coefficient_error(
            taylor.variables(),
            &outcome.theta,
            true_theta,
        )),
        _ => None,
    };
    let metrics = BehaviourFitMetrics {
        r2_weights: evaluation.as_ref().map(|e| e.r2_weights),
        r2_activity: evaluation.as_ref().map(|e| e.r2_activity),
        final_loss,
        percent_deviance: percent_deviance(
            weighted(&fitted_losses, dataset),
            weighted(&null_losses, dataset),
        ),
        loss_at_generating_rule,
        coefficient_error,
        evaluation,
        weights_clipped_at_fit,
        weights_clipped_during_fit,
    };
    let identifiability = identifiability(
        dataset,
        &objective,
        &circuit,
        &rule,
        &outcome.theta,
        parametrisation.trainable(),
    );
    Ok(BehaviourFit {
        rule,
        basis_used: parametrisation.basis(),
        outcome,
        metrics,
        identifiability,
        solver_used,
    })
}

/// What the choices determine about the fitted `theta` of `rule` over `trainable`, as
/// the `identifiability` section of `results.json`.
fn identifiability(
    dataset: &BehaviourDataset,
    objective: &BehaviourObjective<'_, Rule>,
    circuit: &BehaviourCircuit,
    rule: &Rule,
    theta: &[f64],
    trainable: &[usize],
) -> serde_json::Value {
    match rule.as_taylor() {
        Some(taylor) => crate::analysis::identifiability::results_section(
            crate::analysis::identifiability::behaviour_curvature(
                dataset,
                objective.inputs(),
                circuit,
                taylor,
                theta,
                trainable,
            ),
            &rule.parameter_names(),
            theta,
        ),
        None => crate::analysis::identifiability::not_computed(
            "an MLP's parameters have no names whose identifiability could be stated",
        ),
    }
}

/// Σ_s P_s ℓ̄_s: the total loss over all decisions (presentations, or choices).
fn weighted(session_losses: &[f64], dataset: &BehaviourDataset) -> f64 {
    session_losses
        .iter()
        .enumerate()
        .map(|(k, l)| l * dataset.n_decisions(k) as f64)
        .sum()
}

/// Each session's mean loss per decision under the null model of percent deviance:
/// the rule `θ = 0` replayed (accept/reject, docs/model.md §5), or chance, every
/// offered option at `1/K` (a choice: `ln K`; the animal's initial weights are unknown,
/// so a replay with drawn ones would not be a 50:50 null).
pub fn null_losses<R: crate::rule::PlasticityRule>(
    dataset: &BehaviourDataset,
    objective: &BehaviourObjective<'_, R>,
    n_parameters: usize,
) -> Vec<f64> {
    match dataset.kind() {
        BehaviourKind::Choice => (0..dataset.n_sessions())
            .map(|k| dataset.chance_loss(k))
            .collect(),
        BehaviourKind::AcceptReject => objective.session_losses(&vec![0.0; n_parameters]).0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evaluation_seeds_differ_between_seed_pairs() {
        // (0, 0) and (2, 2) once gave the same evaluation sessions
        let mut seen = std::collections::HashSet::new();
        for data_seed in 0..20u64 {
            for fit_seed in 0..20u64 {
                assert!(
                    seen.insert(mix_seeds(data_seed, fit_seed)),
                    "({data_seed}, {fit_seed})"
                );
            }
        }
    }
}
