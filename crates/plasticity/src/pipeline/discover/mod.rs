//! Meta-optimization of a rule against a function objective (issue 12): the
//! meta-solvers of [`crate::optim::meta`] (Adam with a cosine learning-rate schedule,
//! gradient clipping and a proximal L1 step, or CMA-ES) under the fitting driver,
//! like every fit. Every meta-step draws a fresh batch of tasks: step `m` uses task
//! indices `m B … (m+1) B − 1`.

pub mod components;
pub mod job;
pub mod phase;
pub mod spec;
pub mod target_rate;

pub use job::{discover, discover_from, identifiable_combinations, Combination, DiscoverReport};
pub use spec::{DiscoverKind, DiscoverSpec, MetaOptimizer};

use std::ops::ControlFlow;

use serde::{Deserialize, Serialize};

use crate::fit::{drive, EpochReport, FitCheckpoint, Parametrisation, Schedule, StopReason};
use crate::objective::Objective;
use crate::optim::meta::{MetaAdam, MetaCmaes};
pub use crate::optim::meta::{MetaAdamSettings, MetaCmaesSettings};
use crate::optim::IterativeSolver;
use crate::{Error, Result};

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

fn interrupted(done: usize, total: usize) -> Error {
    Error::Interrupted {
        what: "the meta-optimization".into(),
        done,
        total,
    }
}

/// Runs a meta-solver under the fitting driver from `theta` over the `active`
/// parameters (the others stay at their starting values) for `iterations` steps. The
/// observer sees every step (epoch `m + 1` for meta-step `m`) with its checkpoint; a
/// stop before the last step is [`Error::Interrupted`] (continue from the step's
/// checkpoint, `resume`).
fn meta_optimize(
    solver: &mut dyn IterativeSolver,
    (subset, theta): (&Parametrisation, &[f64]),
    iterations: usize,
    resume: Option<&FitCheckpoint>,
    on_step: &mut dyn FnMut(&EpochReport<'_>) -> ControlFlow<()>,
) -> Result<MetaOutcome> {
    let phi = subset.phi(theta);
    let schedule = Schedule {
        epochs: iterations,
        parametrisation: subset,
        resume,
    };
    let driven = drive(solver, phi, 0, &schedule, on_step)?;
    let done = driven.loss_history.len();
    if driven.stop_reason == StopReason::Interrupted && done < iterations {
        return Err(interrupted(done, iterations));
    }
    Ok(MetaOutcome {
        theta: subset.theta(&driven.phi),
        loss_history: driven.loss_history,
        theta_history: driven.theta_history,
        skipped_steps: driven.backoffs,
        evaluations: driven.evaluations,
    })
}

/// Adam ([`MetaAdam`]) on `objective` from `theta`, updating only the parameters in
/// `active` (the others stay at their starting values), under the fitting driver.
pub fn meta_adam<O: Objective>(
    objective: &O,
    theta: &[f64],
    active: &[usize],
    settings: &MetaAdamSettings,
    resume: Option<&FitCheckpoint>,
    mut on_step: impl FnMut(&EpochReport<'_>) -> ControlFlow<()>,
) -> Result<MetaOutcome> {
    let subset = Parametrisation::subset(active.to_vec(), theta.to_vec());
    let loss = |phi: &[f64], items: &[usize], gradient: &mut [f64]| {
        let mut full = vec![0.0; objective.n_parameters()];
        let value = objective.loss_and_gradient(&subset.theta(phi), items, &mut full);
        for (g, &k) in gradient.iter_mut().zip(active) {
            *g = full[k];
        }
        value
    };
    let mut solver = MetaAdam::start(
        settings.clone(),
        &loss,
        active.len(),
        resume.map(FitCheckpoint::resume),
    )?;
    let run = (&subset, theta);
    meta_optimize(&mut solver, run, settings.iterations, resume, &mut on_step)
}

/// CMA-ES ([`MetaCmaes`]) on `objective` over the parameters in `active`, from
/// `theta`, under the fitting driver: generation `g`'s candidates are all scored on
/// the same fresh tasks (`g B … (g+1) B − 1`) with fitness `L + λ ‖θ‖₁`. The result is
/// the distribution's final mean; `loss_history[g]` is the loss of the mean on
/// generation `g`'s tasks.
pub fn meta_cmaes<O: Objective>(
    objective: &O,
    theta: &[f64],
    active: &[usize],
    settings: &MetaCmaesSettings,
    seed: u64,
    resume: Option<&FitCheckpoint>,
    mut on_step: impl FnMut(&EpochReport<'_>) -> ControlFlow<()>,
) -> Result<MetaOutcome> {
    let subset = Parametrisation::subset(active.to_vec(), theta.to_vec());
    let loss = |phi: &[f64], items: &[usize]| objective.loss(&subset.theta(phi), items);
    let start: Vec<f64> = active.iter().map(|&k| theta[k]).collect();
    let mut solver = MetaCmaes::start(
        settings,
        &loss,
        (&start, seed),
        resume.map(FitCheckpoint::resume),
    )?;
    let run = (&subset, theta);
    meta_optimize(&mut solver, run, settings.generations, resume, &mut on_step)
}

/// SplitMix64 of `seed` and `stream`: independent seeds for the task sets (training
/// tasks use the seed itself; validation, held-out and CMA-ES streams 1, 2, 3).
pub fn derived_seed(seed: u64, stream: u64) -> u64 {
    let mut z = seed
        .wrapping_add(stream.wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
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
            Option<&FitCheckpoint>,
            &mut dyn FnMut(&EpochReport<'_>) -> ControlFlow<()>,
        ) -> Result<MetaOutcome>
        + 'a;

    fn resumes_exactly(run: &Run<'_>, k: usize) {
        let whole = run(None, &mut |_| ControlFlow::Continue(())).expect("whole run");
        let mut taken = None;
        let error = run(None, &mut |step| {
            if step.epoch == k {
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
        let checkpoint: FitCheckpoint = ciborium::from_reader(bytes.as_slice()).unwrap();
        let mut first_seen = None;
        let resumed = run(Some(&checkpoint), &mut |step| {
            first_seen.get_or_insert(step.epoch - 1);
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
