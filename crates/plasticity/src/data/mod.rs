//! Datasets in memory (docs/model.md §6), validated when loaded.

pub mod behaviour;
pub mod circuit;
pub mod fly;
pub mod fly_warnings;
pub mod neural;
pub mod neural_circuit;
pub mod neural_stream;
mod shapes;
pub mod spike_train;

use std::path::Path;

pub use behaviour::{BehaviourDataset, BehaviourKind, BehaviourSession};
pub use circuit::CircuitDataset;
pub use fly::fly_data_source;
pub use fly::{
    convert_raw_fly, is_raw_fly_dir, load_fly, load_fly_csv, load_fly_dir, load_fly_mat,
    load_raw_fly, to_choice_dataset, to_dataset, write_fly, FlyRecording, RawFly, RawFlySummary,
    FLY_DATA_SOURCE, RAW_FLY_DATA_SOURCE,
};
pub use fly_warnings::{
    check_fly_recordings, FlyDataCheck, FlyDataWarning, FlyDataWarningKind, FlyRejectionCounts,
    FLY_BLOCK_TRIALS,
};
pub use neural::{NeuralDataset, NeuralTrajectory};
pub use neural_stream::{NeuralStream, TrajectoryStream};
pub use spike_train::SpikeTrainDataset;

use crate::io::npz::NpzFile;
use crate::{Error, Result};

/// A dataset of either kind, as found in a file's metadata.
#[derive(Clone, Debug)]
pub enum Dataset {
    /// Neural activity (`kind = "neural"`).
    Neural(Box<NeuralDataset>),
    /// Decisions in the odour tasks (`kind = "behaviour"` or `"choice"`).
    Behaviour(Box<BehaviourDataset>),
}

/// The `kind` in a dataset file's metadata (`"neural"` when absent, as
/// [`Dataset::load`] reads it), without reading its arrays.
pub fn dataset_kind(path: impl AsRef<Path>) -> Result<String> {
    let file = NpzFile::open_for_streaming(path.as_ref())?;
    let metadata = read_metadata(&file, "")?;
    Ok(metadata
        .get("kind")
        .and_then(|k| k.as_str())
        .unwrap_or("neural")
        .to_string())
}

impl Dataset {
    /// Reads an `.npz` dataset of either kind (its `metadata` says which).
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let file = NpzFile::open_for_streaming(path)?;
        let metadata = read_metadata(&file, "")?;
        match metadata.get("kind").and_then(|k| k.as_str()) {
            Some("behaviour" | "choice") => {
                Ok(Dataset::Behaviour(Box::new(BehaviourDataset::load(path)?)))
            }
            _ => Ok(Dataset::Neural(Box::new(NeuralDataset::load(path)?))),
        }
    }

    /// The dataset borrowed, as the functions that take either kind read it.
    pub fn view(&self) -> DatasetRef<'_> {
        match self {
            Dataset::Neural(dataset) => DatasetRef::Neural(dataset),
            Dataset::Behaviour(dataset) => DatasetRef::Behaviour(dataset),
        }
    }
}

/// A borrowed dataset of either kind: what [`Dataset::view`] gives, or one of each kind
/// held elsewhere (shared, say, without a copy of its arrays).
#[derive(Clone, Copy, Debug)]
pub enum DatasetRef<'a> {
    /// Neural activity.
    Neural(&'a NeuralDataset),
    /// Choices in the two-odour task.
    Behaviour(&'a BehaviourDataset),
}

impl DatasetRef<'_> {
    /// The kind, as a dataset file's metadata names it: `"neural"`, `"behaviour"` or
    /// `"choice"`.
    pub fn kind(&self) -> &'static str {
        match self {
            DatasetRef::Neural(_) => "neural",
            DatasetRef::Behaviour(dataset) => dataset.kind().name(),
        }
    }
}

/// The `metadata` JSON object of a dataset file; `expected_kind` (unless empty) must
/// match its `kind` entry.
pub(crate) fn read_metadata(
    file: &NpzFile,
    expected_kind: &str,
) -> Result<serde_json::Map<String, serde_json::Value>> {
    let path = file.path();
    let text = file.string("metadata")?;
    let value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| Error::data(path, "metadata", format!("expected a JSON object: {e}")))?;
    let serde_json::Value::Object(metadata) = value else {
        return Err(Error::data(path, "metadata", "expected a JSON object"));
    };
    if !expected_kind.is_empty() {
        match metadata.get("kind").and_then(|k| k.as_str()) {
            Some(kind) if kind == expected_kind => {}
            Some(other) => {
                return Err(Error::data(
                    path,
                    "metadata",
                    format!("expected kind \"{expected_kind}\", found \"{other}\""),
                ))
            }
            None => {
                return Err(Error::data(
                    path,
                    "metadata",
                    format!("expected a \"kind\" entry (\"{expected_kind}\")"),
                ))
            }
        }
    }
    Ok(metadata)
}

/// Mean and standard deviation of a sample (Welford's running update; `(0, 1)` when
/// empty): the scales of recorded variables.
pub fn mean_and_std(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (mut n, mut mean, mut m2) = (0.0f64, 0.0f64, 0.0f64);
    for v in values {
        n += 1.0;
        let delta = v - mean;
        mean += delta / n;
        m2 += delta * (v - mean);
    }
    if n < 1.0 {
        return (0.0, 1.0);
    }
    (mean, (m2 / n).sqrt())
}
