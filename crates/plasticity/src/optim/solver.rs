//! The solver interface (in the spirit of argmin: state in, state out): a solver takes
//! one epoch from `φ` and gives its state to checkpoints; the fitting driver
//! (`crate::fit`) owns the epochs, histories, observers, resume and stop.

use super::state::{BackoffState, OptimizerState};
use super::stop::StopReason;
use crate::Result;

/// Loss plus penalty and its gradient with respect to φ, on the items given: returns
/// `(data loss, data loss + penalty)` and writes `∂(loss + penalty)/∂φ`.
pub type PenalisedLoss<'a> = dyn Fn(&[f64], &[usize], &mut [f64]) -> (f64, f64) + 'a;

/// What one epoch of a solver did.
pub enum EpochStep {
    /// The epoch ran; its data loss.
    Done(f64),
    /// The fit stops before the epoch completes (`φ` left at the last good point).
    Stop(StopReason),
}

/// A solver the driver runs epoch by epoch (an epoch: Adam's pass over the
/// minibatches, one L-BFGS iteration, one kept Levenberg–Marquardt step).
pub trait IterativeSolver {
    /// Runs epoch `epoch` (1-based) from `phi`, updated in place, counting loss
    /// evaluations.
    fn step(&mut self, epoch: usize, phi: &mut [f64], evaluations: &mut usize)
        -> Result<EpochStep>;
    /// The solver's state and back-off state, as a checkpoint holds them.
    fn checkpoint_state(&self) -> (OptimizerState, BackoffState);
    /// After an epoch was reported (or when resuming): why the fit stops, if it has
    /// converged.
    fn converged(&self) -> Option<StopReason> {
        None
    }
    /// φ when the fit ends.
    fn finish(&self, _phi: &mut [f64]) {}
    /// Back-offs taken.
    fn backoffs(&self) -> usize {
        0
    }
}
