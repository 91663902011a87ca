//! The one fitting driver: every solver (Adam, L-BFGS, Levenberg–Marquardt and Fisher
//! scoring) runs under [`drive`], which owns the epochs, the histories, the observer
//! (progress, logs, checkpoints, Ctrl-C/SIGTERM), resume and the stop reason. A solver
//! only takes its next step from `φ` ([`IterativeSolver`]: state in, state out) and
//! gives its state to checkpoints; the solvers live in [`crate::optim`].

use std::ops::ControlFlow;

use super::checkpoint::FitCheckpoint;
use super::config::EpochReport;
use super::outcome::StopReason;
use super::parametrisation::Parametrisation;
use crate::optim::EpochStep;
use crate::optim::IterativeSolver;
use crate::Result;

/// What a driven fit leaves: the solver's last `φ`, the histories, the work done and
/// why it stopped.
pub(crate) struct Driven {
    pub phi: Vec<f64>,
    pub loss_history: Vec<f64>,
    pub theta_history: Vec<Vec<f64>>,
    pub evaluations: usize,
    pub stop_reason: StopReason,
    pub backoffs: usize,
}

/// How long a fit runs, what it reports θ in, and where it continues from.
pub(crate) struct Schedule<'a> {
    /// Epochs at most.
    pub epochs: usize,
    /// θ of φ, for the histories and reports.
    pub parametrisation: &'a Parametrisation,
    /// The checkpoint to continue (its histories, φ and evaluations; the solver was
    /// built from its optimizer state).
    pub resume: Option<&'a FitCheckpoint>,
}

/// Runs `solver` from `phi` (with `evaluations` already spent starting it) for
/// `schedule.epochs` epochs or until it stops, converges or the observer stops it
/// ([`StopReason::Interrupted`]). After every epoch the observer sees the loss, θ and
/// a checkpoint from which a resumed fit takes exactly the same steps. A checkpoint to
/// continue whose sizes do not fit is refused (its solver, already built from it, has
/// refused one of another solver).
pub(crate) fn drive(
    solver: &mut dyn IterativeSolver,
    mut phi: Vec<f64>,
    mut evaluations: usize,
    schedule: &Schedule<'_>,
    observer: &mut dyn FnMut(&EpochReport<'_>) -> ControlFlow<()>,
) -> Result<Driven> {
    if let Some(checkpoint) = schedule.resume {
        checkpoint.check(phi.len(), schedule.epochs)?;
    }
    let mut loss_history = Vec::with_capacity(schedule.epochs);
    let mut theta_history = Vec::with_capacity(schedule.epochs);
    let first_epoch = match schedule.resume {
        Some(checkpoint) => checkpoint.restore(
            &mut phi,
            &mut loss_history,
            &mut theta_history,
            &mut evaluations,
        ),
        None => 1,
    };
    // a checkpoint taken where the solver had converged continues to no step
    let resumed_converged = schedule.resume.and_then(|_| solver.converged());
    let last_epoch = match resumed_converged {
        Some(_) => 0,
        None => schedule.epochs,
    };
    let mut stop_reason = resumed_converged.unwrap_or(StopReason::EpochsCompleted);
    for epoch in first_epoch..=last_epoch {
        let loss = match solver.step(epoch, &mut phi, &mut evaluations)? {
            EpochStep::Done(loss) => loss,
            EpochStep::Stop(reason) => {
                stop_reason = reason;
                break;
            }
        };
        loss_history.push(loss);
        theta_history.push(schedule.parametrisation.theta(&phi));
        let checkpoint = || {
            let (optimizer, backoff) = solver.checkpoint_state();
            FitCheckpoint::take(
                epoch,
                &phi,
                &loss_history,
                &theta_history,
                evaluations,
                optimizer,
                backoff,
            )
        };
        let report = EpochReport {
            epoch,
            epochs: schedule.epochs,
            loss,
            theta: theta_history.last().map_or(&[], |t| t.as_slice()),
            checkpoint: &checkpoint,
        };
        if observer(&report).is_break() {
            stop_reason = StopReason::Interrupted;
            break;
        }
        if let Some(converged) = solver.converged() {
            stop_reason = converged;
            break;
        }
    }
    solver.finish(&mut phi);
    Ok(Driven {
        phi,
        loss_history,
        theta_history,
        evaluations,
        stop_reason,
        backoffs: solver.backoffs(),
    })
}
