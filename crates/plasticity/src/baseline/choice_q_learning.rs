//! Q-learning agents for a K-alternative choice task (the flies' two-odour choice:
//! option 0 = MCH, option 1 = OCT), as baselines for the plasticity rules.
//!
//! Each option `k ∈ {0, …, K−1}` has a value `Q_k` (0 at the start). On every trial the
//! animal chooses option `k` with probability
//!
//! `P(k) = softmax_k(β Q_k + b_k) = exp(z_k − LSE(z))`, `z_k = β Q_k + b_k`, `b_0 = 0`,
//!
//! and collects the reward `R ∈ {0, 1}`. The loss of a trial is `−ln P(c) = LSE(z) − z_c`
//! for the chosen `c` (`LSE(z) = z_m + ln Σ_k exp(z_k − z_m)` with `z_m` the largest
//! logit, so nothing overflows). After the trial
//!
//! `Q_c ← Q_c + α (R − Q_c)` (the chosen option learns),
//! `Q_j ← (1 − λ) Q_j` for every `j ≠ c` ([`ChoiceQVariant::Forgetting`] only; the plain
//! variant leaves them unchanged),
//!
//! with learning rate `α ∈ (0, 1)`, inverse temperature `β` (free sign), biases
//! `b_1 … b_{K−1}` and forgetting rate `λ ∈ (0, 1)`.
//!
//! The optimizer sees the unconstrained `φ = (logit α, β, b_1, …, b_{K−1}[, logit λ])`.

use serde::{Deserialize, Serialize};

use crate::data::FlyRecording;
use crate::fit::StopReason;
use crate::objective::Objective;
use crate::scalar::Scalar;
use crate::{Error, Result};

#[cfg(test)]
mod tests;

/// Which agent: plain Q-learning or Q-learning with forgetting of unchosen options.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChoiceQVariant {
    /// Parameters `(α, β, b_1 … b_{K−1})`; unchosen values stay put.
    Plain,
    /// Parameters `(α, β, b_1 … b_{K−1}, λ)`; unchosen values decay towards 0.
    Forgetting,
}

impl ChoiceQVariant {
    /// Length of `φ` for `n_options` options: `2 + (K − 1)`, plus 1 with forgetting.
    pub fn n_parameters(self, n_options: usize) -> usize {
        1 + n_options + usize::from(self == ChoiceQVariant::Forgetting)
    }

    /// Names of the parameters in the order of `φ`: `learning_rate`,
    /// `inverse_temperature`, `bias` (K = 2) or `bias_1 … bias_{K−1}`, and
    /// `forgetting_rate` with forgetting.
    pub fn parameter_names(self, n_options: usize) -> Vec<String> {
        let mut names = vec!["learning_rate".to_string(), "inverse_temperature".into()];
        if n_options == 2 {
            names.push("bias".into());
        } else {
            names.extend((1..n_options).map(|k| format!("bias_{k}")));
        }
        if self == ChoiceQVariant::Forgetting {
            names.push("forgetting_rate".into());
        }
        names
    }
}

/// One animal's (or session's) choices: the option chosen and the reward collected on
/// each trial.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChoiceSequence {
    /// The chosen option of each trial, below `n_options`.
    pub chosen: Vec<usize>,
    /// The reward of each trial (finite, normally 0 or 1).
    pub rewards: Vec<f64>,
    /// `K`, the number of options (at least 2).
    pub n_options: usize,
}

impl ChoiceSequence {
    /// The choices of a fly: each trial's chosen option is the odour of its accepted
    /// presentation (the last of the trial); trials without an accept are skipped (a
    /// validated recording has none). `K = max(n_odours, 2)`.
    pub fn from_recording(recording: &FlyRecording) -> Result<Self> {
        recording.validate()?;
        let mut sequence = ChoiceSequence {
            chosen: Vec::with_capacity(recording.n_trials()),
            rewards: Vec::with_capacity(recording.n_trials()),
            n_options: recording.n_odours.max(2),
        };
        for p in 0..recording.n_presentations() {
            if recording.decisions[p] == 1 {
                let trial = recording.trial_of_presentation[p] as usize;
                sequence.chosen.push(recording.odours[p] as usize);
                sequence.rewards.push(recording.rewards[trial]);
            }
        }
        sequence.validate()?;
        Ok(sequence)
    }

    /// Number of trials.
    pub fn n_trials(&self) -> usize {
        self.chosen.len()
    }

    /// The first `n` trials (all of them if there are fewer): the training part of a
    /// held-out test.
    pub fn first_trials(&self, n: usize) -> ChoiceSequence {
        let n = n.min(self.n_trials());
        ChoiceSequence {
            chosen: self.chosen[..n].to_vec(),
            rewards: self.rewards[..n].to_vec(),
            n_options: self.n_options,
        }
    }

    /// Checks `n_options ≥ 2`, one reward per choice, every choice below `n_options`
    /// and every reward finite; errors name the field, the trial and the value.
    pub fn validate(&self) -> Result<()> {
        self.check("")
    }

    /// [`ChoiceSequence::validate`] with `prefix` before the field names.
    fn check(&self, prefix: &str) -> Result<()> {
        let bad =
            |field: &str, message: String| Err(Error::config(format!("{prefix}{field}"), message));
        let (n, trials) = (self.n_options, self.chosen.len());
        if n < 2 {
            return bad(
                "n_options",
                format!("expected at least 2 options, found {n}"),
            );
        }
        if self.rewards.len() != trials {
            let found = self.rewards.len();
            return bad(
                "rewards",
                format!("has {found} entries but 'chosen' has {trials} trials"),
            );
        }
        for (t, (&c, &r)) in self.chosen.iter().zip(&self.rewards).enumerate() {
            if c >= n {
                return bad(
                    "chosen",
                    format!("expected an option in 0..{n}, found {c} at trial {t}"),
                );
            }
            if !r.is_finite() {
                return bad(
                    "rewards",
                    format!("expected a finite reward, found {r} at trial {t}"),
                );
            }
        }
        Ok(())
    }
}

/// The agent's parameters in their natural units.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChoiceQLearningParameters {
    /// `α`, how far the chosen option's value moves towards the reward.
    pub learning_rate: f64,
    /// `β`, how strongly values drive the choice.
    pub inverse_temperature: f64,
    /// `b_1 … b_{K−1}`, the logits of options 1… against option 0 when all values are 0.
    pub biases: Vec<f64>,
    /// `λ`, the fraction of an unchosen option's value lost per trial (`None` for
    /// [`ChoiceQVariant::Plain`]).
    pub forgetting_rate: Option<f64>,
}

fn logit(p: f64) -> f64 {
    let p = p.clamp(1e-9, 1.0 - 1e-9);
    (p / (1.0 - p)).ln()
}

/// Refuses a `φ` whose length does not fit the variant and `K`.
fn check_phi(variant: ChoiceQVariant, n_options: usize, len: usize) -> Result<()> {
    let expected = variant.n_parameters(n_options);
    if len != expected {
        return Err(Error::config(
            "phi",
            format!(
                "expected {expected} parameters for {variant:?} Q-learning with {n_options} \
                 options, found {len}"
            ),
        ));
    }
    Ok(())
}

impl ChoiceQLearningParameters {
    /// From the unconstrained `φ = (logit α, β, b_1 … b_{K−1}[, logit λ])`.
    pub fn from_unconstrained(
        variant: ChoiceQVariant,
        n_options: usize,
        phi: &[f64],
    ) -> Result<Self> {
        check_phi(variant, n_options, phi.len())?;
        Ok(ChoiceQLearningParameters {
            learning_rate: phi[0].sigmoid(),
            inverse_temperature: phi[1],
            biases: phi[2..1 + n_options].to_vec(),
            forgetting_rate: (variant == ChoiceQVariant::Forgetting)
                .then(|| phi[1 + n_options].sigmoid()),
        })
    }

    /// The unconstrained `φ` (rates are clamped into `(1e-9, 1 − 1e-9)` first).
    pub fn to_unconstrained(&self) -> Vec<f64> {
        let mut phi = vec![logit(self.learning_rate), self.inverse_temperature];
        phi.extend_from_slice(&self.biases);
        phi.extend(self.forgetting_rate.map(logit));
        phi
    }

    /// `[α, β, b_1 … b_{K−1}[, λ]]`, in the order of
    /// [`ChoiceQVariant::parameter_names`].
    pub fn values(&self) -> Vec<f64> {
        let mut values = vec![self.learning_rate, self.inverse_temperature];
        values.extend_from_slice(&self.biases);
        values.extend(self.forgetting_rate);
        values
    }
}

/// Writes `z_k = β Q_k + b_k` into `logits` and returns `LSE(z)`, shifted by the
/// largest logit so that nothing overflows.
#[inline]
fn log_sum_exp<S: Scalar>(values: &[S], beta: S, biases: &[S], logits: &mut [S]) -> S {
    for (k, z) in logits.iter_mut().enumerate() {
        *z = beta * values[k];
        if k > 0 {
            *z += biases[k - 1];
        }
    }
    let top = logits
        .iter()
        .copied()
        .fold(logits[0], |m, z| if z.re() > m.re() { z } else { m });
    let mut sum = S::zero();
    for &z in logits.iter() {
        sum += (z - top).exp();
    }
    top + sum.ln()
}

/// Runs the agent over `sequence` at the unconstrained `φ` and returns the summed loss
/// `Σ_t −ln P_t(c_t)`, calling `observe(trial, loss, probabilities)` with each trial's
/// loss and the predicted `P(k)` of every option (before the trial's update). Summing
/// the losses of the trials `≥ k` gives a held-out loss; the probabilities give the
/// predicted choice fractions. Generic over [`Scalar`] so that dual numbers check
/// [`choice_q_learning_mean_loss_and_gradient`]. Errors on an invalid sequence or a
/// `φ` of the wrong length.
pub fn choice_q_learning_losses<S: Scalar>(
    variant: ChoiceQVariant,
    phi: &[S],
    sequence: &ChoiceSequence,
    mut observe: impl FnMut(usize, S, &[f64]),
) -> Result<S> {
    sequence.validate()?;
    let n = sequence.n_options;
    check_phi(variant, n, phi.len())?;
    let learning_rate = phi[0].sigmoid();
    let inverse_temperature = phi[1];
    let biases = &phi[2..1 + n];
    let keep = match variant {
        ChoiceQVariant::Plain => S::one(),
        ChoiceQVariant::Forgetting => S::one() - phi[1 + n].sigmoid(),
    };
    let mut values = vec![S::zero(); n];
    let mut logits = vec![S::zero(); n];
    let mut probabilities = vec![0.0; n];
    let mut total = S::zero();
    for (t, (&c, &reward)) in sequence.chosen.iter().zip(&sequence.rewards).enumerate() {
        let lse = log_sum_exp(&values, inverse_temperature, biases, &mut logits);
        for (p, &z) in probabilities.iter_mut().zip(&logits) {
            *p = (z.re() - lse.re()).exp();
        }
        let loss = lse - logits[c];
        total += loss;
        observe(t, loss, &probabilities);
        for (j, value) in values.iter_mut().enumerate() {
            if j == c {
                *value += learning_rate * (S::from_f64(reward) - *value);
            } else {
                *value *= keep;
            }
        }
    }
    Ok(total)
}

/// Buffers of the hand-written gradient, sized for `K` options and reused across
/// sequences: `Q_k`, `∂Q_k/∂logit α`, `∂Q_k/∂logit λ` and the logits `z_k`.
struct Workspace([Vec<f64>; 4]);

impl Workspace {
    fn new(n_options: usize) -> Self {
        Workspace(std::array::from_fn(|_| vec![0.0; n_options]))
    }
}

/// The mean loss per trial of a validated `sequence`, with its gradient added to
/// `gradient` (scaled by `weight`, as is the loss returned).
fn mean_loss_and_gradient_unchecked(
    variant: ChoiceQVariant,
    phi: &[f64],
    sequence: &ChoiceSequence,
    weight: f64,
    gradient: &mut [f64],
    workspace: &mut Workspace,
) -> f64 {
    let n = sequence.n_options;
    let forgetting = variant == ChoiceQVariant::Forgetting;
    let learning_rate = phi[0].sigmoid();
    let inverse_temperature = phi[1];
    let biases = &phi[2..1 + n];
    let forgetting_rate = if forgetting {
        phi[1 + n].sigmoid()
    } else {
        0.0
    };
    let d_learning_rate = learning_rate * (1.0 - learning_rate);
    let d_forgetting_rate = forgetting_rate * (1.0 - forgetting_rate);
    let [values, by_learning, by_forgetting, logits] = &mut workspace.0;
    for buffer in [&mut *values, &mut *by_learning, &mut *by_forgetting] {
        buffer.iter_mut().for_each(|v| *v = 0.0);
    }
    let scale = weight / sequence.n_trials().max(1) as f64;
    let mut total = 0.0;
    for (&c, &reward) in sequence.chosen.iter().zip(&sequence.rewards) {
        let lse = log_sum_exp(values, inverse_temperature, biases, logits);
        total += lse - logits[c];
        // ∂loss/∂z_k = P(k) − [k = c]
        for k in 0..n {
            let residual = scale * ((logits[k] - lse).exp() - f64::from(u8::from(k == c)));
            gradient[0] += residual * inverse_temperature * by_learning[k];
            gradient[1] += residual * values[k];
            if k > 0 {
                gradient[1 + k] += residual;
            }
            if forgetting {
                gradient[1 + n] += residual * inverse_temperature * by_forgetting[k];
            }
        }
        for j in 0..n {
            if j == c {
                by_learning[j] =
                    (1.0 - learning_rate) * by_learning[j] + (reward - values[j]) * d_learning_rate;
                by_forgetting[j] *= 1.0 - learning_rate;
                values[j] += learning_rate * (reward - values[j]);
            } else if forgetting {
                by_learning[j] *= 1.0 - forgetting_rate;
                by_forgetting[j] =
                    (1.0 - forgetting_rate) * by_forgetting[j] - values[j] * d_forgetting_rate;
                values[j] *= 1.0 - forgetting_rate;
            }
        }
    }
    total * scale
}

/// The mean loss per trial of `sequence` at the unconstrained `φ`, and its gradient
/// `∂L/∂φ` (written into `gradient`) by forward sensitivities of the values
/// (`∂Q_k/∂logit α`, `∂Q_k/∂logit λ` carried along with `Q_k`; `β` and the biases do
/// not move the values, whose updates depend only on the recorded choices).
pub fn choice_q_learning_mean_loss_and_gradient(
    variant: ChoiceQVariant,
    phi: &[f64],
    sequence: &ChoiceSequence,
    gradient: &mut [f64],
) -> Result<f64> {
    sequence.validate()?;
    check_phi(variant, sequence.n_options, phi.len())?;
    check_phi(variant, sequence.n_options, gradient.len())?;
    gradient.iter_mut().for_each(|g| *g = 0.0);
    let mut workspace = Workspace::new(sequence.n_options);
    Ok(mean_loss_and_gradient_unchecked(
        variant,
        phi,
        sequence,
        1.0,
        gradient,
        &mut workspace,
    ))
}

/// The mean over sequences of each sequence's mean loss per trial, as an
/// [`Objective`] over the unconstrained `φ` (items = sequences).
pub struct ChoiceQLearningObjective<'a> {
    variant: ChoiceQVariant,
    sequences: &'a [ChoiceSequence],
    n_options: usize,
}

impl<'a> ChoiceQLearningObjective<'a> {
    /// The agent's loss on `sequences`: at least one, each valid and non-empty, all
    /// with the same number of options.
    pub fn new(variant: ChoiceQVariant, sequences: &'a [ChoiceSequence]) -> Result<Self> {
        let first = sequences
            .first()
            .ok_or_else(|| Error::config("sequences", "no choice sequence to fit"))?;
        for (i, sequence) in sequences.iter().enumerate() {
            sequence.check(&format!("sequences[{i}]."))?;
            if sequence.n_trials() == 0 {
                return Err(Error::config(
                    format!("sequences[{i}].chosen"),
                    "expected at least one trial",
                ));
            }
            if sequence.n_options != first.n_options {
                return Err(Error::config(
                    format!("sequences[{i}].n_options"),
                    format!(
                        "{} options, but sequence 0 has {}",
                        sequence.n_options, first.n_options
                    ),
                ));
            }
        }
        Ok(ChoiceQLearningObjective {
            variant,
            sequences,
            n_options: first.n_options,
        })
    }

    /// `K`, the number of options of every sequence.
    pub fn n_options(&self) -> usize {
        self.n_options
    }
}

impl Objective for ChoiceQLearningObjective<'_> {
    fn n_parameters(&self) -> usize {
        self.variant.n_parameters(self.n_options)
    }

    fn n_items(&self) -> usize {
        self.sequences.len()
    }

    fn loss(&self, theta: &[f64], items: &[usize]) -> f64 {
        let mut scratch = vec![0.0; theta.len()];
        self.loss_and_gradient(theta, items, &mut scratch)
    }

    fn loss_and_gradient(&self, theta: &[f64], items: &[usize], gradient: &mut [f64]) -> f64 {
        gradient.iter_mut().for_each(|g| *g = 0.0);
        let weight = 1.0 / items.len() as f64;
        let mut workspace = Workspace::new(self.n_options);
        items
            .iter()
            .map(|&k| {
                mean_loss_and_gradient_unchecked(
                    self.variant,
                    theta,
                    &self.sequences[k],
                    weight,
                    gradient,
                    &mut workspace,
                )
            })
            .sum()
    }
}

/// A maximum-likelihood fit of a choice agent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChoiceQLearningFit {
    /// The agent fitted.
    pub variant: ChoiceQVariant,
    /// `K`, the number of options.
    pub n_options: usize,
    /// The fitted parameters.
    pub parameters: ChoiceQLearningParameters,
    /// The fitted unconstrained `φ`.
    pub unconstrained: Vec<f64>,
    /// Mean loss per trial (mean over sequences).
    pub mean_loss: f64,
    /// Which of [`CHOICE_STARTS`] gave the best fit (0-based).
    pub start: usize,
    /// Why the best fit's optimizer stopped.
    pub stop_reason: StopReason,
}

/// Starting points `(α, β, b, λ)` of the multi-start fit (every bias starts at `b`;
/// `λ` is unused by the plain agent): the likelihood is not convex in `(α, λ)`.
pub const CHOICE_STARTS: [[f64; 4]; 4] = [
    [0.1, 1.0, 0.0, 0.1],
    [0.5, 5.0, 0.0, 0.01],
    [0.05, 10.0, 0.0, 0.3],
    [0.3, 2.0, 0.5, 0.5],
];

/// Maximum likelihood (L-BFGS, at most `iterations` per start) of the agent on
/// `sequences`, from each of [`CHOICE_STARTS`]; the lowest loss wins (the first on
/// ties).
pub fn fit_choice_q_learning(
    variant: ChoiceQVariant,
    sequences: &[ChoiceSequence],
    iterations: usize,
) -> Result<ChoiceQLearningFit> {
    let objective = ChoiceQLearningObjective::new(variant, sequences)?;
    let n_options = objective.n_options();
    let starts = CHOICE_STARTS.iter().map(|values| {
        ChoiceQLearningParameters {
            learning_rate: values[0],
            inverse_temperature: values[1],
            biases: vec![values[2]; n_options - 1],
            forgetting_rate: (variant == ChoiceQVariant::Forgetting).then_some(values[3]),
        }
        .to_unconstrained()
    });
    let (start, outcome) =
        super::best_of_starts(&objective, starts, iterations, "choice Q-learning")?;
    Ok(ChoiceQLearningFit {
        variant,
        n_options,
        parameters: ChoiceQLearningParameters::from_unconstrained(
            variant,
            n_options,
            &outcome.theta,
        )?,
        unconstrained: outcome.theta,
        mean_loss: outcome.final_loss,
        start,
        stop_reason: outcome.stop_reason,
    })
}
