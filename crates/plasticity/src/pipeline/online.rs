//! Online fits: the rule estimate is updated while the recording streams in, so that
//! it exists before the session ends (closed-loop experiments, hours-long recordings).
//!
//! The recording is run once, in forward mode ([`crate::gradient::NeuralForward`]), from
//! `θ₀`, by a solver of the fitting driver whose epochs are the updates. Every `K` steps the gradient of the squared error of those `K` steps,
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
use crate::data::{NeuralStream, TrajectoryStream};
use crate::fit::{drive, Basis, EpochReport, Parametrisation, Schedule, StopReason};
use crate::gradient::{NeuralEngine, NeuralForward};
use crate::optim::{Adam, BackoffState, EpochStep, IterativeSolver, OptimizerState};
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
    let engine = NeuralEngine::new(
        stream.n_pre(),
        stream.n_post(),
        stream.recorded_neurons(),
        rule.clone(),
    )?
    .with_active_parameters(parametrisation.trainable().to_vec());
    let phi = parametrisation.phi(&theta);
    let mut solver = WindowedUpdates {
        stream,
        parametrisation: &parametrisation,
        rule: &rule,
        online,
        adam: Adam::new(phi.len(), online.learning_rate),
        forward: engine.forward_state(),
        trajectory: None,
        next_trajectory: 0,
        input: vec![0.0; stream.n_pre()],
        recorded: vec![0.0; stream.recorded_neurons().len()],
        window_gradient: vec![0.0; theta.len()],
        theta: theta.clone(),
        step: 0,
    };
    let updates = stream.n_trajectories() * stream.steps() / online.update_every;
    let schedule = Schedule {
        epochs: updates,
        parametrisation: &parametrisation,
        resume: None,
    };
    let k = online.update_every;
    let mut report_update = |report: &EpochReport<'_>| {
        observer(&OnlineUpdate {
            update: report.epoch,
            updates,
            step: report.epoch * k,
            loss: report.loss,
            theta: report.theta,
        })
    };
    let driven = drive(&mut solver, phi, 0, &schedule, &mut report_update)?;
    theta = parametrisation.theta(&driven.phi);
    Ok(OnlineFit {
        parameter_names: rule.parameter_names(),
        steps: (1..=driven.loss_history.len()).map(|n| n * k).collect(),
        theta_history: driven.theta_history,
        window_loss: driven.loss_history,
        theta,
        basis: parametrisation.basis(),
        interrupted: driven.stop_reason == StopReason::Interrupted,
        non_finite: match driven.stop_reason {
            StopReason::NonFinite { detail, .. } => Some(detail),
            _ => None,
        },
    })
}

/// The online updates as a solver of the fitting driver: each epoch streams the next
/// `K` recording steps in forward mode with the current θ (crossing from one
/// trajectory to the next, each started from its recorded `W₀` with `S = 0`), then
/// takes one Adam step on the window's gradient.
struct WindowedUpdates<'a> {
    stream: &'a NeuralStream,
    parametrisation: &'a Parametrisation,
    rule: &'a Rule,
    online: &'a OnlineSettings,
    adam: Adam,
    forward: NeuralForward,
    /// The trajectory being read.
    trajectory: Option<TrajectoryStream>,
    next_trajectory: usize,
    input: Vec<f64>,
    recorded: Vec<f64>,
    window_gradient: Vec<f64>,
    /// θ the simulation runs with.
    theta: Vec<f64>,
    /// Recording steps read (over all trajectories).
    step: usize,
}

impl WindowedUpdates<'_> {
    /// Reads and simulates the next recording step, adding its squared error and
    /// gradient to the window's; `None` once the recording has ended.
    fn next_step(&mut self) -> Result<Option<f64>> {
        loop {
            if let Some(steps) = &mut self.trajectory {
                let first = steps.remaining() == self.stream.steps();
                if steps.next_step(&mut self.input, &mut self.recorded)? {
                    if first {
                        let k = self.next_trajectory - 1;
                        self.forward
                            .start(self.stream.initial_weights(k), &self.input);
                    } else {
                        self.forward.advance(self.rule, &self.theta, &self.input);
                    }
                    self.step += 1;
                    let neurons = self.stream.recorded_neurons();
                    let sse =
                        self.forward
                            .observe(&self.recorded, neurons, &mut self.window_gradient);
                    return Ok(Some(sse));
                }
            }
            if self.next_trajectory == self.stream.n_trajectories() {
                return Ok(None);
            }
            self.trajectory = Some(self.stream.trajectory(self.next_trajectory)?);
            self.next_trajectory += 1;
        }
    }
}

impl IterativeSolver for WindowedUpdates<'_> {
    fn step(
        &mut self,
        epoch: usize,
        phi: &mut [f64],
        evaluations: &mut usize,
    ) -> Result<EpochStep> {
        let k = self.online.update_every;
        let mut window_sse = 0.0;
        for _ in 0..k {
            match self.next_step()? {
                Some(sse) => window_sse += sse,
                None => return Ok(EpochStep::Stop(StopReason::EpochsCompleted)),
            }
        }
        *evaluations += 1;
        let scale = 1.0 / (k * self.recorded.len()) as f64;
        self.window_gradient.iter_mut().for_each(|g| *g *= scale);
        let loss = window_sse * scale;
        if !loss.is_finite() || self.window_gradient.iter().any(|g| !g.is_finite()) {
            // keep the last finite estimate and say where and why it stopped
            return Ok(EpochStep::Stop(StopReason::NonFinite {
                epoch,
                detail: format!(
                    "the window loss ({loss}) or its gradient became non-finite at step {} \
                     (update {epoch}): the rule makes the simulation overflow; try a smaller \
                     learning rate or the canonical basis",
                    self.step
                ),
            }));
        }
        let online = self.online;
        if online.decay_after > 0 && epoch > online.decay_after {
            self.adam.learning_rate =
                online.learning_rate * (online.decay_after as f64 / epoch as f64).sqrt();
        }
        let phi_gradient = self.parametrisation.pullback(&self.window_gradient);
        self.adam.step(phi, &phi_gradient);
        self.theta = self.parametrisation.theta(phi);
        self.window_gradient.iter_mut().for_each(|g| *g = 0.0);
        Ok(EpochStep::Done(loss))
    }

    /// Adam's moments (an online fit is not resumed: its sensitivities are not kept).
    fn checkpoint_state(&self) -> (OptimizerState, BackoffState) {
        (
            OptimizerState::Adam(self.adam.state()),
            BackoffState::default(),
        )
    }
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
    if rule.as_taylor().is_none() {
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
