//! A neural dataset file read step by step, for recordings too long to hold in memory
//! (forward-mode gradients, online fits). The small arrays (initial weights, recorded
//! neurons, metadata) are read at once and checked as [`NeuralDataset::new`] checks
//! them; `inputs` and `recorded_activity` stream from the file, one step at a time,
//! each value checked to be finite as it arrives.

use std::path::{Path, PathBuf};

use ndarray::{Array1, Array3, Ix1, Ix3};

use crate::io::npz::{F64Stream, NpzFile};
use crate::{Error, Result};

use super::NeuralDataset;

/// An opened neural dataset whose trajectories stream from the file.
#[derive(Debug)]
pub struct NeuralStream {
    path: PathBuf,
    file: NpzFile,
    initial_weights: Array3<f64>,
    recorded_neurons: Vec<usize>,
    metadata: serde_json::Map<String, serde_json::Value>,
    n_trajectories: usize,
    steps: usize,
    n_pre: usize,
}

impl NeuralStream {
    /// Opens `path` (docs/model.md §6, kind "neural"); checks every shape, the recorded neurons
    /// and the initial weights, without reading `inputs` or `recorded_activity`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        // the recording streams, so only what is held counts against the memory limit
        let file = NpzFile::open_for_streaming(path)?;
        let metadata = super::read_metadata(&file, "neural")?;
        // every header and the shapes' agreement first, before any array is read
        let input_shape = file.f64_shape("inputs", 3)?;
        let shape = file.f64_shape("initial_weights", 3)?;
        super::shapes::NeuralShapes {
            inputs: &input_shape,
            initial_weights: &shape,
            recorded_activity: &file.f64_shape("recorded_activity", 3)?,
            n_recorded: file.i64_shape("recorded_neurons", 1)?[0],
        }
        .check(path)?;
        crate::limits::check_dataset_bytes(
            &format!("loading the initial weights of {}", path.display()),
            crate::limits::f64_bytes(&shape),
        )?;
        let initial_weights: Array3<f64> = file
            .f64_array("initial_weights", 3)?
            .into_dimensionality::<Ix3>()
            .map_err(|e| Error::data(path, "initial_weights", e.to_string()))?;
        let neurons: Array1<i64> = file
            .i64_array("recorded_neurons", 1)?
            .into_dimensionality::<Ix1>()
            .map_err(|e| Error::data(path, "recorded_neurons", e.to_string()))?;
        let recorded_neurons = neurons
            .iter()
            .map(|&i| {
                usize::try_from(i).map_err(|_| {
                    Error::data(
                        path,
                        "recorded_neurons",
                        format!("expected non-negative indices, found {i}"),
                    )
                })
            })
            .collect::<Result<Vec<usize>>>()?;
        let inputs = file.f64_stream("inputs", 3)?;
        let activity = file.f64_stream("recorded_activity", 3)?;
        let (input_shape, activity_shape) = (inputs.shape(), activity.shape());
        let [n_trajectories, steps, n_pre] = [input_shape[0], input_shape[1], input_shape[2]];
        // The same checks as an in-memory dataset, on one step of each trajectory (the
        // values of the streamed arrays are checked as they are read).
        let shape_only = NeuralDataset::new(
            Array3::zeros((n_trajectories, steps.min(1), n_pre)),
            initial_weights.clone(),
            Array3::zeros((
                activity_shape[0],
                activity_shape[1].min(1),
                activity_shape[2],
            )),
            recorded_neurons.clone(),
            serde_json::Map::new(),
            path,
        )?;
        drop(shape_only);
        if activity_shape[1] != steps {
            return Err(Error::data(
                path,
                "recorded_activity",
                format!(
                    "expected shape [{n_trajectories}, {steps}, {}] (trajectories and steps of 'inputs'), found {activity_shape:?}",
                    recorded_neurons.len()
                ),
            ));
        }
        Ok(NeuralStream {
            path: path.to_path_buf(),
            file,
            initial_weights,
            recorded_neurons,
            metadata,
            n_trajectories,
            steps,
            n_pre,
        })
    }

    /// Number of trajectories.
    pub fn n_trajectories(&self) -> usize {
        self.n_trajectories
    }
    /// Steps per trajectory.
    pub fn steps(&self) -> usize {
        self.steps
    }
    /// Presynaptic neurons.
    pub fn n_pre(&self) -> usize {
        self.n_pre
    }
    /// Postsynaptic neurons.
    pub fn n_post(&self) -> usize {
        self.initial_weights.shape()[1]
    }
    /// Indices of the recorded neurons.
    pub fn recorded_neurons(&self) -> &[usize] {
        &self.recorded_neurons
    }
    /// The metadata object.
    pub fn metadata(&self) -> &serde_json::Map<String, serde_json::Value> {
        &self.metadata
    }
    /// The generating rule's expression, if the data were simulated.
    pub fn generating_rule(&self) -> Option<&str> {
        self.metadata.get("rule").and_then(|v| v.as_str())
    }
    /// `W₀` of trajectory `k`, row-major `[n_post, n_pre]`.
    pub fn initial_weights(&self, k: usize) -> &[f64] {
        let per = self.n_post() * self.n_pre;
        let all = self
            .initial_weights
            .as_slice()
            .expect("arrays read from a file are in standard layout");
        &all[k * per..(k + 1) * per]
    }

    /// Trajectory `k`, positioned at its first step.
    pub fn trajectory(&self, k: usize) -> Result<TrajectoryStream> {
        let mut inputs = self.file.f64_stream("inputs", 3)?;
        let mut activity = self.file.f64_stream("recorded_activity", 3)?;
        let n_rec = self.recorded_neurons.len();
        inputs.skip((k * self.steps * self.n_pre) as u64)?;
        activity.skip((k * self.steps * n_rec) as u64)?;
        Ok(TrajectoryStream {
            path: self.path.clone(),
            inputs,
            activity,
            trajectory: k,
            step: 0,
            steps: self.steps,
        })
    }
}

/// One trajectory's inputs and recorded activity, step by step.
#[derive(Debug)]
pub struct TrajectoryStream {
    path: PathBuf,
    inputs: F64Stream,
    activity: F64Stream,
    trajectory: usize,
    step: usize,
    steps: usize,
}

impl TrajectoryStream {
    /// Steps not yet read.
    pub fn remaining(&self) -> usize {
        self.steps - self.step
    }

    /// Reads the next step's input `x_t` (`n_pre` values) and recorded activity
    /// (`n_recorded` values); `false` once every step has been read.
    pub fn next_step(&mut self, input: &mut [f64], recorded: &mut [f64]) -> Result<bool> {
        if self.step == self.steps {
            return Ok(false);
        }
        self.inputs.read(input)?;
        self.activity.read(recorded)?;
        for (name, values) in [("inputs", &*input), ("recorded_activity", &*recorded)] {
            if let Some((i, v)) = values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
                return Err(Error::data(
                    &self.path,
                    name,
                    format!(
                        "expected finite values, found {v} at index [{}, {}, {i}]",
                        self.trajectory, self.step
                    ),
                ));
            }
        }
        self.step += 1;
        Ok(true)
    }
}
