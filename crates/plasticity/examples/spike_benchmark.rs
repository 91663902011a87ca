//! Simulation speed of a 1,000-neuron recurrent LIF network with plastic E→E synapses
//! (experiments/spiking/benchmark_1000*.toml, the network of
//! scripts/spiking/brian2_benchmark.py), and the cost of the spike-train gradient on
//! its recording relative to the simulation (docs/spiking.md, "Performance").
//!
//! `cargo run --release -p plasticity --example spike_benchmark -- CIRCUIT.toml STEPS [gradient]`
//!
//! Prints one JSON line. With `gradient`, the teacher-forced likelihood's gradient of
//! the recording is timed too, by forward mode and by the checkpointed adjoint. The
//! likelihood does not model the unrecorded background input: this times the
//! gradient's cost, not a fit.

use std::time::Instant;

use plasticity::circuit::spiking::spec::SpikingCircuitSpec;
use plasticity::gradient::spiking::adjoint::{likelihood_adjoint, AdjointWorkspace};
use plasticity::gradient::spiking::forward::{likelihood_forward, ForwardWorkspace};
use plasticity::gradient::spiking::SpikeTrial;
use plasticity::gradient::GradientStrategy;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = args
        .first()
        .ok_or("usage: spike_benchmark CIRCUIT.toml STEPS [gradient]")?;
    let steps: usize = args.get(1).map_or(Ok(10_000), |s| s.parse())?;
    let gradient = args.get(2).is_some_and(|a| a == "gradient");
    let spec = SpikingCircuitSpec::load(path)?;
    let circuit = spec.build(1)?;
    let theta = spec.generating_theta()?;
    let start = Instant::now();
    // weights kept only at the start and the end
    let recording =
        plasticity::task::spiking::simulate_recording(&spec, &circuit, &theta, steps, 1, 0)?;
    let simulate_s = start.elapsed().as_secs_f64();
    let seconds = steps as f64 * spec.dt / 1000.0;
    let neurons = circuit.n_model_neurons();
    let spikes = recording.run.raster.n_spikes();
    let plastic = circuit.plastic_synapses();
    let mean = |w: &[f64]| plastic.iter().map(|&k| w[k]).sum::<f64>() / plastic.len().max(1) as f64;
    let mut line = format!(
        "{{\"simulator\": \"plasticity\", \"version\": \"{}\", \"circuit\": \"{path}\", \"dt_ms\": {}, \"duration_s\": {seconds}, \"neurons\": {neurons}, \"synapses\": {}, \"plastic_synapses\": {}, \"spikes\": {spikes}, \"rate_hz\": {:.3}, \"mean_plastic_weight_start\": {:.6}, \"mean_plastic_weight_end\": {:.6}, \"simulate_s\": {simulate_s:.4}, \"realtime_factor\": {:.5}",
        plasticity::VERSION,
        spec.dt,
        circuit.n_synapses(),
        plastic.len(),
        spikes as f64 / neurons as f64 / seconds,
        mean(&recording.run.weights[0]),
        mean(recording.run.weights.last().expect("the end is kept")),
        simulate_s / seconds,
    );
    if gradient {
        let trial = SpikeTrial {
            raster: &recording.run.raster,
            initial_weights: &recording.initial_weights,
            reward: None,
            steps,
        };
        let start = Instant::now();
        let system = likelihood_forward(
            &circuit,
            &theta,
            trial,
            false,
            &mut ForwardWorkspace::default(),
        );
        let forward_s = start.elapsed().as_secs_f64();
        let start = Instant::now();
        let mut g = vec![0.0; theta.len()];
        let loss = likelihood_adjoint(
            &circuit,
            &theta,
            trial,
            GradientStrategy::Checkpointed,
            &mut AdjointWorkspace::default(),
            &mut g,
        );
        let adjoint_s = start.elapsed().as_secs_f64();
        let difference = system
            .gradient
            .iter()
            .zip(&g)
            .map(|(a, b)| (a - b).abs() / a.abs().max(b.abs()).max(1e-300))
            .fold(0.0f64, f64::max);
        line.push_str(&format!(
            ", \"forward_gradient_s\": {forward_s:.4}, \"adjoint_gradient_s\": {adjoint_s:.4}, \"forward_over_simulation\": {:.2}, \"adjoint_over_simulation\": {:.2}, \"largest_relative_difference\": {difference:.2e}, \"negative_log_likelihood\": {loss:.3}",
            forward_s / simulate_s,
            adjoint_s / simulate_s
        ));
    }
    println!("{line}}}");
    Ok(())
}
