//! Optimizers and the solvers the fitting driver runs. They never know the problem:
//! they see parameters, a loss and its gradient (or a least-squares system).

pub mod adam;
pub mod epochs;
pub mod lbfgs;
pub mod least_squares;
pub mod levenberg_marquardt;
pub mod meta;
pub mod solver;
pub mod state;
pub mod stop;

pub use adam::{Adam, AdamState};
pub use epochs::{AdamEpochs, AdamSettings, LbfgsEpochs, LbfgsSettings};
pub use lbfgs::{Lbfgs, LbfgsState, LbfgsStep, LineSearch};
pub use levenberg_marquardt::{LevenbergMarquardtSolver, LevenbergMarquardtState};
pub use solver::{EpochStep, IterativeSolver, PenalisedLoss};
pub use state::{BackoffState, LastStep, OptimizerState, Resume};
pub use stop::StopReason;
