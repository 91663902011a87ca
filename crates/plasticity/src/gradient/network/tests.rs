//! The multi-population adjoint against forward-mode dual numbers (1e-9) and central
//! finite differences (1e-5), for θ and for `W_0`, on a recurrent circuit with two
//! different rules, a latent population and a sparse mask, and on a three-layer
//! feed-forward stack; checkpointing against the whole tape; the SPEC circuit through
//! the new abstraction against the single-layer engine (1e-12). The per-step
//! modulatory signal, the plasticity gate and the cross-entropy loss against the same
//! oracles (rules over (x, y, w, r)); an all-on gate and a zero signal are bit for bit
//! the defaults. (The behaviour circuit through the engine: `behaviour/tests.rs`.)

use num_dual::Dual64;
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

use super::*;
use crate::circuit::{Activation, Connectivity, NamedRule, Population, PopulationKind, Projection};
use crate::gradient::network::single_layer::tests::{assert_close_with_floor, random_theta};
use crate::rule::{MlpRule, PlasticityRule, Rule, TaylorRule, Variables};

fn input(name: &str, size: usize) -> Population {
    Population {
        name: name.into(),
        size,
        kind: PopulationKind::Input,
    }
}

fn neurons(name: &str, size: usize, activation: Activation, external_input: bool) -> Population {
    Population {
        name: name.into(),
        size,
        kind: PopulationKind::Neurons {
            activation,
            external_input,
            initial_activity: 0.3,
        },
    }
}

fn projection(
    name: &str,
    pre: usize,
    post: usize,
    delayed: bool,
    connectivity: Connectivity,
    rule: Option<usize>,
) -> Projection {
    Projection {
        name: name.into(),
        pre,
        post,
        delayed,
        connectivity,
        rule,
        learning_rate: 0.7,
    }
}

fn taylor(name: &str) -> NamedRule {
    taylor_over(name, Variables::Xyw)
}

fn taylor_over(name: &str, variables: Variables) -> NamedRule {
    NamedRule {
        name: name.into(),
        rule: Rule::Taylor(TaylorRule::new(variables)),
    }
}

/// x (input, 4) → h (recurrent, 6, sparse recurrent mask, no self-synapses; an
/// MLP rule) → o (sigmoid, 3, with external current; a Taylor rule); only two
/// neurons of h and all of o are recorded, so four neurons of h are latent.
fn recurrent_network(seed: u64) -> Network {
    recurrent_network_over(seed, Variables::Xyw)
}

/// [`recurrent_network`] with rules over `variables`.
fn recurrent_network_over(seed: u64, variables: Variables) -> Network {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let sparse = Connectivity::from_fn(6, 6, |i, j| i != j && rng.random::<f64>() < 0.6);
    assert!(!sparse.is_dense() && sparse.n_synapses() > 6);
    Network::new(
        vec![
            input("x", 4),
            neurons("h", 6, Activation::Tanh, false),
            neurons("o", 3, Activation::Sigmoid, true),
        ],
        vec![
            projection("ff", 0, 1, false, Connectivity::all(4, 6, true), Some(0)),
            projection("rec", 1, 1, true, sparse, Some(1)),
            projection("out", 1, 2, false, Connectivity::all(6, 3, true), Some(0)),
            projection("back", 2, 1, true, Connectivity::all(3, 6, true), None),
        ],
        vec![
            taylor_over("ff", variables),
            NamedRule {
                name: "rec".into(),
                rule: Rule::Mlp(MlpRule::new(variables, &[3]).unwrap()),
            },
        ],
    )
    .unwrap()
}

/// x (5) → a (relu, 4) → b (linear, 4) → c (sigmoid, 3): three plastic layers, two
/// Taylor rules, the middle layer sparse (neuron 1 of b receives no synapse from a).
fn three_layer_network() -> Network {
    let sparse = Connectivity::from_fn(4, 4, |i, j| i != 1 && (i + 2 * j) % 3 != 0);
    assert!(sparse.row(1).is_empty());
    Network::new(
        vec![
            input("x", 5),
            neurons("a", 4, Activation::Relu, false),
            neurons("b", 4, Activation::Linear, false),
            neurons("c", 3, Activation::Sigmoid, false),
        ],
        vec![
            projection("xa", 0, 1, false, Connectivity::all(5, 4, true), Some(0)),
            projection("ab", 1, 2, false, sparse, Some(1)),
            projection("bc", 2, 3, false, Connectivity::all(4, 3, true), Some(0)),
        ],
        vec![taylor("first"), taylor("second")],
    )
    .unwrap()
}

/// Random drive, initial weights and targets for `trajectories` trajectories.
struct Data {
    steps: usize,
    drive: Vec<Vec<f64>>,
    initial_weights: Vec<Vec<f64>>,
    recorded: Vec<usize>,
    targets: Vec<Vec<f64>>,
    reward: Vec<Vec<f64>>,
    gate: Vec<Vec<bool>>,
    loss: TrajectoryLoss,
}

impl Data {
    fn random(network: &Network, recorded: Vec<usize>, steps: usize, seed: u64) -> Data {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut uniform = |scale: f64| scale * (2.0 * rng.random::<f64>() - 1.0);
        let n = network.n_neurons();
        let drive = (0..2)
            .map(|_| (0..steps * n).map(|_| uniform(0.8)).collect())
            .collect();
        let initial_weights = (0..2)
            .map(|_| (0..network.n_synapses()).map(|_| uniform(0.5)).collect())
            .collect();
        let targets = (0..2)
            .map(|_| {
                (0..steps * recorded.len())
                    .map(|_| 0.3 + uniform(0.3))
                    .collect()
            })
            .collect();
        Data {
            steps,
            drive,
            initial_weights,
            recorded,
            targets,
            reward: vec![Vec::new(); 2],
            gate: vec![Vec::new(); 2],
            loss: TrajectoryLoss::SquaredError,
        }
    }

    /// The same data with a random modulatory signal `r_t ∈ [−1, 1]` and a random gate
    /// (on with probability 0.6, both values present) at every step.
    fn modulated(mut self, seed: u64) -> Data {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        self.reward = (0..2)
            .map(|_| {
                (0..self.steps)
                    .map(|_| 2.0 * rng.random::<f64>() - 1.0)
                    .collect()
            })
            .collect();
        self.gate = (0..2)
            .map(|_| {
                (0..self.steps)
                    .map(|t| t % 4 == 1 || rng.random::<f64>() < 0.5)
                    .collect()
            })
            .collect();
        for gate in &self.gate {
            assert!(gate.iter().any(|&g| g) && gate[..self.steps - 1].iter().any(|&g| !g));
        }
        self
    }

    /// The same data with the cross-entropy loss against random decisions.
    fn with_decisions(mut self, seed: u64) -> Data {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        for targets in &mut self.targets {
            for d in targets.iter_mut() {
                *d = f64::from(u8::from(rng.random::<f64>() < 0.5));
            }
        }
        self.loss = TrajectoryLoss::CrossEntropy;
        self
    }

    fn trajectory(&self, k: usize) -> NetworkTrajectory<'_> {
        NetworkTrajectory {
            steps: self.steps,
            drive: &self.drive[k],
            initial_weights: &self.initial_weights[k],
            recorded: &self.recorded,
            recorded_activity: &self.targets[k],
            reward: &self.reward[k],
            gate: &self.gate[k],
            loss: self.loss,
        }
    }
}

fn loss(network: &Network, data: &Data, theta: &[f64], initial_weights: Option<&[f64]>) -> f64 {
    let mut ws = NetworkWorkspace::new();
    (0..2)
        .map(|k| {
            let w0 = initial_weights.unwrap_or(&data.initial_weights[k]);
            network_trajectory_sse(network, theta, w0, data.trajectory(k), &mut ws)
        })
        .sum()
}

/// Adjoint gradient with respect to θ and to the first trajectory's `W_0`.
fn adjoint(
    network: &Network,
    data: &Data,
    theta: &[f64],
    strategy: GradientStrategy,
) -> (f64, Vec<f64>, Vec<f64>) {
    let mut ws = NetworkWorkspace::new();
    let mut theta_gradient = vec![0.0; theta.len()];
    let mut w0_gradient = vec![0.0; network.n_synapses()];
    let mut total = 0.0;
    for k in 0..2 {
        let w0 = (k == 0).then_some(&mut w0_gradient[..]);
        total += network_trajectory_sse_and_gradient(
            network,
            theta,
            data.trajectory(k),
            strategy,
            &mut ws,
            &mut theta_gradient,
            w0,
        );
    }
    (total, theta_gradient, w0_gradient)
}

fn dual_theta_gradient(network: &Network, data: &Data, theta: &[f64]) -> Vec<f64> {
    let mut ws = NetworkWorkspace::<Dual64>::new();
    (0..theta.len())
        .map(|p| {
            let dual: Vec<Dual64> = theta
                .iter()
                .enumerate()
                .map(|(q, &v)| Dual64::new(v, f64::from(u8::from(p == q))))
                .collect();
            (0..2)
                .map(|k| {
                    let w0: Vec<Dual64> = data.initial_weights[k]
                        .iter()
                        .map(|&w| Dual64::from(w))
                        .collect();
                    network_trajectory_sse(network, &dual, &w0, data.trajectory(k), &mut ws).eps
                })
                .sum()
        })
        .collect()
}

fn dual_w0_gradient(network: &Network, data: &Data, theta: &[f64]) -> Vec<f64> {
    let mut ws = NetworkWorkspace::<Dual64>::new();
    let dual_theta: Vec<Dual64> = theta.iter().map(|&v| Dual64::from(v)).collect();
    (0..network.n_synapses())
        .map(|s| {
            let w0: Vec<Dual64> = data.initial_weights[0]
                .iter()
                .enumerate()
                .map(|(q, &w)| Dual64::new(w, f64::from(u8::from(q == s))))
                .collect();
            network_trajectory_sse(network, &dual_theta, &w0, data.trajectory(0), &mut ws).eps
        })
        .collect()
}

fn finite_differences(value: impl Fn(&[f64]) -> f64, at: &[f64]) -> Vec<f64> {
    (0..at.len())
        .map(|p| {
            let h = 1e-5 * at[p].abs().max(1e-1);
            let (mut plus, mut minus) = (at.to_vec(), at.to_vec());
            plus[p] += h;
            minus[p] -= h;
            (value(&plus) - value(&minus)) / (2.0 * h)
        })
        .collect()
}

fn check(label: &str, network: &Network, data: &Data, theta: &[f64]) {
    let (total, theta_gradient, w0_gradient) =
        adjoint(network, data, theta, GradientStrategy::FullTape);
    let reference = loss(network, data, theta, None);
    assert!(total.is_finite() && total > 0.0, "{label}: loss {total}");
    assert!(
        (total - reference).abs() <= 1e-12 * reference,
        "{label}: {total} vs {reference}"
    );
    assert_close_with_floor(
        &format!("{label} θ vs num-dual"),
        &theta_gradient,
        &dual_theta_gradient(network, data, theta),
        1e-9,
        1e-6,
    );
    let fd = finite_differences(|t| loss(network, data, t, None), theta);
    assert_close_with_floor(
        &format!("{label} θ vs finite differences"),
        &theta_gradient,
        &fd,
        1e-5,
        1e-4,
    );
    assert_close_with_floor(
        &format!("{label} W₀ vs num-dual"),
        &w0_gradient,
        &dual_w0_gradient(network, data, theta),
        1e-9,
        1e-6,
    );
    let w0_fd = finite_differences(
        |w0| {
            let mut ws = NetworkWorkspace::new();
            network_trajectory_sse(network, theta, w0, data.trajectory(0), &mut ws)
        },
        &data.initial_weights[0],
    );
    assert_close_with_floor(
        &format!("{label} W₀ vs finite differences"),
        &w0_gradient,
        &w0_fd,
        1e-5,
        1e-4,
    );
    // checkpointing recomputes the same numbers
    for every in [1, 3, 4] {
        let (t, g, w) = adjoint(
            network,
            data,
            theta,
            GradientStrategy::CheckpointEvery(every),
        );
        assert!((t - total).abs() <= 1e-12 * total);
        assert_close_with_floor(
            &format!("{label} checkpoints every {every}"),
            &g,
            &theta_gradient,
            1e-12,
            1e-9,
        );
        assert_close_with_floor(
            &format!("{label} checkpoints every {every} (W₀)"),
            &w,
            &w0_gradient,
            1e-12,
            1e-9,
        );
    }
}

#[test]
fn recurrent_circuit_with_two_rules_latent_neurons_and_a_sparse_mask() {
    let network = recurrent_network(3);
    let h = network.activity_range(1);
    let o = network.activity_range(2);
    // two of h's six neurons and all of o recorded: four latent
    let recorded = vec![h.start + 1, h.start + 4, o.start, o.start + 1, o.start + 2];
    let data = Data::random(&network, recorded, 9, 11);
    let n_taylor = 27;
    let mut theta = random_theta(5, n_taylor, 0.05);
    theta.extend(random_theta(6, network.n_parameters() - n_taylor, 0.3));
    check("recurrent", &network, &data, &theta);
}

#[test]
fn three_layer_feed_forward_stack() {
    let network = three_layer_network();
    let c = network.activity_range(3);
    let recorded: Vec<usize> = c.collect();
    let data = Data::random(&network, recorded, 7, 21);
    let theta = random_theta(8, network.n_parameters(), 0.05);
    check("three layers", &network, &data, &theta);
}

#[test]
fn weight_bound_is_differentiated_as_a_clip() {
    // a large θ so that some weights reach the bound
    let network = three_layer_network().with_weight_bound(Some(0.3));
    let recorded: Vec<usize> = network.activity_range(3).collect();
    let data = Data::random(&network, recorded, 6, 13);
    let theta = random_theta(9, network.n_parameters(), 0.3);
    let mut ws = NetworkWorkspace::new();
    let run = simulate_network(&network, &theta, data.trajectory(0), &mut ws);
    assert!(
        run.weights.iter().any(|w| w.abs() == 0.3),
        "no weight reached the bound"
    );
    let (_, gradient, _) = adjoint(&network, &data, &theta, GradientStrategy::FullTape);
    assert_close_with_floor(
        "clipped θ vs num-dual",
        &gradient,
        &dual_theta_gradient(&network, &data, &theta),
        1e-9,
        1e-6,
    );
}

#[test]
fn the_spec_circuit_through_the_network_equals_the_single_layer_engine() {
    let (n_pre, n_post, steps) = (7, 5, 8);
    let network = Network::new(
        vec![
            input("x", n_pre),
            neurons("y", n_post, Activation::Sigmoid, false),
        ],
        vec![Projection {
            learning_rate: 1.0,
            ..projection(
                "w",
                0,
                1,
                false,
                Connectivity::all(n_pre, n_post, true),
                Some(0),
            )
        }],
        vec![taylor("rule")],
    )
    .unwrap();
    let recorded_neurons = vec![0, 2, 3];
    let recorded: Vec<usize> = recorded_neurons.iter().map(|&i| n_pre + i).collect();
    let data = Data::random(&network, recorded, steps, 14);
    let theta = random_theta(10, 27, 0.1);
    let (total, gradient, _) = adjoint(&network, &data, &theta, GradientStrategy::Checkpointed);

    let circuit = super::single_layer::SingleLayer::new(n_pre, n_post);
    let mut ws = super::single_layer::SingleLayerWorkspace::new();
    let mut expected_gradient = vec![0.0; 27];
    let mut expected = 0.0;
    for k in 0..2 {
        let n = network.n_neurons();
        let inputs: Vec<f64> = (0..steps)
            .flat_map(|t| data.drive[k][t * n..t * n + n_pre].to_vec())
            .collect();
        let trajectory = crate::data::NeuralTrajectory {
            steps,
            inputs: &inputs,
            initial_weights: &data.initial_weights[k],
            recorded_activity: &data.targets[k],
            recorded_neurons: &recorded_neurons,
        };
        expected += super::single_layer::neural_trajectory_sse_and_gradient(
            &circuit,
            &TaylorRule::new(Variables::Xyw),
            &theta,
            trajectory,
            GradientStrategy::Checkpointed,
            &mut ws,
            &mut expected_gradient,
        );
    }
    assert!(
        (total - expected).abs() <= 1e-12 * expected,
        "{total} vs {expected}"
    );
    for (a, b) in gradient.iter().zip(&expected_gradient) {
        assert!((a - b).abs() <= 1e-12 * b.abs().max(1e-3), "{a} vs {b}");
    }
    let _ = TaylorRule::new(Variables::Xyw).n_parameters();
}

#[test]
fn a_projection_from_a_later_population_without_delay_is_refused() {
    let error = Network::new(
        vec![input("x", 2), neurons("a", 2, Activation::Tanh, false)],
        vec![projection(
            "rec",
            1,
            1,
            false,
            Connectivity::all(2, 2, false),
            None,
        )],
        vec![],
    )
    .unwrap_err();
    assert!(
        error.to_string().contains("projections.rec.delay"),
        "{error}"
    );
    let error = Network::new(
        vec![input("x", 2), neurons("a", 3, Activation::Tanh, false)],
        vec![projection(
            "ff",
            0,
            1,
            false,
            Connectivity::all(2, 2, true),
            None,
        )],
        vec![],
    )
    .unwrap_err();
    assert!(error.to_string().contains("projections.ff.mask"), "{error}");
}

/// Every residual's `∂r/∂θ_active` of trajectory `k`, rows in (step, recorded) order,
/// by dual numbers through the generic `activity` and `plasticity` (one pass per
/// parameter), and the residuals themselves.
fn dual_jacobian(
    network: &Network,
    data: &Data,
    k: usize,
    theta: &[f64],
    active: &[usize],
) -> (Vec<f64>, Vec<Vec<f64>>) {
    let trajectory = data.trajectory(k);
    let n = network.n_neurons();
    let mut columns = Vec::new();
    let mut residuals = Vec::new();
    // with no active parameter, one pass for the residuals alone
    let passes: Vec<usize> = if active.is_empty() {
        vec![usize::MAX]
    } else {
        active.to_vec()
    };
    for &p in &passes {
        let dual: Vec<Dual64> = theta
            .iter()
            .enumerate()
            .map(|(q, &v)| Dual64::new(v, f64::from(u8::from(p == q))))
            .collect();
        let mut weights: Vec<Dual64> = trajectory
            .initial_weights
            .iter()
            .map(|&w| Dual64::from(w))
            .collect();
        let mut previous = vec![Dual64::from(0.0); n];
        network.initial_activity(&mut previous);
        let mut current = vec![Dual64::from(0.0); n];
        let mut scratch = vec![Dual64::from(0.0); network.scratch_len()];
        let mut column = Vec::new();
        residuals.clear();
        for t in 0..trajectory.steps {
            network.activity(
                &weights,
                &previous,
                trajectory.drive(n, t),
                &mut current,
                &mut scratch,
            );
            for (&i, &target) in trajectory.recorded.iter().zip(trajectory.target(t)) {
                column.push(current[i].eps);
                residuals.push(current[i].re - target);
            }
            if trajectory.updates_after(t) {
                let reward = Dual64::from(trajectory.reward(t));
                network.plasticity(
                    &dual,
                    &mut weights,
                    &previous,
                    &current,
                    reward,
                    &mut scratch,
                );
            }
            std::mem::swap(&mut previous, &mut current);
        }
        if p != usize::MAX {
            columns.push(column);
        }
    }
    let rows = (0..residuals.len())
        .map(|m| columns.iter().map(|c| c[m]).collect())
        .collect();
    (residuals, rows)
}

fn check_jacobian(label: &str, network: &Network, data: &Data, theta: &[f64], active: &[usize]) {
    use super::jacobian::network_trajectory_gauss_newton;
    use crate::optim::least_squares::GaussNewtonSystem;
    let mut ws = super::jacobian::NetworkTangentWorkspace::new();
    let mut system = GaussNewtonSystem::zeros(active.len());
    let mut rows = Vec::new();
    let mut residuals = Vec::new();
    for k in 0..2 {
        network_trajectory_gauss_newton(
            network,
            theta,
            active,
            data.trajectory(k),
            &mut ws,
            &mut system,
            |_, _, r, row| {
                if k == 0 {
                    residuals.push(r);
                    rows.push(row.to_vec());
                }
            },
        )
        .expect("a squared error");
    }
    system.symmetrise();
    // the rows against dual numbers and against central differences of the residuals
    let (dual_residuals, dual_rows) = dual_jacobian(network, data, 0, theta, active);
    assert_close_with_floor(
        &format!("{label}: residuals"),
        &residuals,
        &dual_residuals,
        1e-13,
        1e-13,
    );
    assert_close_with_floor(
        &format!("{label}: ∂r/∂θ vs num-dual"),
        &rows.concat(),
        &dual_rows.concat(),
        1e-9,
        1e-9,
    );
    // central differences of the residuals, compared over the whole Jacobian (a
    // parameter that barely acts has only the differences' round-off)
    let residual_at = |theta: &[f64]| dual_jacobian(network, data, 0, theta, &[]).0;
    let mut differences = vec![0.0; rows.len() * active.len()];
    for (column, &p) in active.iter().enumerate() {
        let h = 1e-4 * theta[p].abs().max(1e-1);
        let (mut plus, mut minus) = (theta.to_vec(), theta.to_vec());
        plus[p] += h;
        minus[p] -= h;
        for (m, (a, b)) in residual_at(&plus)
            .iter()
            .zip(residual_at(&minus))
            .enumerate()
        {
            differences[m * active.len() + column] = (a - b) / (2.0 * h);
        }
    }
    assert_close_with_floor(
        &format!("{label}: ∂r/∂θ vs finite differences"),
        &rows.concat(),
        &differences,
        1e-5,
        1e-4,
    );
    // Jᵀr is half the adjoint's gradient, and Σ r² the loss
    let (total, gradient, _) = adjoint(network, data, theta, GradientStrategy::FullTape);
    assert!((system.sse - total).abs() <= 1e-12 * total, "{label}: sse");
    let expected: Vec<f64> = active.iter().map(|&p| gradient[p] / 2.0).collect();
    assert_close_with_floor(
        &format!("{label}: Jᵀr vs adjoint"),
        &system.gradient,
        &expected,
        1e-10,
        1e-12,
    );
    // JᵀJ of trajectory 0 alone against the dual rows
    let mut first = GaussNewtonSystem::zeros(active.len());
    network_trajectory_gauss_newton(
        network,
        theta,
        active,
        data.trajectory(0),
        &mut ws,
        &mut first,
        |_, _, _, _| {},
    )
    .expect("a squared error");
    first.symmetrise();
    let a = active.len();
    let normal: Vec<f64> = (0..a * a)
        .map(|e| dual_rows.iter().map(|row| row[e / a] * row[e % a]).sum())
        .collect();
    assert_close_with_floor(
        &format!("{label}: JᵀJ vs num-dual"),
        &first.normal,
        &normal,
        1e-9,
        1e-12,
    );
}

#[test]
fn forward_mode_jacobian_through_a_recurrent_circuit_with_latent_neurons() {
    let network = recurrent_network(3);
    let h = network.activity_range(1);
    let o = network.activity_range(2);
    let recorded = vec![h.start + 1, h.start + 4, o.start, o.start + 1, o.start + 2];
    let data = Data::random(&network, recorded, 8, 11);
    let mut theta = random_theta(5, 27, 0.05);
    theta.extend(random_theta(6, network.n_parameters() - 27, 0.3));
    let all: Vec<usize> = (0..network.n_parameters()).collect();
    check_jacobian("recurrent, all", &network, &data, &theta, &all);
    // a subset spanning both rules (the MLP rule's partials come from its adjoint)
    let some: Vec<usize> = all.iter().copied().filter(|k| k % 3 == 1).collect();
    check_jacobian("recurrent, subset", &network, &data, &theta, &some);
}

#[test]
fn forward_mode_jacobian_through_three_layers_and_the_weight_bound() {
    let network = three_layer_network();
    let recorded: Vec<usize> = network
        .activity_range(3)
        .chain(network.activity_range(1).take(2))
        .collect();
    let data = Data::random(&network, recorded.clone(), 6, 21);
    let theta = random_theta(8, network.n_parameters(), 0.05);
    let all: Vec<usize> = (0..network.n_parameters()).collect();
    check_jacobian("three layers", &network, &data, &theta, &all);
    let clipped = three_layer_network().with_weight_bound(Some(0.3));
    let data = Data::random(&clipped, recorded, 6, 13);
    let theta = random_theta(9, clipped.n_parameters(), 0.3);
    let mut ws = NetworkWorkspace::new();
    let run = simulate_network(&clipped, &theta, data.trajectory(0), &mut ws);
    assert!(run.weights.iter().any(|w| w.abs() == 0.3));
    check_jacobian("three layers, clipped", &clipped, &data, &theta, &all);
}

/// The recurrent circuit with rules over (x, y, w, r), a modulatory signal and a gate
/// drawn at random per step, and the given loss on o (sigmoid, external current, and a
/// delayed projection back into h).
fn modulated_recurrent(loss_on_decisions: bool) -> (Network, Data, Vec<f64>) {
    let network = recurrent_network_over(4, Variables::Xywr);
    let h = network.activity_range(1);
    let o = network.activity_range(2);
    let recorded = if loss_on_decisions {
        o.collect()
    } else {
        vec![h.start + 2, o.start, o.start + 2]
    };
    let mut data = Data::random(&network, recorded, 9, 31).modulated(32);
    if loss_on_decisions {
        data = data.with_decisions(33);
    }
    let n_taylor = 81;
    let mut theta = random_theta(12, n_taylor, 0.05);
    theta.extend(random_theta(13, network.n_parameters() - n_taylor, 0.3));
    (network, data, theta)
}

#[test]
fn reward_and_gate_are_differentiated_as_num_dual_and_finite_differences_say() {
    let (network, data, theta) = modulated_recurrent(false);
    check("reward and gate", &network, &data, &theta);
    // both enter: dropping either changes the loss
    let base = loss(&network, &data, &theta, None);
    let without_reward = Data {
        reward: vec![Vec::new(); 2],
        ..Data::random(&network, data.recorded.clone(), 9, 31).modulated(32)
    };
    let without_gate = Data {
        gate: vec![Vec::new(); 2],
        ..Data::random(&network, data.recorded.clone(), 9, 31).modulated(32)
    };
    for (label, other) in [("reward", without_reward), ("gate", without_gate)] {
        let changed = loss(&network, &other, &theta, None);
        assert!(
            (changed - base).abs() > 1e-6 * base,
            "dropping the {label} left the loss at {base}"
        );
    }
}

#[test]
fn cross_entropy_of_decisions_is_differentiated_as_num_dual_and_finite_differences_say() {
    let (network, data, theta) = modulated_recurrent(true);
    check("cross-entropy", &network, &data, &theta);
    // the loss is the mean over steps of softplus(z) − d z on o's net input
    let mut ws = NetworkWorkspace::new();
    let run = simulate_network(&network, &theta, data.trajectory(0), &mut ws);
    let n = network.n_neurons();
    let mut expected = 0.0;
    for t in 0..data.steps {
        for (r, &i) in data.recorded.iter().enumerate() {
            let y: f64 = run.activity[t * n + i];
            let d = data.targets[0][t * data.recorded.len() + r];
            expected += -(d * y.ln() + (1.0 - d) * (1.0 - y).ln());
        }
    }
    expected /= data.steps as f64;
    let actual = network_trajectory_sse(
        &network,
        &theta,
        &data.initial_weights[0],
        data.trajectory(0),
        &mut ws,
    );
    assert!(
        (actual - expected).abs() <= 1e-12 * expected,
        "{actual} vs −mean(d ln y + (1 − d) ln(1 − y)) = {expected}"
    );
}

#[test]
fn an_all_on_gate_and_a_zero_signal_are_bit_for_bit_the_defaults() {
    let network = three_layer_network();
    let recorded: Vec<usize> = network.activity_range(3).collect();
    let plain = Data::random(&network, recorded.clone(), 7, 21);
    let explicit = Data {
        reward: vec![vec![0.0; 7]; 2],
        gate: vec![vec![true; 7]; 2],
        ..Data::random(&network, recorded, 7, 21)
    };
    let theta = random_theta(8, network.n_parameters(), 0.05);
    for strategy in [
        GradientStrategy::FullTape,
        GradientStrategy::CheckpointEvery(3),
    ] {
        let (a, ga, wa) = adjoint(&network, &plain, &theta, strategy);
        let (b, gb, wb) = adjoint(&network, &explicit, &theta, strategy);
        assert_eq!(a.to_bits(), b.to_bits());
        assert_eq!(ga, gb);
        assert_eq!(wa, wb);
    }
}

#[test]
fn forward_mode_jacobian_with_a_modulatory_signal_and_a_gate() {
    let (network, data, theta) = modulated_recurrent(false);
    let all: Vec<usize> = (0..network.n_parameters()).collect();
    check_jacobian("reward and gate", &network, &data, &theta, &all);
    // a cross-entropy is not a least-squares loss
    let (network, data, theta) = modulated_recurrent(true);
    let mut system = crate::optim::least_squares::GaussNewtonSystem::zeros(all.len());
    let refused = super::jacobian::network_trajectory_gauss_newton(
        &network,
        &theta,
        &all,
        data.trajectory(0),
        &mut super::jacobian::NetworkTangentWorkspace::new(),
        &mut system,
        |_, _, _, _| {},
    );
    assert!(refused.is_err());
}

/// A §3.1 recording through [`NeuralEngine`] on its two paths: the general network
/// step (the recording's inputs the drive as they are, rows narrower than the
/// network) and the single-layer fast path give the same loss, adjoint (full tape and
/// checkpointed) and forward-mode gradient to 1e-12, with half the neurons recorded,
/// for a Taylor and an MLP rule; and the same objective on either path.
#[test]
fn a_neural_recording_gives_the_same_results_on_both_engine_paths() {
    let dataset = crate::task::OjaTask {
        n_pre: 6,
        n_post: 9,
        steps: 12,
        trajectories: 2,
        recording_fraction: 0.5,
        noise_std: 0.05,
        seed: 3,
        ..crate::task::OjaTask::default()
    }
    .simulate()
    .expect("simulated");
    assert!(dataset.recorded_neurons.len() < dataset.n_post());
    let taylor = Rule::taylor(Variables::Xyw);
    let mlp = Rule::Mlp(crate::rule::MlpRule::new(Variables::Xyw, &[4]).expect("mlp"));
    for rule in [taylor, mlp] {
        let n = rule.n_parameters();
        let theta = random_theta(12, n, 0.1);
        let auto = NeuralEngine::for_dataset(&dataset, rule.clone()).expect("engine");
        assert_eq!(auto.path(), EnginePath::Auto);
        let general = auto.clone().with_path(EnginePath::General);
        let fast = auto.with_path(EnginePath::FastPath);
        assert!(fast.runs_fast_path(NeuralOperation::Loss));
        assert!(!general.runs_fast_path(NeuralOperation::Adjoint));
        let (mut fast_ws, mut general_ws) = (NeuralWorkspace::new(), NeuralWorkspace::new());
        for k in 0..dataset.n_trajectories() {
            let trajectory = dataset.trajectory(k);
            let expected_loss = fast.sse(&theta, trajectory, &mut fast_ws);
            let loss = general.sse(&theta, trajectory, &mut general_ws);
            assert!((loss - expected_loss).abs() <= 1e-12 * expected_loss);
            for strategy in [
                GradientStrategy::FullTape,
                GradientStrategy::Checkpointed,
                GradientStrategy::Forward,
            ] {
                let (mut expected, mut gradient) = (vec![0.0; n], vec![0.0; n]);
                let fast_loss = fast.sse_and_gradient(
                    &theta,
                    trajectory,
                    strategy,
                    &mut fast_ws,
                    &mut expected,
                );
                let loss = general.sse_and_gradient(
                    &theta,
                    trajectory,
                    strategy,
                    &mut general_ws,
                    &mut gradient,
                );
                assert!((fast_loss - expected_loss).abs() <= 1e-12 * expected_loss);
                assert!((loss - expected_loss).abs() <= 1e-12 * expected_loss);
                let label = format!("{strategy:?}, general vs fast path");
                assert_close_with_floor(&label, &gradient, &expected, 1e-10, 1e-9);
            }
        }
        use crate::objective::Objective;
        let items: Vec<usize> = (0..dataset.n_trajectories()).collect();
        let objective = |path| {
            crate::objective::NeuralObjective::new(
                &dataset,
                rule.clone(),
                GradientStrategy::Checkpointed,
            )
            .map(|objective| objective.with_path(path))
            .expect("objective")
        };
        let (mut expected, mut gradient) = (vec![0.0; n], vec![0.0; n]);
        let fast_loss =
            objective(EnginePath::FastPath).loss_and_gradient(&theta, &items, &mut expected);
        let loss = objective(EnginePath::General).loss_and_gradient(&theta, &items, &mut gradient);
        assert!((loss - fast_loss).abs() <= 1e-12 * fast_loss);
        assert_close_with_floor(
            "objective, general vs fast path",
            &gradient,
            &expected,
            1e-10,
            1e-9,
        );
    }
    let rule = Rule::taylor(Variables::Xyw);
    let error = NeuralEngine::new(3, 4, &[4], rule).expect_err("neuron 4 of 4");
    assert!(error.to_string().contains("recorded_neurons"), "{error}");
}
