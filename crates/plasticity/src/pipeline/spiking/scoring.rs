//! Fisher scoring of the spike-train likelihood: the [`LeastSquaresProblem`] the
//! Levenberg–Marquardt solver takes, with `H` the Fisher information of the trained
//! parameters; and the identifiability report from the same matrix.

use crate::analysis::identifiability::{results_section, Curvature};
use crate::fit::Parametrisation;
use crate::objective::spike_train::SpikeTrainObjective;
use crate::objective::Objective;
use crate::optim::least_squares::GaussNewtonSystem;
use crate::optim::levenberg_marquardt::{LeastSquaresProblem, LossModel};
use crate::Result;

/// The likelihood in the trained parameters φ (= θ of the trained terms).
pub(super) struct FisherScoring<'a, 'd> {
    pub objective: &'a SpikeTrainObjective<'d>,
    pub parametrisation: &'a Parametrisation,
}

impl LeastSquaresProblem for FisherScoring<'_, '_> {
    fn loss(&self, phi: &[f64]) -> f64 {
        let theta = self.parametrisation.theta(phi);
        let items: Vec<usize> = (0..self.objective.n_items()).collect();
        self.objective.loss(&theta, &items)
    }

    fn system(&self, phi: &[f64]) -> Result<GaussNewtonSystem> {
        let theta = self.parametrisation.theta(phi);
        let items: Vec<usize> = (0..self.objective.n_items()).collect();
        let system = self.objective.system(&theta, &items);
        let scale = 1.0 / self.objective.normaliser(items.len());
        let trainable = self.parametrisation.trainable();
        let (n, a) = (theta.len(), trainable.len());
        let mut out = GaussNewtonSystem::zeros(a);
        out.sse = system.loss * scale;
        out.residuals = system.observations;
        for (r, &i) in trainable.iter().enumerate() {
            out.gradient[r] = system.gradient[i] * scale;
            for (c, &j) in trainable.iter().enumerate() {
                out.normal[r * a + c] = system.fisher[i * n + j] * scale;
            }
        }
        Ok(out)
    }

    fn model(&self) -> LossModel {
        LossModel::Likelihood
    }
}

/// The identifiability report (condition number, least-determined directions, Laplace
/// intervals) of the trained parameters from the Fisher information at θ.
pub(super) fn identifiability(
    objective: &SpikeTrainObjective<'_>,
    theta: &[f64],
    trainable: &[usize],
    names: &[String],
) -> serde_json::Value {
    let items: Vec<usize> = (0..objective.n_items()).collect();
    let system = objective.system(theta, &items);
    let n = theta.len();
    let a = trainable.len();
    let mut information = vec![0.0; a * a];
    for (r, &i) in trainable.iter().enumerate() {
        for (c, &j) in trainable.iter().enumerate() {
            information[r * a + c] = system.fisher[i * n + j];
        }
    }
    let scale = objective.normaliser(items.len());
    let curvature = Curvature {
        parameters: trainable.to_vec(),
        loss_curvature: information.iter().map(|v| v / scale).collect(),
        information: Some(information),
        loss: system.loss / scale,
        observations: system.observations,
        residual_variance: None,
        likelihood_scale: scale,
        method: if objective.dataset().circuit.has_latent() {
            "the Fisher information of the recorded neurons' teacher-forced spike-train likelihood, latent populations by expectation over the age of their last spike (an approximation), from forward-mode dual numbers ∂u/∂θ".into()
        } else {
            "the Fisher information of the teacher-forced spike-train likelihood, from forward-mode sensitivities ∂u/∂θ (exact, no surrogate)".into()
        },
    };
    results_section(Ok(curvature), names, theta)
}
