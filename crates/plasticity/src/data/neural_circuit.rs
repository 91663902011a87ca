//! A docs/model.md §3.1 neural recording as a recording of the network engine's circuit: an
//! input population `x` (`n_pre`, the recorded inputs) → a sigmoid population `y`
//! (`n_post`, the recorded neurons as recorded) through one plastic, all-to-all
//! projection `w` with `η = 1`:
//!
//! `y_t = σ(W_t x_t)`, `W_{t+1} = W_t + g_θ(x_t, y_t, W_t)`,
//!
//! the step order of the engine's single-layer path ([`crate::gradient::NeuralEngine`]), and the same loss
//! `1/(N T n_rec) Σ (y_t,i − ŷ_t,i)²`. Every strategy and solver of the engine
//! (adjoint, forward mode, the Jacobian for Levenberg–Marquardt) then serves it.

use crate::circuit::spec::{
    PopulationSpec, ProjectionSpec, Recorded, RuleSpec, WeightDistribution,
};
use crate::circuit::{Activation, CircuitSpec, InitialWeightsFit};
use crate::data::{CircuitDataset, NeuralDataset};
use crate::Result;

/// Name of the input population of [`NeuralDataset::to_circuit`].
pub const INPUT_POPULATION: &str = "x";
/// Name of its plastic population.
pub const OUTPUT_POPULATION: &str = "y";
/// Name of its plastic projection.
pub const PLASTIC_PROJECTION: &str = "w";

impl NeuralDataset {
    /// This recording as a [`CircuitDataset`] of the two-population circuit above,
    /// with `rule` as its one rule (its `name` is what the projection refers to; its
    /// `rule` expression, if any, the generating rule a circuit fit compares with).
    /// The arrays are copied; the dataset's metadata is kept.
    pub fn to_circuit(&self, rule: RuleSpec) -> Result<CircuitDataset> {
        let (n_pre, n_post) = (self.n_pre(), self.n_post());
        let (trajectories, steps) = (self.n_trajectories(), self.steps());
        let spec = CircuitSpec {
            populations: vec![
                PopulationSpec {
                    name: INPUT_POPULATION.into(),
                    size: n_pre,
                    input: true,
                    activation: None,
                    external_input: false,
                    initial_activity: 0.0,
                    recorded: Recorded::Fraction(0.0),
                    input_std: self.metadata_f64("input_std").unwrap_or(1.0),
                },
                PopulationSpec {
                    name: OUTPUT_POPULATION.into(),
                    size: n_post,
                    input: false,
                    activation: Some(Activation::Sigmoid),
                    external_input: false,
                    initial_activity: 0.0,
                    recorded: Recorded::Neurons(self.recorded_neurons.clone()),
                    input_std: 1.0,
                },
            ],
            projections: vec![ProjectionSpec {
                name: PLASTIC_PROJECTION.into(),
                from: INPUT_POPULATION.into(),
                to: OUTPUT_POPULATION.into(),
                rule: Some(rule.name.clone()),
                learning_rate: 1.0,
                delay: None,
                self_synapses: false,
                mask: None,
                initial_weights: WeightDistribution {
                    mean: 0.0,
                    std: self
                        .metadata_f64("initial_weight_std")
                        .unwrap_or(1.0 / (n_pre as f64).sqrt()),
                    shared: false,
                },
                fit_initial_weights: InitialWeightsFit::Given,
                initial_weights_l2: 0.0,
            }],
            rules: vec![rule],
            weight_bound: None,
            base: Default::default(),
        };
        let network = spec.build(0, None)?;
        let n = n_pre + n_post;
        let mut drive = vec![0.0; trajectories * steps * n];
        for (row, x) in drive.chunks_exact_mut(n).zip(self.inputs.rows()) {
            for (a, &b) in row.iter_mut().zip(x) {
                *a = b;
            }
        }
        Ok(CircuitDataset::new(
            spec,
            network,
            trajectories,
            steps,
            drive,
            self.initial_weights.iter().copied().collect(),
            vec![Vec::new(), self.recorded_neurons.clone()],
            self.recorded_activity.iter().copied().collect(),
            self.metadata.clone(),
        ))
    }
}
