//! The shapes a dataset's arrays must have relative to each other, checked on the
//! shapes alone: by the loaders on the members' `.npy` headers before any data is
//! read, and by the constructors on the arrays. Each error names the file, the member,
//! its shape and the shape it must agree with.

use std::path::Path;

use crate::io::npz::NpzFile;
use crate::{Error, Result};

/// The shapes of a neural dataset's arrays (docs/model.md §6).
pub(crate) struct NeuralShapes<'a> {
    /// `inputs`, `[trajectories, steps, n_pre]`.
    pub inputs: &'a [usize],
    /// `initial_weights`, `[trajectories, n_post, n_pre]`.
    pub initial_weights: &'a [usize],
    /// `recorded_activity`, `[trajectories, steps, n_recorded]`.
    pub recorded_activity: &'a [usize],
    /// The length of `recorded_neurons`.
    pub n_recorded: usize,
}

impl NeuralShapes<'_> {
    /// Checks that the shapes are 3-D, non-empty where they must be, and agree:
    /// trajectories and inputs of `initial_weights` those of `inputs`; trajectories and
    /// steps of `recorded_activity` those of `inputs`, and one column per recorded
    /// neuron.
    pub fn check(&self, origin: &Path) -> Result<()> {
        let bad = |variable: &str, message: String| Error::data(origin, variable, message);
        let (x, w, a) = (self.inputs, self.initial_weights, self.recorded_activity);
        let [n_traj, steps, n_pre] = three(x);
        if x.len() != 3 || n_traj == 0 || steps == 0 || n_pre == 0 {
            return Err(bad(
                "inputs",
                format!(
                    "expected a non-empty [trajectories, steps, n_pre] array, found shape {x:?}"
                ),
            ));
        }
        if w.len() != 3 || w[0] != n_traj || w[2] != n_pre || w[1] == 0 {
            return Err(bad(
                "initial_weights",
                format!(
                    "expected shape [{n_traj}, n_post, {n_pre}] to match 'inputs' {x:?}, found {w:?}"
                ),
            ));
        }
        let n_rec = self.n_recorded;
        if a != [n_traj, steps, n_rec] {
            return Err(bad(
                "recorded_activity",
                format!(
                    "expected shape [{n_traj}, {steps}, {n_rec}] (trajectories and steps of 'inputs' {x:?}, one column per recorded neuron of 'recorded_neurons' [{n_rec}]), found {a:?}"
                ),
            ));
        }
        Ok(())
    }

    /// Reads the shapes from the headers of `file`'s members and checks them, then
    /// the arrays' total size against the memory limit: before any array is read.
    pub fn check_headers(file: &NpzFile) -> Result<()> {
        let inputs = file.f64_shape("inputs", 3)?;
        let initial_weights = file.f64_shape("initial_weights", 3)?;
        let recorded_activity = file.f64_shape("recorded_activity", 3)?;
        let neurons = file.i64_shape("recorded_neurons", 1)?;
        NeuralShapes {
            inputs: &inputs,
            initial_weights: &initial_weights,
            recorded_activity: &recorded_activity,
            n_recorded: neurons[0],
        }
        .check(file.path())?;
        file.check_memory_limit()
    }
}

/// The shapes of a behaviour dataset's arrays (docs/model.md §6).
pub(crate) struct BehaviourShapes<'a> {
    /// `inputs`, `[sessions, max_presentations, n_in]`.
    pub inputs: &'a [usize],
    /// `odours`, `decisions` and `trial_of_presentation`, `[sessions, max_presentations]`.
    pub per_presentation: [(&'static str, &'a [usize]); 3],
    /// The length of `n_presentations`.
    pub n_presentations: usize,
    /// `rewards` and `expected_rewards`, `[sessions, max_trials]`.
    pub per_trial: [(&'static str, &'a [usize]); 2],
    /// The length of `n_trials`.
    pub n_trials: usize,
    /// `initial_weights`, `[sessions, n_hidden, n_in]`.
    pub initial_weights: &'a [usize],
}

impl BehaviourShapes<'_> {
    /// Checks that the shapes are non-empty where they must be and agree on sessions,
    /// presentations, trials and inputs.
    pub fn check(&self, origin: &Path) -> Result<()> {
        let bad = |variable: &str, message: String| Error::data(origin, variable, message);
        let x = self.inputs;
        let [n_sessions, max_pres, n_in] = three(x);
        if x.len() != 3 || n_sessions == 0 || max_pres == 0 || n_in == 0 {
            return Err(bad(
                "inputs",
                format!(
                    "expected a non-empty [sessions, max_presentations, n_in] array, found shape {x:?}"
                ),
            ));
        }
        for (name, shape) in self.per_presentation {
            if shape != [n_sessions, max_pres] {
                return Err(bad(
                    name,
                    format!(
                        "expected shape [{n_sessions}, {max_pres}] (sessions and presentations of 'inputs' {x:?}), found {shape:?}"
                    ),
                ));
            }
        }
        if self.n_presentations != n_sessions {
            return Err(bad(
                "n_presentations",
                format!(
                    "expected one length per session ({n_sessions}, from 'inputs' {x:?}), found {}",
                    self.n_presentations
                ),
            ));
        }
        let [(first_name, first), _] = self.per_trial;
        let max_trials = first.get(1).copied().unwrap_or(0);
        for (name, shape) in self.per_trial {
            if shape != [n_sessions, max_trials] {
                return Err(bad(
                    name,
                    format!(
                        "expected shape [{n_sessions}, {max_trials}] (sessions of 'inputs' {x:?}, trials of '{first_name}' {first:?}), found {shape:?}"
                    ),
                ));
            }
        }
        if self.n_trials != n_sessions {
            return Err(bad(
                "n_trials",
                format!(
                    "expected one length per session ({n_sessions}, from 'inputs' {x:?}), found {}",
                    self.n_trials
                ),
            ));
        }
        let w = self.initial_weights;
        if w.len() != 3 || w[0] != n_sessions || w[2] != n_in || w[1] == 0 {
            return Err(bad(
                "initial_weights",
                format!(
                    "expected shape [{n_sessions}, n_hidden, {n_in}] to match 'inputs' {x:?}, found {w:?}"
                ),
            ));
        }
        Ok(())
    }

    /// Reads the shapes from the headers of `file`'s members and checks them, then
    /// the arrays' total size against the memory limit: before any array is read.
    pub fn check_headers(file: &NpzFile) -> Result<()> {
        let inputs = file.f64_shape("inputs", 3)?;
        let odours = file.i64_shape("odours", 2)?;
        let decisions = file.i64_shape("decisions", 2)?;
        let trial_of_presentation = file.i64_shape("trial_of_presentation", 2)?;
        let n_presentations = file.i64_shape("n_presentations", 1)?;
        let rewards = file.f64_shape("rewards", 2)?;
        let expected_rewards = file.f64_shape("expected_rewards", 2)?;
        let n_trials = file.i64_shape("n_trials", 1)?;
        let initial_weights = file.f64_shape("initial_weights", 3)?;
        BehaviourShapes {
            inputs: &inputs,
            per_presentation: [
                ("odours", &odours),
                ("decisions", &decisions),
                ("trial_of_presentation", &trial_of_presentation),
            ],
            n_presentations: n_presentations[0],
            per_trial: [
                ("rewards", &rewards),
                ("expected_rewards", &expected_rewards),
            ],
            n_trials: n_trials[0],
            initial_weights: &initial_weights,
        }
        .check(file.path())?;
        file.check_memory_limit()
    }
}

/// The first three dimensions of `shape` (0 where it has fewer).
fn three(shape: &[usize]) -> [usize; 3] {
    [0, 1, 2].map(|i| shape.get(i).copied().unwrap_or(0))
}
