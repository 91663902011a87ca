//! A behaviour session (docs/model.md §3.2, §6) as a trajectory of the behaviour circuit's
//! network instance ([`Network::behaviour`](crate::circuit::Network::behaviour)).
//!
//! Step `t` is presentation `t`: the drive is the odour input `x_t` (0 for the neuron
//! populations), the modulatory signal is the trial's `r_t` (`R − E[R]` or `R`, as the
//! session says), the plasticity gate is on where the fly accepted (`d_t = 1`), and the
//! loss is the mean cross-entropy of the `accept` neuron's `σ(z_t)` against `d_t`. The
//! weights are `W₀` of `odour_hidden` followed by the readout `v` of every hidden unit.

use super::{NetworkTrajectory, TrajectoryLoss};
use crate::circuit::BehaviourCircuit;
use crate::data::BehaviourSession;
use crate::{Error, Result};

/// One behaviour session laid out for the network engine (owned buffers).
#[derive(Clone, Debug, PartialEq)]
pub struct BehaviourTrajectory {
    steps: usize,
    drive: Vec<f64>,
    initial_weights: Vec<f64>,
    recorded: [usize; 1],
    decisions: Vec<f64>,
    reward: Vec<f64>,
    gate: Vec<bool>,
}

impl BehaviourTrajectory {
    /// Converts `session` for `Network::behaviour(circuit, _)`. Errors if the session's
    /// inputs or `W₀` do not fit the circuit's sizes.
    pub fn new(circuit: &BehaviourCircuit, session: BehaviourSession<'_>) -> Result<Self> {
        let (n_in, n_hidden) = (circuit.n_in, circuit.n_hidden);
        let steps = session.n_presentations();
        if session.inputs.len() != steps * n_in {
            return Err(Error::config(
                "inputs",
                format!(
                    "has {} values, expected {steps} presentations × {n_in} inputs",
                    session.inputs.len()
                ),
            ));
        }
        if session.initial_weights.len() != n_hidden * n_in {
            return Err(Error::config(
                "initial_weights",
                format!(
                    "has {} values, expected {n_hidden} × {n_in}",
                    session.initial_weights.len()
                ),
            ));
        }
        let n = n_in + n_hidden + 1;
        let mut drive = vec![0.0; steps * n];
        for (row, x) in drive
            .chunks_exact_mut(n)
            .zip(session.inputs.chunks_exact(n_in))
        {
            row[..n_in].copy_from_slice(x);
        }
        let mut initial_weights = session.initial_weights.to_vec();
        initial_weights.extend(std::iter::repeat_n(circuit.readout, n_hidden));
        let gate: Vec<bool> = session.decisions.iter().map(|&d| d == 1).collect();
        // r only matters where the gate is on (rejections have no update)
        let reward = (0..steps)
            .map(|p| if gate[p] { session.reward_at(p) } else { 0.0 })
            .collect();
        Ok(BehaviourTrajectory {
            steps,
            drive,
            initial_weights,
            recorded: [n_in + n_hidden],
            decisions: session.decisions.iter().map(|&d| d as f64).collect(),
            reward,
            gate,
        })
    }

    /// `W₀` of every projection: the session's `W₀`, then `v` for each hidden unit.
    pub fn initial_weights(&self) -> &[f64] {
        &self.initial_weights
    }

    /// The trajectory: cross-entropy loss on the `accept` neuron, `r_t` and gate per
    /// presentation.
    pub fn trajectory(&self) -> NetworkTrajectory<'_> {
        NetworkTrajectory {
            steps: self.steps,
            drive: &self.drive,
            initial_weights: &self.initial_weights,
            recorded: &self.recorded,
            recorded_activity: &self.decisions,
            reward: &self.reward,
            gate: &self.gate,
            loss: TrajectoryLoss::CrossEntropy,
        }
    }
}

#[cfg(test)]
mod tests;
