//! The behaviour adjoint against forward-mode dual numbers (1e-9 relative) and central
//! finite differences (1e-5), on small simulated sessions of different lengths, with
//! the Taylor rule over (x, y, w, r), the MLP rule, the centred and raw reward signals
//! and an engaged weight bound; checkpointed against full tape (1e-12).

use num_dual::Dual64;

use super::*;
use crate::circuit::RewardSignal;
use crate::data::BehaviourDataset;
use crate::gradient::tests::{assert_close_with_floor as assert_close, random_theta};
use crate::rule::{MlpRule, TaylorRule, Variables};
use crate::task::BehaviourTask;

fn small_dataset(seed: u64, reward_signal: RewardSignal) -> BehaviourDataset {
    let task = BehaviourTask {
        n_blocks: 2,
        trials_per_block: 5,
        n_in: 3,
        n_hidden: 4,
        input_noise_std: 0.1,
        initial_weight_std: 0.5,
        sessions: 3,
        rule: "x*r - 0.3*w + 0.2*x*y*r".into(),
        reward_signal,
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

fn circuit_of(dataset: &BehaviourDataset, bound: Option<f64>) -> BehaviourCircuit {
    BehaviourCircuit::new(dataset.n_in(), dataset.n_hidden()).with_weight_bound(bound)
}

fn loss<R: PlasticityRule>(
    circuit: &BehaviourCircuit,
    data: &BehaviourDataset,
    rule: &R,
    theta: &[f64],
) -> f64 {
    let mut ws = BehaviourWorkspace::new();
    (0..data.n_sessions())
        .map(|k| behaviour_session_loss(circuit, rule, theta, data.session(k), &mut ws).loss)
        .sum()
}

fn adjoint<R: PlasticityRule>(
    circuit: &BehaviourCircuit,
    data: &BehaviourDataset,
    rule: &R,
    theta: &[f64],
    strategy: GradientStrategy,
) -> (f64, usize, Vec<f64>) {
    let mut ws = BehaviourWorkspace::new();
    let mut gradient = vec![0.0; theta.len()];
    let (mut total, mut clipped) = (0.0, 0);
    for k in 0..data.n_sessions() {
        let result = behaviour_session_loss_and_gradient(
            circuit,
            rule,
            theta,
            data.session(k),
            strategy,
            &mut ws,
            &mut gradient,
        );
        total += result.loss;
        clipped += result.clipped;
    }
    (total, clipped, gradient)
}

fn dual<R: PlasticityRule>(
    circuit: &BehaviourCircuit,
    data: &BehaviourDataset,
    rule: &R,
    theta: &[f64],
) -> Vec<f64> {
    let mut ws = BehaviourWorkspace::<Dual64>::new();
    (0..theta.len())
        .map(|p| {
            let seeded: Vec<Dual64> = theta
                .iter()
                .enumerate()
                .map(|(q, &v)| Dual64::new(v, if p == q { 1.0 } else { 0.0 }))
                .collect();
            (0..data.n_sessions())
                .map(|k| {
                    behaviour_session_loss(circuit, rule, &seeded, data.session(k), &mut ws)
                        .loss
                        .eps
                })
                .sum()
        })
        .collect()
}

fn finite_differences<R: PlasticityRule>(
    circuit: &BehaviourCircuit,
    data: &BehaviourDataset,
    rule: &R,
    theta: &[f64],
) -> Vec<f64> {
    (0..theta.len())
        .map(|p| {
            let h = 1e-5 * theta[p].abs().max(1e-1);
            let (mut plus, mut minus) = (theta.to_vec(), theta.to_vec());
            plus[p] += h;
            minus[p] -= h;
            (loss(circuit, data, rule, &plus) - loss(circuit, data, rule, &minus)) / (2.0 * h)
        })
        .collect()
}

/// Returns how many weights the bound clipped.
fn check<R: PlasticityRule>(
    label: &str,
    circuit: &BehaviourCircuit,
    data: &BehaviourDataset,
    rule: &R,
    theta: &[f64],
) -> usize {
    let (total, clipped, gradient) =
        adjoint(circuit, data, rule, theta, GradientStrategy::Checkpointed);
    assert!(total.is_finite() && total > 0.0, "{label}: loss {total}");
    assert!((total - loss(circuit, data, rule, theta)).abs() <= 1e-12 * total);
    let (_, _, full_tape) = adjoint(circuit, data, rule, theta, GradientStrategy::FullTape);
    assert_close(
        &format!("{label}: checkpointed vs full tape"),
        &gradient,
        &full_tape,
        1e-12,
        1e-9,
    );
    assert_close(
        &format!("{label} vs num-dual"),
        &gradient,
        &dual(circuit, data, rule, theta),
        1e-9,
        1e-6,
    );
    assert_close(
        &format!("{label} vs finite differences"),
        &gradient,
        &finite_differences(circuit, data, rule, theta),
        1e-5,
        1e-3,
    );
    // forward mode: same loss, clipped count and gradient
    let mut forward_ws = crate::gradient::forward::BehaviourForwardWorkspace::default();
    let mut forward = vec![0.0; theta.len()];
    let (mut forward_total, mut forward_clipped) = (0.0, 0);
    for k in 0..data.n_sessions() {
        let result = crate::gradient::forward::behaviour_session_loss_and_gradient_forward(
            circuit,
            rule,
            theta,
            data.session(k),
            &(0..theta.len()).collect::<Vec<_>>(),
            &mut forward_ws,
            &mut forward,
        );
        forward_total += result.loss;
        forward_clipped += result.clipped;
    }
    assert!(
        (forward_total - total).abs() <= 1e-12 * total,
        "{label}: forward loss"
    );
    assert_eq!(forward_clipped, clipped, "{label}: clipped weights");
    assert_close(
        &format!("{label}: forward mode vs adjoint"),
        &forward,
        &gradient,
        1e-10,
        1e-9,
    );
    // tangents for every third parameter only: those entries, and zeros elsewhere
    let active: Vec<usize> = (0..theta.len()).step_by(3).collect();
    let mut subset = vec![0.0; theta.len()];
    for k in 0..data.n_sessions() {
        crate::gradient::forward::behaviour_session_loss_and_gradient_forward(
            circuit,
            rule,
            theta,
            data.session(k),
            &active,
            &mut forward_ws,
            &mut subset,
        );
    }
    for (k, (&s, &f)) in subset.iter().zip(&forward).enumerate() {
        let expected = if k % 3 == 0 { f } else { 0.0 };
        assert!(
            (s - expected).abs() <= 1e-13 * f.abs().max(1e-9),
            "{label}: active {k}: {s} vs {expected}"
        );
    }
    clipped
}

#[test]
fn taylor_behaviour_adjoint_matches_dual_numbers_and_finite_differences() {
    for (seed, signal) in [
        (0, RewardSignal::Centred),
        (1, RewardSignal::Raw),
        (2, RewardSignal::Centred),
    ] {
        let data = small_dataset(seed, signal);
        let rule = TaylorRule::new(Variables::Xywr);
        let theta = random_theta(40 + seed, 81, 0.1);
        let clipped = check(
            &format!("taylor seed {seed}"),
            &circuit_of(&data, None),
            &data,
            &rule,
            &theta,
        );
        assert_eq!(clipped, 0);
    }
}

#[test]
fn mlp_behaviour_adjoint_matches_dual_numbers_and_finite_differences() {
    for (seed, hidden) in [(3u64, vec![6]), (4, vec![4, 3])] {
        let data = small_dataset(seed, RewardSignal::Centred);
        let rule = MlpRule::new(Variables::Xywr, &hidden).expect("sizes");
        let theta = random_theta(50 + seed, rule.n_parameters(), 0.5);
        check(
            &format!("mlp {hidden:?}"),
            &circuit_of(&data, None),
            &data,
            &rule,
            &theta,
        );
    }
}

#[test]
fn weight_bound_is_differentiated_where_it_engages() {
    let data = small_dataset(5, RewardSignal::Centred);
    let rule = TaylorRule::new(Variables::Xywr);
    // a rule that grows the weights, and a bound they reach
    let mut theta = random_theta(60, 81, 0.02);
    theta[crate::rule::Term::parse("x*r", Variables::Xywr)
        .expect("term")
        .index(Variables::Xywr)
        .expect("index")] = 2.0;
    theta[crate::rule::Term::parse("1", Variables::Xywr)
        .expect("term")
        .index(Variables::Xywr)
        .expect("index")] = 0.3;
    let circuit = circuit_of(&data, Some(0.9));
    let clipped = check("taylor with bound", &circuit, &data, &rule, &theta);
    assert!(clipped > 0, "the bound never engaged");
    // and the bound changes the loss (it is not a no-op)
    let unbounded = loss(&circuit_of(&data, None), &data, &rule, &theta);
    assert!((unbounded - loss(&circuit, &data, &rule, &theta)).abs() > 1e-9);
}
