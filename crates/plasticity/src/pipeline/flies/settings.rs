//! What the fly fits are asked to do (models, draws, penalties, held-out fraction) and
//! how a fly's recording becomes a fit's dataset and settings.

use serde::{Deserialize, Serialize};

use crate::analysis::profile::ProfileSettings;
use crate::circuit::RewardSignal;
use crate::data::{to_choice_dataset, to_dataset, BehaviourKind, FlyRecording};
use crate::fit::FitConfig;
use crate::pipeline::behaviour::{BehaviourFitSettings, InputSource};
use crate::rule::RuleFamily;
use crate::Result;

/// How the flies are fitted and compared.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FlySettings {
    /// Term sets to compare, each as written (`"1,x,r,x*r"`).
    pub models: Vec<String>,
    /// `r = R − E[R]` or `r = R`.
    pub reward_signal: RewardSignal,
    /// Draws of sensory noise and `W₀` fitted per fly and model (the median is reported).
    pub resamples: usize,
    /// Fraction of each fly's trials the held-out fit sees (the rest are predicted).
    pub training_fraction: f64,
    /// Hidden (plastic) units of the model.
    pub n_hidden: usize,
    /// Standard deviation of the unknown `W₀`.
    pub initial_weight_std: f64,
    /// `E[R]` window.
    pub expected_reward_window: usize,
    /// Optimizer: the behaviour defaults of docs/model.md §2.3/§4.2 (Adam, 250 epochs, learning
    /// rate 1e-3, L1 1e-2 on the model's coefficients).
    pub fit: FitConfig,
    /// Weight bound during the fits.
    pub weight_bound: Option<f64>,
    /// Base seed: draw `k` uses seed `seed + k` for `W₀` and the sensory noise.
    pub seed: u64,
    /// Also fit the Q-learning baseline ([`crate::baseline::q_learning`]) to every fly.
    #[serde(default)]
    pub q_learning: bool,
    /// L-BFGS iterations of each Q-learning start.
    #[serde(default)]
    pub q_learning_iterations: usize,
    /// The fits' solver ([`crate::pipeline::behaviour::solver_for`]): `auto` keeps
    /// `fit.optimizer`.
    #[serde(default)]
    pub solver: crate::fit::Solver,
    /// Profile-likelihood intervals of every coefficient of every model and fly.
    #[serde(default)]
    pub intervals: bool,
    /// How the profiles are searched.
    #[serde(default)]
    pub profile: ProfileSettings,
    /// Draws whose intervals are computed (the first ones; at least 1 when
    /// `intervals`): the interval describes the statistical uncertainty of one draw,
    /// the spread over draws is reported beside it.
    #[serde(default)]
    pub interval_draws: usize,
    /// Folds (split by fly) of the population fit's cross-validation; 0 skips the
    /// population fit.
    #[serde(default)]
    pub population_folds: usize,
    /// NUTS posterior intervals beside the profile and Laplace ones (on the draws
    /// with intervals), with a prior matching the fit's penalty; `None` skips them.
    #[serde(default)]
    pub posterior: Option<crate::analysis::posterior::NutsSettings>,
    /// What is modelled: every presentation's accept or reject (docs/model.md §4.3), or
    /// the choice of one odour among those offered in each trial (the chosen odours
    /// and rewards only: `kind = "choice"`).
    #[serde(default)]
    pub task: BehaviourKind,
    /// Fit on the trials before this one (0-based) and predict the rest, instead of
    /// [`training_fraction`](Self::training_fraction) (a fly with no more trials
    /// than this keeps the fraction).
    #[serde(default)]
    pub heldout_from_trial: Option<usize>,
}

impl Default for FlySettings {
    fn default() -> Self {
        FlySettings {
            models: vec!["1,x,r,x*r".into(), "1,x,r,x*r,w".into()],
            reward_signal: RewardSignal::Centred,
            resamples: 5,
            training_fraction: 0.75,
            n_hidden: 10,
            initial_weight_std: 0.01,
            expected_reward_window: 10,
            fit: BehaviourFitSettings::default().fit,
            weight_bound: Some(10.0),
            seed: 0,
            q_learning: true,
            q_learning_iterations: 500,
            solver: crate::fit::Solver::Auto,
            intervals: true,
            profile: ProfileSettings::default(),
            interval_draws: 1,
            population_folds: 6,
            posterior: None,
            task: BehaviourKind::AcceptReject,
            heldout_from_trial: None,
        }
    }
}

impl FlySettings {
    /// The trials of `recording` the held-out fit sees, and how many: those before
    /// [`heldout_from_trial`](Self::heldout_from_trial) when the fly has more, else
    /// the first [`training_fraction`](Self::training_fraction).
    pub fn training_trials(&self, recording: &FlyRecording) -> (FlyRecording, usize) {
        match self.heldout_from_trial {
            Some(keep) if keep >= 1 && recording.n_trials() > keep => {
                first_n_trials(recording, keep)
            }
            _ => first_trials(recording, self.training_fraction),
        }
    }
}

/// The first `fraction` of a fly's trials (at least one, at most all but one).
pub fn first_trials(recording: &FlyRecording, fraction: f64) -> (FlyRecording, usize) {
    let trials = recording.n_trials();
    let keep =
        ((fraction * trials as f64).round() as usize).clamp(1, trials.saturating_sub(1).max(1));
    first_n_trials(recording, keep)
}

/// The first `keep` trials of a fly (at most all of them).
fn first_n_trials(recording: &FlyRecording, keep: usize) -> (FlyRecording, usize) {
    let keep = keep.min(recording.n_trials());
    let n = recording
        .trial_of_presentation
        .iter()
        .take_while(|&&t| (t as usize) < keep)
        .count();
    (
        FlyRecording {
            odours: recording.odours[..n].to_vec(),
            decisions: recording.decisions[..n].to_vec(),
            trial_of_presentation: recording.trial_of_presentation[..n].to_vec(),
            rewards: recording.rewards[..keep].to_vec(),
            n_odours: recording.n_odours,
            name: recording.name.clone(),
        },
        keep,
    )
}

/// The behaviour fit of one model and draw: its Taylor terms from zero, Adam (by
/// default) with the fly settings' penalty and bound, or their solver, on inputs
/// re-sampled from `seed`.
pub(crate) fn fly_fit_settings(
    model: &str,
    settings: &FlySettings,
    seed: u64,
) -> BehaviourFitSettings {
    BehaviourFitSettings {
        rule_family: RuleFamily::Taylor,
        trainable: model.to_string(),
        init: "zeros".into(),
        fit: FitConfig {
            seed,
            ..settings.fit.clone()
        },
        weight_bound: settings.weight_bound,
        inputs: InputSource::Resampled,
        input_seed: seed,
        eval_sessions: 0,
        solver: settings.solver,
        ..BehaviourFitSettings::default()
    }
}

/// The flies as one behaviour dataset (accept/reject, or their choices as the
/// settings' task says), with `W₀` drawn from `seed`.
pub(crate) fn fly_dataset(
    recordings: &[FlyRecording],
    settings: &FlySettings,
    seed: u64,
) -> Result<crate::data::BehaviourDataset> {
    let pack = match settings.task {
        BehaviourKind::AcceptReject => to_dataset,
        BehaviourKind::Choice => to_choice_dataset,
    };
    pack(
        recordings,
        settings.n_hidden,
        settings.initial_weight_std,
        seed,
        settings.expected_reward_window,
        settings.reward_signal,
    )
}
