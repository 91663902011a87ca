//! The surrogate spike derivative as defined, and its propagation through free-running
//! runs: the dual-number lanes against single-direction dual numbers (num-dual, same
//! surrogate), for deterministic spikes and escape noise.

use num_dual::Dual64;
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

use super::surrogate::{run_with_surrogate, surrogate_spike_counts};
use super::tests::{assert_close, circuit, theta};
use crate::circuit::spiking::{Escape, SpikeRaster, Surrogate};

#[test]
fn the_surrogate_spike_keeps_its_value_and_takes_the_fast_sigmoid_derivative() {
    let surrogate = Surrogate { slope: 2.0 };
    for (u, spike) in [(0.3, false), (-1.5, true), (0.0, true)] {
        let s = surrogate.spike(spike, Dual64::new(u, 1.0));
        assert_eq!(s.re, f64::from(u8::from(spike)));
        let expected = 1.0 / (1.0 + 2.0 * f64::abs(u)).powi(2);
        assert!((s.eps - expected).abs() < 1e-15, "{} vs {expected}", s.eps);
        assert_eq!(surrogate.spike(spike, u), f64::from(u8::from(spike)));
    }
}

fn sources(steps: usize, seed: u64) -> SpikeRaster {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut sources = SpikeRaster::new();
    for _ in 0..steps {
        sources.push_step((0..8u32).filter(|_| rng.random::<f64>() < 0.3));
    }
    sources
}

#[test]
fn surrogate_lanes_equal_single_direction_dual_numbers() {
    let surrogate = Surrogate { slope: 1.5 };
    for escape in [
        Escape::Deterministic,
        Escape::Exponential {
            rate_per_step: 0.05,
            delta_u: 0.5,
        },
    ] {
        let circuit = circuit(escape, Some((-1.0, 1.0)));
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let w0: Vec<f64> = (0..circuit.n_synapses())
            .map(|_| 0.3 + 0.5 * rng.random::<f64>())
            .collect();
        let raster = sources(200, 3);
        let theta = theta();
        let window = 50..200;
        let lanes = surrogate_spike_counts(
            &circuit,
            &theta,
            &w0,
            &raster,
            &mut ChaCha8Rng::seed_from_u64(7),
            window.clone(),
            surrogate,
        );
        let n_p = theta.len();
        let out = circuit.neuron_range(1);
        assert!(
            lanes.counts[out.clone()].iter().sum::<f64>() > 20.0,
            "{lanes:?}"
        );
        // each direction alone, through the same generic run
        for k in 0..n_p {
            let dual: Vec<Dual64> = theta
                .iter()
                .enumerate()
                .map(|(m, &v)| Dual64::new(v, f64::from(u8::from(m == k))))
                .collect();
            let mut derivative = vec![0.0; circuit.n_neurons()];
            let mut counts = vec![0.0; circuit.n_neurons()];
            run_with_surrogate(
                &circuit,
                &dual,
                &w0,
                &raster,
                &mut ChaCha8Rng::seed_from_u64(7),
                surrogate,
                |t, i, s| {
                    if window.contains(&t) {
                        counts[i] += s.re;
                        derivative[i] += s.eps;
                    }
                },
            );
            assert_eq!(counts, lanes.counts, "the same spikes");
            let from_lanes: Vec<f64> = (0..circuit.n_neurons())
                .map(|i| lanes.derivatives[i * n_p + k])
                .collect();
            assert_close(&from_lanes, &derivative, 1e-10, &format!("θ_{k}"));
        }
        let total: f64 = lanes.derivatives.iter().map(|d| d.abs()).sum();
        assert!(total > 0.0, "the surrogate carried no derivative");
    }
}
