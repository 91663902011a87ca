//! A Rescorla–Wagner / Q-learning agent with forgetting (the model family of fly
//! operant-learning studies), as a baseline for the plasticity rules.
//!
//! Each odour `j` has a value `Q_j` (0 at the start). A presentation of odour `o` is
//! accepted with probability `p = σ(β Q_o + b)`. After an accept rewarded with `R`
//! (the recorded 0/1 reward of the trial):
//!
//! `Q_o ← Q_o + α (R − Q_o)` (the chosen odour learns),
//! `Q_j ← (1 − λ) Q_j` for every `j ≠ o` (the others are forgotten),
//!
//! with learning rate `α ∈ (0, 1)`, inverse temperature `β`, bias `b` and forgetting
//! rate `λ ∈ (0, 1)`. Rejections change nothing. The loss of a presentation is the
//! cross-entropy of the recorded decision `d`: `softplus(z) − d z` with `z = β Q_o + b`,
//! the same likelihood as the plasticity models'.
//!
//! The optimizer sees the unconstrained `φ = (logit α, β, b, logit λ)`.

use serde::{Deserialize, Serialize};

use crate::data::FlyRecording;
use crate::fit::StopReason;
use crate::objective::Objective;
use crate::scalar::Scalar;
use crate::{Error, Result};

/// The agent's parameters in their natural units.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct QLearningParameters {
    /// `α`, how far `Q` moves towards the reward after an accept.
    pub learning_rate: f64,
    /// `β`, how strongly values drive the accept probability.
    pub inverse_temperature: f64,
    /// `b`, the accept logit when every value is 0.
    pub bias: f64,
    /// `λ`, the fraction of an unchosen odour's value lost per trial.
    pub forgetting_rate: f64,
}

impl QLearningParameters {
    /// Names of the parameters, in the order of [`QLearningParameters::values`].
    pub const NAMES: [&'static str; 4] = [
        "learning_rate",
        "inverse_temperature",
        "bias",
        "forgetting_rate",
    ];

    /// From the unconstrained `φ = (logit α, β, b, logit λ)`.
    pub fn from_unconstrained(phi: &[f64; 4]) -> Self {
        let sigmoid = |v: f64| 1.0 / (1.0 + (-v).exp());
        QLearningParameters {
            learning_rate: sigmoid(phi[0]),
            inverse_temperature: phi[1],
            bias: phi[2],
            forgetting_rate: sigmoid(phi[3]),
        }
    }

    /// The unconstrained `φ` (rates are clamped into `(1e-9, 1 − 1e-9)` first).
    pub fn to_unconstrained(&self) -> [f64; 4] {
        let logit = |p: f64| {
            let p = p.clamp(1e-9, 1.0 - 1e-9);
            (p / (1.0 - p)).ln()
        };
        [
            logit(self.learning_rate),
            self.inverse_temperature,
            self.bias,
            logit(self.forgetting_rate),
        ]
    }

    /// `[α, β, b, λ]`.
    pub fn values(&self) -> [f64; 4] {
        [
            self.learning_rate,
            self.inverse_temperature,
            self.bias,
            self.forgetting_rate,
        ]
    }
}

/// Runs the agent over `recording` at the unconstrained `φ`, calling
/// `observe(presentation, loss)` with each presentation's cross-entropy. Generic over
/// [`Scalar`] so that dual numbers check [`q_learning_mean_loss_and_gradient`].
pub fn q_learning_losses<S: Scalar>(
    phi: &[S; 4],
    recording: &FlyRecording,
    mut observe: impl FnMut(usize, S),
) {
    let learning_rate = phi[0].sigmoid();
    let (inverse_temperature, bias) = (phi[1], phi[2]);
    let forgetting_rate = phi[3].sigmoid();
    let mut values = vec![S::zero(); recording.n_odours];
    for p in 0..recording.n_presentations() {
        let odour = recording.odours[p] as usize;
        let logit = inverse_temperature * values[odour] + bias;
        let accepted = recording.decisions[p] == 1;
        let loss = if accepted {
            logit.softplus() - logit
        } else {
            logit.softplus()
        };
        observe(p, loss);
        if accepted {
            let reward =
                S::from_f64(recording.rewards[recording.trial_of_presentation[p] as usize]);
            for (j, value) in values.iter_mut().enumerate() {
                if j == odour {
                    *value += learning_rate * (reward - *value);
                } else {
                    *value *= S::one() - forgetting_rate;
                }
            }
        }
    }
}

/// The mean cross-entropy over the presentations of `recording` at the unconstrained
/// `φ`, and its gradient `∂L/∂φ` by forward sensitivities of the values
/// (`∂Q_j/∂logit α`, `∂Q_j/∂logit λ` carried along with `Q_j`; four parameters make
/// forward mode the cheap direction).
pub fn q_learning_mean_loss_and_gradient(
    phi: &[f64; 4],
    recording: &FlyRecording,
    gradient: &mut [f64; 4],
) -> f64 {
    let sigmoid = |v: f64| 1.0 / (1.0 + (-v).exp());
    let learning_rate = sigmoid(phi[0]);
    let (inverse_temperature, bias) = (phi[1], phi[2]);
    let forgetting_rate = sigmoid(phi[3]);
    let d_learning_rate = learning_rate * (1.0 - learning_rate);
    let d_forgetting_rate = forgetting_rate * (1.0 - forgetting_rate);
    let n = recording.n_odours;
    // value, ∂value/∂logit α, ∂value/∂logit λ
    let mut values = vec![0.0; n];
    let mut by_learning = vec![0.0; n];
    let mut by_forgetting = vec![0.0; n];
    *gradient = [0.0; 4];
    let mut total = 0.0;
    for p in 0..recording.n_presentations() {
        let odour = recording.odours[p] as usize;
        let logit = inverse_temperature * values[odour] + bias;
        let decision = recording.decisions[p] as f64;
        total += logit.softplus() - decision * logit;
        let residual = sigmoid(logit) - decision; // ∂loss/∂logit
        gradient[0] += residual * inverse_temperature * by_learning[odour];
        gradient[1] += residual * values[odour];
        gradient[2] += residual;
        gradient[3] += residual * inverse_temperature * by_forgetting[odour];
        if recording.decisions[p] == 1 {
            let reward = recording.rewards[recording.trial_of_presentation[p] as usize];
            for j in 0..n {
                if j == odour {
                    by_learning[j] = (1.0 - learning_rate) * by_learning[j]
                        + (reward - values[j]) * d_learning_rate;
                    by_forgetting[j] *= 1.0 - learning_rate;
                    values[j] += learning_rate * (reward - values[j]);
                } else {
                    by_learning[j] *= 1.0 - forgetting_rate;
                    by_forgetting[j] =
                        (1.0 - forgetting_rate) * by_forgetting[j] - values[j] * d_forgetting_rate;
                    values[j] *= 1.0 - forgetting_rate;
                }
            }
        }
    }
    let scale = 1.0 / recording.n_presentations().max(1) as f64;
    gradient.iter_mut().for_each(|g| *g *= scale);
    total * scale
}

/// The mean over recordings of each recording's mean cross-entropy, as an
/// [`Objective`] over the unconstrained `φ` (items = recordings).
pub struct QLearningObjective<'a> {
    recordings: &'a [FlyRecording],
}

impl<'a> QLearningObjective<'a> {
    /// The agent's loss on `recordings`.
    pub fn new(recordings: &'a [FlyRecording]) -> Self {
        QLearningObjective { recordings }
    }
}

fn as_phi(theta: &[f64]) -> [f64; 4] {
    [theta[0], theta[1], theta[2], theta[3]]
}

impl Objective for QLearningObjective<'_> {
    fn n_parameters(&self) -> usize {
        4
    }

    fn n_items(&self) -> usize {
        self.recordings.len()
    }

    fn loss(&self, theta: &[f64], items: &[usize]) -> f64 {
        let mut scratch = [0.0; 4];
        let phi = as_phi(theta);
        items
            .iter()
            .map(|&k| q_learning_mean_loss_and_gradient(&phi, &self.recordings[k], &mut scratch))
            .sum::<f64>()
            / items.len() as f64
    }

    fn loss_and_gradient(&self, theta: &[f64], items: &[usize], gradient: &mut [f64]) -> f64 {
        let phi = as_phi(theta);
        gradient.iter_mut().for_each(|g| *g = 0.0);
        let mut total = 0.0;
        let mut item_gradient = [0.0; 4];
        for &k in items {
            total +=
                q_learning_mean_loss_and_gradient(&phi, &self.recordings[k], &mut item_gradient);
            for (g, v) in gradient.iter_mut().zip(item_gradient) {
                *g += v;
            }
        }
        let scale = 1.0 / items.len() as f64;
        gradient.iter_mut().for_each(|g| *g *= scale);
        total * scale
    }
}

/// A maximum-likelihood fit of the agent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QLearningFit {
    /// The fitted parameters.
    pub parameters: QLearningParameters,
    /// The fitted unconstrained `φ`.
    pub unconstrained: [f64; 4],
    /// Mean cross-entropy per presentation (mean over recordings).
    pub mean_loss: f64,
    /// Which of the starting points gave the best fit (0-based).
    pub start: usize,
    /// Why the best fit's optimizer stopped.
    pub stop_reason: StopReason,
}

/// Starting points `(α, β, b, λ)` of the multi-start fit: the likelihood is not
/// convex in `(α, λ)`, so several are tried and the best kept.
pub const STARTS: [[f64; 4]; 4] = [
    [0.1, 1.0, 0.0, 0.1],
    [0.5, 5.0, 0.0, 0.01],
    [0.05, 10.0, 0.0, 0.3],
    [0.3, 2.0, 1.0, 0.5],
];

/// Maximum likelihood (L-BFGS, at most `iterations` per start) of the agent on
/// `recordings`, from each of [`STARTS`]; the lowest loss wins (the first on ties).
pub fn fit_q_learning(recordings: &[FlyRecording], iterations: usize) -> Result<QLearningFit> {
    if recordings.is_empty() {
        return Err(Error::config("flies", "no recording to fit"));
    }
    let objective = QLearningObjective::new(recordings);
    let starts = STARTS.iter().map(|values| {
        QLearningParameters {
            learning_rate: values[0],
            inverse_temperature: values[1],
            bias: values[2],
            forgetting_rate: values[3],
        }
        .to_unconstrained()
        .to_vec()
    });
    let (start, outcome) = super::best_of_starts(&objective, starts, iterations, "Q-learning")?;
    let phi = as_phi(&outcome.theta);
    Ok(QLearningFit {
        parameters: QLearningParameters::from_unconstrained(&phi),
        unconstrained: phi,
        mean_loss: outcome.final_loss,
        start,
        stop_reason: outcome.stop_reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use num_dual::Dual64;
    use rand::rngs::ChaCha8Rng;
    use rand::{RngExt, SeedableRng};

    /// A random session: `n_presentations` presentations of 2 odours, rejections
    /// sprinkled in, ending with an accept.
    fn random_recording(seed: u64, n_presentations: usize) -> FlyRecording {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut odours = Vec::new();
        let mut decisions = Vec::new();
        let mut trial_of_presentation = Vec::new();
        let mut rewards = Vec::new();
        for p in 0..n_presentations {
            odours.push(rng.random_range(0..2i64));
            let accept = p + 1 == n_presentations || rng.random_bool(0.7);
            decisions.push(i64::from(accept));
            trial_of_presentation.push(rewards.len() as i64);
            if accept {
                rewards.push(f64::from(u8::from(rng.random_bool(0.5))));
            }
        }
        let recording = FlyRecording {
            odours,
            decisions,
            trial_of_presentation,
            rewards,
            n_odours: 2,
            name: format!("random{seed}"),
        };
        recording.validate().expect("a valid random recording");
        recording
    }

    fn dual_mean_loss(phi: &[f64; 4], direction: &[f64; 4], recording: &FlyRecording) -> Dual64 {
        let dual: [Dual64; 4] = std::array::from_fn(|i| Dual64::new(phi[i], direction[i]));
        let mut total = Dual64::from_f64(0.0);
        q_learning_losses(&dual, recording, |_, loss| total += loss);
        total / Dual64::from_f64(recording.n_presentations() as f64)
    }

    #[test]
    fn gradient_matches_dual_numbers_and_finite_differences() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for case in 0..20 {
            let recording = random_recording(case, 60);
            let phi: [f64; 4] = std::array::from_fn(|_| rng.random_range(-2.0..2.0));
            let mut gradient = [0.0; 4];
            let loss = q_learning_mean_loss_and_gradient(&phi, &recording, &mut gradient);
            for i in 0..4 {
                let mut direction = [0.0; 4];
                direction[i] = 1.0;
                let dual = dual_mean_loss(&phi, &direction, &recording);
                assert!(
                    (dual.re - loss).abs() < 1e-12,
                    "loss {} vs {}",
                    dual.re,
                    loss
                );
                assert!(
                    (dual.eps - gradient[i]).abs() < 1e-10 * (1.0 + dual.eps.abs()),
                    "case {case}, ∂/∂φ{i}: dual {} vs adjoint {}",
                    dual.eps,
                    gradient[i]
                );
                let h = 1e-6;
                let mut scratch = [0.0; 4];
                let (mut plus, mut minus) = (phi, phi);
                plus[i] += h;
                minus[i] -= h;
                let difference =
                    (q_learning_mean_loss_and_gradient(&plus, &recording, &mut scratch)
                        - q_learning_mean_loss_and_gradient(&minus, &recording, &mut scratch))
                        / (2.0 * h);
                assert!(
                    (difference - gradient[i]).abs() < 1e-6,
                    "case {case}, ∂/∂φ{i}: finite difference {difference} vs {}",
                    gradient[i]
                );
            }
        }
    }

    /// Decisions drawn from the agent itself at known parameters.
    fn simulate(parameters: &QLearningParameters, trials: usize, seed: u64) -> FlyRecording {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut values = [0.0f64; 2];
        let mut recording = FlyRecording {
            odours: Vec::new(),
            decisions: Vec::new(),
            trial_of_presentation: Vec::new(),
            rewards: Vec::new(),
            n_odours: 2,
            name: "simulated".into(),
        };
        // odour 0 is rewarded with probability 0.8, odour 1 with 0.2; swapped halfway
        while recording.rewards.len() < trials {
            let odour = rng.random_range(0..2usize);
            let z = parameters.inverse_temperature * values[odour] + parameters.bias;
            let accept = rng.random_bool(1.0 / (1.0 + (-z).exp()));
            recording.odours.push(odour as i64);
            recording.decisions.push(i64::from(accept));
            recording
                .trial_of_presentation
                .push(recording.rewards.len() as i64);
            if accept {
                let good = if recording.rewards.len() < trials / 2 {
                    0
                } else {
                    1
                };
                let reward = f64::from(u8::from(rng.random_bool(if odour == good {
                    0.8
                } else {
                    0.2
                })));
                recording.rewards.push(reward);
                for (j, value) in values.iter_mut().enumerate() {
                    if j == odour {
                        *value += parameters.learning_rate * (reward - *value);
                    } else {
                        *value *= 1.0 - parameters.forgetting_rate;
                    }
                }
            }
        }
        recording
    }

    #[test]
    fn recovers_the_parameters_of_a_simulated_agent() {
        let truth = QLearningParameters {
            learning_rate: 0.3,
            inverse_temperature: 4.0,
            bias: -1.0,
            forgetting_rate: 0.1,
        };
        let recordings: Vec<FlyRecording> = (0..10).map(|s| simulate(&truth, 400, s)).collect();
        let fitted = fit_q_learning(&recordings, 500).expect("a fit");
        let p = fitted.parameters;
        assert!((p.learning_rate - 0.3).abs() < 0.1, "{p:?}");
        assert!((p.inverse_temperature - 4.0).abs() < 1.0, "{p:?}");
        assert!((p.bias + 1.0).abs() < 0.3, "{p:?}");
        assert!((p.forgetting_rate - 0.1).abs() < 0.08, "{p:?}");
        // the fit is at least as good as the truth
        let objective = QLearningObjective::new(&recordings);
        let all: Vec<usize> = (0..recordings.len()).collect();
        assert!(fitted.mean_loss <= objective.loss(&truth.to_unconstrained(), &all) + 1e-9);
    }

    #[test]
    fn parameters_round_trip_through_the_unconstrained_space() {
        let p = QLearningParameters {
            learning_rate: 0.25,
            inverse_temperature: -3.0,
            bias: 0.5,
            forgetting_rate: 0.9,
        };
        let back = QLearningParameters::from_unconstrained(&p.to_unconstrained());
        for (a, b) in p.values().iter().zip(back.values()) {
            assert!((a - b).abs() < 1e-12);
        }
    }
}
