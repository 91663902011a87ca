//! Fitting a rule to a neural-activity dataset end to end: choose the rule and its
//! trainable terms, measure the variables' scales for the optimizer's basis, fit, and
//! evaluate against the generating rule when the data were simulated.

mod evaluate;
mod least_squares;
mod memory;
mod settings;
mod streamed;

pub use evaluate::{
    evaluate_on_dataset, fresh_trajectories, generating_theta, neural_scales, NeuralFit,
    NeuralFitMetrics,
};
pub(crate) use evaluate::{neural_identifiability, optimizer_name};
pub use least_squares::LEVENBERG_MARQUARDT;
pub use memory::neural_fit_bytes;
pub(crate) use settings::FitStart;
pub use settings::{build_rule, NeuralFitSettings};
use std::ops::ControlFlow;
pub use streamed::{fit_neural_streamed, neural_scales_streamed};

use crate::data::NeuralDataset;
use crate::fit::{fit, EpochReport, Solver};
use crate::gradient::GradientStrategy;
use crate::objective::NeuralObjective;
use crate::Result;

/// Fits `settings` to `dataset`; `observer` sees every epoch and may stop the fit.
pub fn fit_neural(
    dataset: &NeuralDataset,
    settings: &NeuralFitSettings,
    observer: &mut dyn FnMut(&EpochReport<'_>) -> ControlFlow<()>,
) -> Result<NeuralFit> {
    let threads = rayon::current_num_threads();
    // what would fit instead: the other gradient strategies, fewer threads
    let bytes = |strategy, threads| neural_fit_bytes(dataset, strategy, threads);
    let mut alternatives: Vec<(String, Option<u64>)> = [
        (GradientStrategy::Checkpointed, "checkpointed"),
        (GradientStrategy::Forward, "forward"),
    ]
    .into_iter()
    .filter(|&(strategy, _)| strategy != settings.gradient)
    .map(|(strategy, name)| (format!("--gradient {name}"), bytes(strategy, threads)))
    .collect();
    let limit = crate::limits::max_dataset_bytes();
    if let Some(fewer) = (1..threads)
        .rev()
        .find(|&t| bytes(settings.gradient, t).is_some_and(|b| b <= limit))
    {
        alternatives.push((
            format!("{fewer} thread(s) (RAYON_NUM_THREADS={fewer})"),
            bytes(settings.gradient, fewer),
        ));
    }
    crate::limits::check_working_bytes(
        &format!(
            "fitting {} trajectories × {} steps of a {} → {} layer on {threads} thread(s)",
            dataset.n_trajectories(),
            dataset.steps(),
            dataset.n_pre(),
            dataset.n_post()
        ),
        bytes(settings.gradient, threads),
        &alternatives,
    )?;
    if solver_for(settings)? == least_squares::LEVENBERG_MARQUARDT {
        if let Some(fitted) =
            least_squares::fit_neural_levenberg_marquardt(dataset, settings, observer)?
        {
            return Ok(fitted);
        }
        // auto: where Levenberg–Marquardt's steps made the simulation overflow (noisy
        // small recordings: 25 of the 36 cells of noise_fraction.toml at 20→100), the
        // fit is L-BFGS's from the start, whose line search backs off from overflow —
        // exactly the fit `--solver lbfgs` gives, so that a resumed run agrees with it.
        // A checkpoint here is Levenberg–Marquardt's (one of L-BFGS's never reaches
        // Levenberg–Marquardt: see `obstacle`), which L-BFGS cannot continue: it starts
        // from the start, as the uninterrupted fit did
        let lbfgs = NeuralFitSettings {
            solver: Solver::Lbfgs,
            fit: crate::fit::FitConfig {
                resume: None,
                ..settings.fit.clone()
            },
            ..settings.clone()
        };
        return fit_neural(dataset, &lbfgs, observer);
    }
    let scales = neural_scales(dataset);
    let FitStart {
        rule,
        parametrisation,
        penalised,
        theta: start,
    } = FitStart::of(settings, settings.basis(), &scales)?;
    // forward mode carries tangents for the trainable parameters only
    let objective = NeuralObjective::new(dataset, rule.clone(), settings.gradient)?
        .with_active_parameters(parametrisation.trainable().to_vec());
    let outcome = fit(
        &objective,
        &parametrisation,
        &start,
        &penalised,
        &settings.fit,
        observer,
    )?;
    let metrics = evaluate_on_dataset(
        dataset,
        &rule,
        &outcome.theta,
        settings.eval_trajectories,
        settings.fit.seed,
    )?;
    let identifiability =
        neural_identifiability(dataset, &rule, &outcome.theta, parametrisation.trainable());
    Ok(NeuralFit {
        rule,
        basis_used: parametrisation.basis(),
        outcome,
        metrics,
        scales,
        identifiability,
        solver_used: optimizer_name(settings.fit.optimizer),
    })
}

/// The solver a fit with `settings` will run (as [`NeuralFit::solver_used`] names
/// it), or why the one asked for does not apply.
pub fn solver_for(settings: &NeuralFitSettings) -> Result<&'static str> {
    let obstacle = least_squares::obstacle(settings);
    match (settings.solver, obstacle) {
        (Solver::LevenbergMarquardt, Some(why)) => Err(crate::Error::config("solver", why)),
        (Solver::LevenbergMarquardt | Solver::Auto, None) => Ok(least_squares::LEVENBERG_MARQUARDT),
        _ => Ok(optimizer_name(settings.fit.optimizer)),
    }
}
