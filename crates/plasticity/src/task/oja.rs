//! Simulated neural activity for recovering Oja's rule (docs/model.md §4.1).

use crate::random::normal;
use ndarray::Array3;
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::data::NeuralDataset;
use crate::gradient::NeuralEngine;
use crate::rule::{parse_expression, TaylorRule, Variables};
use crate::{Error, Result};

/// The generating experiment of docs/model.md §4.1; every field has the SPEC default.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OjaTask {
    /// Presynaptic neurons.
    pub n_pre: usize,
    /// Postsynaptic neurons.
    pub n_post: usize,
    /// Time steps per trajectory.
    pub steps: usize,
    /// Number of trajectories.
    pub trajectories: usize,
    /// Standard deviation of the inputs `x_t ~ N(0, input_std²)` (SPEC: variance 0.1).
    pub input_std: f64,
    /// Standard deviation of `W₀`; `None` means `1/√n_pre`.
    pub initial_weight_std: Option<f64>,
    /// Standard deviation of the Gaussian measurement noise added once to the recording.
    pub noise_std: f64,
    /// Fraction of the postsynaptic neurons that are recorded.
    pub recording_fraction: f64,
    /// The generating rule, as an expression over (x, y, w).
    pub rule: String,
    /// Seed of every random draw.
    pub seed: u64,
}

impl Default for OjaTask {
    fn default() -> Self {
        OjaTask {
            n_pre: 100,
            n_post: 1000,
            steps: 50,
            trajectories: 50,
            input_std: 0.1f64.sqrt(),
            initial_weight_std: None,
            noise_std: 0.0,
            recording_fraction: 1.0,
            rule: "x*y - y^2*w".into(),
            seed: 0,
        }
    }
}

impl OjaTask {
    /// `W₀`'s standard deviation: the given one, or `1/√n_pre`.
    pub fn weight_std(&self) -> f64 {
        self.initial_weight_std
            .unwrap_or(1.0 / (self.n_pre as f64).sqrt())
    }

    /// Checks the settings; errors name the setting.
    pub fn validate(&self) -> Result<()> {
        for (key, value) in [
            ("n-pre", self.n_pre),
            ("n-post", self.n_post),
            ("steps", self.steps),
            ("trajectories", self.trajectories),
        ] {
            if value == 0 {
                return Err(Error::config(key, "must be at least 1"));
            }
        }
        if !(self.recording_fraction > 0.0 && self.recording_fraction <= 1.0) {
            return Err(Error::config(
                "recording-fraction",
                format!("must be in (0, 1], got {}", self.recording_fraction),
            ));
        }
        for (key, value) in [("noise-std", self.noise_std), ("input-std", self.input_std)] {
            if !(value.is_finite() && value >= 0.0) {
                return Err(Error::config(
                    key,
                    format!("must be finite and ≥ 0, got {value}"),
                ));
            }
        }
        let w_std = self.weight_std();
        if !(w_std.is_finite() && w_std >= 0.0) {
            return Err(Error::config(
                "initial-weight-std",
                format!("must be finite and ≥ 0, got {w_std}"),
            ));
        }
        Ok(())
    }

    /// The bytes the simulated dataset takes: inputs (trajectories × steps × n_pre),
    /// initial weights (trajectories × n_post × n_pre), recorded activity
    /// (trajectories × steps × n_recorded), 8 bytes each, plus one trajectory's working
    /// weights; `None` if that overflows a `u64`.
    pub fn bytes_needed(&self) -> Option<u64> {
        use crate::limits::f64_bytes;
        let (k, t) = (self.trajectories, self.steps);
        [
            f64_bytes(&[k, t, self.n_pre]),
            f64_bytes(&[k, self.n_post, self.n_pre]),
            f64_bytes(&[k, t, self.n_recorded()]),
            f64_bytes(&[2, self.n_post, self.n_pre]),
        ]
        .into_iter()
        .try_fold(0u64, |acc, b| acc.checked_add(b?))
    }

    /// Number of recorded neurons: `round(fraction · n_post)`, at least 1.
    pub fn n_recorded(&self) -> usize {
        ((self.recording_fraction * self.n_post as f64).round() as usize).clamp(1, self.n_post)
    }

    /// Simulates the dataset. Draw order (ChaCha8 from `seed`): the recorded neurons,
    /// then per trajectory `W₀`, the inputs, and the measurement noise.
    pub fn simulate(&self) -> Result<NeuralDataset> {
        self.validate()?;
        crate::limits::check_dataset_bytes(
            &format!(
                "simulating {} trajectories × {} steps of a {} → {} layer",
                self.trajectories, self.steps, self.n_pre, self.n_post
            ),
            self.bytes_needed(),
        )?;
        let theta = parse_expression(&self.rule, Variables::Xyw)?;
        let engine = NeuralEngine::new(
            self.n_pre,
            self.n_post,
            &[],
            TaylorRule::new(Variables::Xyw),
        )?;
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        let n_rec = self.n_recorded();
        let mut recorded_neurons =
            rand::seq::index::sample(&mut rng, self.n_post, n_rec).into_vec();
        recorded_neurons.sort_unstable();

        let (n_traj, steps, n_pre, n_post) =
            (self.trajectories, self.steps, self.n_pre, self.n_post);
        let mut inputs = Array3::zeros((n_traj, steps, n_pre));
        let mut initial_weights = Array3::zeros((n_traj, n_post, n_pre));
        let mut recorded_activity = Array3::zeros((n_traj, steps, n_rec));
        let weight_dist = normal(0.0, self.weight_std())?;
        let input_dist = normal(0.0, self.input_std)?;
        let noise_dist = normal(0.0, self.noise_std)?;
        for k in 0..n_traj {
            let mut w0 = initial_weights.index_axis_mut(ndarray::Axis(0), k);
            w0.iter_mut().for_each(|w| *w = rng.sample(weight_dist));
            let mut x = inputs.index_axis_mut(ndarray::Axis(0), k);
            x.iter_mut().for_each(|v| *v = rng.sample(input_dist));
            let x = inputs.index_axis(ndarray::Axis(0), k);
            let w0 = initial_weights.index_axis(ndarray::Axis(0), k);
            let mut recording = recorded_activity.index_axis_mut(ndarray::Axis(0), k);
            let mut non_finite = None;
            engine.simulate(
                &theta,
                x.as_slice().unwrap_or(&[]),
                w0.as_slice().unwrap_or(&[]),
                |t, _, post| {
                    for (slot, &i) in recording.row_mut(t).iter_mut().zip(&recorded_neurons) {
                        *slot = post[i];
                        if !post[i].is_finite() && non_finite.is_none() {
                            non_finite = Some(t);
                        }
                    }
                },
            );
            if let Some(t) = non_finite {
                return Err(Error::Numerical(format!(
                    "the generating rule '{}' drives the activity to a non-finite value at trajectory {k}, step {t}",
                    self.rule
                )));
            }
            if self.noise_std > 0.0 {
                recording
                    .iter_mut()
                    .for_each(|y| *y += rng.sample(noise_dist));
            }
        }
        let metadata = serde_json::json!({
            "kind": "neural",
            "rule": self.rule,
            "noise_std": self.noise_std,
            "recording_fraction": self.recording_fraction,
            "seed": self.seed,
            "version": crate::VERSION,
            "n_pre": self.n_pre,
            "n_post": self.n_post,
            "steps": self.steps,
            "trajectories": self.trajectories,
            "input_std": self.input_std,
            "initial_weight_std": self.weight_std(),
            "learning_rate": 1.0, // η of docs/model.md §3.1
        });
        let serde_json::Value::Object(metadata) = metadata else {
            unreachable!("json! of an object literal is an object")
        };
        NeuralDataset::new(
            inputs,
            initial_weights,
            recorded_activity,
            recorded_neurons,
            metadata,
            std::path::Path::new("(simulated)"),
        )
    }
}
