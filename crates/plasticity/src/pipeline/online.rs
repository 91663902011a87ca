//! Online fits: the rule estimate is updated while the recording streams in, so that
//! it exists before the session ends (closed-loop experiments, hours-long recordings).
//!
//! The recording is run once, in forward mode ([`crate::gradient::NeuralForward`]), from
//! `θ₀`. Every `K` steps the gradient of the squared error of those `K` steps,
//! `ĝ = Σ_{t in window} Σ_i 2 (y_{t,i} − ŷ_{t,i}) ∂y_{t,i}/∂θ / (K n_rec)`, drives one
//! Adam step on the optimizer's variables φ (the same basis and trainable terms as an
//! offline fit); the simulation then goes on with the new θ.
//!
//! **The approximation.** The sensitivities `S_t = ∂W_t/∂θ` are carried across the
//! updates instead of being recomputed from the start of the recording with the new
//! θ (real-time recurrent learning, truncated at nothing): `S_t` mixes derivatives
//! taken at earlier θ, and the weights `W_t` themselves were produced by earlier θ. The
//! estimate is therefore biased while θ moves; the bias vanishes as θ settles (small
//! learning rates, or a decaying one). Each trajectory of the file starts from its own
//! recorded `W₀` with `S = 0`.

use std::ops::ControlFlow;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::neural::{neural_scales_streamed, FitStart, NeuralFitSettings};
use crate::data::NeuralStream;
use crate::fit::Basis;
use crate::gradient::NeuralEngine;
use crate::optim::Adam;
use crate::rule::Rule;
use crate::{Error, Result};

/// What the observer of an online fit sees after every update.
#[derive(Clone, Copy, Debug)]
pub struct OnlineUpdate<'a> {
    /// 1-based number of the update.
    pub update: usize,
    /// Updates the whole recording allows.
    pub updates: usize,
    /// Recording step reached (over all trajectories, 1-based).
    pub step: usize,
    /// Mean squared error of the update's window.
    pub loss: f64,
    /// θ after the update (canonical basis).
    pub theta: &'a [f64],
}

/// How an online fit updates θ.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OnlineSettings {
    /// Steps between updates `K`.
    pub update_every: usize,
    /// Adam's step size.
    pub learning_rate: f64,
    /// After this many updates the step size decays as `α √(n₀ / n)` (0: constant).
    pub decay_after: usize,
}

impl Default for OnlineSettings {
    fn default() -> Self {
        OnlineSettings {
            update_every: 100,
            learning_rate: 1e-2,
            decay_after: 0,
        }
    }
}

/// The estimate of θ as the recording went by.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OnlineFit {
    /// Parameter names.
    pub parameter_names: Vec<String>,
    /// Recording step (counted over all trajectories, 1-based) of each update.
    pub steps: Vec<usize>,
    /// θ after each update (canonical basis).
    pub theta_history: Vec<Vec<f64>>,
    /// Mean squared error of each update's window.
    pub window_loss: Vec<f64>,
    /// The final θ.
    pub theta: Vec<f64>,
    /// The basis the updates were taken in.
    pub basis: Basis,
    /// Whether the observer stopped the fit before the recording ended.
    pub interrupted: bool,
    /// Why the fit stopped before the recording ended, when the simulation overflowed
    /// (θ is then the last finite estimate).
    pub non_finite: Option<String>,
}

/// Runs an online fit of `settings`' rule (its family, trainable terms, basis —
/// canonical unless given — and initial θ; the optimizer settings other than the seed are replaced by `online`)
/// over the streamed recording. The observer sees every update and may stop the fit.
pub fn fit_online_neural(
    stream: &NeuralStream,
    settings: &NeuralFitSettings,
    online: &OnlineSettings,
    observer: &mut dyn FnMut(&OnlineUpdate<'_>) -> ControlFlow<()>,
) -> Result<OnlineFit> {
    if online.update_every == 0 {
        return Err(Error::config("update-every", "must be at least 1"));
    }
    if !(online.learning_rate.is_finite() && online.learning_rate > 0.0) {
        return Err(Error::config(
            "learning-rate",
            format!("must be positive, got {}", online.learning_rate),
        ));
    }
    let scales = neural_scales_streamed(stream)?;
    // the canonical basis unless another is asked for: a fixed Adam step in the scaled
    // basis is a huge step on the high-degree terms, which overflows
    let basis = settings.basis.unwrap_or(Basis::Canonical);
    let FitStart {
        rule,
        parametrisation,
        mut theta,
        ..
    } = FitStart::of(settings, basis, &scales)?;
    let mut phi = parametrisation.phi(&theta);
    let mut adam = Adam::new(phi.len(), online.learning_rate);
    let engine = NeuralEngine::new(
        stream.n_pre(),
        stream.n_post(),
        stream.recorded_neurons(),
        rule.clone(),
    )?
    .with_active_parameters(parametrisation.trainable().to_vec());
    let mut state = engine.forward_state();
    let n_rec = stream.recorded_neurons().len();
    let total_steps = stream.n_trajectories() * stream.steps();
    let updates_planned = total_steps / online.update_every;
    let mut input = vec![0.0; stream.n_pre()];
    let mut recorded = vec![0.0; n_rec];
    let mut window_gradient = vec![0.0; theta.len()];
    let mut window_sse = 0.0;
    let mut in_window = 0usize;
    let mut fit = OnlineFit {
        parameter_names: rule.parameter_names(),
        steps: Vec::new(),
        theta_history: Vec::new(),
        window_loss: Vec::new(),
        theta: theta.clone(),
        basis: parametrisation.basis(),
        interrupted: false,
        non_finite: None,
    };
    let mut step = 0usize;
    'trajectories: for k in 0..stream.n_trajectories() {
        let mut steps = stream.trajectory(k)?;
        let mut first = true;
        while steps.next_step(&mut input, &mut recorded)? {
            if first {
                state.start(stream.initial_weights(k), &input);
                first = false;
            } else {
                state.advance(&rule, &theta, &input);
            }
            step += 1;
            window_sse += state.observe(&recorded, stream.recorded_neurons(), &mut window_gradient);
            in_window += 1;
            if in_window < online.update_every {
                continue;
            }
            let scale = 1.0 / (in_window * n_rec) as f64;
            window_gradient.iter_mut().for_each(|g| *g *= scale);
            let loss = window_sse * scale;
            if !loss.is_finite() || window_gradient.iter().any(|g| !g.is_finite()) {
                // keep the last finite estimate and say where and why it stopped
                fit.non_finite = Some(format!(
                    "the window loss ({loss}) or its gradient became non-finite at step {step} \
                     (update {}): the rule makes the simulation overflow; try a smaller \
                     learning rate or the canonical basis",
                    fit.steps.len() + 1
                ));
                break 'trajectories;
            }
            let update = fit.steps.len() + 1;
            if online.decay_after > 0 && update > online.decay_after {
                adam.learning_rate =
                    online.learning_rate * (online.decay_after as f64 / update as f64).sqrt();
            }
            let phi_gradient = parametrisation.pullback(&window_gradient);
            adam.step(&mut phi, &phi_gradient);
            theta = parametrisation.theta(&phi);
            fit.steps.push(step);
            fit.theta_history.push(theta.clone());
            fit.window_loss.push(loss);
            window_gradient.iter_mut().for_each(|g| *g = 0.0);
            window_sse = 0.0;
            in_window = 0;
            let report = OnlineUpdate {
                update,
                updates: updates_planned,
                step,
                loss,
                theta: &theta,
            };
            if observer(&report).is_break() {
                fit.interrupted = true;
                break 'trajectories;
            }
        }
    }
    fit.theta = theta;
    Ok(fit)
}

/// The content of `results.json` for an online fit (the keys, in this order, are the
/// file's contract): the fit, its settings, the final θ by parameter name, the fit's
/// configuration, the recording, the seed, the library version and the wall time.
#[derive(Clone, Debug, Serialize)]
pub struct OnlineReport {
    /// The estimate after every update.
    pub online: OnlineFit,
    /// How θ was updated.
    pub online_settings: OnlineSettings,
    /// The final θ by parameter name (in parameter order).
    pub coefficients: Map<String, Value>,
    /// The rule's settings.
    pub config: OnlineConfig,
    /// The streamed recording.
    pub data: StreamedData,
    /// The seed of the fit.
    pub seed: u64,
    /// The library version.
    pub version: String,
    /// The wall time.
    pub timing: OnlineTiming,
}

/// `config` of an [`OnlineReport`].
#[derive(Clone, Debug, Serialize)]
pub struct OnlineConfig {
    /// The settings of the rule fitted.
    pub settings: NeuralFitSettings,
}

/// `data` of an [`OnlineReport`]: the recording's path and sizes, read from its headers.
#[derive(Clone, Debug, Serialize)]
pub struct StreamedData {
    /// The file, as given.
    pub path: String,
    /// Trajectories.
    pub trajectories: usize,
    /// Steps per trajectory.
    pub steps: usize,
    /// Presynaptic neurons.
    pub n_pre: usize,
    /// Postsynaptic neurons.
    pub n_post: usize,
    /// Recorded postsynaptic neurons.
    pub n_recorded: usize,
    /// The recording's metadata.
    pub metadata: Map<String, Value>,
    /// Always true: the recording was read step by step.
    pub streamed: bool,
}

/// `timing` of an [`OnlineReport`].
#[derive(Clone, Debug, Serialize)]
pub struct OnlineTiming {
    /// Wall time of the fit in seconds.
    pub fit_seconds: f64,
}

/// The report of an online fit of `settings` with `online` over the recording at
/// `data_path` (`stream`), which took `fit_seconds`.
pub fn online_report(
    fit: &OnlineFit,
    settings: &NeuralFitSettings,
    online: &OnlineSettings,
    data_path: &Path,
    stream: &NeuralStream,
    fit_seconds: f64,
) -> OnlineReport {
    OnlineReport {
        online: fit.clone(),
        online_settings: online.clone(),
        coefficients: fit
            .parameter_names
            .iter()
            .cloned()
            .zip(fit.theta.iter().map(|&v| Value::from(v)))
            .collect(),
        config: OnlineConfig {
            settings: settings.clone(),
        },
        data: StreamedData {
            path: data_path.display().to_string(),
            trajectories: stream.n_trajectories(),
            steps: stream.steps(),
            n_pre: stream.n_pre(),
            n_post: stream.n_post(),
            n_recorded: stream.recorded_neurons().len(),
            metadata: stream.metadata().clone(),
            streamed: true,
        },
        seed: settings.fit.seed,
        version: crate::VERSION.to_string(),
        timing: OnlineTiming { fit_seconds },
    }
}

/// The terms whose estimate an online fit's summary follows (its figure and the lines
/// it prints), as `(parameter index, name)` in the order
/// [`crate::rule::format_expression`] writes a rule (highest index first: `x*y`, then
/// `y^2*w` for Oja's rule): those of the generating rule (`truth`, its Taylor
/// coefficients) when the recording has one; otherwise the two largest final
/// coefficients. None for an MLP rule.
pub fn followed_terms(fit: &OnlineFit, rule: &Rule, truth: Option<&[f64]>) -> Vec<(usize, String)> {
    if !matches!(rule, Rule::Taylor(_)) {
        return Vec::new();
    }
    let mut indices: Vec<usize> = match truth {
        Some(truth) => (0..fit.parameter_names.len().min(truth.len()))
            .filter(|&k| truth[k] != 0.0)
            .collect(),
        None => {
            let mut order: Vec<usize> = (0..fit.theta.len())
                .filter(|&k| fit.theta[k] != 0.0)
                .collect();
            order.sort_by(|&a, &b| fit.theta[b].abs().total_cmp(&fit.theta[a].abs()));
            order.truncate(2);
            order
        }
    };
    indices.sort_unstable_by(|a, b| b.cmp(a));
    indices
        .into_iter()
        .map(|k| (k, fit.parameter_names[k].clone()))
        .collect()
}
