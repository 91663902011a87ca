//! docs/model.md §3.1 neural recordings through the network engine: the same loss and
//! gradient as the single-layer engine, the Gauss–Newton system consistent with it,
//! and Levenberg–Marquardt as the default solver.

mod common;

use std::ops::ControlFlow;

use common::{epochs, go_on, neural_settings, oja_data, oja_task};
use plasticity::circuit::spec::RuleSpec;
use plasticity::data::NeuralDataset;
use plasticity::fit::Solver;
use plasticity::gradient::GradientStrategy;
use plasticity::objective::{CircuitObjective, NeuralObjective, Objective};
use plasticity::pipeline::neural::{fit_neural, solver_for, NeuralFitSettings};
use plasticity::rule::{term_names, Rule, Variables};

fn dataset(noise_std: f64, recording_fraction: f64) -> NeuralDataset {
    let mut task = oja_task([6, 10, 3, 12], noise_std, 7);
    task.recording_fraction = recording_fraction;
    task.simulate().expect("simulated")
}

fn rule_spec() -> RuleSpec {
    RuleSpec {
        name: "rule".into(),
        family: "taylor".into(),
        rule: None,
        trainable: "all".into(),
        hidden: vec![10],
    }
}

/// A θ with every term active, small enough that the weights stay bounded.
fn theta() -> Vec<f64> {
    (0..27)
        .map(|k| 0.05 * ((k as f64 * 1.7).sin()) + if k == 4 { 1.0 } else { 0.0 })
        .collect()
}

#[test]
fn a_neural_recording_as_a_circuit_has_the_single_layer_loss_and_gradient() {
    let data = dataset(0.1, 0.5);
    let circuit = data.to_circuit(rule_spec()).expect("as a circuit");
    let items: Vec<usize> = (0..data.n_trajectories()).collect();
    let theta = theta();
    let neural = NeuralObjective::new(
        &data,
        Rule::taylor(Variables::Xyw),
        GradientStrategy::Checkpointed,
    )
    .expect("objective");
    let mut expected = vec![0.0; 27];
    let expected_loss = neural.loss_and_gradient(&theta, &items, &mut expected);
    for strategy in [
        GradientStrategy::Checkpointed,
        GradientStrategy::FullTape,
        GradientStrategy::Forward,
    ] {
        let network = CircuitObjective::new(&circuit, strategy);
        let mut gradient = vec![0.0; 27];
        let loss = network.loss_and_gradient(&theta, &items, &mut gradient);
        assert!(
            (loss - expected_loss).abs() <= 1e-12 * expected_loss,
            "{strategy:?}: {loss} vs {expected_loss}"
        );
        for (k, (a, b)) in gradient.iter().zip(&expected).enumerate() {
            assert!(
                (a - b).abs() <= 1e-10 * b.abs().max(1e-6),
                "{strategy:?}, term {k}: {a} vs {b}"
            );
        }
    }
    // the Gauss–Newton pass: its loss is the loss, its Jᵀr/N half the gradient
    let all: Vec<usize> = (0..27).collect();
    let network = CircuitObjective::new(&circuit, GradientStrategy::Checkpointed);
    let system = network
        .gauss_newton(&theta, &all, &items)
        .expect("a squared error");
    assert!((system.sse - expected_loss).abs() <= 1e-12 * expected_loss);
    for (k, (a, b)) in system.gradient.iter().zip(&expected).enumerate() {
        assert!(
            (2.0 * a - b).abs() <= 1e-10 * b.abs().max(1e-6),
            "Jᵀr, term {k}: {} vs {b}",
            2.0 * a
        );
    }
}

#[test]
fn levenberg_marquardt_is_the_default_and_recovers_oja_to_round_off() {
    let data = dataset(0.0, 1.0);
    let settings = neural_settings(epochs(100), 2, Solver::Auto);
    assert_eq!(
        solver_for(&settings).expect("applies"),
        "levenberg-marquardt"
    );
    let fit = fit_neural(&data, &settings, &mut go_on).expect("fit");
    assert_eq!(fit.solver_used, "levenberg-marquardt");
    assert!(fit.metrics.final_loss < 1e-20, "{}", fit.metrics.final_loss);
    let names = term_names(Variables::Xyw);
    for (name, value) in names.iter().zip(&fit.outcome.theta) {
        let truth = match name.as_str() {
            "x*y" => 1.0,
            "y^2*w" => -1.0,
            _ => 0.0,
        };
        assert!((value - truth).abs() < 1e-6, "θ_{name} = {value}");
    }
    assert!(fit.metrics.r2_weights.expect("simulated") > 0.999_999);
}

#[test]
fn a_penalty_or_adam_falls_back_to_their_optimizer_and_levenberg_marquardt_says_why_not() {
    let data = dataset(0.0, 1.0);
    let mut fit = epochs(3);
    fit.l1 = 1e-3;
    let penalised = neural_settings(fit, 0, Solver::Auto);
    assert_eq!(solver_for(&penalised).expect("auto"), "lbfgs");
    let fit = fit_neural(&data, &penalised, &mut go_on).expect("fit");
    assert_eq!(fit.solver_used, "lbfgs");
    let forced = NeuralFitSettings {
        solver: Solver::LevenbergMarquardt,
        ..penalised
    };
    let error = fit_neural(&data, &forced, &mut go_on)
        .expect_err("a penalty is not least squares")
        .to_string();
    assert!(error.contains("solver") && error.contains("L1"), "{error}");
}

#[test]
fn the_levenberg_marquardt_fit_is_identical_on_1_and_2_threads() {
    let data = dataset(0.2, 0.5);
    let settings = neural_settings(epochs(8), 0, Solver::Auto);
    let run = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("pool")
            .install(|| fit_neural(&data, &settings, &mut go_on))
            .expect("fit")
            .outcome
    };
    let (one, two) = (run(1), run(2));
    assert_eq!(one.theta, two.theta);
    assert_eq!(one.loss_history, two.loss_history);
}

#[test]
fn zero_epochs_are_refused_by_levenberg_marquardt_as_by_the_other_solvers() {
    let data = dataset(0.0, 1.0);
    for solver in [Solver::Auto, Solver::Lbfgs] {
        let eval_trajectories = NeuralFitSettings::default().eval_trajectories;
        let settings = neural_settings(epochs(0), eval_trajectories, solver);
        let error = fit_neural(&data, &settings, &mut go_on).expect_err("0 epochs");
        assert!(error.to_string().contains("epochs"), "{solver:?}: {error}");
    }
}

#[test]
fn where_levenberg_marquardt_overflows_auto_gives_the_lbfgs_fit() {
    // a cell of experiments/noise_fraction.toml (20→100, σ = 0.6, all recorded) where
    // Levenberg–Marquardt's steps make the simulation overflow
    // 50 steps (the task's default)
    let data = oja_data([20, 100, 10, 50], 0.6, 0);
    let settings = |solver| neural_settings(epochs(300), 0, solver);
    let keep_going = &mut go_on;
    let forced = fit_neural(&data, &settings(Solver::LevenbergMarquardt), keep_going)
        .expect("a fit that ends non-finite");
    assert!(
        matches!(
            forced.outcome.stop_reason,
            plasticity::fit::StopReason::NonFinite { .. }
        ) || !forced.metrics.final_loss.is_finite(),
        "{:?}",
        forced.outcome.stop_reason
    );
    let auto = fit_neural(&data, &settings(Solver::Auto), keep_going).expect("auto");
    let lbfgs = fit_neural(&data, &settings(Solver::Lbfgs), keep_going).expect("lbfgs");
    assert_eq!(auto.solver_used, "lbfgs");
    assert!(auto.metrics.final_loss.is_finite());
    assert_eq!(auto.outcome.theta, lbfgs.outcome.theta);
    assert_eq!(auto.outcome.loss_history, lbfgs.outcome.loss_history);
}

/// A cell of experiments/tests/failure_sweep.toml: 6 → 12 neurons, 6 trajectories of
/// 100 steps with noise `noise_std`, fitted by auto for 100 epochs from seed `fit_seed`.
fn failure_sweep_cell(noise_std: f64, fit_seed: u64) -> (NeuralDataset, NeuralFitSettings) {
    let mut fit = epochs(100);
    fit.seed = fit_seed;
    let data = oja_data([6, 12, 6, 100], noise_std, 1);
    (data, neural_settings(fit, 1, Solver::Auto))
}

#[test]
fn an_auto_fit_interrupted_in_either_solver_resumes_to_the_lbfgs_fit() {
    // a cell of experiments/tests/failure_sweep.toml where Levenberg–Marquardt's steps
    // overflow: a checkpoint taken while Levenberg–Marquardt ran (a Slurm task cancelled
    // then) used to stop every resumption with "the checkpoint does not belong to this
    // fit"; one taken in the L-BFGS fit that follows continues that fit
    let (data, settings) = failure_sweep_cell(0.7, 0);
    let keep_going = &mut go_on;
    let whole = fit_neural(&data, &settings, keep_going).expect("auto");
    assert_eq!(
        whole.solver_used, "lbfgs",
        "Levenberg–Marquardt did not overflow"
    );
    // checkpoints of the first epoch of each solver
    let (mut lm, mut lbfgs) = (None, None);
    fit_neural(&data, &settings, &mut |report| {
        let checkpoint = (report.checkpoint)();
        let slot = match checkpoint.optimizer {
            plasticity::fit::OptimizerState::LevenbergMarquardt { .. } => &mut lm,
            _ => &mut lbfgs,
        };
        slot.get_or_insert(checkpoint);
        ControlFlow::Continue(())
    })
    .expect("auto");
    for (solver, checkpoint) in [("levenberg-marquardt", lm), ("lbfgs", lbfgs)] {
        let text = serde_json::to_string(&checkpoint.expect(solver)).expect("serialised");
        let mut resumed = settings.clone();
        resumed.fit.resume = Some(Box::new(serde_json::from_str(&text).expect("parsed")));
        let fitted = fit_neural(&data, &resumed, keep_going)
            .unwrap_or_else(|e| panic!("resumed from {solver}'s checkpoint: {e}"));
        assert_eq!(fitted.solver_used, "lbfgs", "{solver}");
        assert_eq!(fitted.outcome.theta, whole.outcome.theta, "{solver}");
        assert_eq!(
            fitted.outcome.loss_history, whole.outcome.loss_history,
            "{solver}"
        );
    }
}

#[test]
fn a_levenberg_marquardt_fit_stopped_by_its_observer_is_not_taken_for_an_overflow() {
    // a cell of experiments/tests/failure_sweep.toml that Levenberg–Marquardt fits:
    // stopped after its first epoch (a Slurm task cancelled then), auto used to go on
    // to L-BFGS, whose checkpoint the resumed cell then continued, so that the cell
    // ended with L-BFGS's fit instead of Levenberg–Marquardt's
    let (data, settings) = failure_sweep_cell(0.1, 12);
    let keep_going = &mut go_on;
    let whole = fit_neural(&data, &settings, keep_going).expect("auto");
    assert_eq!(whole.solver_used, "levenberg-marquardt");
    let mut taken = None;
    let stopped = fit_neural(&data, &settings, &mut |report| {
        taken.get_or_insert((report.checkpoint)());
        ControlFlow::Break(())
    })
    .expect("stopped");
    assert_eq!(stopped.solver_used, "levenberg-marquardt");
    assert_eq!(
        stopped.outcome.stop_reason,
        plasticity::fit::StopReason::Interrupted
    );
    let checkpoint = taken.expect("a checkpoint");
    assert!(matches!(
        checkpoint.optimizer,
        plasticity::fit::OptimizerState::LevenbergMarquardt { .. }
    ));
    let mut resumed = settings.clone();
    resumed.fit.resume = Some(Box::new(checkpoint));
    let fitted = fit_neural(&data, &resumed, keep_going).expect("resumed");
    assert_eq!(fitted.solver_used, "levenberg-marquardt");
    assert_eq!(fitted.outcome.theta, whole.outcome.theta);
    assert_eq!(fitted.outcome.loss_history, whole.outcome.loss_history);
}
