//! Fits shared by several commands (a behaviour fit by `fit` and by `table`).

use std::time::Instant;

use anyhow::{Context, Result};

use plasticity::data::BehaviourDataset;
use plasticity::pipeline::behaviour::{fit_behaviour, BehaviourFit, BehaviourFitSettings};

use crate::output::{epoch_observer, progress_bar};

/// A behaviour fit, with a progress bar when `show_progress`; returns the fit and its
/// wall time.
pub(crate) fn fit_quietly_or_with_progress(
    dataset: &BehaviourDataset,
    settings: &BehaviourFitSettings,
    show_progress: bool,
    checkpoint: Option<&crate::journal::FitResume>,
) -> Result<(BehaviourFit, f64)> {
    let bar = progress_bar(settings.fit.epochs, "fitting");
    if !show_progress {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let start = Instant::now();
    let observer = epoch_observer(&bar, start, settings.fit.epochs, show_progress);
    let fit = match checkpoint {
        Some(checkpoint) => fit_behaviour(dataset, settings, &mut checkpoint.observe(observer)),
        None => {
            let mut observer = observer;
            fit_behaviour(dataset, settings, &mut observer)
        }
    };
    bar.finish_and_clear();
    Ok((
        fit.context("fitting the rule")?,
        start.elapsed().as_secs_f64(),
    ))
}
