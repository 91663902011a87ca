//! A fit stopped after some epochs and continued from its checkpoint (passed through
//! JSON, as the CLI stores it) ends bit for bit where the uninterrupted fit ends.

mod common;

use std::ops::ControlFlow;

use common::{
    behaviour_data, counted, epochs, go_on, neural_settings, oja_data, stopped_at_epoch,
    stopped_at_report, through_json,
};
use plasticity::circuit::CircuitSpec;
use plasticity::data::CircuitDataset;
use plasticity::fit::{FitCheckpoint, FitConfig, OptimizerKind, Solver};
use plasticity::pipeline::behaviour::{fit_behaviour, BehaviourFitSettings};
use plasticity::pipeline::circuit::{fit_circuit, CircuitFit, CircuitFitSettings};
use plasticity::pipeline::neural::{fit_neural, NeuralFitSettings};
use plasticity::task::circuit::CircuitTask;

fn neural_resume_matches(optimizer: OptimizerKind, batch_size: usize, stop_at: usize) {
    let dataset = oja_data([8, 20, 6, 20], 0.0, 3);
    let mut fit = epochs(25);
    (fit.optimizer, fit.batch_size, fit.learning_rate) = (optimizer, batch_size, 1e-2);
    // the L-BFGS/Adam path (Levenberg–Marquardt does not stream or resume mid-stage)
    let settings = neural_settings(fit, 1, Solver::Lbfgs);
    let whole = fit_neural(&dataset, &settings, &mut go_on).expect("fit");

    let (interrupted, taken) = stopped_at_epoch(stop_at, |observer| {
        fit_neural(&dataset, &settings, observer)
    });
    let interrupted = interrupted.expect("interrupted fit");
    assert_eq!(interrupted.outcome.loss_history.len(), stop_at);
    let checkpoint = through_json(&taken.expect("a checkpoint was taken"));
    assert_eq!(checkpoint.epochs_done, stop_at);

    let mut resumed_settings = settings.clone();
    resumed_settings.fit.resume = Some(Box::new(checkpoint));
    let mut first_epoch_seen = None;
    let resumed = fit_neural(&dataset, &resumed_settings, &mut |report| {
        first_epoch_seen.get_or_insert(report.epoch);
        ControlFlow::Continue(())
    })
    .expect("resumed fit");
    assert_eq!(first_epoch_seen, Some(stop_at + 1));
    assert_eq!(resumed.outcome.theta, whole.outcome.theta);
    assert_eq!(resumed.outcome.loss_history, whole.outcome.loss_history);
    assert_eq!(resumed.outcome.theta_history, whole.outcome.theta_history);
    assert_eq!(resumed.outcome.stop_reason, whole.outcome.stop_reason);
    assert_eq!(resumed.outcome.evaluations, whole.outcome.evaluations);
    assert_ne!(
        interrupted.outcome.theta, whole.outcome.theta,
        "the interruption must have stopped the fit short of its end"
    );
}

#[test]
fn lbfgs_fit_resumes_to_the_identical_result() {
    neural_resume_matches(OptimizerKind::Lbfgs, 1, 9);
}

#[test]
fn adam_fit_resumes_to_the_identical_result() {
    neural_resume_matches(OptimizerKind::Adam, 2, 7);
}

/// `settings` continuing from `checkpoint`.
fn resuming(settings: &BehaviourFitSettings, checkpoint: &FitCheckpoint) -> BehaviourFitSettings {
    let mut resumed = settings.clone();
    resumed.fit.resume = Some(Box::new(through_json(checkpoint)));
    resumed
}

#[test]
fn behaviour_fit_resumes_to_the_identical_result() {
    let dataset = behaviour_data([3, 1, 40], "x*r", 0);
    let mut settings = BehaviourFitSettings::default();
    (settings.fit.epochs, settings.fit.learning_rate) = (12, 1e-2);
    settings.eval_sessions = 1;
    let whole = fit_behaviour(&dataset, &settings, &mut go_on).expect("fit");
    let (interrupted, taken) =
        stopped_at_epoch(5, |observer| fit_behaviour(&dataset, &settings, observer));
    interrupted.expect("interrupted fit");
    let resumed_settings = resuming(&settings, &taken.expect("taken"));
    let resumed = fit_behaviour(&dataset, &resumed_settings, &mut go_on).expect("resumed");
    assert_eq!(resumed.outcome.theta, whole.outcome.theta);
    assert_eq!(resumed.outcome.loss_history, whole.outcome.loss_history);
}

/// The behaviour fit by Levenberg–Marquardt (Fisher scoring), stopped after each kept
/// step and continued from its checkpoint through JSON: the identical fit; and an
/// Adam checkpoint is not continued by it.
#[test]
fn behaviour_levenberg_marquardt_fit_resumes_to_the_identical_result() {
    let dataset = behaviour_data([3, 2, 30], "x*r - 0.05*w", 0);
    let settings = BehaviourFitSettings {
        trainable: "1,x,r,w,x*r".into(),
        fit: FitConfig {
            optimizer: OptimizerKind::Lbfgs,
            epochs: 30,
            l1: 0.0,
            ..BehaviourFitSettings::default().fit
        },
        eval_sessions: 1,
        solver: Solver::LevenbergMarquardt,
        ..BehaviourFitSettings::default()
    };
    let whole = fit_behaviour(&dataset, &settings, &mut go_on).expect("fit");
    assert_eq!(whole.solver_used, "levenberg-marquardt");
    let steps = whole.outcome.loss_history.len();
    assert!(steps > 2, "{steps} kept steps");
    for stop_at in 1..steps {
        let (interrupted, taken) = stopped_at_epoch(stop_at, |observer| {
            fit_behaviour(&dataset, &settings, observer)
        });
        interrupted.expect("interrupted fit");
        let resumed_settings = resuming(&settings, &taken.expect("taken"));
        let resumed = fit_behaviour(&dataset, &resumed_settings, &mut go_on).expect("resumed");
        assert_eq!(resumed.outcome, whole.outcome, "stopped at {stop_at}");
        assert_eq!(resumed.metrics.final_loss, whole.metrics.final_loss);
    }
    // an Adam fit's checkpoint is refused, naming why
    let adam = BehaviourFitSettings {
        fit: FitConfig {
            optimizer: OptimizerKind::Adam,
            epochs: 3,
            ..settings.fit.clone()
        },
        solver: Solver::Auto,
        ..settings.clone()
    };
    let mut taken = None;
    fit_behaviour(&dataset, &adam, &mut |report| {
        taken = Some((report.checkpoint)());
        ControlFlow::Break(())
    })
    .expect("interrupted Adam fit");
    let resumed_settings = resuming(&settings, &taken.expect("taken"));
    let error = fit_behaviour(&dataset, &resumed_settings, &mut go_on)
        .expect_err("refused")
        .to_string();
    assert!(error.contains("checkpoint"), "{error}");
}

#[test]
fn a_checkpoint_of_another_optimizer_is_refused() {
    let dataset = oja_data([4, 6, 2, 10], 0.0, 0);
    let mut fit = epochs(4);
    fit.optimizer = OptimizerKind::Adam;
    // the L-BFGS/Adam path (Levenberg–Marquardt does not stream or resume mid-stage)
    let mut settings = neural_settings(fit, 1, Solver::Lbfgs);
    let mut taken = None;
    fit_neural(&dataset, &settings, &mut |report| {
        taken = Some((report.checkpoint)());
        ControlFlow::Continue(())
    })
    .expect("fit");
    settings.fit.optimizer = OptimizerKind::Lbfgs;
    settings.fit.resume = Some(Box::new(taken.expect("taken")));
    let error = fit_neural(&dataset, &settings, &mut go_on)
        .expect_err("an Adam checkpoint cannot continue an L-BFGS fit");
    assert!(error.to_string().contains("Adam"), "{error}");
}

/// The recurrent circuit of experiments/circuits/recurrent.toml, 3 trajectories × 12
/// steps, noisy, half the neurons recorded: no zero residual.
fn recurrent_recording() -> CircuitDataset {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    CircuitTask {
        spec: CircuitSpec::load(root.join("experiments/circuits/recurrent.toml")).expect("spec"),
        trajectories: 3,
        steps: 12,
        noise_std: 0.05,
        recording_fraction: Some(0.5),
        seed: 3,
    }
    .simulate()
    .expect("simulated")
}

/// The circuit fit of `settings` stopped at its `stop_at`-th report, its checkpoint
/// passed through JSON, and resumed: the interrupted fit, the checkpoint, the resumed
/// fit and the number of reports the resumed fit made.
fn circuit_stopped_and_resumed(
    dataset: &CircuitDataset,
    settings: &CircuitFitSettings,
    stop_at: usize,
) -> (CircuitFit, FitCheckpoint, CircuitFit, usize) {
    let (interrupted, taken) =
        stopped_at_report(stop_at, |observer| fit_circuit(dataset, settings, observer));
    let interrupted = interrupted.expect("interrupted fit");
    let checkpoint = through_json(&taken.expect("a checkpoint was taken"));
    let mut resumed_settings = settings.clone();
    resumed_settings.fit.resume = Some(Box::new(checkpoint.clone()));
    let (resumed, rest) = counted(|observer| fit_circuit(dataset, &resumed_settings, observer));
    (interrupted, checkpoint, resumed.expect("resumed fit"), rest)
}

/// The staged Levenberg–Marquardt circuit fit (both starts: a noisy recording with
/// latent neurons reaches no zero residual, so the second basis runs too), stopped
/// after `k` kept steps for several `k` — in an early stage, in the last, in the second
/// start — and continued from its checkpoint through JSON: the identical fit.
#[test]
fn staged_circuit_fit_resumes_mid_stage_to_the_identical_result() {
    let dataset = recurrent_recording();
    let settings = CircuitFitSettings {
        fit: FitConfig {
            epochs: 6,
            ..CircuitFitSettings::default().fit
        },
        eval_trajectories: 1,
        ..CircuitFitSettings::default()
    };
    let (whole, calls) = counted(|observer| fit_circuit(&dataset, &settings, observer));
    let whole = whole.expect("fit");
    let horizons: Vec<usize> = whole.stages.iter().map(|s| s.horizon).collect();
    assert!(
        horizons.iter().filter(|&&h| h == 12).count() == 2,
        "both starts ran: {horizons:?}"
    );
    for stop_at in [1, calls / 3, calls / 2 - 1, calls / 2 + 2, calls - 1] {
        let (interrupted, checkpoint, resumed, rest) =
            circuit_stopped_and_resumed(&dataset, &settings, stop_at);
        assert_eq!(
            interrupted.outcome.stop_reason,
            plasticity::fit::StopReason::Interrupted,
            "stopped at report {stop_at} of {calls}"
        );
        assert!(checkpoint.staged.is_some());
        assert_eq!(rest, calls - stop_at, "only the steps left were taken");
        assert_eq!(resumed.outcome, whole.outcome, "stopped at {stop_at}");
        assert_eq!(resumed.stages, whole.stages);
        assert_eq!(resumed.basis_used, whole.basis_used);
    }
}

/// A neural fit by Levenberg–Marquardt (through the network engine) continues its
/// checkpoint mid-stage to the identical result.
#[test]
fn neural_levenberg_marquardt_fit_resumes_mid_stage() {
    let dataset = oja_data([6, 12, 4, 20], 0.1, 5);
    let mut fit = NeuralFitSettings::default().fit;
    fit.epochs = 8;
    let settings = neural_settings(fit, 1, Solver::LevenbergMarquardt);
    let (whole, calls) = counted(|observer| fit_neural(&dataset, &settings, observer));
    let whole = whole.expect("fit");
    assert!(calls > 4, "{calls} kept steps");
    let stop_at = calls / 2;
    let (interrupted, taken) = stopped_at_report(stop_at, |observer| {
        fit_neural(&dataset, &settings, observer)
    });
    interrupted.expect("interrupted fit");
    let mut resumed_settings = settings.clone();
    resumed_settings.fit.resume = Some(Box::new(through_json(&taken.expect("taken"))));
    let resumed = fit_neural(&dataset, &resumed_settings, &mut go_on).expect("fit");
    assert_eq!(resumed.outcome, whole.outcome);
    assert_eq!(resumed.solver_used, "levenberg-marquardt");
}

/// The staged L-BFGS circuit fit (re-preconditioned chunks within each stage), stopped
/// in several chunks and stages and continued from its checkpoint through JSON: the
/// identical fit.
#[test]
fn staged_lbfgs_circuit_fit_resumes_mid_chunk_to_the_identical_result() {
    let dataset = recurrent_recording();
    let settings = CircuitFitSettings {
        fit: FitConfig {
            epochs: 12,
            tolerance: 0.0,
            ..CircuitFitSettings::default().fit
        },
        solver: Solver::Lbfgs,
        horizon_stages: vec![6],
        stage_epochs: 9,
        precondition_every: 4,
        eval_trajectories: 1,
        ..CircuitFitSettings::default()
    };
    let (whole, calls) = counted(|observer| fit_circuit(&dataset, &settings, observer));
    let whole = whole.expect("fit");
    assert!(whole.stages.len() >= 4, "chunks: {:?}", whole.stages.len());
    for stop_at in [2, 5, 9, 10, calls - 1] {
        let (_, checkpoint, resumed, rest) =
            circuit_stopped_and_resumed(&dataset, &settings, stop_at);
        assert!(checkpoint.chunked.is_some());
        assert_eq!(rest, calls - stop_at, "stopped at {stop_at}");
        assert_eq!(resumed.outcome, whole.outcome, "stopped at {stop_at}");
        assert_eq!(resumed.stages, whole.stages);
    }
}
