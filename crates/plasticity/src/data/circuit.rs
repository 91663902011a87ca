//! Recordings of multi-population circuits (`kind = "circuit"`), in `.npz`.
//!
//! | key | dtype | shape | meaning |
//! |---|---|---|---|
//! | `inputs/{population}` | f64 | [trajectories, steps, size] | activity of each input population |
//! | `external_input/{population}` | f64 | [trajectories, steps, size] | external current of neuron populations that have one |
//! | `recorded_activity/{population}` | f64 | [trajectories, steps, n_recorded] | recorded `y_t` (noise included), for populations with recorded neurons |
//! | `recorded_neurons/{population}` | i64 | \[n_recorded\] | ascending indices into `0..size` |
//! | `initial_weights/{projection}` | f64 | [trajectories, n_post, n_pre] | `W₀` (0 where no synapse) |
//! | `mask/{projection}` | i64 | [n_post, n_pre] | 1 where a synapse exists |
//! | `metadata` | 0-d string | | JSON: `kind` = `"circuit"`, `circuit` (the circuit file as JSON), `seed`, `noise_std`, `version` |
//!
//! A population without `recorded_*` keys is latent. Loss: the mean, over trajectories,
//! steps and every recorded neuron of every population, of `(y_t,i − ŷ_t,i)²`, with the
//! step order of [`crate::circuit::network`].

use std::path::{Path, PathBuf};

use ndarray::{Array1, Array2, Array3, Ix1, Ix2, Ix3};

use crate::circuit::{
    CircuitSpec, Connectivity, Network, NetworkTrajectory, PopulationKind, TrajectoryLoss,
};
use crate::io::npz::{write_npz, NpzFile, NpzValue};
use crate::{Error, Result};

/// A multi-population recording and the circuit it comes from.
#[derive(Clone, Debug)]
pub struct CircuitDataset {
    /// The circuit as described.
    pub spec: CircuitSpec,
    /// The circuit, with the dataset's masks.
    pub network: Network,
    /// Number of trajectories.
    pub trajectories: usize,
    /// Steps per trajectory.
    pub steps: usize,
    /// `[trajectories, steps, n_neurons]`: inputs and external currents (0 elsewhere).
    pub drive: Vec<f64>,
    /// `[trajectories, n_synapses]`: `W₀`.
    pub initial_weights: Vec<f64>,
    /// Per population: its recorded neurons (indices within it).
    pub recorded_neurons: Vec<Vec<usize>>,
    /// `[trajectories, steps, n_recorded]`, populations in order.
    pub recorded_activity: Vec<f64>,
    /// Metadata (JSON object).
    pub metadata: serde_json::Map<String, serde_json::Value>,
    recorded: Vec<usize>,
}

impl CircuitDataset {
    /// Assembles a dataset (the arrays as documented on the fields).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        spec: CircuitSpec,
        network: Network,
        trajectories: usize,
        steps: usize,
        drive: Vec<f64>,
        initial_weights: Vec<f64>,
        recorded_neurons: Vec<Vec<usize>>,
        recorded_activity: Vec<f64>,
        metadata: serde_json::Map<String, serde_json::Value>,
    ) -> Self {
        let recorded = recorded_neurons
            .iter()
            .enumerate()
            .flat_map(|(p, neurons)| {
                let start = network.activity_range(p).start;
                neurons.iter().map(move |&i| start + i)
            })
            .collect();
        CircuitDataset {
            spec,
            network,
            trajectories,
            steps,
            drive,
            initial_weights,
            recorded_neurons,
            recorded_activity,
            metadata,
            recorded,
        }
    }

    /// Recorded neurons of every population, as indices into the activity vector.
    pub fn recorded(&self) -> &[usize] {
        &self.recorded
    }

    /// Whether neuron `i` (index into the activity vector) is recorded.
    pub fn is_recorded(&self, i: usize) -> bool {
        self.recorded.contains(&i)
    }

    /// Trajectory `k`, truncated to its first `steps` steps.
    pub fn trajectory_prefix(&self, k: usize, steps: usize) -> NetworkTrajectory<'_> {
        let (n, n_syn, n_rec, t) = (
            self.network.n_neurons(),
            self.network.n_synapses(),
            self.recorded.len(),
            self.steps,
        );
        let steps = steps.min(t);
        NetworkTrajectory {
            steps,
            drive: &self.drive[k * t * n..(k * t + steps) * n],
            initial_weights: &self.initial_weights[k * n_syn..(k + 1) * n_syn],
            recorded: &self.recorded,
            recorded_activity: &self.recorded_activity[k * t * n_rec..(k * t + steps) * n_rec],
            reward: &[],
            gate: &[],
            loss: TrajectoryLoss::SquaredError,
        }
    }

    /// Trajectory `k`.
    pub fn trajectory(&self, k: usize) -> NetworkTrajectory<'_> {
        self.trajectory_prefix(k, self.steps)
    }

    /// Writes the dataset (atomically) in the layout of the module documentation.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let network = &self.network;
        let (k_max, t_max, n) = (self.trajectories, self.steps, network.n_neurons());
        let mut arrays: Vec<(String, ArrayOwned)> = Vec::new();
        for (p, population) in network.populations().iter().enumerate() {
            let range = network.activity_range(p);
            let per_step = |k: usize, t: usize| &self.drive[(k * t_max + t) * n..][range.clone()];
            let drive_array = || {
                Array3::from_shape_fn((k_max, t_max, range.len()), |(k, t, i)| per_step(k, t)[i])
            };
            match population.kind {
                PopulationKind::Input => {
                    arrays.push((
                        format!("inputs/{}", population.name),
                        ArrayOwned::F3(drive_array()),
                    ));
                }
                PopulationKind::Neurons {
                    external_input: true,
                    ..
                } => {
                    arrays.push((
                        format!("external_input/{}", population.name),
                        ArrayOwned::F3(drive_array()),
                    ));
                }
                PopulationKind::Neurons { .. } => {}
            }
            let neurons = &self.recorded_neurons[p];
            if !neurons.is_empty() {
                let n_rec = self.recorded.len();
                let offset: usize = self.recorded_neurons[..p].iter().map(Vec::len).sum();
                let activity = Array3::from_shape_fn((k_max, t_max, neurons.len()), |(k, t, i)| {
                    self.recorded_activity[(k * t_max + t) * n_rec + offset + i]
                });
                arrays.push((
                    format!("recorded_activity/{}", population.name),
                    ArrayOwned::F3(activity),
                ));
                arrays.push((
                    format!("recorded_neurons/{}", population.name),
                    ArrayOwned::I1(neurons.iter().map(|&i| i as i64).collect()),
                ));
            }
        }
        let n_syn = network.n_synapses();
        for (q, projection) in network.projections().iter().enumerate() {
            let c = &projection.connectivity;
            let range = network.weight_range(q);
            let mut w0 = Array3::zeros((k_max, c.n_post(), c.n_pre()));
            for k in 0..k_max {
                let dense = c.scatter(&self.initial_weights[k * n_syn..][range.clone()]);
                w0.index_axis_mut(ndarray::Axis(0), k)
                    .iter_mut()
                    .zip(dense)
                    .for_each(|(slot, v)| *slot = v);
            }
            arrays.push((
                format!("initial_weights/{}", projection.name),
                ArrayOwned::F3(w0),
            ));
            let mask = Array2::from_shape_vec(
                (c.n_post(), c.n_pre()),
                c.mask().into_iter().map(i64::from).collect(),
            )
            .map_err(|e| Error::Numerical(e.to_string()))?;
            arrays.push((format!("mask/{}", projection.name), ArrayOwned::I2(mask)));
        }
        let metadata = serde_json::Value::Object(self.metadata.clone()).to_string();
        let mut entries: Vec<(&str, NpzValue<'_>)> = arrays
            .iter()
            .map(|(key, array)| (key.as_str(), array.value()))
            .collect();
        entries.push(("metadata", NpzValue::Str(&metadata)));
        write_npz(path, &entries)
    }

    /// Reads a dataset written by [`CircuitDataset::save`] (or by another program in
    /// that layout).
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let file = NpzFile::open_for_streaming(path)?;
        let metadata = super::read_metadata(&file, "circuit")?;
        let circuit = metadata.get("circuit").cloned().ok_or_else(|| {
            Error::data(
                path,
                "metadata",
                "expected a \"circuit\" entry (the circuit as JSON)",
            )
        })?;
        let mut spec: CircuitSpec = serde_json::from_value(circuit).map_err(|e| {
            Error::data(
                path,
                "metadata",
                format!("its \"circuit\" entry is not a circuit: {e}"),
            )
        })?;
        spec.base = PathBuf::new();
        let masks = read_masks(&file, path, &spec)?;
        let network = spec
            .build(0, Some(&masks))
            .map_err(|e| Error::data(path, "metadata", format!("its circuit: {e}")))?;
        let n = network.n_neurons();
        check_circuit_headers(&file, &network)?;
        let (drives, recorded_neurons, recordings, shape) =
            read_populations(&file, path, &network)?;
        let Some((trajectories, steps)) = shape else {
            return Err(Error::data(
                path,
                "",
                "no recorded_activity/… or inputs/… arrays: nothing to fit",
            ));
        };
        let what = format!(
            "{} ({trajectories} trajectories × {steps} steps)",
            path.display()
        );
        let drive_bytes = crate::limits::f64_bytes(&[trajectories, steps, n]);
        let weight_bytes = crate::limits::f64_bytes(&[trajectories, network.n_synapses()]);
        crate::limits::check_dataset_bytes(
            &what,
            drive_bytes.and_then(|d| d.checked_add(weight_bytes?)),
        )?;
        let mut drive = crate::limits::try_zeros(|| what.clone(), trajectories * steps * n)?;
        for (range, array) in &drives {
            for ((k, t, i), &v) in array.indexed_iter() {
                drive[(k * steps + t) * n + range.start + i] = v;
            }
        }
        let n_rec: usize = recorded_neurons.iter().map(Vec::len).sum();
        let mut recorded_activity =
            crate::limits::try_zeros(|| what.clone(), trajectories * steps * n_rec)?;
        let mut offset = 0;
        for activity in &recordings {
            let m = activity.dim().2;
            for ((k, t, i), &v) in activity.indexed_iter() {
                recorded_activity[(k * steps + t) * n_rec + offset + i] = v;
            }
            offset += m;
        }
        let initial_weights = read_initial_weights(&file, path, &network, trajectories, &what)?;
        if n_rec == 0 {
            return Err(Error::data(
                path,
                "recorded_activity",
                "no population has recorded neurons: nothing to fit",
            ));
        }
        Ok(CircuitDataset::new(
            spec,
            network,
            trajectories,
            steps,
            drive,
            initial_weights,
            recorded_neurons,
            recorded_activity,
            metadata,
        ))
    }

    /// The generating θ, if the data were simulated from known Taylor rules.
    pub fn generating_theta(&self) -> Result<Option<Vec<f64>>> {
        self.spec.generating_theta()
    }
}

/// Owned arrays written to an `.npz`.
enum ArrayOwned {
    F3(Array3<f64>),
    I1(Array1<i64>),
    I2(Array2<i64>),
}

impl ArrayOwned {
    fn value(&self) -> NpzValue<'_> {
        match self {
            ArrayOwned::F3(a) => NpzValue::F64(a.view().into_dyn()),
            ArrayOwned::I1(a) => NpzValue::I64(a.view().into_dyn()),
            ArrayOwned::I2(a) => NpzValue::I64(a.view().into_dyn()),
        }
    }
}

/// The masks `mask/{projection}` of every projection of `spec` in `file` (at `path`);
/// every array's size is checked against the memory limit first.
fn read_masks(file: &NpzFile, path: &Path, spec: &CircuitSpec) -> Result<Vec<Connectivity>> {
    // masks first: they fix the circuit (their headers, and every array's size
    // against the memory limit, before any is read)
    for spec_projection in &spec.projections {
        file.i64_shape(&format!("mask/{}", spec_projection.name), 2)?;
    }
    file.check_memory_limit()?;
    let mut masks = Vec::new();
    for spec_projection in &spec.projections {
        let key = format!("mask/{}", spec_projection.name);
        let mask: Array2<i64> = file
            .i64_array(&key, 2)?
            .into_dimensionality::<Ix2>()
            .map_err(|e| Error::data(path, &key, e.to_string()))?;
        if let Some(bad) = mask.iter().find(|&&v| v != 0 && v != 1) {
            return Err(Error::data(
                path,
                &key,
                format!("expected 0 or 1, found {bad}"),
            ));
        }
        let (n_post, n_pre) = mask.dim();
        let flat: Vec<bool> = mask.iter().map(|&v| v == 1).collect();
        masks.push(Connectivity::from_mask(n_pre, n_post, &flat));
    }
    Ok(masks)
}

/// The 3-d float64 array `key` of `file` (at `path`).
fn f64_array3(file: &NpzFile, path: &Path, key: &str) -> Result<Array3<f64>> {
    file.f64_array(key, 3)?
        .into_dimensionality::<Ix3>()
        .map_err(|e| Error::data(path, key, e.to_string()))
}

/// The arrays of each population of `network` in `file` (at `path`): the drives
/// (`inputs/…` or `external_input/…`, with their activity ranges), the recorded neurons
/// and their recordings; and the trajectories × steps they all share (`None` when there
/// is no array).
#[allow(clippy::type_complexity)]
fn read_populations(
    file: &NpzFile,
    path: &Path,
    network: &Network,
) -> Result<(
    Vec<(std::ops::Range<usize>, Array3<f64>)>,
    Vec<Vec<usize>>,
    Vec<Array3<f64>>,
    Option<(usize, usize)>,
)> {
    let f3 = |key: &str| f64_array3(file, path, key);
    let mut shape: Option<(usize, usize)> = None;
    let mut check_shape = |key: &str, k: usize, t: usize| -> Result<()> {
        match shape {
            None => {
                shape = Some((k, t));
                Ok(())
            }
            Some((k0, t0)) if (k0, t0) == (k, t) => Ok(()),
            Some((k0, t0)) => Err(Error::data(
                path,
                key,
                format!("has {k} trajectories × {t} steps, other arrays {k0} × {t0}"),
            )),
        }
    };
    let mut drives: Vec<(std::ops::Range<usize>, Array3<f64>)> = Vec::new();
    let mut recorded_neurons = Vec::new();
    let mut recordings: Vec<Array3<f64>> = Vec::new();
    for (p, population) in network.populations().iter().enumerate() {
        let range = network.activity_range(p);
        let drive_key = drive_member(population);
        if let Some(key) = drive_key {
            let array = f3(&key)?;
            let (k, t, size) = array.dim();
            if size != range.len() {
                return Err(Error::data(
                    path,
                    &key,
                    format!("has {size} neurons, the population has {}", range.len()),
                ));
            }
            check_shape(&key, k, t)?;
            drives.push((range.clone(), array));
        }
        let activity_key = format!("recorded_activity/{}", population.name);
        let neurons_key = format!("recorded_neurons/{}", population.name);
        if file.contains(&activity_key) || file.contains(&neurons_key) {
            let neurons: Array1<i64> = file
                .i64_array(&neurons_key, 1)?
                .into_dimensionality::<Ix1>()
                .map_err(|e| Error::data(path, &neurons_key, e.to_string()))?;
            let mut list = Vec::new();
            for &i in neurons.iter() {
                match usize::try_from(i) {
                    Ok(i) if i < range.len() && list.last().is_none_or(|&last| last < i) => {
                        list.push(i)
                    }
                    _ => {
                        return Err(Error::data(
                            path,
                            &neurons_key,
                            format!(
                                "expected ascending indices in 0..{}, found {i}",
                                range.len()
                            ),
                        ))
                    }
                }
            }
            let activity = f3(&activity_key)?;
            let (k, t, m) = activity.dim();
            if m != list.len() {
                return Err(Error::data(
                    path,
                    &activity_key,
                    format!("has {m} neurons, {neurons_key} lists {}", list.len()),
                ));
            }
            check_shape(&activity_key, k, t)?;
            if let Some(bad) = activity.iter().find(|v| !v.is_finite()) {
                return Err(Error::data(
                    path,
                    &activity_key,
                    format!("expected finite values, found {bad}"),
                ));
            }
            recorded_neurons.push(list);
            recordings.push(activity);
        } else {
            recorded_neurons.push(Vec::new());
        }
    }
    Ok((drives, recorded_neurons, recordings, shape))
}

/// The initial weights `initial_weights/{projection}` of every projection of `network`
/// in `file` (at `path`), trajectory by trajectory, on the synapses that exist.
fn read_initial_weights(
    file: &NpzFile,
    path: &Path,
    network: &Network,
    trajectories: usize,
    what: &str,
) -> Result<Vec<f64>> {
    let f3 = |key: &str| f64_array3(file, path, key);
    let n_syn = network.n_synapses();
    let mut initial_weights = crate::limits::try_zeros(|| what.to_string(), trajectories * n_syn)?;
    for (q, projection) in network.projections().iter().enumerate() {
        let key = format!("initial_weights/{}", projection.name);
        let array = f3(&key)?;
        let c = &projection.connectivity;
        if array.dim() != (trajectories, c.n_post(), c.n_pre()) {
            return Err(Error::data(
                path,
                &key,
                format!(
                    "has shape {:?}, expected [{trajectories}, {}, {}]",
                    array.shape(),
                    c.n_post(),
                    c.n_pre()
                ),
            ));
        }
        for k in 0..trajectories {
            let dense: Vec<f64> = array
                .index_axis(ndarray::Axis(0), k)
                .iter()
                .copied()
                .collect();
            if let Some(bad) = dense.iter().find(|v| !v.is_finite()) {
                return Err(Error::data(
                    path,
                    &key,
                    format!("expected finite values, found {bad}"),
                ));
            }
            let range = network.weight_range(q);
            initial_weights[k * n_syn + range.start..k * n_syn + range.end]
                .copy_from_slice(&c.gather(&dense));
        }
    }
    Ok(initial_weights)
}

/// Checks the headers of a circuit dataset's arrays against the circuit and each
/// other before any of them is read: each drive (`inputs/…`, `external_input/…`) and
/// recording has its population's neurons (a recording one column per listed neuron),
/// all have the same trajectories × steps, and each projection's initial weights are
/// `[trajectories, n_post, n_pre]`. Errors name the member, its shape and the other's.
fn check_circuit_headers(file: &NpzFile, network: &Network) -> Result<()> {
    let path = file.path();
    let mut first: Option<(String, Vec<usize>)> = None;
    let mut agree = |key: &str, shape: Vec<usize>| -> Result<()> {
        match &first {
            None => first = Some((key.to_string(), shape)),
            Some((k0, s0)) if s0[..2] != shape[..2] => {
                return Err(Error::data(
                    path,
                    key,
                    format!(
                        "has {} trajectories × {} steps (shape {shape:?}), other arrays {} × {} ('{k0}' {s0:?})",
                        shape[0], shape[1], s0[0], s0[1]
                    ),
                ))
            }
            Some(_) => {}
        }
        Ok(())
    };
    for (p, population) in network.populations().iter().enumerate() {
        let size = network.activity_range(p).len();
        let drive_key = drive_member(population);
        if let Some(key) = drive_key {
            let shape = file.f64_shape(&key, 3)?;
            if shape[2] != size {
                return Err(Error::data(
                    path,
                    &key,
                    format!(
                        "has {} neurons (shape {shape:?}), the population has {size}",
                        shape[2]
                    ),
                ));
            }
            agree(&key, shape)?;
        }
        let activity_key = format!("recorded_activity/{}", population.name);
        let neurons_key = format!("recorded_neurons/{}", population.name);
        if file.contains(&activity_key) || file.contains(&neurons_key) {
            let listed = file.i64_shape(&neurons_key, 1)?[0];
            let shape = file.f64_shape(&activity_key, 3)?;
            if shape[2] != listed {
                return Err(Error::data(
                    path,
                    &activity_key,
                    format!(
                        "has {} neurons (shape {shape:?}), {neurons_key} lists {listed}",
                        shape[2]
                    ),
                ));
            }
            agree(&activity_key, shape)?;
        }
    }
    let Some((_, shape)) = first else {
        return Ok(()); // reported by the loader: nothing to fit
    };
    for projection in network.projections() {
        let key = format!("initial_weights/{}", projection.name);
        let found = file.f64_shape(&key, 3)?;
        let c = &projection.connectivity;
        let expected = [shape[0], c.n_post(), c.n_pre()];
        if found != expected {
            return Err(Error::data(
                path,
                &key,
                format!("has shape {found:?}, expected {expected:?}"),
            ));
        }
    }
    Ok(())
}

/// The `.npz` member holding a population's drive: `inputs/{name}` for an input
/// population, `external_input/{name}` for neurons with an external current, none
/// otherwise.
fn drive_member(population: &crate::circuit::Population) -> Option<String> {
    match population.kind {
        PopulationKind::Input => Some(format!("inputs/{}", population.name)),
        PopulationKind::Neurons {
            external_input: true,
            ..
        } => Some(format!("external_input/{}", population.name)),
        PopulationKind::Neurons { .. } => None,
    }
}
