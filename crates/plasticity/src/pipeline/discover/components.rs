//! The pieces of a several-components job (issue 29, point 3), for `plasticity
//! discover` with `kind = "pca_components"`: meta-train `θ = [θ_ff | θ_lat]` with
//! [`meta_adam`] on [`ComponentsObjective`], evaluate it on held-out covariances, and
//! evaluate two baselines at their tuned rates on the same held-out covariances:
//!
//! - Oja feed-forward plus anti-Hebbian lateral (Földiák 1990; Rubner & Tavan 1989),
//!   `θ_ff = c (x y − y² w)`, `θ_lat = −c' x y` (pre `y_j`, post `y_i`), with `(c, c')`
//!   tuned on a grid;
//! - Sanger's generalized Hebbian rule `ΔW = c η (y xᵀ − LT[y yᵀ] W)` (no lateral
//!   weights, not a per-synapse rule), with `c` tuned on a grid.
//!
//! Rates are tuned for the largest mean captured-variance fraction on the validation
//! tasks. Seeds as in [`super::job`]: training `s`, validation and held-out tasks
//! SplitMix64 of `s` and 1, 2.

use std::ops::ControlFlow;

use serde::{Deserialize, Serialize};

use super::{derived_seed, geometric_grid, meta_adam, tune_scale, MetaAdamSettings, MetaOutcome};
use crate::fit::{EpochReport, FitCheckpoint};
use crate::objective::function::components::coefficient_names;
use crate::objective::function::{ComponentsEvaluation, ComponentsObjective, ComponentsTask};
use crate::rule::{term_names, TaylorRule, Term, Variables};
use crate::{Error, Result};

/// Terms of one (x, y, w) Taylor rule; `θ` has twice as many.
const TERMS: usize = 27;

/// The seeds of the three task sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComponentsSeeds {
    /// Meta-training tasks.
    pub training: u64,
    /// Tasks that tune the baselines' rates.
    pub validation: u64,
    /// Held-out tasks of every evaluation.
    pub held_out: u64,
}

impl ComponentsSeeds {
    /// Training `seed`, validation and held-out seeds derived from it as in
    /// [`super::job`] (streams 1 and 2).
    pub fn from_seed(seed: u64) -> Self {
        ComponentsSeeds {
            training: seed,
            validation: derived_seed(seed, 1),
            held_out: derived_seed(seed, 2),
        }
    }
}

/// What a job needs.
#[derive(Clone, Debug)]
pub struct ComponentsJob<'a> {
    /// The task.
    pub task: &'a ComponentsTask,
    /// The task sets' seeds.
    pub seeds: ComponentsSeeds,
    /// Adam's settings (iterations, batch, rates, clip, proximal L1).
    pub adam: &'a MetaAdamSettings,
    /// Training-only row-norm cap on `W` and `L` (`None` for none).
    pub norm_cap: Option<f64>,
    /// Starting `θ` (54 numbers).
    pub initial_theta: &'a [f64],
    /// Indices of the trained coefficients (the others stay at their start).
    pub trainable: &'a [usize],
    /// Held-out tasks per evaluation.
    pub held_out_tasks: usize,
    /// Validation tasks per point of a baseline's rate grid.
    pub validation_tasks: usize,
}

/// What a job measured.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ComponentsReport {
    /// The task sets' seeds.
    pub seeds: ComponentsSeeds,
    /// `ff.<term>` then `lateral.<term>`, in θ's order.
    pub coefficient_names: Vec<String>,
    /// Indices of the trained coefficients.
    pub trainable: Vec<usize>,
    /// The learned `θ`.
    pub theta: Vec<f64>,
    /// The meta-optimization's trace.
    pub outcome: MetaOutcome,
    /// The learned rule on held-out tasks.
    pub learned: ComponentsEvaluation,
    /// Oja + anti-Hebbian at its tuned rates.
    pub oja_antihebbian: ComponentsEvaluation,
    /// `c` of `θ_ff = c (x y − y² w)`.
    pub oja_rate: f64,
    /// `c'` of `θ_lat = −c' x y`.
    pub antihebbian_rate: f64,
    /// Sanger's rule at its tuned rate.
    pub sanger: ComponentsEvaluation,
    /// `c` of Sanger's `ΔW = c η (y xᵀ − LT[y yᵀ] W)`.
    pub sanger_rate: f64,
}

/// The index of a canonical (x, y, w) term.
fn index(name: &str) -> usize {
    Term::parse(name, Variables::Xyw)
        .ok()
        .and_then(|t| t.index(Variables::Xyw))
        .expect("a canonical term name")
}

/// `θ` of Oja feed-forward `ff (x y − y² w)` with anti-Hebbian lateral `−lateral x y`.
pub fn oja_antihebbian_theta(ff: f64, lateral: f64) -> Vec<f64> {
    let mut theta = vec![0.0; 2 * TERMS];
    theta[index("x*y")] = ff;
    theta[index("y^2*w")] = -ff;
    theta[TERMS + index("x*y")] = -lateral;
    theta
}

/// Meta-trains from `job.initial_theta` with [`meta_adam`] (continuing `resume` when
/// given; `on_step` sees every meta-step and may stop it), then evaluates the learned
/// rule and both baselines on the held-out tasks.
pub fn discover_components(
    job: &ComponentsJob<'_>,
    resume: Option<&FitCheckpoint>,
    on_step: impl FnMut(&EpochReport<'_>) -> ControlFlow<()>,
) -> Result<ComponentsReport> {
    if job.initial_theta.len() != 2 * TERMS {
        return Err(Error::config(
            "rule.initial",
            format!(
                "{} coefficients: expected {}",
                job.initial_theta.len(),
                2 * TERMS
            ),
        ));
    }
    if let Some(&k) = job.trainable.iter().find(|&&k| k >= 2 * TERMS) {
        return Err(Error::config(
            "rule.trainable",
            format!("index {k}: expected below {}", 2 * TERMS),
        ));
    }
    for (key, count) in [
        ("evaluation.tasks", job.held_out_tasks),
        ("evaluation.validation_tasks", job.validation_tasks),
    ] {
        if count == 0 {
            return Err(Error::config(key, "0: expected at least 1 task"));
        }
    }
    let rule = TaylorRule::new(Variables::Xyw);
    let training =
        ComponentsObjective::new(job.task.clone(), rule, job.seeds.training, job.norm_cap)?;
    let outcome = meta_adam(
        &training,
        job.initial_theta,
        job.trainable,
        job.adam,
        resume,
        on_step,
    )?;
    Ok(evaluate_components(job, &training, outcome))
}

/// Evaluates a meta-optimization's outcome on the held-out tasks beside both baselines
/// at their tuned rates (`objective` is the training objective; evaluation never
/// applies its safeguard).
pub fn evaluate_components(
    job: &ComponentsJob<'_>,
    training: &ComponentsObjective<TaylorRule>,
    outcome: MetaOutcome,
) -> ComponentsReport {
    let seeds = job.seeds;
    let (held_out, validation) = (job.held_out_tasks.max(1), job.validation_tasks.max(1));
    let learned = training.evaluate(&outcome.theta, seeds.held_out, held_out);
    let validate = |theta: &[f64]| {
        training
            .evaluate(theta, seeds.validation, validation)
            .captured_variance_fraction
    };
    let ff_grid = geometric_grid(0.05, 5.0, 16);
    let lateral_grid = geometric_grid(0.05, 10.0, 16);
    let best_lateral = |c: f64| {
        tune_scale(&lateral_grid, |lateral| {
            validate(&oja_antihebbian_theta(c, lateral))
        })
    };
    let (oja_rate, _) = tune_scale(&ff_grid, |c| best_lateral(c).1);
    let (antihebbian_rate, _) = best_lateral(oja_rate);
    let oja_antihebbian = training.evaluate(
        &oja_antihebbian_theta(oja_rate, antihebbian_rate),
        seeds.held_out,
        held_out,
    );
    let (sanger_rate, _) = tune_scale(&geometric_grid(0.05, 5.0, 31), |c| {
        training
            .evaluate_sanger(c, seeds.validation, validation)
            .captured_variance_fraction
    });
    let sanger = training.evaluate_sanger(sanger_rate, seeds.held_out, held_out);
    ComponentsReport {
        seeds,
        coefficient_names: coefficient_names(Variables::Xyw),
        trainable: job.trainable.to_vec(),
        theta: outcome.theta.clone(),
        outcome,
        learned,
        oja_antihebbian,
        oja_rate,
        antihebbian_rate,
        sanger,
        sanger_rate,
    }
}

/// The canonical term names of one rule's coefficients, largest `|θ|` first.
fn by_magnitude(theta: &[f64]) -> Vec<(String, f64)> {
    let names = term_names(Variables::Xyw);
    let mut order: Vec<usize> = (0..theta.len()).collect();
    order.sort_by(|&a, &b| theta[b].abs().total_cmp(&theta[a].abs()));
    order
        .into_iter()
        .map(|k| (names[k].clone(), theta[k]))
        .collect()
}

impl ComponentsReport {
    /// The feed-forward rule's terms, largest `|θ|` first: `(name, coefficient)`.
    pub fn ff_terms(&self) -> Vec<(String, f64)> {
        by_magnitude(&self.theta[..TERMS])
    }

    /// The lateral rule's terms (pre `y_j`, post `y_i`), largest `|θ|` first.
    pub fn lateral_terms(&self) -> Vec<(String, f64)> {
        by_magnitude(&self.theta[TERMS..])
    }

    /// Oja-like feed-forward rule: its two largest terms are `x*y > 0` and `y^2*w < 0`.
    pub fn ff_oja_like(&self) -> bool {
        let top = self.ff_terms();
        let sign = |name: &str| top[..2].iter().find(|(n, _)| n == name).map(|(_, v)| *v);
        matches!((sign("x*y"), sign("y^2*w")), (Some(a), Some(b)) if a > 0.0 && b < 0.0)
    }

    /// Anti-Hebbian lateral rule: its largest term is `x*y` (`y_j y_i`), negative.
    pub fn lateral_dominant_anti_hebbian(&self) -> bool {
        let top = &self.lateral_terms()[0];
        top.0 == "x*y" && top.1 < 0.0
    }

    /// The headline metrics as JSON.
    pub fn metrics(&self) -> serde_json::Value {
        use serde_json::json;
        let (ff, lateral) = (self.ff_terms(), self.lateral_terms());
        json!({
            "captured_variance_fraction": self.learned.captured_variance_fraction,
            "captured_variance_fraction_min": self.learned.captured_variance_fraction_min,
            "baseline_captured_variance_fraction": self.oja_antihebbian.captured_variance_fraction,
            "sanger_captured_variance_fraction": self.sanger.captured_variance_fraction,
            "output_correlation": self.learned.output_correlation,
            "baseline_output_correlation": self.oja_antihebbian.output_correlation,
            "sanger_output_correlation": self.sanger.output_correlation,
            "component_alignment": self.learned.component_alignment,
            "row_norm_median": self.learned.row_norm_median,
            "diverged_fraction": self.learned.diverged_fraction,
            "baseline_diverged_fraction": self.oja_antihebbian.diverged_fraction,
            "sanger_diverged_fraction": self.sanger.diverged_fraction,
            "oja_rate": self.oja_rate,
            "antihebbian_rate": self.antihebbian_rate,
            "sanger_rate": self.sanger_rate,
            "ff_largest_terms": [ff[0].0, ff[1].0],
            "ff_largest_coefficients": [ff[0].1, ff[1].1],
            "ff_oja_like": self.ff_oja_like(),
            "lateral_largest_term": lateral[0].0,
            "lateral_largest_coefficient": lateral[0].1,
            "lateral_dominant_anti_hebbian": self.lateral_dominant_anti_hebbian(),
        })
    }
}

#[cfg(test)]
mod tests;
