//! Fitting the rules of a multi-population circuit to its recording: every rule's
//! trainable terms in a better-conditioned basis, shared `W₀` where the circuit file
//! asks, a staged horizon, and metrics against the generating rules.
//!
//! **Staged horizon.** Long recurrent trajectories make the loss landscape rough from
//! θ ≈ 0: the fit first matches the first `h₁` steps, then `h₂`, …, then all `T`, each
//! stage warm-started from the last.

mod evaluate;
mod lbfgs;
pub mod least_squares;
mod memory;
mod parametrisation;
mod settings;

pub use evaluate::{evaluate_circuit, CircuitFitMetrics};
pub use lbfgs::{jacobi_scale, spaced_items, HUTCHINSON_PROBES};
pub use memory::circuit_fit_bytes;
pub use parametrisation::{
    circuit_parametrisation, generating_parameters, parameter_names, rule_scales,
};
pub use settings::{
    default_horizon_stages, default_stage_epochs, CircuitFitSettings, CircuitSolver, HORIZON_GROWTH,
};

use crate::fit::StageReport;
use std::ops::ControlFlow;

use rand::rngs::ChaCha8Rng;
use rand::SeedableRng;

use crate::data::CircuitDataset;
use crate::fit::{initial_theta, Basis, EpochReport, FitOutcome};
use crate::objective::{CircuitObjective, Objective};
use crate::Result;
use lbfgs::lbfgs_stages;
use least_squares::{levenberg_marquardt_fit, levenberg_marquardt_obstacle};
use memory::check_circuit_fit_memory;
use parametrisation::data_loss;

/// A finished circuit fit.
#[derive(Clone, Debug)]
pub struct CircuitFit {
    /// Optimizer outcome of the last stage, with every stage's history joined; θ then
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
    let start = starting_point(dataset, settings, &full)?;
    let obstacle = levenberg_marquardt_obstacle(settings, &full);
    if let (CircuitSolver::LevenbergMarquardt, Some(why)) = (settings.solver, obstacle) {
        return Err(crate::Error::config("solver", why));
    }
    let levenberg_marquardt = settings.solver != CircuitSolver::Lbfgs && obstacle.is_none();
    check_circuit_fit_memory(dataset, settings.gradient, levenberg_marquardt)?;
    let plan = stage_plan(dataset, settings, &full, levenberg_marquardt);
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

/// Where the fit starts: each rule's θ from `settings.init` (seed + rule index), then
/// each fitted `W₀` drawn from its prior (a draw, not the mean: `W₀ = 0` would start
/// every neuron alike).
fn starting_point(
    dataset: &CircuitDataset,
    settings: &CircuitFitSettings,
    full: &CircuitObjective<'_>,
) -> Result<Vec<f64>> {
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
    Ok(start)
}

/// The stages as `(horizon, epochs, only the fitted W₀ free)`: first the first step
/// alone for the fitted `W₀` (`y₀` depends on `W₀` and not yet on θ), then each
/// horizon of the staged plan, the whole recording last with `settings.fit.epochs`.
fn stage_plan(
    dataset: &CircuitDataset,
    settings: &CircuitFitSettings,
    full: &CircuitObjective<'_>,
    levenberg_marquardt: bool,
) -> Vec<(usize, usize, bool)> {
    let network = full.network();
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
    plan
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
