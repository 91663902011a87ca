//! Simulated recordings of a multi-population circuit ([`CircuitSpec`]).

use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

use crate::circuit::spec::Recorded;
use crate::circuit::{CircuitSpec, Network, PopulationKind};
use crate::data::CircuitDataset;
use crate::gradient::network::{
    simulate_network, NetworkTrajectory, NetworkWorkspace, TrajectoryLoss,
};
use crate::random::normal;
use crate::{Error, Result};

/// What to simulate from a circuit.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct CircuitTask {
    /// The circuit (its rules' `rule` expressions generate the data).
    pub spec: CircuitSpec,
    /// Trajectories.
    pub trajectories: usize,
    /// Steps per trajectory.
    pub steps: usize,
    /// Measurement noise σ added to the recorded activity.
    pub noise_std: f64,
    /// Overrides every neuron population's `recorded` with this fraction.
    pub recording_fraction: Option<f64>,
    /// Seed of everything drawn (masks, recorded neurons, W₀, inputs, noise).
    pub seed: u64,
}

/// Inputs, external currents and `W₀` drawn for `trajectories` trajectories of
/// `network` as the circuit file says (draws in that order per trajectory; shared
/// `W₀` drawn once, first).
pub fn draw_conditions(
    spec: &CircuitSpec,
    network: &Network,
    trajectories: usize,
    steps: usize,
    rng: &mut ChaCha8Rng,
) -> Result<(Vec<f64>, Vec<f64>)> {
    let (n, n_syn) = (network.n_neurons(), network.n_synapses());
    let mut shared = vec![0.0; n_syn];
    let draw_weights = |q: usize, target: &mut [f64], rng: &mut ChaCha8Rng| -> Result<()> {
        let w = &spec.projections[q].initial_weights;
        let dist = normal(w.mean, w.std)?;
        for slot in &mut target[network.weight_range(q)] {
            *slot = rng.sample(dist);
        }
        Ok(())
    };
    for q in 0..network.projections().len() {
        if spec.projections[q].initial_weights.shared {
            draw_weights(q, &mut shared, rng)?;
        }
    }
    let mut drive = vec![0.0; trajectories * steps * n];
    let mut initial_weights = vec![0.0; trajectories * n_syn];
    for k in 0..trajectories {
        let w0 = &mut initial_weights[k * n_syn..(k + 1) * n_syn];
        for q in 0..network.projections().len() {
            if spec.projections[q].initial_weights.shared {
                let range = network.weight_range(q);
                w0[range.clone()].copy_from_slice(&shared[range]);
            } else {
                draw_weights(q, w0, rng)?;
            }
        }
        for (p, population) in network.populations().iter().enumerate() {
            let driven = match population.kind {
                PopulationKind::Input => true,
                PopulationKind::Neurons { external_input, .. } => external_input,
            };
            if !driven {
                continue;
            }
            let dist = normal(0.0, spec.populations[p].input_std)?;
            let range = network.activity_range(p);
            for t in 0..steps {
                for slot in &mut drive[(k * steps + t) * n..][range.clone()] {
                    *slot = rng.sample(dist);
                }
            }
        }
    }
    Ok((drive, initial_weights))
}

impl CircuitTask {
    /// Simulates the dataset. Draw order (ChaCha8 from `seed`): random masks (their own
    /// streams), the recorded neurons of each population, shared `W₀`, then per
    /// trajectory `W₀`, inputs and external currents; then the measurement noise.
    pub fn simulate(&self) -> Result<CircuitDataset> {
        if self.trajectories == 0 || self.steps == 0 {
            return Err(Error::config("trajectories/steps", "must be at least 1"));
        }
        if !(self.noise_std >= 0.0 && self.noise_std.is_finite()) {
            return Err(Error::config(
                "noise_std",
                format!("must be a finite number ≥ 0, found {}", self.noise_std),
            ));
        }
        if let Some(f) = self.recording_fraction {
            if !(0.0..=1.0).contains(&f) {
                return Err(Error::config(
                    "recording_fraction",
                    format!("must be in [0, 1], found {f}"),
                ));
            }
        }
        let theta = self.spec.generating_theta()?.ok_or_else(|| {
            Error::config(
                "rules",
                "every rule needs a Taylor `rule` expression to simulate data from the circuit",
            )
        })?;
        let network = self.spec.build(self.seed, None)?;
        let (n, n_syn) = (network.n_neurons(), network.n_synapses());
        crate::limits::check_dataset_bytes(
            &format!(
                "simulating {} trajectories × {} steps of a {n}-neuron circuit",
                self.trajectories, self.steps
            ),
            Some((self.trajectories as u64) * ((self.steps * n) as u64 * 2 + n_syn as u64) * 8),
        )?;
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        let recorded_neurons = self.recorded_neurons(&network, &mut rng);
        let (drive, initial_weights) = draw_conditions(
            &self.spec,
            &network,
            self.trajectories,
            self.steps,
            &mut rng,
        )?;
        let n_rec: usize = recorded_neurons.iter().map(Vec::len).sum();
        let mut recorded_activity = vec![0.0; self.trajectories * self.steps * n_rec];
        let recorded: Vec<usize> = recorded_neurons
            .iter()
            .enumerate()
            .flat_map(|(p, list)| {
                let start = network.activity_range(p).start;
                list.iter().map(move |&i| start + i)
            })
            .collect();
        let noise = normal(0.0, self.noise_std)?;
        let mut workspace = NetworkWorkspace::new();
        for k in 0..self.trajectories {
            let trajectory = NetworkTrajectory {
                steps: self.steps,
                drive: &drive[k * self.steps * n..(k + 1) * self.steps * n],
                initial_weights: &initial_weights[k * n_syn..(k + 1) * n_syn],
                recorded: &[],
                recorded_activity: &[],
                reward: &[],
                gate: &[],
                loss: TrajectoryLoss::SquaredError,
            };
            let run = simulate_network(&network, &theta, trajectory, &mut workspace);
            if let Some(bad) = run.activity.iter().position(|v| !v.is_finite()) {
                return Err(Error::Numerical(format!(
                    "the generating rules drive the activity to a non-finite value at trajectory {k}, step {}",
                    bad / n
                )));
            }
            for t in 0..self.steps {
                for (slot, &i) in recorded_activity[(k * self.steps + t) * n_rec..]
                    .iter_mut()
                    .zip(&recorded)
                {
                    *slot = run.activity[t * n + i];
                }
            }
        }
        if self.noise_std > 0.0 {
            recorded_activity
                .iter_mut()
                .for_each(|y| *y += rng.sample(noise));
        }
        let metadata = self.metadata()?;
        Ok(CircuitDataset::new(
            self.spec.clone(),
            network,
            self.trajectories,
            self.steps,
            drive,
            initial_weights,
            recorded_neurons,
            recorded_activity,
            metadata,
        ))
    }

    /// The recorded neurons of each population of `network` (none for an input
    /// population): those the circuit lists, or a fraction drawn from `rng`.
    fn recorded_neurons(&self, network: &Network, rng: &mut ChaCha8Rng) -> Vec<Vec<usize>> {
        let mut recorded_neurons = Vec::new();
        for (p, population) in network.populations().iter().enumerate() {
            if !population.is_simulated() {
                recorded_neurons.push(Vec::new());
                continue;
            }
            let recorded = match self.recording_fraction {
                Some(f) => Recorded::Fraction(f),
                None => self.spec.populations[p].recorded.clone(),
            };
            let mut list = match recorded {
                Recorded::Fraction(f) => {
                    let count =
                        ((f * population.size as f64).round() as usize).min(population.size);
                    rand::seq::index::sample(rng, population.size, count).into_vec()
                }
                Recorded::Neurons(list) => list,
            };
            list.sort_unstable();
            list.dedup();
            recorded_neurons.push(list);
        }
        recorded_neurons
    }

    /// The dataset's metadata: `kind`, the circuit, the noise, the seed, the sizes and
    /// the version.
    fn metadata(&self) -> Result<serde_json::Map<String, serde_json::Value>> {
        let mut metadata = serde_json::Map::new();
        metadata.insert("kind".into(), "circuit".into());
        metadata.insert(
            "circuit".into(),
            serde_json::to_value(&self.spec).map_err(|e| Error::Numerical(e.to_string()))?,
        );
        metadata.insert("noise_std".into(), self.noise_std.into());
        if let Some(f) = self.recording_fraction {
            metadata.insert("recording_fraction".into(), f.into());
        }
        metadata.insert("seed".into(), self.seed.into());
        metadata.insert("trajectories".into(), self.trajectories.into());
        metadata.insert("steps".into(), self.steps.into());
        metadata.insert("version".into(), crate::VERSION.into());
        Ok(metadata)
    }
}
