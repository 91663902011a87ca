//! The meta-optimizers of rules from function (issue 12) as solvers of the fitting
//! driver, over the active parameters φ: Adam with a cosine learning-rate schedule,
//! gradient clipping and a proximal L1 step ([`MetaAdam`]), and CMA-ES (the `cmaes`
//! crate) as the gradient-free alternative ([`MetaCmaes`]). Every meta-step draws a
//! fresh batch of tasks: step `m` (0-based; epoch `m + 1`) uses task indices
//! `m B … (m+1) B − 1`.

use std::cell::RefCell;
use std::rc::Rc;

use cmaes::{CMAESOptions, DVector, ObjectiveFunction, CMAES};
use serde::{Deserialize, Serialize};

use super::solver::{EpochStep, IterativeSolver};
pub use super::state::MetaAdamState;
use super::state::{taken_by_another, BackoffState, OptimizerState, Resume};
use super::stop::StopReason;
use super::Adam;
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

impl MetaCmaesSettings {
    /// Checks the settings.
    pub fn validate(&self) -> Result<()> {
        let settings = self;
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
}

/// The task indices of meta-step `m` (0-based).
pub fn batch(m: usize, size: usize) -> Vec<usize> {
    (m * size..(m + 1) * size).collect()
}

/// `sign(v) max(|v| − t, 0)`.
fn soft_threshold(value: f64, threshold: f64) -> f64 {
    value.signum() * (value.abs() - threshold).max(0.0)
}

/// The meta-loss over φ on a batch of tasks, writing its gradient over φ.
pub type BatchLossAndGradient<'a> = dyn Fn(&[f64], &[usize], &mut [f64]) -> f64 + 'a;

/// The meta-loss over φ on a batch of tasks.
pub type BatchLoss<'a> = dyn Fn(&[f64], &[usize]) -> f64 + 'a;

/// Adam on a stochastic meta-loss: after each Adam step the proximal L1 step (in
/// Adam's metric, see [`MetaAdamSettings::l1`]) shrinks φ. A non-finite loss or
/// gradient skips the step and halves every later step size; more than
/// `max_backoffs` such steps in a row is an error ([`Error::Numerical`]) naming the
/// meta-iteration.
pub struct MetaAdam<'a> {
    settings: MetaAdamSettings,
    loss: &'a BatchLossAndGradient<'a>,
    adam: Adam,
    gradient: Vec<f64>,
    state: MetaAdamState,
}

impl<'a> MetaAdam<'a> {
    /// Meta-Adam over `n_phi` parameters on `loss`, or as `resume` left it.
    pub fn start(
        settings: MetaAdamSettings,
        loss: &'a BatchLossAndGradient<'a>,
        n_phi: usize,
        resume: Option<Resume<'_>>,
    ) -> Result<Self> {
        settings.validate()?;
        let state = match resume {
            None => MetaAdamState {
                adam: Adam::new(n_phi, 1.0).state(),
                step_scale: 1.0,
                consecutive: 0,
                skipped: 0,
            },
            Some(Resume {
                optimizer: OptimizerState::MetaAdam(state),
                ..
            }) => state.clone(),
            Some(other) => return Err(taken_by_another(other.optimizer, "meta-Adam")),
        };
        Ok(MetaAdam {
            settings,
            loss,
            adam: Adam::from_state(1.0, &state.adam),
            gradient: vec![0.0; n_phi],
            state,
        })
    }
}

impl IterativeSolver for MetaAdam<'_> {
    fn step(
        &mut self,
        epoch: usize,
        phi: &mut [f64],
        evaluations: &mut usize,
    ) -> Result<EpochStep> {
        let m = epoch - 1;
        let settings = &self.settings;
        let loss = (self.loss)(phi, &batch(m, settings.tasks_per_step), &mut self.gradient);
        *evaluations += 1;
        let norm = self.gradient.iter().map(|g| g * g).sum::<f64>().sqrt();
        if !(loss.is_finite() && norm.is_finite()) {
            let state = &mut self.state;
            state.skipped += 1;
            state.consecutive += 1;
            state.step_scale *= 0.5;
            if state.consecutive > settings.max_backoffs {
                return Err(Error::Numerical(format!(
                    "meta-iteration {m}: the meta-loss or its gradient is not finite after {} step-size halvings",
                    state.consecutive
                )));
            }
            return Ok(EpochStep::Done(loss));
        }
        self.state.consecutive = 0;
        if norm > settings.gradient_clip {
            let scale = settings.gradient_clip / norm;
            self.gradient.iter_mut().for_each(|g| *g *= scale);
        }
        let rate = settings.learning_rate_at(m) * self.state.step_scale;
        self.adam.learning_rate = rate;
        self.adam.step(phi, &self.gradient);
        for (j, value) in phi.iter_mut().enumerate() {
            *value = soft_threshold(*value, rate * settings.l1 / self.adam.denominator(j));
        }
        self.state.adam = self.adam.state();
        Ok(EpochStep::Done(loss))
    }

    fn checkpoint_state(&self) -> (OptimizerState, BackoffState) {
        let state = MetaAdamState {
            adam: self.adam.state(),
            ..self.state.clone()
        };
        (OptimizerState::MetaAdam(state), BackoffState::default())
    }

    fn backoffs(&self) -> usize {
        self.state.skipped
    }
}

/// Every fitness value CMA-ES asked for, in order; a resumed run answers the first
/// ones from its checkpoint (`replay`) without evaluating them again.
#[derive(Default)]
struct FitnessLog {
    replay: Vec<f64>,
    seen: Vec<f64>,
}

/// CMA-ES's objective: `L + λ ‖φ‖₁` on the generation's tasks (a non-finite loss
/// scores `1e10`), or the replayed value.
struct Fitness<'a> {
    loss: &'a BatchLoss<'a>,
    log: Rc<RefCell<FitnessLog>>,
    population: usize,
    tasks_per_step: usize,
    l1: f64,
}

impl ObjectiveFunction for Fitness<'_> {
    fn evaluate(&mut self, x: &DVector<f64>) -> f64 {
        let mut log = self.log.borrow_mut();
        let count = log.seen.len();
        let value = match log.replay.get(count) {
            Some(&value) => value,
            None => {
                let generation = count / self.population;
                let phi: Vec<f64> = x.iter().copied().collect();
                let loss = (self.loss)(&phi, &batch(generation, self.tasks_per_step));
                let penalty: f64 = x.iter().map(|v| v.abs()).sum::<f64>() * self.l1;
                if loss.is_finite() {
                    loss + penalty
                } else {
                    1e10
                }
            }
        };
        log.seen.push(value);
        value
    }
}

/// CMA-ES on a stochastic meta-loss: generation `g`'s candidates are all scored on the
/// same fresh tasks; φ after each generation is the distribution's mean, and the
/// epoch's loss is the mean's loss on that generation's tasks. The `cmaes` crate's
/// state is not serialisable: a checkpoint holds every fitness value, and resuming
/// replays the seed with them.
pub struct MetaCmaes<'a> {
    cmaes: CMAES<Fitness<'a>>,
    loss: &'a BatchLoss<'a>,
    log: Rc<RefCell<FitnessLog>>,
    tasks_per_step: usize,
    /// Why the crate ended the search, once it has.
    terminated: Option<String>,
}

impl<'a> MetaCmaes<'a> {
    /// CMA-ES from `start` (φ) with `seed` on `loss`, or as `resume` left it.
    pub fn start(
        settings: &MetaCmaesSettings,
        loss: &'a BatchLoss<'a>,
        (start, seed): (&[f64], u64),
        resume: Option<Resume<'_>>,
    ) -> Result<Self> {
        settings.validate()?;
        let population = if settings.population == 0 {
            4 + (3.0 * (start.len() as f64).ln()).floor() as usize
        } else {
            settings.population
        };
        let log = Rc::new(RefCell::new(FitnessLog::default()));
        let fitness = Fitness {
            loss,
            log: Rc::clone(&log),
            population,
            tasks_per_step: settings.tasks_per_step,
            l1: settings.l1,
        };
        let cmaes = CMAESOptions::new(start.to_vec(), settings.initial_step_size)
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
        let mut solver = MetaCmaes {
            cmaes,
            loss,
            log,
            tasks_per_step: settings.tasks_per_step,
            terminated: None,
        };
        if let Some(resume) = resume {
            let OptimizerState::Cmaes { fitness } = resume.optimizer else {
                return Err(taken_by_another(resume.optimizer, "CMA-ES"));
            };
            solver.log.borrow_mut().replay.clone_from(fitness);
            for _ in 0..resume.epochs_done {
                solver.generation();
            }
        }
        Ok(solver)
    }

    /// One generation: its fitness values asked for (or replayed).
    fn generation(&mut self) {
        if let Some(done) = self.cmaes.next() {
            self.terminated = Some(format!("CMA-ES ended: {:?}", done.reasons));
        }
    }
}

impl IterativeSolver for MetaCmaes<'_> {
    fn step(
        &mut self,
        epoch: usize,
        phi: &mut [f64],
        evaluations: &mut usize,
    ) -> Result<EpochStep> {
        let before = self.log.borrow().seen.len();
        self.generation();
        *evaluations += self.log.borrow().seen.len() - before;
        for (p, m) in phi.iter_mut().zip(self.cmaes.mean().iter()) {
            *p = *m;
        }
        let loss = (self.loss)(phi, &batch(epoch - 1, self.tasks_per_step));
        *evaluations += 1;
        Ok(EpochStep::Done(loss))
    }

    fn checkpoint_state(&self) -> (OptimizerState, BackoffState) {
        let fitness = self.log.borrow().seen.clone();
        (OptimizerState::Cmaes { fitness }, BackoffState::default())
    }

    fn converged(&self) -> Option<StopReason> {
        self.terminated
            .clone()
            .map(|detail| StopReason::Converged { detail })
    }
}
