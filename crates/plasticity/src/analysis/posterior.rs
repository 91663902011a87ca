//! Posterior samples of a behaviour fit's trainable Taylor coefficients, by the No-U-Turn
//! sampler of `nuts-rs` (the sampler behind nutpie and PyMC's Rust backend) driven by the
//! exact forward-mode gradient of the choices' log-likelihood.
//!
//! # The density
//!
//! Over the trainable coefficients `θ` (every other coefficient stays at its fitted
//! value, which for an untrained term is exactly 0):
//!
//! ```text
//! log p(θ | data) = log L(θ) + Σ_k log π(θ_k) + const,
//! log L(θ)       = −Σ_s Σ_p ℓ_sp(θ) = −Σ_s P_s ℓ̄_s(θ),
//! ```
//!
//! `ℓ_sp = softplus(z_sp) − d_sp z_sp` the Bernoulli cross-entropy of presentation `p` of
//! session `s`, `ℓ̄_s` its mean over the session's `P_s` presentations. The objective a
//! fit minimises is `L̄ = 1/S Σ_s ℓ̄_s` (docs/model.md §6), a *mean*; here each session's mean is
//! multiplied back by its `P_s`, so that `log L` is the true log-likelihood of every
//! recorded choice (not `N L̄`, which equals it only when sessions are equally long).
//!
//! # Priors that match the fit's penalty
//!
//! A fit minimises `L̄(θ) + λ₁ Σ|θ_k| + λ₂ Σ θ_k²`. On the likelihood's scale (times
//! `N = Σ_s P_s`, the number of presentations) the penalty is `N λ₁ Σ|θ_k| + N λ₂ Σθ_k²`,
//! which is `−Σ log π(θ_k)` up to a constant for
//!
//! - L1 (`λ₁ > 0`): a Laplace prior `π(θ_k) ∝ exp(−|θ_k| / b)` with `b = 1 / (N λ₁)`;
//! - L2 (`λ₂ > 0`): a Gaussian prior `N(0, σ²)` with `σ = 1 / √(2 N λ₂)`;
//! - both: their product (the elastic-net prior);
//! - no penalty: a weak Gaussian prior `N(0, σ_weak²)`, `σ_weak = 10` by default (the
//!   coefficients of the Taylor rules are of order 1 and the weights are bounded at 10,
//!   so it is flat where the likelihood is not negligible, and it keeps the posterior
//!   proper along directions the data do not determine).
//!
//! With equally long sessions the posterior mode is then exactly the penalised fit.
//! The Laplace prior's log-density has a kink at 0; its gradient there is taken as 0.
//!
//! # Chains and seeds
//!
//! Chain `c` draws everything (its start and the sampler's own generator) from
//! `ChaCha8(seed)` on stream `c`, and runs on its own rayon task; the log-likelihood
//! sums sessions in order. So the same seed gives bit-identical draws whatever the
//! number of threads. Chains start at the fitted θ plus `N(0, s_k²)` per term, `s_k`
//! the Laplace standard error (so that R-hat sees over-dispersed starts).
//!
//! # Diagnostics ([`summarise`])
//!
//! Rank-normalised split R-hat and bulk and tail effective sample sizes, as defined by
//! Vehtari, Gelman, Simpson, Carpenter and Bürkner (2021, *Bayesian Analysis* 16:667)
//! and computed by ArviZ and Stan: each chain is split in halves; the pooled draws are
//! replaced by the normal scores of their ranks `Φ⁻¹((r − 3/8)/(S + 1/4))`; R-hat is
//! the larger of the R-hats of those scores and of the scores of `|θ − median|`
//! (folded), and bulk ESS is the ESS of the scores by Geyer's initial monotone
//! sequence. Divergences are counted over the draws after warm-up.

use std::collections::HashMap;

use nuts_rs::{Chain, CpuLogpFunc, CpuMath, CpuMathError, HasDims, LogpError, Settings};
use rand::rngs::ChaCha8Rng;
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::circuit::BehaviourCircuit;
use crate::data::BehaviourDataset;
use crate::gradient::forward::{
    behaviour_session_loss_and_gradient_forward, BehaviourForwardWorkspace,
};
use crate::journal::{all_or_interrupted, unit, Journal, NoJournal};
use crate::rule::PlasticityRule;
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
    dataset: &'a BehaviourDataset,
    inputs: ndarray::Array3<f64>,
    circuit: BehaviourCircuit,
    rule: R,
    base_theta: Vec<f64>,
    parameters: Vec<usize>,
    prior: Prior,
}

impl<'a, R: PlasticityRule> BehaviourPosterior<'a, R> {
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
        Ok(BehaviourPosterior {
            dataset,
            inputs: inputs.as_standard_layout().into_owned(),
            circuit,
            rule,
            base_theta,
            parameters,
            prior,
        })
    }

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
        let n = theta.len();
        let per_session: Vec<(f64, Vec<f64>)> = (0..self.dataset.n_sessions())
            .into_par_iter()
            .map_init(BehaviourForwardWorkspace::default, |workspace, s| {
                let session = self.dataset.session_with_inputs(s, &self.inputs);
                let mut session_gradient = vec![0.0; n];
                let result = behaviour_session_loss_and_gradient_forward(
                    &self.circuit,
                    &self.rule,
                    &theta,
                    session,
                    &self.parameters,
                    workspace,
                    &mut session_gradient,
                );
                let count = session.n_presentations() as f64;
                let gradient = self
                    .parameters
                    .iter()
                    .map(|&k| -count * session_gradient[k])
                    .collect();
                (-count * result.loss, gradient)
            })
            .collect();
        gradient.iter_mut().for_each(|g| *g = 0.0);
        let mut total = 0.0;
        for (value, session_gradient) in &per_session {
            total += value;
            for (g, v) in gradient.iter_mut().zip(session_gradient) {
                *g += v;
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

/// How the sampler runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NutsSettings {
    /// Independent chains (run in parallel).
    pub chains: usize,
    /// Draws per chain after warm-up.
    pub draws: usize,
    /// Warm-up (tuning) draws per chain: step size and diagonal mass matrix.
    pub warmup: usize,
    /// Seed of every chain (chain `c` uses stream `c`).
    pub seed: u64,
    /// Largest tree depth (at most `2^depth − 1` leapfrog steps per draw).
    pub max_depth: u64,
    /// The acceptance statistic the step size is tuned to.
    pub target_accept: f64,
}

impl Default for NutsSettings {
    fn default() -> Self {
        NutsSettings {
            chains: 4,
            draws: 1000,
            warmup: 1000,
            seed: 0,
            max_depth: 10,
            target_accept: 0.8,
        }
    }
}

impl NutsSettings {
    fn validate(&self) -> Result<()> {
        if self.chains == 0 {
            return Err(Error::config("chains", "must be at least 1"));
        }
        if self.draws < 4 {
            return Err(Error::config(
                "draws",
                format!(
                    "must be at least 4 (split R-hat halves each chain), got {}",
                    self.draws
                ),
            ));
        }
        if !(1..=15).contains(&self.max_depth) {
            return Err(Error::config(
                "max-depth",
                format!("must be between 1 and 15, got {}", self.max_depth),
            ));
        }
        if !(self.target_accept > 0.0 && self.target_accept < 1.0) {
            return Err(Error::config(
                "target-accept",
                format!(
                    "must be strictly between 0 and 1, got {}",
                    self.target_accept
                ),
            ));
        }
        Ok(())
    }
}

/// One chain's draws after warm-up and what the sampler saw.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChainDraws {
    /// The chain's index.
    pub chain: usize,
    /// Its starting point.
    pub start: Vec<f64>,
    /// Draws after warm-up, one row per draw.
    pub draws: Vec<Vec<f64>>,
    /// Divergent transitions after warm-up.
    pub divergences: usize,
    /// Divergent transitions during warm-up (expected while the step size is tuned).
    pub warmup_divergences: usize,
    /// Draws after warm-up whose tree reached the largest depth.
    pub max_depth_hits: usize,
    /// The step size after warm-up.
    pub step_size: f64,
    /// Gradient evaluations, warm-up included.
    pub gradient_evaluations: u64,
}

#[derive(Debug, thiserror::Error)]
#[error("the log-density is not finite at this point")]
struct NonFiniteDensity;

impl LogpError for NonFiniteDensity {
    fn is_recoverable(&self) -> bool {
        true
    }
}

/// `nuts-rs`'s view of a [`LogDensity`].
struct SamplerTarget<'a, D> {
    density: &'a D,
}

impl<D: LogDensity> HasDims for SamplerTarget<'_, D> {
    fn dim_sizes(&self) -> HashMap<String, u64> {
        HashMap::from([(
            "unconstrained_parameter".to_string(),
            self.density.dimension() as u64,
        )])
    }
}

impl<D: LogDensity> CpuLogpFunc for SamplerTarget<'_, D> {
    type LogpError = NonFiniteDensity;
    type FlowParameters = ();
    type ExpandedVector = Vec<f64>;

    fn dim(&self) -> usize {
        self.density.dimension()
    }

    fn logp(
        &mut self,
        position: &[f64],
        gradient: &mut [f64],
    ) -> std::result::Result<f64, Self::LogpError> {
        let value = self.density.log_density_and_gradient(position, gradient);
        if value.is_finite() && gradient.iter().all(|g| g.is_finite()) {
            Ok(value)
        } else {
            Err(NonFiniteDensity)
        }
    }

    fn expand_vector<G: rand::Rng + ?Sized>(
        &mut self,
        _rng: &mut G,
        position: &[f64],
    ) -> std::result::Result<Vec<f64>, CpuMathError> {
        Ok(position.to_vec())
    }
}

/// The generator of chain `chain`: `ChaCha8(seed)` on stream `chain`.
fn chain_rng(seed: u64, chain: usize) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(chain as u64);
    rng
}

/// Runs `settings.chains` NUTS chains on `density` in parallel (rayon), each started at
/// `centre + spread ⊙ z`, `z ~ N(0, I)` from its own generator (a start where the
/// density is not finite is drawn again with half the spread, up to 20 times).
/// Returns the chains in order; the same seed gives the same draws on any number of
/// threads.
pub fn sample<D: LogDensity>(
    density: &D,
    centre: &[f64],
    spread: &[f64],
    settings: &NutsSettings,
) -> Result<Vec<ChainDraws>> {
    sample_journaled(density, centre, spread, settings, &NoJournal)
}

/// [`sample`], each chain a unit of `journal`: recorded when done, replayed when
/// resumed, skipped once a stop is requested ([`Error::Interrupted`]; chains already
/// running finish first).
pub fn sample_journaled<D: LogDensity>(
    density: &D,
    centre: &[f64],
    spread: &[f64],
    settings: &NutsSettings,
    journal: &dyn Journal,
) -> Result<Vec<ChainDraws>> {
    settings.validate()?;
    let dim = density.dimension();
    if centre.len() != dim || spread.len() != dim {
        return Err(Error::config(
            "start",
            format!(
                "the centre has {} and the spread {} entries but the density has {dim} \
                 coordinates",
                centre.len(),
                spread.len()
            ),
        ));
    }
    if centre.iter().chain(spread).any(|v| !v.is_finite()) {
        return Err(Error::config(
            "start",
            "the centre and spread must be finite",
        ));
    }
    let chains: Vec<Option<ChainDraws>> = (0..settings.chains)
        .into_par_iter()
        .map(|chain| {
            unit(journal, &format!("posterior/chain{chain}"), || {
                run_chain(density, centre, spread, settings, chain)
            })
        })
        .collect::<Result<_>>()?;
    all_or_interrupted("the posterior sampling", chains)
}

fn run_chain<D: LogDensity>(
    density: &D,
    centre: &[f64],
    spread: &[f64],
    settings: &NutsSettings,
    chain: usize,
) -> Result<ChainDraws> {
    let dim = density.dimension();
    let mut rng = chain_rng(settings.seed, chain);
    let mut gradient = vec![0.0; dim];
    let mut factor = 1.0;
    let mut start = centre.to_vec();
    for attempt in 0..=20 {
        start = centre
            .iter()
            .zip(spread)
            .map(|(&c, &s)| {
                let z: f64 = StandardNormal.sample(&mut rng);
                c + factor * s * z
            })
            .collect();
        if density
            .log_density_and_gradient(&start, &mut gradient)
            .is_finite()
        {
            break;
        }
        if attempt == 20 {
            return Err(Error::Numerical(format!(
                "chain {chain}: the log-density is not finite at any of 21 starting points \
                 near the fitted θ"
            )));
        }
        factor *= 0.5;
    }
    let mut nuts = nuts_rs::DiagNutsSettings {
        num_tune: settings.warmup as u64,
        num_draws: settings.draws as u64,
        maxdepth: settings.max_depth,
        num_chains: settings.chains,
        seed: settings.seed,
        ..Default::default()
    };
    nuts.adapt_options.step_size_settings.target_accept = settings.target_accept;
    let math = CpuMath::new(SamplerTarget { density });
    let sampler_error = |what: &str, e: &dyn std::fmt::Display| {
        Error::Numerical(format!(
            "chain {chain}: the NUTS sampler failed {what}: {e}"
        ))
    };
    let mut sampler = nuts
        .new_chain(chain as u64, math, &mut rng)
        .map_err(|e| sampler_error("to start", &format!("{e:#}")))?;
    sampler
        .set_position(&start)
        .map_err(|e| sampler_error("at its starting point", &format!("{e:#}")))?;
    let mut result = ChainDraws {
        chain,
        start,
        draws: Vec::with_capacity(settings.draws),
        divergences: 0,
        warmup_divergences: 0,
        max_depth_hits: 0,
        step_size: f64::NAN,
        gradient_evaluations: 0,
    };
    let depth_limit = (1u64 << settings.max_depth) - 1;
    for _ in 0..settings.warmup + settings.draws {
        let (draw, progress) = sampler
            .draw()
            .map_err(|e| sampler_error("while drawing", &format!("{e:#}")))?;
        result.gradient_evaluations += progress.num_gradients;
        if progress.tuning {
            result.warmup_divergences += usize::from(progress.diverging);
            continue;
        }
        result.divergences += usize::from(progress.diverging);
        result.max_depth_hits += usize::from(progress.num_steps >= depth_limit);
        result.step_size = progress.step_size;
        result.draws.push(draw.to_vec());
    }
    Ok(result)
}

/// Posterior summary of one coordinate over all chains.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CoordinateSummary {
    /// Posterior mean.
    pub mean: f64,
    /// Posterior standard deviation.
    pub sd: f64,
    /// 2.5 % quantile.
    pub q2_5: f64,
    /// Median.
    pub q50: f64,
    /// 97.5 % quantile.
    pub q97_5: f64,
    /// Rank-normalised split R-hat (the larger of the bulk and folded ones).
    pub rhat: f64,
    /// Bulk effective sample size.
    pub ess_bulk: f64,
    /// Tail effective sample size (the smaller of those of the 5 % and 95 % quantiles).
    pub ess_tail: f64,
    /// Monte Carlo standard error of the mean, `sd / √ESS_bulk`.
    pub mcse_mean: f64,
}

/// The draws of coordinate `k`, one vector per chain.
pub fn coordinate(chains: &[ChainDraws], k: usize) -> Vec<Vec<f64>> {
    chains
        .iter()
        .map(|c| c.draws.iter().map(|d| d[k]).collect())
        .collect()
}

/// Summaries of every coordinate (see the module's doc for the diagnostics).
pub fn summarise(chains: &[ChainDraws]) -> Vec<CoordinateSummary> {
    let dim = chains
        .first()
        .and_then(|c| c.draws.first())
        .map_or(0, Vec::len);
    (0..dim)
        .map(|k| summarise_coordinate(&coordinate(chains, k)))
        .collect()
}

/// The summary of one coordinate's draws, one vector per chain (equal lengths).
pub fn summarise_coordinate(chains: &[Vec<f64>]) -> CoordinateSummary {
    let pooled: Vec<f64> = chains.iter().flatten().copied().collect();
    let n = pooled.len() as f64;
    let mean = pooled.iter().sum::<f64>() / n;
    let sd = (pooled.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    let ess_bulk = ess_bulk(chains);
    CoordinateSummary {
        mean,
        sd,
        q2_5: crate::analysis::metrics::quantile(&pooled, 0.025),
        q50: crate::analysis::metrics::quantile(&pooled, 0.5),
        q97_5: crate::analysis::metrics::quantile(&pooled, 0.975),
        rhat: rank_rhat(chains),
        ess_bulk,
        ess_tail: ess_tail(chains),
        mcse_mean: sd / ess_bulk.sqrt(),
    }
}

/// Each chain cut in two halves (the middle draw of an odd chain is dropped).
fn split_chains(chains: &[Vec<f64>]) -> Vec<Vec<f64>> {
    chains
        .iter()
        .flat_map(|c| {
            let half = c.len() / 2;
            [c[..half].to_vec(), c[c.len() - half..].to_vec()]
        })
        .collect()
}

/// The pooled draws replaced by the normal scores of their ranks (average ranks for
/// ties): `Φ⁻¹((r − 3/8) / (S + 1/4))`.
fn rank_normalise(chains: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let mut order: Vec<(f64, usize, usize)> = chains
        .iter()
        .enumerate()
        .flat_map(|(c, v)| v.iter().enumerate().map(move |(i, &x)| (x, c, i)))
        .collect();
    order.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total = order.len() as f64;
    let mut scores: Vec<Vec<f64>> = chains.iter().map(|c| vec![0.0; c.len()]).collect();
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && order[j + 1].0 == order[i].0 {
            j += 1;
        }
        // ranks are 1-based; ties get the average of their ranks
        let rank = (i + j) as f64 / 2.0 + 1.0;
        let score = normal_quantile((rank - 0.375) / (total + 0.25));
        for &(_, c, k) in &order[i..=j] {
            scores[c][k] = score;
        }
        i = j + 1;
    }
    scores
}

/// The classic potential scale reduction `√((n−1)/n + B/(nW))` of equally long chains
/// (`W` the mean within-chain variance, `B/n` the variance of the chain means).
pub fn basic_rhat(chains: &[Vec<f64>]) -> f64 {
    let n = chains[0].len() as f64;
    let means: Vec<f64> = chains.iter().map(|c| c.iter().sum::<f64>() / n).collect();
    let within = chains
        .iter()
        .zip(&means)
        .map(|(c, m)| c.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n - 1.0))
        .sum::<f64>()
        / chains.len() as f64;
    let grand = means.iter().sum::<f64>() / means.len() as f64;
    let between_over_n = means.iter().map(|m| (m - grand).powi(2)).sum::<f64>()
        / (means.len() as f64 - 1.0).max(1.0);
    ((n - 1.0) / n + between_over_n / within).sqrt()
}

/// Rank-normalised split R-hat: the larger of those of the draws and of their
/// distances from the median (Vehtari et al. 2021).
pub fn rank_rhat(chains: &[Vec<f64>]) -> f64 {
    let split = split_chains(chains);
    let bulk = basic_rhat(&rank_normalise(&split));
    let pooled: Vec<f64> = chains.iter().flatten().copied().collect();
    let median = crate::analysis::metrics::quantile(&pooled, 0.5);
    let folded: Vec<Vec<f64>> = split
        .iter()
        .map(|c| c.iter().map(|v| (v - median).abs()).collect())
        .collect();
    let tail = basic_rhat(&rank_normalise(&folded));
    bulk.max(tail)
}

/// Bulk effective sample size: the ESS of the rank-normalised split chains.
pub fn ess_bulk(chains: &[Vec<f64>]) -> f64 {
    effective_sample_size(&rank_normalise(&split_chains(chains)))
}

/// Tail effective sample size: the smaller of the ESS of the indicators of the draws
/// below the 5 % and below the 95 % quantile, on split chains.
pub fn ess_tail(chains: &[Vec<f64>]) -> f64 {
    let split = split_chains(chains);
    let pooled: Vec<f64> = chains.iter().flatten().copied().collect();
    [0.05, 0.95]
        .iter()
        .map(|&q| {
            let cut = crate::analysis::metrics::quantile(&pooled, q);
            let indicator: Vec<Vec<f64>> = split
                .iter()
                .map(|c| c.iter().map(|&v| f64::from(u8::from(v <= cut))).collect())
                .collect();
            effective_sample_size(&indicator)
        })
        .fold(f64::INFINITY, f64::min)
}

/// The ESS of `m` equally long chains by Geyer's initial monotone sequence on the
/// multi-chain autocorrelation `ρ_t = 1 − (W − Ā_t)/var⁺` (Stan's and ArviZ's
/// estimator; `Ā_t` the mean over chains of the lag-`t` autocovariances).
pub fn effective_sample_size(chains: &[Vec<f64>]) -> f64 {
    let m = chains.len();
    let n = chains[0].len();
    let total = (m * n) as f64;
    if n < 4 {
        return f64::NAN;
    }
    let means: Vec<f64> = chains
        .iter()
        .map(|c| c.iter().sum::<f64>() / n as f64)
        .collect();
    // lag-t autocovariance of every chain (divided by n), averaged over chains
    let mean_autocovariance = |t: usize| -> f64 {
        chains
            .iter()
            .zip(&means)
            .map(|(c, mean)| {
                (0..n - t)
                    .map(|i| (c[i] - mean) * (c[i + t] - mean))
                    .sum::<f64>()
                    / n as f64
            })
            .sum::<f64>()
            / m as f64
    };
    let acov0 = mean_autocovariance(0);
    let mean_var = acov0 * n as f64 / (n as f64 - 1.0);
    let mut var_plus = mean_var * (n as f64 - 1.0) / n as f64;
    if m > 1 {
        let grand = means.iter().sum::<f64>() / m as f64;
        var_plus += means.iter().map(|v| (v - grand).powi(2)).sum::<f64>() / (m as f64 - 1.0);
    }
    if var_plus.is_nan() || var_plus <= 0.0 {
        // constant draws: nothing to estimate
        return f64::NAN;
    }
    let rho = |t: usize| 1.0 - (mean_var - mean_autocovariance(t)) / var_plus;
    let mut rho_hat = vec![0.0; n];
    rho_hat[0] = 1.0;
    let mut rho_even = 1.0;
    let mut rho_odd = rho(1);
    rho_hat[1] = rho_odd;
    let mut t = 1;
    while t < n - 3 && rho_even + rho_odd > 0.0 {
        rho_even = rho(t + 1);
        rho_odd = rho(t + 2);
        if rho_even + rho_odd >= 0.0 {
            rho_hat[t + 1] = rho_even;
            rho_hat[t + 2] = rho_odd;
        }
        t += 2;
    }
    let max_t = t - 2;
    if rho_even > 0.0 {
        rho_hat[max_t + 1] = rho_even;
    }
    // Geyer's initial monotone sequence
    let mut t = 1;
    while t + 2 <= max_t {
        if rho_hat[t + 1] + rho_hat[t + 2] > rho_hat[t - 1] + rho_hat[t] {
            rho_hat[t + 1] = (rho_hat[t - 1] + rho_hat[t]) / 2.0;
            rho_hat[t + 2] = rho_hat[t + 1];
        }
        t += 2;
    }
    let tau = -1.0 + 2.0 * rho_hat[..=max_t].iter().sum::<f64>() + rho_hat[max_t + 1];
    let tau = tau.max(1.0 / total.log10());
    total / tau
}

/// `Φ⁻¹(p)` for `0 < p < 1` (Acklam's rational approximation, relative error below
/// 1.2e-9).
pub fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    const LOW: f64 = 0.02425;
    if p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }
    if p < LOW {
        let q = (-2.0 * p.ln()).sqrt();
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    } else if p <= 1.0 - LOW {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        -normal_quantile(1.0 - p)
    }
}

#[cfg(test)]
mod tests;
