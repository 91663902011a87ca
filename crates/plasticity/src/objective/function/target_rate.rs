//! The inhibitory target-rate objective (issue 28, point 5: a rule from function,
//! spiking; Vogels et al., Science 2011; Confavreux et al., NeurIPS 2020).
//!
//! Task `k` is a fresh random network (drawn from `task_rng(seed, k)`): `N_E`
//! excitatory and `N_I` inhibitory LIF neurons (leak `e^{−1/20}` per 1 ms step,
//! threshold 20, reset 0, 2 refractory steps, deterministic spikes) driven by Poisson
//! background input strong enough that without inhibition the excitatory neurons fire
//! far above the target (about 30 Hz). Recurrent E→E, E→I and I→I synapses are fixed;
//! the I→E synapses (scale `J < 0`, weights in `[0, w_max]`, `W₀ ~ U(0, 0.2)`) learn
//! under the spike rule `Δw = η Σ_k θ_k φ_k` over the three terms of Vogels' rule,
//! `[s_post*x_trace, s_pre*y_trace, s_pre]` (traces with `τ = 20 ms`). Vogels' rule
//! with target rate `ρ₀` is `θ = c · [1, 1, −2ρ₀τ]`.
//!
//! The network runs `T_learn` steps, then `T_eval` more (still learning); the loss is
//! the mean over excitatory neurons of `((r_i − ρ₀)/ρ₀)²` with `r_i` the neuron's rate
//! over the last `T_eval` steps. Per neuron rather than of the population mean: it is
//! the mean error squared plus the spread of the rates around it, and Vogels' rule is
//! homeostatic per neuron, so a rule must balance every neuron, not their average.
//! (The count noise of `r_i` adds about `r_i/T_eval` to the expected square, which
//! favours rates `≈ 1/(2 T_eval)` below `ρ₀`: 0.125 Hz, 2.5 % of 5 Hz, at 4 s.)
//!
//! Spikes are deterministic thresholds: the loss is piecewise constant in θ and has no
//! gradient. Without `surrogate_slope` this objective is for CMA-ES
//! ([`FunctionObjective::task_loss_and_gradient`] leaves the gradient at 0 and the
//! discover spec refuses Adam); with it, the gradient is the surrogate one of
//! [`crate::gradient::spiking::surrogate`] (fast sigmoid `1/(1 + β|u|)²`, reset
//! detached), for Adam.

use rand::RngExt;
use serde::{Deserialize, Serialize};

use super::FunctionObjective;
use crate::circuit::network::Connectivity;
use crate::circuit::spiking::Surrogate;
use crate::circuit::spiking::{
    run_circuit, Background, Escape, LifNeuron, NamedSpikeRule, RunDrive, SpikeRaster,
    SpikingCircuit, SpikingKind, SpikingPopulation, SpikingProjection,
};
use crate::gradient::spiking::surrogate::surrogate_spike_counts;
use crate::rule::spike::SpikeRule;
use crate::task::covariance::task_rng;
use crate::{Error, Result};

/// The rule's terms, in θ's order (Vogels' rule: `η (x̄ at post, ȳ − α at pre)`).
pub const TARGET_RATE_TERMS: [&str; 3] = ["s_post*x_trace", "s_pre*y_trace", "s_pre"];

/// The traces' time constant `τ` (ms), Vogels' 20 ms.
pub const TRACE_TAU_MS: f64 = 20.0;

/// Milliseconds per step.
const DT_MS: f64 = 1.0;

/// The inhibitory target-rate task's settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetRateTask {
    /// Excitatory neurons `N_E`.
    pub n_excitatory: usize,
    /// Inhibitory neurons `N_I`.
    pub n_inhibitory: usize,
    /// The target rate `ρ₀` (Hz).
    pub target_rate_hz: f64,
    /// Seconds of learning before the rates are measured.
    pub learn_seconds: f64,
    /// Seconds over which the rates are measured (learning goes on).
    pub eval_seconds: f64,
    /// `η`, the projection's learning rate multiplying θ (θ of order 1).
    pub learning_rate: f64,
    /// `β` of the surrogate spike derivative ([`Surrogate`]) that gives the loss a
    /// gradient (for Adam); `None`: no gradient (CMA-ES).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub surrogate_slope: Option<f64>,
}

/// The fixed parameters of the random networks (not settings: the task is "these
/// networks").
mod network {
    /// Poisson background inputs per neuron.
    pub const BACKGROUND_INPUTS: u64 = 100;
    /// Their rate (Hz).
    pub const BACKGROUND_RATE_HZ: f64 = 10.0;
    /// `J` per background spike.
    pub const BACKGROUND_WEIGHT: f64 = 1.05;
    /// Connection probabilities.
    pub const P_EE: f64 = 0.1;
    /// E→I.
    pub const P_EI: f64 = 0.2;
    /// I→I.
    pub const P_II: f64 = 0.2;
    /// I→E (plastic).
    pub const P_IE: f64 = 0.5;
    /// Fixed `J` of E→E, E→I and I→I (weights 1).
    pub const J_EE: f64 = 0.5;
    /// E→I.
    pub const J_EI: f64 = 1.0;
    /// I→I.
    pub const J_II: f64 = -1.0;
    /// `J` of the plastic I→E projection.
    pub const J_IE: f64 = -1.0;
    /// `W₀ ~ U(0, this)`.
    pub const W0_MAX: f64 = 0.2;
    /// The clip of the plastic weights, `[0, this]`.
    pub const W_MAX: f64 = 10.0;
}

/// What a set of tasks measured for one θ.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TargetRateEvaluation {
    /// Networks.
    pub tasks: usize,
    /// Mean loss.
    pub loss: f64,
    /// Per network, the mean excitatory rate (Hz) over the measurement window.
    pub mean_rate_hz: Vec<f64>,
    /// Mean over networks of `|r̄_E − ρ₀|/ρ₀` (`r̄_E` the population's mean rate).
    pub mean_relative_error: f64,
    /// The largest of them.
    pub worst_relative_error: f64,
    /// Mean over networks of the per-neuron RMS of `(r_i − ρ₀)/ρ₀`.
    pub neuron_rms_relative_error: f64,
    /// Mean inhibitory rate (Hz) over networks.
    pub inhibitory_rate_hz: f64,
}

/// One network's rates.
#[derive(Clone, Debug, PartialEq)]
pub struct TargetRateOutcome {
    /// Per excitatory neuron (Hz).
    pub excitatory_hz: Vec<f64>,
    /// Mean over the inhibitory neurons (Hz).
    pub inhibitory_mean_hz: f64,
}

impl TargetRateTask {
    /// Checks the settings.
    pub fn validate(&self) -> Result<()> {
        if self.n_excitatory == 0 || self.n_inhibitory == 0 {
            return Err(Error::config(
                "task.excitatory",
                format!(
                    "{} excitatory and {} inhibitory neurons: at least 1 of each is needed",
                    self.n_excitatory, self.n_inhibitory
                ),
            ));
        }
        for (key, value) in [
            ("target_rate_hz", self.target_rate_hz),
            ("eval_seconds", self.eval_seconds),
            ("learning_rate", self.learning_rate),
        ] {
            if !(value > 0.0 && value.is_finite()) {
                return Err(Error::config(
                    format!("task.{key}"),
                    format!("{value}: expected a positive number"),
                ));
            }
        }
        if let Some(slope) = self.surrogate_slope {
            if !(slope > 0.0 && slope.is_finite()) {
                return Err(Error::config(
                    "task.surrogate_slope",
                    format!("{slope}: expected a positive number"),
                ));
            }
        }
        if !(self.learn_seconds >= 0.0 && self.learn_seconds.is_finite()) {
            return Err(Error::config(
                "task.learn_seconds",
                format!("{}: expected a number ≥ 0", self.learn_seconds),
            ));
        }
        if self.target_rate_hz >= 1000.0 / DT_MS {
            return Err(Error::config(
                "task.target_rate_hz",
                format!("{}: above one spike per step", self.target_rate_hz),
            ));
        }
        Ok(())
    }

    /// Steps of learning and of measurement.
    pub fn steps(&self) -> (usize, usize) {
        let steps = |s: f64| (s * 1000.0 / DT_MS).round() as usize;
        (steps(self.learn_seconds), steps(self.eval_seconds).max(1))
    }

    /// Vogels' rule for `ρ₀` at unit rate: `[1, 1, −2ρ₀τ]` (ρ₀ in spikes per ms).
    pub fn vogels_theta(&self, scale: f64) -> Vec<f64> {
        let alpha = 2.0 * self.target_rate_hz / 1000.0 * TRACE_TAU_MS;
        vec![scale, scale, -scale * alpha]
    }

    /// Network `index` of the run seeded `seed`: the circuit and `W₀`.
    pub fn network(&self, seed: u64, index: usize) -> Result<(SpikingCircuit, Vec<f64>)> {
        use network::*;
        let mut rng = task_rng(seed, index as u64);
        let decay = (-DT_MS / TRACE_TAU_MS).exp();
        let neuron = LifNeuron {
            leak: (-DT_MS / 20.0).exp(),
            threshold: 20.0,
            reset: 0.0,
            refractory_steps: 2,
            adaptation: None,
            background: Some(Background {
                count: BACKGROUND_INPUTS,
                probability: BACKGROUND_RATE_HZ * DT_MS / 1000.0,
                weight: BACKGROUND_WEIGHT,
            }),
            escape: Escape::Deterministic,
        };
        let (ne, ni) = (self.n_excitatory, self.n_inhibitory);
        let populations = vec![
            SpikingPopulation {
                name: "e".into(),
                size: ne,
                kind: SpikingKind::Lif(neuron),
                recorded: true,
            },
            SpikingPopulation {
                name: "i".into(),
                size: ni,
                kind: SpikingKind::Lif(neuron),
                recorded: true,
            },
        ];
        let mut projection = |name: &str,
                              (pre, n_pre): (usize, usize),
                              (post, n_post): (usize, usize),
                              p: f64,
                              scale: f64| {
            let same = pre == post;
            let connectivity = Connectivity::from_fn(n_pre, n_post, |i, j| {
                let draw = rng.random::<f64>() < p;
                draw && !(same && i == j)
            });
            SpikingProjection {
                name: name.into(),
                pre,
                post,
                connectivity,
                scale,
                rule: None,
                learning_rate: 0.0,
                pre_decay: decay,
                post_decay: decay,
                pre_decay2: decay,
                post_decay2: decay,
            }
        };
        let ee = projection("ee", (0, ne), (0, ne), P_EE, J_EE);
        let ei = projection("ei", (0, ne), (1, ni), P_EI, J_EI);
        let ii = projection("ii", (1, ni), (1, ni), P_II, J_II);
        let mut ie = projection("ie", (1, ni), (0, ne), P_IE, J_IE);
        ie.rule = Some(0);
        ie.learning_rate = self.learning_rate;
        let fixed = ee.connectivity.n_synapses()
            + ei.connectivity.n_synapses()
            + ii.connectivity.n_synapses();
        let plastic = ie.connectivity.n_synapses();
        let mut weights = vec![1.0; fixed];
        weights.extend((0..plastic).map(|_| W0_MAX * rng.random::<f64>()));
        let rule = NamedSpikeRule {
            name: "ie".into(),
            rule: SpikeRule::from_names(&TARGET_RATE_TERMS[..])?,
        };
        let circuit = SpikingCircuit::new(
            populations,
            vec![ee, ei, ii, ie],
            vec![rule],
            Some((0.0, W_MAX)),
            DT_MS,
        )?;
        Ok((circuit, weights))
    }

    /// Runs network `index` of `seed` under θ: the rates over the measurement window.
    /// Its spikes are drawn from the same task stream (after the network).
    pub fn run(&self, theta: &[f64], seed: u64, index: usize) -> Result<TargetRateOutcome> {
        let (circuit, weights) = self.network(seed, index)?;
        let mut rng = Self::spike_rng(seed, index);
        let (learn, eval) = self.steps();
        let sources = self.no_sources();
        let drive = RunDrive {
            sources: &sources,
            forced: None,
            reward: None,
        };
        let run = run_circuit(&circuit, theta, &weights, drive, &mut rng, 0);
        let ne = self.n_excitatory;
        let mut counts = vec![0usize; ne + self.n_inhibitory];
        for t in learn..learn + eval {
            for &i in run.raster.at(t) {
                counts[i as usize] += 1;
            }
        }
        let seconds = eval as f64 * DT_MS / 1000.0;
        let excitatory_hz = counts[..ne].iter().map(|&c| c as f64 / seconds).collect();
        let inhibitory_mean_hz =
            counts[ne..].iter().sum::<usize>() as f64 / seconds / self.n_inhibitory as f64;
        Ok(TargetRateOutcome {
            excitatory_hz,
            inhibitory_mean_hz,
        })
    }

    /// The spikes' own stream: a different stream of the same seed.
    fn spike_rng(seed: u64, index: usize) -> impl rand::Rng {
        task_rng(seed ^ 0x005E_ED5B_1CE5_u64, index as u64)
    }

    /// The (empty) source raster that sets the run's steps.
    fn no_sources(&self) -> SpikeRaster {
        let (learn, eval) = self.steps();
        let mut sources = SpikeRaster::new();
        for _ in 0..learn + eval {
            sources.push_step(std::iter::empty());
        }
        sources
    }

    /// Runs network `index` of `seed` under θ with spikes carrying the surrogate
    /// derivative of `slope`: the loss `L = mean_i ((r_i − ρ₀)/ρ₀)²` of that run and
    /// its surrogate gradient `mean_i 2 (r_i − ρ₀)/ρ₀² ∂r_i/∂θ`. The run draws the
    /// same random numbers as [`Self::run`]; its spikes can differ from that run's in
    /// the last bit of rounding (the updates are summed in another order).
    pub fn loss_and_surrogate_gradient(
        &self,
        theta: &[f64],
        seed: u64,
        index: usize,
        slope: f64,
        gradient: &mut [f64],
    ) -> Result<f64> {
        let (circuit, weights) = self.network(seed, index)?;
        let mut rng = Self::spike_rng(seed, index);
        let (learn, eval) = self.steps();
        let counts = surrogate_spike_counts(
            &circuit,
            theta,
            &weights,
            &self.no_sources(),
            &mut rng,
            learn..learn + eval,
            Surrogate { slope },
        );
        let seconds = eval as f64 * DT_MS / 1000.0;
        let (rho, ne, n_p) = (self.target_rate_hz, self.n_excitatory, theta.len());
        gradient.iter_mut().for_each(|g| *g = 0.0);
        let mut loss = 0.0;
        for i in 0..ne {
            let rate = counts.counts[i] / seconds;
            loss += ((rate - rho) / rho).powi(2) / ne as f64;
            let factor = 2.0 * (rate - rho) / (rho * rho) / seconds / ne as f64;
            for (g, &d) in gradient
                .iter_mut()
                .zip(&counts.derivatives[i * n_p..(i + 1) * n_p])
            {
                *g += factor * d;
            }
        }
        Ok(loss)
    }

    /// The loss of an outcome: mean over excitatory neurons of `((r_i − ρ₀)/ρ₀)²`.
    pub fn loss(&self, outcome: &TargetRateOutcome) -> f64 {
        let rho = self.target_rate_hz;
        outcome
            .excitatory_hz
            .iter()
            .map(|r| ((r - rho) / rho).powi(2))
            .sum::<f64>()
            / outcome.excitatory_hz.len() as f64
    }
}

/// The objective: the loss of task `k` (a network drawn from `(seed, k)`).
#[derive(Clone, Debug)]
pub struct TargetRateObjective {
    task: TargetRateTask,
    seed: u64,
}

impl TargetRateObjective {
    /// Checks the task.
    pub fn new(task: TargetRateTask, seed: u64) -> Result<Self> {
        task.validate()?;
        task.network(seed, 0)?;
        Ok(TargetRateObjective { task, seed })
    }

    /// The task.
    pub fn task(&self) -> &TargetRateTask {
        &self.task
    }

    /// θ on networks `0..tasks` of `seed` (in parallel, in order).
    pub fn evaluate(&self, theta: &[f64], seed: u64, tasks: usize) -> TargetRateEvaluation {
        use rayon::prelude::*;
        let outcomes: Vec<TargetRateOutcome> = (0..tasks)
            .into_par_iter()
            .map(|k| {
                self.task
                    .run(theta, seed, k)
                    .expect("the network was checked at construction")
            })
            .collect();
        let rho = self.task.target_rate_hz;
        let n = tasks.max(1) as f64;
        let mean_rate_hz: Vec<f64> = outcomes
            .iter()
            .map(|o| o.excitatory_hz.iter().sum::<f64>() / o.excitatory_hz.len() as f64)
            .collect();
        let errors: Vec<f64> = mean_rate_hz.iter().map(|r| (r - rho).abs() / rho).collect();
        TargetRateEvaluation {
            tasks,
            loss: outcomes.iter().map(|o| self.task.loss(o)).sum::<f64>() / n,
            mean_relative_error: errors.iter().sum::<f64>() / n,
            worst_relative_error: errors.iter().copied().fold(0.0, f64::max),
            neuron_rms_relative_error: outcomes
                .iter()
                .map(|o| self.task.loss(o).sqrt())
                .sum::<f64>()
                / n,
            inhibitory_rate_hz: outcomes.iter().map(|o| o.inhibitory_mean_hz).sum::<f64>() / n,
            mean_rate_hz,
        }
    }
}

impl FunctionObjective for TargetRateObjective {
    fn n_parameters(&self) -> usize {
        TARGET_RATE_TERMS.len()
    }

    fn task_loss_value(&self, theta: &[f64], index: usize) -> f64 {
        match self.task.run(theta, self.seed, index) {
            Ok(outcome) => self.task.loss(&outcome),
            Err(_) => f64::NAN,
        }
    }

    /// With a surrogate slope, the loss of the surrogate run and its surrogate
    /// gradient ([`TargetRateTask::loss_and_surrogate_gradient`]). Without one, the
    /// loss and the gradient left unchanged (0): spikes are thresholds, the loss is
    /// piecewise constant in θ (the spec then refuses Adam).
    fn task_loss_and_gradient(&self, theta: &[f64], index: usize, gradient: &mut [f64]) -> f64 {
        match self.task.surrogate_slope {
            Some(slope) => self
                .task
                .loss_and_surrogate_gradient(theta, self.seed, index, slope, gradient)
                .unwrap_or(f64::NAN),
            None => self.task_loss_value(theta, index),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A short task: 3 s of learning, 2 s of measurement.
    fn task() -> TargetRateTask {
        TargetRateTask {
            n_excitatory: 80,
            n_inhibitory: 20,
            target_rate_hz: 5.0,
            learn_seconds: 3.0,
            eval_seconds: 2.0,
            learning_rate: 0.1,
            surrogate_slope: None,
        }
    }

    #[test]
    fn the_loss_is_reproducible_for_a_seed_and_differs_across_tasks() {
        let objective = TargetRateObjective::new(task(), 4).expect("test set-up");
        let theta = task().vogels_theta(1.0);
        let a = objective.task_loss_value(&theta, 0);
        assert_eq!(a, objective.task_loss_value(&theta, 0));
        assert_ne!(a, objective.task_loss_value(&theta, 1));
        let mut gradient = vec![0.0; 3];
        assert_eq!(
            objective.task_loss_and_gradient(&theta, 0, &mut gradient),
            a
        );
        assert_eq!(gradient, vec![0.0; 3], "no gradient: left at 0");
    }

    /// Above the target, more potentiation of inhibition (either Hebbian term, or the
    /// presynaptic-only one) lowers the loss: the surrogate gradient says so at θ = 0.
    #[test]
    fn the_surrogate_gradient_points_to_more_inhibition_above_the_target() {
        let task = TargetRateTask {
            surrogate_slope: Some(5.0),
            ..task()
        };
        let objective = TargetRateObjective::new(task.clone(), 4).expect("test set-up");
        let mut gradient = vec![0.0; 3];
        let loss = objective.task_loss_and_gradient(&[0.0; 3], 0, &mut gradient);
        // without plasticity nothing differs between the two runs but rounding order
        let plain = objective.task_loss_value(&[0.0; 3], 0);
        assert!((loss - plain).abs() <= 1e-3 * plain, "{loss} vs {plain}");
        assert!(loss > 1.0, "rates far above the target: {loss}");
        for (k, g) in gradient.iter().enumerate() {
            assert!(g.is_finite() && *g < 0.0, "θ_{k}: {gradient:?}");
        }
    }

    /// Without plasticity the background drives the excitatory neurons far above 5 Hz;
    /// Vogels' rule (η = 0.1) brings them near it.
    #[test]
    fn vogels_rule_beats_no_plasticity() {
        let objective = TargetRateObjective::new(task(), 9).expect("test set-up");
        let none = objective.evaluate(&[0.0; 3], 9, 3);
        let vogels = objective.evaluate(&task().vogels_theta(1.0), 9, 3);
        for r in &none.mean_rate_hz {
            assert!(*r > 15.0, "{none:?}");
        }
        assert!(vogels.loss < 0.1 * none.loss, "{vogels:?} vs {none:?}");
        assert!(vogels.mean_relative_error < 0.5, "{vogels:?}");
        // The inhibitory weights stay in [0, w_max]: nothing is negative or NaN.
        assert!(vogels.loss.is_finite());
    }
}
