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

mod density;
mod diagnostics;
mod sampler;

pub use density::{BehaviourPosterior, LogDensity, Prior, ScaledObjectivePosterior, WEAK_PRIOR_SD};
pub use diagnostics::{
    basic_rhat, coordinate, effective_sample_size, ess_bulk, ess_tail, normal_quantile, rank_rhat,
    summarise, summarise_coordinate, CoordinateSummary,
};
pub use sampler::{sample, sample_journaled, ChainDraws, NutsSettings};

#[cfg(test)]
mod tests;
