//! Leaky integrate-and-fire neurons (optionally with an adaptive threshold) and their
//! spike generation: deterministic (Heaviside) or by escape noise.
//!
//! Per step, for a neuron not refractory,
//! `V_t = α V_{t−1} + Σ_p J_p Σ_j W_ij a_p,j,t` with `α = e^{−Δt/τ_m}` (the leak), the
//! threshold `ϑ_t = ϑ + b a_t` where the adaptation `a_t = ρ (a_{t−1} + s_{t−1})`,
//! `ρ = e^{−Δt/τ_a}` (`b = 0` for LIF), and a spike with probability `p(u)`,
//! `u = V_t − ϑ_t`. After a spike `V` is reset and held there for the refractory steps
//! (no spike is possible then).

use crate::scalar::Scalar;
use crate::{Error, Result};

/// How a neuron spikes given `u = V − ϑ`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Escape {
    /// `s = [u ≥ 0]` (no likelihood: recorded spikes of such neurons cannot be fitted
    /// by likelihood).
    Deterministic,
    /// `p(u) = σ(β u)`.
    Sigmoid {
        /// `β`.
        beta: f64,
    },
    /// `p(u) = 1 − exp(−ρ₀ Δt e^{u/Δu})`, with `λ = ρ₀ Δt e^{u/Δu}` the step's
    /// expected escape count.
    Exponential {
        /// `ρ₀ Δt`: the escape rate at threshold times the step.
        rate_per_step: f64,
        /// `Δu`.
        delta_u: f64,
    },
}

impl Escape {
    /// Checks the parameters (`key` names the setting in errors).
    pub fn check(&self, key: &str) -> Result<()> {
        let positive = |name: &str, value: f64| {
            if value.is_finite() && value > 0.0 {
                Ok(())
            } else {
                Err(Error::config(
                    format!("{key}.{name}"),
                    format!("must be positive and finite, got {value}"),
                ))
            }
        };
        match *self {
            Escape::Deterministic => Ok(()),
            Escape::Sigmoid { beta } => positive("beta", beta),
            Escape::Exponential {
                rate_per_step,
                delta_u,
            } => positive("rho0", rate_per_step).and(positive("delta_u", delta_u)),
        }
    }

    /// `p(u)`, the probability of a spike this step.
    pub fn probability(&self, u: f64) -> f64 {
        match *self {
            Escape::Deterministic => f64::from(u8::from(u >= 0.0)),
            Escape::Sigmoid { beta } => 1.0 / (1.0 + (-beta * u).exp()),
            Escape::Exponential {
                rate_per_step,
                delta_u,
            } => -(-rate_per_step * (u / delta_u).exp()).exp_m1(),
        }
    }

    /// `p(u)` for any scalar (a latent neuron's expected spike).
    pub fn probability_generic<S: Scalar>(&self, u: S) -> S {
        match *self {
            Escape::Deterministic => S::from_f64(f64::from(u8::from(u.re() >= 0.0))),
            Escape::Sigmoid { beta } => (u * S::from_f64(beta)).sigmoid(),
            Escape::Exponential {
                rate_per_step,
                delta_u,
            } => {
                let lambda = (u / S::from_f64(delta_u)).exp() * S::from_f64(rate_per_step);
                S::one() - (-lambda).exp()
            }
        }
    }

    /// `log p(s | u)` for a recorded spike `s` and its derivative `∂/∂u`, and the
    /// Fisher information `I(u) = p'(u)² / (p (1 − p))` (`None` when deterministic).
    ///
    /// Exponential: `log p(0|u) = −λ`, `log p(1|u) = log(1 − e^{−λ})`, derivatives
    /// `−λ/Δu` and `(λ/Δu) / (e^λ − 1)`, `I = λ² / (Δu² (e^λ − 1))`. Sigmoid:
    /// `s βu − softplus(βu)`, `β (s − p)`, `β² p (1 − p)`.
    #[inline]
    pub fn log_likelihood(&self, u: f64, spike: bool) -> Option<(f64, f64, f64)> {
        match *self {
            Escape::Deterministic => None,
            Escape::Sigmoid { beta } => {
                let z = beta * u;
                let p = 1.0 / (1.0 + (-z).exp());
                let softplus = if z > 0.0 {
                    z + (-z).exp().ln_1p()
                } else {
                    z.exp().ln_1p()
                };
                let s = f64::from(u8::from(spike));
                Some((
                    s * z - softplus,
                    beta * (s - p),
                    beta * beta * p * (1.0 - p),
                ))
            }
            Escape::Exponential {
                rate_per_step,
                delta_u,
            } => {
                let lambda = rate_per_step * (u / delta_u).exp();
                let expm1 = lambda.exp_m1();
                let fisher = if expm1 > 0.0 {
                    lambda * lambda / (delta_u * delta_u * expm1)
                } else {
                    0.0
                };
                Some(if spike {
                    ((-(-lambda).exp_m1()).ln(), lambda / delta_u / expm1, fisher)
                } else {
                    (-lambda, -lambda / delta_u, fisher)
                })
            }
        }
    }

    /// `log p(s | u)` for any scalar (the dual-number oracle of the gradient tests;
    /// `1 − e^{−λ}` instead of `expm1`, exact enough there).
    pub fn log_likelihood_generic<S: Scalar>(&self, u: S, spike: bool) -> S {
        match *self {
            Escape::Deterministic => S::zero(),
            Escape::Sigmoid { beta } => {
                let z = u * S::from_f64(beta);
                let s = if spike { z } else { S::zero() };
                s - z.softplus()
            }
            Escape::Exponential {
                rate_per_step,
                delta_u,
            } => {
                let lambda = (u / S::from_f64(delta_u)).exp() * S::from_f64(rate_per_step);
                if spike {
                    (S::one() - (S::zero() - lambda).exp()).ln()
                } else {
                    S::zero() - lambda
                }
            }
        }
    }
}

/// A surrogate derivative of the spike non-linearity, for gradients through
/// free-running simulations: the spike keeps its value (`H(u)`, or drawn with
/// probability `p(u)`) and takes the derivative of a fast sigmoid,
/// `∂s/∂u := 1 / (1 + β|u|)²` (SuperSpike, Zenke & Ganguli 2018), `u = V − ϑ`. A
/// surrogate, not the derivative: the simulated loss is piecewise constant in θ.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Surrogate {
    /// `β` (1/mV, or per unit of `V`): larger is steeper and narrower.
    pub slope: f64,
}

impl Surrogate {
    /// `1 / (1 + β|u|)²`.
    #[inline]
    pub fn derivative(&self, u: f64) -> f64 {
        let d = 1.0 + self.slope * u.abs();
        1.0 / (d * d)
    }

    /// The spike as a scalar: value `s`, derivative `∂s/∂u · ∂u` (for real numbers just
    /// `s`).
    #[inline]
    pub fn spike<S: Scalar>(&self, spike: bool, u: S) -> S {
        let value = S::from_f64(f64::from(u8::from(spike)));
        value + (u - S::from_f64(u.re())) * S::from_f64(self.derivative(u.re()))
    }
}

/// A leaky integrate-and-fire neuron model (one per population).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LifNeuron {
    /// `α = e^{−Δt/τ_m}`, the membrane's decay per step.
    pub leak: f64,
    /// `ϑ`.
    pub threshold: f64,
    /// The value `V` is reset to after a spike and held at while refractory.
    pub reset: f64,
    /// Steps after a spike during which `V = reset` and no spike is possible.
    pub refractory_steps: usize,
    /// The adaptive threshold (ALIF), if any.
    pub adaptation: Option<Adaptation>,
    /// Unrecorded Poisson background input, if any (simulation only: a likelihood
    /// cannot be computed with it).
    pub background: Option<Background>,
    /// Spike generation.
    pub escape: Escape,
}

/// An adaptive threshold: `ϑ_t = ϑ + b a_t`, `a_t = ρ (a_{t−1} + s_{t−1})`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Adaptation {
    /// `ρ = e^{−Δt/τ_a}`.
    pub decay: f64,
    /// `b`, the threshold's increment per spike.
    pub increment: f64,
}

/// Poisson background input: each step every neuron not held receives `J · n_t` with
/// `n_t ~ Binomial(count, p)`, `p = rate Δt / 1000` (`count` independent Poisson
/// inputs of `rate` Hz, as Brian2's `PoissonInput`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Background {
    /// Number of inputs.
    pub count: u64,
    /// Spike probability of each input per step.
    pub probability: f64,
    /// `J` per input spike.
    pub weight: f64,
}
