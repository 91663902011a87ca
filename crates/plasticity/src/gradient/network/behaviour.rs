//! A behaviour session (docs/model.md §3.2, §6) as a trajectory of the behaviour circuit's
//! network instance ([`Network::behaviour`](crate::circuit::Network::behaviour)).
//!
//! Step `t` is presentation `t`: the drive is the odour input `x_t` (0 for the neuron
//! populations), the modulatory signal is the trial's `r_t` (`R − E[R]` or `R`, as the
//! session says), the plasticity gate is on where the fly accepted (`d_t = 1`), and the
//! loss is the mean cross-entropy of the `accept` neuron's `σ(z_t)` against `d_t`. The
//! weights are `W₀` of `odour_hidden` followed by the readout `v` of every hidden unit.
//!
//! A choice session (`kind = "choice"`) is laid out trial by trial: the options the
//! trial offered that were not chosen (gate off: the weights do not change between
//! them), then the chosen one (gate on, the trial's `r_t`); the loss is the softmax
//! likelihood of the chosen option among them ([`TrajectoryLoss::Softmax`]). Trials
//! without a choice have no step.

use super::{
    network_trajectory_replay, NetworkTrajectory, NetworkWorkspace, SessionLoss, TrajectoryLoss,
};
use crate::circuit::{BehaviourCircuit, Network};
use crate::data::{BehaviourKind, BehaviourSession};
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
    /// `softplus(z_p) − d_p z_p`, before its update (a choice session: its trials'
    /// presentations in the engine's order, unchosen options first, with `ℓ_p` the
    /// trial's `−log P(chosen)` at the chosen option and 0 at the others). Returns the
    /// session's mean loss per decision and the weights the bound clipped. Generic, so that dual numbers
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
            |t, weights, activity, loss| {
                observe(
                    session.presentation_of_step(t),
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
    /// The session's presentation of each step (empty: the same index).
    presentations: Vec<usize>,
    loss: TrajectoryLoss,
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
        let (presentations, loss) = match session.kind {
            BehaviourKind::AcceptReject => (Vec::new(), TrajectoryLoss::CrossEntropy),
            BehaviourKind::Choice => (choice_order(&session), TrajectoryLoss::Softmax),
        };
        let order: Vec<usize> = if presentations.is_empty() {
            (0..steps).collect()
        } else {
            presentations.clone()
        };
        let n = n_in + n_hidden + 1;
        let mut drive = vec![0.0; order.len() * n];
        for (row, &p) in drive.chunks_exact_mut(n).zip(&order) {
            row[..n_in].copy_from_slice(&session.inputs[p * n_in..(p + 1) * n_in]);
        }
        let mut initial_weights = session.initial_weights.to_vec();
        initial_weights.extend(std::iter::repeat_n(circuit.readout, n_hidden));
        let gate: Vec<bool> = order.iter().map(|&p| session.decisions[p] == 1).collect();
        // r only matters where the gate is on (rejections, unchosen options: no update)
        let reward = order
            .iter()
            .map(|&p| {
                if session.decisions[p] == 1 {
                    session.reward_at(p)
                } else {
                    0.0
                }
            })
            .collect();
        Ok(BehaviourTrajectory {
            steps: order.len(),
            drive,
            initial_weights,
            recorded: [n_in + n_hidden],
            decisions: order.iter().map(|&p| session.decisions[p] as f64).collect(),
            reward,
            gate,
            presentations,
            loss,
        })
    }

    /// The session's presentation that step `t` runs.
    pub fn presentation_of_step(&self, t: usize) -> usize {
        self.presentations.get(t).copied().unwrap_or(t)
    }

    /// Number of terms of the session's loss: presentations (accept/reject) or choices.
    pub fn n_decisions(&self) -> usize {
        match self.loss {
            TrajectoryLoss::Softmax => self.decisions.iter().filter(|&&d| d == 1.0).count(),
            _ => self.steps,
        }
    }

    /// Number of steps (presentations the engine runs).
    pub fn steps(&self) -> usize {
        self.steps
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
            loss: self.loss,
        }
    }
}

/// The presentations of a choice session in the engine's order: each trial with a
/// chosen option, its other options (in their order), then the chosen one.
fn choice_order(session: &BehaviourSession<'_>) -> Vec<usize> {
    let mut order = Vec::with_capacity(session.n_presentations());
    crate::data::behaviour::for_each_trial(session.trial_of_presentation, |range| {
        if let Some(chosen) = range.clone().find(|&p| session.decisions[p] == 1) {
            order.extend(range.filter(|&p| p != chosen));
            order.push(chosen);
        }
    });
    order
}

#[cfg(test)]
mod tests;
