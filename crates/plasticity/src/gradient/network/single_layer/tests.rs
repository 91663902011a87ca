#![allow(clippy::needless_range_loop)]
//! The adjoint is checked against forward-mode dual numbers (num-dual, 1e-9 relative)
//! and central finite differences (1e-5 relative), on random small circuits; the
//! checkpointed and full-tape strategies are checked against each other (1e-12).

use std::path::Path;

use ndarray::Array3;
use num_dual::Dual64;
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

use super::*;
use crate::data::NeuralDataset;
use crate::rule::{LayerState, MlpRule, Rule, TaylorRule, Variables};

/// A random small dataset: `n_pre → n_post`, `steps` steps, `trajectories`
/// trajectories, recording `n_recorded` neurons; targets are the activity of a random
/// rule plus noise of standard deviation `noise`.
fn random_dataset(
    seed: u64,
    n_pre: usize,
    n_post: usize,
    steps: usize,
    trajectories: usize,
    n_recorded: usize,
    noise: f64,
) -> NeuralDataset {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut uniform = |scale: f64| scale * (2.0 * rng.random::<f64>() - 1.0);
    let inputs = Array3::from_shape_fn((trajectories, steps, n_pre), |_| uniform(0.6));
    let initial_weights = Array3::from_shape_fn((trajectories, n_post, n_pre), |_| uniform(0.5));
    let recorded_activity =
        Array3::from_shape_fn((trajectories, steps, n_recorded), |_| 0.5 + uniform(noise));
    let step = n_post as f64 / n_recorded as f64;
    let recorded_neurons: Vec<usize> = (0..n_recorded)
        .map(|i| (i as f64 * step) as usize)
        .collect();
    NeuralDataset::new(
        inputs,
        initial_weights,
        recorded_activity,
        recorded_neurons,
        serde_json::Map::new(),
        Path::new("random"),
    )
    .expect("valid random dataset")
}

pub(crate) fn random_theta(seed: u64, n: usize, scale: f64) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    // every coefficient non-zero, of either sign
    (0..n)
        .map(|_| {
            let magnitude = scale * (0.2 + 0.8 * rng.random::<f64>());
            if rng.random::<bool>() {
                magnitude
            } else {
                -magnitude
            }
        })
        .collect()
}

fn adjoint_gradient<R: PlasticityRule>(
    dataset: &NeuralDataset,
    rule: &R,
    theta: &[f64],
    strategy: GradientStrategy,
) -> (f64, Vec<f64>) {
    let circuit = SingleLayer::new(dataset.n_pre(), dataset.n_post());
    let mut gradient = vec![0.0; theta.len()];
    let mut workspace = SingleLayerWorkspace::new();
    let mut total = 0.0;
    for k in 0..dataset.n_trajectories() {
        total += neural_trajectory_sse_and_gradient(
            &circuit,
            rule,
            theta,
            dataset.trajectory(k),
            strategy,
            &mut workspace,
            &mut gradient,
        );
    }
    (total, gradient)
}

fn sse<R: PlasticityRule>(dataset: &NeuralDataset, rule: &R, theta: &[f64]) -> f64 {
    let circuit = SingleLayer::new(dataset.n_pre(), dataset.n_post());
    let mut workspace = SingleLayerWorkspace::new();
    (0..dataset.n_trajectories())
        .map(|k| {
            neural_trajectory_sse(&circuit, rule, theta, dataset.trajectory(k), &mut workspace)
        })
        .sum()
}

fn dual_gradient<R: PlasticityRule>(dataset: &NeuralDataset, rule: &R, theta: &[f64]) -> Vec<f64> {
    let circuit = SingleLayer::new(dataset.n_pre(), dataset.n_post());
    let mut workspace = SingleLayerWorkspace::<Dual64>::new();
    (0..theta.len())
        .map(|p| {
            let dual_theta: Vec<Dual64> = theta
                .iter()
                .enumerate()
                .map(|(q, &v)| Dual64::new(v, if p == q { 1.0 } else { 0.0 }))
                .collect();
            (0..dataset.n_trajectories())
                .map(|k| {
                    neural_trajectory_sse(
                        &circuit,
                        rule,
                        &dual_theta,
                        dataset.trajectory(k),
                        &mut workspace,
                    )
                    .eps
                })
                .sum()
        })
        .collect()
}

fn finite_difference_gradient<R: PlasticityRule>(
    dataset: &NeuralDataset,
    rule: &R,
    theta: &[f64],
) -> Vec<f64> {
    (0..theta.len())
        .map(|p| {
            let h = 1e-5 * theta[p].abs().max(1e-1);
            let mut plus = theta.to_vec();
            let mut minus = theta.to_vec();
            plus[p] += h;
            minus[p] -= h;
            (sse(dataset, rule, &plus) - sse(dataset, rule, &minus)) / (2.0 * h)
        })
        .collect()
}

/// `|a − b| ≤ tolerance · max(|b|, floor · ‖b‖_∞)` for every component. The floor
/// keeps components that are tiny next to the others (where finite differences have
/// only their absolute round-off accuracy, ~ε·L/h) from demanding more than the
/// reference can give.
fn assert_close(label: &str, actual: &[f64], expected: &[f64], tolerance: f64) {
    assert_close_with_floor(label, actual, expected, tolerance, 1e-6)
}

pub(crate) fn assert_close_with_floor(
    label: &str,
    actual: &[f64],
    expected: &[f64],
    tolerance: f64,
    floor: f64,
) {
    assert_eq!(actual.len(), expected.len());
    let scale = expected.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    assert!(
        scale > 0.0,
        "{label}: expected gradient is identically zero"
    );
    for (k, (a, b)) in actual.iter().zip(expected).enumerate() {
        let bound = tolerance * b.abs().max(floor * scale);
        assert!(
            (a - b).abs() <= bound,
            "{label}: component {k}: adjoint {a:e} vs reference {b:e} (|diff| {:e} > {bound:e})",
            (a - b).abs()
        );
    }
}

/// Loss and gradient in forward mode ([`forward`]), one state for every trajectory.
fn forward_gradient<R: PlasticityRule>(
    dataset: &NeuralDataset,
    rule: &R,
    theta: &[f64],
) -> (f64, Vec<f64>) {
    let circuit = SingleLayer::new(dataset.n_pre(), dataset.n_post());
    let mut state = forward::NeuralForward::new(circuit, rule);
    let mut gradient = vec![0.0; theta.len()];
    let total = (0..dataset.n_trajectories())
        .map(|k| {
            forward::neural_trajectory_sse_and_gradient_forward(
                &mut state,
                rule,
                theta,
                dataset.trajectory(k),
                &mut gradient,
            )
        })
        .sum();
    (total, gradient)
}

fn check_rule<R: PlasticityRule>(label: &str, rule: &R, theta: &[f64], dataset: &NeuralDataset) {
    let (loss, adjoint) = adjoint_gradient(dataset, rule, theta, GradientStrategy::Checkpointed);
    assert!(loss.is_finite() && loss > 0.0, "{label}: loss {loss}");
    assert!((loss - sse(dataset, rule, theta)).abs() <= 1e-12 * loss);
    let dual = dual_gradient(dataset, rule, theta);
    assert_close(&format!("{label} vs num-dual"), &adjoint, &dual, 1e-9);
    // forward mode: the same loss, and the same gradient as the adjoint and num-dual
    let (forward_loss, forward) = forward_gradient(dataset, rule, theta);
    assert!(
        (forward_loss - loss).abs() <= 1e-12 * loss,
        "{label}: forward loss"
    );
    assert_close_with_floor(
        &format!("{label}: forward mode vs adjoint"),
        &forward,
        &adjoint,
        1e-10,
        1e-9,
    );
    assert_close(
        &format!("{label}: forward mode vs num-dual"),
        &forward,
        &dual,
        1e-9,
    );
    let finite = finite_difference_gradient(dataset, rule, theta);
    assert_close_with_floor(
        &format!("{label} vs finite differences"),
        &adjoint,
        &finite,
        1e-5,
        1e-3,
    );
}

#[test]
fn taylor_adjoint_matches_dual_numbers_and_finite_differences() {
    for seed in 0..4 {
        // noise-free-like targets, all neurons recorded
        let dataset = random_dataset(seed, 4, 5, 9, 2, 5, 0.0);
        let rule = TaylorRule::new(Variables::Xyw);
        let theta = random_theta(100 + seed, 27, 0.08);
        check_rule(&format!("taylor seed {seed}"), &rule, &theta, &dataset);
    }
}

#[test]
fn taylor_adjoint_with_noise_and_partial_recording() {
    for seed in 0..4 {
        let dataset = random_dataset(10 + seed, 3, 7, 12, 3, 3, 0.3);
        let rule = TaylorRule::new(Variables::Xyw);
        let theta = random_theta(200 + seed, 27, 0.1);
        check_rule(
            &format!("taylor noisy seed {seed}"),
            &rule,
            &theta,
            &dataset,
        );
    }
}

#[test]
fn mlp_adjoint_matches_dual_numbers_and_finite_differences() {
    for (seed, hidden) in [(0u64, vec![10]), (1, vec![6, 4]), (2, vec![3])] {
        let dataset = random_dataset(20 + seed, 4, 5, 8, 2, 3, 0.2);
        let rule = MlpRule::new(Variables::Xyw, &hidden).expect("valid sizes");
        let theta = random_theta(300 + seed, rule.n_parameters(), 0.5);
        check_rule(&format!("mlp {hidden:?}"), &rule, &theta, &dataset);
    }
}

#[test]
fn rule_enum_dispatches_to_the_same_gradient() {
    let dataset = random_dataset(5, 3, 4, 6, 1, 4, 0.1);
    let theta = random_theta(7, 27, 0.1);
    let direct = adjoint_gradient(
        &dataset,
        &TaylorRule::new(Variables::Xyw),
        &theta,
        GradientStrategy::Checkpointed,
    );
    let dispatched = adjoint_gradient(
        &dataset,
        &Rule::taylor(Variables::Xyw),
        &theta,
        GradientStrategy::Checkpointed,
    );
    assert_eq!(direct, dispatched);
}

#[test]
fn checkpointed_and_full_tape_gradients_agree() {
    for steps in [1usize, 2, 7, 16, 23] {
        let dataset = random_dataset(30 + steps as u64, 4, 6, steps, 2, 4, 0.2);
        let theta = random_theta(40 + steps as u64, 27, 0.08);
        let rule = TaylorRule::new(Variables::Xyw);
        let (loss_tape, full) =
            adjoint_gradient(&dataset, &rule, &theta, GradientStrategy::FullTape);
        for strategy in [
            GradientStrategy::Checkpointed,
            GradientStrategy::CheckpointEvery(1),
            GradientStrategy::CheckpointEvery(3),
            GradientStrategy::CheckpointEvery(steps + 5),
        ] {
            let (loss, checkpointed) = adjoint_gradient(&dataset, &rule, &theta, strategy);
            assert!((loss - loss_tape).abs() <= 1e-12 * loss_tape.abs());
            for (a, b) in checkpointed.iter().zip(&full) {
                assert!(
                    (a - b).abs() <= 1e-12 * b.abs().max(1e-300),
                    "{strategy:?}, T = {steps}: {a:e} vs {b:e}"
                );
            }
        }
    }
}

/// Layer-level check of every output of `update_vjp` (weights, postsynaptic activity,
/// θ) against dual numbers, with a non-zero reward so that the 81-term rule's reward
/// powers are exercised.
fn check_layer_vjp<R: PlasticityRule>(label: &str, rule: &R, seed: u64) {
    let (n_pre, n_post) = (3, 4);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut uniform = |scale: f64| scale * (2.0 * rng.random::<f64>() - 1.0);
    let x: Vec<f64> = (0..n_pre).map(|_| uniform(0.8)).collect();
    let y: Vec<f64> = (0..n_post).map(|_| 0.5 + uniform(0.4)).collect();
    let w: Vec<f64> = (0..n_pre * n_post).map(|_| uniform(0.7)).collect();
    let cotangent: Vec<f64> = (0..n_pre * n_post).map(|_| uniform(1.0)).collect();
    let reward = 0.37;
    let eta = 0.6;
    let theta = random_theta(seed + 1, rule.n_parameters(), 0.3);

    // adjoint
    let mut weights_adjoint = cotangent.clone();
    let mut post_adjoint = vec![0.0; n_post];
    let mut theta_adjoint = vec![0.0; theta.len()];
    let mut scratch = vec![0.0; rule.scratch_len(n_pre)];
    let layer = LayerState {
        pre: &x,
        post: &y,
        reward,
        learning_rate: eta,
    };
    rule.update_vjp(
        &theta,
        layer,
        &w,
        &mut weights_adjoint,
        &mut post_adjoint,
        &mut theta_adjoint,
        &mut scratch,
    );

    // dual: f = Σ c_ij W⁺_ij, differentiated along one input at a time
    let f = |seed_theta: Option<usize>, seed_w: Option<usize>, seed_y: Option<usize>| -> f64 {
        let d = |v: f64, on: bool| Dual64::new(v, if on { 1.0 } else { 0.0 });
        let theta_d: Vec<Dual64> = theta
            .iter()
            .enumerate()
            .map(|(k, &v)| d(v, seed_theta == Some(k)))
            .collect();
        let mut w_d: Vec<Dual64> = w
            .iter()
            .enumerate()
            .map(|(k, &v)| d(v, seed_w == Some(k)))
            .collect();
        let y_d: Vec<Dual64> = y
            .iter()
            .enumerate()
            .map(|(k, &v)| d(v, seed_y == Some(k)))
            .collect();
        let x_d: Vec<Dual64> = x.iter().map(|&v| d(v, false)).collect();
        let mut scratch_d = vec![Dual64::from(0.0); rule.scratch_len(n_pre)];
        let layer = LayerState {
            pre: &x_d,
            post: &y_d,
            reward: d(reward, false),
            learning_rate: d(eta, false),
        };
        rule.update(&theta_d, layer, &mut w_d, &mut scratch_d);
        w_d.iter().zip(&cotangent).map(|(wd, c)| wd.eps * c).sum()
    };
    let dual_theta: Vec<f64> = (0..theta.len()).map(|k| f(Some(k), None, None)).collect();
    let dual_w: Vec<f64> = (0..w.len()).map(|k| f(None, Some(k), None)).collect();
    let dual_y: Vec<f64> = (0..n_post).map(|k| f(None, None, Some(k))).collect();
    assert_close(
        &format!("{label}: θ adjoint"),
        &theta_adjoint,
        &dual_theta,
        1e-12,
    );
    assert_close(
        &format!("{label}: W adjoint"),
        &weights_adjoint,
        &dual_w,
        1e-12,
    );
    assert_close(
        &format!("{label}: y adjoint"),
        &post_adjoint,
        &dual_y,
        1e-12,
    );

    // and the layer update equals the per-synapse reference g
    let mut updated = w.clone();
    rule.update(&theta, layer, &mut updated, &mut scratch);
    for i in 0..n_post {
        for j in 0..n_pre {
            let k = i * n_pre + j;
            let expected = w[k] + eta * rule.evaluate(&theta, x[j], y[i], w[k], reward);
            assert!(
                (updated[k] - expected).abs() <= 1e-13,
                "{label}: update of synapse {k}"
            );
        }
    }
}

#[test]
fn layer_vjps_match_dual_numbers() {
    for seed in 0..3 {
        check_layer_vjp("taylor xyw", &TaylorRule::new(Variables::Xyw), seed);
        check_layer_vjp("taylor xywr", &TaylorRule::new(Variables::Xywr), seed);
        check_layer_vjp(
            "mlp xyw",
            &MlpRule::new(Variables::Xyw, &[10]).expect("sizes"),
            seed,
        );
        check_layer_vjp(
            "mlp xywr",
            &MlpRule::new(Variables::Xywr, &[5, 3]).expect("sizes"),
            seed,
        );
        check_layer_vjp(
            "mlp xywr one hidden layer",
            &MlpRule::new(Variables::Xywr, &[7]).expect("sizes"),
            seed,
        );
    }
}

#[test]
fn row_blocks_match_dual_numbers() {
    // 150 postsynaptic rows: three blocks of the per-step kernels, run in order
    let dataset = random_dataset(50, 3, 150, 4, 1, 20, 0.2);
    let taylor = TaylorRule::new(Variables::Xyw);
    check_rule(
        "taylor, 3 row blocks",
        &taylor,
        &random_theta(51, 27, 0.08),
        &dataset,
    );
    let mlp = MlpRule::new(Variables::Xyw, &[5]).expect("valid sizes");
    let theta = random_theta(52, mlp.n_parameters(), 0.5);
    check_rule("mlp, 3 row blocks", &mlp, &theta, &dataset);
}

#[test]
fn parallel_row_blocks_match_dual_numbers_at_any_thread_count() {
    // 33 × 1000 synapses: above the parallel threshold, 16 blocks
    let dataset = random_dataset(60, 33, 1000, 3, 1, 10, 0.2);
    assert!(dataset.n_pre() * dataset.n_post() >= crate::circuit::PARALLEL_SYNAPSES);
    let rule = TaylorRule::new(Variables::Xyw);
    let theta = random_theta(61, 27, 0.05);
    check_rule("taylor, parallel row blocks", &rule, &theta, &dataset);
    let on = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("a thread pool")
            .install(|| adjoint_gradient(&dataset, &rule, &theta, GradientStrategy::Checkpointed))
    };
    assert_eq!(on(1), on(2), "bit-identical on one and two threads");
    let forward_on = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("a thread pool")
            .install(|| forward_gradient(&dataset, &rule, &theta))
    };
    assert_eq!(
        forward_on(1),
        forward_on(2),
        "forward mode, 1 and 2 threads"
    );
}

#[test]
fn forward_mode_over_many_steps_and_through_the_objective() {
    // a longer trajectory (errors compound over steps) and every strategy through the
    // objective that fits use
    let dataset = random_dataset(70, 5, 9, 60, 3, 6, 0.2);
    let rule = TaylorRule::new(Variables::Xyw);
    let theta = random_theta(71, 27, 0.05);
    let items: Vec<usize> = (0..dataset.n_trajectories()).collect();
    let of = |strategy: GradientStrategy| {
        let objective =
            crate::objective::NeuralObjective::new(&dataset, rule, strategy).expect("objective");
        let mut gradient = vec![0.0; 27];
        let loss = crate::objective::Objective::loss_and_gradient(
            &objective,
            &theta,
            &items,
            &mut gradient,
        );
        (loss, gradient)
    };
    let (loss, adjoint) = of(GradientStrategy::Checkpointed);
    let (forward_loss, forward) = of(GradientStrategy::Forward);
    assert!((forward_loss - loss).abs() <= 1e-12 * loss);
    assert_close_with_floor(
        "60 steps: forward vs adjoint",
        &forward,
        &adjoint,
        1e-10,
        1e-9,
    );
    // memory: tangents of every synapse for every parameter, whatever the length
    let state = forward::NeuralForward::new(SingleLayer::new(5, 9), &rule);
    assert!(state.memory_bytes() < 8 * (45 * 27 + 45 + 5 + 9 + 9 * 27) + 8 * 64 * 27);
}

/// The Taylor rule with the trait's generic forward mode instead of its own.
struct GenericForward(TaylorRule);

impl PlasticityRule for GenericForward {
    fn n_parameters(&self) -> usize {
        self.0.n_parameters()
    }
    fn variables(&self) -> Variables {
        self.0.variables()
    }
    fn scratch_len(&self, n_pre: usize) -> usize {
        self.0.scratch_len(n_pre)
    }
    fn update<S: Scalar>(&self, theta: &[S], layer: LayerState<'_, S>, w: &mut [S], s: &mut [S]) {
        self.0.update(theta, layer, w, s)
    }
    fn update_vjp<S: Scalar>(
        &self,
        theta: &[S],
        layer: LayerState<'_, S>,
        weights_before: &[S],
        weights_adjoint: &mut [S],
        post_adjoint: &mut [S],
        theta_adjoint: &mut [S],
        scratch: &mut [S],
    ) {
        self.0.update_vjp(
            theta,
            layer,
            weights_before,
            weights_adjoint,
            post_adjoint,
            theta_adjoint,
            scratch,
        )
    }
    fn evaluate<S: Scalar>(&self, theta: &[S], x: S, y: S, w: S, r: S) -> S {
        self.0.evaluate(theta, x, y, w, r)
    }
}

#[test]
fn taylor_row_tangents_match_the_generic_forward_mode() {
    let mut rng = ChaCha8Rng::seed_from_u64(80);
    for variables in [Variables::Xyw, Variables::Xywr] {
        let rule = TaylorRule::new(variables);
        let generic = GenericForward(rule);
        let n_params = rule.n_parameters();
        let theta = random_theta(81, n_params, 0.2);
        let n_pre = 5;
        let pre: Vec<f64> = (0..n_pre).map(|_| rng.random::<f64>() - 0.5).collect();
        let weights: Vec<f64> = (0..n_pre).map(|_| rng.random::<f64>() - 0.5).collect();
        let layer = LayerState {
            pre: &pre,
            post: &[0.37],
            reward: -0.4,
            learning_rate: 0.5,
        };
        // every parameter, and a scattered subset of them
        let all: Vec<usize> = (0..n_params).collect();
        let some: Vec<usize> = (0..n_params).filter(|k| k % 4 == 1 || *k == 0).collect();
        for active in [all, some] {
            let post_tangent: Vec<f64> = (0..active.len())
                .map(|_| rng.random::<f64>() - 0.5)
                .collect();
            let start: Vec<f64> = (0..n_pre * active.len())
                .map(|_| rng.random::<f64>() - 0.5)
                .collect();
            let mut specialised = start.clone();
            rule.row_tangents(
                &theta,
                layer,
                &weights,
                &mut specialised,
                &post_tangent,
                &active,
                &mut [],
            );
            let mut reference = start.clone();
            let mut scratch = vec![0.0; generic.tangent_scratch_len()];
            generic.row_tangents(
                &theta,
                layer,
                &weights,
                &mut reference,
                &post_tangent,
                &active,
                &mut scratch,
            );
            assert_close_with_floor(
                &format!("{variables:?} row tangents, {} active", active.len()),
                &specialised,
                &reference,
                1e-13,
                1e-9,
            );
        }
    }
}

#[test]
fn forward_mode_on_the_trainable_parameters_only() {
    let dataset = random_dataset(90, 4, 7, 15, 2, 5, 0.2);
    let rule = TaylorRule::new(Variables::Xyw);
    let theta = random_theta(91, 27, 0.08);
    let (_, adjoint) = adjoint_gradient(&dataset, &rule, &theta, GradientStrategy::Checkpointed);
    let active = vec![1, 5, 13, 26];
    let items: Vec<usize> = (0..dataset.n_trajectories()).collect();
    let objective =
        crate::objective::NeuralObjective::new(&dataset, rule, GradientStrategy::Forward)
            .expect("objective")
            .with_active_parameters(active.clone());
    let mut gradient = vec![f64::NAN; 27];
    crate::objective::Objective::loss_and_gradient(&objective, &theta, &items, &mut gradient);
    let scale = 1.0 / (items.len() * dataset.steps() * dataset.recorded_neurons.len()) as f64;
    for k in 0..27 {
        if active.contains(&k) {
            let expected = adjoint[k] * scale;
            assert!(
                (gradient[k] - expected).abs() <= 1e-10 * expected.abs(),
                "{k}"
            );
        } else {
            assert_eq!(gradient[k], 0.0, "{k} is not active");
        }
    }
    // and its state holds tangents for those four only
    let state = forward::NeuralForward::with_active(SingleLayer::new(4, 7), &rule, active);
    let all = forward::NeuralForward::new(SingleLayer::new(4, 7), &rule);
    assert!(state.memory_bytes() < all.memory_bytes() / 4);
}

#[test]
fn taylor_row_partials_match_the_generic_ones() {
    let mut rng = ChaCha8Rng::seed_from_u64(82);
    for variables in [Variables::Xyw, Variables::Xywr] {
        let rule = TaylorRule::new(variables);
        let generic = GenericForward(rule);
        let n_params = rule.n_parameters();
        let theta = random_theta(83, n_params, 0.2);
        let n_pre = 6;
        let pre: Vec<f64> = (0..n_pre).map(|_| rng.random::<f64>() - 0.5).collect();
        let weights: Vec<f64> = (0..n_pre).map(|_| rng.random::<f64>() - 0.5).collect();
        let layer = LayerState {
            pre: &pre,
            post: &[0.61],
            reward: 0.3,
            learning_rate: 0.7,
        };
        let all: Vec<usize> = (0..n_params).collect();
        let some: Vec<usize> = (0..n_params).filter(|k| k % 5 == 2).collect();
        for active in [all, some] {
            let stride = crate::rule::PARTIALS_HEAD + active.len();
            let mut specialised = vec![f64::NAN; n_pre * stride];
            rule.row_partials(&theta, layer, &weights, &active, &mut specialised, &mut []);
            let mut reference = vec![f64::NAN; n_pre * stride];
            let mut scratch = vec![0.0; generic.partials_scratch_len()];
            generic.row_partials(
                &theta,
                layer,
                &weights,
                &active,
                &mut reference,
                &mut scratch,
            );
            assert_close_with_floor(
                &format!("{variables:?} row partials, {} active", active.len()),
                &specialised,
                &reference,
                1e-13,
                1e-9,
            );
            // and ∂g/∂x against a central difference of `evaluate`
            let h = 1e-6;
            for j in 0..n_pre {
                let g =
                    |x: f64| layer.learning_rate * rule.evaluate(&theta, x, 0.61, weights[j], 0.3);
                let difference = (g(pre[j] + h) - g(pre[j] - h)) / (2.0 * h);
                assert!((specialised[j * stride + 2] - difference).abs() < 1e-8);
            }
        }
    }
}
