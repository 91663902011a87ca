//! The router: the command line's flags and commands (clap), and which module runs
//! each command. Every command lives in its own module; none of them imports this one.

use anyhow::Result;
use clap::{Parser, Subcommand};

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
    /// recovered (Oja's rule by default, a small problem that runs in about a second;
    /// --paper-scale for the paper's 100→1000 experiment).
    Oja(crate::fit::OjaArgs),
    /// Simulate a dataset with a known rule.
    #[command(subcommand)]
    Simulate(SimulateCommand),
    /// Fit a plasticity rule to a dataset; writes DIR/results.json and
    /// DIR/coefficients.csv.
    Fit(crate::fit::FitArgs),
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
    Loss(crate::fit::LossArgs),
    /// Print the metrics of a given θ as JSON: loss, and against the generating rule of
    /// simulated data, R² of weights and activity on fresh trajectories (or sessions)
    /// and the coefficient error.
    Evaluate(crate::fit::EvaluateArgs),
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
    Table(crate::flags::TableArgs),
    /// Real flies: fit each fly's choices under several models (sets of Taylor terms),
    /// with held-out prediction, and compare the models across flies (paired Wilcoxon
    /// signed-rank test), against a Q-learning baseline and one rule shared by all
    /// flies, with profile-likelihood intervals; writes per_fly.csv, population.csv,
    /// comparison.json and figures.
    Flies(crate::flags::FliesArgs),
    /// Convert one fly's deposited raw Y-arena data (odour crossings, choice points,
    /// choice and reward orders; Rajagopalan et al., PNAS 2023) to the X/Y/R layout
    /// that `plasticity flies` reads, as the authors' preprocessing does; writes
    /// FILE.mat or FILE.csv.
    ConvertFly(crate::convert_fly::ConvertFlyArgs),
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
    BenchKernels(crate::flags::BenchArgs),
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
    Oja(crate::simulate::SimulateOjaArgs),
    /// Simulated flies choosing odours in the two-odour probabilistic reward task while
    /// learning with a rule (docs/model.md §4.2): writes an .npz dataset (kind "behaviour").
    Behaviour(crate::simulate::SimulateBehaviourArgs),
    /// Simulated flies choosing between both odours offered together (softmax of the
    /// circuit's values), baited rewards in blocks, learning with a rule: writes an
    /// .npz dataset (kind "choice", docs/model.md §6).
    Choice(crate::simulate::SimulateBehaviourArgs),
    /// A multi-population circuit described in a TOML file (populations,
    /// projections, masks, rules; docs/circuits.md) learning with its rules: writes an
    /// .npz dataset (kind "circuit").
    Circuit(crate::simulate::SimulateCircuitArgs),
}

/// The commands an experiment's cells run, for `run` and `cell`.
const CELL_COMMANDS: crate::run::CellCommands = crate::run::CellCommands {
    table: crate::table::table_command,
    flies: crate::flies::flies_command,
};

/// Runs a command.
pub fn run(cli: Cli) -> Result<()> {
    crate::output::set_quiet(cli.quiet);
    match cli.command {
        Command::Run(args) => crate::run::run_command(&args, &CELL_COMMANDS),
        Command::Collect(args) => crate::run::collect_command(&args),
        Command::Plot(args) => crate::run::plot_command(&args),
        Command::Cell(args) => crate::run::cell_command(&args, &CELL_COMMANDS),
        Command::Simulate(SimulateCommand::Oja(args)) => crate::simulate::simulate_oja(&args),
        Command::Simulate(SimulateCommand::Behaviour(args)) => {
            crate::simulate::simulate_behaviour(&args)
        }
        Command::Simulate(SimulateCommand::Choice(args)) => crate::simulate::simulate_choice(&args),
        Command::Simulate(SimulateCommand::Circuit(args)) => {
            crate::simulate::simulate_circuit_command(&args)
        }
        Command::Fit(args) => crate::fit::fit_command(&args),
        Command::Loss(args) => crate::fit::loss_command(&args),
        Command::Identify(args) => crate::identify::identify_command(&args),
        Command::Posterior(args) => crate::posterior::posterior_command(&args),
        Command::Evaluate(args) => crate::fit::evaluate_command(&args),
        Command::Table(args) => crate::table::table_command(&args),
        Command::Flies(args) => crate::flies::flies_command(&args),
        Command::ConvertFly(args) => crate::convert_fly::convert_fly_command(&args),
        Command::Select(args) => crate::select::select_command(&args),
        Command::Design(args) => crate::design::design_command(&args),
        Command::Discover(args) => crate::discover::discover_command(&args),
        Command::BenchKernels(args) => crate::bench::bench_command(&args),
        Command::Oja(args) => crate::fit::oja_command(&args),
    }
}
