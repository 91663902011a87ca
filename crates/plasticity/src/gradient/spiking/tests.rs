//! The spike-train likelihood's gradients (adjoint, checkpointed adjoint, forward
//! mode) against dual numbers and finite differences, and the Fisher information
//! against the gradient's outer products.

use num_dual::Dual64;
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

use super::adjoint::{likelihood_adjoint, AdjointWorkspace};
use super::forward::{likelihood_forward, ForwardWorkspace};
use super::*;
use crate::circuit::spiking::{
    run_circuit, Adaptation, Escape, LifNeuron, NamedSpikeRule, RunDrive, SpikeRaster,
    SpikingCircuit, SpikingKind, SpikingPopulation, SpikingProjection,
};
use crate::circuit::Connectivity;
use crate::gradient::GradientStrategy;
use crate::rule::spike::SpikeRule;

pub(super) fn neuron(escape: Escape, adaptive: bool, refractory_steps: usize) -> LifNeuron {
    LifNeuron {
        leak: 0.9,
        threshold: 1.0,
        reset: 0.0,
        refractory_steps,
        adaptation: adaptive.then_some(Adaptation {
            decay: 0.9,
            increment: 0.3,
        }),
        escape,
        background: None,
    }
}

/// 8 sources → 4 neurons (plastic, the ten-term family) → themselves (plastic, pair
/// STDP terms and triplet terms over the second traces, one step of delay), with a
/// mask on the recurrent projection.
pub(super) fn circuit(escape: Escape, bounds: Option<(f64, f64)>) -> SpikingCircuit {
    let populations = vec![
        SpikingPopulation {
            name: "src".into(),
            size: 8,
            kind: SpikingKind::Source,
            recorded: true,
        },
        SpikingPopulation {
            name: "out".into(),
            size: 4,
            kind: SpikingKind::Lif(neuron(escape, true, 1)),
            recorded: true,
        },
    ];
    let projection = |name: &str, pre, post, connectivity, scale, rule| SpikingProjection {
        name: name.into(),
        pre,
        post,
        connectivity,
        scale,
        rule: Some(rule),
        learning_rate: 1.0,
        pre_decay: 0.8,
        post_decay: 0.85,
        pre_decay2: 0.95,
        post_decay2: 0.93,
    };
    let projections = vec![
        projection("ff", 0, 1, Connectivity::all(8, 4, true), 0.6, 0),
        projection("rec", 1, 1, Connectivity::all(4, 4, false), -0.4, 1),
    ];
    let rules = vec![
        NamedSpikeRule {
            name: "ff".into(),
            rule: SpikeRule::from_names(&["ten"]).unwrap(),
        },
        NamedSpikeRule {
            name: "rec".into(),
            rule: SpikeRule::from_names(&[
                "s_post*x_trace",
                "s_pre*y_trace",
                "w",
                "s_post*x_trace*y2_trace",
                "s_pre*y_trace*x2_trace",
            ])
            .unwrap(),
        },
    ];
    SpikingCircuit::new(populations, projections, rules, bounds, 1.0).unwrap()
}

pub(super) fn theta() -> Vec<f64> {
    vec![
        0.01, -0.005, 0.05, -0.04, 0.002, -0.003, 0.01, -0.02, 0.015, -0.01, 0.03, -0.02, -0.001,
        0.02, -0.01,
    ]
}

/// Simulates `steps` steps (sources spike with probability 0.3) and returns the raster
/// and `W₀`.
pub(super) fn recording(
    circuit: &SpikingCircuit,
    steps: usize,
    seed: u64,
) -> (SpikeRaster, Vec<f64>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let w0: Vec<f64> = (0..circuit.n_synapses())
        .map(|_| 0.3 + 0.5 * rng.random::<f64>())
        .collect();
    let mut sources = SpikeRaster::new();
    for _ in 0..steps {
        let spikes: Vec<u32> = (0..8u32).filter(|_| rng.random::<f64>() < 0.3).collect();
        sources.push_step(spikes);
    }
    let drive = RunDrive {
        sources: &sources,
        forced: None,
        reward: None,
    };
    let run = run_circuit(circuit, &theta(), &w0, drive, &mut rng, 0);
    (run.raster, w0)
}

pub(super) fn dual_gradient(
    circuit: &SpikingCircuit,
    theta: &[f64],
    trial: SpikeTrial<'_>,
) -> Vec<f64> {
    (0..theta.len())
        .map(|k| {
            let dual: Vec<Dual64> = theta
                .iter()
                .enumerate()
                .map(|(m, &v)| Dual64::new(v, f64::from(u8::from(m == k))))
                .collect();
            negative_log_likelihood(circuit, &dual, trial).0.eps
        })
        .collect()
}

pub(super) fn assert_close(a: &[f64], b: &[f64], tolerance: f64, what: &str) {
    let scale = b.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1e-12);
    for (k, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= tolerance * scale,
            "{what}: parameter {k}: {x} vs {y} (scale {scale})"
        );
    }
}

#[test]
fn adjoint_and_forward_mode_equal_dual_numbers_for_both_escape_kinds() {
    for escape in [
        Escape::Exponential {
            rate_per_step: 0.05,
            delta_u: 0.5,
        },
        Escape::Sigmoid { beta: 3.0 },
    ] {
        let circuit = circuit(escape, Some((-1.0, 1.0)));
        let (raster, w0) = recording(&circuit, 300, 3);
        assert!(raster.n_spikes() > 300, "{} spikes", raster.n_spikes());
        let trial = SpikeTrial {
            raster: &raster,
            initial_weights: &w0,
            reward: None,
            steps: 300,
        };
        let theta = theta();
        let dual = dual_gradient(&circuit, &theta, trial);
        let (dual_loss, clipped) = negative_log_likelihood(&circuit, &theta, trial);
        let loss = trial_loss(&circuit, &theta, trial);
        assert!(
            (loss - dual_loss).abs() < 1e-9 * loss.abs(),
            "{loss} vs {dual_loss}"
        );
        let forward = likelihood_forward(
            &circuit,
            &theta,
            trial,
            true,
            &mut ForwardWorkspace::default(),
        );
        assert!((forward.loss - loss).abs() < 1e-9 * loss.abs());
        assert_close(&forward.gradient, &dual, 1e-10, "forward mode");
        for strategy in [
            GradientStrategy::FullTape,
            GradientStrategy::Checkpointed,
            GradientStrategy::CheckpointEvery(7),
        ] {
            let mut gradient = vec![0.0; theta.len()];
            let adjoint_loss = likelihood_adjoint(
                &circuit,
                &theta,
                trial,
                strategy,
                &mut AdjointWorkspace::default(),
                &mut gradient,
            );
            assert!((adjoint_loss - loss).abs() < 1e-9 * loss.abs());
            assert_close(&gradient, &dual, 1e-10, &format!("adjoint {strategy:?}"));
        }
        // the bounds clip some updates here, so the clip's derivative is exercised
        let _ = clipped;
    }
}

#[test]
fn gradients_equal_finite_differences_where_nothing_is_clipped() {
    let circuit = circuit(
        Escape::Exponential {
            rate_per_step: 0.05,
            delta_u: 0.5,
        },
        None,
    );
    let (raster, w0) = recording(&circuit, 200, 5);
    let trial = SpikeTrial {
        raster: &raster,
        initial_weights: &w0,
        reward: None,
        steps: 200,
    };
    let theta = theta();
    let forward = likelihood_forward(
        &circuit,
        &theta,
        trial,
        false,
        &mut ForwardWorkspace::default(),
    );
    let h = 1e-6;
    let fd: Vec<f64> = (0..theta.len())
        .map(|k| {
            let mut plus = theta.clone();
            plus[k] += h;
            let mut minus = theta.clone();
            minus[k] -= h;
            (trial_loss(&circuit, &plus, trial) - trial_loss(&circuit, &minus, trial)) / (2.0 * h)
        })
        .collect();
    assert_close(&forward.gradient, &fd, 1e-5, "finite differences");
}

#[test]
fn clipping_bounds_are_hit_in_the_dual_number_test() {
    let circuit = circuit(
        Escape::Exponential {
            rate_per_step: 0.05,
            delta_u: 0.5,
        },
        Some((-1.0, 1.0)),
    );
    let (raster, w0) = recording(&circuit, 300, 3);
    let trial = SpikeTrial {
        raster: &raster,
        initial_weights: &w0,
        reward: None,
        steps: 300,
    };
    let (_, clipped) = negative_log_likelihood(&circuit, &theta(), trial);
    assert!(
        clipped > 0,
        "no update was clipped: the clip's derivative is untested"
    );
}

#[test]
fn fisher_information_is_the_expected_outer_product_of_scores() {
    // E[score scoreᵀ] = Fisher: averaged over many recordings drawn at θ, the outer
    // product of the per-recording gradients approaches the summed Fisher matrices
    let circuit = circuit(Escape::Sigmoid { beta: 3.0 }, None);
    let theta = theta();
    let n = theta.len();
    let (mut outer, mut fisher) = (vec![0.0; n * n], vec![0.0; n * n]);
    let draws = 400;
    let mut workspace = ForwardWorkspace::default();
    for seed in 0..draws {
        let (raster, w0) = recording(&circuit, 60, 1000 + seed);
        let trial = SpikeTrial {
            raster: &raster,
            initial_weights: &w0,
            reward: None,
            steps: 60,
        };
        let system = likelihood_forward(&circuit, &theta, trial, true, &mut workspace);
        for a in 0..n {
            for b in 0..n {
                outer[a * n + b] += system.gradient[a] * system.gradient[b];
                fisher[a * n + b] += system.fisher[a * n + b];
            }
        }
    }
    // compare the diagonals of the two ten-term and pair-term blocks where they are
    // largest (sampling error ~ 1/√draws)
    let diagonal = |m: &[f64], k: usize| m[k * n + k];
    let k = (0..n)
        .max_by(|&a, &b| diagonal(&fisher, a).total_cmp(&diagonal(&fisher, b)))
        .unwrap();
    let ratio = diagonal(&outer, k) / diagonal(&fisher, k);
    assert!(
        (ratio - 1.0).abs() < 0.2,
        "score variance / Fisher = {ratio}"
    );
}

#[test]
fn second_traces_decay_with_their_own_time_constants() {
    // one spike of the first output neuron (global 8) at step 0: its postsynaptic
    // traces on the recurrent projection are d^t after t steps, d per trace
    let circuit = circuit(Escape::Sigmoid { beta: 3.0 }, None);
    assert_eq!(circuit.uses_second_traces(1), (true, true));
    assert_eq!(circuit.uses_second_traces(0), (false, false));
    let mut raster = SpikeRaster::new();
    raster.push_step([8u32]);
    for _ in 0..5 {
        raster.push_step(std::iter::empty());
    }
    let w0 = vec![0.5; circuit.n_synapses()];
    let mut state = crate::circuit::spiking::SpikingState::<f64>::new(&circuit, &w0);
    for t in 0..6 {
        circuit.begin_step(&mut state, raster.at(t));
        let (x2, y2) = state.second_traces_of(1);
        let y = state.y_trace_of(1);
        let steps = t as i32;
        assert!((y[0] - if t == 0 { 0.0 } else { 0.85f64.powi(steps) }).abs() < 1e-15);
        assert!((y2[0] - if t == 0 { 0.0 } else { 0.93f64.powi(steps) }).abs() < 1e-15);
        // the presynaptic side of the same neuron (delayed one step), with τ_pre2
        let expected_x2 = if t == 0 { 0.0 } else { 0.95f64.powi(steps - 1) };
        assert!((x2[0] - expected_x2).abs() < 1e-15, "step {t}: {}", x2[0]);
        circuit.decide::<f64, ChaCha8Rng>(
            &mut state,
            crate::circuit::spiking::Decision::Forced(raster.at(t)),
            |_, _, _, _| {},
        );
        circuit.finish_step(&theta(), &mut state, 0.0, |_| {});
    }
}
