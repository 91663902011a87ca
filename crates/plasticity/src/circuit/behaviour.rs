//! The behaviour circuit (docs/model.md §3.2), a mushroom-body-like model of a fly:
//! `h = tanh(W x)` (the plastic layer, `y ≡ h`), `logit = v Σ_i h_i` with the fixed
//! readout `v = 5 / n_hidden`, `P(accept) = σ(logit)`. After an accepted presentation,
//! `W ← clip_B(W + η g_θ(x, h, W, r))` with `η = 1 / n_in`, where `clip_B` bounds every
//! weight to `[−B, B]` when a bound is set (off when `B` is `None`).
//!
//! This is the circuit's description; the engine runs it as the network instance
//! [`crate::circuit::Network::behaviour`] (simulation, losses, gradients).

use serde::{Deserialize, Serialize};

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
}
