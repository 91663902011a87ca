//! The models compared across flies (sets of Taylor terms, or the Q-learning
//! baseline) and one fly's fit of one model, with its coefficient intervals.

use serde::{Deserialize, Serialize};

use crate::rule::{term_names, TrainableSpec, Variables};
use crate::{Error, Result};

/// A profile-likelihood interval of one coefficient (docs/model.md §5 has no interval; this is
/// `{v : 2[NLL_p(v) − NLL_min] ≤ χ²₁}`, see [`crate::analysis::profile`]).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CoefficientInterval {
    /// Term (or baseline parameter) name.
    pub term: String,
    /// Maximum-likelihood estimate.
    pub estimate: f64,
    /// Lower end; `None` when the profile stayed below the threshold.
    pub lower: Option<f64>,
    /// Upper end; `None` likewise.
    pub upper: Option<f64>,
    /// Lower end of the 95 % Laplace interval `θ̂ − 1.96 SE` at the maximum-likelihood
    /// estimate, SE from the inverse Fisher information of the choices
    /// ([`crate::analysis::identifiability`]); `None` for the Q-learning baseline, or when the
    /// information is singular along a direction the term loads on.
    #[serde(default)]
    pub laplace_lower: Option<f64>,
    /// Upper end of the Laplace interval, `θ̂ + 1.96 SE`.
    #[serde(default)]
    pub laplace_upper: Option<f64>,
    /// 2.5 % quantile of the NUTS posterior ([`crate::analysis::posterior`]; prior matching the
    /// fit's penalty), when asked for.
    #[serde(default)]
    pub posterior_lower: Option<f64>,
    /// 97.5 % quantile of the NUTS posterior.
    #[serde(default)]
    pub posterior_upper: Option<f64>,
    /// Its rank-normalised split R-hat.
    #[serde(default)]
    pub posterior_rhat: Option<f64>,
    /// `Some(false)` when a constrained fit of the profile reached a lower loss than the
    /// maximum-likelihood fit it started from (the likelihood has other, better optima:
    /// the interval describes a local one); `None` without a profile.
    #[serde(default)]
    pub profile_converged: Option<bool>,
}

/// Which kind of model a row is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelFamily {
    /// A Taylor plasticity rule inside the behaviour circuit (docs/model.md §4.2).
    PlasticityRule,
    /// The Q-learning agent of [`crate::baseline::q_learning`].
    QLearning,
}

/// The model name of the Q-learning baseline in the outputs.
pub const Q_LEARNING_MODEL: &str = "q-learning";

/// The model name of the choice task's Q-learning with forgetting (the plain agent is
/// [`Q_LEARNING_MODEL`]).
pub const Q_LEARNING_FORGETTING_MODEL: &str = "q-learning-forgetting";

/// Mean of `probabilities` (one per trial) over each block of `block` trials.
pub fn block_means(probabilities: &[f64], block: usize) -> Vec<f64> {
    probabilities
        .chunks(block.max(1))
        .map(|c| c.iter().sum::<f64>() / c.len() as f64)
        .collect()
}

/// One fly under one model: medians over the draws.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FlyModelFit {
    /// The fly's name (file stem).
    pub fly: String,
    /// The model as given (or [`Q_LEARNING_MODEL`]).
    pub model: String,
    /// Plasticity rule or baseline.
    pub family: ModelFamily,
    /// The model's terms, canonical names (the baseline: its parameter names).
    pub terms: Vec<String>,
    /// Median percent deviance explained (all trials).
    pub percent_deviance: f64,
    /// Median held-out percent deviance.
    pub heldout_percent_deviance: f64,
    /// Median negative log-likelihood (all trials) over the draws.
    pub negative_log_likelihood: f64,
    /// `AIC = 2k + 2 NLL` at the median NLL over draws, `k` = number of terms.
    pub aic: f64,
    /// Median of each coefficient over the draws.
    pub theta: Vec<f64>,
    /// Per coefficient: median over the draws with intervals (the first
    /// `interval_draws`) of the estimate and of each interval end (an end is `None`
    /// when it was unbounded in any of them).
    pub intervals: Vec<CoefficientInterval>,
    /// Every draw.
    pub draws: Vec<FlyDraw>,
    /// The choice task: per block of [`crate::data::FLY_BLOCK_TRIALS`] trials, the
    /// model's mean probability of choosing odour 1 (the second), fitted on all trials
    /// (median over draws); empty for accept/reject.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub block_choice_fractions: Vec<f64>,
    /// Median over the draws of the held-out loss per decision (the negative
    /// log-likelihood of each held-out presentation, or choice, of the fit on the
    /// training trials): `−` the held-out log-likelihood per trial.
    #[serde(default)]
    pub heldout_loss_per_decision: Option<f64>,
}

/// The canonical term names of a model, checked.
pub fn model_terms(model: &str) -> Result<Vec<String>> {
    let mask = TrainableSpec::parse(model)?.mask(Variables::Xywr)?;
    let names = term_names(Variables::Xywr);
    let terms: Vec<String> = names
        .into_iter()
        .zip(mask)
        .filter(|(_, m)| *m)
        .map(|(n, _)| n)
        .collect();
    if terms.is_empty() {
        return Err(Error::config("models", format!("'{model}' has no term")));
    }
    Ok(terms)
}

/// One draw of one fly under one model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FlyDraw {
    /// The draw's seed (`W₀` and sensory noise).
    pub seed: u64,
    /// Percent deviance explained by the fit on all trials.
    pub percent_deviance: f64,
    /// Percent deviance on the held-out trials of the fit on the first trials.
    pub heldout_percent_deviance: f64,
    /// Cross-entropy summed over presentations (negative log-likelihood) of the fit on
    /// all trials.
    pub negative_log_likelihood: f64,
    /// The model's coefficients (in the order of its terms) fitted on all trials.
    pub theta: Vec<f64>,
    /// Why the fit on all trials stopped.
    pub stop_reason: String,
    /// Profile-likelihood intervals of the coefficients (maximum likelihood, no
    /// penalty, on this draw's inputs and `W₀`); empty when not asked for or when the
    /// fly never rejected an odour (then the likelihood has no finite maximum).
    pub intervals: Vec<CoefficientInterval>,
    /// Divergent NUTS transitions after warm-up, summed over chains, when posterior
    /// intervals were computed.
    #[serde(default)]
    pub posterior_divergences: Option<usize>,
    /// The choice task: per block, the fit's mean probability of choosing odour 1
    /// (see [`FlyModelFit::block_choice_fractions`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub block_choice_fractions: Vec<f64>,
    /// The held-out loss per decision of the fit on the training trials.
    #[serde(default)]
    pub heldout_loss_per_decision: Option<f64>,
}
