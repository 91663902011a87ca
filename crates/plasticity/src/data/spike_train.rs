//! Recordings of spiking circuits (`kind = "spike_train"`), in `.npz`.
//!
//! | key | dtype | shape | meaning |
//! |---|---|---|---|
//! | `spikes/{population}` | i64 | [n_spikes, 3] | one row `(trajectory, step, neuron)` per spike, neuron within its population |
//! | `initial_weights/{projection}` | f64 | [trajectories, n_post, n_pre] | `W₀` (0 where no synapse) |
//! | `mask/{projection}` | i64 | [n_post, n_pre] | 1 where a synapse exists |
//! | `weights/{projection}` | f64 | [trajectories, snapshots, n_synapses] | optional, plastic projections: the weights at `weight_steps` (simulations), synapses in the row-major order of the mask's ones |
//! | `weight_steps` | i64 | \[snapshots\] | the steps of `weights/*` (before that step's update) |
//! | `metadata` | 0-d string | | JSON: `kind` = `"spike_train"`, `circuit` (the circuit file as JSON), `steps`, `trajectories`, `seed`, `theta`, `parameter_names`, `version` |
//!
//! Every population's spikes are recorded (sources included), except those of latent
//! populations (`recorded = false` in the circuit), which have no `spikes/` key: the
//! likelihood is that of the recorded spikes with the model teacher-forced and the
//! latent neurons taken by expectation.

use std::path::Path;

use ndarray::{Array2, Array3};

use crate::circuit::spiking::spec::SpikingCircuitSpec;
use crate::circuit::spiking::{SpikeRaster, SpikingCircuit};
use crate::io::npz::{write_npz, NpzFile, NpzValue};
use crate::{Error, Result};

/// Spike-train recordings and the circuit they come from.
#[derive(Clone, Debug)]
pub struct SpikeTrainDataset {
    /// The circuit as described.
    pub spec: SpikingCircuitSpec,
    /// The circuit, with the dataset's masks.
    pub circuit: SpikingCircuit,
    /// Steps per trajectory.
    pub steps: usize,
    /// Per trajectory, every neuron's spikes.
    pub rasters: Vec<SpikeRaster>,
    /// Per trajectory, `W₀`.
    pub initial_weights: Vec<Vec<f64>>,
    /// Per trajectory, the weights at `weight_steps` (empty when not recorded).
    pub weights: Vec<Vec<Vec<f64>>>,
    /// The steps of `weights`.
    pub weight_steps: Vec<usize>,
    /// Metadata (JSON object).
    pub metadata: serde_json::Map<String, serde_json::Value>,
}

impl SpikeTrainDataset {
    /// Number of trajectories.
    pub fn trajectories(&self) -> usize {
        self.rasters.len()
    }

    /// Writes the dataset (atomically) in the layout of the module documentation.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let circuit = &self.circuit;
        let k_max = self.trajectories();
        let mut f64_arrays: Vec<(String, ndarray::ArrayD<f64>)> = Vec::new();
        let mut i64_arrays: Vec<(String, ndarray::ArrayD<i64>)> = Vec::new();
        for (p, population) in circuit.populations().iter().enumerate() {
            if !population.recorded {
                continue;
            }
            let range = circuit.neuron_range(p);
            let mut rows = Vec::new();
            for (k, raster) in self.rasters.iter().enumerate() {
                for (t, i) in raster.events() {
                    if range.contains(&(i as usize)) {
                        rows.extend([k as i64, t as i64, (i as usize - range.start) as i64]);
                    }
                }
            }
            let n = rows.len() / 3;
            let array = Array2::from_shape_vec((n, 3), rows).expect("three columns");
            i64_arrays.push((format!("spikes/{}", population.name), array.into_dyn()));
        }
        for (p, projection) in circuit.projections().iter().enumerate() {
            let c = &projection.connectivity;
            let (n_post, n_pre) = (c.n_post(), c.n_pre());
            let range = circuit.weight_range(p);
            let mut w0 = Array3::zeros((k_max, n_post, n_pre));
            for (k, weights) in self.initial_weights.iter().enumerate() {
                let dense = c.scatter(&weights[range.clone()]);
                for (slot, v) in w0.index_axis_mut(ndarray::Axis(0), k).iter_mut().zip(dense) {
                    *slot = v;
                }
            }
            f64_arrays.push((
                format!("initial_weights/{}", projection.name),
                w0.into_dyn(),
            ));
            let mask: Vec<i64> = c.mask().iter().map(|&b| i64::from(b)).collect();
            i64_arrays.push((
                format!("mask/{}", projection.name),
                Array2::from_shape_vec((n_post, n_pre), mask)
                    .expect("mask shape")
                    .into_dyn(),
            ));
            let snapshots = self.weight_steps.len();
            if snapshots > 0 && self.weights.len() == k_max && projection.rule.is_some() {
                let mut w = Array3::zeros((k_max, snapshots, range.len()));
                for (k, trajectory) in self.weights.iter().enumerate() {
                    for (s, weights) in trajectory.iter().enumerate() {
                        for (slot, &v) in w
                            .slice_mut(ndarray::s![k, s, ..])
                            .iter_mut()
                            .zip(&weights[range.clone()])
                        {
                            *slot = v;
                        }
                    }
                }
                f64_arrays.push((format!("weights/{}", projection.name), w.into_dyn()));
            }
        }
        if !self.weight_steps.is_empty() {
            let steps: Vec<i64> = self.weight_steps.iter().map(|&s| s as i64).collect();
            i64_arrays.push((
                "weight_steps".into(),
                ndarray::Array1::from(steps).into_dyn(),
            ));
        }
        let metadata = serde_json::Value::Object(self.metadata.clone()).to_string();
        let mut entries: Vec<(&str, NpzValue<'_>)> = Vec::new();
        for (key, array) in &i64_arrays {
            entries.push((key, NpzValue::I64(array.view())));
        }
        for (key, array) in &f64_arrays {
            entries.push((key, NpzValue::F64(array.view())));
        }
        entries.push(("metadata", NpzValue::Str(&metadata)));
        write_npz(path, &entries)
    }

    /// Reads a dataset written by [`SpikeTrainDataset::save`] (or by hand in its
    /// layout).
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let file = NpzFile::open(path)?;
        let metadata: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&file.string("metadata")?)
                .map_err(|e| Error::data(path, "metadata", format!("is not a JSON object: {e}")))?;
        let kind = metadata.get("kind").and_then(|k| k.as_str()).unwrap_or("");
        if kind != "spike_train" {
            return Err(Error::data(
                path,
                "metadata",
                format!("kind is '{kind}', expected 'spike_train'"),
            ));
        }
        let spec: SpikingCircuitSpec = metadata
            .get("circuit")
            .cloned()
            .ok_or_else(|| Error::data(path, "metadata", "has no 'circuit'"))
            .and_then(|c| {
                serde_json::from_value(c).map_err(|e| {
                    Error::data(
                        path,
                        "metadata",
                        format!("'circuit' is not a spiking circuit: {e}"),
                    )
                })
            })?;
        let count = |key: &str| -> Result<usize> {
            metadata
                .get(key)
                .and_then(serde_json::Value::as_u64)
                .map(|v| v as usize)
                .ok_or_else(|| {
                    Error::data(path, "metadata", format!("has no whole number '{key}'"))
                })
        };
        let (steps, trajectories) = (count("steps")?, count("trajectories")?);
        let built = spec.build(0)?;
        // the masks of the file decide which synapses exist
        let mut masks = Vec::new();
        for projection in built.projections() {
            let key = format!("mask/{}", projection.name);
            let c = &projection.connectivity;
            let mask = file.i64_array(&key, 2)?;
            if mask.shape() != [c.n_post(), c.n_pre()] {
                return Err(Error::data(
                    path,
                    key,
                    format!(
                        "has shape {:?}, expected [{}, {}]",
                        mask.shape(),
                        c.n_post(),
                        c.n_pre()
                    ),
                ));
            }
            masks.push(mask.iter().map(|&v| v != 0).collect::<Vec<bool>>());
        }
        let circuit = built.with_masks(&masks)?;
        let mut events: Vec<Vec<(usize, u32)>> = vec![Vec::new(); trajectories];
        for (p, population) in circuit.populations().iter().enumerate() {
            let key = format!("spikes/{}", population.name);
            if !population.recorded {
                if file.contains(&key) {
                    return Err(Error::data(
                        path,
                        key,
                        format!("is present, but the circuit marks '{}' unrecorded (recorded = false): remove the key, or the flag to fit its spikes", population.name),
                    ));
                }
                continue;
            }
            let spikes = file.i64_array(&key, 2)?;
            if spikes.shape()[1] != 3 {
                return Err(Error::data(
                    path,
                    key,
                    "must have 3 columns: trajectory, step, neuron",
                ));
            }
            let start = circuit.neuron_range(p).start;
            for row in spikes.rows() {
                let (k, t, i) = (row[0], row[1], row[2]);
                if k < 0
                    || k as usize >= trajectories
                    || t < 0
                    || t as usize >= steps
                    || i < 0
                    || i as usize >= population.size
                {
                    return Err(Error::data(
                        path,
                        key,
                        format!("spike (trajectory {k}, step {t}, neuron {i}) outside {trajectories} trajectories × {steps} steps × {} neurons", population.size),
                    ));
                }
                events[k as usize].push((t as usize, (start + i as usize) as u32));
            }
        }
        let rasters = events
            .into_iter()
            .map(|e| SpikeRaster::from_events(steps, circuit.n_neurons(), e, "spikes"))
            .collect::<Result<Vec<_>>>()?;
        let mut initial_weights = vec![Vec::with_capacity(circuit.n_synapses()); trajectories];
        for projection in circuit.projections() {
            let key = format!("initial_weights/{}", projection.name);
            let c = &projection.connectivity;
            let w0 = file.f64_array(&key, 3)?;
            if w0.shape() != [trajectories, c.n_post(), c.n_pre()] {
                return Err(Error::data(
                    path,
                    key,
                    format!(
                        "has shape {:?}, expected [{trajectories}, {}, {}]",
                        w0.shape(),
                        c.n_post(),
                        c.n_pre()
                    ),
                ));
            }
            if w0.iter().any(|v| !v.is_finite()) {
                return Err(Error::data(path, key, "has non-finite values"));
            }
            for (k, weights) in initial_weights.iter_mut().enumerate() {
                let dense: Vec<f64> = w0.index_axis(ndarray::Axis(0), k).iter().copied().collect();
                weights.extend(c.gather(&dense));
            }
        }
        let (weights, weight_steps) = if file.contains("weight_steps") {
            let weight_steps: Vec<usize> = file
                .i64_array("weight_steps", 1)?
                .iter()
                .map(|&s| s.max(0) as usize)
                .collect();
            // fixed projections' weights stay at W₀
            let mut weights: Vec<Vec<Vec<f64>>> = initial_weights
                .iter()
                .map(|w0| vec![w0.clone(); weight_steps.len()])
                .collect();
            for (p, projection) in circuit.projections().iter().enumerate() {
                if projection.rule.is_none() {
                    continue;
                }
                let key = format!("weights/{}", projection.name);
                let range = circuit.weight_range(p);
                let w = file.f64_array(&key, 3)?;
                if w.shape() != [trajectories, weight_steps.len(), range.len()] {
                    return Err(Error::data(
                        path,
                        key,
                        format!(
                            "has shape {:?}, expected [{trajectories}, {}, {}]",
                            w.shape(),
                            weight_steps.len(),
                            range.len()
                        ),
                    ));
                }
                for (k, trajectory) in weights.iter_mut().enumerate() {
                    for (s, snapshot) in trajectory.iter_mut().enumerate() {
                        for (slot, &v) in snapshot[range.clone()]
                            .iter_mut()
                            .zip(w.slice(ndarray::s![k, s, ..]))
                        {
                            *slot = v;
                        }
                    }
                }
            }
            (weights, weight_steps)
        } else {
            (Vec::new(), Vec::new())
        };
        Ok(SpikeTrainDataset {
            spec,
            circuit,
            steps,
            rasters,
            initial_weights,
            weights,
            weight_steps,
            metadata,
        })
    }
}
