//! The observer of a cell's fit: its progress bar, its checkpoint, and Ctrl-C.

use std::cell::RefCell;
use std::ops::ControlFlow;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::journal::{CheckpointFile, Interrupted};
use crate::output::quiet;
use anyhow::Result;
use indicatif::{MultiProgress, ProgressBar};

use plasticity::fit::{EpochReport, FitOutcome, StopReason};
use plasticity::report::write_text;

use super::experiment::{Cell, Experiment};

use super::bar_style;

/// Follows a cell's fit: its progress bar (ETA and loss), log lines when there is no
/// terminal, a checkpoint every `checkpoint_interval` seconds and when interrupted.
pub(super) struct CheckpointingObserver<'a> {
    dir: &'a Path,
    fingerprint: &'a str,
    interval: Duration,
    last_save: Instant,
    bar: ProgressBar,
    multi: &'a MultiProgress,
    cell: usize,
    every: usize,
    /// Epoch lines on stderr without a terminal (one cell only: a grid logs its cells).
    log_epochs: bool,
    error: RefCell<Option<anyhow::Error>>,
}

impl<'a> CheckpointingObserver<'a> {
    pub(super) fn new(
        experiment: &Experiment,
        dir: &'a Path,
        fingerprint: &'a str,
        cell: &Cell,
        multi: &'a MultiProgress,
        epochs: usize,
    ) -> Self {
        let bar = multi.add(ProgressBar::new(epochs as u64));
        bar.set_style(bar_style(
            "{prefix} [{elapsed_precise}] {bar:30} {pos}/{len} epochs  ETA {eta}  {msg}",
        ));
        bar.set_prefix(format!("cell {}", cell.index));
        CheckpointingObserver {
            dir,
            fingerprint,
            interval: Duration::from_secs_f64(experiment.checkpoint_interval),
            last_save: Instant::now(),
            bar,
            multi,
            cell: cell.index,
            every: (epochs / 20).max(1),
            log_epochs: experiment.cells().len() == 1,
            error: RefCell::new(None),
        }
    }

    fn save(&self, report: &EpochReport<'_>) -> Result<()> {
        let file = CheckpointFile {
            fingerprint: self.fingerprint.to_string(),
            checkpoint: (report.checkpoint)(),
        };
        let text = serde_json::to_string(&file)?;
        write_text(&self.dir.join("checkpoint.json"), &text)?;
        Ok(())
    }

    fn observe(&mut self, report: &EpochReport<'_>) -> ControlFlow<()> {
        self.bar.set_position(report.epoch as u64);
        self.bar.set_message(format!("loss {:.4e}", report.loss));
        tracing::debug!(cell = self.cell, epoch = report.epoch, loss = report.loss);
        if report.epoch.is_multiple_of(self.every) || report.epoch == report.epochs {
            tracing::info!(
                cell = self.cell,
                epoch = report.epoch,
                epochs = report.epochs,
                loss = report.loss,
                "epoch"
            );
            if self.log_epochs && self.bar.is_hidden() && !quiet() {
                eprintln!(
                    "cell {}: epoch {}/{}  loss {:.6e}",
                    self.cell, report.epoch, report.epochs, report.loss
                );
            }
        }
        let stop = crate::interrupt::interrupted();
        if stop || self.last_save.elapsed() >= self.interval {
            if let Err(error) = self.save(report) {
                *self.error.borrow_mut() = Some(error);
                return ControlFlow::Break(());
            }
            self.last_save = Instant::now();
        }
        if stop {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }

    /// Runs `fit` under this observer; a fit that Ctrl-C stopped (its checkpoint
    /// written) is the [`Interrupted`] error.
    pub(super) fn follow<T: Fitted>(
        mut self,
        fit: impl FnOnce(&mut dyn FnMut(&EpochReport<'_>) -> ControlFlow<()>) -> plasticity::Result<T>,
    ) -> Result<T> {
        let fitted = fit(&mut |report| self.observe(report));
        self.bar.finish_and_clear();
        self.multi.remove(&self.bar);
        if let Some(error) = self.error.into_inner() {
            return Err(error.context("writing the checkpoint"));
        }
        let fitted = fitted?;
        if fitted.outcome().stop_reason == StopReason::Interrupted {
            return Err(Interrupted(String::new()).into());
        }
        Ok(fitted)
    }
}

/// A fit's result, neural or behaviour.
pub(super) trait Fitted {
    fn outcome(&self) -> &FitOutcome;
}

impl Fitted for plasticity::pipeline::neural::NeuralFit {
    fn outcome(&self) -> &FitOutcome {
        &self.outcome
    }
}

impl Fitted for plasticity::pipeline::circuit::CircuitFit {
    fn outcome(&self) -> &FitOutcome {
        &self.outcome
    }
}

impl Fitted for plasticity::pipeline::behaviour::BehaviourFit {
    fn outcome(&self) -> &FitOutcome {
        &self.outcome
    }
}
