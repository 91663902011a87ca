//! The flags of the commands an experiment file's cells run (`table`, `flies`,
//! `bench-kernels`): shared by those commands and `run`.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use plasticity::rule::{parse_expression, Variables};

use super::{weight_bound, FamilyArg, FitOptions, RewardSignalArg};

#[derive(Args, Debug)]
pub(crate) struct TableArgs {
    /// Output directory: table.csv, table.md, table.json.
    #[arg(long)]
    pub(crate) out: PathBuf,
    /// Generating rules, separated by ';' (default: the 44 rules of the paper's
    /// Tables 1 and 3).
    #[arg(long)]
    pub(crate) rules: Option<String>,
    /// Rule families to fit, comma-separated.
    #[arg(long, default_value = "taylor,mlp", value_delimiter = ',')]
    pub(crate) families: Vec<FamilyArg>,
    /// Seeds per rule (each seed simulates its own sessions and starts its own fit).
    #[arg(long, default_value_t = 3)]
    pub(crate) seeds: u64,
    /// Training sessions per dataset.
    #[arg(long, default_value_t = 18)]
    pub(crate) sessions: usize,
    #[command(flatten)]
    pub(crate) fit: FitOptions,
    /// Continue an interrupted table (Ctrl-C, SIGTERM) in the same --out with the same
    /// flags: the fits it finished (kept in OUT/checkpoint/) are not run again.
    #[arg(long)]
    pub(crate) resume: bool,
}

impl TableArgs {
    /// Range checks: (key, message) of the first value out of range.
    pub(crate) fn check(&self) -> std::result::Result<(), (&'static str, String)> {
        if self.families.is_empty() {
            return Err(("families", "name at least one rule family".into()));
        }
        if self.seeds == 0 {
            return Err(("seeds", "must be at least 1".into()));
        }
        if self.sessions == 0 {
            return Err(("sessions", "must be at least 1".into()));
        }
        if let Some(rules) = &self.rules {
            for rule in rules.split(';') {
                if let Err(error) = parse_expression(rule.trim(), Variables::Xywr) {
                    return Err(("rules", format!("'{}': {error}", rule.trim())));
                }
            }
        }
        crate::flags::check_fit(&self.fit)
    }
}

/// What `flies` models.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FlyTaskArg {
    /// Every presentation accepted or rejected.
    AcceptReject,
    /// The odour chosen in each trial among both.
    Choice,
}

#[derive(Args, Debug)]
pub(crate) struct FliesArgs {
    /// Directory of fly recordings (.mat with X, Y, R, or the CSV layout), and/or of
    /// per-fly directories of deposited raw data (holding choice_order.mat; converted
    /// as `plasticity convert-fly` does).
    pub(crate) data_dir: PathBuf,
    /// Output directory: per_fly.csv, population.csv, comparison.json, figures/.
    #[arg(long)]
    pub(crate) out: PathBuf,
    /// Models to compare: sets of Taylor terms over x, y, w, r (each trainable, the rest
    /// 0), any number of them.
    #[arg(long, num_args = 1.., default_values = ["1,x,r,x*r", "1,x,r,x*r,w"])]
    pub(crate) models: Vec<String>,
    /// How the reward enters the rule: r = R − E[R] (centred) or r = R (raw).
    #[arg(long, value_enum, default_value = "centred")]
    pub(crate) reward_signal: RewardSignalArg,
    /// Draws of the unknowable sensory noise and initial weights per fly and model (the
    /// median is reported).
    #[arg(long, default_value_t = 5)]
    pub(crate) resamples: usize,
    /// Percentage of each fly's trials the held-out fit sees (the rest are predicted);
    /// the choice task holds out the last block instead (--heldout-from-trial).
    #[arg(long, default_value_t = 75.0)]
    pub(crate) training_percent: f64,
    /// What is modelled: accept-reject (every presentation's decision, docs/model.md
    /// §4.3) or choice (the odour chosen in each trial among both, softmax of the
    /// circuit's values; the chosen odours and rewards only, which the public files
    /// record faithfully: docs/flies.md).
    #[arg(long, value_enum, default_value_t = FlyTaskArg::AcceptReject)]
    pub(crate) task: FlyTaskArg,
    /// Fit on the trials before this one (1-based: trial N onwards are predicted)
    /// instead of --training-percent. Default with --task choice: 161, the last block.
    #[arg(long)]
    pub(crate) heldout_from_trial: Option<usize>,
    /// Adam epochs (passes over the fly's session) or L-BFGS iterations.
    #[arg(long, default_value_t = 250)]
    pub(crate) epochs: usize,
    /// Optimizer (the behaviour default: Adam, learning rate 1e-3; L-BFGS with
    /// --solver lbfgs).
    #[arg(long, value_enum)]
    pub(crate) optimizer: Option<crate::flags::OptimizerArg>,
    /// L1 penalty λ₁ Σ|θ| on the model's coefficients (0: maximum likelihood).
    /// Default 1e-2; 0 with --solver levenberg-marquardt, which takes no penalty.
    #[arg(long)]
    pub(crate) l1: Option<f64>,
    /// The fits' solver: auto (the --optimizer: Adam with L1 by default, the paper's
    /// protocol), lbfgs, or levenberg-marquardt (damped Fisher scoring on the plain
    /// cross-entropy; no --l1, not Adam).
    #[arg(long, value_enum, default_value_t = crate::flags::SolverArg::Auto)]
    pub(crate) solver: crate::flags::SolverArg,
    /// Weight bound during the fits, or "none".
    #[arg(long, default_value = "10")]
    pub(crate) weight_bound: String,
    /// Base seed of the draws.
    #[arg(long, default_value_t = 0)]
    pub(crate) seed: u64,
    /// Skip the Q-learning baseline.
    #[arg(long)]
    pub(crate) no_q_learning: bool,
    /// Skip the profile-likelihood intervals.
    #[arg(long)]
    pub(crate) no_intervals: bool,
    /// Folds (split by fly) of the shared rule's cross-validation (at most one per
    /// fly: with fewer flies, one fly is left out at a time); 0 skips the population
    /// fit.
    #[arg(long, default_value_t = 6)]
    pub(crate) population_folds: usize,
    /// Also NUTS posterior intervals of every rule coefficient (draw 0 of each fly that
    /// rejects; prior matching the fit's penalty): per_fly.csv's *_posterior_* columns.
    #[arg(long)]
    pub(crate) posterior: bool,
    /// Chains of each fly's posterior.
    #[arg(long, default_value_t = 4)]
    pub(crate) posterior_chains: usize,
    /// Draws per chain after warm-up.
    #[arg(long, default_value_t = 500)]
    pub(crate) posterior_draws: usize,
    /// Warm-up draws per chain.
    #[arg(long, default_value_t = 500)]
    pub(crate) posterior_warmup: usize,
    /// Continue an interrupted run (Ctrl-C, SIGTERM) in the same --out with the same
    /// flags: the fits it finished (kept in OUT/checkpoint/) are not run again.
    #[arg(long)]
    pub(crate) resume: bool,
}

impl FliesArgs {
    /// Range checks: (key, message) of the first value out of range.
    pub(crate) fn check(&self) -> std::result::Result<(), (&'static str, String)> {
        if !self.data_dir.is_dir() {
            return Err((
                "data_dir",
                format!("{} is not a directory", self.data_dir.display()),
            ));
        }
        if self.resamples == 0 {
            return Err(("resamples", "must be at least 1".into()));
        }
        if !(self.training_percent > 0.0 && self.training_percent <= 100.0) {
            return Err((
                "training_percent",
                format!("must be in (0, 100], got {}", self.training_percent),
            ));
        }
        if self.epochs == 0 {
            return Err(("epochs", "must be at least 1".into()));
        }
        if let Some(l1) = self.l1.filter(|l1| !(l1.is_finite() && *l1 >= 0.0)) {
            return Err(("l1", format!("must be ≥ 0, got {l1}")));
        }
        if let Err(error) = weight_bound(&self.weight_bound) {
            return Err(("weight_bound", format!("{error:#}")));
        }
        Ok(())
    }

    /// The data directory, read relative to `base` when it is relative.
    pub(crate) fn rebase_data_dir(&mut self, base: &std::path::Path) {
        if self.data_dir.is_relative() {
            self.data_dir = base.join(&self.data_dir);
        }
    }
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BenchCase {
    /// Oja trajectory (f64, f32) and behaviour epochs (Taylor, MLP).
    All,
    /// One Oja trajectory in f64 only, with peak memory (for scaling runs).
    Trajectory,
    /// One trajectory of a plastic n_pre → n_post projection through the
    /// multi-population engine, with --density of its synapses present (stored
    /// sparsely), with peak memory.
    Sparse,
}

#[derive(Args, Debug)]
pub(crate) struct BenchArgs {
    /// Write the results here (JSON) as well as printing them.
    #[arg(long)]
    pub(crate) json: Option<PathBuf>,
    /// What to time.
    #[arg(long, value_enum, default_value = "all")]
    pub(crate) case: BenchCase,
    /// Steps of the Oja trajectory.
    #[arg(long, default_value_t = 50)]
    pub(crate) steps: usize,
    /// Presynaptic neurons of the Oja circuit.
    #[arg(long, default_value_t = 100)]
    pub(crate) n_pre: usize,
    /// Postsynaptic neurons of the Oja circuit.
    #[arg(long, default_value_t = 1000)]
    pub(crate) n_post: usize,
    /// Timed repetitions (the median is reported, after one untimed warm-up).
    #[arg(long, default_value_t = 5)]
    pub(crate) repeats: usize,
    /// Strategy of the Oja trajectory gradient (`--case trajectory`; `all` times the
    /// checkpointed adjoint and forward mode).
    #[arg(long, value_enum, default_value = "checkpointed")]
    pub(crate) gradient: crate::flags::GradientArg,
    /// `--case sparse`: fraction of the n_pre × n_post synapses present (default 1:
    /// every synapse, stored sparsely).
    #[arg(long, default_value_t = 1.0)]
    pub(crate) density: f64,
}

impl BenchArgs {
    /// Range checks: (key, message) of the first value out of range.
    pub(crate) fn check(&self) -> std::result::Result<(), (&'static str, String)> {
        for (key, value) in [
            ("steps", self.steps),
            ("n_pre", self.n_pre),
            ("n_post", self.n_post),
            ("repeats", self.repeats),
        ] {
            if value == 0 {
                return Err((key, "must be at least 1".into()));
            }
        }
        if !(self.density > 0.0 && self.density <= 1.0) {
            return Err((
                "density",
                format!("must be in (0, 1], got {}", self.density),
            ));
        }
        Ok(())
    }

    /// The flags that run this benchmark in a child process, its JSON written to `json`.
    pub(crate) fn command_line(&self, json: &std::path::Path) -> Vec<String> {
        vec![
            "bench-kernels".into(),
            "--case".into(),
            match self.case {
                BenchCase::All => "all".into(),
                BenchCase::Trajectory => "trajectory".into(),
                BenchCase::Sparse => "sparse".into(),
            },
            "--density".into(),
            self.density.to_string(),
            "--steps".into(),
            self.steps.to_string(),
            "--n-pre".into(),
            self.n_pre.to_string(),
            "--n-post".into(),
            self.n_post.to_string(),
            "--repeats".into(),
            self.repeats.to_string(),
            "--gradient".into(),
            self.gradient.name().into(),
            "--json".into(),
            json.display().to_string(),
        ]
    }
}
