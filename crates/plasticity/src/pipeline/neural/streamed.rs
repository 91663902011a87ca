//! Neural fits of recordings read step by step from disk (the streamed `.npz`
//! reader): the variables' scales by Welford's running mean and variance, then the
//! fit by the checkpointed adjoint over the stream.

use std::ops::ControlFlow;

use super::evaluate::{optimizer_name, NeuralFit, NeuralFitMetrics};
use super::settings::{FitStart, NeuralFitSettings};
use crate::analysis::metrics::named_coefficient_error;
use crate::data::mean_and_std;
use crate::fit::{fit, EpochReport, Solver, VariableScales};
use crate::objective::Objective;
use crate::rule::{parse_expression, PlasticityRule, TaylorRule, Variables};
use crate::Result;

/// Means and standard deviations of x, y and w as [`super::neural_scales`] measures them (the
/// same values, in the same order), read from a streamed dataset in one pass.
pub fn neural_scales_streamed(stream: &crate::data::NeuralStream) -> Result<VariableScales> {
    let n_rec = stream.recorded_neurons().len();
    let mut input = vec![0.0; stream.n_pre()];
    let mut recorded = vec![0.0; n_rec];
    // Welford over each array in file order, as mean_and_std does in memory
    let mut inputs = Welford::default();
    let mut activity = Welford::default();
    for k in 0..stream.n_trajectories() {
        let mut steps = stream.trajectory(k)?;
        while steps.next_step(&mut input, &mut recorded)? {
            input.iter().for_each(|&v| inputs.push(v));
            recorded.iter().for_each(|&v| activity.push(v));
        }
    }
    let weights =
        (0..stream.n_trajectories()).flat_map(|k| stream.initial_weights(k).iter().copied());
    let (mw, sw) = mean_and_std(weights);
    let ((mx, sx), (my, sy)) = (inputs.mean_and_std(), activity.mean_and_std());
    Ok(VariableScales {
        mean: [mx, my, mw, 0.0],
        std: [sx, sy, sw, 1.0],
    })
}

/// [`mean_and_std`]'s recurrence, fed one value at a time.
#[derive(Default)]
struct Welford {
    n: f64,
    mean: f64,
    m2: f64,
}

impl Welford {
    fn push(&mut self, v: f64) {
        self.n += 1.0;
        let delta = v - self.mean;
        self.mean += delta / self.n;
        self.m2 += delta * (v - self.mean);
    }

    fn mean_and_std(&self) -> (f64, f64) {
        if self.n < 1.0 {
            (0.0, 1.0)
        } else {
            (self.mean, (self.m2 / self.n).sqrt())
        }
    }
}

/// Fits `settings` to a dataset that streams from its file, with forward-mode
/// gradients (memory independent of the recording's length; every evaluation reads
/// the file again). The metrics are the data loss, the loss at the generating rule and
/// the coefficient error; R² on fresh trajectories is not computed for streamed data
/// (`plasticity evaluate` computes it for a given θ).
pub fn fit_neural_streamed(
    stream: &crate::data::NeuralStream,
    settings: &NeuralFitSettings,
    observer: &mut dyn FnMut(&EpochReport<'_>) -> ControlFlow<()>,
) -> Result<NeuralFit> {
    if settings.solver == Solver::LevenbergMarquardt {
        return Err(crate::Error::config(
            "solver",
            "Levenberg–Marquardt fits a recording held in memory, not one streamed from its file (use --gradient checkpointed, or --solver lbfgs)",
        ));
    }
    let scales = neural_scales_streamed(stream)?;
    let FitStart {
        rule,
        parametrisation,
        penalised,
        theta: start,
    } = FitStart::of(settings, settings.basis(), &scales)?;
    let objective = crate::objective::StreamedNeuralObjective::new(stream, rule.clone())?
        .with_active_parameters(parametrisation.trainable().to_vec());
    let outcome = fit(
        &objective,
        &parametrisation,
        &start,
        &penalised,
        &settings.fit,
        observer,
    );
    if let Some(error) = objective.take_error() {
        return Err(error);
    }
    let outcome = outcome?;
    let items: Vec<usize> = (0..stream.n_trajectories()).collect();
    let final_loss = objective.loss(&outcome.theta, &items);
    let generating = stream
        .generating_rule()
        .map(|expression| parse_expression(expression, Variables::Xyw))
        .transpose()?;
    let (loss_at_generating_rule, coefficient_error) = match (&generating, rule.as_taylor()) {
        (Some(true_theta), Some(taylor)) => {
            let true_objective = crate::objective::StreamedNeuralObjective::new(
                stream,
                TaylorRule::new(taylor.variables()),
            )?;
            let loss = true_objective.loss(true_theta, &items);
            if let Some(error) = true_objective.take_error() {
                return Err(error);
            }
            (
                Some(loss),
                Some(named_coefficient_error(
                    taylor.variables(),
                    &outcome.theta,
                    true_theta,
                )),
            )
        }
        _ => (None, None),
    };
    if let Some(error) = objective.take_error() {
        return Err(error);
    }
    Ok(NeuralFit {
        rule,
        basis_used: parametrisation.basis(),
        outcome,
        metrics: NeuralFitMetrics {
            r2_weights: None,
            r2_activity: None,
            final_loss,
            loss_at_generating_rule,
            coefficient_error,
            evaluation: None,
        },
        scales,
        identifiability: crate::analysis::identifiability::not_computed(
            "not computed for a streamed recording (plasticity identify computes it for data in memory)",
        ),
        solver_used: optimizer_name(settings.fit.optimizer),
    })
}
