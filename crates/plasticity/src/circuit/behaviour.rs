//! The behaviour circuit (docs/model.md §3.2), a mushroom-body-like model of a fly:
//! `h = tanh(W x)` (the plastic layer, `y ≡ h`), `logit = v Σ_i h_i` with the fixed
//! readout `v = 5 / n_hidden`, `P(accept) = σ(logit)`. After an accepted presentation,
//! `W ← clip_B(W + η g_θ(x, h, W, r))` with `η = 1 / n_in`, where `clip_B` bounds every
//! weight to `[−B, B]` when a bound is set (off when `B` is `None`).

use serde::{Deserialize, Serialize};

use crate::rule::{LayerState, PlasticityRule};
use crate::scalar::Scalar;

/// How the reward enters the rule: `r = R − E[R]` (centred) or `r = R` (raw).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RewardSignal {
    /// `r = R − E[R]`, the reward prediction error (SPEC default).
    #[default]
    Centred,
    /// `r = R`.
    Raw,
}

impl RewardSignal {
    /// `r` from the trial's reward and the expected reward before it.
    #[inline]
    pub fn signal(self, reward: f64, expected_reward: f64) -> f64 {
        match self {
            RewardSignal::Centred => reward - expected_reward,
            RewardSignal::Raw => reward,
        }
    }

    /// The name used in metadata and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            RewardSignal::Centred => "centred",
            RewardSignal::Raw => "raw",
        }
    }

    /// Parses `centred` or `raw`.
    pub fn parse(text: &str) -> crate::Result<Self> {
        match text {
            "centred" | "centered" => Ok(RewardSignal::Centred),
            "raw" => Ok(RewardSignal::Raw),
            other => Err(crate::Error::config(
                "reward-signal",
                format!("expected \"centred\" (r = R − E[R]) or \"raw\" (r = R), got \"{other}\""),
            )),
        }
    }
}

/// Input → plastic tanh layer → fixed readout → P(accept).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct BehaviourCircuit {
    /// Inputs `n_in`.
    pub n_in: usize,
    /// Hidden (plastic) units.
    pub n_hidden: usize,
    /// `η` (SPEC: `1 / n_in`).
    pub learning_rate: f64,
    /// The readout weight `v` of every hidden unit (SPEC: `5 / n_hidden`).
    pub readout: f64,
    /// Bound `B` on every weight after an update, or `None` for no bound.
    pub weight_bound: Option<f64>,
}

impl BehaviourCircuit {
    /// The SPEC circuit: `η = 1/n_in`, `v = 5/n_hidden`, no weight bound.
    pub fn new(n_in: usize, n_hidden: usize) -> Self {
        BehaviourCircuit {
            n_in,
            n_hidden,
            learning_rate: 1.0 / n_in as f64,
            readout: 5.0 / n_hidden as f64,
            weight_bound: None,
        }
    }

    /// The same circuit with a bound on the weights.
    pub fn with_weight_bound(mut self, bound: Option<f64>) -> Self {
        self.weight_bound = bound;
        self
    }

    /// Number of plastic synapses.
    pub fn n_synapses(&self) -> usize {
        self.n_in * self.n_hidden
    }

    /// `h = tanh(W x)`; returns `logit = v Σ_i h_i`.
    #[inline]
    pub fn activity<S: Scalar>(&self, input: &[S], weights: &[S], hidden: &mut [S]) -> S {
        let mut logit = S::zero();
        for (h, row) in hidden.iter_mut().zip(weights.chunks_exact(self.n_in)) {
            let mut z = S::zero();
            for (&w, &x) in row.iter().zip(input) {
                z += w * x;
            }
            *h = z.tanh();
            logit += *h;
        }
        logit * S::from_f64(self.readout)
    }

    /// The layer state the rule sees at an accepted presentation.
    #[inline]
    pub fn layer<'a, S: Scalar>(
        &self,
        input: &'a [S],
        hidden: &'a [S],
        reward: S,
    ) -> LayerState<'a, S> {
        LayerState {
            pre: input,
            post: hidden,
            reward,
            learning_rate: S::from_f64(self.learning_rate),
        }
    }

    /// `W ← clip_B(W + η g_θ(x, h, W, r))`; returns how many weights the bound clipped.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    pub fn plasticity<S: Scalar, R: PlasticityRule>(
        &self,
        rule: &R,
        theta: &[S],
        input: &[S],
        hidden: &[S],
        reward: S,
        weights: &mut [S],
        scratch: &mut [S],
    ) -> usize {
        rule.update(theta, self.layer(input, hidden, reward), weights, scratch);
        match self.weight_bound {
            Some(bound) => weights.iter_mut().map(|w| clip(w, bound)).sum(),
            None => 0,
        }
    }

    /// Reverse mode of `h = tanh(W x)`, `logit = v Σ h` with respect to `W`: with
    /// `h̄_i` (the rule's share, in `hidden_adjoint`) and `logit_adjoint`,
    /// `∂L/∂W_ij += (h̄_i + v · logit̄) (1 − h_i²) x_j`.
    #[inline]
    pub fn activity_vjp<S: Scalar>(
        &self,
        input: &[S],
        hidden: &[S],
        logit_adjoint: S,
        hidden_adjoint: &[S],
        weights_adjoint: &mut [S],
    ) {
        let from_readout = logit_adjoint * S::from_f64(self.readout);
        for ((row, &h), &h_bar) in weights_adjoint
            .chunks_exact_mut(self.n_in)
            .zip(hidden)
            .zip(hidden_adjoint)
        {
            let z_bar = (h_bar + from_readout) * (S::one() - h * h);
            for (lambda, &x) in row.iter_mut().zip(input) {
                *lambda += z_bar * x;
            }
        }
    }
}

/// Clips `w` to `[−bound, bound]`; returns 1 if it was outside.
#[inline]
fn clip<S: Scalar>(w: &mut S, bound: f64) -> usize {
    let value = w.re();
    if value > bound {
        *w = S::from_f64(bound);
        1
    } else if value < -bound {
        *w = S::from_f64(-bound);
        1
    } else {
        0
    }
}

/// Whether an unclipped updated weight lies outside `[−bound, bound]` (where the clip's
/// derivative is 0).
#[inline]
pub fn is_clipped(value: f64, bound: f64) -> bool {
    value > bound || value < -bound
}
