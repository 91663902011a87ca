//! A docs/model.md §3.1 neural recording as trajectories of the single-layer network
//! ([`Network::single_layer`]), without copying: the recording's inputs are the drive,
//! its `W₀` the projection's weights, its recorded neuron `i` the network's neuron
//! `n_pre + i`, and the loss the squared error over the recorded neurons.

use super::{NetworkTrajectory, TrajectoryLoss};
use crate::circuit::Network;
use crate::data::NeuralTrajectory;
use crate::rule::Rule;
use crate::Result;

/// The single-layer circuit as the engine runs it, for recordings of one set of
/// recorded neurons.
#[derive(Clone, Debug)]
pub struct NeuralEngine {
    network: Network,
    n_pre: usize,
    recorded: Vec<usize>,
}

impl NeuralEngine {
    /// The network of an `n_pre → n_post` layer under `rule`, for recordings of
    /// `recorded_neurons` (indices into the layer).
    pub fn new(
        n_pre: usize,
        n_post: usize,
        recorded_neurons: &[usize],
        rule: Rule,
    ) -> Result<Self> {
        if let Some(&i) = recorded_neurons.iter().find(|&&i| i >= n_post) {
            return Err(crate::Error::config(
                "recorded_neurons",
                format!("neuron {i} is outside the layer of {n_post}"),
            ));
        }
        Ok(NeuralEngine {
            network: Network::single_layer(n_pre, n_post, rule)?,
            n_pre,
            recorded: recorded_neurons.iter().map(|&i| n_pre + i).collect(),
        })
    }

    /// The network the engine runs.
    pub fn network(&self) -> &Network {
        &self.network
    }

    /// `trajectory` as a trajectory of the network (borrowing its arrays). Its inputs
    /// must have `n_pre` values per step and its recorded activity one per recorded
    /// neuron of the engine (as a [`crate::data::NeuralDataset`] guarantees).
    pub fn trajectory<'a>(&'a self, trajectory: NeuralTrajectory<'a>) -> NetworkTrajectory<'a> {
        debug_assert_eq!(trajectory.inputs.len(), trajectory.steps * self.n_pre);
        debug_assert_eq!(trajectory.recorded_neurons.len(), self.recorded.len());
        NetworkTrajectory {
            steps: trajectory.steps,
            drive: trajectory.inputs,
            initial_weights: trajectory.initial_weights,
            recorded: &self.recorded,
            recorded_activity: trajectory.recorded_activity,
            reward: &[],
            gate: &[],
            loss: TrajectoryLoss::SquaredError,
        }
    }
}
