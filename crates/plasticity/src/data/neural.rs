//! The neural-activity dataset (docs/model.md §6, `kind = "neural"`).

use std::path::Path;

use ndarray::{Array1, Array3, Ix1, Ix3};

use crate::io::npz::{write_npz, NpzFile, NpzValue};
use crate::{Error, Result};

/// Recorded activity of a plastic layer over several trajectories.
#[derive(Clone, Debug, PartialEq)]
pub struct NeuralDataset {
    /// `x_t`, `[trajectories, steps, n_pre]`.
    pub inputs: Array3<f64>,
    /// `W_0` of each trajectory, `[trajectories, n_post, n_pre]`.
    pub initial_weights: Array3<f64>,
    /// Recorded `y_t` (noise included), `[trajectories, steps, n_recorded]`.
    pub recorded_activity: Array3<f64>,
    /// Ascending indices of the recorded neurons into `0..n_post`.
    pub recorded_neurons: Vec<usize>,
    /// The metadata JSON object (`kind`, `rule`, `noise_std`, `recording_fraction`,
    /// `seed`, `version`, and any extra keys).
    pub metadata: serde_json::Map<String, serde_json::Value>,
}

/// One trajectory of a [`NeuralDataset`], as contiguous row-major slices.
#[derive(Clone, Copy, Debug)]
pub struct NeuralTrajectory<'a> {
    /// `[steps, n_pre]`.
    pub inputs: &'a [f64],
    /// `[n_post, n_pre]`.
    pub initial_weights: &'a [f64],
    /// `[steps, n_recorded]`.
    pub recorded_activity: &'a [f64],
    /// Indices of the recorded neurons.
    pub recorded_neurons: &'a [usize],
    /// Number of steps.
    pub steps: usize,
}

impl NeuralDataset {
    /// Number of trajectories.
    pub fn n_trajectories(&self) -> usize {
        self.inputs.shape()[0]
    }
    /// Steps per trajectory.
    pub fn steps(&self) -> usize {
        self.inputs.shape()[1]
    }
    /// Presynaptic neurons.
    pub fn n_pre(&self) -> usize {
        self.inputs.shape()[2]
    }
    /// Postsynaptic neurons.
    pub fn n_post(&self) -> usize {
        self.initial_weights.shape()[1]
    }

    /// Trajectory `k` as slices. The arrays are kept in standard layout by
    /// construction ([`NeuralDataset::new`]).
    pub fn trajectory(&self, k: usize) -> NeuralTrajectory<'_> {
        fn slice(array: &Array3<f64>, k: usize) -> &[f64] {
            let per = array.shape()[1] * array.shape()[2];
            let all = array
                .as_slice()
                .expect("dataset arrays are standard layout (NeuralDataset::new)");
            &all[k * per..(k + 1) * per]
        }
        NeuralTrajectory {
            inputs: slice(&self.inputs, k),
            initial_weights: slice(&self.initial_weights, k),
            recorded_activity: slice(&self.recorded_activity, k),
            recorded_neurons: &self.recorded_neurons,
            steps: self.steps(),
        }
    }

    /// Builds a dataset, checking that shapes agree, values are finite and the recorded
    /// neurons are ascending and in range. `origin` names the source in errors.
    pub fn new(
        inputs: Array3<f64>,
        initial_weights: Array3<f64>,
        recorded_activity: Array3<f64>,
        recorded_neurons: Vec<usize>,
        metadata: serde_json::Map<String, serde_json::Value>,
        origin: &Path,
    ) -> Result<Self> {
        let bad = |variable: &str, message: String| Error::data(origin, variable, message);
        let n_rec = recorded_neurons.len();
        super::shapes::NeuralShapes {
            inputs: inputs.shape(),
            initial_weights: initial_weights.shape(),
            recorded_activity: recorded_activity.shape(),
            n_recorded: n_rec,
        }
        .check(origin)?;
        let n_post = initial_weights.shape()[1];
        if n_rec == 0 {
            return Err(bad(
                "recorded_neurons",
                "expected at least one recorded neuron".into(),
            ));
        }
        for pair in recorded_neurons.windows(2) {
            if pair[1] <= pair[0] {
                return Err(bad(
                    "recorded_neurons",
                    format!(
                        "expected strictly ascending indices, found {} after {}",
                        pair[1], pair[0]
                    ),
                ));
            }
        }
        if let Some(&last) = recorded_neurons.last() {
            if last >= n_post {
                return Err(bad(
                    "recorded_neurons",
                    format!("index {last} is out of range for n_post = {n_post}"),
                ));
            }
        }
        for (name, array) in [
            ("inputs", &inputs),
            ("initial_weights", &initial_weights),
            ("recorded_activity", &recorded_activity),
        ] {
            if let Some((index, value)) = array.indexed_iter().find(|(_, v)| !v.is_finite()) {
                return Err(bad(
                    name,
                    format!("expected finite values, found {value} at index {index:?}"),
                ));
            }
        }
        Ok(NeuralDataset {
            inputs: standard_layout(inputs),
            initial_weights: standard_layout(initial_weights),
            recorded_activity: standard_layout(recorded_activity),
            recorded_neurons,
            metadata,
        })
    }

    /// Reads a dataset from an `.npz` file in the layout of docs/model.md §6. Every member's
    /// header (dtype, shape), the shapes' agreement and the arrays' total size against
    /// the memory limit are checked before any array is read.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let file = NpzFile::open_for_streaming(path)?;
        let metadata = super::read_metadata(&file, "neural")?;
        super::shapes::NeuralShapes::check_headers(&file)?;
        let to3 = |key: &str| -> Result<Array3<f64>> {
            file.f64_array(key, 3)?
                .into_dimensionality::<Ix3>()
                .map_err(|e| Error::data(path, key, e.to_string()))
        };
        let inputs = to3("inputs")?;
        let initial_weights = to3("initial_weights")?;
        let recorded_activity = to3("recorded_activity")?;
        let neurons: Array1<i64> = file
            .i64_array("recorded_neurons", 1)?
            .into_dimensionality::<Ix1>()
            .map_err(|e| Error::data(path, "recorded_neurons", e.to_string()))?;
        let mut recorded_neurons = Vec::with_capacity(neurons.len());
        for &index in neurons.iter() {
            let index = usize::try_from(index).map_err(|_| {
                Error::data(
                    path,
                    "recorded_neurons",
                    format!("expected non-negative indices, found {index}"),
                )
            })?;
            recorded_neurons.push(index);
        }
        Self::new(
            inputs,
            initial_weights,
            recorded_activity,
            recorded_neurons,
            metadata,
            path,
        )
    }

    /// Writes the dataset to `path` (atomically) in the layout of docs/model.md §6.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let neurons: Array1<i64> = self.recorded_neurons.iter().map(|&i| i as i64).collect();
        let metadata = serde_json::Value::Object(self.metadata.clone()).to_string();
        write_npz(
            path,
            &[
                ("inputs", NpzValue::F64(self.inputs.view().into_dyn())),
                (
                    "initial_weights",
                    NpzValue::F64(self.initial_weights.view().into_dyn()),
                ),
                (
                    "recorded_activity",
                    NpzValue::F64(self.recorded_activity.view().into_dyn()),
                ),
                ("recorded_neurons", NpzValue::I64(neurons.view().into_dyn())),
                ("metadata", NpzValue::Str(&metadata)),
            ],
        )
    }

    /// A metadata entry as a number, if present.
    pub fn metadata_f64(&self, key: &str) -> Option<f64> {
        self.metadata.get(key).and_then(|v| v.as_f64())
    }

    /// The generating rule's expression, if the data were simulated.
    pub fn generating_rule(&self) -> Option<&str> {
        self.metadata.get("rule").and_then(|v| v.as_str())
    }
}

/// `array` in standard (C) layout, moved where it already is, copied otherwise.
fn standard_layout(array: Array3<f64>) -> Array3<f64> {
    if array.is_standard_layout() {
        array
    } else {
        array.as_standard_layout().into_owned()
    }
}
