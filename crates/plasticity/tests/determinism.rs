//! Determinism: a fit gives bit-identical parameters, loss histories and final losses
//! with 1 and 2 rayon threads and across repeated runs — a neural fit (L-BFGS, on a
//! layer large enough that the circuit's kernels split rows across threads) and a
//! behaviour fit (Adam, minibatches).

mod common;

use common::{behaviour_task, epochs, go_on, neural_settings, oja_data};
use plasticity::fit::{FitOutcome, OptimizerKind, Solver};
use plasticity::pipeline::behaviour::{fit_behaviour, BehaviourFitSettings};
use plasticity::pipeline::neural::fit_neural;

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

/// Fits with 1, 2, 1 and 2 threads; every fit gives the same numbers.
fn assert_identical_on_1_and_2_threads(fit: impl Fn() -> FitOutcome + Sync) {
    let runs: Vec<(usize, FitOutcome)> = [1, 2, 1, 2]
        .into_iter()
        .map(|threads| (threads, with_threads(threads, &fit)))
        .collect();
    assert_identical(&runs);
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
    // 33 × 1000 synapses: above PARALLEL_SYNAPSES, so the circuit's row blocks run in
    // parallel too, not only the trajectories
    let dataset = oja_data([33, 1000, 3, 10], 0.05, 11);
    let mut fit = epochs(6);
    fit.optimizer = OptimizerKind::Lbfgs;
    // the L-BFGS path (Levenberg–Marquardt, the default, has tests/neural_engine.rs)
    let settings = neural_settings(fit, 1, Solver::Lbfgs);
    assert_identical_on_1_and_2_threads(|| {
        let fit = fit_neural(&dataset, &settings, &mut go_on).expect("fit");
        fit.outcome
    });
}

#[test]
fn a_behaviour_adam_fit_is_identical_with_1_and_2_threads_and_across_runs() {
    let mut task = behaviour_task([6, 2, 15], "x*r", 5);
    task.reward_probabilities = vec![[0.2, 0.8], [0.8, 0.2]];
    let dataset = task.simulate().expect("simulated");
    let mut settings = BehaviourFitSettings::default();
    let fit = &mut settings.fit;
    (fit.optimizer, fit.epochs, fit.batch_size) = (OptimizerKind::Adam, 8, 2);
    fit.learning_rate = 0.01;
    settings.eval_sessions = 1;
    assert_identical_on_1_and_2_threads(|| {
        let fit = fit_behaviour(&dataset, &settings, &mut go_on).expect("fit");
        fit.outcome
    });
}
