//! Fitting a rule to a neural-activity dataset end to end: choose the rule and its
//! trainable terms, measure the variables' scales for the optimiser's basis, fit, and
//! evaluate against the generating rule when the data were simulated.

mod least_squares;
use std::ops::ControlFlow;

use serde::{Deserialize, Serialize};

use crate::analysis::metrics::{
    evaluate_neural, named_coefficient_error, FreshTrajectories, NeuralEvaluation,
};
use crate::data::NeuralDataset;
use crate::fit::{
    fit, initial_theta, mean_and_std, rule_parametrisation, Basis, EpochReport, FitConfig,
    FitOutcome, Solver, VariableScales,
};
use crate::gradient::GradientStrategy;
use crate::objective::{NeuralObjective, Objective};
use crate::rule::{parse_expression, MlpRule, PlasticityRule, Rule, TaylorRule, Variables};
use crate::Result;

/// Which rule family to fit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleFamily {
    /// Truncated Taylor series.
    #[default]
    Taylor,
    /// Multilayer perceptron.
    Mlp,
}

/// Everything that defines a fit of a neural dataset.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NeuralFitSettings {
    /// Rule family.
    pub rule_family: RuleFamily,
    /// Trainable Taylor terms (`all`, a term list, `vars:x,y`, `degree:2`).
    pub trainable: String,
    /// MLP hidden layer sizes.
    pub hidden: Vec<usize>,
    /// The basis the optimiser works in (Taylor); `None` chooses by optimiser:
    /// `scaled` for L-BFGS (better conditioned), `canonical` for Adam (whose step size
    /// then means what it means in the paper: at most ~α per coefficient per step).
    pub basis: Option<Basis>,
    /// Initial θ: `random` (Taylor `N(0, 1e-5²)`, MLP `N(0, 0.01²)`), `zeros`, or a
    /// Taylor expression.
    pub init: String,
    /// Optimiser settings.
    pub fit: FitConfig,
    /// Trajectory gradient strategy.
    pub gradient: GradientStrategy,
    /// Fresh trajectories for the R² metrics.
    pub eval_trajectories: usize,
    /// The solver: `auto` runs Levenberg–Marquardt through the network engine where
    /// it applies (no L1/L2 penalty, not Adam), else `fit.optimizer`.
    #[serde(default)]
    pub solver: Solver,
}

impl Default for NeuralFitSettings {
    fn default() -> Self {
        NeuralFitSettings {
            rule_family: RuleFamily::Taylor,
            trainable: "all".into(),
            hidden: vec![10],
            basis: None,
            init: "random".into(),
            fit: FitConfig::default(),
            gradient: GradientStrategy::Checkpointed,
            eval_trajectories: 5,
            solver: Solver::Auto,
        }
    }
}

impl NeuralFitSettings {
    /// The basis used: the one given, or the optimiser's default.
    pub fn basis(&self) -> Basis {
        self.basis.unwrap_or(match self.fit.optimizer {
            crate::fit::OptimizerKind::Lbfgs => Basis::Scaled,
            crate::fit::OptimizerKind::Adam => Basis::Canonical,
        })
    }
}

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
    /// Optimiser outcome (θ, histories, stopping reason).
    pub outcome: FitOutcome,
    /// Metrics.
    pub metrics: NeuralFitMetrics,
    /// The basis the optimiser actually used.
    pub basis_used: Basis,
    /// The variable scales measured on the data.
    pub scales: VariableScales,
    /// What the data determine about the fitted θ ([`crate::analysis::identifiability`]), as the
    /// `identifiability` section of `results.json`.
    pub identifiability: serde_json::Value,
    /// The optimiser that ran: `levenberg-marquardt`, `lbfgs` or `adam`.
    pub solver_used: &'static str,
}

/// The rule of `settings`, over (x, y, w).
pub fn build_rule(settings: &NeuralFitSettings) -> Result<Rule> {
    Ok(match settings.rule_family {
        RuleFamily::Taylor => Rule::Taylor(TaylorRule::new(Variables::Xyw)),
        RuleFamily::Mlp => Rule::Mlp(MlpRule::new(Variables::Xyw, &settings.hidden)?),
    })
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
    let objective = NeuralObjective::new(dataset, rule.clone(), GradientStrategy::Checkpointed);
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
    let true_objective = NeuralObjective::new(dataset, true_rule, GradientStrategy::Checkpointed);
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
    let coefficient_error = match rule {
        Rule::Taylor(taylor) => Some(named_coefficient_error(
            taylor.variables(),
            theta,
            &true_theta,
        )),
        Rule::Mlp(_) => None,
    };
    Ok(NeuralFitMetrics {
        r2_weights: evaluation.as_ref().map(|e| e.r2_weights),
        r2_activity: evaluation.as_ref().map(|e| e.r2_activity),
        final_loss,
        loss_at_generating_rule,
        coefficient_error,
        evaluation,
    })
}

/// The bytes a neural fit of `dataset` needs at least: the dataset's arrays and, for
/// each of `threads` threads, a gradient workspace holding the weights of one segment
/// of a trajectory (all its steps for the full tape or a short trajectory, about √T for
/// the checkpointed adjoint), the segment checkpoints and four more weight matrices —
/// or, in forward mode, the tangents of 27 parameters per synapse (an MLP's may be
/// more) and two more matrices; `None` if that overflows a `u64`.
pub fn neural_fit_bytes(
    dataset: &NeuralDataset,
    strategy: GradientStrategy,
    threads: usize,
) -> Option<u64> {
    use crate::limits::f64_bytes;
    let synapses = dataset.n_post().checked_mul(dataset.n_pre())?;
    let steps = dataset.steps();
    let matrices = if strategy == GradientStrategy::Forward {
        Variables::Xyw.n_terms() + 2
    } else {
        let segment = strategy.segment_length_within_budget(steps, synapses.checked_mul(8)?);
        segment
            .checked_add(steps.div_ceil(segment))?
            .checked_add(4)?
    };
    let workspaces = f64_bytes(&[threads.max(1), matrices, synapses])?;
    let arrays =
        dataset.inputs.len() + dataset.initial_weights.len() + dataset.recorded_activity.len();
    f64_bytes(&[arrays])?.checked_add(workspaces)
}

/// Where a fit of `settings` starts: its rule, the optimiser's parametrisation in
/// `basis` (trainable terms, variable scales), the penalised parameters and the initial
/// θ as the parametrisation represents it.
pub(crate) struct FitStart {
    pub(crate) rule: Rule,
    pub(crate) parametrisation: crate::fit::Parametrisation,
    pub(crate) penalised: Vec<usize>,
    pub(crate) theta: Vec<f64>,
}

impl FitStart {
    pub(crate) fn of(
        settings: &NeuralFitSettings,
        basis: Basis,
        scales: &VariableScales,
    ) -> Result<FitStart> {
        let rule = build_rule(settings)?;
        let theta0 = initial_theta(&rule, &settings.init, settings.fit.seed)?;
        let (parametrisation, penalised) =
            rule_parametrisation(&rule, &settings.trainable, basis, scales)?;
        let theta = parametrisation.theta(&parametrisation.phi(&theta0));
        Ok(FitStart {
            rule,
            parametrisation,
            penalised,
            theta,
        })
    }
}

/// Fits `settings` to `dataset`; `observer` sees every epoch and may stop the fit.
pub fn fit_neural(
    dataset: &NeuralDataset,
    settings: &NeuralFitSettings,
    observer: &mut dyn FnMut(&EpochReport<'_>) -> ControlFlow<()>,
) -> Result<NeuralFit> {
    let threads = rayon::current_num_threads();
    // what would fit instead: the other gradient strategies, fewer threads
    let bytes = |strategy, threads| neural_fit_bytes(dataset, strategy, threads);
    let mut alternatives: Vec<(String, Option<u64>)> = [
        (GradientStrategy::Checkpointed, "checkpointed"),
        (GradientStrategy::Forward, "forward"),
    ]
    .into_iter()
    .filter(|&(strategy, _)| strategy != settings.gradient)
    .map(|(strategy, name)| (format!("--gradient {name}"), bytes(strategy, threads)))
    .collect();
    let limit = crate::limits::max_dataset_bytes();
    if let Some(fewer) = (1..threads)
        .rev()
        .find(|&t| bytes(settings.gradient, t).is_some_and(|b| b <= limit))
    {
        alternatives.push((
            format!("{fewer} thread(s) (RAYON_NUM_THREADS={fewer})"),
            bytes(settings.gradient, fewer),
        ));
    }
    crate::limits::check_working_bytes(
        &format!(
            "fitting {} trajectories × {} steps of a {} → {} layer on {threads} thread(s)",
            dataset.n_trajectories(),
            dataset.steps(),
            dataset.n_pre(),
            dataset.n_post()
        ),
        bytes(settings.gradient, threads),
        &alternatives,
    )?;
    if solver_for(settings)? == least_squares::LEVENBERG_MARQUARDT {
        if let Some(fitted) =
            least_squares::fit_neural_levenberg_marquardt(dataset, settings, observer)?
        {
            return Ok(fitted);
        }
        // auto: where Levenberg–Marquardt's steps made the simulation overflow (noisy
        // small recordings: 25 of the 36 cells of noise_fraction.toml at 20→100), the
        // fit is L-BFGS's from the start, whose line search backs off from overflow —
        // exactly the fit `--solver lbfgs` gives, so that a resumed run agrees with it.
        // A checkpoint here is Levenberg–Marquardt's (one of L-BFGS's never reaches
        // Levenberg–Marquardt: see `obstacle`), which L-BFGS cannot continue: it starts
        // from the start, as the uninterrupted fit did
        let lbfgs = NeuralFitSettings {
            solver: Solver::Lbfgs,
            fit: crate::fit::FitConfig {
                resume: None,
                ..settings.fit.clone()
            },
            ..settings.clone()
        };
        return fit_neural(dataset, &lbfgs, observer);
    }
    let scales = neural_scales(dataset);
    let FitStart {
        rule,
        parametrisation,
        penalised,
        theta: start,
    } = FitStart::of(settings, settings.basis(), &scales)?;
    // forward mode carries tangents for the trainable parameters only
    let objective = NeuralObjective::new(dataset, rule.clone(), settings.gradient)
        .with_active_parameters(parametrisation.trainable().to_vec());
    let outcome = fit(
        &objective,
        &parametrisation,
        &start,
        &penalised,
        &settings.fit,
        observer,
    )?;
    let metrics = evaluate_on_dataset(
        dataset,
        &rule,
        &outcome.theta,
        settings.eval_trajectories,
        settings.fit.seed,
    )?;
    let identifiability =
        neural_identifiability(dataset, &rule, &outcome.theta, parametrisation.trainable());
    Ok(NeuralFit {
        rule,
        basis_used: parametrisation.basis(),
        outcome,
        metrics,
        scales,
        identifiability,
        solver_used: optimizer_name(settings.fit.optimizer),
    })
}

/// The solver a fit with `settings` will run (as [`NeuralFit::solver_used`] names
/// it), or why the one asked for does not apply.
pub fn solver_for(settings: &NeuralFitSettings) -> Result<&'static str> {
    let obstacle = least_squares::obstacle(settings);
    match (settings.solver, obstacle) {
        (Solver::LevenbergMarquardt, Some(why)) => Err(crate::Error::config("solver", why)),
        (Solver::LevenbergMarquardt | Solver::Auto, None) => Ok(least_squares::LEVENBERG_MARQUARDT),
        _ => Ok(optimizer_name(settings.fit.optimizer)),
    }
}

/// The name [`NeuralFit::solver_used`] gives an optimiser of [`fit`].
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
    match rule {
        Rule::Taylor(taylor) => crate::analysis::identifiability::results_section(
            crate::analysis::identifiability::neural_curvature(dataset, taylor, theta, trainable),
            &rule.parameter_names(),
            theta,
        ),
        Rule::Mlp(_) => crate::analysis::identifiability::not_computed(
            "an MLP's parameters have no names whose identifiability could be stated",
        ),
    }
}

/// Means and standard deviations of x, y and w as [`neural_scales`] measures them (the
/// same values, in the same order), read from a streamed dataset in one pass.
pub fn neural_scales_streamed(stream: &crate::data::NeuralStream) -> Result<VariableScales> {
    let n_rec = stream.recorded_neurons().len();
    let mut input = vec![0.0; stream.n_pre()];
    let mut recorded = vec![0.0; n_rec];
    // Welford over each array in file order, as mean_and_std does in memory
    let mut inputs = Welford::default();
    let mut activity = Welford::default();
    for k in 0..stream.n_trajectories() {
        let mut steps = stream.trajectory(k)?;
        while steps.next_step(&mut input, &mut recorded)? {
            input.iter().for_each(|&v| inputs.push(v));
            recorded.iter().for_each(|&v| activity.push(v));
        }
    }
    let weights =
        (0..stream.n_trajectories()).flat_map(|k| stream.initial_weights(k).iter().copied());
    let (mw, sw) = mean_and_std(weights);
    let ((mx, sx), (my, sy)) = (inputs.mean_and_std(), activity.mean_and_std());
    Ok(VariableScales {
        mean: [mx, my, mw, 0.0],
        std: [sx, sy, sw, 1.0],
    })
}

/// [`mean_and_std`]'s recurrence, fed one value at a time.
#[derive(Default)]
struct Welford {
    n: f64,
    mean: f64,
    m2: f64,
}

impl Welford {
    fn push(&mut self, v: f64) {
        self.n += 1.0;
        let delta = v - self.mean;
        self.mean += delta / self.n;
        self.m2 += delta * (v - self.mean);
    }

    fn mean_and_std(&self) -> (f64, f64) {
        if self.n < 1.0 {
            (0.0, 1.0)
        } else {
            (self.mean, (self.m2 / self.n).sqrt())
        }
    }
}

/// Fits `settings` to a dataset that streams from its file, with forward-mode
/// gradients (memory independent of the recording's length; every evaluation reads
/// the file again). The metrics are the data loss, the loss at the generating rule and
/// the coefficient error; R² on fresh trajectories is not computed for streamed data
/// (`plasticity evaluate` computes it for a given θ).
pub fn fit_neural_streamed(
    stream: &crate::data::NeuralStream,
    settings: &NeuralFitSettings,
    observer: &mut dyn FnMut(&EpochReport<'_>) -> ControlFlow<()>,
) -> Result<NeuralFit> {
    if settings.solver == Solver::LevenbergMarquardt {
        return Err(crate::Error::config(
            "solver",
            "Levenberg–Marquardt fits a recording held in memory, not one streamed from its file (use --gradient checkpointed, or --solver lbfgs)",
        ));
    }
    let scales = neural_scales_streamed(stream)?;
    let FitStart {
        rule,
        parametrisation,
        penalised,
        theta: start,
    } = FitStart::of(settings, settings.basis(), &scales)?;
    let objective = crate::objective::StreamedNeuralObjective::new(stream, rule.clone())
        .with_active_parameters(parametrisation.trainable().to_vec());
    let outcome = fit(
        &objective,
        &parametrisation,
        &start,
        &penalised,
        &settings.fit,
        observer,
    );
    if let Some(error) = objective.take_error() {
        return Err(error);
    }
    let outcome = outcome?;
    let items: Vec<usize> = (0..stream.n_trajectories()).collect();
    let final_loss = objective.loss(&outcome.theta, &items);
    let generating = stream
        .generating_rule()
        .map(|expression| parse_expression(expression, Variables::Xyw))
        .transpose()?;
    let (loss_at_generating_rule, coefficient_error) = match (&generating, &rule) {
        (Some(true_theta), Rule::Taylor(taylor)) => {
            let true_objective = crate::objective::StreamedNeuralObjective::new(
                stream,
                TaylorRule::new(taylor.variables()),
            );
            let loss = true_objective.loss(true_theta, &items);
            if let Some(error) = true_objective.take_error() {
                return Err(error);
            }
            (
                Some(loss),
                Some(named_coefficient_error(
                    taylor.variables(),
                    &outcome.theta,
                    true_theta,
                )),
            )
        }
        _ => (None, None),
    };
    if let Some(error) = objective.take_error() {
        return Err(error);
    }
    Ok(NeuralFit {
        rule,
        basis_used: parametrisation.basis(),
        outcome,
        metrics: NeuralFitMetrics {
            r2_weights: None,
            r2_activity: None,
            final_loss,
            loss_at_generating_rule,
            coefficient_error,
            evaluation: None,
        },
        scales,
        identifiability: crate::analysis::identifiability::not_computed(
            "not computed for a streamed recording (plasticity identify computes it for data in memory)",
        ),
        solver_used: optimizer_name(settings.fit.optimizer),
    })
}
