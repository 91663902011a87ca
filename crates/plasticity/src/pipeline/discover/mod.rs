//! Meta-optimization of a rule against a function objective (issue 12): Adam with a
//! cosine learning-rate schedule, gradient clipping and a proximal L1 step, or CMA-ES
//! (the `cmaes` crate) as the gradient-free alternative. Every meta-step draws a fresh
//! batch of tasks: step `m` uses task indices `m B … (m+1) B − 1`.

pub mod job;
pub mod spec;

pub use job::{discover, discover_from, identifiable_combinations, Combination, DiscoverReport};
pub use spec::{DiscoverKind, DiscoverSpec, MetaOptimizer};

use std::ops::ControlFlow;

use serde::{Deserialize, Serialize};

use crate::objective::Objective;
use crate::{Error, Result};

/// Settings of the Adam meta-optimizer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetaAdamSettings {
    /// Meta-iterations.
    pub iterations: usize,
    /// Fresh tasks per meta-step `B`.
    pub tasks_per_step: usize,
    /// Initial step size `α₀`.
    pub learning_rate: f64,
    /// Final step size `α_end`: `α_m = α_end + (α₀ − α_end)(1 + cos(π m / M)) / 2`.
    pub final_learning_rate: f64,
    /// Largest gradient norm: a larger gradient is rescaled to this norm.
    pub gradient_clip: f64,
    /// Strength `λ` of the proximal L1 step after each Adam step,
    /// `θ_k ← sign(θ_k) max(|θ_k| − α_m λ / (√v̂_k + ε), 0)`: the proximal operator of
    /// `λ‖θ‖₁` in Adam's own diagonal metric, so that a coefficient stays at 0 exactly
    /// when `|∂L/∂θ_k| ≤ λ`, whatever the gradient's scale.
    pub l1: f64,
    /// Consecutive non-finite meta-steps tolerated (each skipped, halving the step).
    pub max_backoffs: usize,
}

impl MetaAdamSettings {
    /// Checks the settings.
    pub fn validate(&self) -> Result<()> {
        let positive = |key: &str, v: f64| {
            if v > 0.0 && v.is_finite() {
                Ok(())
            } else {
                Err(Error::config(
                    key,
                    format!("{v}: expected a positive number"),
                ))
            }
        };
        positive("meta.learning_rate", self.learning_rate)?;
        positive("meta.gradient_clip", self.gradient_clip)?;
        if !(self.final_learning_rate >= 0.0 && self.final_learning_rate <= self.learning_rate) {
            return Err(Error::config(
                "meta.final_learning_rate",
                format!(
                    "{}: expected 0 ≤ final ≤ learning_rate ({})",
                    self.final_learning_rate, self.learning_rate
                ),
            ));
        }
        if !(self.l1 >= 0.0 && self.l1.is_finite()) {
            return Err(Error::config(
                "meta.l1",
                format!("{}: expected ≥ 0", self.l1),
            ));
        }
        if self.iterations == 0 || self.tasks_per_step == 0 {
            return Err(Error::config(
                "meta.iterations",
                "iterations and tasks_per_step must be at least 1",
            ));
        }
        Ok(())
    }

    /// The step size of meta-iteration `m` (cosine decay).
    pub fn learning_rate_at(&self, m: usize) -> f64 {
        let progress = m as f64 / self.iterations as f64;
        self.final_learning_rate
            + (self.learning_rate - self.final_learning_rate)
                * 0.5
                * (1.0 + (std::f64::consts::PI * progress).cos())
    }
}

/// Settings of the CMA-ES meta-optimizer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetaCmaesSettings {
    /// Generations.
    pub generations: usize,
    /// Population size (`0`: the crate's default `4 + ⌊3 ln n⌋`).
    pub population: usize,
    /// Initial step size `σ₀`.
    pub initial_step_size: f64,
    /// Fresh tasks per generation, shared by all its candidates.
    pub tasks_per_step: usize,
    /// `λ` of the penalty `λ ‖θ‖₁` added to the fitness.
    pub l1: f64,
}

/// One meta-step, for progress reports and histories.
#[derive(Clone, Copy)]
pub struct MetaStep<'a> {
    /// Meta-iteration (or generation).
    pub iteration: usize,
    /// The meta-loss on this step's tasks (without the penalty).
    pub loss: f64,
    /// The parameters after the step.
    pub theta: &'a [f64],
    /// The checkpoint after this step (taken only when called).
    pub checkpoint: &'a dyn Fn() -> MetaCheckpoint,
}

/// The result of a meta-optimization.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetaOutcome {
    /// The final parameters.
    pub theta: Vec<f64>,
    /// Meta-loss per iteration (on that iteration's fresh tasks).
    pub loss_history: Vec<f64>,
    /// Parameters after every iteration.
    pub theta_history: Vec<Vec<f64>>,
    /// Meta-steps skipped because the loss or gradient was not finite.
    pub skipped_steps: usize,
    /// Loss (and gradient) evaluations, each over one batch of tasks.
    pub evaluations: usize,
}

/// Where a meta-optimization stood after a step: continuing from it gives exactly
/// the steps of an uninterrupted run. Adam's state is stored; CMA-ES's (the `cmaes`
/// crate's, not serialisable) is rebuilt by replaying its seed with every fitness
/// value it saw, without evaluating them again. Histories may hold non-finite losses:
/// store it in a format that keeps them (CBOR), not JSON.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetaCheckpoint {
    /// Meta-steps (or generations) done.
    pub steps_done: usize,
    /// The outcome so far (`theta`: the current parameters, or CMA-ES's mean).
    pub outcome: MetaOutcome,
    /// Adam's moments (`None` for CMA-ES).
    pub adam: Option<crate::optim::AdamState>,
    /// Adam's step-size factor after non-finite steps.
    pub backoff: f64,
    /// Adam's non-finite steps in a row.
    pub consecutive: usize,
    /// CMA-ES: every fitness value so far, in order of evaluation.
    pub fitness: Vec<f64>,
}

fn interrupted(done: usize, total: usize) -> Error {
    Error::Interrupted {
        what: "the meta-optimization".into(),
        done,
        total,
    }
}

/// The task indices of meta-step `m`.
fn batch(m: usize, size: usize) -> Vec<usize> {
    (m * size..(m + 1) * size).collect()
}

/// `sign(v) max(|v| − t, 0)`.
fn soft_threshold(value: f64, threshold: f64) -> f64 {
    value.signum() * (value.abs() - threshold).max(0.0)
}

/// Adam on `objective` from `theta`, updating only the parameters in `active` (the
/// others stay at their starting values). After each Adam step the proximal L1 step
/// (in Adam's metric, see [`MetaAdamSettings::l1`]) shrinks the active parameters. A non-finite loss or gradient skips the step and
/// halves every later step size; `settings.max_backoffs` such steps in a row is an
/// error ([`Error::Numerical`]) naming the iteration.
pub fn meta_adam<O: Objective>(
    objective: &O,
    theta: &[f64],
    active: &[usize],
    settings: &MetaAdamSettings,
    resume: Option<&MetaCheckpoint>,
    mut on_step: impl FnMut(&MetaStep<'_>) -> ControlFlow<()>,
) -> Result<MetaOutcome> {
    settings.validate()?;
    let n = objective.n_parameters();
    let mut theta = theta.to_vec();
    let mut adam = crate::optim::Adam::new(active.len(), 1.0);
    let mut gradient = vec![0.0; n];
    let mut active_gradient = vec![0.0; active.len()];
    let mut outcome = MetaOutcome {
        theta: Vec::new(),
        loss_history: Vec::with_capacity(settings.iterations),
        theta_history: Vec::with_capacity(settings.iterations),
        skipped_steps: 0,
        evaluations: 0,
    };
    let mut backoff = 1.0;
    let mut consecutive = 0;
    let mut first = 0;
    if let Some(checkpoint) = resume {
        let Some(state) = &checkpoint.adam else {
            return Err(Error::config(
                "resume",
                "the checkpoint is of a CMA-ES run, not of Adam",
            ));
        };
        theta.clone_from(&checkpoint.outcome.theta);
        adam = crate::optim::Adam::from_state(1.0, state);
        outcome = checkpoint.outcome.clone();
        backoff = checkpoint.backoff;
        consecutive = checkpoint.consecutive;
        first = checkpoint.steps_done;
    }
    let mut active_theta: Vec<f64> = active.iter().map(|&k| theta[k]).collect();
    for m in first..settings.iterations {
        let loss =
            objective.loss_and_gradient(&theta, &batch(m, settings.tasks_per_step), &mut gradient);
        outcome.evaluations += 1;
        for (g, &k) in active_gradient.iter_mut().zip(active) {
            *g = gradient[k];
        }
        let norm = active_gradient.iter().map(|g| g * g).sum::<f64>().sqrt();
        if !(loss.is_finite() && norm.is_finite()) {
            outcome.skipped_steps += 1;
            consecutive += 1;
            backoff *= 0.5;
            if consecutive > settings.max_backoffs {
                return Err(Error::Numerical(format!(
                    "meta-iteration {m}: the meta-loss or its gradient is not finite after {consecutive} step-size halvings"
                )));
            }
        } else {
            consecutive = 0;
            if norm > settings.gradient_clip {
                let scale = settings.gradient_clip / norm;
                active_gradient.iter_mut().for_each(|g| *g *= scale);
            }
            let rate = settings.learning_rate_at(m) * backoff;
            adam.learning_rate = rate;
            adam.step(&mut active_theta, &active_gradient);
            for (j, (value, &k)) in active_theta.iter_mut().zip(active).enumerate() {
                *value = soft_threshold(*value, rate * settings.l1 / adam.denominator(j));
                theta[k] = *value;
            }
        }
        outcome.loss_history.push(loss);
        outcome.theta_history.push(theta.clone());
        let checkpoint = || MetaCheckpoint {
            steps_done: m + 1,
            outcome: MetaOutcome {
                theta: theta.clone(),
                ..outcome.clone()
            },
            adam: Some(adam.state()),
            backoff,
            consecutive,
            fitness: Vec::new(),
        };
        let flow = on_step(&MetaStep {
            iteration: m,
            loss,
            theta: &theta,
            checkpoint: &checkpoint,
        });
        if flow.is_break() && m + 1 < settings.iterations {
            return Err(interrupted(m + 1, settings.iterations));
        }
    }
    outcome.theta = theta;
    Ok(outcome)
}

/// Refuses CMA-ES settings without generations, tasks or a positive finite step size.
fn check_cmaes_settings(settings: &MetaCmaesSettings) -> Result<()> {
    if settings.generations == 0 || settings.tasks_per_step == 0 {
        return Err(Error::config(
            "cmaes.generations",
            "generations and tasks_per_step must be at least 1",
        ));
    }
    if !(settings.initial_step_size > 0.0 && settings.initial_step_size.is_finite()) {
        return Err(Error::config(
            "cmaes.initial_step_size",
            format!("{}: expected a positive number", settings.initial_step_size),
        ));
    }
    Ok(())
}

/// CMA-ES on `objective` over the parameters in `active`, from `theta`. Generation
/// `g`'s candidates are all scored on the same fresh tasks (`g B … (g+1) B − 1`) with
/// fitness `L + λ ‖θ‖₁`; a non-finite loss scores `1e10`. The result is the
/// distribution's final mean; `loss_history[g]` is the loss of the mean on
/// generation `g`'s tasks.
pub fn meta_cmaes<O: Objective>(
    objective: &O,
    theta: &[f64],
    active: &[usize],
    settings: &MetaCmaesSettings,
    seed: u64,
    resume: Option<&MetaCheckpoint>,
    mut on_step: impl FnMut(&MetaStep<'_>) -> ControlFlow<()>,
) -> Result<MetaOutcome> {
    use cmaes::{CMAESOptions, DVector};
    check_cmaes_settings(settings)?;
    let base = theta.to_vec();
    let full = |x: &DVector<f64>| -> Vec<f64> {
        let mut t = base.clone();
        for (&k, &v) in active.iter().zip(x.iter()) {
            t[k] = v;
        }
        t
    };
    let population = if settings.population == 0 {
        4 + (3.0 * (active.len() as f64).ln()).floor() as usize
    } else {
        settings.population
    };
    let evaluations = std::cell::Cell::new(0usize);
    // every fitness value, in order; a resumed run replays those of its checkpoint
    let replay: &[f64] = resume.map_or(&[], |c| &c.fitness);
    let seen = std::cell::RefCell::new(Vec::new());
    let fitness = |x: &DVector<f64>| -> f64 {
        let count = evaluations.get();
        evaluations.set(count + 1);
        if let Some(&value) = replay.get(count) {
            seen.borrow_mut().push(value);
            return value;
        }
        let generation = count / population;
        let t = full(x);
        let loss = objective.loss(&t, &batch(generation, settings.tasks_per_step));
        let penalty: f64 = x.iter().map(|v| v.abs()).sum::<f64>() * settings.l1;
        let value = if loss.is_finite() {
            loss + penalty
        } else {
            1e10
        };
        seen.borrow_mut().push(value);
        value
    };
    let start: Vec<f64> = active.iter().map(|&k| theta[k]).collect();
    let mut state = CMAESOptions::new(start, settings.initial_step_size)
        .population_size(population)
        .seed(seed)
        .max_generations(settings.generations)
        .tol_fun(0.0)
        .tol_fun_rel(0.0)
        .tol_fun_hist(0.0)
        .tol_x(1e-14)
        .tol_stagnation(usize::MAX / 2)
        .build(fitness)
        .map_err(|e| Error::config("cmaes", format!("{e:?}")))?;
    let mut outcome = MetaOutcome {
        theta: Vec::new(),
        loss_history: Vec::new(),
        theta_history: Vec::new(),
        skipped_steps: 0,
        evaluations: 0,
    };
    let replayed = resume.map_or(0, |c| c.steps_done);
    for g in 0..settings.generations {
        let done = state.next();
        let mean = full(state.mean());
        if g < replayed {
            let checkpoint = resume.expect("replayed generations come from a checkpoint");
            outcome
                .loss_history
                .push(checkpoint.outcome.loss_history[g]);
            outcome.theta_history.push(mean);
        } else {
            let loss = objective.loss(&mean, &batch(g, settings.tasks_per_step));
            outcome.loss_history.push(loss);
            outcome.theta_history.push(mean.clone());
            let checkpoint = || MetaCheckpoint {
                steps_done: g + 1,
                outcome: MetaOutcome {
                    theta: mean.clone(),
                    evaluations: evaluations.get() + outcome.loss_history.len(),
                    ..outcome.clone()
                },
                adam: None,
                backoff: 1.0,
                consecutive: 0,
                fitness: seen.borrow().clone(),
            };
            let flow = on_step(&MetaStep {
                iteration: g,
                loss,
                theta: &mean,
                checkpoint: &checkpoint,
            });
            if flow.is_break() && done.is_none() && g + 1 < settings.generations {
                return Err(interrupted(g + 1, settings.generations));
            }
        }
        if done.is_some() {
            break;
        }
    }
    outcome.theta = full(state.mean());
    outcome.evaluations = evaluations.get() + outcome.loss_history.len();
    Ok(outcome)
}

/// The scale `c` on `grid` that maximises `score(c)` (non-finite scores lose); returns
/// `(c, score)`. Used to tune the baselines (Oja's rule at its best rate, the Hebbian
/// or covariance rule at its best scale).
pub fn tune_scale(grid: &[f64], score: impl Fn(f64) -> f64) -> (f64, f64) {
    let mut best = (f64::NAN, f64::NEG_INFINITY);
    for &c in grid {
        let s = score(c);
        if s.is_finite() && s > best.1 {
            best = (c, s);
        }
    }
    best
}

/// `count` points spaced geometrically from `low` to `high`.
pub fn geometric_grid(low: f64, high: f64, count: usize) -> Vec<f64> {
    (0..count)
        .map(|k| low * (high / low).powf(k as f64 / (count.max(2) - 1) as f64))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A noisy quadratic: item `k` shifts the target by a small known amount, so that
    /// each batch differs; the minimiser of the mean is near `target`.
    struct Quadratic {
        target: Vec<f64>,
    }

    impl Objective for Quadratic {
        fn n_parameters(&self) -> usize {
            self.target.len()
        }
        fn n_items(&self) -> usize {
            usize::MAX
        }
        fn loss(&self, theta: &[f64], items: &[usize]) -> f64 {
            let mut g = vec![0.0; theta.len()];
            self.loss_and_gradient(theta, items, &mut g)
        }
        fn loss_and_gradient(&self, theta: &[f64], items: &[usize], gradient: &mut [f64]) -> f64 {
            let mut loss = 0.0;
            gradient.iter_mut().for_each(|g| *g = 0.0);
            for &item in items {
                let shift = 0.01 * ((item % 7) as f64 - 3.0);
                for (k, (&t, &c)) in theta.iter().zip(&self.target).enumerate() {
                    let d = t - c - shift;
                    loss += d * d / items.len() as f64;
                    gradient[k] += 2.0 * d / items.len() as f64;
                }
            }
            loss
        }
    }

    fn settings() -> MetaAdamSettings {
        MetaAdamSettings {
            iterations: 400,
            tasks_per_step: 7,
            learning_rate: 0.05,
            final_learning_rate: 0.001,
            gradient_clip: 1.0,
            l1: 0.0,
            max_backoffs: 3,
        }
    }

    #[test]
    fn adam_reaches_the_minimum_and_leaves_inactive_parameters_alone() {
        let objective = Quadratic {
            target: vec![1.0, -0.5, 0.3],
        };
        let out = meta_adam(
            &objective,
            &[0.0, 0.0, 0.7],
            &[0, 1],
            &settings(),
            None,
            |_| ControlFlow::Continue(()),
        )
        .expect("test set-up");
        assert!((out.theta[0] - 1.0).abs() < 1e-2, "{:?}", out.theta);
        assert!((out.theta[1] + 0.5).abs() < 1e-2, "{:?}", out.theta);
        assert_eq!(out.theta[2], 0.7);
        assert_eq!(out.loss_history.len(), 400);
    }

    #[test]
    fn the_proximal_step_zeroes_small_parameters() {
        let objective = Quadratic {
            target: vec![1.0, 0.02],
        };
        let mut s = settings();
        s.l1 = 0.1;
        let out = meta_adam(&objective, &[0.0, 0.0], &[0, 1], &s, None, |_| {
            ControlFlow::Continue(())
        })
        .expect("test set-up");
        // The L1 optimum is (1 − λ/2, 0): the small target is shrunk to exactly 0.
        assert_eq!(out.theta[1], 0.0, "{:?}", out.theta);
        assert!((out.theta[0] - 0.95).abs() < 2e-2, "{:?}", out.theta);
    }

    #[test]
    fn cmaes_reaches_the_minimum_and_is_reproducible() {
        let objective = Quadratic {
            target: vec![1.0, -0.5, 0.3],
        };
        let s = MetaCmaesSettings {
            generations: 150,
            population: 0,
            initial_step_size: 0.5,
            tasks_per_step: 7,
            l1: 0.0,
        };
        let a = meta_cmaes(&objective, &[0.0; 3], &[0, 1, 2], &s, 5, None, |_| {
            ControlFlow::Continue(())
        })
        .expect("test set-up");
        let b = meta_cmaes(&objective, &[0.0; 3], &[0, 1, 2], &s, 5, None, |_| {
            ControlFlow::Continue(())
        })
        .expect("test set-up");
        assert_eq!(a.theta, b.theta);
        for (t, c) in a.theta.iter().zip([1.0, -0.5, 0.3]) {
            assert!((t - c).abs() < 2e-2, "{:?}", a.theta);
        }
    }

    #[test]
    fn non_finite_losses_stop_with_an_error() {
        struct Broken;
        impl Objective for Broken {
            fn n_parameters(&self) -> usize {
                1
            }
            fn n_items(&self) -> usize {
                1
            }
            fn loss(&self, _: &[f64], _: &[usize]) -> f64 {
                f64::NAN
            }
            fn loss_and_gradient(&self, _: &[f64], _: &[usize], g: &mut [f64]) -> f64 {
                g[0] = f64::NAN;
                f64::NAN
            }
        }
        let error = meta_adam(&Broken, &[0.0], &[0], &settings(), None, |_| {
            ControlFlow::Continue(())
        })
        .unwrap_err();
        assert!(error.to_string().contains("meta-iteration 3"), "{error}");
    }

    #[test]
    fn the_schedule_decays_from_the_initial_to_the_final_rate() {
        let s = settings();
        assert!((s.learning_rate_at(0) - 0.05).abs() < 1e-15);
        assert!((s.learning_rate_at(400) - 0.001).abs() < 1e-15);
        assert!(s.learning_rate_at(100) > s.learning_rate_at(300));
        let (c, score) = tune_scale(&geometric_grid(0.1, 10.0, 21), |c: f64| {
            -(c.ln() - 1.0).powi(2)
        });
        assert!((c - std::f64::consts::E).abs() < 0.3 && score > -0.01);
    }

    /// Stops after step `k` (taking its checkpoint, passed through CBOR as the CLI
    /// stores it) and continues it: the outcome of the uninterrupted run.
    type Run<'a> = dyn Fn(
            Option<&MetaCheckpoint>,
            &mut dyn FnMut(&MetaStep<'_>) -> ControlFlow<()>,
        ) -> Result<MetaOutcome>
        + 'a;

    fn resumes_exactly(run: &Run<'_>, k: usize) {
        let whole = run(None, &mut |_| ControlFlow::Continue(())).expect("whole run");
        let mut taken = None;
        let error = run(None, &mut |step| {
            if step.iteration + 1 == k {
                taken = Some((step.checkpoint)());
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .unwrap_err();
        assert!(
            matches!(error, Error::Interrupted { done, .. } if done == k),
            "{error}"
        );
        let mut bytes = Vec::new();
        ciborium::into_writer(&taken.expect("taken"), &mut bytes).unwrap();
        let checkpoint: MetaCheckpoint = ciborium::from_reader(bytes.as_slice()).unwrap();
        let mut first_seen = None;
        let resumed = run(Some(&checkpoint), &mut |step| {
            first_seen.get_or_insert(step.iteration);
            ControlFlow::Continue(())
        })
        .expect("resumed run");
        assert_eq!(first_seen, Some(k), "the resumed run starts after step {k}");
        assert_eq!(resumed, whole);
    }

    #[test]
    fn adam_and_cmaes_resume_to_the_identical_outcome() {
        let objective = Quadratic {
            target: vec![1.0, -0.5, 0.3],
        };
        let mut adam = settings();
        adam.iterations = 60;
        adam.l1 = 0.01;
        resumes_exactly(
            &|resume, on_step| {
                meta_adam(
                    &objective,
                    &[0.0, 0.0, 0.7],
                    &[0, 1],
                    &adam,
                    resume,
                    on_step,
                )
            },
            23,
        );
        let cmaes = MetaCmaesSettings {
            generations: 30,
            population: 0,
            initial_step_size: 0.5,
            tasks_per_step: 7,
            l1: 0.0,
        };
        resumes_exactly(
            &|resume, on_step| {
                meta_cmaes(
                    &objective,
                    &[0.0; 3],
                    &[0, 1, 2],
                    &cmaes,
                    5,
                    resume,
                    on_step,
                )
            },
            11,
        );
    }
}
