//! The behaviour circuit's loss (docs/model.md §4.2, §6): the mean cross-entropy of the
//! recorded choices, its gradient (adjoint or forward mode) and its Fisher-scoring
//! system (the Levenberg–Marquardt fit of choices), every one computed by the engine
//! on the circuit's network instance ([`BehaviourEngine`]).

use rayon::prelude::*;

use super::Objective;
use crate::gradient::network::jacobian::{
    network_trajectory_fisher, network_trajectory_loss_and_gradient_forward,
    NetworkTangentWorkspace,
};
use crate::gradient::network::{
    network_trajectory_loss, network_trajectory_loss_and_gradient, BehaviourEngine,
    BehaviourTrajectory, NetworkWorkspace,
};
use crate::gradient::GradientStrategy;
use crate::optim::least_squares::GaussNewtonSystem;
use crate::rule::{PlasticityRule, Rule};

/// Mean binary cross-entropy of the behaviour circuit (docs/model.md §4.2, §6):
/// `L = 1/S Σ_s 1/P_s Σ_p [softplus(z_sp) − d_sp z_sp]`, each session averaged over
/// its own real presentations (padding never enters), then over sessions.
///
/// The model is driven by `inputs` (the dataset's own, or re-sampled sensory noise)
/// and by the recorded decisions and rewards. How many weights the circuit's bound
/// clipped is counted across every evaluation.
pub struct BehaviourObjective<'a, R> {
    dataset: &'a crate::data::BehaviourDataset,
    inputs: ndarray::Array3<f64>,
    engine: BehaviourEngine,
    /// Every session converted for the engine, driven by `inputs`.
    sessions: Vec<BehaviourTrajectory>,
    rule: R,
    strategy: GradientStrategy,
    clipped: std::sync::atomic::AtomicUsize,
    /// Parameters forward mode differentiates (all unless restricted).
    active: Vec<usize>,
}

impl<'a, R: PlasticityRule + Clone + Into<Rule>> BehaviourObjective<'a, R> {
    /// The cross-entropy of `dataset` driven by `inputs` (same shape as the dataset's).
    /// Errors if the inputs or the dataset's `W₀` do not fit `circuit`.
    pub fn new(
        dataset: &'a crate::data::BehaviourDataset,
        inputs: ndarray::Array3<f64>,
        circuit: crate::circuit::BehaviourCircuit,
        rule: R,
        strategy: GradientStrategy,
    ) -> crate::Result<Self> {
        if inputs.shape() != dataset.inputs.shape() {
            return Err(crate::Error::config(
                "inputs",
                format!(
                    "have shape {:?}, expected the dataset's {:?}",
                    inputs.shape(),
                    dataset.inputs.shape()
                ),
            ));
        }
        let inputs = inputs.as_standard_layout().into_owned();
        let engine = BehaviourEngine::new(&circuit, rule.clone().into())?;
        let sessions = (0..dataset.n_sessions())
            .map(|k| engine.trajectory(dataset.session_with_inputs(k, &inputs)))
            .collect::<crate::Result<Vec<_>>>()?;
        Ok(BehaviourObjective {
            dataset,
            inputs,
            engine,
            sessions,
            active: (0..rule.n_parameters()).collect(),
            rule,
            strategy,
            clipped: std::sync::atomic::AtomicUsize::new(0),
        })
    }
}

impl<'a, R: PlasticityRule> BehaviourObjective<'a, R> {
    /// As [`super::NeuralObjective::with_active_parameters`].
    pub fn with_active_parameters(mut self, active: Vec<usize>) -> Self {
        assert!(active.iter().all(|&k| k < self.rule.n_parameters()));
        self.active = active;
        self
    }

    /// The inputs that drive the model.
    pub fn inputs(&self) -> &ndarray::Array3<f64> {
        &self.inputs
    }

    /// The engine that runs the circuit.
    pub fn engine(&self) -> &BehaviourEngine {
        &self.engine
    }

    /// Session `k` converted for the engine (driven by [`Self::inputs`]).
    pub fn session(&self, k: usize) -> &BehaviourTrajectory {
        &self.sessions[k]
    }

    /// Weights clipped by the circuit's bound, summed over every evaluation so far.
    pub fn clipped(&self) -> usize {
        self.clipped.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The mean cross-entropy of every session at `θ`, and the weights the bound
    /// clipped in that one evaluation.
    pub fn session_losses(&self, theta: &[f64]) -> (Vec<f64>, usize) {
        let all: Vec<usize> = (0..self.dataset.n_sessions()).collect();
        self.losses_of(theta, &all)
    }

    /// The mean cross-entropy of each session in `items` at `θ` (in order, whatever
    /// the thread count), and the weights the bound clipped.
    fn losses_of(&self, theta: &[f64], items: &[usize]) -> (Vec<f64>, usize) {
        let network = self.engine.network();
        let per_item: Vec<(f64, usize)> = items
            .par_iter()
            .map_init(NetworkWorkspace::new, |workspace, &k| {
                let session = &self.sessions[k];
                let result = network_trajectory_loss(
                    network,
                    theta,
                    session.initial_weights(),
                    session.trajectory(),
                    workspace,
                );
                (result.loss, result.clipped)
            })
            .collect();
        let clipped = per_item.iter().map(|p| p.1).sum();
        (per_item.into_iter().map(|p| p.0).collect(), clipped)
    }

    /// Each session of `items` (in order, whatever the thread count): its mean
    /// loss per decision at `θ`, its decisions `P_s` (presentations, or choices), and its gradient over the active
    /// parameters in forward mode (a full-length vector, 0 elsewhere).
    pub fn session_gradients(&self, theta: &[f64], items: &[usize]) -> Vec<(f64, usize, Vec<f64>)> {
        let network = self.engine.network();
        let per_item: Vec<(f64, usize, usize, Vec<f64>)> = items
            .par_iter()
            .map_init(NetworkTangentWorkspace::new, |workspace, &k| {
                let mut gradient = vec![0.0; theta.len()];
                let trajectory = self.sessions[k].trajectory();
                let result = network_trajectory_loss_and_gradient_forward(
                    network,
                    theta,
                    &self.active,
                    trajectory,
                    workspace,
                    &mut gradient,
                );
                let decisions = self.sessions[k].n_decisions();
                (result.loss, result.clipped, decisions, gradient)
            })
            .collect();
        self.count(per_item.iter().map(|p| p.1).sum());
        per_item
            .into_iter()
            .map(|(loss, _, steps, gradient)| (loss, steps, gradient))
            .collect()
    }

    /// Each session of `items` (in order): its mean cross-entropy at `θ` and its
    /// Fisher-scoring system over the active parameters (in their order), as sums over
    /// its presentations (`residuals` = `P_s`; see
    /// [`crate::gradient::network::jacobian::network_trajectory_fisher`]).
    pub fn session_fisher(
        &self,
        theta: &[f64],
        items: &[usize],
    ) -> crate::Result<Vec<(f64, GaussNewtonSystem)>> {
        let n = self.active.len();
        let network = self.engine.network();
        let per_item = items
            .par_iter()
            .map_init(NetworkTangentWorkspace::new, |workspace, &k| {
                let mut system = GaussNewtonSystem::zeros(n);
                let result = network_trajectory_fisher(
                    network,
                    theta,
                    &self.active,
                    self.sessions[k].trajectory(),
                    workspace,
                    &mut system,
                )?;
                Ok((result.loss, result.clipped, system))
            })
            .collect::<crate::Result<Vec<_>>>()?;
        self.count(per_item.iter().map(|p| p.1).sum());
        Ok(per_item
            .into_iter()
            .map(|(loss, _, system)| (loss, system))
            .collect())
    }

    /// The Fisher-scoring system of the loss on `items` at `θ` over the active
    /// parameters (in their order): `sse` the loss `L` (as [`Objective::loss`] gives
    /// it), `gradient` `∇L` and `normal` the Fisher information of `L` (each session's
    /// sums divided by its presentations and by `items.len()`, as `L` is), from
    /// forward-mode logit tangents (whatever the gradient strategy). Sessions run in
    /// parallel and are summed in order: the result does not depend on the thread
    /// count.
    pub fn fisher_scoring(
        &self,
        theta: &[f64],
        items: &[usize],
    ) -> crate::Result<GaussNewtonSystem> {
        let n = self.active.len();
        let mut total = GaussNewtonSystem::zeros(n);
        let mut loss = 0.0;
        for (session_loss, system) in &self.session_fisher(theta, items)? {
            loss += session_loss;
            let scale = 1.0 / system.residuals.max(1) as f64;
            total.residuals += system.residuals;
            for (t, v) in total.gradient.iter_mut().zip(&system.gradient) {
                *t += v * scale;
            }
            for (t, v) in total.normal.iter_mut().zip(&system.normal) {
                *t += v * scale;
            }
        }
        let sessions = items.len() as f64;
        total.sse = loss / sessions;
        total.gradient.iter_mut().for_each(|v| *v /= sessions);
        total.normal.iter_mut().for_each(|v| *v /= sessions);
        total.symmetrise();
        Ok(total)
    }

    fn count(&self, clipped: usize) {
        self.clipped
            .fetch_add(clipped, std::sync::atomic::Ordering::Relaxed);
    }
}

impl<R: PlasticityRule> Objective for BehaviourObjective<'_, R> {
    fn n_parameters(&self) -> usize {
        self.rule.n_parameters()
    }

    fn n_items(&self) -> usize {
        self.dataset.n_sessions()
    }

    fn loss(&self, theta: &[f64], items: &[usize]) -> f64 {
        let (losses, clipped) = self.losses_of(theta, items);
        self.count(clipped);
        losses.iter().sum::<f64>() / items.len() as f64
    }

    fn loss_and_gradient(&self, theta: &[f64], items: &[usize], gradient: &mut [f64]) -> f64 {
        let network = self.engine.network();
        let per_item: Vec<(f64, usize, Vec<f64>)> = items
            .par_iter()
            .map_init(
                || (NetworkWorkspace::new(), NetworkTangentWorkspace::new()),
                |(workspace, tangents), &k| {
                    let mut item_gradient = vec![0.0; theta.len()];
                    let session = &self.sessions[k];
                    let result = if self.strategy == GradientStrategy::Forward {
                        network_trajectory_loss_and_gradient_forward(
                            network,
                            theta,
                            &self.active,
                            session.trajectory(),
                            tangents,
                            &mut item_gradient,
                        )
                    } else {
                        network_trajectory_loss_and_gradient(
                            network,
                            theta,
                            session.trajectory(),
                            self.strategy,
                            workspace,
                            &mut item_gradient,
                            None,
                        )
                    };
                    (result.loss, result.clipped, item_gradient)
                },
            )
            .collect();
        let scale = 1.0 / items.len() as f64;
        gradient.iter_mut().for_each(|g| *g = 0.0);
        let mut total = 0.0;
        let mut clipped = 0;
        for (loss, item_clipped, item_gradient) in &per_item {
            total += loss;
            clipped += item_clipped;
            for (g, v) in gradient.iter_mut().zip(item_gradient) {
                *g += v;
            }
        }
        self.count(clipped);
        gradient.iter_mut().for_each(|g| *g *= scale);
        total * scale
    }
}

#[cfg(test)]
mod tests;
