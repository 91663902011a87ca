//! The loss of spike-train recordings: the teacher-forced negative log-likelihood of
//! every recorded spike ([`crate::gradient::spiking`]), summed over trajectories and
//! divided by the neuron-steps `n = K · T · N_recorded`, so that the loss is in nats
//! per neuron-step; parallel over trajectories. With latent populations the gradient
//! and Fisher information come from [`crate::gradient::spiking::mean_field`] whatever
//! the strategy.

use rayon::prelude::*;

use super::Objective;
use crate::data::SpikeTrainDataset;
use crate::gradient::spiking::adjoint::{likelihood_adjoint, AdjointWorkspace};
use crate::gradient::spiking::forward::{likelihood_forward, ForwardWorkspace, LikelihoodSystem};
use crate::gradient::spiking::{trial_loss, SpikeTrial};
use crate::gradient::GradientStrategy;

/// The spike-train likelihood of a dataset as an [`Objective`] over θ.
pub struct SpikeTrainObjective<'a> {
    dataset: &'a SpikeTrainDataset,
    strategy: GradientStrategy,
    steps: usize,
}

impl<'a> SpikeTrainObjective<'a> {
    /// The objective, gradients by `strategy` (forward mode: memory independent of
    /// the recording's length; else the adjoint with its segments). Latent
    /// populations must allow the expectation ([`crate::circuit::spiking::SpikingCircuit::check_mean_field`]).
    pub fn new(dataset: &'a SpikeTrainDataset, strategy: GradientStrategy) -> crate::Result<Self> {
        dataset.circuit.check_mean_field()?;
        Ok(SpikeTrainObjective {
            dataset,
            strategy,
            steps: dataset.steps,
        })
    }

    /// Uses only the first `steps` steps of every trajectory.
    pub fn with_steps(mut self, steps: usize) -> Self {
        self.steps = steps.min(self.dataset.steps);
        self
    }

    /// The dataset.
    pub fn dataset(&self) -> &SpikeTrainDataset {
        self.dataset
    }

    /// Trajectory `k`.
    pub fn trial(&self, k: usize) -> SpikeTrial<'_> {
        SpikeTrial {
            raster: &self.dataset.rasters[k],
            initial_weights: &self.dataset.initial_weights[k],
            reward: None,
            steps: self.steps,
        }
    }

    /// `n`, the neuron-steps the loss is divided by.
    pub fn normaliser(&self, items: usize) -> f64 {
        let circuit = &self.dataset.circuit;
        let neurons = circuit.n_recorded_neurons();
        (items * self.steps * neurons).max(1) as f64
    }

    /// The total negative log-likelihood (nats) of `items`, not divided.
    pub fn negative_log_likelihood(&self, theta: &[f64], items: &[usize]) -> f64 {
        let circuit = &self.dataset.circuit;
        items
            .par_iter()
            .map(|&k| trial_loss(circuit, theta, self.trial(k)))
            .collect::<Vec<f64>>()
            .iter()
            .sum()
    }

    /// The summed likelihood system (loss, gradient, Fisher information; not divided)
    /// of `items` by forward mode.
    pub fn system(&self, theta: &[f64], items: &[usize]) -> LikelihoodSystem {
        let circuit = &self.dataset.circuit;
        let parts: Vec<LikelihoodSystem> = items
            .par_iter()
            .map_init(ForwardWorkspace::default, |workspace, &k| {
                likelihood_forward(circuit, theta, self.trial(k), true, workspace)
            })
            .collect();
        let n = circuit.n_parameters();
        let mut total = LikelihoodSystem {
            loss: 0.0,
            gradient: vec![0.0; n],
            fisher: vec![0.0; n * n],
            observations: 0,
        };
        for part in parts {
            total.loss += part.loss;
            total.observations += part.observations;
            for (t, p) in total.gradient.iter_mut().zip(&part.gradient) {
                *t += p;
            }
            for (t, p) in total.fisher.iter_mut().zip(&part.fisher) {
                *t += p;
            }
        }
        total
    }
}

impl Objective for SpikeTrainObjective<'_> {
    fn n_parameters(&self) -> usize {
        self.dataset.circuit.n_parameters()
    }

    fn n_items(&self) -> usize {
        self.dataset.trajectories()
    }

    fn loss(&self, theta: &[f64], items: &[usize]) -> f64 {
        self.negative_log_likelihood(theta, items) / self.normaliser(items.len())
    }

    fn loss_and_gradient(&self, theta: &[f64], items: &[usize], gradient: &mut [f64]) -> f64 {
        let circuit = &self.dataset.circuit;
        let n = circuit.n_parameters();
        let parts: Vec<(f64, Vec<f64>)> = match self.strategy {
            GradientStrategy::Forward => items
                .par_iter()
                .map_init(ForwardWorkspace::default, |workspace, &k| {
                    let system =
                        likelihood_forward(circuit, theta, self.trial(k), false, workspace);
                    (system.loss, system.gradient)
                })
                .collect(),
            strategy => items
                .par_iter()
                .map_init(AdjointWorkspace::default, |workspace, &k| {
                    let mut g = vec![0.0; n];
                    let loss = likelihood_adjoint(
                        circuit,
                        theta,
                        self.trial(k),
                        strategy,
                        workspace,
                        &mut g,
                    );
                    (loss, g)
                })
                .collect(),
        };
        let scale = 1.0 / self.normaliser(items.len());
        gradient.iter_mut().for_each(|g| *g = 0.0);
        let mut total = 0.0;
        for (loss, g) in parts {
            total += loss;
            for (t, v) in gradient.iter_mut().zip(&g) {
                *t += v * scale;
            }
        }
        total * scale
    }
}
