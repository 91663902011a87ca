//! Latent populations by expectation: the dual-number gradient and Fisher information
//! ([`super::mean_field`]) against the hand-written forward mode where every neuron
//! is recorded, against single-direction dual numbers (clipping hit) and against
//! finite differences of the loss (nothing clipped).

use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

use super::forward::{likelihood_forward, ForwardWorkspace};
use super::mean_field::likelihood_mean_field;
use super::tests::{assert_close, dual_gradient, neuron, recording, theta};
use super::*;
use crate::circuit::spiking::{
    run_circuit, Escape, NamedSpikeRule, RunDrive, SpikeRaster, SpikingCircuit, SpikingKind,
    SpikingPopulation, SpikingProjection,
};
use crate::circuit::spiking::{Decision, SpikingState};
use crate::circuit::Connectivity;
use crate::rule::spike::SpikeRule;

const ESCAPE: Escape = Escape::Exponential {
    rate_per_step: 0.05,
    delta_u: 0.5,
};

/// 8 sources → 3 recorded neurons and 3 latent ones (plastic, the ten-term family);
/// latent → recorded (plastic, pair terms and `w`: a latent presynaptic side);
/// recorded → latent (fixed). `hidden_recorded` marks the latent population recorded.
fn latent_circuit(bounds: Option<(f64, f64)>, hidden_recorded: bool) -> SpikingCircuit {
    let population = |name: &str, size, kind, recorded| SpikingPopulation {
        name: String::from(name),
        size,
        kind,
        recorded,
    };
    let populations = vec![
        population("src", 8, SpikingKind::Source, true),
        population("out", 3, SpikingKind::Lif(neuron(ESCAPE, true, 1)), true),
        population(
            "hidden",
            3,
            SpikingKind::Lif(neuron(ESCAPE, false, 2)),
            hidden_recorded,
        ),
    ];
    let projection = |name: &str, pre, post, connectivity, scale, rule| SpikingProjection {
        name: name.into(),
        pre,
        post,
        connectivity,
        scale,
        rule,
        learning_rate: 1.0,
        pre_decay: 0.8,
        post_decay: 0.85,
        pre_decay2: 0.95,
        post_decay2: 0.93,
    };
    let projections = vec![
        projection("ff", 0, 1, Connectivity::all(8, 3, true), 0.6, Some(0)),
        projection(
            "ff_hidden",
            0,
            2,
            Connectivity::all(8, 3, true),
            0.6,
            Some(0),
        ),
        projection("lateral", 2, 1, Connectivity::all(3, 3, true), 0.8, Some(1)),
        projection("back", 1, 2, Connectivity::all(3, 3, true), -0.3, None),
    ];
    let rules = vec![
        NamedSpikeRule {
            name: "ff".into(),
            rule: SpikeRule::from_names(&["ten"]).unwrap(),
        },
        NamedSpikeRule {
            name: "lateral".into(),
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

fn trial<'a>(raster: &'a SpikeRaster, w0: &'a [f64], steps: usize) -> SpikeTrial<'a> {
    SpikeTrial {
        raster,
        initial_weights: w0,
        reward: None,
        steps,
    }
}

#[test]
fn dual_lanes_equal_forward_mode_when_every_neuron_is_recorded() {
    let circuit = latent_circuit(Some((-1.0, 1.0)), true);
    assert!(!circuit.has_latent());
    let (raster, w0) = recording(&circuit, 300, 3);
    let trial = trial(&raster, &w0, 300);
    let theta = theta();
    let lanes = likelihood_mean_field(&circuit, &theta, trial, true);
    let forward = likelihood_forward(
        &circuit,
        &theta,
        trial,
        true,
        &mut ForwardWorkspace::default(),
    );
    assert!((lanes.loss - forward.loss).abs() < 1e-10 * forward.loss.abs());
    assert_eq!(lanes.observations, forward.observations);
    assert_close(&lanes.gradient, &forward.gradient, 1e-10, "gradient");
    assert_close(&lanes.fisher, &forward.fisher, 1e-10, "Fisher information");
}

#[test]
fn latent_gradient_equals_single_direction_dual_numbers_with_clipping() {
    let circuit = latent_circuit(Some((-1.0, 1.0)), false);
    circuit.check_mean_field().unwrap();
    let (raster, w0) = recording(&circuit, 300, 4);
    let trial = trial(&raster, &w0, 300);
    let theta = theta();
    let (_, clipped) = negative_log_likelihood(&circuit, &theta, trial);
    assert!(clipped > 0, "no update clipped: the clip is untested");
    let lanes = likelihood_mean_field(&circuit, &theta, trial, false);
    let loss = trial_loss(&circuit, &theta, trial);
    assert!((lanes.loss - loss).abs() < 1e-10 * loss.abs());
    // only the recorded neurons are observed (3 of 6; minus refractory steps)
    assert!(lanes.observations <= 300 * 3, "{}", lanes.observations);
    let oracle = dual_gradient(&circuit, &theta, trial);
    assert_close(&lanes.gradient, &oracle, 1e-10, "latent gradient");
    assert!(lanes.gradient.iter().all(|g| g.is_finite()));
}

#[test]
fn latent_gradient_equals_finite_differences_where_nothing_is_clipped() {
    let circuit = latent_circuit(None, false);
    let (raster, w0) = recording(&circuit, 200, 5);
    let trial = trial(&raster, &w0, 200);
    let theta = theta();
    let lanes = likelihood_mean_field(&circuit, &theta, trial, false);
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
    assert_close(&lanes.gradient, &fd, 1e-5, "finite differences");
    // the latent neurons matter: marking them recorded changes the loss
    let recorded = latent_circuit(None, true);
    let all = trial_loss(&recorded, &theta, trial);
    assert!((all - lanes.loss).abs() > 1e-3, "{all} vs {}", lanes.loss);
}

#[test]
fn latent_populations_the_expectation_cannot_take_are_refused() {
    let mut populations = latent_circuit(None, false).populations().to_vec();
    if let SpikingKind::Lif(neuron) = &mut populations[2].kind {
        neuron.adaptation = Some(crate::circuit::spiking::Adaptation {
            decay: 0.9,
            increment: 0.3,
        });
    }
    let circuit = latent_circuit(None, false);
    let adaptive = SpikingCircuit::new(
        populations,
        circuit.projections().to_vec(),
        circuit.rules().to_vec(),
        None,
        1.0,
    )
    .unwrap();
    let error = adaptive.check_mean_field().unwrap_err().to_string();
    assert!(
        error.contains("populations.hidden") && error.contains("alif"),
        "{error}"
    );
    let mut sources = circuit.populations().to_vec();
    sources[0].recorded = false;
    let error = SpikingCircuit::new(
        sources,
        circuit.projections().to_vec(),
        circuit.rules().to_vec(),
        None,
        1.0,
    )
    .unwrap_err()
    .to_string();
    assert!(error.contains("populations.src.recorded"), "{error}");
}

#[test]
fn expected_spikes_of_a_latent_neuron_equal_its_simulated_spike_rate() {
    // fixed weights and known input: the age density's ŝ_t is the exact marginal spike
    // probability, so Σ_t ŝ_t matches the mean spike count over many simulations
    let populations = vec![
        SpikingPopulation {
            name: "src".into(),
            size: 8,
            kind: SpikingKind::Source,
            recorded: true,
        },
        SpikingPopulation {
            name: "hidden".into(),
            size: 2,
            kind: SpikingKind::Lif(neuron(ESCAPE, false, 2)),
            recorded: false,
        },
    ];
    let projections = vec![SpikingProjection {
        name: "ff".into(),
        pre: 0,
        post: 1,
        connectivity: Connectivity::all(8, 2, true),
        scale: 0.15,
        rule: None,
        learning_rate: 1.0,
        pre_decay: 0.8,
        post_decay: 0.8,
        pre_decay2: 0.95,
        post_decay2: 0.93,
    }];
    let circuit = SpikingCircuit::new(populations, projections, Vec::new(), None, 1.0).unwrap();
    let steps = 150;
    let (raster, w0) = {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let w0: Vec<f64> = (0..16).map(|_| 0.3 + 0.5 * rng.random::<f64>()).collect();
        let mut sources = SpikeRaster::new();
        for _ in 0..steps {
            sources.push_step((0..8u32).filter(|_| rng.random::<f64>() < 0.3));
        }
        (sources, w0)
    };
    let mut state = SpikingState::<f64>::teacher_forced(&circuit, &w0);
    let mut expected = [0.0; 2];
    for t in 0..steps {
        circuit.begin_step(&mut state, raster.at(t));
        circuit.decide::<f64, ChaCha8Rng>(
            &mut state,
            Decision::Forced(raster.at(t)),
            |_, _, _, _| {},
        );
        expected[0] += state.expected[8];
        expected[1] += state.expected[9];
        circuit.finish_step(&[], &mut state, 0.0, |_| {});
    }
    let runs = 4000;
    let (mut sum, mut squares) = ([0.0; 2], [0.0; 2]);
    let mut rng = ChaCha8Rng::seed_from_u64(10);
    for _ in 0..runs {
        let drive = RunDrive {
            sources: &raster,
            forced: None,
            reward: None,
        };
        let run = run_circuit(&circuit, &[], &w0, drive, &mut rng, 0);
        let mut count = [0.0; 2];
        for (_, i) in run.raster.events() {
            if i >= 8 {
                count[i as usize - 8] += 1.0;
            }
        }
        for n in 0..2 {
            sum[n] += count[n];
            squares[n] += count[n] * count[n];
        }
    }
    for n in 0..2 {
        let mean = sum[n] / runs as f64;
        let se = ((squares[n] / runs as f64 - mean * mean) / runs as f64).sqrt();
        assert!(mean > 5.0, "too few spikes to test: {mean}");
        assert!(
            (expected[n] - mean).abs() < 4.0 * se,
            "neuron {n}: expected {} spikes, simulated {mean} ± {se}",
            expected[n]
        );
    }
}

#[test]
fn every_strategy_takes_latent_populations_through_the_dual_lanes() {
    use super::adjoint::{likelihood_adjoint, AdjointWorkspace};
    let circuit = latent_circuit(Some((-1.0, 1.0)), false);
    let (raster, w0) = recording(&circuit, 150, 6);
    let trial = trial(&raster, &w0, 150);
    let theta = theta();
    let lanes = likelihood_mean_field(&circuit, &theta, trial, true);
    let forward = likelihood_forward(
        &circuit,
        &theta,
        trial,
        true,
        &mut ForwardWorkspace::default(),
    );
    assert_eq!(forward, lanes);
    let mut gradient = vec![0.0; theta.len()];
    let loss = likelihood_adjoint(
        &circuit,
        &theta,
        trial,
        crate::gradient::GradientStrategy::Checkpointed,
        &mut AdjointWorkspace::default(),
        &mut gradient,
    );
    assert_eq!((loss, gradient), (lanes.loss, lanes.gradient));
}
