//! The staged circuit fit by Levenberg–Marquardt, resumable mid-stage.
//!
//! Each horizon stage is a least-squares problem `L(φ) = 1/N Σ r²` solved by
//! Levenberg–Marquardt under the fitting driver ([`fit_least_squares`]); after every
//! kept step the observer may take a [`StagedCheckpoint`]: which start (basis), which
//! stage, the finished stages' histories and the stage's own checkpoint. A fit
//! continued from it takes exactly the steps the uninterrupted fit takes.
//!
//! The stage loop takes any `ThetaLeastSquares` problem: the behaviour fit by Fisher
//! scoring ([`crate::pipeline::behaviour`]) runs it as one stage over whole sessions.

use std::ops::ControlFlow;

use super::parametrisation::{circuit_parametrisation, data_loss};
use super::settings::CircuitFitSettings;
use crate::data::CircuitDataset;
use crate::fit::StageReport;
use crate::fit::{fit_least_squares, Basis, EpochReport, FitCheckpoint, FitOutcome};
use crate::fit::{Parametrisation, StopReason};
use crate::fit::{StagedCheckpoint, StartResult};
use crate::objective::{CircuitObjective, Objective};
use crate::optim::least_squares::GaussNewtonSystem;
use crate::optim::levenberg_marquardt::{LeastSquaresProblem, LevenbergMarquardt, LossModel};
use crate::Result;

/// One start of the staged fit: which one, the first's result when this is the second
/// (so that a checkpoint holds it), and where to continue from when resuming.
pub(crate) struct Start<'a> {
    pub index: usize,
    pub first: Option<&'a StartResult>,
    pub resume: Option<&'a StagedCheckpoint>,
}

/// Why Levenberg–Marquardt does not apply to this fit, if it does not.
pub(super) fn levenberg_marquardt_obstacle(
    settings: &CircuitFitSettings,
    objective: &CircuitObjective<'_>,
) -> Option<&'static str> {
    if !objective.fitted_initial_weights().is_empty() {
        Some("Levenberg–Marquardt fits θ only, and this circuit fits a shared W₀ (use --solver lbfgs)")
    } else if settings.fit.l1 != 0.0 || settings.fit.l2 != 0.0 {
        Some("Levenberg–Marquardt fits a plain least-squares loss, without an L1 or L2 penalty (use --solver lbfgs)")
    } else if settings.fit.optimizer != crate::fit::OptimizerKind::Lbfgs {
        Some("--optimizer adam asks for Adam (use --solver lbfgs)")
    } else {
        None
    }
}

/// A least-squares (or likelihood) problem over the canonical θ, of which
/// [`InPhi`] makes the optimizer's problem in φ: the circuit recordings' squared errors,
/// and the behaviour choices' cross-entropy by Fisher scoring
/// ([`crate::pipeline::behaviour`]).
pub(crate) trait ThetaLeastSquares {
    /// `L(θ)`.
    fn loss(&self, theta: &[f64]) -> f64;
    /// `L`, `g` and `H` at `θ` over the `active` parameters (in their order).
    fn system(&self, theta: &[f64], active: &[usize]) -> Result<GaussNewtonSystem>;
    /// What `L` is to `g` and `H`.
    fn model(&self) -> LossModel {
        LossModel::SumOfSquares
    }
}

/// A problem over θ in the optimizer's variables φ: `L(θ(φ))`, and its system pulled
/// back from θ to φ (`J_φ = J_θ A` for the linear change of basis `θ = A φ + b`).
pub(crate) struct InPhi<'a, T> {
    pub problem: T,
    pub parametrisation: &'a Parametrisation,
}

impl<T: ThetaLeastSquares> LeastSquaresProblem for InPhi<'_, T> {
    fn loss(&self, phi: &[f64]) -> f64 {
        self.problem.loss(&self.parametrisation.theta(phi))
    }

    fn system(&self, phi: &[f64]) -> Result<GaussNewtonSystem> {
        let theta = self.parametrisation.theta(phi);
        let active = self.parametrisation.trainable();
        let system = self.problem.system(&theta, active)?;
        // Aᵀ v for a vector over the active θ
        Ok(system.pulled_back(|values| {
            let mut full = vec![0.0; theta.len()];
            for (&k, &v) in active.iter().zip(values) {
                full[k] = v;
            }
            self.parametrisation.pullback(&full)
        }))
    }

    fn model(&self) -> LossModel {
        self.problem.model()
    }
}

/// The loss of a circuit recording up to a stage's horizon, `L(θ) = 1/N Σ r²`.
struct CircuitStage<'a> {
    objective: CircuitObjective<'a>,
    items: Vec<usize>,
}

impl ThetaLeastSquares for CircuitStage<'_> {
    fn loss(&self, theta: &[f64]) -> f64 {
        self.objective.loss(theta, &self.items)
    }

    fn system(&self, theta: &[f64], active: &[usize]) -> Result<GaussNewtonSystem> {
        self.objective.gauss_newton(theta, active, &self.items)
    }
}

/// How the stages of one start are run: the problem of a stage by its horizon, the
/// horizon of the whole recording (the stage fitted to the full tolerance) and the
/// tolerance of the stages before it.
pub(crate) struct StagedProblem<'p, T> {
    pub problem_of: &'p dyn Fn(usize) -> T,
    pub full_horizon: usize,
    pub stage_tolerance: f64,
    /// The solver's settings apart from each stage's steps and tolerance.
    pub solver: LevenbergMarquardt,
}

/// The staged fit by Levenberg–Marquardt from `initial` in `parametrisation`, and a
/// second start in [`CircuitFitSettings::second_basis`] where the first did not reach
/// a zero residual; the better of the two, its stage reports (both starts') and its
/// basis. Continues `settings.fit.resume` where it holds a [`StagedCheckpoint`].
#[allow(clippy::too_many_arguments)]
pub(super) fn levenberg_marquardt_fit(
    dataset: &CircuitDataset,
    settings: &CircuitFitSettings,
    (bound, full): (Option<f64>, &CircuitObjective<'_>),
    parametrisation: &Parametrisation,
    initial: &[f64],
    plan: &[(usize, usize, bool)],
    observer: &mut dyn FnMut(&EpochReport<'_>) -> ControlFlow<()>,
) -> Result<(FitOutcome, Vec<StageReport>, Basis)> {
    let resume = settings
        .fit
        .resume
        .as_ref()
        .and_then(|c| c.staged.as_deref());
    let problem_of = |horizon: usize| CircuitStage {
        objective: CircuitObjective::new(dataset, settings.gradient)
            .with_weight_bound(bound)
            .with_horizon(horizon),
        items: (0..dataset.trajectories).collect(),
    };
    let staged = StagedProblem {
        problem_of: &problem_of,
        full_horizon: dataset.steps,
        stage_tolerance: settings.stage_tolerance,
        solver: LevenbergMarquardt::default(),
    };
    let first = match resume {
        Some(StagedCheckpoint {
            start: 1,
            first: Some(first),
            ..
        }) => first.clone(),
        _ => levenberg_marquardt_stages(
            &staged,
            parametrisation,
            initial,
            plan,
            Start {
                index: 0,
                first: None,
                resume: resume.filter(|r| r.start == 0),
            },
            observer,
        )?,
    };
    let items: Vec<usize> = (0..dataset.trajectories).collect();
    let first_loss = data_loss(full, &first.outcome.theta, &items);
    let interrupted = first.outcome.stop_reason == StopReason::Interrupted;
    let zero_residual = first_loss <= LevenbergMarquardt::default().zero_loss;
    let basis = parametrisation.basis();
    let second = settings.second_basis.filter(|&b| b != basis);
    let (Some(second), false, false) = (second, interrupted, zero_residual) else {
        return Ok((first.outcome, first.stages, basis));
    };
    let (second_parametrisation, _) = circuit_parametrisation(dataset, full, second)?;
    let other = levenberg_marquardt_stages(
        &staged,
        &second_parametrisation,
        initial,
        plan,
        Start {
            index: 1,
            first: Some(&first),
            resume: resume.filter(|r| r.start == 1),
        },
        observer,
    )?;
    let second_loss = data_loss(full, &other.outcome.theta, &items);
    let evaluations = first.outcome.evaluations + other.outcome.evaluations;
    let mut stages = first.stages;
    stages.extend(other.stages);
    // an interrupted second start is the fit's state (its checkpoint continues it)
    let second_interrupted = other.outcome.stop_reason == StopReason::Interrupted;
    if second_interrupted || second_loss < first_loss || !first_loss.is_finite() {
        let outcome = FitOutcome {
            evaluations,
            ..other.outcome
        };
        Ok((outcome, stages, second_parametrisation.basis()))
    } else {
        let outcome = FitOutcome {
            evaluations,
            ..first.outcome
        };
        Ok((outcome, stages, basis))
    }
}

/// The staged fit by Levenberg–Marquardt: each stage's `epochs` are its largest number
/// of kept steps (each one Jacobian). `start.resume` continues a checkpoint of this
/// start exactly where it was taken. A fit of one stage (plan `[(h, epochs, _)]` with
/// `h` the full horizon) is a plain Levenberg–Marquardt fit with the fit's observer,
/// checkpoints and resume.
pub(crate) fn levenberg_marquardt_stages<T: ThetaLeastSquares>(
    staged: &StagedProblem<'_, T>,
    parametrisation: &Parametrisation,
    initial: &[f64],
    plan: &[(usize, usize, bool)],
    start: Start<'_>,
    observer: &mut dyn FnMut(&EpochReport<'_>) -> ControlFlow<()>,
) -> Result<StartResult> {
    let total_epochs: usize = plan.iter().map(|stage| stage.1).sum();
    let mut phi = parametrisation.phi(initial);
    let mut outcome = FitOutcome {
        theta: initial.to_vec(),
        loss_history: Vec::new(),
        theta_history: Vec::new(),
        stop_reason: StopReason::EpochsCompleted,
        evaluations: 0,
        final_loss: f64::NAN,
        backoffs: 0,
    };
    let mut stages = Vec::new();
    let mut first_stage = 0;
    if let Some(resume) = start.resume {
        outcome = resume.done.clone();
        stages.clone_from(&resume.reports);
        phi.clone_from(&resume.inner.phi);
        first_stage = resume.stage;
    }
    for (s, &(horizon, epochs, _)) in plan.iter().enumerate().skip(first_stage) {
        let last = horizon == staged.full_horizon;
        let problem = InPhi {
            problem: (staged.problem_of)(horizon),
            parametrisation,
        };
        let lm = LevenbergMarquardt {
            tolerance: if last {
                staged.solver.tolerance
            } else {
                staged.stage_tolerance
            },
            ..staged.solver
        };
        let resume = start
            .resume
            .filter(|resume| resume.stage == s)
            .map(|resume| resume.inner.as_ref());
        let epoch_offset = outcome.loss_history.len();
        let (done, reports) = (&outcome, &stages);
        let mut stage_observer = |report: &EpochReport<'_>| {
            let checkpoint = || {
                let inner = (report.checkpoint)();
                FitCheckpoint {
                    epochs_done: epoch_offset + inner.epochs_done,
                    phi: inner.phi.clone(),
                    loss_history: Vec::new(),
                    theta_history: Vec::new(),
                    evaluations: 0,
                    optimizer: inner.optimizer.clone(),
                    backoff: Default::default(),
                    staged: Some(Box::new(StagedCheckpoint {
                        start: start.index,
                        first: start.first.cloned(),
                        stage: s,
                        done: done.clone(),
                        reports: reports.clone(),
                        inner: Box::new(inner),
                    })),
                    chunked: None,
                }
            };
            observer(&EpochReport {
                epoch: epoch_offset + report.epoch,
                epochs: total_epochs,
                loss: report.loss,
                theta: report.theta,
                checkpoint: &checkpoint,
            })
        };
        let (stage, stage_phi) = fit_least_squares(
            &problem,
            parametrisation,
            phi.clone(),
            (&lm, epochs),
            resume,
            &mut stage_observer,
        )?;
        phi = stage_phi;
        outcome.evaluations += stage.evaluations;
        outcome.theta_history.extend(stage.theta_history);
        outcome.loss_history.extend(&stage.loss_history);
        outcome.stop_reason = match stage.stop_reason {
            StopReason::NonFinite { epoch, detail } => StopReason::NonFinite {
                epoch: epoch_offset + epoch,
                detail,
            },
            other => other,
        };
        stages.push(StageReport {
            horizon,
            epochs: stage.loss_history.len(),
            evaluations: stage.evaluations,
            loss: stage.final_loss,
            stop_reason: outcome.stop_reason.clone(),
        });
        let interrupted = outcome.stop_reason == StopReason::Interrupted;
        if interrupted || matches!(outcome.stop_reason, StopReason::NonFinite { .. }) {
            break;
        }
    }
    outcome.theta = parametrisation.theta(&phi);
    Ok(StartResult { outcome, stages })
}
