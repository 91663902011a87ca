//! Optimizers. They never know the problem: they see parameters, a loss and its
//! gradient.

pub mod adam;
pub mod lbfgs;
pub mod least_squares;
pub mod levenberg_marquardt;

pub use adam::{Adam, AdamState};
pub use lbfgs::{Lbfgs, LbfgsState, LbfgsStep, LineSearch};
