//! The gradient solvers the fitting driver (`crate::fit`) runs epoch by epoch:
//! Adam over shuffled minibatches with back-off on non-finite steps, and L-BFGS on the
//! whole data with its convergence test. Each owns its state between epochs and gives
//! it to checkpoints; the driver owns the epochs, histories, observers and stop reason.

use std::collections::VecDeque;

use rand::rngs::ChaCha8Rng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

use super::solver::{EpochStep, IterativeSolver, PenalisedLoss};
use super::state::{taken_by_another, BackoffState, LastStep, OptimizerState, Resume};
use super::stop::StopReason;
use super::{Adam, Lbfgs, LbfgsStep, LineSearch};
use crate::{Error, Result};

/// Settings of [`AdamEpochs`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamSettings {
    /// Step size.
    pub learning_rate: f64,
    /// Items per minibatch.
    pub batch_size: usize,
    /// Seed of the minibatch order.
    pub seed: u64,
    /// Back-offs allowed after non-finite steps.
    pub max_backoffs: usize,
}

/// Settings of [`LbfgsEpochs`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LbfgsSettings {
    /// Curvature pairs kept.
    pub memory: usize,
    /// The line search.
    pub line_search: LineSearch,
    /// Converged when the loss fell by less than this fraction over 10 iterations.
    pub tolerance: f64,
}

/// Adam over minibatches of `batch_size` items in an order shuffled each epoch from
/// `seed`; where a step makes the loss or gradient non-finite, the last good point's
/// step is retaken with half the learning rate, at most `max_backoffs` times.
pub struct AdamEpochs<'a> {
    settings: AdamSettings,
    loss: &'a PenalisedLoss<'a>,
    adam: Adam,
    rng: ChaCha8Rng,
    order: Vec<usize>,
    batch_size: usize,
    gradient: Vec<f64>,
    backoff: BackoffState,
}

impl<'a> AdamEpochs<'a> {
    /// Adam for `n_phi` variables over `items` on `loss`, or as `resume` left it (the
    /// minibatch orders of the completed epochs replayed).
    pub fn start(
        settings: AdamSettings,
        loss: &'a PenalisedLoss<'a>,
        (n_phi, items): (usize, &[usize]),
        resume: Option<Resume<'_>>,
    ) -> Result<AdamEpochs<'a>> {
        let config = settings;
        let mut solver = AdamEpochs {
            settings,
            loss,
            adam: Adam::new(n_phi, config.learning_rate),
            rng: ChaCha8Rng::seed_from_u64(config.seed),
            order: items.to_vec(),
            batch_size: config.batch_size.clamp(1, items.len()),
            gradient: vec![0.0; n_phi],
            backoff: BackoffState::default(),
        };
        if let Some(checkpoint) = resume {
            let OptimizerState::Adam(state) = checkpoint.optimizer else {
                return Err(taken_by_another(checkpoint.optimizer, "Adam"));
            };
            solver.backoff.clone_from(checkpoint.backoff);
            solver.adam = Adam::from_state(solver.halved(solver.backoff.backoffs), state);
            for _ in 0..checkpoint.epochs_done {
                solver.order.shuffle(&mut solver.rng);
            }
        }
        Ok(solver)
    }

    /// The learning rate after `backoffs` halvings.
    fn halved(&self, backoffs: usize) -> f64 {
        self.settings.learning_rate * 0.5f64.powi(backoffs as i32)
    }

    /// After a non-finite loss or gradient on minibatch `batch` of `epoch`: back to the
    /// last good point and its step retaken with half the learning rate (`None`), or,
    /// with no back-off left, why the fit stops (φ left at the last good point).
    fn back_off(
        &mut self,
        phi: &mut [f64],
        what: String,
        (epoch, batch): (usize, usize),
    ) -> Option<StopReason> {
        match &self.backoff.last_step {
            Some(step) if self.backoff.backoffs < self.settings.max_backoffs => {
                self.backoff.backoffs += 1;
                self.adam = Adam::from_state(self.halved(self.backoff.backoffs), &step.adam);
                phi.copy_from_slice(&step.phi);
                self.adam.step(phi, &step.gradient);
                None
            }
            last_step => {
                let kept = match last_step {
                    Some(step) => {
                        phi.copy_from_slice(&step.phi);
                        "keeping the parameters from before the last step, the last where the loss was finite"
                    }
                    None => "the initial parameters already fail",
                };
                Some(StopReason::NonFinite {
                    epoch,
                    detail: format!(
                        "{what} on minibatch {batch} of epoch {epoch} after {} backoff(s) (max-backoffs {}, learning rate now {:e}): the rule makes the simulated weights or activity overflow; {kept}",
                        self.backoff.backoffs,
                        self.settings.max_backoffs,
                        self.halved(self.backoff.backoffs),
                    ),
                })
            }
        }
    }
}

impl IterativeSolver for AdamEpochs<'_> {
    fn step(
        &mut self,
        epoch: usize,
        phi: &mut [f64],
        evaluations: &mut usize,
    ) -> Result<EpochStep> {
        let loss = self.loss;
        self.order.shuffle(&mut self.rng);
        let order = std::mem::take(&mut self.order);
        let mut epoch_loss = 0.0;
        let mut batches = 0usize;
        for batch in order.chunks(self.batch_size) {
            let data = loop {
                let (data, total) = loss(phi, batch, &mut self.gradient);
                *evaluations += 1;
                if total.is_finite() && self.gradient.iter().all(|g| g.is_finite()) {
                    break data;
                }
                let what = if total.is_finite() {
                    "the gradient is not finite".to_string()
                } else {
                    format!("the loss is {total}")
                };
                if let Some(stop) = self.back_off(phi, what, (epoch, batches + 1)) {
                    self.order = order;
                    return Ok(EpochStep::Stop(stop));
                }
            };
            self.backoff.last_step = Some(LastStep {
                phi: phi.to_vec(),
                adam: self.adam.state(),
                gradient: self.gradient.clone(),
            });
            self.adam.step(phi, &self.gradient);
            epoch_loss += data;
            batches += 1;
        }
        self.order = order;
        Ok(EpochStep::Done(epoch_loss / batches as f64))
    }

    fn checkpoint_state(&self) -> (OptimizerState, BackoffState) {
        (
            OptimizerState::Adam(self.adam.state()),
            self.backoff.clone(),
        )
    }

    fn backoffs(&self) -> usize {
        self.backoff.backoffs
    }
}

/// L-BFGS on every item; converged when the loss decreased by less than a fraction
/// `tolerance` over 10 iterations.
pub struct LbfgsEpochs<'a> {
    settings: LbfgsSettings,
    loss: &'a PenalisedLoss<'a>,
    lbfgs: Lbfgs,
    items: &'a [usize],
    /// The last 10 losses (with the penalty).
    recent: VecDeque<f64>,
    /// The loss 10 iterations ago, once there is one.
    oldest: Option<f64>,
}

impl<'a> LbfgsEpochs<'a> {
    /// L-BFGS on `loss` over `items` from `phi` (one evaluation there, refused when
    /// not finite), or as `resume` left it.
    pub fn start(
        settings: LbfgsSettings,
        loss: &'a PenalisedLoss<'a>,
        (phi, items): (&[f64], &'a [usize]),
        resume: Option<Resume<'_>>,
        evaluations: &mut usize,
    ) -> Result<LbfgsEpochs<'a>> {
        let config = settings;
        let mut recent = VecDeque::new();
        let mut lbfgs = if let Some(checkpoint) = resume {
            let OptimizerState::Lbfgs {
                state,
                recent_losses,
            } = checkpoint.optimizer
            else {
                return Err(taken_by_another(checkpoint.optimizer, "L-BFGS"));
            };
            recent.extend(recent_losses.iter().copied());
            Lbfgs::from_state(config.memory, state)
        } else {
            let mut gradient = vec![0.0; phi.len()];
            let (_, total) = loss(phi, items, &mut gradient);
            *evaluations += 1;
            if !total.is_finite() || gradient.iter().any(|g| !g.is_finite()) {
                return Err(Error::Numerical(format!(
                    "the loss at the initial parameters is {total}: the initial rule makes the simulation overflow"
                )));
            }
            Lbfgs::new(config.memory, phi.to_vec(), total, gradient)
        };
        lbfgs.line_search = config.line_search;
        Ok(LbfgsEpochs {
            settings,
            loss,
            lbfgs,
            items,
            recent,
            oldest: None,
        })
    }
}

impl IterativeSolver for LbfgsEpochs<'_> {
    fn step(
        &mut self,
        epoch: usize,
        phi: &mut [f64],
        evaluations: &mut usize,
    ) -> Result<EpochStep> {
        let mut last_data = f64::NAN;
        let (items, loss) = (self.items, self.loss);
        let mut objective_fn = |p: &[f64], g: &mut [f64]| {
            let (data, total) = loss(p, items, g);
            last_data = data;
            total
        };
        match self.lbfgs.iterate(&mut objective_fn) {
            LbfgsStep::Accepted { evaluations: n, .. } => *evaluations += n,
            LbfgsStep::LineSearchFailed {
                reason,
                non_finite_trials,
            } => {
                *evaluations += self.lbfgs.max_trials;
                return Ok(EpochStep::Stop(
                    if non_finite_trials == self.lbfgs.max_trials {
                        StopReason::NonFinite {
                        epoch,
                        detail: format!(
                            "iteration {epoch}: {reason}: the rule makes the simulated weights or activity overflow; keeping the parameters of iteration {}",
                            epoch - 1
                        ),
                    }
                    } else {
                        StopReason::LineSearchFailed { detail: reason }
                    },
                ));
            }
        }
        phi.copy_from_slice(self.lbfgs.point());
        self.recent.push_back(self.lbfgs.loss());
        self.oldest = if self.recent.len() > 10 {
            self.recent.pop_front()
        } else {
            None
        };
        Ok(EpochStep::Done(last_data))
    }

    fn checkpoint_state(&self) -> (OptimizerState, BackoffState) {
        let state = OptimizerState::Lbfgs {
            state: self.lbfgs.state(),
            recent_losses: self.recent.iter().copied().collect(),
        };
        (state, BackoffState::default())
    }

    fn converged(&self) -> Option<StopReason> {
        let old = self.oldest?;
        (old - self.lbfgs.loss() <= self.settings.tolerance * old.abs()).then(|| {
            StopReason::Converged {
                detail: format!(
                    "the loss decreased by less than a fraction {} over 10 iterations",
                    self.settings.tolerance
                ),
            }
        })
    }

    fn finish(&self, phi: &mut [f64]) {
        phi.copy_from_slice(self.lbfgs.point());
    }
}
