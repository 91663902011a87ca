//! The behaviour circuit of docs/model.md §3.2 through the engine ([`BehaviourEngine`]):
//! the adjoint (full tape, checkpointed, every 3 steps) against forward-mode dual
//! numbers (1e-9 relative) and central finite differences (1e-5); the engine's forward
//! mode and Fisher-scoring score against the adjoint (1e-10); the clipped-weight count
//! equal on every path. Small simulated sessions of different lengths, the Taylor rule
//! over (x, y, w, r) and the MLP rule, the centred and raw reward signals, sizes whose
//! readout `v = 5/7` is not a binary fraction, and an engaged weight bound.

use num_dual::Dual64;

use super::*;
use crate::circuit::{BehaviourCircuit, RewardSignal};
use crate::data::BehaviourDataset;
use crate::gradient::network::jacobian::{
    network_trajectory_fisher, network_trajectory_loss_and_gradient_forward,
    NetworkTangentWorkspace,
};
use crate::gradient::network::single_layer::tests::{
    assert_close_with_floor as assert_close, random_theta,
};
use crate::gradient::network::{network_trajectory_loss_and_gradient, NetworkWorkspace};
use crate::gradient::GradientStrategy;
use crate::optim::least_squares::GaussNewtonSystem;
use crate::rule::{MlpRule, PlasticityRule, Rule, Term, Variables};
use crate::task::BehaviourTask;

fn sessions(seed: u64, n_in: usize, n_hidden: usize, signal: RewardSignal) -> BehaviourDataset {
    let task = BehaviourTask {
        n_blocks: 2,
        trials_per_block: 5,
        n_in,
        n_hidden,
        input_noise_std: 0.1,
        initial_weight_std: 0.5,
        sessions: 3,
        rule: "x*r - 0.3*w + 0.2*x*y*r".into(),
        reward_signal: signal,
        seed,
        ..BehaviourTask::default()
    };
    let dataset = task.simulate().expect("simulated sessions");
    let lengths = &dataset.n_presentations;
    assert!(
        lengths.iter().any(|&n| n != lengths[0]),
        "the test wants sessions of different lengths, got {lengths:?}"
    );
    dataset
}

/// Every session of `data` converted for `engine`.
fn converted(engine: &BehaviourEngine, data: &BehaviourDataset) -> Vec<BehaviourTrajectory> {
    (0..data.n_sessions())
        .map(|k| engine.trajectory(data.session(k)).expect("conversion"))
        .collect()
}

/// The summed mean cross-entropy of the sessions, and the weights the bound clipped.
fn loss(engine: &BehaviourEngine, sessions: &[BehaviourTrajectory], theta: &[f64]) -> (f64, usize) {
    let mut ws = NetworkWorkspace::new();
    sessions.iter().fold((0.0, 0), |(total, clipped), session| {
        let result = engine.replay(theta, session, &mut ws, |_, _, _, _| {});
        (total + result.loss, clipped + result.clipped)
    })
}

/// The adjoint's summed loss, clipped count and gradient.
fn adjoint(
    engine: &BehaviourEngine,
    sessions: &[BehaviourTrajectory],
    theta: &[f64],
    strategy: GradientStrategy,
) -> (f64, usize, Vec<f64>) {
    let mut ws = NetworkWorkspace::new();
    let mut gradient = vec![0.0; theta.len()];
    let (mut total, mut clipped) = (0.0, 0);
    for session in sessions {
        let result = network_trajectory_loss_and_gradient(
            engine.network(),
            theta,
            session.trajectory(),
            strategy,
            &mut ws,
            &mut gradient,
            None,
        );
        total += result.loss;
        clipped += result.clipped;
    }
    (total, clipped, gradient)
}

/// The forward-mode summed loss, clipped count and gradient over `active`.
fn forward_mode(
    engine: &BehaviourEngine,
    sessions: &[BehaviourTrajectory],
    theta: &[f64],
    active: &[usize],
) -> (f64, usize, Vec<f64>) {
    let mut ws = NetworkTangentWorkspace::new();
    let mut gradient = vec![0.0; theta.len()];
    let (mut total, mut clipped) = (0.0, 0);
    for session in sessions {
        let result = network_trajectory_loss_and_gradient_forward(
            engine.network(),
            theta,
            active,
            session.trajectory(),
            &mut ws,
            &mut gradient,
        );
        total += result.loss;
        clipped += result.clipped;
    }
    (total, clipped, gradient)
}

fn dual(engine: &BehaviourEngine, sessions: &[BehaviourTrajectory], theta: &[f64]) -> Vec<f64> {
    let mut ws = NetworkWorkspace::<Dual64>::new();
    (0..theta.len())
        .map(|p| {
            let seeded: Vec<Dual64> = theta
                .iter()
                .enumerate()
                .map(|(q, &v)| Dual64::new(v, if p == q { 1.0 } else { 0.0 }))
                .collect();
            sessions
                .iter()
                .map(|session| {
                    engine
                        .replay(&seeded, session, &mut ws, |_, _, _, _| {})
                        .loss
                        .eps
                })
                .sum()
        })
        .collect()
}

fn finite_differences(
    engine: &BehaviourEngine,
    sessions: &[BehaviourTrajectory],
    theta: &[f64],
) -> Vec<f64> {
    (0..theta.len())
        .map(|p| {
            let h = 1e-5 * theta[p].abs().max(1e-1);
            let (mut plus, mut minus) = (theta.to_vec(), theta.to_vec());
            plus[p] += h;
            minus[p] -= h;
            (loss(engine, sessions, &plus).0 - loss(engine, sessions, &minus).0) / (2.0 * h)
        })
        .collect()
}

/// The Fisher-scoring score `Σ_s (1/P_s) Σ_p (σ(z) − d) ∂z/∂θ` over every parameter.
fn fisher_score(
    engine: &BehaviourEngine,
    sessions: &[BehaviourTrajectory],
    theta: &[f64],
) -> (f64, usize, Vec<f64>) {
    let all: Vec<usize> = (0..theta.len()).collect();
    let mut ws = NetworkTangentWorkspace::new();
    let mut score = vec![0.0; theta.len()];
    let (mut total, mut clipped) = (0.0, 0);
    for session in sessions {
        let mut system = GaussNewtonSystem::zeros(theta.len());
        let result = network_trajectory_fisher(
            engine.network(),
            theta,
            &all,
            session.trajectory(),
            &mut ws,
            &mut system,
        )
        .expect("a cross-entropy trajectory");
        assert_eq!(system.residuals, session.n_decisions());
        for (s, g) in score.iter_mut().zip(&system.gradient) {
            *s += g / system.residuals as f64;
        }
        total += result.loss;
        clipped += result.clipped;
    }
    (total, clipped, score)
}

/// Every gradient path against the others and against dual numbers and finite
/// differences; returns how many weights the bound clipped.
fn check(
    label: &str,
    circuit: &BehaviourCircuit,
    data: &BehaviourDataset,
    rule: &Rule,
    theta: &[f64],
) -> usize {
    let engine = BehaviourEngine::new(circuit, rule.clone()).expect("the behaviour engine");
    assert_eq!(engine.network().n_parameters(), rule.n_parameters());
    let sessions = converted(&engine, data);
    let (total, clipped) = loss(&engine, &sessions, theta);
    assert!(total.is_finite() && total > 0.0, "{label}: loss {total}");
    let (adjoint_total, adjoint_clipped, gradient) =
        adjoint(&engine, &sessions, theta, GradientStrategy::Checkpointed);
    assert!(
        (adjoint_total - total).abs() <= 1e-12 * total,
        "{label}: adjoint loss"
    );
    assert_eq!(
        adjoint_clipped, clipped,
        "{label}: adjoint's clipped weights"
    );
    for strategy in [
        GradientStrategy::FullTape,
        GradientStrategy::CheckpointEvery(3),
    ] {
        let (_, other_clipped, other) = adjoint(&engine, &sessions, theta, strategy);
        assert_eq!(
            other_clipped, clipped,
            "{label}: {strategy:?} clipped weights"
        );
        assert_close(
            &format!("{label}: {strategy:?} vs checkpointed"),
            &other,
            &gradient,
            1e-12,
            1e-9,
        );
    }
    assert_close(
        &format!("{label} vs num-dual"),
        &gradient,
        &dual(&engine, &sessions, theta),
        1e-9,
        1e-6,
    );
    assert_close(
        &format!("{label} vs finite differences"),
        &gradient,
        &finite_differences(&engine, &sessions, theta),
        1e-5,
        1e-3,
    );
    // forward mode: same loss, clipped count and gradient
    let all: Vec<usize> = (0..theta.len()).collect();
    let (forward_total, forward_clipped, forward) = forward_mode(&engine, &sessions, theta, &all);
    assert!(
        (forward_total - total).abs() <= 1e-12 * total,
        "{label}: forward loss"
    );
    assert_eq!(
        forward_clipped, clipped,
        "{label}: forward mode's clipped weights"
    );
    assert_close(
        &format!("{label}: forward mode vs adjoint"),
        &forward,
        &gradient,
        1e-10,
        1e-9,
    );
    // the Fisher-scoring score is the gradient of the mean cross-entropy
    let (fisher_total, fisher_clipped, score) = fisher_score(&engine, &sessions, theta);
    assert!(
        (fisher_total - total).abs() <= 1e-12 * total,
        "{label}: Fisher loss"
    );
    assert_eq!(
        fisher_clipped, clipped,
        "{label}: Fisher pass's clipped weights"
    );
    assert_close(
        &format!("{label}: Fisher score vs adjoint"),
        &score,
        &gradient,
        1e-10,
        1e-9,
    );
    // tangents for every third parameter only: those entries, and zeros elsewhere
    let active: Vec<usize> = (0..theta.len()).step_by(3).collect();
    let (_, _, subset) = forward_mode(&engine, &sessions, theta, &active);
    for (k, (&s, &f)) in subset.iter().zip(&forward).enumerate() {
        let expected = if k % 3 == 0 { f } else { 0.0 };
        assert!(
            (s - expected).abs() <= 1e-13 * f.abs().max(1e-9),
            "{label}: active {k}: {s} vs {expected}"
        );
    }
    clipped
}

/// θ of the Taylor rule that grows the weights (so that a bound of 0.9 engages).
fn growing_taylor(seed: u64) -> Vec<f64> {
    let mut theta = random_theta(seed, 81, 0.02);
    for (term, value) in [("x*r", 2.0), ("1", 0.3)] {
        let index = Term::parse(term, Variables::Xywr)
            .expect("term")
            .index(Variables::Xywr)
            .expect("index");
        theta[index] = value;
    }
    theta
}

#[test]
fn taylor_behaviour_gradients_match_dual_numbers_and_finite_differences() {
    let rule = Rule::taylor(Variables::Xywr);
    // the SPEC's readout v = 5/10 and v = 5/7, which is not a binary fraction
    for (seed, (n_in, n_hidden), signal) in [
        (0u64, (3, 4), RewardSignal::Centred),
        (1, (3, 4), RewardSignal::Raw),
        (2, (2, 7), RewardSignal::Centred),
    ] {
        let data = sessions(seed, n_in, n_hidden, signal);
        let circuit = BehaviourCircuit::new(n_in, n_hidden);
        let theta = random_theta(40 + seed, 81, 0.1);
        let clipped = check(
            &format!("taylor seed {seed}"),
            &circuit,
            &data,
            &rule,
            &theta,
        );
        assert_eq!(clipped, 0);
    }
}

#[test]
fn mlp_behaviour_gradients_match_dual_numbers_and_finite_differences() {
    for (seed, hidden) in [(3u64, vec![6]), (4, vec![4, 3])] {
        let rule = Rule::Mlp(MlpRule::new(Variables::Xywr, &hidden).expect("sizes"));
        for (signal, bound) in [
            (RewardSignal::Centred, None),
            (RewardSignal::Raw, Some(0.6)),
        ] {
            let data = sessions(seed, 3, 7, signal);
            let theta = random_theta(50 + seed, rule.n_parameters(), 0.5);
            let circuit = BehaviourCircuit::new(3, 7).with_weight_bound(bound);
            let label = format!("mlp {hidden:?} {} bound {bound:?}", signal.name());
            let clipped = check(&label, &circuit, &data, &rule, &theta);
            if bound.is_some() {
                assert!(clipped > 0, "{label}: the bound never engaged");
            }
        }
    }
}

#[test]
fn weight_bound_is_differentiated_where_it_engages() {
    let rule = Rule::taylor(Variables::Xywr);
    for (seed, signal) in [(5u64, RewardSignal::Centred), (6, RewardSignal::Raw)] {
        let data = sessions(seed, 3, 4, signal);
        let theta = growing_taylor(60 + seed);
        let circuit = BehaviourCircuit::new(3, 4).with_weight_bound(Some(0.9));
        let clipped = check(
            &format!("bounded seed {seed}"),
            &circuit,
            &data,
            &rule,
            &theta,
        );
        assert!(clipped > 0, "the bound never engaged");
        // and the bound changes the loss (it is not a no-op)
        let bounded = BehaviourEngine::new(&circuit, rule.clone()).expect("engine");
        let free =
            BehaviourEngine::new(&BehaviourCircuit::new(3, 4), rule.clone()).expect("engine");
        let (with_bound, _) = loss(&bounded, &converted(&bounded, &data), &theta);
        let (without, _) = loss(&free, &converted(&free, &data), &theta);
        assert!((with_bound - without).abs() > 1e-9);
    }
}

#[test]
fn the_fisher_pass_refuses_a_squared_error_and_gauss_newton_a_cross_entropy() {
    let data = sessions(7, 3, 4, RewardSignal::Centred);
    let rule = Rule::taylor(Variables::Xywr);
    let engine = BehaviourEngine::new(&BehaviourCircuit::new(3, 4), rule).expect("engine");
    let session = engine.trajectory(data.session(0)).expect("conversion");
    let theta = vec![0.0; 81];
    let mut system = GaussNewtonSystem::zeros(81);
    let all: Vec<usize> = (0..81).collect();
    let mut ws = NetworkTangentWorkspace::new();
    let error = crate::gradient::network::jacobian::network_trajectory_gauss_newton(
        engine.network(),
        &theta,
        &all,
        session.trajectory(),
        &mut ws,
        &mut system,
        |_, _, _, _| {},
    )
    .expect_err("a cross-entropy is not least squares");
    assert!(error.to_string().contains("cross-entropy"), "{error}");
    let squared = crate::circuit::trajectory::NetworkTrajectory {
        loss: TrajectoryLoss::SquaredError,
        ..session.trajectory()
    };
    let error = network_trajectory_fisher(
        engine.network(),
        &theta,
        &all,
        squared,
        &mut ws,
        &mut system,
    )
    .expect_err("a squared error has no Fisher scoring of decisions");
    assert!(error.to_string().contains("squared error"), "{error}");
}

#[test]
fn the_conversion_refuses_sessions_of_other_sizes() {
    let data = sessions(4, 2, 10, RewardSignal::Centred);
    let error = BehaviourTrajectory::new(&BehaviourCircuit::new(3, 10), data.session(0))
        .expect_err("n_in 3 against inputs of 2");
    assert!(error.to_string().contains("inputs"), "{error}");
    let error = BehaviourTrajectory::new(&BehaviourCircuit::new(2, 8), data.session(0))
        .expect_err("n_hidden 8 against W₀ of 10 × 2");
    assert!(error.to_string().contains("initial_weights"), "{error}");
}

/// `data` (accept/reject) read as choices: a trial's presentations are its options,
/// the accepted one the chosen one, moved to the trial's first presentation in every
/// other trial (the engine puts it last); a trial without an acceptance has no choice.
fn as_choices(data: &BehaviourDataset) -> BehaviourDataset {
    let mut decisions = data.decisions.clone();
    for k in 0..data.n_sessions() {
        let session = data.session(k);
        let mut trial = 0;
        crate::data::behaviour::for_each_trial(session.trial_of_presentation, |range| {
            trial += 1;
            let chosen = range.clone().find(|&p| session.decisions[p] == 1);
            if let (Some(chosen), true) = (chosen, trial % 2 == 0 && range.len() > 1) {
                decisions[[k, chosen]] = 0;
                decisions[[k, range.start]] = 1;
            }
        });
    }
    let mut metadata = data.metadata.clone();
    metadata.insert("kind".into(), "choice".into());
    BehaviourDataset::new(
        data.inputs.clone(),
        data.odours.clone(),
        decisions,
        data.trial_of_presentation.clone(),
        data.n_presentations.clone(),
        data.rewards.clone(),
        data.expected_rewards.clone(),
        data.n_trials.clone(),
        data.initial_weights.clone(),
        metadata,
        std::path::Path::new("(test)"),
    )
    .expect("a valid choice dataset")
}

#[test]
fn choice_gradients_match_dual_numbers_and_finite_differences() {
    let taylor = Rule::taylor(Variables::Xywr);
    let mlp = Rule::Mlp(MlpRule::new(Variables::Xywr, &[5]).expect("sizes"));
    for (seed, rule, bound) in [
        (8u64, &taylor, None),
        (9, &taylor, Some(0.9)),
        (10, &mlp, None),
    ] {
        let data = as_choices(&sessions(seed, 3, 4, RewardSignal::Centred));
        // options sets of one, two and more, chosen first or last, and no-choice trials
        let mut sizes = std::collections::BTreeSet::new();
        let mut no_choice = 0;
        for k in 0..data.n_sessions() {
            let session = data.session(k);
            crate::data::behaviour::for_each_trial(session.trial_of_presentation, |range| {
                if session.decisions[range.clone()].contains(&1) {
                    sizes.insert(range.len().min(3));
                } else {
                    no_choice += 1;
                }
            });
        }
        assert_eq!(sizes.len(), 3, "seed {seed}: option-set sizes {sizes:?}");
        let theta = if bound.is_some() {
            growing_taylor(70 + seed)
        } else {
            random_theta(70 + seed, rule.n_parameters(), 0.3)
        };
        let circuit = BehaviourCircuit::new(3, 4).with_weight_bound(bound);
        let engine = BehaviourEngine::new(&circuit, rule.clone()).expect("engine");
        let converted = converted(&engine, &data);
        assert!(converted
            .iter()
            .all(|s| s.trajectory().loss == TrajectoryLoss::Softmax));
        let steps: usize = converted.iter().map(|s| s.steps()).sum();
        let presentations: usize = data.n_presentations.iter().sum();
        assert!(
            no_choice == 0 || steps < presentations,
            "no-choice trials have no step"
        );
        let clipped = check(
            &format!("choice seed {seed}"),
            &circuit,
            &data,
            rule,
            &theta,
        );
        if bound.is_some() {
            assert!(clipped > 0, "seed {seed}: the bound never engaged");
        }
    }
}

#[test]
fn the_softmax_loss_is_the_mean_over_choice_sets_of_log_sum_exp_minus_the_chosen_logit() {
    // the engine's loss against log-sum-exp of the replayed logits, set by set
    let data = as_choices(&sessions(11, 3, 4, RewardSignal::Raw));
    let circuit = BehaviourCircuit::new(3, 4);
    let rule = Rule::taylor(Variables::Xywr);
    let theta = random_theta(81, 81, 0.2);
    let engine = BehaviourEngine::new(&circuit, rule).expect("engine");
    for k in 0..data.n_sessions() {
        let session = engine.trajectory(data.session(k)).expect("conversion");
        let mut ws = NetworkWorkspace::new();
        let mut net = NetworkWorkspace::new();
        let mut logits = Vec::new();
        let network = engine.network();
        let readout = session.trajectory().recorded[0];
        let total = engine.replay(&theta, &session, &mut ws, |_, _, _, _| {});
        crate::gradient::network::network_trajectory_replay(
            network,
            &theta,
            session.initial_weights(),
            session.trajectory(),
            &mut net,
            |t, w, y, _| {
                let drive = &session.trajectory().drive[t * y.len()..(t + 1) * y.len()];
                logits.push(network.net_input(readout, w, y, y, drive));
            },
        );
        let decisions = &session.trajectory().recorded_activity;
        let (mut expected, mut sets, mut start) = (0.0, 0usize, 0);
        for t in 0..logits.len() {
            if decisions[t] == 1.0 {
                let set = &logits[start..=t];
                let lse = set.iter().map(|z| z.exp()).sum::<f64>().ln();
                expected += lse - logits[t];
                sets += 1;
                start = t + 1;
            }
        }
        assert_eq!(sets, session.n_decisions());
        let expected = expected / sets as f64;
        assert!(
            (total.loss - expected).abs() <= 1e-12 * expected.abs().max(1.0),
            "session {k}: {} vs {expected}",
            total.loss
        );
    }
}
