//! Levenberg–Marquardt (and Fisher scoring, its likelihood form) under the fitting
//! driver: one kept step an epoch, the solver's state in every checkpoint.

use std::ops::ControlFlow;

use super::checkpoint::FitCheckpoint;
use super::config::EpochReport;
use super::driver::{drive, Schedule};
use super::outcome::FitOutcome;
use super::parametrisation::Parametrisation;
use crate::optim::levenberg_marquardt::{
    LeastSquaresProblem, LevenbergMarquardt, LevenbergMarquardtSolver,
};
use crate::Result;

/// Minimises the least-squares (or likelihood) `problem` over φ by
/// Levenberg–Marquardt from `phi`: at most `epochs` kept steps, each one Gauss–Newton
/// system (`evaluations` counts the systems and the trial losses). The observer sees
/// every kept step with its checkpoint; `resume` continues one exactly. Returns the
/// outcome (`final_loss`: `L(φ)` at the last `φ`; `theta`: its θ) and that last `φ`.
pub fn fit_least_squares(
    problem: &dyn LeastSquaresProblem,
    parametrisation: &Parametrisation,
    phi: Vec<f64>,
    (settings, epochs): (&LevenbergMarquardt, usize),
    resume: Option<&FitCheckpoint>,
    observer: &mut dyn FnMut(&EpochReport<'_>) -> ControlFlow<()>,
) -> Result<(FitOutcome, Vec<f64>)> {
    let mut solver =
        LevenbergMarquardtSolver::resume(problem, *settings, resume.map(FitCheckpoint::resume))?;
    let schedule = Schedule {
        epochs,
        parametrisation,
        resume,
    };
    let driven = drive(&mut solver, phi, 0, &schedule, observer)?;
    let outcome = FitOutcome {
        theta: parametrisation.theta(&driven.phi),
        loss_history: driven.loss_history,
        theta_history: driven.theta_history,
        stop_reason: driven.stop_reason,
        evaluations: driven.evaluations,
        final_loss: solver.state().loss,
        backoffs: 0,
    };
    Ok((outcome, driven.phi))
}

#[cfg(test)]
mod tests;
