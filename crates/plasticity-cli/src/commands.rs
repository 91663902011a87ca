//! Command-line flags and what each command does.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::journal::FitResume;
use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use plasticity::data::{Dataset, NeuralDataset};
use plasticity::fit::neural::{
    evaluate_on_dataset, fit_neural, generating_theta, NeuralFitSettings, RuleFamily,
};
use plasticity::fit::{Basis, EpochReport, FitConfig, OptimizerKind};
use plasticity::gradient::GradientStrategy;
use plasticity::objective::{NeuralObjective, Objective};
use plasticity::report::{
    coefficient_uncertainty, coefficients_csv, neural_results, write_json, write_text, Uncertainty,
};
use plasticity::rule::{parse_expression, term_names, PlasticityRule, Rule, TaylorRule, Variables};
use plasticity::task::OjaTask;

/// Infer synaptic plasticity rules from recordings of neural activity.
///
/// A parameterised rule Δw = g_θ(x, y, w) (a Taylor series over presynaptic activity
/// x, postsynaptic activity y and weight w, or a small MLP) sits inside a simulated
/// circuit y_t = sigmoid(W_t x_t); θ is fitted by gradient descent through the whole
/// recorded trajectory so that the simulation reproduces the recording.
#[derive(Parser, Debug)]
#[command(name = "plasticity", version, about, long_about)]
pub struct Cli {
    /// Print nothing but errors: no progress bars, messages, warnings or summaries
    /// (results go to the files only). What a command writes nowhere else still goes
    /// to stdout: the JSON of loss, evaluate and bench-kernels, the job id of a Slurm
    /// submission.
    #[arg(long, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

impl Cli {
    /// Whether --quiet was given.
    pub fn quiet(&self) -> bool {
        self.quiet
    }
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Simulate data, fit a rule to it and report how well the generating rule was
    /// recovered (Oja's rule by default, a small problem that runs in about a minute;
    /// --paper-scale for the paper's 100→1000 experiment).
    Oja(OjaArgs),
    /// Simulate a dataset with a known rule.
    #[command(subcommand)]
    Simulate(SimulateCommand),
    /// Fit a plasticity rule to a dataset; writes DIR/results.json and
    /// DIR/coefficients.csv.
    Fit(FitArgs),
    /// What a fit's data determine: the Gauss-Newton / Fisher information at the
    /// fitted θ over the trainable terms, its eigenvalues, condition number and
    /// least-determined directions, Laplace standard errors and 95 % intervals
    /// (profile-likelihood ones for --terms); writes RUN_DIR/identifiability.json and
    /// figures.
    Identify(crate::identify::IdentifyArgs),
    /// Posterior samples of a Taylor fit's trainable terms (behaviour or neural) by NUTS (4 chains in
    /// parallel by default), with a prior matching the fit's penalty: per term mean,
    /// sd, 2.5/50/97.5 % quantiles, split R-hat, bulk ESS, the divergences, and the
    /// Laplace interval beside it; writes RUN_DIR/posterior.json,
    /// RUN_DIR/posterior_draws.csv and a pair plot.
    Posterior(crate::posterior::PosteriorArgs),
    /// Print the data loss (no penalty) and its gradient for every term at a given θ,
    /// as JSON: for cross-checking against other implementations.
    Loss(LossArgs),
    /// Print the metrics of a given θ as JSON: loss, and against the generating rule of
    /// simulated data, R² of weights and activity on fresh trajectories (or sessions)
    /// and the coefficient error.
    Evaluate(EvaluateArgs),
    /// The paper's table of reward rules: simulate each generating rule, fit Taylor and
    /// MLP rules to the choices (several seeds, in parallel) and write table.csv and
    /// table.md.
    // the fit flags that a table of behaviour fits does not read stay out of its help
    #[command(
        mut_arg("rule_family", |a| a.hide(true)),
        mut_arg("online", |a| a.hide(true)),
        mut_arg("update_every", |a| a.hide(true)),
        mut_arg("online_decay_after", |a| a.hide(true)),
        mut_arg("memory_budget", |a| a.hide(true)),
        mut_arg("horizon_stages", |a| a.hide(true)),
        mut_arg("stage_epochs", |a| a.hide(true)),
        mut_arg("precondition_trajectories", |a| a.hide(true)),
        mut_arg("initial_weights_epochs", |a| a.hide(true)),
        mut_arg("stage_tolerance", |a| a.hide(true)),
        mut_arg("eval_trajectories", |a| a.hide(true)),
        mut_arg("solver", |a| a.hide(true)),
        mut_arg("line_search", |a| a.hide(true))
    )]
    Table(crate::behaviour::TableArgs),
    /// Real flies: fit each fly's choices under several models (sets of Taylor terms),
    /// with held-out prediction, and compare the models across flies (paired Wilcoxon
    /// signed-rank test), against a Q-learning baseline and one rule shared by all
    /// flies, with profile-likelihood intervals; writes per_fly.csv, population.csv,
    /// comparison.json and figures.
    Flies(crate::flies::FliesArgs),
    /// Model selection on a behaviour dataset: which Taylor terms the choices ask for.
    /// Term sets from a pool (every subset up to --max-terms, or forward stepwise) are
    /// scored by held-out deviance (cross-validation with folds by session), AIC and
    /// BIC, and every set within --tolerance of the best is listed (the equivalence
    /// set); --l1-path adds the L1 regularisation path with λ chosen by the same
    /// cross-validation. Writes selection.csv, selection.json and figures.
    Select(crate::select::SelectArgs),
    /// Experiment design: simulate the two-odour task under a true rule for each number
    /// of animals and trials per session, fit the null model and the model with the
    /// true rule's extra terms to every replicate, and report the expected
    /// log-likelihood difference and the power of the likelihood-ratio test at
    /// --alpha; writes power.csv, design.json and figures.
    Design(crate::design::DesignArgs),
    /// Meta-learn a rule from what a circuit must do rather than from data (PCA: one
    /// neuron must find the first principal component; memory: a recurrent network
    /// must store patterns and recall them from partial cues). Adam (schedule,
    /// clipping, proximal L1) or CMA-ES over fresh tasks each step; evaluation on
    /// held-out tasks beside a tuned baseline. Writes results.json, coefficients.csv,
    /// loss_history.csv, coefficient_history.csv and figures/.
    Discover(crate::discover::DiscoverArgs),
    /// Time the kernels (an Oja trajectory's forward pass and gradient in f64 and
    /// f32, a behaviour epoch with the Taylor and MLP rules) on simulated data; JSON
    /// for `bench/run`.
    BenchKernels(crate::bench::BenchArgs),
    /// Run an experiment file (experiments/*.toml) into a run directory: the resolved
    /// config, run.json (version, git commit, seeds), table.csv, results.json, log.txt
    /// and figures; a grid's cells in parallel here, or as a Slurm job array
    /// (--executor slurm). --resume continues an interrupted run.
    Run(crate::run::RunArgs),
    /// Gather the finished cells of a run (a Slurm run's, typically) into its tables
    /// and figures; --resubmit-failed submits the unfinished ones again.
    Collect(crate::run::CollectArgs),
    /// Draw a run directory's figures again from its tables, without refitting.
    Plot(crate::run::PlotArgs),
    /// Run one cell of a run directory (what each Slurm array task runs).
    #[command(hide = true)]
    Cell(crate::run::CellArgs),
}

#[derive(Subcommand, Debug)]
enum SimulateCommand {
    /// Neural activity of a plastic layer y_t = sigmoid(W_t x_t) learning with a rule
    /// (docs/model.md §4.1): writes an .npz dataset (kind "neural").
    Oja(SimulateOjaArgs),
    /// Simulated flies choosing odours in the two-odour probabilistic reward task while
    /// learning with a rule (docs/model.md §4.2): writes an .npz dataset (kind "behaviour").
    Behaviour(crate::behaviour::SimulateBehaviourArgs),
    /// A multi-population circuit described in a TOML file (populations,
    /// projections, masks, rules; docs/circuits.md) learning with its rules: writes an
    /// .npz dataset (kind "circuit").
    Circuit(crate::circuit::SimulateCircuitArgs),
}

#[derive(Args, Debug, Clone)]
pub(crate) struct SimulateOjaArgs {
    /// Output .npz file.
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    task: TaskArgs,
}

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

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SolverArg {
    Auto,
    LevenbergMarquardt,
    Lbfgs,
}

impl SolverArg {
    pub(crate) fn solver(self) -> plasticity::fit::circuit::CircuitSolver {
        use plasticity::fit::circuit::CircuitSolver;
        match self {
            SolverArg::Auto => CircuitSolver::Auto,
            SolverArg::LevenbergMarquardt => CircuitSolver::LevenbergMarquardt,
            SolverArg::Lbfgs => CircuitSolver::Lbfgs,
        }
    }
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub(crate) enum LineSearchArg {
    Backtracking,
    Wolfe,
}

impl LineSearchArg {
    pub(crate) fn line_search(self) -> plasticity::optim::LineSearch {
        match self {
            LineSearchArg::Backtracking => plasticity::optim::LineSearch::Backtracking,
            LineSearchArg::Wolfe => plasticity::optim::LineSearch::StrongWolfe,
        }
    }
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub(crate) enum FamilyArg {
    Taylor,
    Mlp,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub(crate) enum OptimizerArg {
    Adam,
    Lbfgs,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub(crate) enum BasisArg {
    Auto,
    Centred,
    Scaled,
    Canonical,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub(crate) enum GradientArg {
    /// Reverse-mode adjoint with √T weight checkpoints.
    Checkpointed,
    /// Reverse-mode adjoint keeping every step.
    FullTape,
    /// Forward mode: sensitivities ∂W/∂θ carried along; memory independent of T.
    Forward,
    /// The adjoint when the recording and its tape fit in --memory-budget, else
    /// forward mode (streaming the recording); says which it chose.
    Auto,
}

impl GradientArg {
    pub(crate) fn strategy(self) -> GradientStrategy {
        match self {
            GradientArg::Checkpointed => GradientStrategy::Checkpointed,
            GradientArg::FullTape => GradientStrategy::FullTape,
            GradientArg::Forward => GradientStrategy::Forward,
            // data already in memory: the adjoint (files are resolved by `resolve_gradient`)
            GradientArg::Auto => GradientStrategy::Checkpointed,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            GradientArg::Checkpointed => "checkpointed",
            GradientArg::FullTape => "full-tape",
            GradientArg::Forward => "forward",
            GradientArg::Auto => "auto",
        }
    }
}

/// Half the memory the system reports available (`MemAvailable`), or 4 GiB where it
/// cannot be read: the default of --memory-budget.
fn default_memory_budget_bytes() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
            let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(kib * 1024 / 2)
        })
        .unwrap_or(4 << 30)
}

/// `--gradient auto` for the dataset at `path`: the cost model of
/// [`plasticity::gradient::choose_strategy`] on the sizes in the file's headers (no
/// array is read); other choices are returned as given.
fn resolve_gradient(
    path: &Path,
    gradient: GradientArg,
    parameters: usize,
    memory_budget_mib: Option<u64>,
) -> Result<GradientArg> {
    if !matches!(gradient, GradientArg::Auto) {
        return Ok(gradient);
    }
    let kind = plasticity::data::dataset_kind(path).with_context(|| reading_dataset(path))?;
    if kind != "neural" {
        note!("gradient: checkpointed (behaviour sessions are short; the adjoint is faster)");
        return Ok(GradientArg::Checkpointed);
    }
    let stream = open_stream(path)?;
    let n_rec = stream.recorded_neurons().len() as u64;
    let (n, steps) = (stream.n_trajectories() as u64, stream.steps() as u64);
    let (n_pre, n_post) = (stream.n_pre() as u64, stream.n_post() as u64);
    let data_bytes = 8 * (n * steps * (n_pre + n_rec) + n * n_post * n_pre);
    // what the adjoint loads also counts against the dataset limit of `limits`
    let budget = memory_budget_mib
        .map(|mib| mib << 20)
        .unwrap_or_else(default_memory_budget_bytes)
        .min(plasticity::limits::max_dataset_bytes());
    let choice = plasticity::gradient::choose_strategy(
        data_bytes,
        n_pre * n_post,
        parameters as u64,
        steps,
        budget,
    )?;
    let chosen = match choice.strategy {
        GradientStrategy::Forward => GradientArg::Forward,
        GradientStrategy::FullTape => GradientArg::FullTape,
        _ => GradientArg::Checkpointed,
    };
    note!("gradient: {} ({})", chosen.name(), choice.reason);
    Ok(chosen)
}

#[derive(Args, Debug, Clone)]
pub(crate) struct FitOptions {
    /// Rule family: a Taylor series over (x, y, w) (27 terms) or an MLP.
    #[arg(long, value_enum, default_value = "taylor")]
    pub(crate) rule_family: FamilyArg,
    /// Trainable Taylor terms: "all", a list "x*y,y^2*w", "vars:x,y" or "degree:2".
    /// The others stay exactly 0.
    #[arg(long, default_value = "all")]
    pub(crate) trainable: String,
    /// MLP hidden layer sizes, comma-separated.
    #[arg(long, default_value = "10", value_delimiter = ',')]
    pub(crate) hidden: Vec<usize>,
    /// Optimiser: L-BFGS on all trajectories (recovers the coefficients precisely) or
    /// Adam on minibatches (the paper's choice). Default: lbfgs for neural data, adam
    /// for behaviour.
    #[arg(long, value_enum)]
    pub(crate) optimizer: Option<OptimizerArg>,
    /// Epochs: Adam passes over the data, or L-BFGS iterations.
    #[arg(long, default_value_t = 250)]
    pub(crate) epochs: usize,
    /// Adam's learning rate.
    #[arg(long, default_value_t = 1e-3)]
    pub(crate) learning_rate: f64,
    /// Trajectories per Adam minibatch.
    #[arg(long, default_value_t = 1)]
    pub(crate) batch_size: usize,
    /// L1 penalty λ₁ Σ|θ| on the trainable Taylor coefficients. Default: 0 for neural
    /// data, 1e-2 for behaviour.
    #[arg(long)]
    pub(crate) l1: Option<f64>,
    /// L2 penalty λ₂ Σθ² on the trainable Taylor coefficients.
    #[arg(long, default_value_t = 0.0)]
    pub(crate) l2: f64,
    /// Seed of the initial θ, the minibatch order and the evaluation trajectories.
    #[arg(long, default_value_t = 0)]
    pub(crate) seed: u64,
    /// Basis the optimiser works in: each variable scaled by its typical size
    /// ("scaled", auto's choice for L-BFGS), centred and standardised (Hermite-like
    /// products), or the raw monomials ("canonical", auto's choice for Adam). Results are always reported as the
    /// canonical monomial coefficients.
    #[arg(long, value_enum, default_value = "auto")]
    pub(crate) basis: BasisArg,
    /// Initial θ: "random" (Taylor N(0, 1e-5²), MLP N(0, 0.01²)), "zeros", or an
    /// expression such as "0.5*x*y".
    #[arg(long, default_value = "random", allow_hyphen_values = true)]
    pub(crate) init: String,
    /// Fresh trajectories simulated for the R² metrics.
    #[arg(long, default_value_t = 5)]
    pub(crate) eval_trajectories: usize,
    /// Trajectory gradient: checkpointed adjoint (memory ~ 2√T weight matrices), a
    /// full tape (memory ~ T weight matrices), forward mode (memory ~ synapses ×
    /// parameters, whatever T; neural recordings stream from the file), or auto.
    #[arg(long, value_enum, default_value = "checkpointed")]
    pub(crate) gradient: GradientArg,
    /// L-BFGS stops when the loss falls by less than this fraction over 10 iterations.
    #[arg(long, default_value = "1e-10")]
    pub(crate) tolerance: f64,
    /// Neural data: fit online, updating θ every --update-every steps while the
    /// recording streams in once (forward mode; Adam with --learning-rate); writes
    /// online.csv (θ after every update) and figures/online.png beside the results.
    #[arg(long)]
    pub(crate) online: bool,
    /// Online fits: recording steps between updates of θ.
    #[arg(long, default_value_t = 100)]
    pub(crate) update_every: usize,
    /// Online fits: after this many updates the step size decays as 1/√n (0: never).
    #[arg(long, default_value_t = 0)]
    pub(crate) online_decay_after: usize,
    /// --gradient auto: memory (MiB) the adjoint may use for the recording and its
    /// tape before forward mode is chosen (default: half the available memory).
    #[arg(long)]
    pub(crate) memory_budget: Option<u64>,
    /// Adam: when the loss or gradient becomes NaN or infinite, go back to the last
    /// good parameters and retake the step with half the learning rate, at most this
    /// many times (0: stop at the first); then stop with "non_finite", keeping those
    /// parameters. L-BFGS's line search halves overflowing steps on its own.
    #[arg(long, default_value_t = plasticity::fit::DEFAULT_MAX_BACKOFFS)]
    pub(crate) max_backoffs: usize,
    /// L-BFGS's line search: backtracking (Armijo, the default), or strong Wolfe
    /// (may take steps longer than 1).
    #[arg(long, value_enum)]
    pub(crate) line_search: Option<LineSearchArg>,
    /// Circuit recordings: horizons (steps) fitted before the whole recording, each
    /// stage warm-started from the last; 0 fits the whole recording at once. Default:
    /// 5 growing by 1.2× (5,6,7,8,10,12,14,17,20,…) for Levenberg–Marquardt, 5,10,20
    /// for L-BFGS.
    #[arg(long, value_delimiter = ',')]
    pub(crate) horizon_stages: Option<Vec<usize>>,
    /// Circuit recordings: epochs of each stage before the last (the last runs
    /// --epochs); 0: the solver's default (Levenberg–Marquardt 2 steps, L-BFGS 40).
    #[arg(long, default_value_t = 0)]
    pub(crate) stage_epochs: usize,
    /// Circuit recordings: trajectories the preconditioner's curvature is measured on
    /// when a stage is re-preconditioned (evenly spaced; 0: all; a stage's first
    /// preconditioning uses every trajectory).
    #[arg(long, default_value_t = 10)]
    pub(crate) precondition_trajectories: usize,
    /// Circuit recordings with a fitted shared W₀: epochs that fit only W₀ (the rules
    /// held at their start) to the first step, before the joint fit (0: none).
    #[arg(long, default_value_t = 200)]
    pub(crate) initial_weights_epochs: usize,
    /// Neural and circuit recordings: the optimiser. auto: Levenberg–Marquardt on the
    /// forward-mode Jacobian of the recorded activity where it applies (the rules'
    /// θ only: no fitted W₀, no --l1/--l2, not Adam), L-BFGS (or the --optimizer
    /// asked for) otherwise.
    #[arg(long, value_enum, default_value_t = SolverArg::Auto)]
    pub(crate) solver: SolverArg,
    /// Circuit recordings, Levenberg–Marquardt: a stage before the last also ends when
    /// two steps in a row lowered its loss by less than this fraction of it.
    #[arg(long, default_value = "1e-5")]
    pub(crate) stage_tolerance: f64,
    #[command(flatten)]
    pub(crate) behaviour: crate::behaviour::BehaviourFitOptions,
}

impl FitOptions {
    /// The optimiser given, or `default`.
    pub(crate) fn optimizer_or(&self, default: OptimizerKind) -> OptimizerKind {
        match self.optimizer {
            Some(OptimizerArg::Adam) => OptimizerKind::Adam,
            Some(OptimizerArg::Lbfgs) => OptimizerKind::Lbfgs,
            None => default,
        }
    }

    pub(crate) fn settings(&self) -> NeuralFitSettings {
        NeuralFitSettings {
            rule_family: match self.rule_family {
                FamilyArg::Taylor => RuleFamily::Taylor,
                FamilyArg::Mlp => RuleFamily::Mlp,
            },
            trainable: self.trainable.clone(),
            hidden: self.hidden.clone(),
            basis: match self.basis {
                BasisArg::Auto => None,
                BasisArg::Centred => Some(Basis::Centred),
                BasisArg::Scaled => Some(Basis::Scaled),
                BasisArg::Canonical => Some(Basis::Canonical),
            },
            init: self.init.clone(),
            fit: FitConfig {
                optimizer: self.optimizer_or(OptimizerKind::Lbfgs),
                epochs: self.epochs,
                learning_rate: self.learning_rate,
                batch_size: self.batch_size,
                l1: self.l1.unwrap_or(0.0),
                l2: self.l2,
                seed: self.seed,
                tolerance: self.tolerance,
                max_backoffs: self.max_backoffs,
                lbfgs_line_search: self
                    .line_search
                    .map(LineSearchArg::line_search)
                    .unwrap_or_default(),
                ..FitConfig::default()
            },
            gradient: self.gradient.strategy(),
            eval_trajectories: self.eval_trajectories,
            solver: self.solver.solver(),
        }
    }
}

#[derive(Args, Debug)]
struct FitArgs {
    /// Dataset (.npz, docs/model.md §6 layout).
    data: PathBuf,
    /// Output directory (created if missing).
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    options: FitOptions,
    /// Continue a fit that Ctrl-C or SIGTERM stopped (its OUT/checkpoint.json), with
    /// the same data and flags, to the result an uninterrupted fit gives.
    #[arg(long)]
    resume: bool,
}

#[derive(Args, Debug)]
struct LossArgs {
    /// Dataset (.npz).
    data: PathBuf,
    /// θ as a Taylor expression: over x, y, w for neural data ("x*y - y^2*w"), over
    /// x, y, w, r for behaviour ("x*r - 0.05*w").
    #[arg(long, allow_hyphen_values = true)]
    theta: String,
    /// Gradient strategy; "forward" streams neural data from the file step by step
    /// (memory independent of the recording's length).
    #[arg(long, value_enum, default_value = "checkpointed")]
    gradient: GradientArg,
    /// --gradient auto: memory (MiB) the adjoint may use (default: half the available).
    #[arg(long)]
    memory_budget: Option<u64>,
}

#[derive(Args, Debug)]
struct EvaluateArgs {
    /// Dataset (.npz).
    data: PathBuf,
    /// θ as a Taylor expression (over x, y, w, or x, y, w, r for behaviour).
    #[arg(long, allow_hyphen_values = true)]
    theta: String,
    /// Fresh trajectories (neural data, default 5) or sessions (behaviour, default 7)
    /// simulated with the generating rule for the metrics.
    #[arg(long, visible_alias = "sessions")]
    trajectories: Option<usize>,
    /// Seed of the fresh trajectories.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

#[derive(Args, Debug)]
struct OjaArgs {
    /// The paper's experiment: 100→1000 neurons, 50 trajectories of 50 steps (about a
    /// minute on 2 cores with Levenberg–Marquardt). Without it: 20→100 neurons, 10
    /// trajectories (under a second).
    #[arg(long)]
    paper_scale: bool,
    /// Also write the dataset and results (results.json, coefficients.csv) here.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Standard deviation of the measurement noise.
    #[arg(long, default_value_t = 0.0)]
    noise_std: f64,
    /// Fraction of postsynaptic neurons recorded.
    #[arg(long, default_value_t = 1.0)]
    recording_fraction: f64,
    /// Seed of the data and the fit.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Optimiser.
    #[arg(long, value_enum, default_value = "lbfgs")]
    optimizer: OptimizerArg,
    /// Epochs (L-BFGS iterations or Adam passes); default 2000 L-BFGS iterations
    /// (the paper-scale fit needed ~1,650 to bring every coefficient within 0.05) or 250
    /// Adam epochs. Ctrl-C stops early and still reports.
    #[arg(long)]
    epochs: Option<usize>,
    /// Rule family.
    #[arg(long, value_enum, default_value = "taylor")]
    rule_family: FamilyArg,
    /// The solver: auto runs Levenberg–Marquardt on the forward-mode Jacobian (not
    /// with --optimizer adam), lbfgs the --optimizer given.
    #[arg(long, value_enum, default_value_t = SolverArg::Auto)]
    solver: SolverArg,
}

/// Runs a command.
pub fn run(cli: Cli) -> Result<()> {
    crate::run::set_quiet(cli.quiet);
    match cli.command {
        Command::Run(args) => crate::run::run_command(&args),
        Command::Collect(args) => crate::run::collect_command(&args),
        Command::Plot(args) => crate::run::plot_command(&args),
        Command::Cell(args) => crate::run::cell_command(&args),
        Command::Simulate(SimulateCommand::Oja(args)) => simulate_oja(&args),
        Command::Simulate(SimulateCommand::Behaviour(args)) => {
            crate::behaviour::simulate_behaviour(&args)
        }
        Command::Simulate(SimulateCommand::Circuit(args)) => {
            crate::circuit::simulate_circuit_command(&args)
        }
        Command::Fit(args) => fit_command(&args),
        Command::Loss(args) => loss_command(&args),
        Command::Identify(args) => crate::identify::identify_command(&args),
        Command::Posterior(args) => crate::posterior::posterior_command(&args),
        Command::Evaluate(args) => evaluate_command(&args),
        Command::Table(args) => crate::behaviour::table_command(&args),
        Command::Flies(args) => crate::flies::flies_command(&args),
        Command::Select(args) => crate::select::select_command(&args),
        Command::Design(args) => crate::design::design_command(&args),
        Command::Discover(args) => crate::discover::discover_command(&args),
        Command::BenchKernels(args) => crate::bench::bench_command(&args),
        Command::Oja(args) => oja_command(&args),
    }
}

fn simulate_oja(args: &SimulateOjaArgs) -> Result<()> {
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

fn load_any(path: &Path) -> Result<Dataset> {
    Dataset::load(path).with_context(|| reading_dataset(path))
}

/// "reading dataset PATH", and where the path looks like another kind of input, the
/// command that reads it.
pub(crate) fn reading_dataset(path: &Path) -> String {
    let extension = path
        .extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let hint = if path.is_dir() {
        " (a directory: `plasticity flies DIR` reads a directory of fly recordings; a dataset is one .npz file)"
    } else {
        match extension.as_str() {
            "mat" | "csv" => " (a fly recording? `plasticity flies DIR` reads a directory of .mat or .csv recordings; `fit` reads .npz datasets)",
            "toml" => " (a circuit or experiment file? `plasticity simulate circuit FILE --out DATA.npz` makes a dataset of a circuit; `plasticity run FILE --out DIR` runs an experiment)",
            _ => "",
        }
    };
    format!("reading dataset {}{hint}", path.display())
}

pub(crate) fn progress_bar(epochs: usize, label: &str) -> ProgressBar {
    let bar = ProgressBar::new(epochs as u64);
    if crate::run::quiet() {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    bar.set_style(
        ProgressStyle::with_template(
            "{prefix} [{elapsed_precise}] {bar:30} {pos}/{len}  ETA {eta}  {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_prefix(label.to_string());
    bar
}

static INTERRUPTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether Ctrl-C (SIGINT) or SIGTERM asked a running fit to stop.
pub(crate) fn interrupted() -> bool {
    INTERRUPTED.load(std::sync::atomic::Ordering::Relaxed)
}

/// The first Ctrl-C (or SIGTERM, as Slurm sends at a time limit) stops a fit after its
/// current epoch, and its results are written with `stop_reason` "interrupted"; a
/// second one exits at once.
pub fn install_interrupt_handler() {
    let result = ctrlc::set_handler(|| {
        if INTERRUPTED.swap(true, std::sync::atomic::Ordering::Relaxed) {
            std::process::exit(130);
        }
        note!("\ninterrupted: stopping at the next safe point (this epoch, step or unit) and writing the results and a checkpoint (Ctrl-C again to quit at once)");
    });
    if let Err(error) = result {
        tracing::warn!("could not install the Ctrl-C handler: {error}");
    }
}

/// What a fit shows after each epoch: the progress bar, or without a terminal (a batch
/// job's log) a line every 5 % of the epochs (when `log` is set); and whether Ctrl-C
/// asked it to stop.
pub(crate) fn epoch_observer<'a>(
    bar: &'a ProgressBar,
    start: Instant,
    epochs: usize,
    log: bool,
) -> impl FnMut(&EpochReport<'_>) -> ControlFlow<()> + 'a {
    let every = (epochs / 20).max(1);
    move |report: &EpochReport<'_>| {
        // a staged fit's epochs (Levenberg–Marquardt's horizons) exceed --epochs
        bar.set_length(report.epochs as u64);
        bar.set_position(report.epoch as u64);
        bar.set_message(format!("loss {:.6e}", report.loss));
        if log
            && !crate::run::quiet()
            && bar.is_hidden()
            && (report.epoch.is_multiple_of(every) || report.epoch == 1)
        {
            eprintln!(
                "epoch {}/{}  loss {:.6e}  ({:.1} s)",
                report.epoch,
                report.epochs,
                report.loss,
                start.elapsed().as_secs_f64()
            );
        }
        if interrupted() {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }
}

/// Fits with a progress bar; returns the fit and its wall time.
fn fit_with_progress(
    dataset: &NeuralDataset,
    source: &Path,
    settings: &NeuralFitSettings,
    checkpoint: Option<&FitResume>,
) -> Result<(plasticity::fit::neural::NeuralFit, f64)> {
    let bar = progress_bar(settings.fit.epochs, "fitting");
    let start = Instant::now();
    let observer = epoch_observer(&bar, start, settings.fit.epochs, true);
    let fit = match checkpoint {
        Some(checkpoint) => fit_neural(dataset, settings, &mut checkpoint.observe(observer)),
        None => {
            let mut observer = observer;
            fit_neural(dataset, settings, &mut observer)
        }
    };
    bar.finish_and_clear();
    let seconds = start.elapsed().as_secs_f64();
    let fit = fit.with_context(|| format!("fitting the rule to {}", source.display()))?;
    Ok((fit, seconds))
}

fn write_fit_outputs(
    out: &Path,
    fit: &plasticity::fit::neural::NeuralFit,
    settings: &NeuralFitSettings,
    data_path: &Path,
    dataset: &NeuralDataset,
    seconds: f64,
) -> Result<()> {
    std::fs::create_dir_all(out)
        .with_context(|| format!("creating output directory {}", out.display()))?;
    let results = neural_results(fit, settings, data_path, dataset, seconds);
    write_json(&out.join("results.json"), &results)?;
    let truth = generating_theta(dataset)?;
    let truth = match fit.rule {
        Rule::Taylor(_) => truth,
        Rule::Mlp(_) => None,
    };
    write_text(
        &out.join("coefficients.csv"),
        &coefficients_csv(fit, truth.as_deref()),
    )?;
    Ok(())
}

/// Whether `path` is neural data to be read step by step: forward-mode gradients
/// stream neural recordings from the file instead of loading them.
fn streams(path: &Path, gradient: GradientArg) -> Result<bool> {
    if !matches!(gradient, GradientArg::Forward) {
        return Ok(false);
    }
    let kind = plasticity::data::dataset_kind(path).with_context(|| reading_dataset(path))?;
    Ok(kind == "neural")
}

fn open_stream(path: &Path) -> Result<plasticity::data::NeuralStream> {
    plasticity::data::NeuralStream::open(path).with_context(|| reading_dataset(path))
}

/// `fit --gradient forward` on neural data: the recording streams from the file at
/// every evaluation; memory does not grow with its length.
fn fit_streamed_command(args: &FitArgs) -> Result<()> {
    let stream = open_stream(&args.data)?;
    let settings = args.options.settings();
    let bar = progress_bar(settings.fit.epochs, "fitting (streamed)");
    let start = Instant::now();
    let mut observer = epoch_observer(&bar, start, settings.fit.epochs, true);
    let fit = plasticity::fit::neural::fit_neural_streamed(&stream, &settings, &mut observer);
    bar.finish_and_clear();
    let seconds = start.elapsed().as_secs_f64();
    let fit = fit.context("fitting the rule")?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating output directory {}", args.out.display()))?;
    write_json(
        &args.out.join("results.json"),
        &plasticity::report::neural_results_streamed(&fit, &settings, &args.data, &stream, seconds),
    )?;
    let truth = match (&fit.rule, stream.generating_rule()) {
        (Rule::Taylor(_), Some(rule)) => Some(parse_expression(rule, Variables::Xyw)?),
        _ => None,
    };
    write_text(
        &args.out.join("coefficients.csv"),
        &coefficients_csv(&fit, truth.as_deref()),
    )?;
    print_fit_summary(&fit, truth.as_deref(), seconds)?;
    note!("results written to {}", args.out.display());
    Ok(())
}

/// `fit --online`: one pass over the streamed recording, θ updated every K steps.
fn fit_online_command(args: &FitArgs) -> Result<()> {
    if !streams(&args.data, GradientArg::Forward)? {
        bail!(
            "--online: {} is behaviour data; online fits take neural recordings",
            args.data.display()
        );
    }
    let stream = open_stream(&args.data)?;
    let settings = args.options.settings();
    let online = plasticity::fit::online::OnlineSettings {
        update_every: args.options.update_every,
        learning_rate: args.options.learning_rate,
        decay_after: args.options.online_decay_after,
    };
    let updates = stream.n_trajectories() * stream.steps() / online.update_every.max(1);
    let bar = progress_bar(updates, "online fit");
    let start = Instant::now();
    let mut observer = |update: &plasticity::fit::online::OnlineUpdate<'_>| {
        bar.set_position(update.update as u64);
        bar.set_message(format!(
            "step {} window loss {:.4e}",
            update.step, update.loss
        ));
        if interrupted() {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    };
    let fit =
        plasticity::fit::online::fit_online_neural(&stream, &settings, &online, &mut observer);
    bar.finish_and_clear();
    let seconds = start.elapsed().as_secs_f64();
    let fit = fit.context("fitting online")?;
    let out = &args.out;
    std::fs::create_dir_all(out.join("figures"))
        .with_context(|| format!("creating output directory {}", out.display()))?;
    let truth = stream
        .generating_rule()
        .map(|rule| parse_expression(rule, Variables::Xyw))
        .transpose()?;
    let rule = plasticity::fit::neural::build_rule(&settings)?;
    write_json(
        &out.join("results.json"),
        &json!({
            "online": fit,
            "online_settings": online,
            "coefficients": fit.parameter_names.iter().cloned().zip(fit.theta.iter().map(|v| json!(v))).collect::<serde_json::Map<_, _>>(),
            "config": {"settings": settings},
            "data": {
                "path": args.data.display().to_string(),
                "trajectories": stream.n_trajectories(),
                "steps": stream.steps(),
                "n_pre": stream.n_pre(),
                "n_post": stream.n_post(),
                "n_recorded": stream.recorded_neurons().len(),
                "metadata": stream.metadata(),
                "streamed": true,
            },
            "seed": settings.fit.seed,
            "version": plasticity::VERSION,
            "timing": {"fit_seconds": seconds},
        }),
    )?;
    let truth_for_csv = match rule {
        Rule::Taylor(_) => truth.as_deref(),
        Rule::Mlp(_) => None,
    };
    write_text(
        &out.join("coefficients.csv"),
        &plasticity::report::parameters_csv(&rule, &fit.theta, truth_for_csv),
    )?;
    let mut csv = String::from("step,window_loss");
    for name in &fit.parameter_names {
        csv.push(',');
        csv.push_str(&plasticity::report::csv_field(name));
    }
    csv.push('\n');
    for ((step, loss), theta) in fit
        .steps
        .iter()
        .zip(&fit.window_loss)
        .zip(&fit.theta_history)
    {
        csv.push_str(&format!("{step},{loss}"));
        for value in theta {
            csv.push_str(&format!(",{value}"));
        }
        csv.push('\n');
    }
    write_text(&out.join("online.csv"), &csv)?;
    if let Rule::Taylor(_) = rule {
        let mut series = Vec::new();
        for (colour, term) in ["x*y", "y^2*w"].into_iter().enumerate() {
            let Some(k) = fit.parameter_names.iter().position(|n| n == term) else {
                continue;
            };
            let points: Vec<(f64, f64)> = fit
                .steps
                .iter()
                .zip(&fit.theta_history)
                .map(|(&step, theta)| (step as f64, theta[k]))
                .collect();
            if points.is_empty() {
                continue;
            }
            if let Some(truth) = &truth {
                let ends = vec![
                    (points[0].0, truth[k]),
                    (points[points.len() - 1].0, truth[k]),
                ];
                series.push(
                    plasticity::figures::Series::new(format!("{term} generating"), ends)
                        .dashed()
                        .without_markers()
                        .colour(colour),
                );
            }
            series.push(
                plasticity::figures::Series::new(format!("{term} online"), points)
                    .without_markers()
                    .colour(colour),
            );
        }
        if !series.is_empty() {
            plasticity::figures::line_plot(
                &out.join("figures").join("online"),
                "Online estimate of the rule while the recording streams in",
                "recording step",
                "coefficient",
                &series,
                false,
                false,
            )?;
        }
    }
    show!(
        "online fit: {} updates over {} steps in {:.1} s{}",
        fit.steps.len(),
        fit.steps.last().copied().unwrap_or(0),
        seconds,
        if fit.interrupted {
            " (interrupted)"
        } else {
            ""
        }
    );
    if let Some(reason) = &fit.non_finite {
        show!("stopped early, keeping the last finite estimate: {reason}");
    }
    for term in ["x*y", "y^2*w"] {
        if let Some(k) = fit.parameter_names.iter().position(|n| n == term) {
            let generating = truth
                .as_ref()
                .map(|t| format!(" (generating {:.4})", t[k]))
                .unwrap_or_default();
            show!("{term:>8} {:.4}{generating}", fit.theta[k]);
        }
    }
    note!("results written to {}", out.display());
    Ok(())
}

fn fit_command(args: &FitArgs) -> Result<()> {
    if crate::circuit::is_circuit(&args.data)? {
        return crate::circuit::fit_circuit_command(
            &args.data,
            &args.out,
            &args.options,
            args.resume,
        );
    }
    if args.options.online {
        return fit_online_command(args);
    }
    let parameters = if matches!(args.options.gradient, GradientArg::Auto) {
        plasticity::fit::neural::build_rule(&args.options.settings())?.n_parameters()
    } else {
        0
    };
    let gradient = resolve_gradient(
        &args.data,
        args.options.gradient,
        parameters,
        args.options.memory_budget,
    )?;
    let mut resolved;
    let args = if matches!(args.options.gradient, GradientArg::Auto) {
        resolved = FitArgs {
            data: args.data.clone(),
            out: args.out.clone(),
            options: args.options.clone(),
            resume: args.resume,
        };
        resolved.options.gradient = gradient;
        &resolved
    } else {
        args
    };
    if streams(&args.data, args.options.gradient)? {
        return fit_streamed_command(args);
    }
    let dataset = match load_any(&args.data)? {
        Dataset::Neural(dataset) => *dataset,
        Dataset::Behaviour(dataset) => {
            return crate::behaviour::fit_behaviour_command(
                &args.data,
                &dataset,
                &args.out,
                &args.options,
                args.resume,
            )
        }
    };
    let mut settings = args.options.settings();
    let checkpoint = FitResume::new(&args.out, &args.data, &settings)?;
    settings.fit.resume = checkpoint.load(args.resume)?;
    if !crate::run::quiet() {
        eprintln!("fitting with {}", solver_description(&settings));
    }
    let (fit, seconds) = fit_with_progress(&dataset, &args.data, &settings, Some(&checkpoint))?;
    write_fit_outputs(&args.out, &fit, &settings, &args.data, &dataset, seconds)?;
    checkpoint.finish(&fit.outcome.stop_reason)?;
    print_summary(&fit, &dataset, seconds)?;
    note!("results written to {}", args.out.display());
    Ok(())
}

fn print_summary(
    fit: &plasticity::fit::neural::NeuralFit,
    dataset: &NeuralDataset,
    seconds: f64,
) -> Result<()> {
    print_fit_summary(fit, generating_theta(dataset)?.as_deref(), seconds)
}

fn print_fit_summary(
    fit: &plasticity::fit::neural::NeuralFit,
    truth: Option<&[f64]>,
    seconds: f64,
) -> Result<()> {
    show!(
        "stopped: {}  ({} evaluations, {:.1} s)",
        serde_json::to_string(&fit.outcome.stop_reason)?,
        fit.outcome.evaluations,
        seconds
    );
    let uncertainty =
        coefficient_uncertainty(&fit.rule.parameter_names(), Some(&fit.identifiability));
    if let Rule::Taylor(taylor) = &fit.rule {
        let names = term_names(taylor.variables());
        // the generating rule's terms first, then the largest others
        let mut order: Vec<usize> = (0..names.len()).collect();
        order.sort_by(|&a, &b| {
            let key = |k: usize| {
                let generating = truth.map(|t| t[k] != 0.0).unwrap_or(false);
                (!generating, -fit.outcome.theta[k].abs())
            };
            key(a)
                .partial_cmp(&key(b))
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        print_coefficient_table(&names, &fit.outcome.theta, truth, &order, &uncertainty);
    } else {
        print_uncertainty_notes(&uncertainty);
    }
    let m = &fit.metrics;
    let show = |v: Option<f64>| v.map(|v| format!("{v:.4}")).unwrap_or_else(|| "-".into());
    show!(
        "loss {:.4e} (generating rule: {})   R² weights {}   R² activity {}",
        m.final_loss,
        m.loss_at_generating_rule
            .map(|v| format!("{v:.4e}"))
            .unwrap_or_else(|| "-".into()),
        show(m.r2_weights),
        show(m.r2_activity)
    );
    Ok(())
}

/// The rows shown of a coefficient table; the rest are summarised in one line.
const SHOWN_TERMS: usize = 8;

/// The table of fitted coefficients a fit prints: the first [`SHOWN_TERMS`] of `order`
/// with the generating value (when known), the Laplace 95 % interval and a mark on
/// those the data do not determine ([`plasticity::report::CoefficientUncertainty`]);
/// one line on the others; then [`print_uncertainty_notes`].
pub(crate) fn print_coefficient_table(
    names: &[String],
    theta: &[f64],
    truth: Option<&[f64]>,
    order: &[usize],
    uncertainty: &Uncertainty,
) {
    let intervals = uncertainty.unavailable.is_none();
    let interval_of = |k: usize| -> String {
        let u = &uncertainty.coefficients[k];
        match (u.lower, u.upper, u.determined) {
            (Some(lower), Some(upper), _) => format!("[{lower:>9.4}, {upper:>9.4}]"),
            (_, _, Some(false)) => "unbounded".into(),
            _ => "-".into(),
        }
    };
    let mark = |k: usize| match uncertainty.coefficients[k].determined {
        Some(false) => "  not determined",
        _ => "",
    };
    if intervals {
        show!(
            "{:>14}  {:>10}  {:>10}  {:>22}",
            "term",
            "fitted",
            "generating",
            "95 % interval"
        );
    } else {
        show!("{:>14}  {:>10}  {:>10}", "term", "fitted", "generating");
    }
    for &k in order.iter().take(SHOWN_TERMS) {
        let generating = truth
            .map(|t| format!("{:>10.4}", t[k]))
            .unwrap_or_else(|| format!("{:>10}", "?"));
        if intervals {
            show!(
                "{:>14}  {:>10.4}  {generating}  {:>22}{}",
                names[k],
                theta[k],
                interval_of(k),
                mark(k)
            );
        } else {
            show!("{:>14}  {:>10.4}  {generating}", names[k], theta[k]);
        }
    }
    let others = &order[order.len().min(SHOWN_TERMS)..];
    let largest_other = others
        .iter()
        .map(|&k| theta[k].abs())
        .fold(0.0f64, f64::max);
    let undetermined = |ks: &[usize]| {
        ks.iter()
            .filter(|&&k| uncertainty.coefficients[k].determined == Some(false))
            .count()
    };
    if intervals && !others.is_empty() {
        show!(
            "{:>14}  {:>10.4}  ({} of these {} not determined)",
            "others |θ| ≤",
            largest_other,
            undetermined(others),
            others.len()
        );
    } else {
        show!("{:>14}  {:>10.4}", "others |θ| ≤", largest_other);
    }
    if undetermined(order) > 0 {
        show!(
            "not determined: a 95 % half-width above {} × the largest fitted |θ| \
             (Laplace intervals; results.json's identifiability section has the rest)",
            plasticity::identifiability::DETERMINED_RELATIVE_HALF_WIDTH
        );
    }
    print_uncertainty_notes(uncertainty);
}

/// One line naming the least-determined direction, or one saying why there are no
/// intervals.
pub(crate) fn print_uncertainty_notes(uncertainty: &Uncertainty) {
    if let Some(reason) = &uncertainty.unavailable {
        show!("no intervals: {reason}");
    }
    if let Some(sentence) = &uncertainty.least_determined {
        show!("least-determined direction: {sentence}");
    }
}

fn theta_of(expression: &str) -> Result<Vec<f64>> {
    parse_expression(expression, Variables::Xyw).context("reading --theta")
}

fn loss_command(args: &LossArgs) -> Result<()> {
    if crate::circuit::is_circuit(&args.data)? {
        return crate::circuit::loss_command(&args.data, &args.theta, args.gradient.strategy());
    }
    let rule = TaylorRule::new(Variables::Xyw);
    let mut gradient = vec![0.0; rule.n_parameters()];
    let strategy = resolve_gradient(&args.data, args.gradient, 27, args.memory_budget)?;
    let loss = if streams(&args.data, strategy)? {
        let theta = theta_of(&args.theta)?;
        let stream = open_stream(&args.data)?;
        let objective = plasticity::objective::StreamedNeuralObjective::new(&stream, rule);
        let items: Vec<usize> = (0..stream.n_trajectories()).collect();
        let loss = objective.loss_and_gradient(&theta, &items, &mut gradient);
        if let Some(error) = objective.take_error() {
            return Err(error).context("streaming the recording");
        }
        loss
    } else {
        let dataset = match load_any(&args.data)? {
            Dataset::Neural(dataset) => *dataset,
            Dataset::Behaviour(dataset) => {
                return crate::behaviour::loss_command(&dataset, &args.theta, strategy.strategy());
            }
        };
        let theta = theta_of(&args.theta)?;
        let objective = NeuralObjective::new(&dataset, rule, strategy.strategy());
        let items: Vec<usize> = (0..dataset.n_trajectories()).collect();
        objective.loss_and_gradient(&theta, &items, &mut gradient)
    };
    if !loss.is_finite() {
        bail!(
            "the loss at θ = {} is {loss}: the rule makes the simulation overflow",
            args.theta
        );
    }
    let names = term_names(Variables::Xyw);
    let gradient: serde_json::Map<_, _> = names
        .into_iter()
        .zip(gradient)
        .map(|(n, g)| (n, json!(g)))
        .collect();
    println!(
        "{}",
        serde_json::to_string_pretty(&json!({"loss": loss, "gradient": gradient}))?
    );
    Ok(())
}

fn evaluate_command(args: &EvaluateArgs) -> Result<()> {
    if crate::circuit::is_circuit(&args.data)? {
        return crate::circuit::evaluate_command(
            &args.data,
            &args.theta,
            args.trajectories.unwrap_or(5),
            args.seed,
        );
    }
    let dataset = match load_any(&args.data)? {
        Dataset::Neural(dataset) => *dataset,
        Dataset::Behaviour(dataset) => {
            return crate::behaviour::evaluate_command(
                &dataset,
                &args.theta,
                args.trajectories.unwrap_or(7),
                args.seed,
            );
        }
    };
    let theta = theta_of(&args.theta)?;
    let rule = Rule::Taylor(TaylorRule::new(Variables::Xyw));
    let metrics = evaluate_on_dataset(
        &dataset,
        &rule,
        &theta,
        args.trajectories.unwrap_or(5),
        args.seed,
    )?;
    println!(
        "{}",
        serde_json::to_string_pretty(&json!({
            "theta": args.theta,
            "metrics": metrics,
            "seed": args.seed,
            "version": plasticity::VERSION,
        }))?
    );
    Ok(())
}

fn oja_command(args: &OjaArgs) -> Result<()> {
    let mut task = OjaTask {
        noise_std: args.noise_std,
        recording_fraction: args.recording_fraction,
        seed: args.seed,
        ..OjaTask::default()
    };
    if !args.paper_scale {
        task.n_pre = 20;
        task.n_post = 100;
        task.trajectories = 10;
    }
    let default_epochs = match args.optimizer {
        OptimizerArg::Lbfgs => 2000,
        OptimizerArg::Adam => 250,
    };
    let options = FitOptions::parse_from_defaults();
    let mut settings = options.settings();
    settings.fit.optimizer = match args.optimizer {
        OptimizerArg::Adam => OptimizerKind::Adam,
        OptimizerArg::Lbfgs => OptimizerKind::Lbfgs,
    };
    settings.fit.epochs = args.epochs.unwrap_or(default_epochs);
    settings.fit.seed = args.seed;
    settings.solver = args.solver.solver();
    settings.rule_family = match args.rule_family {
        FamilyArg::Taylor => RuleFamily::Taylor,
        FamilyArg::Mlp => RuleFamily::Mlp,
    };
    note!(
        "simulating Oja's rule Δw = x·y − y²·w: {}→{} neurons, {} trajectories × {} steps, noise σ = {}, recording fraction {}",
        task.n_pre, task.n_post, task.trajectories, task.steps, task.noise_std, task.recording_fraction
    );
    let dataset = task.simulate().context("simulating the dataset")?;
    let data_path = match &args.out {
        Some(out) => {
            std::fs::create_dir_all(out)
                .with_context(|| format!("creating output directory {}", out.display()))?;
            let path = out.join("data.npz");
            dataset.save(&path)?;
            path
        }
        None => PathBuf::from("(simulated in memory)"),
    };
    note!(
        "fitting a {} rule with {} ({} epochs at most)",
        if matches!(settings.rule_family, RuleFamily::Taylor) {
            "27-term Taylor"
        } else {
            "MLP"
        },
        solver_description(&settings),
        settings.fit.epochs
    );
    let (fit, seconds) = fit_with_progress(&dataset, &data_path, &settings, None)?;
    print_summary(&fit, &dataset, seconds)?;
    if let Some(out) = &args.out {
        write_fit_outputs(out, &fit, &settings, &data_path, &dataset, seconds)?;
        note!("dataset and results written to {}", out.display());
    }
    Ok(())
}

/// The solver a neural fit with `settings` runs, in words.
fn solver_description(settings: &NeuralFitSettings) -> &'static str {
    match plasticity::fit::neural::solver_for(settings) {
        Ok("levenberg-marquardt") => "Levenberg–Marquardt",
        Ok("adam") => "Adam",
        _ => "L-BFGS",
    }
}

impl FitOptions {
    /// The fit defaults, as if no flag were given.
    fn parse_from_defaults() -> FitOptions {
        #[derive(Parser)]
        struct Defaults {
            #[command(flatten)]
            options: FitOptions,
        }
        Defaults::parse_from(["plasticity"]).options
    }
}
