//! The phase-coded memory job of `plasticity discover` (issue 29): which of the STDP
//! window `Ω` and the interaction function `H` is learned, its start, and the
//! evaluation against the matched pair (Lengyel & Dayan: recall works when `H ∝ Ω′`),
//! the mismatched `H ∝ Ω`, the anti-matched `H ∝ −Ω′` and the cue alone.

use serde::{Deserialize, Serialize};

use super::tune_scale;
use crate::objective::function::{PhaseEvaluation, PhaseMemoryObjective, PhaseMemoryTask};
use crate::task::phases::{
    antiderivative, correlation, derivative, normalised, phase_differences_deg, power_beyond,
    smoothed,
};

/// Which rule is meta-learned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LearnedRule {
    /// `H`, with `Ω` the given STDP window.
    Interaction,
    /// `Ω`, with `H` the derivative of the given window (the matched phase response).
    Storage,
    /// Both, `Ω` starting at the window.
    Both,
}

/// Where the learned rule starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhaseStart {
    /// `H = s₀ Ω/‖Ω‖` (or `Ω = s₀ H/‖H‖`): the mismatched pair, the start.
    Mismatched,
    /// `H = s₀ Ω′/‖Ω′‖` (or `Ω = s₀ ∫H/‖∫H‖`).
    Matched,
    /// Zero.
    Zero,
}

/// A parsed phase-memory experiment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PhaseSetup {
    /// The task (harmonics of both rules included).
    pub task: PhaseMemoryTask,
    /// The STDP window's Fourier series (its own harmonics, unit power).
    pub window: Vec<f64>,
    /// The learned rule.
    pub learn: LearnedRule,
    /// Its start.
    pub start: PhaseStart,
    /// The start's scale `s₀`.
    pub initial_scale: f64,
    /// Loads of the held-out evaluation.
    pub evaluation_loads: Vec<usize>,
}

impl PhaseSetup {
    /// The fixed rule's series: `Ω` = the window (learning `H` or both), or
    /// `H = Ω′/‖Ω′‖` (learning `Ω`).
    pub fn fixed(&self) -> Vec<f64> {
        match self.learn {
            LearnedRule::Interaction | LearnedRule::Both => self.window.clone(),
            LearnedRule::Storage => normalised(&derivative(&self.window), 1.0),
        }
    }

    /// The starting θ.
    pub fn initial_theta(&self) -> Vec<f64> {
        let fixed = self.fixed();
        let s0 = self.initial_scale;
        match self.learn {
            LearnedRule::Interaction | LearnedRule::Both => {
                let h = match self.start {
                    PhaseStart::Mismatched => normalised(&fixed, s0),
                    PhaseStart::Matched => normalised(&derivative(&fixed), s0),
                    PhaseStart::Zero => vec![0.0; fixed.len()],
                };
                self.task.theta(&fixed, &h)
            }
            LearnedRule::Storage => {
                let omega = match self.start {
                    PhaseStart::Mismatched => normalised(&fixed, s0),
                    PhaseStart::Matched => normalised(&antiderivative(&fixed), s0),
                    PhaseStart::Zero => vec![0.0; fixed.len()],
                };
                self.task.theta(&omega, &fixed)
            }
        }
    }

    /// The indices of the learned coefficients in θ.
    pub fn trainable(&self) -> Vec<usize> {
        let omega = 2 * self.task.storage_harmonics;
        let total = self.task.n_parameters();
        match self.learn {
            LearnedRule::Interaction => (omega..total).collect(),
            LearnedRule::Storage => (0..omega).collect(),
            LearnedRule::Both => (0..total).collect(),
        }
    }

    /// The meta-learning objective (skipping `Ω`'s gradient when `Ω` is fixed).
    pub fn objective(&self, seed: u64) -> crate::Result<PhaseMemoryObjective> {
        let objective = PhaseMemoryObjective::new(self.task.clone(), seed)?;
        Ok(match self.learn {
            LearnedRule::Interaction => objective.with_fixed_storage(),
            _ => objective,
        })
    }

    /// `(learned function, its matched target)`: `(H, Ω′)` when `H` is learned, else
    /// `(Ω′, H)`, both from θ.
    pub fn learned_and_target(&self, theta: &[f64]) -> (Vec<f64>, Vec<f64>) {
        let (omega, h) = self.task.split(theta);
        match self.learn {
            LearnedRule::Interaction | LearnedRule::Both => (h.to_vec(), derivative(omega)),
            LearnedRule::Storage => (derivative(omega), h.to_vec()),
        }
    }

    /// θ of the comparison pairs at scale `s` given the learned θ: the side that is
    /// learned is replaced by `sign · s · shape/‖shape‖`, with `shape` from `pair`.
    fn comparison(&self, theta: &[f64], pair: Pair, scale: f64) -> Vec<f64> {
        let (omega, h) = self.task.split(theta);
        match self.learn {
            LearnedRule::Interaction | LearnedRule::Both => {
                let shape = match pair {
                    Pair::Matched => normalised(&derivative(omega), scale),
                    Pair::Mismatched => normalised(omega, scale),
                    Pair::AntiMatched => normalised(&derivative(omega), -scale),
                };
                self.task.theta(omega, &shape)
            }
            LearnedRule::Storage => {
                let shape = match pair {
                    Pair::Matched => normalised(&antiderivative(h), scale),
                    Pair::Mismatched => normalised(h, scale),
                    Pair::AntiMatched => normalised(&antiderivative(h), -scale),
                };
                self.task.theta(&shape, h)
            }
        }
    }
}

#[derive(Clone, Copy)]
enum Pair {
    Matched,
    Mismatched,
    AntiMatched,
}

/// What a phase-memory job measured on held-out tasks.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PhaseReport {
    /// Which rule was learned.
    pub learn: LearnedRule,
    /// The learned pair.
    pub learned: PhaseEvaluation,
    /// The matched pair (`H ∝ Ω′`), its scale tuned per load on validation tasks.
    pub matched: PhaseEvaluation,
    /// `(M, tuned scale)` of the matched pair.
    pub matched_scale_by_load: Vec<(usize, f64)>,
    /// The mismatched pair (`H ∝ Ω`) at the matched scale.
    pub mismatched: PhaseEvaluation,
    /// The anti-matched pair (`H ∝ −Ω′`) at the matched scale.
    pub anti_matched: PhaseEvaluation,
    /// The learned function (`H`, or `Ω′` when `Ω` is learned).
    pub learned_function: Vec<f64>,
    /// Its matched target (`Ω′`, or `H`).
    pub target_function: Vec<f64>,
    /// The target with harmonic `k` scaled by the cue-noise damping `I_k(κ)/I₀(κ)`.
    pub smoothed_target_function: Vec<f64>,
    /// Correlation over the cycle of the learned function with its target.
    pub correlation_with_matched: f64,
    /// The same with the target's harmonic `k` scaled by `I_k(κ)/I₀(κ)`.
    pub correlation_with_smoothed_matched: f64,
    /// `(k, phase difference in degrees)` per harmonic present in both.
    pub harmonic_phase_difference_deg: Vec<(usize, f64)>,
    /// Fraction of the learned function's power in harmonics the window lacks.
    pub power_outside_window_harmonics: f64,
}

impl PhaseReport {
    /// The public metrics (keys of `results.json`'s `metrics`).
    pub fn metrics(&self) -> serde_json::Value {
        use serde_json::json;
        let by_load = |pairs: &[(usize, f64)]| {
            let map: serde_json::Map<String, serde_json::Value> = pairs
                .iter()
                .map(|(load, v)| (load.to_string(), json!(v)))
                .collect();
            serde_json::Value::Object(map)
        };
        let largest_phase = self
            .harmonic_phase_difference_deg
            .iter()
            .map(|p| p.1.abs())
            .fold(0.0, f64::max);
        json!({
            "learned_rule": self.learn,
            "quality_by_load": by_load(&self.learned.quality_by_load),
            "matched_quality_by_load": by_load(&self.matched.quality_by_load),
            "mismatched_quality_by_load": by_load(&self.mismatched.quality_by_load),
            "anti_matched_quality_by_load": by_load(&self.anti_matched.quality_by_load),
            "cue_quality_by_load": by_load(&self.learned.cue_quality_by_load),
            "matched_scale_by_load": by_load(&self.matched_scale_by_load),
            "correlation_with_matched": self.correlation_with_matched,
            "correlation_with_smoothed_matched": self.correlation_with_smoothed_matched,
            "harmonic_phase_difference_deg": by_load(&self.harmonic_phase_difference_deg),
            "largest_phase_difference_deg": largest_phase,
            "power_outside_window_harmonics": self.power_outside_window_harmonics,
        })
    }
}

/// Evaluates the learned θ on `per_load` held-out tasks per load (`held_out_seed`)
/// beside the comparison pairs, whose scale is tuned per load on `validation` tasks of
/// `validation_seed` (a geometric grid from 0.01 to 100, then a finer one around its
/// best).
pub fn evaluate_phase(
    setup: &PhaseSetup,
    theta: &[f64],
    (validation_seed, validation): (u64, usize),
    (held_out_seed, per_load): (u64, usize),
) -> crate::Result<PhaseReport> {
    let objective = PhaseMemoryObjective::new(setup.task.clone(), held_out_seed)?;
    let loads = &setup.evaluation_loads;
    let learned = objective.evaluate(theta, held_out_seed, per_load, loads);
    let mut matched_scale_by_load = Vec::new();
    for &load in loads {
        let score = |s: f64| {
            let pair = setup.comparison(theta, Pair::Matched, s);
            objective
                .evaluate(&pair, validation_seed, validation, &[load])
                .quality_by_load[0]
                .1
        };
        let coarse = super::geometric_grid(0.01, 100.0, 41);
        let (best, _) = tune_scale(&coarse, score);
        let step = 10f64.powf(4.0 / 40.0);
        let fine = super::geometric_grid(best / step, best * step, 11);
        matched_scale_by_load.push((load, tune_scale(&fine, score).0));
    }
    let at_scales = |pair: Pair| {
        let mut quality_by_load = Vec::new();
        let mut cue_quality_by_load = Vec::new();
        for &(load, scale) in &matched_scale_by_load {
            let theta = setup.comparison(theta, pair, scale);
            let e = objective.evaluate(&theta, held_out_seed, per_load, &[load]);
            quality_by_load.push(e.quality_by_load[0]);
            cue_quality_by_load.push(e.cue_quality_by_load[0]);
        }
        PhaseEvaluation {
            quality_by_load,
            cue_quality_by_load,
        }
    };
    let (learned_function, target_function) = setup.learned_and_target(theta);
    let kappa = setup.task.cue_concentration;
    Ok(PhaseReport {
        learn: setup.learn,
        matched: at_scales(Pair::Matched),
        mismatched: at_scales(Pair::Mismatched),
        anti_matched: at_scales(Pair::AntiMatched),
        learned,
        matched_scale_by_load,
        correlation_with_matched: correlation(&learned_function, &target_function),
        correlation_with_smoothed_matched: correlation(
            &learned_function,
            &smoothed(&target_function, kappa),
        ),
        smoothed_target_function: smoothed(&target_function, kappa),
        harmonic_phase_difference_deg: phase_differences_deg(&learned_function, &target_function),
        power_outside_window_harmonics: power_beyond(&learned_function, setup.window.len() / 2),
        learned_function,
        target_function,
    })
}
