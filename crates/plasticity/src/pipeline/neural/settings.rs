//! What a neural fit is asked to do (rule family, terms, solver, basis, epochs) and
//! where it starts: the rule, the optimizer's parametrisation and the initial θ.

use serde::{Deserialize, Serialize};

use crate::fit::{initial_theta, rule_parametrisation, Basis, FitConfig, Solver, VariableScales};
use crate::gradient::GradientStrategy;
use crate::rule::{Rule, RuleFamily, Variables};
use crate::Result;

/// Everything that defines a fit of a neural dataset.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NeuralFitSettings {
    /// Rule family.
    pub rule_family: RuleFamily,
    /// Trainable Taylor terms (`all`, a term list, `vars:x,y`, `degree:2`).
    pub trainable: String,
    /// MLP hidden layer sizes.
    pub hidden: Vec<usize>,
    /// The basis the optimizer works in (Taylor); `None` chooses by optimizer:
    /// `scaled` for L-BFGS (better conditioned), `canonical` for Adam (whose step size
    /// then means what it means in the paper: at most ~α per coefficient per step).
    pub basis: Option<Basis>,
    /// Initial θ: `random` (Taylor `N(0, 1e-5²)`, MLP `N(0, 0.01²)`), `zeros`, or a
    /// Taylor expression.
    pub init: String,
    /// Optimizer settings.
    pub fit: FitConfig,
    /// Trajectory gradient strategy.
    pub gradient: GradientStrategy,
    /// Fresh trajectories for the R² metrics.
    pub eval_trajectories: usize,
    /// The solver: `auto` runs Levenberg–Marquardt through the network engine where
    /// it applies (no L1/L2 penalty, not Adam), else `fit.optimizer`.
    #[serde(default)]
    pub solver: Solver,
}

impl Default for NeuralFitSettings {
    fn default() -> Self {
        NeuralFitSettings {
            rule_family: RuleFamily::Taylor,
            trainable: "all".into(),
            hidden: vec![10],
            basis: None,
            init: "random".into(),
            fit: FitConfig::default(),
            gradient: GradientStrategy::Checkpointed,
            eval_trajectories: 5,
            solver: Solver::Auto,
        }
    }
}

impl NeuralFitSettings {
    /// The basis used: the one given, or the optimizer's default.
    pub fn basis(&self) -> Basis {
        self.basis.unwrap_or(match self.fit.optimizer {
            crate::fit::OptimizerKind::Lbfgs => Basis::Scaled,
            crate::fit::OptimizerKind::Adam => Basis::Canonical,
        })
    }
}

/// The rule of `settings`, over (x, y, w).
pub fn build_rule(settings: &NeuralFitSettings) -> Result<Rule> {
    Rule::of_family(settings.rule_family, Variables::Xyw, &settings.hidden)
}

/// Where a fit of `settings` starts: its rule, the optimizer's parametrisation in
/// `basis` (trainable terms, variable scales), the penalised parameters and the initial
/// θ as the parametrisation represents it.
pub(crate) struct FitStart {
    pub(crate) rule: Rule,
    pub(crate) parametrisation: crate::fit::Parametrisation,
    pub(crate) penalised: Vec<usize>,
    pub(crate) theta: Vec<f64>,
}

impl FitStart {
    pub(crate) fn of(
        settings: &NeuralFitSettings,
        basis: Basis,
        scales: &VariableScales,
    ) -> Result<FitStart> {
        let rule = build_rule(settings)?;
        let theta0 = initial_theta(&rule, &settings.init, settings.fit.seed)?;
        let (parametrisation, penalised) =
            rule_parametrisation(&rule, &settings.trainable, basis, scales)?;
        let theta = parametrisation.theta(&parametrisation.phi(&theta0));
        Ok(FitStart {
            rule,
            parametrisation,
            penalised,
            theta,
        })
    }
}
