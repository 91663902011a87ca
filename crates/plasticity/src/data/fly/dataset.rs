//! Packing fly recordings into the padded behaviour dataset ([`to_dataset`]).

use std::path::Path;

use ndarray::{Array2, Array3};
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

use crate::circuit::RewardSignal;
use crate::data::{BehaviourDataset, BehaviourKind};
use crate::random::normal;
use crate::{Error, Result};

use super::{FlyRecording, FLY_DATA_SOURCE, INPUT_NOISE_STD, ODOUR_LEVEL};

/// Packs fly recordings into the padded behaviour layout of docs/model.md §6, one session per
/// fly in the order given:
///
/// - `n_in` is the largest number of odours; odour `k` drives input `k` at 0.75 and the
///   others at 0 (with two odours `μ_A = (0.75, 0)`, `μ_B = (0, 0.75)`, docs/model.md §4.2); the
///   inputs carry no noise (the fit re-samples it, `input_noise_std` = 0.015);
/// - `expected_rewards[t]` is the mean of the last `expected_reward_window` rewards
///   before trial `t` (zeros before the first);
/// - `initial_weights` of fly `k` are `n_hidden × n_in` draws of `N(0, std²)`, row by
///   row, from ChaCha8 seeded with `seed`, stream `k + 1` (as simulated sessions);
/// - metadata: `kind` = `"behaviour"`, `reward_signal`, `seed`, `version`,
///   `odour_patterns`, `input_noise_std`, `expected_reward_window`,
///   `initial_weight_std`, `flies` (the names) and `source` ([`FLY_DATA_SOURCE`]); no
///   `rule` (real data).
///
/// Every recording is checked with [`FlyRecording::validate`] and the result with
/// [`BehaviourDataset::new`].
pub fn to_dataset(
    recordings: &[FlyRecording],
    n_hidden: usize,
    initial_weight_std: f64,
    seed: u64,
    expected_reward_window: usize,
    reward_signal: RewardSignal,
) -> Result<BehaviourDataset> {
    pack_checked(
        recordings,
        n_hidden,
        initial_weight_std,
        seed,
        (expected_reward_window, reward_signal),
        BehaviourKind::AcceptReject,
    )
}

/// The fly recordings' choices as a choice dataset (`kind = "choice"`, docs/model.md §6):
/// each trial offers every odour (in the order of their identities, one presentation
/// each) and the odour the fly accepted is the chosen one, with the trial's reward;
/// the rejections are left out. Everything else (inputs, `E[R]`, `W₀`, metadata) as
/// [`to_dataset`].
pub fn to_choice_dataset(
    recordings: &[FlyRecording],
    n_hidden: usize,
    initial_weight_std: f64,
    seed: u64,
    expected_reward_window: usize,
    reward_signal: RewardSignal,
) -> Result<BehaviourDataset> {
    pack_checked(
        recordings,
        n_hidden,
        initial_weight_std,
        seed,
        (expected_reward_window, reward_signal),
        BehaviourKind::Choice,
    )
}

/// Checks the recordings and arguments ([`check_arguments`]), then packs them as `kind`
/// says: every presentation (accept/reject), or each trial's choice among the odours
/// ([`FlyRecording::as_choices`]).
fn pack_checked(
    recordings: &[FlyRecording],
    n_hidden: usize,
    initial_weight_std: f64,
    seed: u64,
    (expected_reward_window, reward_signal): (usize, RewardSignal),
    kind: BehaviourKind,
) -> Result<BehaviourDataset> {
    check_arguments(
        recordings,
        n_hidden,
        initial_weight_std,
        expected_reward_window,
    )?;
    let choices: Vec<FlyRecording>;
    let packed = match kind {
        BehaviourKind::AcceptReject => recordings,
        BehaviourKind::Choice => {
            choices = recordings.iter().map(FlyRecording::as_choices).collect();
            &choices
        }
    };
    pack(
        packed,
        n_hidden,
        initial_weight_std,
        seed,
        (expected_reward_window, reward_signal),
        kind,
    )
}

/// The padded arrays and metadata of [`to_dataset`] for checked recordings.
fn pack(
    recordings: &[FlyRecording],
    n_hidden: usize,
    initial_weight_std: f64,
    seed: u64,
    (expected_reward_window, reward_signal): (usize, RewardSignal),
    kind: BehaviourKind,
) -> Result<BehaviourDataset> {
    let n = recordings.len();
    let n_in = recordings.iter().map(|r| r.n_odours).max().unwrap_or(2);
    let max_pres = recordings
        .iter()
        .map(|r| r.n_presentations())
        .max()
        .unwrap_or(0);
    let max_trials = recordings.iter().map(|r| r.n_trials()).max().unwrap_or(0);
    let fits = |a: usize, b: usize, c: usize| {
        a.checked_mul(b)
            .and_then(|v| v.checked_mul(c))
            .is_some_and(|v| v <= (isize::MAX as usize) / 8)
    };
    if !fits(n, n_hidden, n_in) || !fits(n, max_pres, n_in) {
        return Err(Error::config(
            "n-hidden",
            format!("{n_hidden} hidden units × {n_in} inputs × {n} flies is too large"),
        ));
    }
    let weight_dist = normal(0.0, initial_weight_std)?;

    let mut inputs = Array3::zeros((n, max_pres, n_in));
    let mut odours = Array2::from_elem((n, max_pres), -1i64);
    let mut decisions = Array2::from_elem((n, max_pres), -1i64);
    let mut trial_of_presentation = Array2::from_elem((n, max_pres), -1i64);
    let mut rewards = Array2::zeros((n, max_trials));
    let mut expected_rewards = Array2::zeros((n, max_trials));
    let mut initial_weights = Array3::zeros((n, n_hidden, n_in));
    for (k, fly) in recordings.iter().enumerate() {
        for p in 0..fly.n_presentations() {
            inputs[[k, p, fly.odours[p] as usize]] = ODOUR_LEVEL;
            odours[[k, p]] = fly.odours[p];
            decisions[[k, p]] = fly.decisions[p];
            trial_of_presentation[[k, p]] = fly.trial_of_presentation[p];
        }
        let mut recent = vec![0.0; expected_reward_window];
        for (t, &reward) in fly.rewards.iter().enumerate() {
            rewards[[k, t]] = reward;
            expected_rewards[[k, t]] = recent.iter().sum::<f64>() / expected_reward_window as f64;
            recent[t % expected_reward_window] = reward;
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(k as u64 + 1);
        for i in 0..n_hidden {
            for j in 0..n_in {
                initial_weights[[k, i, j]] = rng.sample(weight_dist);
            }
        }
    }
    let patterns: Vec<Vec<f64>> = (0..n_in)
        .map(|odour| {
            (0..n_in)
                .map(|i| if i == odour { ODOUR_LEVEL } else { 0.0 })
                .collect()
        })
        .collect();
    let flies: Vec<&str> = recordings.iter().map(|r| r.name.as_str()).collect();
    let mut metadata = serde_json::Map::new();
    for (key, value) in [
        ("kind", serde_json::json!(kind.name())),
        ("reward_signal", serde_json::json!(reward_signal.name())),
        ("seed", serde_json::json!(seed)),
        ("version", serde_json::json!(crate::VERSION)),
        ("odour_patterns", serde_json::json!(patterns)),
        ("input_noise_std", serde_json::json!(INPUT_NOISE_STD)),
        (
            "expected_reward_window",
            serde_json::json!(expected_reward_window),
        ),
        ("initial_weight_std", serde_json::json!(initial_weight_std)),
        ("flies", serde_json::json!(flies)),
        ("source", serde_json::json!(FLY_DATA_SOURCE)),
    ] {
        metadata.insert(key.to_string(), value);
    }
    BehaviourDataset::new(
        inputs,
        odours,
        decisions,
        trial_of_presentation,
        recordings.iter().map(|r| r.n_presentations()).collect(),
        rewards,
        expected_rewards,
        recordings.iter().map(|r| r.n_trials()).collect(),
        initial_weights,
        metadata,
        Path::new("(fly recordings)"),
    )
}

/// The checks of [`to_dataset`] on its arguments; every recording is validated.
fn check_arguments(
    recordings: &[FlyRecording],
    n_hidden: usize,
    initial_weight_std: f64,
    expected_reward_window: usize,
) -> Result<()> {
    if recordings.is_empty() {
        return Err(Error::config(
            "flies",
            "expected at least one fly recording",
        ));
    }
    if n_hidden == 0 {
        return Err(Error::config("n-hidden", "must be at least 1"));
    }
    if expected_reward_window == 0 {
        return Err(Error::config(
            "expected-reward-window",
            "must be at least 1",
        ));
    }
    if !(initial_weight_std.is_finite() && initial_weight_std >= 0.0) {
        return Err(Error::config(
            "initial-weight-std",
            format!("must be finite and ≥ 0, got {initial_weight_std}"),
        ));
    }
    for recording in recordings {
        recording.validate()?;
    }
    Ok(())
}
