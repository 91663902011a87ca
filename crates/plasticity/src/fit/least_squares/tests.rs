//! Levenberg–Marquardt under the fitting driver on Rosenbrock (a zero residual) and
//! Fisher scoring on the logistic regression of the optimizer's own tests (a
//! likelihood), stopped and continued.

use std::ops::ControlFlow;

use super::*;
use crate::fit::StopReason;
use crate::optim::least_squares::GaussNewtonSystem;
use crate::optim::levenberg_marquardt::tests::Logistic;
use crate::optim::levenberg_marquardt::LevenbergMarquardtState;
use crate::optim::OptimizerState;

/// Rosenbrock as least squares: `r = (10 (φ₁ − φ₀²), 1 − φ₀)`, `N = 2`.
struct Rosenbrock;

impl Rosenbrock {
    fn residuals(phi: &[f64]) -> ([f64; 2], [[f64; 2]; 2]) {
        (
            [10.0 * (phi[1] - phi[0] * phi[0]), 1.0 - phi[0]],
            [[-20.0 * phi[0], 10.0], [-1.0, 0.0]],
        )
    }
}

impl LeastSquaresProblem for Rosenbrock {
    fn loss(&self, phi: &[f64]) -> f64 {
        let (r, _) = Self::residuals(phi);
        (r[0] * r[0] + r[1] * r[1]) / 2.0
    }
    fn system(&self, phi: &[f64]) -> Result<GaussNewtonSystem> {
        let (r, j) = Self::residuals(phi);
        let mut system = GaussNewtonSystem::zeros(2);
        system.sse = self.loss(phi);
        for a in 0..2 {
            system.gradient[a] = (j[0][a] * r[0] + j[1][a] * r[1]) / 2.0;
            for b in 0..2 {
                system.normal[a * 2 + b] = (j[0][a] * j[0][b] + j[1][a] * j[1][b]) / 2.0;
            }
        }
        Ok(system)
    }
}

/// Runs `problem` from `start` for at most 100 kept steps with default settings,
/// stopping where `stop` says; the outcome and the last φ.
fn run(
    problem: &dyn LeastSquaresProblem,
    start: &[f64],
    resume: Option<&FitCheckpoint>,
    stop: &mut dyn FnMut(&EpochReport<'_>) -> ControlFlow<()>,
) -> (FitOutcome, Vec<f64>) {
    let identity = Parametrisation::identity(start.len());
    fit_least_squares(
        problem,
        &identity,
        start.to_vec(),
        (&LevenbergMarquardt::default(), 100),
        resume,
        stop,
    )
    .expect("finite problem")
}

fn to_the_end(_: &EpochReport<'_>) -> ControlFlow<()> {
    ControlFlow::Continue(())
}

/// Levenberg–Marquardt's state after the last kept step of a run to the end.
fn last_state(problem: &dyn LeastSquaresProblem, start: &[f64]) -> LevenbergMarquardtState {
    let mut last = None;
    run(problem, start, None, &mut |report| {
        last = Some((report.checkpoint)().optimizer);
        ControlFlow::Continue(())
    });
    match last {
        Some(OptimizerState::LevenbergMarquardt(state)) => state,
        other => panic!("{other:?}"),
    }
}

#[test]
fn finds_the_zero_of_rosenbrock_in_few_jacobians() {
    let (outcome, phi) = run(&Rosenbrock, &[-1.2, 1.0], None, &mut to_the_end);
    assert!(
        (phi[0] - 1.0).abs() < 1e-10 && (phi[1] - 1.0).abs() < 1e-10,
        "{phi:?} after {} evaluations",
        outcome.evaluations
    );
    assert_eq!(outcome.theta, phi);
    let state = last_state(&Rosenbrock, &[-1.2, 1.0]);
    assert!(state.systems < 40, "{} systems", state.systems);
    // and, after the last kept step, at most the system that found the zero residual
    let counted = state.systems + state.trial_losses;
    assert!(
        (counted..=counted + 1).contains(&outcome.evaluations),
        "{} evaluations, {counted} counted",
        outcome.evaluations
    );
    assert!(matches!(outcome.stop_reason, StopReason::Converged { .. }));
    // every kept step lowered the loss
    assert!(outcome.loss_history.windows(2).all(|w| w[1] < w[0]));
}

#[test]
fn the_observer_can_stop_it() {
    let (outcome, _) = run(&Rosenbrock, &[-1.2, 1.0], None, &mut |report| {
        if report.epoch == 2 {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    });
    assert_eq!(outcome.stop_reason, StopReason::Interrupted);
    assert_eq!(outcome.loss_history.len(), 2);
}

#[test]
fn a_run_stopped_at_any_step_continues_exactly_from_its_checkpoint() {
    let (whole, whole_phi) = run(&Rosenbrock, &[-1.2, 1.0], None, &mut to_the_end);
    for stop_at in 1..whole.loss_history.len() {
        let mut saved = None;
        run(&Rosenbrock, &[-1.2, 1.0], None, &mut |report| {
            if report.epoch == stop_at {
                saved = Some((report.checkpoint)());
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        });
        let checkpoint = saved.expect("the stop was reported");
        // through a serialised checkpoint, as a resumed run reads it
        let checkpoint: FitCheckpoint =
            serde_json::from_str(&serde_json::to_string(&checkpoint).unwrap()).unwrap();
        let (resumed, phi) = run(
            &Rosenbrock,
            &[-1.2, 1.0],
            Some(&checkpoint),
            &mut to_the_end,
        );
        assert_eq!(phi, whole_phi, "stopped at {stop_at}");
        assert_eq!(resumed, whole, "stopped at {stop_at}");
    }
}

#[test]
fn a_checkpoint_of_another_solver_is_refused() {
    let mut checkpoint = None;
    run(&Rosenbrock, &[-1.2, 1.0], None, &mut |report| {
        checkpoint = Some((report.checkpoint)());
        ControlFlow::Break(())
    });
    let mut checkpoint = checkpoint.expect("one step");
    checkpoint.optimizer = OptimizerState::Adam(crate::optim::Adam::new(2, 1e-3).state());
    let identity = Parametrisation::identity(2);
    let error = fit_least_squares(
        &Rosenbrock,
        &identity,
        vec![-1.2, 1.0],
        (&LevenbergMarquardt::default(), 100),
        Some(&checkpoint),
        &mut to_the_end,
    )
    .expect_err("an Adam checkpoint");
    assert!(
        error.to_string().contains("not Levenberg–Marquardt"),
        "{error}"
    );
}

#[test]
fn fisher_scoring_finds_the_maximum_likelihood_of_a_logistic_regression() {
    let problem = Logistic::new();
    let (outcome, phi) = run(&problem, &[0.0; 3], None, &mut to_the_end);
    // the score vanishes at the optimum (to what a relative decrease of 1e-10 leaves:
    // the loss is then within ½ gᵀF⁻¹g ~ 1e-17 of its minimum)
    let system = problem.system(&phi).expect("system");
    let score = system.gradient.iter().map(|g| g.abs()).fold(0.0, f64::max);
    assert!(score < 1e-7, "score {score} at {phi:?}");
    assert_eq!(outcome.final_loss, problem.loss(&phi));
    // Newton-like convergence: few systems and trial losses, every kept step lowered
    // the loss
    let state = last_state(&problem, &[0.0; 3]);
    assert!(state.systems <= 15, "{} systems", state.systems);
    assert!(outcome.loss_history.windows(2).all(|w| w[1] <= w[0]));
    assert!(matches!(outcome.stop_reason, StopReason::Converged { .. }));
}
