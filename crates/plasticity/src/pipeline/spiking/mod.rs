//! Spike-timing rules from spike trains: simulate recordings of a spiking circuit,
//! fit its rules' trainable terms by Fisher scoring (Levenberg–Marquardt on the
//! likelihood, forward-mode Fisher information) or L-BFGS under the one driver, and
//! report what the data determine and how well the fitted rule reproduces weights on a
//! fresh recording (docs/spiking.md).

mod evaluate;
mod scoring;
#[cfg(test)]
mod tests;

pub use evaluate::{evaluate_spike_fit, CoefficientReport, SpikeFitMetrics};

use std::ops::ControlFlow;

use serde::{Deserialize, Serialize};

use crate::circuit::spiking::spec::SpikingCircuitSpec;
use crate::data::SpikeTrainDataset;
use crate::fit::{fit, fit_least_squares, EpochReport, FitConfig, FitOutcome, Parametrisation};
use crate::gradient::GradientStrategy;
use crate::objective::spike_train::SpikeTrainObjective;
use crate::optim::levenberg_marquardt::LevenbergMarquardt;
use crate::task::spiking::simulate_recording;
use crate::{Error, Result};

/// Simulates `trajectories` recordings of `steps` steps of the circuit under its
/// generating rules, from `seed` (trajectory `k` from `seed + k`), keeping the weights
/// at up to 200 evenly spaced steps (fewer for large circuits: at most about 32 MB of
/// snapshots per trajectory).
pub fn simulate_spike_trains(
    spec: &SpikingCircuitSpec,
    trajectories: usize,
    steps: usize,
    seed: u64,
) -> Result<SpikeTrainDataset> {
    if steps == 0 || trajectories == 0 {
        return Err(Error::config(
            "steps",
            "steps and trajectories must be at least 1",
        ));
    }
    let circuit = spec.build(seed)?;
    let theta = spec.generating_theta()?;
    let snapshots = (4_000_000 / circuit.n_synapses().max(1)).clamp(2, 200);
    let interval = (steps / snapshots).max(1);
    let mut rasters = Vec::new();
    let mut initial_weights = Vec::new();
    let mut weights = Vec::new();
    let mut weight_steps = Vec::new();
    for k in 0..trajectories {
        let recording = simulate_recording(
            spec,
            &circuit,
            &theta,
            steps,
            seed.wrapping_add(k as u64),
            interval,
        )?;
        rasters.push(recording.run.raster);
        initial_weights.push(recording.initial_weights);
        weights.push(recording.run.weights);
        weight_steps = recording.run.weight_steps;
    }
    let mut metadata = serde_json::Map::new();
    metadata.insert("kind".into(), "spike_train".into());
    metadata.insert(
        "circuit".into(),
        serde_json::to_value(spec).map_err(|e| Error::config("circuit", e.to_string()))?,
    );
    metadata.insert("steps".into(), steps.into());
    metadata.insert("trajectories".into(), trajectories.into());
    metadata.insert("seed".into(), seed.into());
    metadata.insert("dt_ms".into(), spec.dt.into());
    metadata.insert(
        "theta".into(),
        serde_json::to_value(&theta).unwrap_or_default(),
    );
    metadata.insert(
        "parameter_names".into(),
        serde_json::to_value(circuit.parameter_names()).unwrap_or_default(),
    );
    metadata.insert("version".into(), crate::VERSION.into());
    Ok(SpikeTrainDataset {
        spec: spec.clone(),
        circuit,
        steps,
        rasters,
        initial_weights,
        weights,
        weight_steps,
        metadata,
    })
}

/// The solver of a spike-train fit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpikeSolver {
    /// Fisher scoring: Levenberg–Marquardt on the likelihood with the forward-mode
    /// Fisher information.
    #[default]
    FisherScoring,
    /// L-BFGS on the loss and its gradient (forward mode or the adjoint).
    Lbfgs,
}

/// Settings of a spike-train fit.
#[derive(Clone, Debug)]
pub struct SpikeFitSettings {
    /// The solver.
    pub solver: SpikeSolver,
    /// Iterations at most.
    pub epochs: usize,
    /// The fitted parameters (`rule.term` names); empty: all.
    pub trainable: Vec<String>,
    /// How L-BFGS's gradient is computed.
    pub gradient: GradientStrategy,
    /// The seed of the fresh recording of the evaluation.
    pub eval_seed: u64,
    /// Steps of the fresh recording (0: as many as the data).
    pub eval_steps: usize,
}

impl Default for SpikeFitSettings {
    fn default() -> Self {
        SpikeFitSettings {
            solver: SpikeSolver::FisherScoring,
            epochs: 100,
            trainable: Vec::new(),
            gradient: GradientStrategy::Forward,
            eval_seed: 1_000_003,
            eval_steps: 0,
        }
    }
}

/// A finished spike-train fit.
#[derive(Clone, Debug)]
pub struct SpikeFit {
    /// The optimizer's outcome (θ of every rule; untrained terms 0).
    pub outcome: FitOutcome,
    /// `rule.term` of every parameter.
    pub parameter_names: Vec<String>,
    /// The trained parameters (indices into θ).
    pub trainable: Vec<usize>,
    /// Metrics against the generating rules and on a fresh recording.
    pub metrics: SpikeFitMetrics,
    /// The identifiability report (JSON) from the Fisher information at the fit.
    pub identifiability: serde_json::Value,
}

/// The trained parameters' indices from their names (empty: all).
pub fn trainable_indices(names: &[String], asked: &[String]) -> Result<Vec<usize>> {
    if asked.is_empty() {
        return Ok((0..names.len()).collect());
    }
    asked
        .iter()
        .map(|a| {
            names.iter().position(|n| n == a).ok_or_else(|| {
                Error::config(
                    "trainable",
                    format!(
                        "'{a}' is not a parameter of the circuit ({})",
                        names.join(", ")
                    ),
                )
            })
        })
        .collect()
}

/// Fits the circuit's rules to the recordings from θ = 0.
pub fn fit_spike_trains(
    dataset: &SpikeTrainDataset,
    settings: &SpikeFitSettings,
    observer: &mut dyn FnMut(&EpochReport<'_>) -> ControlFlow<()>,
) -> Result<SpikeFit> {
    if settings.epochs == 0 {
        return Err(Error::config("epochs", "must be at least 1"));
    }
    let circuit = &dataset.circuit;
    if circuit.has_background() {
        return Err(Error::config(
            "background",
            "a neuron population has Poisson background input, which the recording does not contain: the likelihood of the recorded spikes cannot account for it (remove `background` to fit)",
        ));
    }
    let names = circuit.parameter_names();
    let trainable = trainable_indices(&names, &settings.trainable)?;
    let n = circuit.n_parameters();
    let parametrisation = Parametrisation::subset(trainable.clone(), vec![0.0; n]);
    let start = vec![0.0; n];
    let outcome = match settings.solver {
        SpikeSolver::FisherScoring => {
            let objective = SpikeTrainObjective::new(dataset, GradientStrategy::Forward)?;
            let problem = scoring::FisherScoring {
                objective: &objective,
                parametrisation: &parametrisation,
            };
            let solver = LevenbergMarquardt {
                max_iterations: settings.epochs,
                tolerance: 1e-10,
                ..LevenbergMarquardt::default()
            };
            let (outcome, _) = fit_least_squares(
                &problem,
                &parametrisation,
                parametrisation.phi(&start),
                (&solver, settings.epochs),
                None,
                observer,
            )?;
            outcome
        }
        SpikeSolver::Lbfgs => {
            let objective = SpikeTrainObjective::new(dataset, settings.gradient)?;
            let config = FitConfig {
                epochs: settings.epochs,
                tolerance: 1e-14,
                ..FitConfig::default()
            };
            fit(&objective, &parametrisation, &start, &[], &config, observer)?
        }
    };
    let objective = SpikeTrainObjective::new(dataset, GradientStrategy::Forward)?;
    let metrics = evaluate_spike_fit(&objective, &outcome.theta, &trainable, settings)?;
    let identifiability = scoring::identifiability(&objective, &outcome.theta, &trainable, &names);
    Ok(SpikeFit {
        outcome,
        parameter_names: names,
        trainable,
        metrics,
        identifiability,
    })
}
