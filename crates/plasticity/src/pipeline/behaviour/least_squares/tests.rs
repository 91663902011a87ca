//! Levenberg–Marquardt on choices against L-BFGS on the same cross-entropy, and its
//! refusals.

use std::ops::ControlFlow;

use crate::data::BehaviourDataset;
use crate::fit::{FitConfig, OptimizerKind, Solver};
use crate::pipeline::behaviour::{fit_behaviour, BehaviourFit, BehaviourFitSettings};
use crate::task::BehaviourTask;

fn dataset() -> BehaviourDataset {
    BehaviourTask {
        n_blocks: 3,
        trials_per_block: 40,
        sessions: 6,
        rule: "x*r - 0.05*w".into(),
        seed: 11,
        ..BehaviourTask::default()
    }
    .simulate()
    .expect("simulated sessions")
}

fn settings(solver: Solver, optimizer: OptimizerKind, epochs: usize) -> BehaviourFitSettings {
    BehaviourFitSettings {
        trainable: "1,x,r,w,x*r".into(),
        fit: FitConfig {
            optimizer,
            epochs,
            l1: 0.0,
            tolerance: 1e-12,
            ..BehaviourFitSettings::default().fit
        },
        eval_sessions: 2,
        solver,
        ..BehaviourFitSettings::default()
    }
}

fn run(dataset: &BehaviourDataset, settings: &BehaviourFitSettings) -> BehaviourFit {
    fit_behaviour(dataset, settings, &mut |_| ControlFlow::Continue(())).expect("fit")
}

#[test]
fn fisher_scoring_reaches_the_lbfgs_optimum_of_the_cross_entropy() {
    let dataset = dataset();
    let lm = run(
        &dataset,
        &settings(Solver::LevenbergMarquardt, OptimizerKind::Lbfgs, 100),
    );
    let lbfgs = run(
        &dataset,
        &settings(Solver::Lbfgs, OptimizerKind::Lbfgs, 1000),
    );
    assert_eq!(lm.solver_used, "levenberg-marquardt");
    assert_eq!(lbfgs.solver_used, "lbfgs");
    let (a, b) = (lm.metrics.final_loss, lbfgs.metrics.final_loss);
    assert!(
        a <= b * (1.0 + 1e-9),
        "Levenberg–Marquardt {a} vs L-BFGS {b}"
    );
    assert_eq!(a, lm.outcome.final_loss);
    // kept steps lower the loss, and the fit converged rather than ran out of steps
    let history = &lm.outcome.loss_history;
    assert!(history.windows(2).all(|w| w[1] < w[0]), "{history:?}");
    assert!(
        matches!(
            lm.outcome.stop_reason,
            crate::fit::StopReason::Converged { .. }
        ),
        "{:?} after {} steps",
        lm.outcome.stop_reason,
        history.len()
    );
    assert!(history.len() < 100);
    // only the trainable terms moved
    let trainable = crate::rule::Term::parse("x*r", crate::rule::Variables::Xywr)
        .expect("term")
        .index(crate::rule::Variables::Xywr)
        .expect("index");
    assert!(lm.outcome.theta[trainable] > 0.3, "{:?}", lm.outcome.theta);
    let moved = lm.outcome.theta.iter().filter(|v| **v != 0.0).count();
    assert!(moved <= 5, "{moved} terms moved");
}

#[test]
fn a_penalty_or_adam_is_refused_naming_the_flags() {
    let dataset = dataset();
    let mut penalised = settings(Solver::LevenbergMarquardt, OptimizerKind::Lbfgs, 5);
    penalised.fit.l1 = 0.01;
    let error = fit_behaviour(&dataset, &penalised, &mut |_| ControlFlow::Continue(()))
        .expect_err("a penalty is refused")
        .to_string();
    assert!(
        error.contains("--l1 0.01") && error.contains("--l1 0"),
        "{error}"
    );
    let adam = settings(Solver::LevenbergMarquardt, OptimizerKind::Adam, 5);
    let error = fit_behaviour(&dataset, &adam, &mut |_| ControlFlow::Continue(()))
        .expect_err("Adam is refused")
        .to_string();
    assert!(error.contains("--optimizer adam"), "{error}");
}
