//! docs/model.md §3.1 neural recordings fitted by Levenberg–Marquardt through the network
//! engine: the recording becomes the two-population circuit of
//! [`crate::data::neural_circuit`], and the staged circuit fit
//! ([`crate::pipeline::circuit::fit_circuit`]) solves `(JᵀJ + λ diag JᵀJ) δ = −Jᵀr` on the
//! forward-mode Jacobian of the recorded activity. The result is reported as every
//! neural fit is: the same metrics on fresh trajectories, identifiability, basis.

use std::ops::ControlFlow;

use super::evaluate::{evaluate_on_dataset, neural_identifiability, neural_scales, NeuralFit};
use super::settings::{FitStart, NeuralFitSettings};
use crate::circuit::spec::RuleSpec;
use crate::data::NeuralDataset;
use crate::fit::{Basis, EpochReport, OptimizerKind, OptimizerState, Solver, StopReason};
use crate::pipeline::circuit::{fit_circuit, CircuitFitSettings};
use crate::rule::RuleFamily;
use crate::Result;

/// The name [`NeuralFit::solver_used`] gives Levenberg–Marquardt.
pub const LEVENBERG_MARQUARDT: &str = "levenberg-marquardt";

/// Why Levenberg–Marquardt does not apply to a neural fit with `settings`, if it
/// does not: a penalty (the loss is then not a plain sum of squares), Adam asked for,
/// or a checkpoint of an L-BFGS or Adam fit to continue.
pub(crate) fn obstacle(settings: &NeuralFitSettings) -> Option<&'static str> {
    let resumes_another = settings.fit.resume.as_ref().is_some_and(|checkpoint| {
        !matches!(
            checkpoint.optimizer,
            OptimizerState::LevenbergMarquardt { .. }
        )
    });
    if settings.fit.l1 != 0.0 || settings.fit.l2 != 0.0 {
        Some("Levenberg–Marquardt fits a plain least-squares loss, without an L1 or L2 penalty (use --solver lbfgs)")
    } else if settings.fit.optimizer != OptimizerKind::Lbfgs {
        Some("--optimizer adam asks for Adam (use --solver lbfgs)")
    } else if resumes_another {
        Some("the checkpoint to continue is of an L-BFGS or Adam fit (use --solver lbfgs)")
    } else {
        None
    }
}

/// Fits `settings` to `dataset` by Levenberg–Marquardt with the circuit fit's staged
/// horizon, in `settings.basis` (default: centred), from one start. `None` where
/// `settings.solver` is `auto` and the fit's steps made the simulation overflow (a
/// non-finite stop or final loss): the caller then fits by L-BFGS, and this fit's
/// metrics are not computed.
///
/// A checkpoint of an earlier Levenberg–Marquardt fit (`settings.fit.resume`) is
/// continued mid-stage, to exactly the uninterrupted fit's result.
pub(crate) fn fit_neural_levenberg_marquardt(
    dataset: &NeuralDataset,
    settings: &NeuralFitSettings,
    observer: &mut dyn FnMut(&EpochReport<'_>) -> ControlFlow<()>,
) -> Result<Option<NeuralFit>> {
    let scales = neural_scales(dataset);
    let basis = settings.basis.unwrap_or(Basis::Centred);
    // the rule, its trainable terms (checked) and their indices
    let start = FitStart::of(settings, basis, &scales)?;
    let rule_spec = RuleSpec {
        name: "rule".into(),
        family: match settings.rule_family {
            RuleFamily::Taylor => "taylor",
            RuleFamily::Mlp => "mlp",
        }
        .into(),
        rule: None,
        trainable: settings.trainable.clone(),
        hidden: settings.hidden.clone(),
    };
    let circuit = dataset.to_circuit(rule_spec)?;
    let circuit_settings = CircuitFitSettings {
        fit: settings.fit.clone(),
        basis,
        init: settings.init.clone(),
        gradient: settings.gradient,
        eval_trajectories: 0,
        solver: Solver::LevenbergMarquardt,
        // one start: Marquardt's damping λ diag JᵀJ makes the fit invariant to a
        // diagonal rescaling, and on the single layer the centred basis's second start
        // in the scaled one retraced the first (paper scale, σ = 0.5, f = 0.5: the
        // same loss to 7 digits after 12 and 24 steps) at twice the time
        second_basis: None,
        ..CircuitFitSettings::default()
    };
    let fitted = fit_circuit(&circuit, &circuit_settings, observer)?;
    drop(circuit);
    // a fit the observer stopped (Ctrl-C, SIGTERM: a cancelled Slurm task) is not one
    // that overflowed, whatever its loss: it is returned as stopped, its checkpoint is
    // Levenberg–Marquardt's, and the resumed fit is the uninterrupted one
    let interrupted = matches!(fitted.outcome.stop_reason, StopReason::Interrupted);
    let overflowed = !interrupted
        && (matches!(fitted.outcome.stop_reason, StopReason::NonFinite { .. })
            || !fitted.outcome.final_loss.is_finite());
    if overflowed && settings.solver == Solver::Auto {
        return Ok(None);
    }
    let theta = &fitted.outcome.theta;
    let metrics = evaluate_on_dataset(
        dataset,
        &start.rule,
        theta,
        settings.eval_trajectories,
        settings.fit.seed,
    )?;
    let identifiability = neural_identifiability(
        dataset,
        &start.rule,
        theta,
        start.parametrisation.trainable(),
    );
    Ok(Some(NeuralFit {
        rule: start.rule,
        outcome: fitted.outcome,
        metrics,
        basis_used: fitted.basis_used,
        scales,
        identifiability,
        solver_used: LEVENBERG_MARQUARDT,
    }))
}
