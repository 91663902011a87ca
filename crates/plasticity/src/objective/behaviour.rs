//! The behaviour circuit's loss (docs/model.md §4.2, §6): the mean cross-entropy of the
//! recorded choices, its gradient (adjoint or forward mode) and its Fisher-scoring
//! system (the Levenberg–Marquardt fit of choices).

use rayon::prelude::*;

use super::Objective;
use crate::gradient::forward::{
    behaviour_session_fisher, behaviour_session_loss_and_gradient_forward,
    BehaviourForwardWorkspace,
};
use crate::gradient::GradientStrategy;
use crate::optim::least_squares::GaussNewtonSystem;
use crate::rule::PlasticityRule;

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
    circuit: crate::circuit::BehaviourCircuit,
    rule: R,
    strategy: GradientStrategy,
    clipped: std::sync::atomic::AtomicUsize,
    /// Parameters forward mode differentiates (all unless restricted).
    active: Vec<usize>,
}

impl<'a, R: PlasticityRule> BehaviourObjective<'a, R> {
    /// The cross-entropy of `dataset` driven by `inputs` (same shape as the dataset's).
    pub fn new(
        dataset: &'a crate::data::BehaviourDataset,
        inputs: ndarray::Array3<f64>,
        circuit: crate::circuit::BehaviourCircuit,
        rule: R,
        strategy: GradientStrategy,
    ) -> Self {
        debug_assert_eq!(inputs.shape(), dataset.inputs.shape());
        BehaviourObjective {
            dataset,
            inputs: inputs.as_standard_layout().into_owned(),
            circuit,
            active: (0..rule.n_parameters()).collect(),
            rule,
            strategy,
            clipped: std::sync::atomic::AtomicUsize::new(0),
        }
    }

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
        let per_item: Vec<(f64, usize)> = items
            .par_iter()
            .map_init(crate::gradient::BehaviourWorkspace::new, |workspace, &k| {
                let result = crate::gradient::behaviour_session_loss(
                    &self.circuit,
                    &self.rule,
                    theta,
                    self.dataset.session_with_inputs(k, &self.inputs),
                    workspace,
                );
                (result.loss, result.clipped)
            })
            .collect();
        let clipped = per_item.iter().map(|p| p.1).sum();
        (per_item.into_iter().map(|p| p.0).collect(), clipped)
    }

    /// The Fisher-scoring system of the loss on `items` at `θ` over the active
    /// parameters (in their order): `sse` the loss `L` (as [`Objective::loss`] gives
    /// it), `gradient` `∇L` and `normal` the Fisher information of `L` (each session's
    /// sums divided by its presentations and by `items.len()`, as `L` is), from
    /// forward-mode logit tangents (whatever the gradient strategy). Sessions run in
    /// parallel and are summed in order: the result does not depend on the thread
    /// count.
    pub fn fisher_scoring(&self, theta: &[f64], items: &[usize]) -> GaussNewtonSystem {
        let n = self.active.len();
        let per_item: Vec<(f64, usize, GaussNewtonSystem)> = items
            .par_iter()
            .map_init(BehaviourForwardWorkspace::default, |workspace, &k| {
                let mut system = GaussNewtonSystem::zeros(n);
                let session = self.dataset.session_with_inputs(k, &self.inputs);
                let result = behaviour_session_fisher(
                    &self.circuit,
                    &self.rule,
                    theta,
                    session,
                    &self.active,
                    workspace,
                    &mut system,
                );
                (result.loss, result.clipped, system)
            })
            .collect();
        let mut total = GaussNewtonSystem::zeros(n);
        let mut loss = 0.0;
        let mut clipped = 0;
        for (session_loss, session_clipped, system) in &per_item {
            loss += session_loss;
            clipped += session_clipped;
            let scale = 1.0 / system.residuals.max(1) as f64;
            total.residuals += system.residuals;
            for (t, v) in total.gradient.iter_mut().zip(&system.gradient) {
                *t += v * scale;
            }
            for (t, v) in total.normal.iter_mut().zip(&system.normal) {
                *t += v * scale;
            }
        }
        self.count(clipped);
        let sessions = items.len() as f64;
        total.sse = loss / sessions;
        total.gradient.iter_mut().for_each(|v| *v /= sessions);
        total.normal.iter_mut().for_each(|v| *v /= sessions);
        total.symmetrise();
        total
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
        let per_item: Vec<(f64, usize, Vec<f64>)> = items
            .par_iter()
            .map_init(
                || {
                    (
                        crate::gradient::BehaviourWorkspace::new(),
                        BehaviourForwardWorkspace::default(),
                    )
                },
                |(workspace, forward), &k| {
                    let mut item_gradient = vec![0.0; theta.len()];
                    let session = self.dataset.session_with_inputs(k, &self.inputs);
                    let result = if self.strategy == GradientStrategy::Forward {
                        behaviour_session_loss_and_gradient_forward(
                            &self.circuit,
                            &self.rule,
                            theta,
                            session,
                            &self.active,
                            forward,
                            &mut item_gradient,
                        )
                    } else {
                        crate::gradient::behaviour_session_loss_and_gradient(
                            &self.circuit,
                            &self.rule,
                            theta,
                            session,
                            self.strategy,
                            workspace,
                            &mut item_gradient,
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
