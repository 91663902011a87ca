//! Losses over datasets, with their gradients, parallel over trajectories.
//!
//! Per-trajectory results are collected in order and summed sequentially, so a loss
//! is bit-identical whatever the number of threads.

use rayon::prelude::*;

use crate::circuit::NeuralCircuit;
use crate::data::NeuralDataset;
use crate::gradient::{
    neural_trajectory_sse, neural_trajectory_sse_and_gradient, GradientStrategy, NeuralWorkspace,
};
use crate::rule::PlasticityRule;

/// A differentiable data loss over items (trajectories or sessions) that can be
/// batched: what the optimisers see.
pub trait Objective: Sync {
    /// Number of rule parameters θ.
    fn n_parameters(&self) -> usize;
    /// Number of items (trajectories, sessions) a batch is drawn from.
    fn n_items(&self) -> usize;
    /// The loss on `items` at `θ`.
    fn loss(&self, theta: &[f64], items: &[usize]) -> f64;
    /// The loss on `items` at `θ`; its gradient is written into `gradient`.
    fn loss_and_gradient(&self, theta: &[f64], items: &[usize], gradient: &mut [f64]) -> f64;
}

/// Mean squared error of the neural-activity circuit (SPEC §4.1):
/// `L = 1/(N T n_rec) Σ_{k,t,i∈rec} (y_{k,t,i}(θ) − ŷ_{k,t,i})²`.
pub struct NeuralObjective<'a, R> {
    dataset: &'a NeuralDataset,
    circuit: NeuralCircuit,
    rule: R,
    strategy: GradientStrategy,
}

impl<'a, R: PlasticityRule> NeuralObjective<'a, R> {
    /// The MSE of `dataset` under `rule`, gradients by `strategy`.
    pub fn new(dataset: &'a NeuralDataset, rule: R, strategy: GradientStrategy) -> Self {
        NeuralObjective {
            dataset,
            circuit: NeuralCircuit::new(dataset.n_pre(), dataset.n_post()),
            rule,
            strategy,
        }
    }

    fn normaliser(&self, n_items: usize) -> f64 {
        (n_items * self.dataset.steps() * self.dataset.recorded_neurons.len()) as f64
    }
}

impl<R: PlasticityRule> Objective for NeuralObjective<'_, R> {
    fn n_parameters(&self) -> usize {
        self.rule.n_parameters()
    }

    fn n_items(&self) -> usize {
        self.dataset.n_trajectories()
    }

    fn loss(&self, theta: &[f64], items: &[usize]) -> f64 {
        let per_item: Vec<f64> = items
            .par_iter()
            .map_init(NeuralWorkspace::new, |workspace, &k| {
                neural_trajectory_sse(
                    &self.circuit,
                    &self.rule,
                    theta,
                    self.dataset.trajectory(k),
                    workspace,
                )
            })
            .collect();
        per_item.iter().sum::<f64>() / self.normaliser(items.len())
    }

    fn loss_and_gradient(&self, theta: &[f64], items: &[usize], gradient: &mut [f64]) -> f64 {
        let per_item: Vec<(f64, Vec<f64>)> = items
            .par_iter()
            .map_init(NeuralWorkspace::new, |workspace, &k| {
                let mut item_gradient = vec![0.0; theta.len()];
                let sse = neural_trajectory_sse_and_gradient(
                    &self.circuit,
                    &self.rule,
                    theta,
                    self.dataset.trajectory(k),
                    self.strategy,
                    workspace,
                    &mut item_gradient,
                );
                (sse, item_gradient)
            })
            .collect();
        let scale = 1.0 / self.normaliser(items.len());
        gradient.iter_mut().for_each(|g| *g = 0.0);
        let mut total = 0.0;
        for (sse, item_gradient) in &per_item {
            total += sse;
            for (g, v) in gradient.iter_mut().zip(item_gradient) {
                *g += v;
            }
        }
        gradient.iter_mut().for_each(|g| *g *= scale);
        total * scale
    }
}
