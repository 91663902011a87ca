//! Helpers shared by the fit tests (`determinism.rs`, `recovery.rs`, `resume.rs`,
//! `neural_engine.rs`, `limits.rs`, `divergence.rs`): the simulated datasets they fit,
//! their settings, and observers that stop a fit and take its checkpoint.
#![allow(dead_code)] // each test binary uses a different part

use std::ops::ControlFlow;

use plasticity::data::{BehaviourDataset, NeuralDataset};
use plasticity::fit::{EpochReport, FitCheckpoint, FitConfig, Solver};
use plasticity::pipeline::neural::NeuralFitSettings;
use plasticity::task::{BehaviourTask, OjaTask};

/// An observer of a fit's reports.
pub type Observer<'o> = dyn FnMut(&EpochReport<'_>) -> ControlFlow<()> + 'o;

/// An Oja task of `[n_pre, n_post, trajectories, steps]` with `noise_std` and `seed`,
/// the rest default.
pub fn oja_task(shape: [usize; 4], noise_std: f64, seed: u64) -> OjaTask {
    let [n_pre, n_post, trajectories, steps] = shape;
    OjaTask {
        n_pre,
        n_post,
        trajectories,
        steps,
        noise_std,
        seed,
        ..OjaTask::default()
    }
}

/// [`oja_task`] simulated.
pub fn oja_data(shape: [usize; 4], noise_std: f64, seed: u64) -> NeuralDataset {
    oja_task(shape, noise_std, seed)
        .simulate()
        .expect("simulated")
}

/// A behaviour task of `[sessions, n_blocks, trials_per_block]` with `rule` and `seed`,
/// the rest default.
pub fn behaviour_task(shape: [usize; 3], rule: &str, seed: u64) -> BehaviourTask {
    let [sessions, n_blocks, trials_per_block] = shape;
    BehaviourTask {
        sessions,
        n_blocks,
        trials_per_block,
        rule: rule.into(),
        seed,
        ..BehaviourTask::default()
    }
}

/// [`behaviour_task`] simulated.
pub fn behaviour_data(shape: [usize; 3], rule: &str, seed: u64) -> BehaviourDataset {
    behaviour_task(shape, rule, seed)
        .simulate()
        .expect("simulated")
}

/// The default fit configuration with `epochs` epochs.
pub fn epochs(epochs: usize) -> FitConfig {
    FitConfig {
        epochs,
        ..FitConfig::default()
    }
}

/// Neural fit settings: `fit`, `eval_trajectories` held out and `solver`, the rest
/// default.
pub fn neural_settings(
    fit: FitConfig,
    eval_trajectories: usize,
    solver: Solver,
) -> NeuralFitSettings {
    NeuralFitSettings {
        fit,
        eval_trajectories,
        solver,
        ..NeuralFitSettings::default()
    }
}

/// An observer that lets the fit run to its end.
pub fn go_on(_: &EpochReport<'_>) -> ControlFlow<()> {
    ControlFlow::Continue(())
}

/// Runs `fit` with an observer that counts the reports; returns what `fit` returned
/// and the count.
pub fn counted<T>(fit: impl FnOnce(&mut Observer<'_>) -> T) -> (T, usize) {
    let mut calls = 0;
    let result = fit(&mut |_| {
        calls += 1;
        ControlFlow::Continue(())
    });
    (result, calls)
}

/// Runs `fit` with an observer that, at the first report where `stop` holds, takes the
/// checkpoint and stops the fit; returns what `fit` returned and the checkpoint.
pub fn stopped_where<T>(
    mut stop: impl FnMut(&EpochReport<'_>) -> bool,
    fit: impl FnOnce(&mut Observer<'_>) -> T,
) -> (T, Option<FitCheckpoint>) {
    let mut taken = None;
    let result = fit(&mut |report| {
        if stop(report) {
            taken = Some((report.checkpoint)());
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    });
    (result, taken)
}

/// [`stopped_where`] the report of epoch `epoch`.
pub fn stopped_at_epoch<T>(
    epoch: usize,
    fit: impl FnOnce(&mut Observer<'_>) -> T,
) -> (T, Option<FitCheckpoint>) {
    stopped_where(|report| report.epoch == epoch, fit)
}

/// [`stopped_where`] the `n`-th report.
pub fn stopped_at_report<T>(
    n: usize,
    fit: impl FnOnce(&mut Observer<'_>) -> T,
) -> (T, Option<FitCheckpoint>) {
    let mut seen = 0;
    stopped_where(
        move |_| {
            seen += 1;
            seen == n
        },
        fit,
    )
}

/// `checkpoint` written as JSON and read back, as the CLI stores it.
pub fn through_json(checkpoint: &FitCheckpoint) -> FitCheckpoint {
    let text = serde_json::to_string(checkpoint).expect("serialised");
    serde_json::from_str(&text).expect("parsed")
}
