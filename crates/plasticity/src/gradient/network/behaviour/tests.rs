//! The behaviour circuit of docs/model.md §3.2 through the network engine
//! ([`Network::behaviour`], [`BehaviourTrajectory`]) against its own kernel
//! (`gradient::behaviour`): the loss and the θ-gradient of every session agree to
//! 1e-12 (relative), for the Taylor rule over (x, y, w, r) and the MLP rule, centred
//! and raw reward, with and without the weight bound, full tape and checkpointed.

use super::*;
use crate::circuit::{BehaviourCircuit, Network, RewardSignal};
use crate::data::BehaviourDataset;
use crate::gradient::behaviour::{
    behaviour_session_loss, behaviour_session_loss_and_gradient, BehaviourWorkspace,
};
use crate::gradient::network::{
    network_trajectory_sse, network_trajectory_sse_and_gradient, NetworkWorkspace,
};
use crate::gradient::tests::random_theta;
use crate::gradient::GradientStrategy;
use crate::rule::{MlpRule, PlasticityRule, Rule, TaylorRule, Term, Variables};
use crate::task::BehaviourTask;

fn sessions(seed: u64, n_in: usize, n_hidden: usize, signal: RewardSignal) -> BehaviourDataset {
    let task = BehaviourTask {
        n_blocks: 2,
        trials_per_block: 6,
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
    task.simulate().expect("simulated sessions")
}

/// `|a − b| / max(|b|, 1e-6 max|b|)`, the largest over the entries.
fn max_relative(actual: &[f64], expected: &[f64]) -> f64 {
    let scale = expected.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    assert!(scale > 0.0, "expected gradient is identically zero");
    actual
        .iter()
        .zip(expected)
        .map(|(a, b)| (a - b).abs() / b.abs().max(1e-6 * scale))
        .fold(0.0, f64::max)
}

/// Compares every session of `data` through both engines; returns the largest
/// relative difference of the loss and of the gradient, and how many weights the
/// kernel's bound clipped.
fn compare(
    label: &str,
    circuit: &BehaviourCircuit,
    data: &BehaviourDataset,
    rule: &Rule,
    theta: &[f64],
) -> (f64, f64, usize) {
    let network = Network::behaviour(circuit, rule.clone()).expect("the behaviour network");
    assert_eq!(network.n_parameters(), rule.n_parameters());
    let mut kernel_ws = BehaviourWorkspace::new();
    let mut network_ws = NetworkWorkspace::new();
    let (mut loss_difference, mut gradient_difference, mut clipped) = (0.0f64, 0.0f64, 0);
    for k in 0..data.n_sessions() {
        let session = data.session(k);
        let converted = BehaviourTrajectory::new(circuit, session).expect("conversion");
        let trajectory = converted.trajectory();
        let mut expected_gradient = vec![0.0; theta.len()];
        let expected = behaviour_session_loss_and_gradient(
            circuit,
            rule,
            theta,
            session,
            GradientStrategy::Checkpointed,
            &mut kernel_ws,
            &mut expected_gradient,
        );
        clipped += expected.clipped;
        let forward_only = behaviour_session_loss(circuit, rule, theta, session, &mut kernel_ws);
        let network_forward = network_trajectory_sse(
            &network,
            theta,
            converted.initial_weights(),
            trajectory,
            &mut network_ws,
        );
        let relative = |a: f64, b: f64| (a - b).abs() / b.abs();
        loss_difference = loss_difference.max(relative(network_forward, forward_only.loss));
        for strategy in [
            GradientStrategy::FullTape,
            GradientStrategy::Checkpointed,
            GradientStrategy::CheckpointEvery(3),
        ] {
            let mut gradient = vec![0.0; theta.len()];
            let loss = network_trajectory_sse_and_gradient(
                &network,
                theta,
                trajectory,
                strategy,
                &mut network_ws,
                &mut gradient,
                None,
            );
            loss_difference = loss_difference.max(relative(loss, expected.loss));
            gradient_difference =
                gradient_difference.max(max_relative(&gradient, &expected_gradient));
        }
    }
    assert!(
        loss_difference <= 1e-12,
        "{label}: loss differs by {loss_difference:e} (relative)"
    );
    assert!(
        gradient_difference <= 1e-12,
        "{label}: gradient differs by {gradient_difference:e} (relative)"
    );
    println!("{label}: max relative difference loss {loss_difference:.1e}, gradient {gradient_difference:.1e}");
    (loss_difference, gradient_difference, clipped)
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
fn the_behaviour_circuit_through_the_network_equals_the_behaviour_kernel_taylor() {
    let rule = Rule::Taylor(TaylorRule::new(Variables::Xywr));
    // the SPEC sizes (v = 5/10) and sizes whose v = 5/7 is not a binary fraction
    for (seed, (n_in, n_hidden)) in [(0u64, (2, 10)), (1, (3, 7))] {
        for signal in [RewardSignal::Centred, RewardSignal::Raw] {
            let data = sessions(seed, n_in, n_hidden, signal);
            let circuit = BehaviourCircuit::new(n_in, n_hidden);
            let theta = random_theta(70 + seed, 81, 0.1);
            let label = format!("taylor {n_in}×{n_hidden} {}", signal.name());
            let (_, _, clipped) = compare(&label, &circuit, &data, &rule, &theta);
            assert_eq!(clipped, 0);
            let bounded = circuit.with_weight_bound(Some(0.9));
            let (_, _, clipped) = compare(
                &format!("{label} bounded"),
                &bounded,
                &data,
                &rule,
                &growing_taylor(80 + seed),
            );
            assert!(clipped > 0, "{label}: the bound never engaged");
        }
    }
}

#[test]
fn the_behaviour_circuit_through_the_network_equals_the_behaviour_kernel_mlp() {
    for (seed, hidden) in [(2u64, vec![6]), (3, vec![4, 3])] {
        let rule = Rule::Mlp(MlpRule::new(Variables::Xywr, &hidden).expect("sizes"));
        for signal in [RewardSignal::Centred, RewardSignal::Raw] {
            let data = sessions(seed, 3, 7, signal);
            let theta = random_theta(90 + seed, rule.n_parameters(), 0.5);
            for bound in [None, Some(0.6)] {
                let circuit = BehaviourCircuit::new(3, 7).with_weight_bound(bound);
                let label = format!("mlp {hidden:?} {} bound {bound:?}", signal.name());
                let (_, _, clipped) = compare(&label, &circuit, &data, &rule, &theta);
                if bound.is_some() {
                    assert!(clipped > 0, "{label}: the bound never engaged");
                }
            }
        }
    }
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
