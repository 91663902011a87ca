//! Fitting the rules of a multi-population circuit to its recording: every rule's
//! trainable terms in a better-conditioned basis, shared `W₀` where the circuit file
//! asks, a staged horizon, and metrics against the generating rules.
//!
//! **Staged horizon.** Long recurrent trajectories make the loss landscape rough from
//! θ ≈ 0: the fit first matches the first `h₁` steps, then `h₂`, …, then all `T`, each
//! stage warm-started from the last.

pub mod least_squares;

pub use crate::fit::staged::{ChunkCheckpoint, StageReport};
use std::ops::ControlFlow;

use rand::rngs::ChaCha8Rng;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

use crate::analysis::metrics::{median, ColumnR2};
use crate::circuit::{Network, PopulationKind};
use crate::data::CircuitDataset;
use crate::fit::{
    fit, initial_theta, mean_and_std, Basis, EpochReport, FitCheckpoint, FitConfig, FitOutcome,
    Parametrisation, VariableScales,
};
use crate::gradient::network::{
    simulate_network, NetworkTrajectory, NetworkWorkspace, TrajectoryLoss,
};
use crate::gradient::GradientStrategy;
use crate::objective::{CircuitObjective, Objective};
use crate::rule::{term_names, PlasticityRule, Rule, Term, TrainableSpec, Variables};
use crate::task::circuit::draw_conditions;
use crate::Result;
use least_squares::{levenberg_marquardt_fit, levenberg_marquardt_obstacle};

/// Everything that defines a fit of a circuit recording (the rules, their trainable
/// terms and the treatment of `W₀` come from the circuit file).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CircuitFitSettings {
    /// Optimiser settings (`epochs` is the last stage's).
    pub fit: FitConfig,
    /// The basis the optimiser works in (Taylor rules).
    pub basis: Basis,
    /// Initial θ: `random` (Taylor `N(0, 1e-5²)`, MLP `N(0, 0.01²)`) or `zeros`.
    pub init: String,
    /// Trajectory gradient strategy.
    pub gradient: GradientStrategy,
    /// Horizons fitted before the whole recording, ascending (those ≥ T are skipped;
    /// `[0]`: none); empty: [`default_horizon_stages`] for the solver.
    pub horizon_stages: Vec<usize>,
    /// Epochs of each stage before the last (0: the solver's default,
    /// [`default_stage_epochs`]).
    pub stage_epochs: usize,
    /// Clip of plastic weights during the fit (overrides the circuit file's).
    pub weight_bound: Option<f64>,
    /// Fresh trajectories for the metrics.
    pub eval_trajectories: usize,
    /// At the start of every stage, rescale each free parameter to unit curvature of
    /// the loss (Jacobi preconditioning, from finite differences of the gradient).
    pub precondition: bool,
    /// Re-precondition (and restart L-BFGS) every this many epochs within a stage,
    /// as the curvature changes along the way (0: once per stage).
    pub precondition_every: usize,
    /// Epochs that fit only the shared `W₀` (θ held at its start) on the first step
    /// of every trajectory, before the rules join in (circuits with a fitted `W₀`;
    /// 0: none). The first step's activity `y_0 = f(W₀ a_0 + …)` does not depend on θ
    /// yet, so this is a regression of the recorded activity on `W₀` alone, and the
    /// joint fit then starts near the true `W₀` instead of at a draw of its prior.
    pub initial_weights_epochs: usize,
    /// Trajectories the curvature is measured on when a stage is re-preconditioned
    /// (`precondition_every`), evenly spaced through the recording (0: all); a stage's
    /// first scales always come from every trajectory. Each measurement costs one
    /// gradient per rule coefficient: on all 50 trajectories of the recurrent set-up
    /// they took half of a fit's gradients. (With a subset at the start of every
    /// stage too, 2 of the 8 fits of the recurrent grid failed that pass with every
    /// trajectory: the scales matter most where the horizon changes.)
    pub precondition_trajectories: usize,
    /// The optimiser of every stage (see [`CircuitSolver`]).
    #[serde(default)]
    pub solver: CircuitSolver,
    /// Levenberg–Marquardt: a stage before the last ends when two steps in a row
    /// lowered its loss by less than this fraction (the last stage: 1e-10). On noisy
    /// recordings the early stages otherwise spend many steps on decreases of 1e-6
    /// that the next horizon undoes.
    #[serde(default = "default_stage_tolerance")]
    pub stage_tolerance: f64,
    /// Levenberg–Marquardt: where the fit did not reach a zero residual (a loss at
    /// round-off), fit again from the same start in this basis and keep the lower loss
    /// (`None`: one fit). Levenberg–Marquardt's damping `λ diag JᵀJ` depends on the
    /// basis, and so does which valley a noisy fit with latent neurons ends in: on the
    /// recurrent set-up at σ = 0.05 the centred basis reached the truth's loss with 25 %
    /// of the neurons recorded and not with 10 %, the scaled one the other way round.
    #[serde(default = "default_second_basis")]
    pub second_basis: Option<Basis>,
}

fn default_second_basis() -> Option<Basis> {
    Some(Basis::Scaled)
}

fn default_stage_tolerance() -> f64 {
    1e-5
}

/// The optimiser of a circuit fit (the solver choice every least-squares fit shares).
pub type CircuitSolver = crate::fit::Solver;

impl Default for CircuitFitSettings {
    fn default() -> Self {
        CircuitFitSettings {
            fit: FitConfig {
                optimizer: crate::fit::OptimizerKind::Lbfgs,
                epochs: 300,
                l1: 0.0,
                lbfgs_line_search: crate::optim::LineSearch::Backtracking,
                ..FitConfig::default()
            },
            basis: Basis::Centred,
            init: "random".into(),
            gradient: GradientStrategy::Checkpointed,
            horizon_stages: Vec::new(),
            stage_epochs: 0,
            weight_bound: None,
            eval_trajectories: 5,
            precondition: true,
            precondition_every: 50,
            precondition_trajectories: 10,
            initial_weights_epochs: 200,
            solver: CircuitSolver::Auto,
            stage_tolerance: default_stage_tolerance(),
            second_basis: default_second_basis(),
        }
    }
}

/// Metrics of a fitted circuit against its generating rules, on fresh trajectories.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct CircuitFitMetrics {
    /// Data loss of the fitted parameters (every step; no penalty, no prior).
    pub final_loss: f64,
    /// Data loss of the generating rules (and true `W₀`) on the same data.
    pub loss_at_generating_rule: Option<f64>,
    /// Median over fresh trajectories of the column-wise R² of each plastic
    /// projection's weights over time.
    pub r2_weights_by_projection: serde_json::Map<String, serde_json::Value>,
    /// The same for the synapses onto latent (unrecorded) neurons only.
    pub r2_weights_latent: serde_json::Map<String, serde_json::Value>,
    /// Median R² of the activity of every simulated neuron.
    pub r2_activity: Option<f64>,
    /// Per rule: `RMS(g_fit − g_true) / RMS(g_true)` over states visited on fresh
    /// trajectories.
    pub rule_output_error: serde_json::Map<String, serde_json::Value>,
    /// Per rule and term: `|θ_k| · RMS(term_k) / RMS(g_true)` over those states.
    pub term_share: serde_json::Map<String, serde_json::Value>,
    /// Fitted minus generating coefficient, per `rule.term`.
    pub coefficient_error: serde_json::Map<String, serde_json::Value>,
    /// Per projection with fitted `W₀`: `‖W₀,fit − W₀,true‖ / ‖W₀,true‖`.
    pub initial_weights_error: serde_json::Map<String, serde_json::Value>,
    /// Correlation between recorded and latent neurons' activity, per population with
    /// both: the median over latent neurons of the largest |correlation| with any
    /// recorded neuron of the population (near 1: latent neurons are near-copies).
    pub latent_recorded_correlation: serde_json::Map<String, serde_json::Value>,
}

/// A finished circuit fit.
#[derive(Clone, Debug)]
pub struct CircuitFit {
    /// Optimiser outcome of the last stage, with every stage's history joined; θ then
    /// the fitted `W₀`.
    pub outcome: FitOutcome,
    /// The stages.
    pub stages: Vec<StageReport>,
    /// Metrics.
    pub metrics: CircuitFitMetrics,
    /// Names of the parameters (`rule.term`, then `W0.projection[i,j]`).
    pub parameter_names: Vec<String>,
    /// Per rule, the basis its block actually used.
    pub basis_used: Basis,
    /// The solver that ran (`auto` resolved).
    pub solver_used: CircuitSolver,
}

/// Means and standard deviations of a rule's variables over the projections that use
/// it: x from the presynaptic activity (inputs, or recorded activity of the
/// presynaptic population, or of every recorded neuron when none of it is recorded),
/// y likewise for the postsynaptic population, w from `W₀`.
pub fn rule_scales(dataset: &CircuitDataset, rule: usize) -> VariableScales {
    let network = &dataset.network;
    let (n, t_max) = (network.n_neurons(), dataset.steps);
    let n_rec = dataset.recorded().len();
    let activity_of = |p: usize| -> Vec<f64> {
        let range = network.activity_range(p);
        match network.populations()[p].kind {
            PopulationKind::Input => (0..dataset.trajectories * t_max)
                .flat_map(|row| dataset.drive[row * n..][range.clone()].to_vec())
                .collect(),
            PopulationKind::Neurons { .. } => {
                let columns: Vec<usize> = dataset
                    .recorded()
                    .iter()
                    .enumerate()
                    .filter(|(_, &i)| range.contains(&i))
                    .map(|(c, _)| c)
                    .collect();
                if columns.is_empty() {
                    dataset.recorded_activity.clone()
                } else {
                    (0..dataset.trajectories * t_max)
                        .flat_map(|row| columns.iter().map(move |&c| row * n_rec + c))
                        .map(|i| dataset.recorded_activity[i])
                        .collect()
                }
            }
        }
    };
    let (mut x, mut y, mut w) = (Vec::new(), Vec::new(), Vec::new());
    let n_syn = network.n_synapses();
    for (q, projection) in network.projections().iter().enumerate() {
        if projection.rule != Some(rule) {
            continue;
        }
        x.extend(activity_of(projection.pre));
        y.extend(activity_of(projection.post));
        let range = network.weight_range(q);
        for k in 0..dataset.trajectories {
            w.extend_from_slice(&dataset.initial_weights[k * n_syn..][range.clone()]);
        }
    }
    let (mx, sx) = mean_and_std(x.into_iter());
    let (my, sy) = mean_and_std(y.into_iter());
    let (mw, sw) = mean_and_std(w.into_iter());
    VariableScales {
        mean: [mx, my, mw, 0.0],
        std: [sx, sy, sw, 1.0],
    }
}

/// What the optimiser sees: each Taylor rule's trainable terms in `basis`, each MLP
/// whole, each fitted `W₀` as is. Returns it and the penalised (Taylor) indices.
pub fn circuit_parametrisation(
    dataset: &CircuitDataset,
    objective: &CircuitObjective<'_>,
    basis: Basis,
) -> Result<(Parametrisation, Vec<usize>)> {
    let network = objective.network();
    let mut parts = Vec::new();
    let mut penalised = Vec::new();
    for (r, named) in network.rules().iter().enumerate() {
        let offset = network.theta_range(r).start;
        match &named.rule {
            Rule::Taylor(taylor) => {
                let spec = &dataset.spec.rules[r];
                let mask = TrainableSpec::parse(&spec.trainable)?.mask(taylor.variables())?;
                let zeros = vec![0.0; taylor.variables().n_terms()];
                let part = Parametrisation::taylor(
                    taylor.variables(),
                    &mask,
                    basis,
                    &rule_scales(dataset, r),
                    &zeros,
                );
                penalised.extend(part.trainable().iter().map(|&k| k + offset));
                parts.push(part);
            }
            Rule::Mlp(_) => parts.push(Parametrisation::identity(named.rule.n_parameters())),
        }
    }
    let n_w0 = objective.n_parameters() - network.n_parameters();
    if n_w0 > 0 {
        parts.push(Parametrisation::identity(n_w0));
    }
    Ok((Parametrisation::concatenate(&parts), penalised))
}

/// Parameter names: `rule.term` for θ, `W0.projection[i,j]` for fitted `W₀`.
pub fn parameter_names(objective: &CircuitObjective<'_>) -> Vec<String> {
    let network = objective.network();
    let mut names = network.parameter_names();
    for f in objective.fitted_initial_weights() {
        let projection = &network.projections()[f.projection];
        let c = &projection.connectivity;
        for i in 0..c.n_post() {
            for k in c.row(i) {
                names.push(format!("W0.{}[{i},{}]", projection.name, c.pre_index()[k]));
            }
        }
    }
    names
}

/// The generating parameters: θ of the circuit file's rules, then the true shared
/// `W₀` (the dataset's, which every trajectory shares).
pub fn generating_parameters(
    dataset: &CircuitDataset,
    objective: &CircuitObjective<'_>,
) -> Result<Option<Vec<f64>>> {
    let Some(mut theta) = dataset.generating_theta()? else {
        return Ok(None);
    };
    for f in objective.fitted_initial_weights() {
        theta.extend_from_slice(
            &dataset.trajectory(0).initial_weights[objective.network().weight_range(f.projection)],
        );
    }
    Ok(Some(theta))
}

/// The bytes a circuit fit of `dataset` needs at least: the dataset's arrays and the
/// fit's working memory. Levenberg–Marquardt (`levenberg_marquardt`) holds a
/// Gauss–Newton system (`JᵀJ` and `Jᵀr` over the `A` rule parameters) per trajectory
/// and three more (their sum, the damped matrix and its factor), and, per thread, the
/// tangents `∂W/∂θ` and `∂y/∂θ` (synapses + 2 × neurons, times `A`); the adjoint (L-BFGS)
/// holds, per thread, the tape of one segment of a trajectory (weights and activity of
/// each of its steps: all of them for the full tape or a short trajectory, about √T
/// checkpointed), the segment checkpoints and four more states. `None` if that
/// overflows a `u64`.
pub fn circuit_fit_bytes(
    dataset: &CircuitDataset,
    strategy: GradientStrategy,
    levenberg_marquardt: bool,
    threads: usize,
) -> Option<u64> {
    use crate::limits::f64_bytes;
    let network = &dataset.network;
    let (n, n_syn, steps) = (network.n_neurons(), network.n_synapses(), dataset.steps);
    let threads = threads.max(1);
    let working = if levenberg_marquardt {
        let a = network.n_parameters();
        let system = a.checked_mul(a)?.checked_add(a)?;
        let systems = f64_bytes(&[dataset.trajectories.checked_add(3)?, system])?;
        let tangents = f64_bytes(&[threads, n.checked_mul(2)?.checked_add(n_syn)?, a])?;
        systems.checked_add(tangents)?
    } else {
        let state = n.checked_add(n_syn)?;
        let segment = strategy.segment_length_within_budget(steps, state.checked_mul(8)?);
        let n_segments = steps.div_ceil(segment);
        let checkpoints = if n_segments > 1 { n_segments } else { 0 };
        let states = segment.checked_add(checkpoints)?.checked_add(5)?;
        f64_bytes(&[threads, states, state])?
    };
    let arrays = dataset
        .drive
        .len()
        .checked_add(dataset.initial_weights.len())?
        .checked_add(dataset.recorded_activity.len())?;
    f64_bytes(&[arrays])?.checked_add(working)
}

/// Refuses, before the fit allocates, a circuit fit whose dataset and working memory
/// ([`circuit_fit_bytes`]) exceed the memory limit; the error names what would fit
/// (the checkpointed adjoint, L-BFGS, fewer threads).
fn check_circuit_fit_memory(
    dataset: &CircuitDataset,
    strategy: GradientStrategy,
    levenberg_marquardt: bool,
) -> Result<()> {
    let threads = rayon::current_num_threads();
    let bytes = |strategy, lm, threads| circuit_fit_bytes(dataset, strategy, lm, threads);
    let mut alternatives = Vec::new();
    if levenberg_marquardt {
        alternatives.push((
            "--solver lbfgs".to_string(),
            bytes(GradientStrategy::Checkpointed, false, threads),
        ));
    } else if strategy != GradientStrategy::Checkpointed {
        alternatives.push((
            "--gradient checkpointed".to_string(),
            bytes(GradientStrategy::Checkpointed, false, threads),
        ));
    }
    if let Some(fewer) = (1..threads).rev().find(|&t| {
        bytes(strategy, levenberg_marquardt, t)
            .is_some_and(|b| b <= crate::limits::max_dataset_bytes())
    }) {
        alternatives.push((
            format!("{fewer} thread(s) (RAYON_NUM_THREADS={fewer})"),
            bytes(strategy, levenberg_marquardt, fewer),
        ));
    }
    let network = &dataset.network;
    crate::limits::check_working_bytes(
        &format!(
            "fitting {} trajectories × {} steps of a circuit of {} neurons and {} synapses ({}, {threads} thread(s))",
            dataset.trajectories,
            dataset.steps,
            network.n_neurons(),
            network.n_synapses(),
            if levenberg_marquardt {
                "Levenberg–Marquardt".to_string()
            } else {
                format!("L-BFGS, {strategy:?} gradient")
            }
        ),
        bytes(strategy, levenberg_marquardt, threads),
        &alternatives,
    )
}

/// Fits the circuit's rules to `dataset`.
pub fn fit_circuit(
    dataset: &CircuitDataset,
    settings: &CircuitFitSettings,
    observer: &mut dyn FnMut(&EpochReport<'_>) -> ControlFlow<()>,
) -> Result<CircuitFit> {
    if settings.fit.epochs == 0 {
        return Err(crate::Error::config("epochs", "must be at least 1"));
    }
    let bound = settings.weight_bound.or(dataset.spec.weight_bound);
    let full = CircuitObjective::new(dataset, settings.gradient).with_weight_bound(bound);
    let (parametrisation, penalised) = circuit_parametrisation(dataset, &full, settings.basis)?;
    let network = full.network();
    let mut start = Vec::with_capacity(full.n_parameters());
    for (r, named) in network.rules().iter().enumerate() {
        start.extend(initial_theta(
            &named.rule,
            &settings.init,
            settings.fit.seed.wrapping_add(r as u64),
        )?);
    }
    for f in full.fitted_initial_weights() {
        let n = network.projections()[f.projection]
            .connectivity
            .n_synapses();
        // a draw from the prior, not its mean: W₀ = 0 would start every neuron alike
        let spec = &dataset.spec.projections[f.projection].initial_weights;
        let prior = crate::random::normal(spec.mean, spec.std)?;
        let mut rng =
            ChaCha8Rng::seed_from_u64(settings.fit.seed ^ 0x5730_0000 ^ f.projection as u64);
        start.extend((0..n).map(|_| rand::RngExt::sample(&mut rng, prior)));
    }
    let obstacle = levenberg_marquardt_obstacle(settings, &full);
    if let (CircuitSolver::LevenbergMarquardt, Some(why)) = (settings.solver, obstacle) {
        return Err(crate::Error::config("solver", why));
    }
    let levenberg_marquardt = settings.solver != CircuitSolver::Lbfgs && obstacle.is_none();
    check_circuit_fit_memory(dataset, settings.gradient, levenberg_marquardt)?;
    let stages_asked = if settings.horizon_stages.is_empty() {
        default_horizon_stages(levenberg_marquardt, dataset.steps)
    } else {
        settings.horizon_stages.clone()
    };
    let mut horizons: Vec<usize> = stages_asked
        .into_iter()
        .filter(|&h| h > 0 && h < dataset.steps)
        .collect();
    horizons.sort_unstable();
    horizons.dedup();
    horizons.push(dataset.steps);
    // (horizon, epochs, only the fitted W₀ free)
    let mut plan: Vec<(usize, usize, bool)> = Vec::new();
    let n_theta = network.n_parameters();
    if settings.initial_weights_epochs > 0 && full.n_parameters() > n_theta {
        // the first step alone: y_0 depends on W₀ and not yet on θ
        plan.push((1, settings.initial_weights_epochs, true));
    }
    for (s, &horizon) in horizons.iter().enumerate() {
        let last = s + 1 == horizons.len();
        let epochs = if last {
            settings.fit.epochs
        } else {
            match settings.stage_epochs {
                0 => default_stage_epochs(levenberg_marquardt),
                epochs => epochs,
            }
        };
        plan.push((horizon, epochs, false));
    }
    let total_epochs = plan.iter().map(|stage| stage.1).sum();
    let mut basis_used = parametrisation.basis();
    let (joined, stages) = if levenberg_marquardt {
        let (outcome, stages, basis) = levenberg_marquardt_fit(
            dataset,
            settings,
            (bound, &full),
            &parametrisation,
            &start,
            &plan,
            observer,
        )?;
        basis_used = basis;
        (Some(outcome), stages)
    } else {
        lbfgs_stages(
            dataset,
            settings,
            bound,
            (&parametrisation, &penalised),
            start,
            &plan,
            total_epochs,
            observer,
        )?
    };
    let Some(mut outcome) = joined else {
        return Err(crate::Error::config("horizon_stages", "no stage ran"));
    };
    if outcome.final_loss.is_finite() || !stages.is_empty() {
        let items: Vec<usize> = (0..dataset.trajectories).collect();
        outcome.final_loss = data_loss(&full, &outcome.theta, &items);
    }
    let metrics = evaluate_circuit(
        dataset,
        &full,
        &outcome.theta,
        settings.eval_trajectories,
        settings.fit.seed,
    )?;
    Ok(CircuitFit {
        parameter_names: parameter_names(&full),
        outcome,
        stages,
        metrics,
        basis_used,
        solver_used: if levenberg_marquardt {
            CircuitSolver::LevenbergMarquardt
        } else {
            CircuitSolver::Lbfgs
        },
    })
}

/// The horizons fitted before the whole recording when the settings name none:
/// for Levenberg–Marquardt 5 steps growing by 1.2× (5, 6, 7, 8, 10, 12, 14, 17, 20,
/// 24, …), each stage a small change of the last so that the fit follows its minimum
/// as the horizon grows (with noisy recordings, doubling the horizon after a fit that
/// has converged on the noise of the short one lands in another valley); for L-BFGS,
/// whose stages are not fitted to convergence, 5, 10 and 20.
pub fn default_horizon_stages(levenberg_marquardt: bool, steps: usize) -> Vec<usize> {
    if !levenberg_marquardt {
        return vec![5, 10, 20];
    }
    let mut stages = Vec::new();
    let mut horizon = 5.0f64;
    while (horizon.round() as usize) < steps {
        let h = horizon.round() as usize;
        if stages.last() != Some(&h) {
            stages.push(h);
        }
        horizon *= HORIZON_GROWTH;
    }
    stages
}

/// The iterations of each stage before the last when the settings name none: for
/// Levenberg–Marquardt 2 kept steps (a stage is a step along the horizon, not a fit of
/// it: on noisy recordings with latent neurons, stages fitted to convergence settled on
/// the noise of their short horizon and the fit ended in another valley: σ = 0.05,
/// f = 0.25, 0.019 against 2.49e-3 at the truth, and 2.485e-3 with 2 steps); for
/// L-BFGS 40 iterations.
pub fn default_stage_epochs(levenberg_marquardt: bool) -> usize {
    if levenberg_marquardt {
        2
    } else {
        40
    }
}

/// The growth of the horizon from one Levenberg–Marquardt stage to the next.
pub const HORIZON_GROWTH: f64 = 1.2;

/// The staged fit by preconditioned L-BFGS (see [`CircuitFitSettings::precondition`]).
#[allow(clippy::too_many_arguments)]
fn lbfgs_stages(
    dataset: &CircuitDataset,
    settings: &CircuitFitSettings,
    bound: Option<f64>,
    (parametrisation, penalised): (&Parametrisation, &[usize]),
    start: Vec<f64>,
    plan: &[(usize, usize, bool)],
    total_epochs: usize,
    observer: &mut dyn FnMut(&EpochReport<'_>) -> ControlFlow<()>,
) -> Result<(Option<FitOutcome>, Vec<StageReport>)> {
    let mut start = start;
    let n_theta = dataset.network.n_parameters();
    let mut stages = Vec::new();
    let mut joined: Option<FitOutcome> = None;
    let mut epoch_offset = 0;
    let resume = settings
        .fit
        .resume
        .as_ref()
        .and_then(|c| c.chunked.as_deref());
    if let Some(resume) = resume {
        joined.clone_from(&resume.joined);
        stages.clone_from(&resume.reports);
        epoch_offset = resume.epoch_offset;
    }
    'stages: for (s, &(horizon, stage_epochs, initial_weights_only)) in plan.iter().enumerate() {
        if resume.is_some_and(|r| s < r.stage) {
            continue;
        }
        let objective = CircuitObjective::new(dataset, settings.gradient)
            .with_weight_bound(bound)
            .with_horizon(horizon);
        // the stage in chunks, each re-preconditioned where it starts
        let chunk = match settings.precondition_every {
            0 => stage_epochs,
            every if settings.precondition => every,
            _ => stage_epochs,
        };
        let mut remaining = stage_epochs;
        let mut first_chunk = true;
        let mut c = 0;
        while remaining > 0 {
            // a stage's first scales from every trajectory, later ones from a few
            let trajectories = if first_chunk {
                0
            } else {
                settings.precondition_trajectories
            };
            first_chunk = false;
            let epochs = remaining.min(chunk.max(1));
            remaining -= epochs;
            c += 1;
            // a resumed fit skips the chunks its checkpoint had finished
            let chunk_index = c - 1;
            if resume.is_some_and(|r| r.stage == s && chunk_index < r.chunk) {
                continue;
            }
            let resumed = resume.filter(|r| r.stage == s && r.chunk == chunk_index);
            if let Some(resumed) = resumed {
                start.clone_from(&resumed.chunk_start);
            }
            let config = FitConfig {
                epochs,
                resume: resumed.map(|r| r.inner.clone()),
                ..settings.fit.clone()
            };
            let mut stopped = false;
            let (chunk_start, done, reports) = (&start, &joined, &stages);
            let mut stage_observer = |report: &EpochReport<'_>| {
                let checkpoint = || {
                    let inner = (report.checkpoint)();
                    FitCheckpoint {
                        chunked: Some(Box::new(ChunkCheckpoint {
                            stage: s,
                            chunk: chunk_index,
                            chunk_start: chunk_start.clone(),
                            joined: done.clone(),
                            reports: reports.clone(),
                            epoch_offset,
                            inner: Box::new(inner.clone()),
                        })),
                        ..inner
                    }
                };
                let shifted = EpochReport {
                    epoch: report.epoch + epoch_offset,
                    epochs: total_epochs,
                    checkpoint: &checkpoint,
                    ..report.clone()
                };
                let flow = observer(&shifted);
                stopped |= flow.is_break();
                flow
            };
            // θ held where it is: the rules' coefficients as fixed values
            let only_initial_weights;
            let (parametrisation, penalised) = if initial_weights_only {
                only_initial_weights = Parametrisation::subset(
                    (n_theta..objective.n_parameters()).collect(),
                    start.clone(),
                );
                (&only_initial_weights, &[][..])
            } else {
                (parametrisation, penalised)
            };
            let stage_parametrisation = if settings.precondition {
                let exact = parametrisation.n_free()
                    - (objective.n_parameters() - objective.network().n_parameters());
                let items = spaced_items(objective.n_items(), trajectories);
                let scale = jacobi_scale(&objective, parametrisation, &start, exact, &items);
                parametrisation.rescaled(&scale)
            } else {
                parametrisation.clone()
            };
            let outcome = fit(
                &objective,
                &stage_parametrisation,
                &start,
                penalised,
                &config,
                &mut stage_observer,
            )?;
            epoch_offset += outcome.loss_history.len();
            stages.push(StageReport {
                horizon,
                epochs: outcome.loss_history.len(),
                evaluations: outcome.evaluations,
                loss: outcome.final_loss,
                stop_reason: outcome.stop_reason.clone(),
            });
            let converged = !matches!(outcome.stop_reason, crate::fit::StopReason::EpochsCompleted);
            start = outcome.theta.clone();
            joined = Some(match joined {
                None => outcome,
                Some(mut earlier) => {
                    earlier.loss_history.extend(outcome.loss_history);
                    earlier.theta_history.extend(outcome.theta_history);
                    earlier.evaluations += outcome.evaluations;
                    earlier.backoffs += outcome.backoffs;
                    FitOutcome {
                        loss_history: earlier.loss_history,
                        theta_history: earlier.theta_history,
                        evaluations: earlier.evaluations,
                        backoffs: earlier.backoffs,
                        ..outcome
                    }
                }
            });
            if stopped {
                break 'stages;
            }
            if converged {
                break;
            }
        }
    }
    Ok((joined, stages))
}

/// `count` of the items `0..n` evenly spaced (`i n / count`; all when `count` is 0
/// or at least `n`).
pub fn spaced_items(n: usize, count: usize) -> Vec<usize> {
    let count = if count == 0 { n } else { count.min(n) };
    (0..count).map(|i| i * n / count).collect()
}

/// `1/√H_kk` for the diagonal of the loss's curvature in φ at `theta` on the
/// trajectories `items`, from forward differences of the exact gradient: one gradient per free parameter for the first
/// `exact` of them (the rules' θ), and for the rest (fitted `W₀`, thousands of
/// entries) Hutchinson's estimate `H_kk ≈ mean_v v_k (Hv)_k` over
/// [`HUTCHINSON_PROBES`] Rademacher vectors `v` drawn from a fixed seed. Where the
/// curvature is not positive, the median scale.
pub fn jacobi_scale(
    objective: &CircuitObjective<'_>,
    parametrisation: &Parametrisation,
    theta: &[f64],
    exact: usize,
    items: &[usize],
) -> Vec<f64> {
    use rand::RngExt;
    let phi = parametrisation.phi(theta);
    let gradient_at = |phi: &[f64]| {
        let mut g = vec![0.0; objective.n_parameters()];
        objective.loss_and_gradient(&parametrisation.theta(phi), items, &mut g);
        parametrisation.pullback(&g)
    };
    let base = gradient_at(&phi);
    let exact = exact.min(phi.len());
    let mut curvature: Vec<f64> = (0..exact)
        .map(|k| {
            let h = 1e-4 * phi[k].abs().max(1.0);
            let mut shifted = phi.clone();
            shifted[k] += h;
            (gradient_at(&shifted)[k] - base[k]) / h
        })
        .collect();
    if exact < phi.len() {
        let mut rng = ChaCha8Rng::seed_from_u64(0x4a61_636f_6269);
        let mut sums = vec![0.0; phi.len() - exact];
        let h = 1e-4;
        for _ in 0..HUTCHINSON_PROBES {
            let signs: Vec<f64> = (exact..phi.len())
                .map(|_| if rng.random::<bool>() { 1.0 } else { -1.0 })
                .collect();
            let mut shifted = phi.clone();
            for (p, s) in shifted[exact..].iter_mut().zip(&signs) {
                *p += h * s;
            }
            let g = gradient_at(&shifted);
            for ((sum, s), k) in sums.iter_mut().zip(&signs).zip(exact..) {
                *sum += s * (g[k] - base[k]) / h;
            }
        }
        curvature.extend(sums.iter().map(|s| s / HUTCHINSON_PROBES as f64));
    }
    let mut positive: Vec<f64> = curvature
        .iter()
        .copied()
        .filter(|c| *c > 0.0 && c.is_finite())
        .collect();
    positive.sort_by(f64::total_cmp);
    let fallback = positive.get(positive.len() / 2).copied().unwrap_or(1.0);
    curvature
        .iter()
        .map(|&c| {
            1.0 / if c > 0.0 && c.is_finite() {
                c
            } else {
                fallback
            }
            .sqrt()
        })
        .collect()
}

/// Probes of Hutchinson's diagonal estimate in [`jacobi_scale`].
pub const HUTCHINSON_PROBES: usize = 8;

/// The data loss (no prior) at `parameters`: the objective's loss on a copy without
/// the prior's weight.
pub(super) fn data_loss(
    objective: &CircuitObjective<'_>,
    parameters: &[f64],
    items: &[usize],
) -> f64 {
    objective.loss(parameters, items) - objective.prior_penalty(parameters)
}

/// Metrics of `parameters` (θ, then fitted `W₀`) on `dataset`, against the circuit
/// file's generating rules on `count` fresh trajectories drawn from `seed`.
pub fn evaluate_circuit(
    dataset: &CircuitDataset,
    objective: &CircuitObjective<'_>,
    parameters: &[f64],
    count: usize,
    seed: u64,
) -> Result<CircuitFitMetrics> {
    let items: Vec<usize> = (0..dataset.trajectories).collect();
    let mut metrics = CircuitFitMetrics {
        final_loss: data_loss(objective, parameters, &items),
        ..CircuitFitMetrics::default()
    };
    let network = objective.network();
    let names = parameter_names(objective);
    let Some(truth) = generating_parameters(dataset, objective)? else {
        return Ok(metrics);
    };
    metrics.loss_at_generating_rule = Some(data_loss(objective, &truth, &items));
    for (name, (fitted, true_value)) in names
        .iter()
        .zip(parameters.iter().zip(&truth))
        .take(network.n_parameters())
    {
        metrics
            .coefficient_error
            .insert(name.clone(), (fitted - true_value).into());
    }
    // the unclipped circuit, as the data were generated
    let plain = network.clone().with_weight_bound(None);
    let (n, n_syn, steps) = (network.n_neurons(), network.n_synapses(), dataset.steps);
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed_c12c_0000_0001);
    let (drive, mut initial_weights) =
        draw_conditions(&dataset.spec, network, count, steps, &mut rng)?;
    for f in objective.fitted_initial_weights() {
        // fresh trajectories share the true W₀ (unknown to the fit)
        let range = network.weight_range(f.projection);
        let true_w0 = &dataset.trajectory(0).initial_weights[range.clone()];
        for k in 0..count {
            initial_weights[k * n_syn + range.start..k * n_syn + range.end]
                .copy_from_slice(true_w0);
        }
        let fitted = &parameters[f.start..f.start + range.len()];
        let (difference, size) = fitted
            .iter()
            .zip(true_w0)
            .fold((0.0, 0.0), |(d, s), (a, b)| {
                (d + (a - b) * (a - b), s + b * b)
            });
        metrics.initial_weights_error.insert(
            network.projections()[f.projection].name.clone(),
            (difference / size).sqrt().into(),
        );
    }
    let n_theta = network.n_parameters();
    let (theta_true, theta_fit) = (&truth[..n_theta], &parameters[..n_theta]);
    let plastic: Vec<usize> = (0..network.projections().len())
        .filter(|&q| network.projections()[q].rule.is_some())
        .collect();
    let mut r2_weights: Vec<Vec<f64>> = vec![Vec::new(); plastic.len()];
    let mut r2_latent: Vec<Vec<f64>> = vec![Vec::new(); plastic.len()];
    let mut r2_activity = Vec::new();
    let n_rules = network.rules().len();
    // per rule: Σ g_true², Σ (g_fit − g_true)², Σ term_k²
    let mut sums = vec![(0.0f64, 0.0f64, vec![0.0f64; 27], 0usize); n_rules];
    let mut workspace = NetworkWorkspace::new();
    let simulated: Vec<usize> = (0..network.populations().len())
        .filter(|&p| network.populations()[p].is_simulated())
        .flat_map(|p| network.activity_range(p))
        .collect();
    let mut correlations: Vec<Vec<f64>> = vec![Vec::new(); network.populations().len()];
    for k in 0..count {
        let mut fitted_w0 = initial_weights[k * n_syn..(k + 1) * n_syn].to_vec();
        for f in objective.fitted_initial_weights() {
            let range = network.weight_range(f.projection);
            fitted_w0[range.clone()].copy_from_slice(&parameters[f.start..f.start + range.len()]);
        }
        let drive_k = &drive[k * steps * n..(k + 1) * steps * n];
        let true_run = simulate_network(
            &plain,
            theta_true,
            fresh_trajectory(steps, drive_k, &initial_weights[k * n_syn..(k + 1) * n_syn]),
            &mut workspace,
        );
        let fit_run = simulate_network(
            &plain,
            theta_fit,
            fresh_trajectory(steps, drive_k, &fitted_w0),
            &mut workspace,
        );
        for (slot, &q) in plastic.iter().enumerate() {
            let range = network.weight_range(q);
            let c = &network.projections()[q].connectivity;
            let post_start = network.activity_range(network.projections()[q].post).start;
            let latent: Vec<usize> = (0..c.n_post())
                .filter(|&i| !dataset.is_recorded(post_start + i))
                .flat_map(|i| c.row(i))
                .collect();
            let mut all = ColumnR2::new(range.len());
            let mut onto_latent = ColumnR2::new(latent.len());
            for t in 0..steps {
                let truth = &true_run.weights[t * n_syn..][range.clone()];
                let prediction = &fit_run.weights[t * n_syn..][range.clone()];
                all.add_row(truth, prediction);
                if !latent.is_empty() {
                    let gathered_truth: Vec<f64> = latent.iter().map(|&s| truth[s]).collect();
                    let gathered_prediction: Vec<f64> =
                        latent.iter().map(|&s| prediction[s]).collect();
                    onto_latent.add_row(&gathered_truth, &gathered_prediction);
                }
            }
            r2_weights[slot].push(all.value());
            if !latent.is_empty() {
                r2_latent[slot].push(onto_latent.value());
            }
        }
        let mut activity = ColumnR2::new(simulated.len());
        for t in 0..steps {
            let truth: Vec<f64> = simulated
                .iter()
                .map(|&i| true_run.activity[t * n + i])
                .collect();
            let prediction: Vec<f64> = simulated
                .iter()
                .map(|&i| fit_run.activity[t * n + i])
                .collect();
            activity.add_row(&truth, &prediction);
        }
        r2_activity.push(activity.value());
        // rule outputs on the states the true circuit visits
        for &q in &plastic {
            let projection = &network.projections()[q];
            let r = projection.rule.unwrap_or(0);
            let Rule::Taylor(taylor) = &network.rules()[r].rule else {
                continue;
            };
            let theta_range = network.theta_range(r);
            let c = &projection.connectivity;
            let (pre_range, post_range, w_range) = (
                network.activity_range(projection.pre),
                network.activity_range(projection.post),
                network.weight_range(q),
            );
            let stride = (steps * c.n_synapses() / 4000).max(1);
            let mut counter = 0usize;
            for t in 0..steps.saturating_sub(1) {
                let previous = if t == 0 {
                    None
                } else {
                    Some(&true_run.activity[(t - 1) * n..t * n])
                };
                let current = &true_run.activity[t * n..(t + 1) * n];
                for i in 0..c.n_post() {
                    for s in c.row(i) {
                        counter += 1;
                        if !counter.is_multiple_of(stride) {
                            continue;
                        }
                        let j = c.pre_index()[s];
                        let x = if projection.delayed {
                            match previous {
                                Some(previous) => previous[pre_range.start + j],
                                None => initial_of(network, projection.pre),
                            }
                        } else {
                            current[pre_range.start + j]
                        };
                        let y = current[post_range.start + i];
                        let w = true_run.weights[t * n_syn + w_range.start + s];
                        let g_true =
                            taylor.evaluate(&theta_true[theta_range.clone()], x, y, w, 0.0);
                        let g_fit = taylor.evaluate(&theta_fit[theta_range.clone()], x, y, w, 0.0);
                        let entry = &mut sums[r];
                        entry.0 += g_true * g_true;
                        entry.1 += (g_fit - g_true) * (g_fit - g_true);
                        for (term_index, total) in entry.2.iter_mut().enumerate() {
                            let term = Term::from_index(term_index, Variables::Xyw);
                            let e = term.exponents;
                            let value =
                                x.powi(e[0] as i32) * y.powi(e[1] as i32) * w.powi(e[2] as i32);
                            *total += value * value;
                        }
                        entry.3 += 1;
                    }
                }
            }
        }
        for (p, population) in network.populations().iter().enumerate() {
            if !population.is_simulated() {
                continue;
            }
            let range = network.activity_range(p);
            let (recorded, latent): (Vec<usize>, Vec<usize>) =
                range.clone().partition(|&i| dataset.is_recorded(i));
            if recorded.is_empty() || latent.is_empty() {
                continue;
            }
            let series = |i: usize| -> Vec<f64> {
                (0..steps).map(|t| true_run.activity[t * n + i]).collect()
            };
            let recorded_series: Vec<Vec<f64>> = recorded.iter().map(|&i| series(i)).collect();
            for &i in &latent {
                let own = series(i);
                let best = recorded_series
                    .iter()
                    .map(|other| correlation(&own, other).abs())
                    .fold(0.0f64, |m, c| if c.is_finite() { m.max(c) } else { m });
                correlations[p].push(best);
            }
        }
    }
    for (slot, &q) in plastic.iter().enumerate() {
        let name = network.projections()[q].name.clone();
        metrics
            .r2_weights_by_projection
            .insert(name.clone(), median(&r2_weights[slot]).into());
        if !r2_latent[slot].is_empty() {
            metrics
                .r2_weights_latent
                .insert(name, median(&r2_latent[slot]).into());
        }
    }
    metrics.r2_activity = Some(median(&r2_activity));
    let terms = term_names(Variables::Xyw);
    for (r, (g2, e2, term2, count)) in sums.iter().enumerate() {
        if *count == 0 {
            continue;
        }
        let name = &network.rules()[r].name;
        let rms_true = (g2 / *count as f64).sqrt();
        metrics
            .rule_output_error
            .insert(name.clone(), (e2.sqrt() / g2.sqrt()).into());
        let theta_range = network.theta_range(r);
        let shares: serde_json::Map<String, serde_json::Value> = terms
            .iter()
            .enumerate()
            .map(|(k, term)| {
                let rms_term = (term2[k] / *count as f64).sqrt();
                (
                    term.clone(),
                    (theta_fit[theta_range.start + k].abs() * rms_term / rms_true).into(),
                )
            })
            .collect();
        metrics.term_share.insert(name.clone(), shares.into());
    }
    for (p, values) in correlations.iter().enumerate() {
        if !values.is_empty() {
            metrics
                .latent_recorded_correlation
                .insert(network.populations()[p].name.clone(), median(values).into());
        }
    }
    Ok(metrics)
}

/// A trajectory to simulate (nothing recorded).
fn fresh_trajectory<'a>(
    steps: usize,
    drive: &'a [f64],
    initial_weights: &'a [f64],
) -> NetworkTrajectory<'a> {
    NetworkTrajectory {
        steps,
        drive,
        initial_weights,
        recorded: &[],
        recorded_activity: &[],
        reward: &[],
        gate: &[],
        loss: TrajectoryLoss::SquaredError,
    }
}

fn initial_of(network: &Network, population: usize) -> f64 {
    match network.populations()[population].kind {
        PopulationKind::Input => 0.0,
        PopulationKind::Neurons {
            initial_activity, ..
        } => initial_activity,
    }
}

/// Pearson correlation of two series (NaN when either is constant).
fn correlation(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let (mut ab, mut aa, mut bb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        ab += (x - ma) * (y - mb);
        aa += (x - ma) * (x - ma);
        bb += (y - mb) * (y - mb);
    }
    ab / (aa * bb).sqrt()
}

#[cfg(test)]
mod tests {
    use super::{circuit_fit_bytes, spaced_items};
    use crate::circuit::CircuitSpec;
    use crate::gradient::GradientStrategy;

    /// Issue 27: a circuit fit's estimate counts the dataset and the working memory of
    /// the solver and gradient strategy, per thread.
    #[test]
    fn a_circuit_fit_counts_its_dataset_and_working_memory() {
        let spec = CircuitSpec::parse(
            "[populations.x]\nsize = 3\ninput = true\n[populations.y]\nsize = 4\n\
             [rules.ff]\nrule = \"x*y - y^2*w\"\n\
             [projections.ff]\nfrom = \"x\"\nto = \"y\"\nrule = \"ff\"\n\
             initial_weights = { std = 0.5 }\n",
            std::path::Path::new("c.toml"),
            std::path::PathBuf::new(),
        )
        .unwrap();
        let dataset = crate::task::CircuitTask {
            spec,
            trajectories: 2,
            steps: 400,
            noise_std: 0.0,
            recording_fraction: None,
            seed: 1,
        }
        .simulate()
        .unwrap();
        let arrays = 8
            * (dataset.drive.len()
                + dataset.initial_weights.len()
                + dataset.recorded_activity.len()) as u64;
        let (n, n_syn, a) = (7u64, 12u64, 27u64);
        // Levenberg–Marquardt: a system per trajectory and three more, tangents per thread
        let lm =
            |threads| circuit_fit_bytes(&dataset, GradientStrategy::Checkpointed, true, threads);
        assert_eq!(
            lm(3),
            Some(arrays + 8 * ((2 + 3) * (a * a + a) + 3 * (n_syn + 2 * n) * a))
        );
        // the adjoint: per thread the whole tape (it fits the budget), or 20 steps and
        // 20 checkpoints of every 20 steps
        let state = 8 * (n + n_syn);
        let adjoint = |strategy, threads| circuit_fit_bytes(&dataset, strategy, false, threads);
        assert_eq!(
            adjoint(GradientStrategy::FullTape, 2),
            Some(arrays + 2 * (400 + 5) * state)
        );
        assert_eq!(
            adjoint(GradientStrategy::CheckpointEvery(20), 2),
            Some(arrays + 2 * (20 + 20 + 5) * state)
        );
        assert!(adjoint(GradientStrategy::FullTape, 1) < adjoint(GradientStrategy::FullTape, 4));
    }

    #[test]
    fn preconditioning_trajectories_are_evenly_spaced() {
        assert_eq!(spaced_items(50, 10), [0, 5, 10, 15, 20, 25, 30, 35, 40, 45]);
        assert_eq!(spaced_items(7, 3), [0, 2, 4]);
        // all of them when asked for 0 or for more than there are
        assert_eq!(spaced_items(4, 0), [0, 1, 2, 3]);
        assert_eq!(spaced_items(4, 9), [0, 1, 2, 3]);
        assert!(spaced_items(0, 10).is_empty());
    }
}
