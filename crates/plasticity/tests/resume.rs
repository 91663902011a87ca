//! A fit stopped after some epochs and continued from its checkpoint (passed through
//! JSON, as the CLI stores it) ends bit for bit where the uninterrupted fit ends.

use std::ops::ControlFlow;

use plasticity::circuit::CircuitSpec;
use plasticity::fit::{FitCheckpoint, FitConfig, OptimizerKind};
use plasticity::pipeline::behaviour::{fit_behaviour, BehaviourFitSettings};
use plasticity::pipeline::circuit::{fit_circuit, CircuitFitSettings};
use plasticity::pipeline::neural::{fit_neural, NeuralFitSettings};
use plasticity::task::circuit::CircuitTask;
use plasticity::task::{BehaviourTask, OjaTask};

fn through_json(checkpoint: &FitCheckpoint) -> FitCheckpoint {
    let text = serde_json::to_string(checkpoint).expect("serialised");
    serde_json::from_str(&text).expect("parsed")
}

fn neural_resume_matches(optimizer: OptimizerKind, batch_size: usize, stop_at: usize) {
    let dataset = OjaTask {
        n_pre: 8,
        n_post: 20,
        trajectories: 6,
        steps: 20,
        seed: 3,
        ..OjaTask::default()
    }
    .simulate()
    .expect("simulated");
    let settings = NeuralFitSettings {
        fit: FitConfig {
            optimizer,
            epochs: 25,
            batch_size,
            learning_rate: 1e-2,
            ..FitConfig::default()
        },
        eval_trajectories: 1,
        // the L-BFGS/Adam path (Levenberg–Marquardt does not stream or resume mid-stage)
        solver: plasticity::fit::Solver::Lbfgs,
        ..NeuralFitSettings::default()
    };
    let whole = fit_neural(&dataset, &settings, &mut |_| ControlFlow::Continue(())).expect("fit");

    let mut taken = None;
    let interrupted = fit_neural(&dataset, &settings, &mut |report| {
        if report.epoch == stop_at {
            taken = Some((report.checkpoint)());
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })
    .expect("interrupted fit");
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

#[test]
fn behaviour_fit_resumes_to_the_identical_result() {
    let dataset = BehaviourTask {
        sessions: 3,
        n_blocks: 1,
        trials_per_block: 40,
        ..BehaviourTask::default()
    }
    .simulate()
    .expect("simulated");
    let settings = BehaviourFitSettings {
        fit: FitConfig {
            epochs: 12,
            learning_rate: 1e-2,
            ..BehaviourFitSettings::default().fit
        },
        eval_sessions: 1,
        ..BehaviourFitSettings::default()
    };
    let whole =
        fit_behaviour(&dataset, &settings, &mut |_| ControlFlow::Continue(())).expect("fit");
    let mut taken = None;
    fit_behaviour(&dataset, &settings, &mut |report| {
        if report.epoch == 5 {
            taken = Some((report.checkpoint)());
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })
    .expect("interrupted fit");
    let mut resumed_settings = settings.clone();
    resumed_settings.fit.resume = Some(Box::new(through_json(&taken.expect("taken"))));
    let resumed = fit_behaviour(&dataset, &resumed_settings, &mut |_| {
        ControlFlow::Continue(())
    })
    .expect("resumed");
    assert_eq!(resumed.outcome.theta, whole.outcome.theta);
    assert_eq!(resumed.outcome.loss_history, whole.outcome.loss_history);
}

/// The behaviour fit by Levenberg–Marquardt (Fisher scoring), stopped after each kept
/// step and continued from its checkpoint through JSON: the identical fit; and an
/// Adam checkpoint is not continued by it.
#[test]
fn behaviour_levenberg_marquardt_fit_resumes_to_the_identical_result() {
    let dataset = BehaviourTask {
        sessions: 3,
        n_blocks: 2,
        trials_per_block: 30,
        rule: "x*r - 0.05*w".into(),
        ..BehaviourTask::default()
    }
    .simulate()
    .expect("simulated");
    let settings = BehaviourFitSettings {
        trainable: "1,x,r,w,x*r".into(),
        fit: FitConfig {
            optimizer: OptimizerKind::Lbfgs,
            epochs: 30,
            l1: 0.0,
            ..BehaviourFitSettings::default().fit
        },
        eval_sessions: 1,
        solver: plasticity::fit::Solver::LevenbergMarquardt,
        ..BehaviourFitSettings::default()
    };
    let whole =
        fit_behaviour(&dataset, &settings, &mut |_| ControlFlow::Continue(())).expect("fit");
    assert_eq!(whole.solver_used, "levenberg-marquardt");
    let steps = whole.outcome.loss_history.len();
    assert!(steps > 2, "{steps} kept steps");
    for stop_at in 1..steps {
        let mut taken = None;
        fit_behaviour(&dataset, &settings, &mut |report| {
            if report.epoch == stop_at {
                taken = Some((report.checkpoint)());
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .expect("interrupted fit");
        let mut resumed_settings = settings.clone();
        resumed_settings.fit.resume = Some(Box::new(through_json(&taken.expect("taken"))));
        let resumed = fit_behaviour(&dataset, &resumed_settings, &mut |_| {
            ControlFlow::Continue(())
        })
        .expect("resumed");
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
        solver: plasticity::fit::Solver::Auto,
        ..settings.clone()
    };
    let mut taken = None;
    fit_behaviour(&dataset, &adam, &mut |report| {
        taken = Some((report.checkpoint)());
        ControlFlow::Break(())
    })
    .expect("interrupted Adam fit");
    let mut resumed_settings = settings.clone();
    resumed_settings.fit.resume = Some(Box::new(through_json(&taken.expect("taken"))));
    let error = fit_behaviour(&dataset, &resumed_settings, &mut |_| {
        ControlFlow::Continue(())
    })
    .expect_err("refused")
    .to_string();
    assert!(error.contains("checkpoint"), "{error}");
}

#[test]
fn a_checkpoint_of_another_optimizer_is_refused() {
    let dataset = OjaTask {
        n_pre: 4,
        n_post: 6,
        trajectories: 2,
        steps: 10,
        ..OjaTask::default()
    }
    .simulate()
    .expect("simulated");
    let mut settings = NeuralFitSettings {
        fit: FitConfig {
            optimizer: OptimizerKind::Adam,
            epochs: 4,
            ..FitConfig::default()
        },
        eval_trajectories: 1,
        // the L-BFGS/Adam path (Levenberg–Marquardt does not stream or resume mid-stage)
        solver: plasticity::fit::Solver::Lbfgs,
        ..NeuralFitSettings::default()
    };
    let mut taken = None;
    fit_neural(&dataset, &settings, &mut |report| {
        taken = Some((report.checkpoint)());
        ControlFlow::Continue(())
    })
    .expect("fit");
    settings.fit.optimizer = OptimizerKind::Lbfgs;
    settings.fit.resume = Some(Box::new(taken.expect("taken")));
    let error = fit_neural(&dataset, &settings, &mut |_| ControlFlow::Continue(()))
        .expect_err("an Adam checkpoint cannot continue an L-BFGS fit");
    assert!(error.to_string().contains("Adam"), "{error}");
}

/// The recurrent circuit of experiments/circuits/recurrent.toml, 3 trajectories × 12
/// steps, noisy, half the neurons recorded: no zero residual.
fn recurrent_recording() -> plasticity::data::CircuitDataset {
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
    let mut calls = 0;
    let whole = fit_circuit(&dataset, &settings, &mut |_| {
        calls += 1;
        ControlFlow::Continue(())
    })
    .expect("fit");
    let horizons: Vec<usize> = whole.stages.iter().map(|s| s.horizon).collect();
    assert!(
        horizons.iter().filter(|&&h| h == 12).count() == 2,
        "both starts ran: {horizons:?}"
    );
    for stop_at in [1, calls / 3, calls / 2 - 1, calls / 2 + 2, calls - 1] {
        let mut seen = 0;
        let mut taken = None;
        let interrupted = fit_circuit(&dataset, &settings, &mut |report| {
            seen += 1;
            if seen == stop_at {
                taken = Some((report.checkpoint)());
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .expect("interrupted fit");
        assert_eq!(
            interrupted.outcome.stop_reason,
            plasticity::fit::StopReason::Interrupted,
            "stopped at report {stop_at} of {calls}"
        );
        let checkpoint = through_json(&taken.expect("a checkpoint was taken"));
        assert!(checkpoint.staged.is_some());
        let mut resumed_settings = settings.clone();
        resumed_settings.fit.resume = Some(Box::new(checkpoint));
        let mut rest = 0;
        let resumed = fit_circuit(&dataset, &resumed_settings, &mut |_| {
            rest += 1;
            ControlFlow::Continue(())
        })
        .expect("resumed fit");
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
    let dataset = OjaTask {
        n_pre: 6,
        n_post: 12,
        trajectories: 4,
        steps: 20,
        noise_std: 0.1,
        seed: 5,
        ..OjaTask::default()
    }
    .simulate()
    .expect("simulated");
    let settings = NeuralFitSettings {
        fit: FitConfig {
            epochs: 8,
            ..NeuralFitSettings::default().fit
        },
        eval_trajectories: 1,
        solver: plasticity::fit::Solver::LevenbergMarquardt,
        ..NeuralFitSettings::default()
    };
    let mut calls = 0;
    let whole = fit_neural(&dataset, &settings, &mut |_| {
        calls += 1;
        ControlFlow::Continue(())
    })
    .expect("fit");
    assert!(calls > 4, "{calls} kept steps");
    let stop_at = calls / 2;
    let mut seen = 0;
    let mut taken = None;
    fit_neural(&dataset, &settings, &mut |report| {
        seen += 1;
        if seen == stop_at {
            taken = Some((report.checkpoint)());
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })
    .expect("interrupted fit");
    let mut resumed_settings = settings.clone();
    resumed_settings.fit.resume = Some(Box::new(through_json(&taken.expect("taken"))));
    let resumed = fit_neural(&dataset, &resumed_settings, &mut |_| {
        ControlFlow::Continue(())
    })
    .expect("fit");
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
        solver: plasticity::fit::Solver::Lbfgs,
        horizon_stages: vec![6],
        stage_epochs: 9,
        precondition_every: 4,
        eval_trajectories: 1,
        ..CircuitFitSettings::default()
    };
    let mut calls = 0;
    let whole = fit_circuit(&dataset, &settings, &mut |_| {
        calls += 1;
        ControlFlow::Continue(())
    })
    .expect("fit");
    assert!(whole.stages.len() >= 4, "chunks: {:?}", whole.stages.len());
    for stop_at in [2, 5, 9, 10, calls - 1] {
        let mut seen = 0;
        let mut taken = None;
        fit_circuit(&dataset, &settings, &mut |report| {
            seen += 1;
            if seen == stop_at {
                taken = Some((report.checkpoint)());
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .expect("interrupted fit");
        let checkpoint = through_json(&taken.expect("a checkpoint was taken"));
        assert!(checkpoint.chunked.is_some());
        let mut resumed_settings = settings.clone();
        resumed_settings.fit.resume = Some(Box::new(checkpoint));
        let mut rest = 0;
        let resumed = fit_circuit(&dataset, &resumed_settings, &mut |_| {
            rest += 1;
            ControlFlow::Continue(())
        })
        .expect("resumed fit");
        assert_eq!(rest, calls - stop_at, "stopped at {stop_at}");
        assert_eq!(resumed.outcome, whole.outcome, "stopped at {stop_at}");
        assert_eq!(resumed.stages, whole.stages);
    }
}
