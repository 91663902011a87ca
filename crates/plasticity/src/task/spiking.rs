//! Seeded spike-train recordings of a spiking circuit: sources spiking at
//! Ornstein–Uhlenbeck-modulated Poisson rates, the circuit run freely under its
//! generating rules.

use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use rand_distr::StandardNormal;

use crate::circuit::spiking::spec::{read_rates, SpikingCircuitSpec};
use crate::circuit::spiking::{run_circuit, RunDrive, SpikeRaster, SpikingCircuit, SpikingRun};
use crate::Result;

/// The sources' spikes for `steps` steps: per source neuron `j` a Bernoulli draw per
/// step with probability `r_j(t) Δt / 1000`, `r_j(t) = clip(b_j + m z_g(t), lo, hi)`
/// ([`crate::circuit::spiking::spec::SourceSpec`]), the OU processes advanced exactly,
/// `z ← e^{−Δt/τ} z + √(1 − e^{−2Δt/τ}) ξ` from `z ~ N(0, 1)`; or `r_j(t)` read from
/// the population's rates file (which must have at least `steps` rows).
pub fn draw_sources(
    spec: &SpikingCircuitSpec,
    circuit: &SpikingCircuit,
    steps: usize,
    rng: &mut ChaCha8Rng,
) -> Result<SpikeRaster> {
    struct Source {
        start: usize,
        base: Vec<f64>,
        groups: Vec<f64>,
        modulation: f64,
        decay: f64,
        clip: [f64; 2],
    }
    let dt = spec.dt;
    let mut given = Vec::new();
    for (p, population) in spec.populations.iter().enumerate() {
        if let Some(file) = population.source.as_ref().and_then(|s| s.rates.as_ref()) {
            let path = std::path::Path::new(file);
            let rates = read_rates(path, population.size, dt)?;
            if rates.len() < steps {
                return Err(crate::Error::data(
                    path,
                    "rates",
                    format!(
                        "has {} rows (steps), the simulation needs {steps}",
                        rates.len()
                    ),
                ));
            }
            given.push((circuit.neuron_range(p).start, rates));
        }
    }
    let mut sources: Vec<Source> = spec
        .populations
        .iter()
        .enumerate()
        .filter_map(|(p, population)| {
            let source = population.source.as_ref()?;
            let [low, high] = source.base?;
            let base = (0..population.size)
                .map(|_| low + (high - low) * rng.random::<f64>())
                .collect();
            let groups = (0..source.groups)
                .map(|_| rng.sample::<f64, _>(StandardNormal))
                .collect();
            Some(Source {
                start: circuit.neuron_range(p).start,
                base,
                groups,
                modulation: source.modulation,
                decay: (-dt / source.tau).exp(),
                clip: source.clip.unwrap_or([0.0, 1000.0 / dt]),
            })
        })
        .collect();
    let mut raster = SpikeRaster::new();
    let mut spikes = Vec::new();
    for t in 0..steps {
        spikes.clear();
        for (start, rates) in &given {
            for (j, &rate) in rates[t].iter().enumerate() {
                if rng.random::<f64>() < rate * dt / 1000.0 {
                    spikes.push((start + j) as u32);
                }
            }
        }
        for source in &mut sources {
            let noise = (1.0 - source.decay * source.decay).sqrt();
            for z in &mut source.groups {
                *z = source.decay * *z + noise * rng.sample::<f64, _>(StandardNormal);
            }
            let n_groups = source.groups.len();
            for (j, &b) in source.base.iter().enumerate() {
                let rate = (b + source.modulation * source.groups[j % n_groups])
                    .clamp(source.clip[0], source.clip[1]);
                if rng.random::<f64>() < rate * dt / 1000.0 {
                    spikes.push((source.start + j) as u32);
                }
            }
        }
        spikes.sort_unstable();
        raster.push_step(spikes.iter().copied());
    }
    Ok(raster)
}

/// One simulated recording: its sources, its run (every neuron's spikes, the weights
/// every `weight_interval` steps) and `W₀`.
#[derive(Clone, Debug)]
pub struct SpikingRecording {
    /// `W₀`.
    pub initial_weights: Vec<f64>,
    /// The sources' spikes.
    pub sources: SpikeRaster,
    /// The run.
    pub run: SpikingRun,
}

/// Simulates one recording of `steps` steps under θ, everything drawn from `seed`
/// (`W₀`, then the sources, then the neurons' spikes, each from its own stream).
pub fn simulate_recording(
    spec: &SpikingCircuitSpec,
    circuit: &SpikingCircuit,
    theta: &[f64],
    steps: usize,
    seed: u64,
    weight_interval: usize,
) -> Result<SpikingRecording> {
    let mut weights_rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5730);
    let initial_weights = spec.draw_initial_weights(circuit, &mut weights_rng);
    let mut source_rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5352_4300);
    let sources = draw_sources(spec, circuit, steps, &mut source_rng)?;
    let mut neuron_rng = ChaCha8Rng::seed_from_u64(seed ^ 0x4e45_5552);
    let drive = RunDrive {
        sources: &sources,
        forced: None,
        reward: None,
    };
    let run = run_circuit(
        circuit,
        theta,
        &initial_weights,
        drive,
        &mut neuron_rng,
        weight_interval,
    );
    Ok(SpikingRecording {
        initial_weights,
        sources,
        run,
    })
}
