//! The flags of the simulated tasks (the `simulate` commands, an experiment's
//! [simulate] section).

use std::path::Path;

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};

use plasticity::circuit::{CircuitSpec, RewardSignal};
use plasticity::task::{BehaviourTask, CircuitTask, OjaTask};

#[derive(Args, Debug, Clone)]
pub(crate) struct TaskArgs {
    /// Presynaptic neurons.
    #[arg(long, default_value_t = 100)]
    n_pre: usize,
    /// Postsynaptic neurons.
    #[arg(long, default_value_t = 1000)]
    n_post: usize,
    /// Time steps per trajectory.
    #[arg(long, default_value_t = 50)]
    steps: usize,
    /// Number of trajectories, each from its own W₀ ~ N(0, 1/n_pre).
    #[arg(long, default_value_t = 50)]
    trajectories: usize,
    /// Standard deviation of Gaussian measurement noise added once to the recording.
    #[arg(long, default_value_t = 0.0)]
    noise_std: f64,
    /// Fraction of postsynaptic neurons recorded (the others are simulated but not in
    /// the data).
    #[arg(long, default_value_t = 1.0)]
    recording_fraction: f64,
    /// Generating rule as an expression over x, y, w.
    #[arg(long, default_value = "x*y - y^2*w", allow_hyphen_values = true)]
    rule: String,
    /// Seed of every random draw.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Standard deviation of the inputs x_t ~ N(0, σ²) (default √0.1: variance 0.1).
    #[arg(long)]
    input_std: Option<f64>,
}

impl TaskArgs {
    pub(crate) fn task(&self) -> OjaTask {
        OjaTask {
            n_pre: self.n_pre,
            n_post: self.n_post,
            steps: self.steps,
            trajectories: self.trajectories,
            input_std: self.input_std.unwrap_or(0.1f64.sqrt()),
            initial_weight_std: None,
            noise_std: self.noise_std,
            recording_fraction: self.recording_fraction,
            rule: self.rule.clone(),
            seed: self.seed,
        }
    }
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub(crate) enum RewardSignalArg {
    /// r = R − E[R].
    Centred,
    /// r = R.
    Raw,
}

impl RewardSignalArg {
    pub(crate) fn signal(self) -> RewardSignal {
        match self {
            RewardSignalArg::Centred => RewardSignal::Centred,
            RewardSignalArg::Raw => RewardSignal::Raw,
        }
    }
}

/// The task's flags, each with the default of docs/model.md §4.2.
#[derive(Args, Debug, Clone)]
pub(crate) struct TaskFlags {
    /// Generating rule, an expression over x, y, w, r (e.g. "x*r - 0.05*w").
    #[arg(long, default_value = "x*r", allow_hyphen_values = true)]
    rule: String,
    /// Sessions (simulated animals), each from its own W₀.
    #[arg(long, default_value_t = 18)]
    sessions: usize,
    /// Blocks per session.
    #[arg(long, default_value_t = 3)]
    blocks: usize,
    /// Trials per block.
    #[arg(long, default_value_t = 80)]
    trials_per_block: usize,
    /// Reward probabilities (p_A, p_B) of each block, "pA,pB;pA,pB;…", used cyclically.
    #[arg(long, default_value = "0.2,0.8;0.9,0.1;0.2,0.8")]
    reward_probabilities: String,
    /// Inputs (odour channels).
    #[arg(long, default_value_t = 2)]
    n_in: usize,
    /// Hidden (plastic) units.
    #[arg(long, default_value_t = 10)]
    n_hidden: usize,
    /// Level at which an odour drives its inputs.
    #[arg(long, default_value_t = 0.75)]
    odour_level: f64,
    /// Standard deviation of the sensory noise on each input.
    #[arg(long, default_value_t = 0.015)]
    input_noise_std: f64,
    /// Standard deviation of W₀.
    #[arg(long, default_value_t = 0.01)]
    initial_weight_std: f64,
    /// E[R] is the mean of this many last collected rewards (initially zeros).
    #[arg(long, default_value_t = 10)]
    expected_reward_window: usize,
    /// How the reward enters the rule: r = R − E[R] (centred) or r = R (raw).
    #[arg(long, value_enum, default_value = "centred")]
    reward_signal: RewardSignalArg,
    /// A trial with this many rejections in a row ends without a choice.
    #[arg(long, default_value_t = 50)]
    max_presentations_per_trial: usize,
    /// Seed of every random draw.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

/// Parses "pA,pB;pA,pB;…".
pub(crate) fn reward_probabilities(text: &str) -> Result<Vec<[f64; 2]>> {
    text.split(';')
        .map(|block| {
            let values: Vec<f64> = block
                .split(',')
                .map(|v| v.trim().parse::<f64>())
                .collect::<std::result::Result<_, _>>()
                .with_context(|| format!("--reward-probabilities: '{block}' is not 'pA,pB'"))?;
            match values.as_slice() {
                [a, b] => Ok([*a, *b]),
                _ => bail!("--reward-probabilities: '{block}' needs two probabilities 'pA,pB'"),
            }
        })
        .collect()
}

impl TaskFlags {
    pub(crate) fn task(&self) -> Result<BehaviourTask> {
        Ok(BehaviourTask {
            n_blocks: self.blocks,
            trials_per_block: self.trials_per_block,
            reward_probabilities: reward_probabilities(&self.reward_probabilities)?,
            n_in: self.n_in,
            n_hidden: self.n_hidden,
            odour_level: self.odour_level,
            input_noise_std: self.input_noise_std,
            initial_weight_std: self.initial_weight_std,
            expected_reward_window: self.expected_reward_window,
            reward_signal: self.reward_signal.signal(),
            kind: plasticity::data::BehaviourKind::AcceptReject,
            max_presentations_per_trial: self.max_presentations_per_trial,
            sessions: self.sessions,
            rule: self.rule.clone(),
            seed: self.seed,
        })
    }
}

/// What to simulate from a circuit file (flags of `simulate circuit`, keys of an
/// experiment's [simulate] section).
#[derive(Args, Debug, Clone)]
pub(crate) struct CircuitTaskFlags {
    /// Trajectories, each with its own inputs (and W₀ unless the circuit shares it).
    #[arg(long, default_value_t = 50)]
    pub(crate) trajectories: usize,
    /// Steps per trajectory.
    #[arg(long, default_value_t = 50)]
    pub(crate) steps: usize,
    /// Standard deviation of Gaussian measurement noise added to the recording.
    #[arg(long, default_value_t = 0.0)]
    pub(crate) noise_std: f64,
    /// Record this fraction of every neuron population (overrides the circuit file's
    /// `recorded`).
    #[arg(long)]
    pub(crate) recording_fraction: Option<f64>,
    /// Seed of every random draw (masks, recorded neurons, W₀, inputs, noise).
    #[arg(long, default_value_t = 0)]
    pub(crate) seed: u64,
}

impl CircuitTaskFlags {
    /// The task on the circuit file `circuit`.
    pub(crate) fn task(&self, circuit: &Path) -> Result<CircuitTask> {
        let spec = CircuitSpec::load(circuit)
            .with_context(|| format!("reading circuit {}", circuit.display()))?;
        Ok(CircuitTask {
            spec,
            trajectories: self.trajectories,
            steps: self.steps,
            noise_std: self.noise_std,
            recording_fraction: self.recording_fraction,
            seed: self.seed,
        })
    }
}
