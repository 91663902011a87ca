//! The log-densities sampled: the prior matching a fit's penalty (Laplace for L1,
//! Gaussian for L2, a weak Gaussian otherwise), the posterior of a behaviour rule's
//! coefficients (its gradient by forward mode), and any objective's likelihood scaled
//! to a number of observations.

use serde::{Deserialize, Serialize};

use crate::circuit::BehaviourCircuit;
use crate::data::BehaviourDataset;
use crate::gradient::GradientStrategy;
use crate::objective::BehaviourObjective;
use crate::rule::{PlasticityRule, Rule};
use crate::{Error, Result};

/// The standard deviation of the weak Gaussian prior used when a fit has no penalty.
pub const WEAK_PRIOR_SD: f64 = 10.0;

/// An unnormalised log-density with its gradient: what the sampler explores.
pub trait LogDensity: Sync {
    /// Number of coordinates.
    fn dimension(&self) -> usize;
    /// `log p(position)` up to a constant; its gradient is written into `gradient`.
    /// A non-finite value means "outside the model" (the sampler treats the step as a
    /// divergence).
    fn log_density_and_gradient(&self, position: &[f64], gradient: &mut [f64]) -> f64;
}

/// The prior of every sampled coefficient: independent, centred at 0.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Prior {
    /// Scale `b` of a Laplace factor `exp(−|θ|/b)` (from an L1 penalty), if any.
    pub laplace_scale: Option<f64>,
    /// Standard deviation `σ` of a Gaussian factor `exp(−θ²/(2σ²))`, if any.
    pub gaussian_sd: Option<f64>,
}

impl Prior {
    /// The prior that matches the penalty `λ₁ Σ|θ| + λ₂ Σθ²` of a loss `L` whose
    /// `likelihood_scale · L` is the negative log-likelihood (`N`, the number of
    /// presentations, for behaviour; `n/(2σ̂²)` for neural activity; see the module's
    /// doc): Laplace `b = 1/(c λ₁)`, Normal `σ = 1/√(2 c λ₂)`; with no penalty,
    /// `N(0, weak_sd²)`.
    pub fn from_penalty(l1: f64, l2: f64, likelihood_scale: f64, weak_sd: f64) -> Result<Prior> {
        for (name, value) in [("l1", l1), ("l2", l2)] {
            if !(value.is_finite() && value >= 0.0) {
                return Err(Error::config(
                    name,
                    format!("must be a finite number ≥ 0, got {value}"),
                ));
            }
        }
        if !(likelihood_scale.is_finite() && likelihood_scale > 0.0) {
            return Err(Error::config(
                "likelihood-scale",
                format!(
                    "must be a positive number (a prior on the likelihood's scale needs \
                     data), got {likelihood_scale}"
                ),
            ));
        }
        let n = likelihood_scale;
        let prior = Prior {
            laplace_scale: (l1 > 0.0).then(|| 1.0 / (n * l1)),
            gaussian_sd: (l2 > 0.0).then(|| 1.0 / (2.0 * n * l2).sqrt()),
        };
        if prior.laplace_scale.is_none() && prior.gaussian_sd.is_none() {
            Prior::gaussian(weak_sd)
        } else {
            Ok(prior)
        }
    }

    /// `N(0, sd²)`.
    pub fn gaussian(sd: f64) -> Result<Prior> {
        if !(sd.is_finite() && sd > 0.0) {
            return Err(Error::config(
                "prior-sd",
                format!("must be a positive number, got {sd}"),
            ));
        }
        Ok(Prior {
            laplace_scale: None,
            gaussian_sd: Some(sd),
        })
    }

    /// `Laplace(0, scale)`.
    pub fn laplace(scale: f64) -> Result<Prior> {
        if !(scale.is_finite() && scale > 0.0) {
            return Err(Error::config(
                "prior-scale",
                format!("must be a positive number, got {scale}"),
            ));
        }
        Ok(Prior {
            laplace_scale: Some(scale),
            gaussian_sd: None,
        })
    }

    /// `log π(θ)` of one coefficient (up to a constant) and its derivative.
    #[inline]
    pub fn log_density_and_derivative(&self, value: f64) -> (f64, f64) {
        let (mut log_density, mut derivative) = (0.0, 0.0);
        if let Some(b) = self.laplace_scale {
            log_density -= value.abs() / b;
            derivative -= if value > 0.0 {
                1.0 / b
            } else if value < 0.0 {
                -1.0 / b
            } else {
                0.0
            };
        }
        if let Some(sd) = self.gaussian_sd {
            log_density -= 0.5 * (value / sd).powi(2);
            derivative -= value / (sd * sd);
        }
        (log_density, derivative)
    }

    /// The prior in words, for reports.
    pub fn describe(&self) -> String {
        match (self.laplace_scale, self.gaussian_sd) {
            (Some(b), Some(s)) => format!("Laplace(0, {b:.4e}) × Normal(0, {s:.4e}²)"),
            (Some(b), None) => format!("Laplace(0, {b:.4e})"),
            (None, Some(s)) => format!("Normal(0, {s:.4e}²)"),
            (None, None) => "flat (improper)".into(),
        }
    }
}

/// The log-posterior of a behaviour dataset over some of a rule's parameters (see the
/// module's doc): the Bernoulli log-likelihood of every recorded choice, the circuit
/// driven by `inputs` and the recorded decisions and rewards, plus the prior.
pub struct BehaviourPosterior<'a, R> {
    /// The cross-entropy of the choices, forward mode over the sampled parameters.
    objective: BehaviourObjective<'a, R>,
    sessions: Vec<usize>,
    base_theta: Vec<f64>,
    parameters: Vec<usize>,
    prior: Prior,
}

impl<'a, R: PlasticityRule + Clone + Into<Rule>> BehaviourPosterior<'a, R> {
    /// The posterior over `parameters` (indices into θ); the other coefficients are
    /// held at their values in `base_theta`.
    pub fn new(
        dataset: &'a BehaviourDataset,
        inputs: ndarray::Array3<f64>,
        circuit: BehaviourCircuit,
        rule: R,
        base_theta: Vec<f64>,
        parameters: Vec<usize>,
        prior: Prior,
    ) -> Result<Self> {
        if base_theta.len() != rule.n_parameters() {
            return Err(Error::config(
                "theta",
                format!(
                    "has {} entries but the rule has {} parameters",
                    base_theta.len(),
                    rule.n_parameters()
                ),
            ));
        }
        if inputs.shape() != dataset.inputs.shape() {
            return Err(Error::config(
                "inputs",
                format!(
                    "have shape {:?} but the dataset's are {:?}",
                    inputs.shape(),
                    dataset.inputs.shape()
                ),
            ));
        }
        if parameters.is_empty() {
            return Err(Error::config(
                "terms",
                "no parameter to sample: at least one trainable term is needed",
            ));
        }
        if let Some(&k) = parameters.iter().find(|&&k| k >= rule.n_parameters()) {
            return Err(Error::config(
                "terms",
                format!(
                    "parameter index {k} is out of range (the rule has {})",
                    rule.n_parameters()
                ),
            ));
        }
        let objective =
            BehaviourObjective::new(dataset, inputs, circuit, rule, GradientStrategy::Forward)?
                .with_active_parameters(parameters.clone());
        Ok(BehaviourPosterior {
            objective,
            sessions: (0..dataset.n_sessions()).collect(),
            base_theta,
            parameters,
            prior,
        })
    }
}

impl<R: PlasticityRule> BehaviourPosterior<'_, R> {
    /// The sampled parameters (indices into θ).
    pub fn parameters(&self) -> &[usize] {
        &self.parameters
    }

    /// The full θ with the sampled coordinates set to `position`.
    pub fn theta(&self, position: &[f64]) -> Vec<f64> {
        let mut theta = self.base_theta.clone();
        for (&k, &v) in self.parameters.iter().zip(position) {
            theta[k] = v;
        }
        theta
    }

    /// `log L(θ) = −Σ_s P_s ℓ̄_s(θ)` and its gradient over the sampled parameters.
    /// Parallel over sessions, summed in session order.
    pub fn log_likelihood_and_gradient(&self, position: &[f64], gradient: &mut [f64]) -> f64 {
        let theta = self.theta(position);
        gradient.iter_mut().for_each(|g| *g = 0.0);
        let mut total = 0.0;
        for (loss, count, session_gradient) in
            self.objective.session_gradients(&theta, &self.sessions)
        {
            let count = count as f64;
            total -= count * loss;
            for (g, &k) in gradient.iter_mut().zip(&self.parameters) {
                *g -= count * session_gradient[k];
            }
        }
        total
    }
}

impl<R: PlasticityRule> LogDensity for BehaviourPosterior<'_, R> {
    fn dimension(&self) -> usize {
        self.parameters.len()
    }

    fn log_density_and_gradient(&self, position: &[f64], gradient: &mut [f64]) -> f64 {
        let mut total = self.log_likelihood_and_gradient(position, gradient);
        for (g, &v) in gradient.iter_mut().zip(position) {
            let (log_prior, derivative) = self.prior.log_density_and_derivative(v);
            total += log_prior;
            *g += derivative;
        }
        total
    }
}

/// The log-posterior of any [`crate::objective::Objective`] whose loss times `scale` is
/// the negative log-likelihood up to a constant: `log p(θ) = −c L(θ) + Σ_k log π(θ_k)`
/// over `parameters` (the others held at `base_theta`). For neural-activity data the
/// Gaussian recording model gives `c = n / (2σ̂²)` (`n` recorded values, `σ̂²` the
/// residual variance at the fit, as [`crate::analysis::identifiability::Curvature`]'s
/// `likelihood_scale`): the noise variance is plugged in, not sampled. The matching
/// priors are those of [`Prior::from_penalty`] with `c` in place of `N`.
pub struct ScaledObjectivePosterior<'a, O> {
    objective: &'a O,
    scale: f64,
    base_theta: Vec<f64>,
    parameters: Vec<usize>,
    prior: Prior,
    items: Vec<usize>,
}

impl<'a, O: crate::objective::Objective> ScaledObjectivePosterior<'a, O> {
    /// The posterior of `objective` (all its items) scaled by `scale > 0`.
    pub fn new(
        objective: &'a O,
        scale: f64,
        base_theta: Vec<f64>,
        parameters: Vec<usize>,
        prior: Prior,
    ) -> Result<Self> {
        if !(scale.is_finite() && scale > 0.0) {
            return Err(Error::config(
                "likelihood-scale",
                format!("must be a positive number, got {scale}"),
            ));
        }
        if base_theta.len() != objective.n_parameters() {
            return Err(Error::config(
                "theta",
                format!(
                    "has {} entries but the objective has {} parameters",
                    base_theta.len(),
                    objective.n_parameters()
                ),
            ));
        }
        if parameters.is_empty() || parameters.iter().any(|&k| k >= base_theta.len()) {
            return Err(Error::config(
                "terms",
                "needs at least one parameter, each an index into θ",
            ));
        }
        Ok(ScaledObjectivePosterior {
            objective,
            scale,
            base_theta,
            parameters,
            prior,
            items: (0..objective.n_items()).collect(),
        })
    }
}

impl<O: crate::objective::Objective> LogDensity for ScaledObjectivePosterior<'_, O> {
    fn dimension(&self) -> usize {
        self.parameters.len()
    }

    fn log_density_and_gradient(&self, position: &[f64], gradient: &mut [f64]) -> f64 {
        let mut theta = self.base_theta.clone();
        for (&k, &v) in self.parameters.iter().zip(position) {
            theta[k] = v;
        }
        let mut full = vec![0.0; theta.len()];
        let loss = self
            .objective
            .loss_and_gradient(&theta, &self.items, &mut full);
        let mut total = -self.scale * loss;
        for ((g, &k), &v) in gradient.iter_mut().zip(&self.parameters).zip(position) {
            let (log_prior, derivative) = self.prior.log_density_and_derivative(v);
            total += log_prior;
            *g = -self.scale * full[k] + derivative;
        }
        total
    }
}
