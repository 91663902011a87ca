//! Flags shared by several commands: the clap value enums, the fit flags
//! ([`FitOptions`]) and the settings they become, and the flags of the tasks.

mod cells;
mod task;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, ValueEnum};

use plasticity::fit::{Basis, FitConfig, OptimizerKind};
use plasticity::gradient::GradientStrategy;
use plasticity::pipeline::behaviour::{BehaviourFitSettings, InputSource};
use plasticity::pipeline::circuit::CircuitFitSettings;
use plasticity::pipeline::neural::NeuralFitSettings;
use plasticity::rule::RuleFamily;

pub(crate) use cells::*;
pub(crate) use task::*;

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SolverArg {
    Auto,
    LevenbergMarquardt,
    Lbfgs,
}

impl SolverArg {
    pub(crate) fn solver(self) -> plasticity::pipeline::circuit::CircuitSolver {
        use plasticity::pipeline::circuit::CircuitSolver;
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
    /// Optimizer: L-BFGS on all trajectories (recovers the coefficients precisely) or
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
    /// Basis the optimizer works in: each variable scaled by its typical size
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
    /// Neural and circuit recordings: the optimizer. auto: Levenberg–Marquardt on the
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
    pub(crate) behaviour: crate::flags::BehaviourFitOptions,
}

impl FitOptions {
    /// The optimizer given, or `default`.
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

impl FitOptions {
    /// The fit defaults, as if no flag were given.
    pub(crate) fn parse_from_defaults() -> FitOptions {
        #[derive(Parser)]
        struct Defaults {
            #[command(flatten)]
            options: FitOptions,
        }
        Defaults::parse_from(["plasticity"]).options
    }
}

/// Range checks of the fit flags: (key, message) of the first value out of range.
pub(crate) fn check_fit(fit: &FitOptions) -> std::result::Result<(), (&'static str, String)> {
    if fit.epochs == 0 {
        return Err(("epochs", "must be at least 1".into()));
    }
    if !(fit.learning_rate.is_finite() && fit.learning_rate > 0.0) {
        return Err((
            "learning_rate",
            format!("must be a positive number, got {}", fit.learning_rate),
        ));
    }
    if fit.batch_size == 0 {
        return Err(("batch_size", "must be at least 1".into()));
    }
    if let Some(l1) = fit.l1 {
        if !(l1.is_finite() && l1 >= 0.0) {
            return Err(("l1", format!("must be ≥ 0, got {l1}")));
        }
    }
    if !(fit.l2.is_finite() && fit.l2 >= 0.0) {
        return Err(("l2", format!("must be ≥ 0, got {}", fit.l2)));
    }
    if !(fit.tolerance.is_finite() && fit.tolerance >= 0.0) {
        return Err(("tolerance", format!("must be ≥ 0, got {}", fit.tolerance)));
    }
    if fit.hidden.contains(&0) {
        return Err(("hidden", "every hidden layer needs at least 1 unit".into()));
    }
    Ok(())
}

#[derive(Args, Debug, Clone)]
pub(crate) struct BehaviourFitOptions {
    /// Behaviour: bound on every weight during the fit (W ← clip(W, −B, B) after each
    /// update; differentiated exactly, and results.json counts how often it engaged),
    /// or "none".
    #[arg(long, default_value = "10")]
    weight_bound: String,
    /// Behaviour: inputs that drive the model: each odour's pattern with freshly
    /// re-sampled sensory noise (docs/model.md §4.2), or the dataset's recorded inputs.
    #[arg(long, value_enum, default_value = "resampled")]
    inputs: InputsArg,
    /// Behaviour: seed of the re-sampled sensory noise.
    #[arg(long, default_value_t = 0)]
    input_seed: u64,
    /// Behaviour: fresh sessions simulated with the generating rule for the metrics.
    #[arg(long, default_value_t = 7)]
    eval_sessions: usize,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub(crate) enum InputsArg {
    Resampled,
    Recorded,
}

pub(crate) fn weight_bound(text: &str) -> Result<Option<f64>> {
    if text.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    let bound: f64 = text
        .parse()
        .with_context(|| format!("--weight-bound: expected a number or 'none', got '{text}'"))?;
    if !(bound.is_finite() && bound > 0.0) {
        bail!("--weight-bound: expected a positive number or 'none', got {bound}");
    }
    Ok(Some(bound))
}

/// Behaviour fit settings from the shared fit flags (defaults: Adam, L1 1e-2,
/// canonical basis, weight bound 10). `--solver levenberg-marquardt` fits the plain
/// cross-entropy: without --l1 its penalty is 0 (an --l1 or --l2 above 0 is refused by
/// the fit, naming them), and without --optimizer it is not Adam; `--solver lbfgs`
/// without --optimizer is L-BFGS (keeping the L1 default).
pub(crate) fn behaviour_settings(options: &FitOptions) -> Result<BehaviourFitSettings> {
    let defaults = BehaviourFitSettings::default();
    let solver = options.solver.solver();
    let (optimizer, l1) = match options.solver {
        SolverArg::Auto => (OptimizerKind::Adam, defaults.fit.l1),
        SolverArg::Lbfgs => (OptimizerKind::Lbfgs, defaults.fit.l1),
        SolverArg::LevenbergMarquardt => (OptimizerKind::Lbfgs, 0.0),
    };
    Ok(BehaviourFitSettings {
        rule_family: match options.rule_family {
            FamilyArg::Taylor => RuleFamily::Taylor,
            FamilyArg::Mlp => RuleFamily::Mlp,
        },
        trainable: options.trainable.clone(),
        hidden: options.hidden.clone(),
        basis: match options.basis {
            BasisArg::Auto => defaults.basis,
            BasisArg::Centred => Basis::Centred,
            BasisArg::Scaled => Basis::Scaled,
            BasisArg::Canonical => Basis::Canonical,
        },
        init: options.init.clone(),
        fit: FitConfig {
            optimizer: options.optimizer_or(optimizer),
            epochs: options.epochs,
            learning_rate: options.learning_rate,
            batch_size: options.batch_size,
            l1: options.l1.unwrap_or(l1),
            l2: options.l2,
            seed: options.seed,
            tolerance: options.tolerance,
            max_backoffs: options.max_backoffs,
            ..FitConfig::default()
        },
        gradient: options.gradient.strategy(),
        weight_bound: weight_bound(&options.behaviour.weight_bound)?,
        inputs: match options.behaviour.inputs {
            InputsArg::Resampled => InputSource::Resampled,
            InputsArg::Recorded => InputSource::Recorded,
        },
        input_seed: options.behaviour.input_seed,
        eval_sessions: options.behaviour.eval_sessions,
        solver,
    })
}

/// Circuit fit settings from the shared fit flags (defaults: `--solver auto`, i.e.
/// Levenberg–Marquardt where it applies, centred basis, no penalty, the solver's
/// staged horizon).
pub(crate) fn circuit_settings(options: &FitOptions) -> CircuitFitSettings {
    let defaults = CircuitFitSettings::default();
    CircuitFitSettings {
        fit: FitConfig {
            optimizer: options.optimizer_or(OptimizerKind::Lbfgs),
            epochs: options.epochs,
            learning_rate: options.learning_rate,
            batch_size: options.batch_size,
            l1: options.l1.unwrap_or(0.0),
            l2: options.l2,
            seed: options.seed,
            tolerance: options.tolerance,
            max_backoffs: options.max_backoffs,
            lbfgs_line_search: options
                .line_search
                .map(crate::flags::LineSearchArg::line_search)
                .unwrap_or(defaults.fit.lbfgs_line_search),
            ..defaults.fit
        },
        basis: match options.basis {
            BasisArg::Auto | BasisArg::Centred => Basis::Centred,
            BasisArg::Scaled => Basis::Scaled,
            BasisArg::Canonical => Basis::Canonical,
        },
        init: options.init.clone(),
        gradient: options.gradient.strategy(),
        horizon_stages: options.horizon_stages.clone().unwrap_or_default(),
        stage_epochs: options.stage_epochs,
        weight_bound: None,
        eval_trajectories: options.eval_trajectories,
        precondition: defaults.precondition,
        precondition_every: defaults.precondition_every,
        precondition_trajectories: options.precondition_trajectories,
        initial_weights_epochs: options.initial_weights_epochs,
        solver: options.solver.solver(),
        stage_tolerance: options.stage_tolerance,
        // a basis asked for is the only one tried
        second_basis: match options.basis {
            BasisArg::Auto => defaults.second_basis,
            _ => None,
        },
    }
}
