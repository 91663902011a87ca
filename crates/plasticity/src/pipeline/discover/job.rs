//! A whole `plasticity discover` job: meta-optimize, then evaluate the learned rule on
//! held-out tasks beside a tuned baseline (Oja's rule at its best rate for PCA; the
//! Hebbian rule `x*y` (dense) or the covariance rule `(x − a)(y − a)` (sparse) at its
//! best scale for memory).
//!
//! Seeds: training tasks use the experiment's seed `s`; the tasks that tune a
//! baseline's scale, the held-out tasks and CMA-ES's own stream use seeds derived from
//! `s` (SplitMix64 of `s` and 1, 2, 3), so the three task sets never overlap.

use std::ops::ControlFlow;

use serde::{Deserialize, Serialize};

use super::components::{evaluate_components, ComponentsJob, ComponentsReport, ComponentsSeeds};
use super::phase::{evaluate_phase, PhaseReport};
use super::spec::{DiscoverKind, DiscoverSpec, FunctionTask, MetaOptimizer};
use super::target_rate::{evaluate_target_rate, TargetRateReport};
use super::{geometric_grid, meta_adam, meta_cmaes, tune_scale, MetaOutcome};
use crate::fit::{EpochReport, FitCheckpoint};
use crate::objective::function::{
    ComponentsObjective, MemoryEvaluation, MemoryObjective, MemoryTask, PcaEvaluation,
    PcaObjective, TargetRateObjective,
};
use crate::rule::{term_names, TaylorRule, Term, Variables};
use crate::task::patterns::PatternKind;
use crate::Result;

pub use super::derived_seed;

/// A sum of coefficients that the task can identify (binary patterns make some terms
/// equal: `x² = 1` for ±1, `x² = x` for {0,1}).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Combination {
    /// The representative (lowest-degree) term.
    pub name: String,
    /// The canonical terms it sums.
    pub members: Vec<String>,
    /// `Σ θ` over the members.
    pub value: f64,
}

/// The identifiable combinations of a memory rule's coefficients: on ±1 patterns
/// `x^a` depends only on `a mod 2` (and the same for `y`), on {0,1} patterns only on
/// `min(a, 1)`; `w` is continuous, so its powers stay distinct. 12 combinations.
pub fn identifiable_combinations(theta: &[f64], patterns: &PatternKind) -> Vec<Combination> {
    let reduce = |e: usize| match patterns {
        PatternKind::Dense { .. } => e % 2,
        PatternKind::Sparse { .. } => e.min(1),
    };
    let mut out: Vec<Combination> = Vec::new();
    for (k, &value) in theta.iter().enumerate().take(27) {
        let (a, b, c) = (k / 9, (k / 3) % 3, k % 3);
        let representative = reduce(a) * 9 + reduce(b) * 3 + c;
        let name = Term::from_index(representative, Variables::Xyw).name();
        let member = Term::from_index(k, Variables::Xyw).name();
        match out.iter_mut().find(|comb| comb.name == name) {
            Some(comb) => {
                comb.members.push(member);
                comb.value += value;
            }
            None => out.push(Combination {
                name,
                members: vec![member],
                value,
            }),
        }
    }
    out
}

/// What a PCA job measured.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PcaReport {
    /// The learned rule on held-out tasks.
    pub learned: PcaEvaluation,
    /// The learned rule with every term but `x*y` and `y^2*w` set to 0.
    pub two_terms: PcaEvaluation,
    /// Oja's rule `c (x y − y² w)` at its best `c`.
    pub baseline: PcaEvaluation,
    /// That `c`.
    pub baseline_rate: f64,
}

/// What a memory job measured.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MemoryReport {
    /// The learned rule on held-out tasks.
    pub learned: MemoryEvaluation,
    /// The baseline at its best scale.
    pub baseline: MemoryEvaluation,
    /// The baseline rule at that scale, as an expression.
    pub baseline_rule: String,
    /// The identifiable combinations of the learned coefficients.
    pub combinations: Vec<Combination>,
}

/// A finished job.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DiscoverReport {
    /// The function.
    pub kind: DiscoverKind,
    /// The optimizer used.
    pub optimizer: MetaOptimizer,
    /// The seed of the training tasks.
    pub seed: u64,
    /// Canonical term names, in θ's order.
    pub term_names: Vec<String>,
    /// Indices of the trained terms.
    pub trainable: Vec<usize>,
    /// The optimization's trace and result.
    pub outcome: MetaOutcome,
    /// PCA results.
    pub pca: Option<PcaReport>,
    /// Memory results.
    pub memory: Option<MemoryReport>,
    /// Phase-memory results.
    pub memory_phase: Option<PhaseReport>,
    /// Several-components results.
    pub pca_components: Option<ComponentsReport>,
    /// Spiking target-rate results.
    pub spiking_target_rate: Option<TargetRateReport>,
}

mod report;

/// Runs a job: meta-optimization with `optimizer` on tasks seeded by `seed`, then the
/// evaluation. `on_step` sees every meta-step.
pub fn discover(
    spec: &DiscoverSpec,
    optimizer: MetaOptimizer,
    seed: u64,
    mut on_step: impl FnMut(&EpochReport<'_>),
) -> Result<DiscoverReport> {
    discover_from(spec, optimizer, seed, None, |step| {
        on_step(step);
        ControlFlow::Continue(())
    })
}

/// [`discover`], continuing `resume` (a checkpoint an earlier run of the same job gave
/// its observer) when given; `on_step` may stop the meta-optimization after any step,
/// which then ends with [`crate::Error::Interrupted`] (take the step's checkpoint
/// first to continue it).
pub fn discover_from(
    spec: &DiscoverSpec,
    optimizer: MetaOptimizer,
    seed: u64,
    resume: Option<&FitCheckpoint>,
    on_step: impl FnMut(&EpochReport<'_>) -> ControlFlow<()>,
) -> Result<DiscoverReport> {
    spec.check_optimizer(optimizer)?;
    let trainable = spec.trainable()?;
    let theta0 = spec.initial_theta()?;
    let rule = TaylorRule::new(Variables::Xyw);
    let validation_seed = derived_seed(seed, 1);
    let held_out_seed = derived_seed(seed, 2);
    let mut meta = MetaRun {
        spec,
        optimizer,
        start: (&theta0, &trainable),
        cmaes_seed: derived_seed(seed, 3),
        resume,
        on_step,
    };
    match spec.function_task()? {
        FunctionTask::Pca(task) => {
            let objective = PcaObjective::new(task.clone(), rule, seed, spec.meta.norm_cap)?;
            let outcome = meta.run(&objective)?;
            let evaluation = &spec.evaluation;
            let learned = objective.evaluate(
                &outcome.theta,
                held_out_seed,
                evaluation.tasks,
                evaluation.horizon_multiple,
            );
            let (xy, yyw) = (index("x*y"), index("y^2*w"));
            let mut two = vec![0.0; 27];
            two[xy] = outcome.theta[xy];
            two[yyw] = outcome.theta[yyw];
            let two_terms = objective.evaluate(
                &two,
                held_out_seed,
                evaluation.tasks,
                evaluation.horizon_multiple,
            );
            let oja = |c: f64| {
                let mut theta = vec![0.0; 27];
                theta[xy] = c;
                theta[yyw] = -c;
                theta
            };
            // Oja's best rate: the lowest mean task loss at T on the validation tasks.
            let (rate, _) = tune_scale(&geometric_grid(0.05, 5.0, 31), |c| {
                -objective
                    .evaluate(&oja(c), validation_seed, evaluation.validation_tasks, 1)
                    .loss_t
            });
            let baseline = objective.evaluate(
                &oja(rate),
                held_out_seed,
                evaluation.tasks,
                evaluation.horizon_multiple,
            );
            Ok(DiscoverReport {
                kind: spec.kind,
                optimizer,
                seed,
                term_names: term_names(Variables::Xyw),
                trainable,
                outcome,
                pca: Some(PcaReport {
                    learned,
                    two_terms,
                    baseline,
                    baseline_rate: rate,
                }),
                memory: None,
                memory_phase: None,
                pca_components: None,
                spiking_target_rate: None,
            })
        }
        FunctionTask::Memory(task) => {
            let objective = MemoryObjective::new(task.clone(), rule, seed, spec.meta.weight_bound)?;
            let outcome = meta.run(&objective)?;
            let per_load = spec.evaluation.tasks_per_load;
            let learned = objective.evaluate(&outcome.theta, held_out_seed, per_load);
            let (unit, name) = baseline_rule(&task);
            let mean_overlap = |e: &MemoryEvaluation| {
                e.overlap_by_load.iter().map(|(_, v)| v).sum::<f64>()
                    / e.overlap_by_load.len().max(1) as f64
            };
            let validation_per_load = (spec.evaluation.validation_tasks / task.loads.len()).max(1);
            let scaled = |c: f64| unit.iter().map(|v| v * c).collect::<Vec<f64>>();
            let (scale, _) = tune_scale(&geometric_grid(0.1, 1000.0, 41), |c| {
                mean_overlap(&objective.evaluate(&scaled(c), validation_seed, validation_per_load))
            });
            let baseline = objective.evaluate(&scaled(scale), held_out_seed, per_load);
            Ok(DiscoverReport {
                kind: spec.kind,
                optimizer,
                seed,
                term_names: term_names(Variables::Xyw),
                trainable,
                pca: None,
                memory: Some(MemoryReport {
                    learned,
                    baseline,
                    baseline_rule: format!("{scale:.4} * ({name})"),
                    combinations: identifiable_combinations(&outcome.theta, &task.patterns),
                }),
                memory_phase: None,
                pca_components: None,
                spiking_target_rate: None,
                outcome,
            })
        }
        FunctionTask::MemoryPhase(setup) => {
            let objective = setup.objective(seed)?;
            let outcome = meta.run(&objective)?;
            let report = evaluate_phase(
                &setup,
                &outcome.theta,
                (
                    validation_seed,
                    (spec.evaluation.validation_tasks / setup.evaluation_loads.len()).max(1),
                ),
                (held_out_seed, spec.evaluation.tasks_per_load),
            )?;
            Ok(DiscoverReport {
                kind: spec.kind,
                optimizer,
                seed,
                term_names: setup.task.coefficient_names(),
                trainable,
                pca: None,
                memory: None,
                memory_phase: Some(report),
                pca_components: None,
                spiking_target_rate: None,
                outcome,
            })
        }
        FunctionTask::SpikingTargetRate(task) => {
            let objective = TargetRateObjective::new(task, seed)?;
            let outcome = meta.run(&objective)?;
            let evaluation = &spec.evaluation;
            let report = evaluate_target_rate(
                &objective,
                &outcome.theta,
                (validation_seed, evaluation.validation_tasks),
                (held_out_seed, evaluation.tasks),
            )?;
            Ok(DiscoverReport {
                kind: spec.kind,
                optimizer,
                seed,
                term_names: spec.coefficient_names()?,
                trainable,
                pca: None,
                memory: None,
                memory_phase: None,
                pca_components: None,
                spiking_target_rate: Some(report),
                outcome,
            })
        }
        FunctionTask::PcaComponents(task) => {
            let seeds = ComponentsSeeds::from_seed(seed);
            let objective = ComponentsObjective::new(task.clone(), rule, seed, spec.meta.norm_cap)?;
            let outcome = meta.run(&objective)?;
            let adam = spec.adam_settings();
            let job = ComponentsJob {
                task: &task,
                seeds,
                adam: &adam,
                norm_cap: spec.meta.norm_cap,
                initial_theta: &theta0,
                trainable: &trainable,
                held_out_tasks: spec.evaluation.tasks,
                validation_tasks: spec.evaluation.validation_tasks,
            };
            let report = evaluate_components(&job, &objective, outcome.clone());
            Ok(DiscoverReport {
                kind: spec.kind,
                optimizer,
                seed,
                term_names: report.coefficient_names.clone(),
                trainable,
                pca: None,
                memory: None,
                memory_phase: None,
                pca_components: Some(report),
                spiking_target_rate: None,
                outcome,
            })
        }
    }
}

/// What every kind's meta-optimization shares: the spec's solver settings, the start θ
/// and its trainable coefficients, CMA-ES's seed, the checkpoint to continue and the
/// observer.
struct MetaRun<'a, F> {
    spec: &'a DiscoverSpec,
    optimizer: MetaOptimizer,
    start: (&'a [f64], &'a [usize]),
    cmaes_seed: u64,
    resume: Option<&'a FitCheckpoint>,
    on_step: F,
}

impl<F: FnMut(&EpochReport<'_>) -> ControlFlow<()>> MetaRun<'_, F> {
    /// Meta-optimizes `objective` with the optimizer and the spec's settings.
    fn run<O: crate::objective::Objective>(&mut self, objective: &O) -> Result<MetaOutcome> {
        let (theta0, trainable) = self.start;
        let on_step = &mut self.on_step;
        match self.optimizer {
            MetaOptimizer::Adam => meta_adam(
                objective,
                theta0,
                trainable,
                &self.spec.adam_settings(),
                self.resume,
                on_step,
            ),
            MetaOptimizer::Cmaes => meta_cmaes(
                objective,
                theta0,
                trainable,
                &self.spec.cmaes_settings(),
                self.cmaes_seed,
                self.resume,
                on_step,
            ),
        }
    }
}

/// The index of a canonical term of the (x, y, w) rule.
fn index(name: &str) -> usize {
    Term::parse(name, Variables::Xyw)
        .ok()
        .and_then(|t| t.index(Variables::Xyw))
        .expect("a canonical term name")
}

/// The baseline at unit scale: `x*y` for dense patterns; `(x − a)(y − a)` =
/// `x*y − a x − a y + a²` for sparse ones.
fn baseline_rule(task: &MemoryTask) -> (Vec<f64>, String) {
    let mut theta = vec![0.0; 27];
    theta[index("x*y")] = 1.0;
    match task.patterns {
        PatternKind::Dense { .. } => (theta, "x*y".into()),
        PatternKind::Sparse { .. } => {
            let a = task.patterns.centre(task.n_neurons);
            theta[index("x")] = -a;
            theta[index("y")] = -a;
            theta[index("1")] = a * a;
            (theta, format!("(x - {a})*(y - {a})"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combinations_follow_the_pattern_algebra() {
        let mut theta = vec![0.0; 27];
        theta[index("x*y")] = 1.0;
        theta[index("x^2*y")] = 0.5;
        theta[index("x^2*y^2")] = 0.25;
        let dense = identifiable_combinations(
            &theta,
            &PatternKind::Dense {
                cue_flip_fraction: 0.1,
            },
        );
        assert_eq!(dense.len(), 12);
        let find = |c: &[Combination], name: &str| {
            c.iter()
                .find(|x| x.name == name)
                .expect("test set-up")
                .value
        };
        // ±1: x² = 1, so x²y joins y and x²y² joins 1.
        assert_eq!(find(&dense, "x*y"), 1.0);
        assert_eq!(find(&dense, "y"), 0.5);
        assert_eq!(find(&dense, "1"), 0.25);
        let sparse = identifiable_combinations(
            &theta,
            &PatternKind::Sparse {
                coding_level: 0.1,
                cue_moved: 2,
            },
        );
        // {0,1}: x² = x, so all three are x*y.
        assert_eq!(sparse.len(), 12);
        assert_eq!(find(&sparse, "x*y"), 1.75);
        assert_eq!(sparse.iter().map(|c| c.members.len()).sum::<usize>(), 27);
    }

    #[test]
    fn derived_seeds_differ() {
        let seeds: Vec<u64> = (0..4).map(|k| derived_seed(1, k)).collect();
        for a in 0..4 {
            for b in a + 1..4 {
                assert_ne!(seeds[a], seeds[b]);
            }
        }
        assert_eq!(derived_seed(7, 2), derived_seed(7, 2));
    }
}
