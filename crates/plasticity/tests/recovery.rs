//! End to end: simulated Oja data → L-BFGS fit of all 27 Taylor terms → the
//! generating rule is recovered and predicts fresh trajectories.

mod common;

use common::{epochs, go_on, neural_settings, oja_data};
use plasticity::fit::Solver;
use plasticity::pipeline::neural::fit_neural;
use plasticity::rule::{term_names, Variables};

#[test]
fn lbfgs_recovers_oja_from_a_small_circuit() {
    // 50 steps, noiseless (the task's defaults)
    let dataset = oja_data([20, 100, 10, 50], 0.0, 0);
    // the L-BFGS path (Levenberg–Marquardt, the default, has tests/neural_engine.rs)
    let settings = neural_settings(epochs(2000), 3, Solver::Lbfgs);
    let fit = fit_neural(&dataset, &settings, &mut go_on).expect("fit");
    let names = term_names(Variables::Xyw);
    let theta = |name: &str| fit.outcome.theta[names.iter().position(|n| n == name).expect("term")];
    assert!((theta("x*y") - 1.0).abs() < 0.05, "θ_xy = {}", theta("x*y"));
    assert!(
        (theta("y^2*w") + 1.0).abs() < 0.05,
        "θ_y²w = {}",
        theta("y^2*w")
    );
    // Terms with w² barely move the weights (|w| ~ 0.1, so w² ~ 0.01) and come in
    // nearly collinear pairs (x²·y·w² against x²·y²·w², y ≈ ½): the data pin them
    // only loosely, and the summation order of the gradient decides where in that
    // flat valley L-BFGS stops. The others are held to 0.1.
    for (name, value) in names.iter().zip(&fit.outcome.theta) {
        if name != "x*y" && name != "y^2*w" {
            let bound = if name.contains("w^2") { 0.2 } else { 0.1 };
            assert!(value.abs() <= bound, "θ_{name} = {value}");
        }
    }
    let r2 = fit
        .metrics
        .r2_weights
        .expect("simulated data has a generating rule");
    assert!(r2 >= 0.99, "R² of weights {r2}");
    assert!(
        fit.outcome.final_loss < 1e-6,
        "loss {}",
        fit.outcome.final_loss
    );
}

/// Simulated flies learning with `x*r` → Adam with L1 and the weight bound on all 81
/// terms → the reward covariance term dominates and fresh sessions are predicted.
#[test]
fn adam_recovers_reward_covariance_from_choices() {
    use plasticity::pipeline::behaviour::{fit_behaviour, BehaviourFitSettings};
    use plasticity::task::BehaviourTask;
    let dataset = BehaviourTask::default().simulate().expect("simulated");
    let settings = BehaviourFitSettings {
        eval_sessions: 5,
        ..BehaviourFitSettings::default()
    };
    let fit = fit_behaviour(&dataset, &settings, &mut go_on).expect("fit");
    let names = term_names(Variables::Xywr);
    let largest = (0..names.len())
        .max_by(|&a, &b| {
            fit.outcome.theta[a]
                .abs()
                .total_cmp(&fit.outcome.theta[b].abs())
        })
        .expect("terms");
    assert!(
        ["x*r", "x^2*r"].contains(&names[largest].as_str()) && fit.outcome.theta[largest] > 0.0,
        "largest term {} = {}",
        names[largest],
        fit.outcome.theta[largest]
    );
    let evaluation = fit.metrics.evaluation.expect("simulated data is evaluated");
    assert!(
        evaluation.r2_weights >= 0.8,
        "R² of weights {}",
        evaluation.r2_weights
    );
    assert!(
        evaluation.ceiling_percent_deviance - evaluation.percent_deviance <= 5.0,
        "% deviance {} against the ceiling {}",
        evaluation.percent_deviance,
        evaluation.ceiling_percent_deviance
    );
}
