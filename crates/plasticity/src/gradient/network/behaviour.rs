//! A behaviour session (docs/model.md §3.2, §6) as a trajectory of the behaviour circuit's
//! network instance ([`Network::behaviour`](crate::circuit::Network::behaviour)).
//!
//! Step `t` is presentation `t`: the drive is the odour input `x_t` (0 for the neuron
//! populations), the modulatory signal is the trial's `r_t` (`R − E[R]` or `R`, as the
//! session says), the plasticity gate is on where the fly accepted (`d_t = 1`), and the
//! loss is the mean cross-entropy of the `accept` neuron's `σ(z_t)` against `d_t`. The
//! weights are `W₀` of `odour_hidden` followed by the readout `v` of every hidden unit.

use super::{
    network_trajectory_replay, NetworkTrajectory, NetworkWorkspace, SessionLoss, TrajectoryLoss,
};
use crate::circuit::{BehaviourCircuit, Network};
use crate::data::BehaviourSession;
use crate::rule::Rule;
use crate::scalar::Scalar;
use crate::{Error, Result};

/// The behaviour circuit (docs/model.md §3.2) as the engine runs it: its network
/// instance ([`Network::behaviour`]) and the circuit it stands for. Every behaviour
/// loss, gradient (adjoint or forward mode), Fisher-scoring system and replay goes
/// through this network; the circuit gives the sizes sessions are converted with.
#[derive(Clone, Debug)]
pub struct BehaviourEngine {
    network: Network,
    circuit: BehaviourCircuit,
}

impl BehaviourEngine {
    /// The network of `circuit` under `rule`.
    pub fn new(circuit: &BehaviourCircuit, rule: Rule) -> Result<Self> {
        Ok(BehaviourEngine {
            network: Network::behaviour(circuit, rule)?,
            circuit: *circuit,
        })
    }

    /// The network the engine runs.
    pub fn network(&self) -> &Network {
        &self.network
    }

    /// The circuit it stands for.
    pub fn circuit(&self) -> &BehaviourCircuit {
        &self.circuit
    }

    /// `session` converted for this network.
    pub fn trajectory(&self, session: BehaviourSession<'_>) -> Result<BehaviourTrajectory> {
        BehaviourTrajectory::new(&self.circuit, session)
    }

    /// Runs one converted session at `θ` and hands every presentation `p` to
    /// `observe(p, W_p, h_p, ℓ_p)`: the plastic weights (`n_hidden × n_in`) and the
    /// hidden activity the presentation saw, and its cross-entropy
    /// `softplus(z_p) − d_p z_p`, before its update. Returns the session's mean
    /// cross-entropy and the weights the bound clipped. Generic, so that dual numbers
    /// differentiate it.
    pub fn replay<S: Scalar>(
        &self,
        theta: &[S],
        session: &BehaviourTrajectory,
        workspace: &mut NetworkWorkspace<S>,
        mut observe: impl FnMut(usize, &[S], &[S], S),
    ) -> SessionLoss<S> {
        let (n_in, n_hidden) = (self.circuit.n_in, self.circuit.n_hidden);
        let initial_weights: Vec<S> = session
            .initial_weights()
            .iter()
            .map(|&w| S::from_f64(w))
            .collect();
        network_trajectory_replay(
            &self.network,
            theta,
            &initial_weights,
            session.trajectory(),
            workspace,
            |p, weights, activity, loss| {
                observe(
                    p,
                    &weights[..n_in * n_hidden],
                    &activity[n_in..n_in + n_hidden],
                    loss,
                )
            },
        )
    }
}

/// Replays `session` with `θ` of `rule` on `circuit` (see [`BehaviourEngine::replay`]):
/// a convenience for analyses that replay a few sessions.
pub fn replay_session<R: Clone + Into<Rule>>(
    circuit: &BehaviourCircuit,
    rule: &R,
    theta: &[f64],
    session: BehaviourSession<'_>,
    observe: impl FnMut(usize, &[f64], &[f64], f64),
) -> Result<SessionLoss<f64>> {
    let engine = BehaviourEngine::new(circuit, rule.clone().into())?;
    let converted = engine.trajectory(session)?;
    Ok(engine.replay(theta, &converted, &mut NetworkWorkspace::new(), observe))
}

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
