//! Determinism: a fit gives bit-identical parameters, loss histories and final losses
//! with 1 and 2 rayon threads and across repeated runs — a neural fit (L-BFGS, on a
//! layer large enough that the circuit's kernels split rows across threads) and a
//! behaviour fit (Adam, minibatches).

use std::ops::ControlFlow;

use plasticity::fit::{FitConfig, FitOutcome, OptimizerKind};
use plasticity::pipeline::behaviour::{fit_behaviour, BehaviourFitSettings};
use plasticity::pipeline::neural::{fit_neural, NeuralFitSettings};
use plasticity::task::{BehaviourTask, OjaTask};

/// Runs `f` on a fresh pool of `threads` threads.
fn with_threads<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a thread pool")
        .install(f)
}

/// Every number of the outcome, as bits.
fn bits(outcome: &FitOutcome) -> Vec<u64> {
    let mut all: Vec<u64> = outcome.theta.iter().map(|v| v.to_bits()).collect();
    all.extend(outcome.loss_history.iter().map(|v| v.to_bits()));
    all.extend(outcome.theta_history.iter().flatten().map(|v| v.to_bits()));
    all.push(outcome.final_loss.to_bits());
    all.push(outcome.evaluations as u64);
    all
}

fn assert_identical(runs: &[(usize, FitOutcome)]) {
    let reference = bits(&runs[0].1);
    assert!(reference.len() > 10);
    for (threads, outcome) in &runs[1..] {
        assert!(
            bits(outcome) == reference,
            "{threads} thread(s): θ {:?} differs from {:?}",
            outcome.theta,
            runs[0].1.theta
        );
    }
}

#[test]
fn a_neural_lbfgs_fit_is_identical_with_1_and_2_threads_and_across_runs() {
    const { assert!(33 * 1000 >= plasticity::circuit::PARALLEL_SYNAPSES) };
    let dataset = OjaTask {
        // 33 × 1000 synapses: above PARALLEL_SYNAPSES, so the circuit's row blocks
        // run in parallel too, not only the trajectories
        n_pre: 33,
        n_post: 1000,
        trajectories: 3,
        steps: 10,
        noise_std: 0.05,
        seed: 11,
        ..OjaTask::default()
    }
    .simulate()
    .expect("simulated");
    let settings = NeuralFitSettings {
        fit: FitConfig {
            optimizer: OptimizerKind::Lbfgs,
            epochs: 6,
            ..FitConfig::default()
        },
        eval_trajectories: 1,
        // the L-BFGS path (Levenberg–Marquardt, the default, has tests/neural_engine.rs)
        solver: plasticity::fit::Solver::Lbfgs,
        ..NeuralFitSettings::default()
    };
    let runs: Vec<(usize, FitOutcome)> = [1, 2, 1, 2]
        .into_iter()
        .map(|threads| {
            let fit = with_threads(threads, || {
                fit_neural(&dataset, &settings, &mut |_| ControlFlow::Continue(()))
            })
            .expect("fit");
            (threads, fit.outcome)
        })
        .collect();
    assert_identical(&runs);
}

#[test]
fn a_behaviour_adam_fit_is_identical_with_1_and_2_threads_and_across_runs() {
    let dataset = BehaviourTask {
        n_blocks: 2,
        trials_per_block: 15,
        reward_probabilities: vec![[0.2, 0.8], [0.8, 0.2]],
        sessions: 6,
        seed: 5,
        ..BehaviourTask::default()
    }
    .simulate()
    .expect("simulated");
    let settings = BehaviourFitSettings {
        fit: FitConfig {
            optimizer: OptimizerKind::Adam,
            epochs: 8,
            batch_size: 2,
            learning_rate: 0.01,
            ..BehaviourFitSettings::default().fit
        },
        eval_sessions: 1,
        ..BehaviourFitSettings::default()
    };
    let runs: Vec<(usize, FitOutcome)> = [1, 2, 1, 2]
        .into_iter()
        .map(|threads| {
            let fit = with_threads(threads, || {
                fit_behaviour(&dataset, &settings, &mut |_| ControlFlow::Continue(()))
            })
            .expect("fit");
            (threads, fit.outcome)
        })
        .collect();
    assert_identical(&runs);
}
