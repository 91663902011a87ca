//! The behaviour dataset (docs/model.md §6, `kind = "behaviour"`): sessions of odour
//! presentations, decisions and rewards, padded to a common length with explicit
//! lengths (padding: −1 for integers, 0 for floats; it never enters a loss).
//!
//! The same arrays hold the K-choice task (`kind = "choice"`, [`BehaviourKind`]): a
//! trial's presentations are the options offered together, decision 1 marks the
//! chosen one (at most one per trial; none: a trial without a choice, which carries
//! no likelihood and no update).

use std::path::Path;

use ndarray::{Array1, Array2, Array3, Ix1, Ix2, Ix3};

use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

use super::mean_and_std;
use crate::circuit::{BehaviourCircuit, RewardSignal};
use crate::io::npz::{write_npz, NpzFile, NpzValue};
use crate::random::normal;
use crate::{Error, Result};

/// What a behaviour dataset's decisions are, from its metadata's `kind`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BehaviourKind {
    /// `kind = "behaviour"`: each presentation accepted (1) or rejected (0) on its own,
    /// `P(accept) = σ(z)`; an acceptance ends its trial.
    #[default]
    AcceptReject,
    /// `kind = "choice"`: a trial's presentations are offered together and one is
    /// chosen, `P(choose k) = softmax_k(z_k)` (β = 1 and no bias: the readout sets the
    /// scale); the rule updates the chosen option's synapses only.
    Choice,
}

impl BehaviourKind {
    /// The `kind` of a dataset file: `"behaviour"` or `"choice"`.
    pub fn name(self) -> &'static str {
        match self {
            BehaviourKind::AcceptReject => "behaviour",
            BehaviourKind::Choice => "choice",
        }
    }

    /// The kind a metadata object names (`behaviour` when absent or another).
    pub fn of_metadata(metadata: &serde_json::Map<String, serde_json::Value>) -> Self {
        match metadata.get("kind").and_then(|k| k.as_str()) {
            Some("choice") => BehaviourKind::Choice,
            _ => BehaviourKind::AcceptReject,
        }
    }
}

/// Recorded choices of several sessions.
#[derive(Clone, Debug, PartialEq)]
pub struct BehaviourDataset {
    /// Model input of each presentation, `[sessions, max_presentations, n_in]`.
    pub inputs: Array3<f64>,
    /// Odour identity (0-based), `[sessions, max_presentations]`.
    pub odours: Array2<i64>,
    /// 1 accept, 0 reject, `[sessions, max_presentations]`.
    pub decisions: Array2<i64>,
    /// 0-based trial of each presentation, `[sessions, max_presentations]`.
    pub trial_of_presentation: Array2<i64>,
    /// Real presentations per session.
    pub n_presentations: Vec<usize>,
    /// `R` of each trial, `[sessions, max_trials]`.
    pub rewards: Array2<f64>,
    /// `E[R]` before each trial's reward, `[sessions, max_trials]`.
    pub expected_rewards: Array2<f64>,
    /// Trials per session.
    pub n_trials: Vec<usize>,
    /// `W₀` of each session, `[sessions, n_hidden, n_in]`.
    pub initial_weights: Array3<f64>,
    /// The metadata JSON object.
    pub metadata: serde_json::Map<String, serde_json::Value>,
}

/// One session as contiguous slices of its real presentations and trials.
#[derive(Clone, Copy, Debug)]
pub struct BehaviourSession<'a> {
    /// `[presentations, n_in]`.
    pub inputs: &'a [f64],
    /// `[presentations]`, 1 accept, 0 reject.
    pub decisions: &'a [i64],
    /// `[presentations]`.
    pub trial_of_presentation: &'a [i64],
    /// `[trials]`.
    pub rewards: &'a [f64],
    /// `[trials]`.
    pub expected_rewards: &'a [f64],
    /// `[n_hidden, n_in]`.
    pub initial_weights: &'a [f64],
    /// How `r` is formed from `R` and `E[R]`.
    pub reward_signal: RewardSignal,
    /// Accept/reject or a choice among a trial's presentations.
    pub kind: BehaviourKind,
}

impl BehaviourSession<'_> {
    /// Number of real presentations.
    pub fn n_presentations(&self) -> usize {
        self.decisions.len()
    }

    /// Number of terms of the likelihood: presentations (accept/reject) or choices
    /// (trials with a chosen option).
    pub fn n_decisions(&self) -> usize {
        match self.kind {
            BehaviourKind::AcceptReject => self.n_presentations(),
            BehaviourKind::Choice => self.decisions.iter().filter(|&&d| d == 1).count(),
        }
    }

    /// `r` at presentation `p` (the signal of its trial).
    #[inline]
    pub fn reward_at(&self, presentation: usize) -> f64 {
        let trial = self.trial_of_presentation[presentation] as usize;
        self.reward_signal
            .signal(self.rewards[trial], self.expected_rewards[trial])
    }
}

/// Calls `each(range)` with the presentations of every trial in turn (consecutive
/// presentations of the same trial index).
pub fn for_each_trial(trial_of_presentation: &[i64], mut each: impl FnMut(std::ops::Range<usize>)) {
    let mut start = 0;
    for end in 1..=trial_of_presentation.len() {
        if end == trial_of_presentation.len()
            || trial_of_presentation[end] != trial_of_presentation[start]
        {
            each(start..end);
            start = end;
        }
    }
}

fn row<T>(array: &Array2<T>, k: usize, len: usize) -> &[T] {
    let width = array.shape()[1];
    let all = array
        .as_slice()
        .expect("dataset arrays are standard layout (BehaviourDataset::new)");
    &all[k * width..k * width + len]
}

fn block(array: &Array3<f64>, k: usize, rows: usize) -> &[f64] {
    let (height, width) = (array.shape()[1], array.shape()[2]);
    let all = array
        .as_slice()
        .expect("dataset arrays are standard layout (BehaviourDataset::new)");
    &all[k * height * width..k * height * width + rows * width]
}

impl BehaviourDataset {
    /// Number of sessions.
    pub fn n_sessions(&self) -> usize {
        self.inputs.shape()[0]
    }
    /// Inputs per presentation.
    pub fn n_in(&self) -> usize {
        self.inputs.shape()[2]
    }
    /// Hidden (plastic) units.
    pub fn n_hidden(&self) -> usize {
        self.initial_weights.shape()[1]
    }
    /// Number of odours (largest identity + 1).
    pub fn n_odours(&self) -> usize {
        (0..self.n_sessions())
            .flat_map(|k| row(&self.odours, k, self.n_presentations[k]).iter())
            .map(|&o| o as usize + 1)
            .max()
            .unwrap_or(0)
    }

    /// Accept/reject or choice, from the metadata's `kind`.
    pub fn kind(&self) -> BehaviourKind {
        BehaviourKind::of_metadata(&self.metadata)
    }

    /// Number of decisions of session `k` (presentations, or choices).
    pub fn n_decisions(&self, k: usize) -> usize {
        self.session(k).n_decisions()
    }

    /// The null model's mean loss per decision: `ln 2` (accept/reject at ½) or the
    /// mean of `ln K` over the choices (every one of the K options at `1/K`).
    pub fn chance_loss(&self, session: usize) -> f64 {
        let view = self.session(session);
        match view.kind {
            BehaviourKind::AcceptReject => std::f64::consts::LN_2,
            BehaviourKind::Choice => {
                let mut total = 0.0;
                let mut count = 0usize;
                for_each_trial(view.trial_of_presentation, |range| {
                    if view.decisions[range.clone()].contains(&1) {
                        total += (range.len() as f64).ln();
                        count += 1;
                    }
                });
                total / count.max(1) as f64
            }
        }
    }

    /// How `r` is formed, from the metadata (`centred` when absent).
    pub fn reward_signal(&self) -> RewardSignal {
        self.metadata
            .get("reward_signal")
            .and_then(|v| v.as_str())
            .and_then(|s| RewardSignal::parse(s).ok())
            .unwrap_or_default()
    }

    /// The generating rule's expression, if the data were simulated.
    pub fn generating_rule(&self) -> Option<&str> {
        self.metadata.get("rule").and_then(|v| v.as_str())
    }

    /// Session `k` with the dataset's own inputs.
    pub fn session(&self, k: usize) -> BehaviourSession<'_> {
        self.session_with_inputs(k, &self.inputs)
    }

    /// Session `k` driven by other inputs of the same shape (re-sampled sensory noise).
    pub fn session_with_inputs<'a>(
        &'a self,
        k: usize,
        inputs: &'a Array3<f64>,
    ) -> BehaviourSession<'a> {
        let (n_pres, n_trials) = (self.n_presentations[k], self.n_trials[k]);
        BehaviourSession {
            inputs: block(inputs, k, n_pres),
            decisions: row(&self.decisions, k, n_pres),
            trial_of_presentation: row(&self.trial_of_presentation, k, n_pres),
            rewards: row(&self.rewards, k, n_trials),
            expected_rewards: row(&self.expected_rewards, k, n_trials),
            initial_weights: block(&self.initial_weights, k, self.n_hidden()),
            reward_signal: self.reward_signal(),
            kind: self.kind(),
        }
    }

    /// Odour identities of session `k`'s real presentations.
    pub fn session_odours(&self, k: usize) -> &[i64] {
        row(&self.odours, k, self.n_presentations[k])
    }

    /// Builds a dataset, checking shapes, lengths, decisions, trial indices and
    /// finiteness. `origin` names the source in errors.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        inputs: Array3<f64>,
        odours: Array2<i64>,
        decisions: Array2<i64>,
        trial_of_presentation: Array2<i64>,
        n_presentations: Vec<usize>,
        rewards: Array2<f64>,
        expected_rewards: Array2<f64>,
        n_trials: Vec<usize>,
        initial_weights: Array3<f64>,
        metadata: serde_json::Map<String, serde_json::Value>,
        origin: &Path,
    ) -> Result<Self> {
        let bad = |variable: &str, message: String| Error::data(origin, variable, message);
        super::shapes::BehaviourShapes {
            inputs: inputs.shape(),
            per_presentation: [
                ("odours", odours.shape()),
                ("decisions", decisions.shape()),
                ("trial_of_presentation", trial_of_presentation.shape()),
            ],
            n_presentations: n_presentations.len(),
            per_trial: [
                ("rewards", rewards.shape()),
                ("expected_rewards", expected_rewards.shape()),
            ],
            n_trials: n_trials.len(),
            initial_weights: initial_weights.shape(),
        }
        .check(origin)?;
        let choice = BehaviourKind::of_metadata(&metadata) == BehaviourKind::Choice;
        let [n_sessions, max_pres] = [inputs.shape()[0], inputs.shape()[1]];
        let max_trials = rewards.shape()[1];
        for (name, array) in [
            ("inputs", inputs.view().into_dyn()),
            ("rewards", rewards.view().into_dyn()),
            ("expected_rewards", expected_rewards.view().into_dyn()),
            ("initial_weights", initial_weights.view().into_dyn()),
        ] {
            if let Some((index, value)) = array.indexed_iter().find(|(_, v)| !v.is_finite()) {
                return Err(bad(
                    name,
                    format!("expected finite values, found {value} at index {index:?}"),
                ));
            }
        }
        for k in 0..n_sessions {
            let (n_pres, trials) = (n_presentations[k], n_trials[k]);
            if n_pres == 0 || n_pres > max_pres {
                return Err(bad(
                    "n_presentations",
                    format!("session {k}: expected 1..={max_pres} presentations, found {n_pres}"),
                ));
            }
            if trials == 0 || trials > max_trials {
                return Err(bad(
                    "n_trials",
                    format!("session {k}: expected 1..={max_trials} trials, found {trials}"),
                ));
            }
            let mut previous_trial = 0i64;
            let mut accepted_in_trial = false;
            for p in 0..n_pres {
                let decision = decisions[[k, p]];
                if decision != 0 && decision != 1 {
                    return Err(bad(
                        "decisions",
                        format!(
                            "session {k}, presentation {p}: expected 0 (reject) or 1 (accept), found {decision}"
                        ),
                    ));
                }
                if odours[[k, p]] < 0 {
                    return Err(bad(
                        "odours",
                        format!(
                            "session {k}, presentation {p}: expected a 0-based odour identity, found {}",
                            odours[[k, p]]
                        ),
                    ));
                }
                let trial = trial_of_presentation[[k, p]];
                if trial < 0 || trial as usize >= trials || trial < previous_trial {
                    return Err(bad(
                        "trial_of_presentation",
                        format!(
                            "session {k}, presentation {p}: expected a non-decreasing trial index in 0..{trials}, found {trial} after {previous_trial}"
                        ),
                    ));
                }
                if trial != previous_trial {
                    accepted_in_trial = false;
                }
                if accepted_in_trial && (!choice || decision == 1) {
                    return Err(bad(
                        "decisions",
                        if choice {
                            format!(
                                "session {k}, presentation {p}: trial {trial} has a second chosen option (a choice trial has at most one decision 1)"
                            )
                        } else {
                            format!(
                                "session {k}, presentation {p}: trial {trial} continues after an acceptance (an acceptance ends a trial)"
                            )
                        },
                    ));
                }
                accepted_in_trial |= decision == 1;
                previous_trial = trial;
            }
        }
        Ok(BehaviourDataset {
            inputs: inputs.as_standard_layout().into_owned(),
            odours: odours.as_standard_layout().into_owned(),
            decisions: decisions.as_standard_layout().into_owned(),
            trial_of_presentation: trial_of_presentation.as_standard_layout().into_owned(),
            n_presentations,
            rewards: rewards.as_standard_layout().into_owned(),
            expected_rewards: expected_rewards.as_standard_layout().into_owned(),
            n_trials,
            initial_weights: initial_weights.as_standard_layout().into_owned(),
            metadata,
        })
    }

    /// The sessions `sessions` (in that order) as a dataset of their own, with the same
    /// padded lengths and metadata: what cross-validation by session fits and scores.
    /// Errors ([`Error::Config`], key `sessions`) on an empty list or an index out of
    /// range.
    pub fn select_sessions(&self, sessions: &[usize]) -> Result<Self> {
        if sessions.is_empty() {
            return Err(Error::config("sessions", "no session selected"));
        }
        if let Some(&bad) = sessions.iter().find(|&&k| k >= self.n_sessions()) {
            return Err(Error::config(
                "sessions",
                format!(
                    "session {bad} does not exist (the dataset has {})",
                    self.n_sessions()
                ),
            ));
        }
        let axis = ndarray::Axis(0);
        Ok(BehaviourDataset {
            inputs: self.inputs.select(axis, sessions),
            odours: self.odours.select(axis, sessions),
            decisions: self.decisions.select(axis, sessions),
            trial_of_presentation: self.trial_of_presentation.select(axis, sessions),
            n_presentations: sessions.iter().map(|&k| self.n_presentations[k]).collect(),
            rewards: self.rewards.select(axis, sessions),
            expected_rewards: self.expected_rewards.select(axis, sessions),
            n_trials: sessions.iter().map(|&k| self.n_trials[k]).collect(),
            initial_weights: self.initial_weights.select(axis, sessions),
            metadata: self.metadata.clone(),
        })
    }

    /// Reads a dataset from an `.npz` file in the layout of docs/model.md §6. Every member's
    /// header (dtype, shape), the shapes' agreement and the arrays' total size against
    /// the memory limit are checked before any array is read.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let file = NpzFile::open_for_streaming(path)?;
        let metadata = super::read_metadata(&file, "")?;
        match metadata.get("kind").and_then(|k| k.as_str()) {
            Some("behaviour" | "choice") => {}
            other => {
                return Err(Error::data(
                    path,
                    "metadata",
                    format!(
                        "expected kind \"behaviour\", found {} (choice data, kind \"choice\", are read too)",
                        other.map_or("none".to_string(), |k| format!("\"{k}\""))
                    ),
                ))
            }
        }
        super::shapes::BehaviourShapes::check_headers(&file)?;
        let f3 = |key: &str| -> Result<Array3<f64>> {
            file.f64_array(key, 3)?
                .into_dimensionality::<Ix3>()
                .map_err(|e| Error::data(path, key, e.to_string()))
        };
        let f2 = |key: &str| -> Result<Array2<f64>> {
            file.f64_array(key, 2)?
                .into_dimensionality::<Ix2>()
                .map_err(|e| Error::data(path, key, e.to_string()))
        };
        let i2 = |key: &str| -> Result<Array2<i64>> {
            file.i64_array(key, 2)?
                .into_dimensionality::<Ix2>()
                .map_err(|e| Error::data(path, key, e.to_string()))
        };
        let lengths = |key: &str| -> Result<Vec<usize>> {
            let values: Array1<i64> = file
                .i64_array(key, 1)?
                .into_dimensionality::<Ix1>()
                .map_err(|e| Error::data(path, key, e.to_string()))?;
            values
                .iter()
                .map(|&v| {
                    usize::try_from(v).map_err(|_| {
                        Error::data(path, key, format!("expected lengths ≥ 0, found {v}"))
                    })
                })
                .collect()
        };
        Self::new(
            f3("inputs")?,
            i2("odours")?,
            i2("decisions")?,
            i2("trial_of_presentation")?,
            lengths("n_presentations")?,
            f2("rewards")?,
            f2("expected_rewards")?,
            lengths("n_trials")?,
            f3("initial_weights")?,
            metadata,
            path,
        )
    }

    /// Writes the dataset to `path` (atomically) in the layout of docs/model.md §6.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let n_pres: Array1<i64> = self.n_presentations.iter().map(|&n| n as i64).collect();
        let n_trials: Array1<i64> = self.n_trials.iter().map(|&n| n as i64).collect();
        let metadata = serde_json::Value::Object(self.metadata.clone()).to_string();
        write_npz(
            path,
            &[
                ("inputs", NpzValue::F64(self.inputs.view().into_dyn())),
                ("odours", NpzValue::I64(self.odours.view().into_dyn())),
                ("decisions", NpzValue::I64(self.decisions.view().into_dyn())),
                (
                    "trial_of_presentation",
                    NpzValue::I64(self.trial_of_presentation.view().into_dyn()),
                ),
                ("n_presentations", NpzValue::I64(n_pres.view().into_dyn())),
                ("rewards", NpzValue::F64(self.rewards.view().into_dyn())),
                (
                    "expected_rewards",
                    NpzValue::F64(self.expected_rewards.view().into_dyn()),
                ),
                ("n_trials", NpzValue::I64(n_trials.view().into_dyn())),
                (
                    "initial_weights",
                    NpzValue::F64(self.initial_weights.view().into_dyn()),
                ),
                ("metadata", NpzValue::Str(&metadata)),
            ],
        )
    }
}

/// The circuit of a dataset (SPEC constants from its shapes) with a weight bound.
pub fn circuit_of(dataset: &BehaviourDataset, weight_bound: Option<f64>) -> BehaviourCircuit {
    BehaviourCircuit::new(dataset.n_in(), dataset.n_hidden()).with_weight_bound(weight_bound)
}

/// Inputs with fresh sensory noise: each real presentation gets its odour's mean
/// pattern plus `N(0, σ²)` per input. Patterns and σ come from the metadata
/// (`odour_patterns`, `input_noise_std`) when present, otherwise from the data (the
/// mean input of each odour and the spread around it). Padding stays 0.
pub fn resample_inputs(dataset: &BehaviourDataset, seed: u64) -> Result<Array3<f64>> {
    let n_in = dataset.n_in();
    let n_odours = dataset.n_odours();
    let mut patterns = vec![vec![0.0; n_in]; n_odours];
    let from_metadata = dataset
        .metadata
        .get("odour_patterns")
        .and_then(|v| serde_json::from_value::<Vec<Vec<f64>>>(v.clone()).ok())
        .filter(|p| p.len() >= n_odours && p.iter().all(|row| row.len() == n_in));
    match from_metadata {
        Some(given) => patterns.clone_from_slice(&given[..n_odours]),
        None => {
            let mut counts = vec![0usize; n_odours];
            for k in 0..dataset.n_sessions() {
                for (p, &odour) in dataset.session_odours(k).iter().enumerate() {
                    counts[odour as usize] += 1;
                    for (i, mean) in patterns[odour as usize].iter_mut().enumerate() {
                        *mean += dataset.inputs[[k, p, i]];
                    }
                }
            }
            for (pattern, &count) in patterns.iter_mut().zip(&counts) {
                pattern.iter_mut().for_each(|v| *v /= count.max(1) as f64);
            }
        }
    }
    let noise_std = match dataset
        .metadata
        .get("input_noise_std")
        .and_then(|v| v.as_f64())
    {
        Some(std) => std,
        None => {
            let residuals = (0..dataset.n_sessions()).flat_map(|k| {
                let patterns = &patterns;
                dataset
                    .session_odours(k)
                    .iter()
                    .enumerate()
                    .flat_map(move |(p, &odour)| {
                        (0..n_in)
                            .map(move |i| dataset.inputs[[k, p, i]] - patterns[odour as usize][i])
                    })
            });
            mean_and_std(residuals).1
        }
    };
    let noise = normal(0.0, noise_std)?;
    let mut inputs = Array3::zeros(dataset.inputs.raw_dim());
    for k in 0..dataset.n_sessions() {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x0d0u64.rotate_left(40));
        rng.set_stream(k as u64 + 1);
        for (p, &odour) in dataset.session_odours(k).iter().enumerate() {
            for i in 0..n_in {
                inputs[[k, p, i]] = patterns[odour as usize][i] + rng.sample(noise);
            }
        }
    }
    Ok(inputs)
}

#[cfg(test)]
mod tests {
    use crate::task::BehaviourTask;

    #[test]
    fn selected_sessions_are_those_sessions() {
        let data = BehaviourTask {
            sessions: 4,
            trials_per_block: 5,
            ..BehaviourTask::default()
        }
        .simulate()
        .unwrap();
        let picked = data.select_sessions(&[3, 1]).unwrap();
        assert_eq!(picked.n_sessions(), 2);
        for (new, old) in [(0, 3), (1, 1)] {
            let (a, b) = (picked.session(new), data.session(old));
            assert_eq!(a.inputs, b.inputs);
            assert_eq!(a.decisions, b.decisions);
            assert_eq!(a.rewards, b.rewards);
            assert_eq!(a.expected_rewards, b.expected_rewards);
            assert_eq!(a.initial_weights, b.initial_weights);
            assert_eq!(picked.session_odours(new), data.session_odours(old));
        }
        assert!(data.select_sessions(&[]).is_err());
        assert!(data.select_sessions(&[4]).is_err());
    }
}
