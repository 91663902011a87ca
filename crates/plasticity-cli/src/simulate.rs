//! `plasticity simulate oja|behaviour|choice|circuit`: datasets simulated with a known
//! rule.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

use crate::flags::{CircuitTaskFlags, TaskArgs, TaskFlags};

#[derive(Args, Debug, Clone)]
pub(crate) struct SimulateOjaArgs {
    /// Output .npz file.
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    task: TaskArgs,
}

#[derive(Args, Debug, Clone)]
pub(crate) struct SimulateBehaviourArgs {
    /// Output .npz file.
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    task: TaskFlags,
}

/// `plasticity simulate circuit`.
#[derive(Args, Debug, Clone)]
pub(crate) struct SimulateCircuitArgs {
    /// Circuit file (TOML: populations, projections, rules; see docs/circuits.md).
    circuit: PathBuf,
    /// Output .npz file (kind "circuit").
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    task: CircuitTaskFlags,
}

pub(crate) fn simulate_oja(args: &SimulateOjaArgs) -> Result<()> {
    let dataset = args
        .task
        .task()
        .simulate()
        .context("simulating the dataset")?;
    dataset
        .save(&args.out)
        .with_context(|| format!("writing {}", args.out.display()))?;
    note!(
        "wrote {} ({} trajectories × {} steps, {}→{} neurons, {} recorded)",
        args.out.display(),
        dataset.n_trajectories(),
        dataset.steps(),
        dataset.n_pre(),
        dataset.n_post(),
        dataset.recorded_neurons.len()
    );
    Ok(())
}

pub(crate) fn simulate_behaviour(args: &SimulateBehaviourArgs) -> Result<()> {
    let task = args.task.task()?;
    let dataset = task.simulate().context("simulating the sessions")?;
    dataset
        .save(&args.out)
        .with_context(|| format!("writing {}", args.out.display()))?;
    let presentations: usize = dataset.n_presentations.iter().sum();
    let accepted: usize = (0..dataset.n_sessions())
        .map(|k| {
            dataset
                .session(k)
                .decisions
                .iter()
                .filter(|&&d| d == 1)
                .count()
        })
        .sum();
    let rewarded: f64 = dataset.rewards.iter().sum();
    note!(
        "wrote {} ({} sessions × {} trials, {} presentations, {} accepted, {} rewarded; rule {})",
        args.out.display(),
        dataset.n_sessions(),
        task.n_trials(),
        presentations,
        accepted,
        rewarded,
        task.rule
    );
    Ok(())
}

pub(crate) fn simulate_choice(args: &SimulateBehaviourArgs) -> Result<()> {
    let task = plasticity::task::BehaviourTask {
        kind: plasticity::data::BehaviourKind::Choice,
        ..args.task.task()?
    };
    let dataset = task.simulate().context("simulating the sessions")?;
    dataset
        .save(&args.out)
        .with_context(|| format!("writing {}", args.out.display()))?;
    let (mut chose_b, mut rewarded) = (0usize, 0.0);
    for k in 0..dataset.n_sessions() {
        let session = dataset.session(k);
        let odours = dataset.session_odours(k);
        chose_b += (0..session.n_presentations())
            .filter(|&p| session.decisions[p] == 1 && odours[p] == 1)
            .count();
        rewarded += session.rewards.iter().sum::<f64>();
    }
    note!(
        "wrote {} ({} sessions × {} choice trials, odour B chosen {} times, {} rewarded; rule {})",
        args.out.display(),
        dataset.n_sessions(),
        task.n_trials(),
        chose_b,
        rewarded,
        task.rule
    );
    Ok(())
}

pub(crate) fn simulate_circuit_command(args: &SimulateCircuitArgs) -> Result<()> {
    let source = std::fs::read_to_string(&args.circuit)
        .with_context(|| format!("reading circuit {}", args.circuit.display()))?;
    if plasticity::circuit::spiking::spec::is_spiking_source(&source) {
        return simulate_spiking(args);
    }
    let dataset = args
        .task
        .task(&args.circuit)?
        .simulate()
        .context("simulating the circuit")?;
    dataset.save(&args.out)?;
    let recorded: Vec<String> = dataset
        .network
        .populations()
        .iter()
        .zip(&dataset.recorded_neurons)
        .filter(|(p, _)| p.is_simulated())
        .map(|(p, r)| format!("{} {}/{}", p.name, r.len(), p.size))
        .collect();
    note!(
        "wrote {}: {} trajectories × {} steps, {} synapses, recorded: {}",
        args.out.display(),
        dataset.trajectories,
        dataset.steps,
        dataset.network.n_synapses(),
        recorded.join(", ")
    );
    Ok(())
}

/// `plasticity simulate circuit` on a spiking circuit file: spike trains (kind
/// "spike_train"), every neuron recorded.
fn simulate_spiking(args: &SimulateCircuitArgs) -> Result<()> {
    use plasticity::circuit::spiking::spec::SpikingCircuitSpec;
    let task = &args.task;
    if task.noise_std != 0.0 || task.recording_fraction.is_some() {
        anyhow::bail!(
            "--noise-std and --recording-fraction take rate circuits; a spiking circuit records every spike"
        );
    }
    let spec = SpikingCircuitSpec::load(&args.circuit)
        .with_context(|| format!("reading circuit {}", args.circuit.display()))?;
    let start = std::time::Instant::now();
    let dataset = plasticity::pipeline::spiking::simulate_spike_trains(
        &spec,
        task.trajectories,
        task.steps,
        task.seed,
    )
    .context("simulating the spiking circuit")?;
    let seconds = start.elapsed().as_secs_f64();
    dataset.save(&args.out)?;
    let spikes: usize = dataset.rasters.iter().map(|r| r.n_spikes()).sum();
    let biological = task.trajectories as f64 * task.steps as f64 * spec.dt / 1000.0;
    note!(
        "wrote {}: {} trajectories × {} steps of {} ms ({:.1} s of activity), {} neurons, {} synapses, {} spikes; simulated in {:.2} s ({:.3} × real time)",
        args.out.display(),
        task.trajectories,
        task.steps,
        spec.dt,
        biological,
        dataset.circuit.n_neurons(),
        dataset.circuit.n_synapses(),
        spikes,
        seconds,
        seconds / biological.max(1e-12)
    );
    Ok(())
}
