//! Fly recordings (`.mat`, `.csv`, raw deposited data) as Python objects whose arrays
//! are NumPy arrays.

use std::path::PathBuf;

use numpy::PyArray1;
use pyo3::prelude::*;

use crate::datasets::{reward_signal_of, BehaviourDataset};
use crate::getters::py_methods;
use crate::{read_file, to_py_err};

/// One fly's recorded session: odour presentations, decisions and rewards.
///
/// Read from a ``.mat`` or ``.csv`` file by :func:`load_fly` or :func:`load_flies` (the
/// layouts of docs/model.md §6.3); not constructed directly. :func:`fit` accepts it as it
/// is, or :meth:`to_dataset` turns it into a one-session :class:`BehaviourDataset`.
#[pyclass(module = "plasticity", frozen, name = "FlyRecording")]
pub struct FlyRecording {
    pub(crate) inner: plasticity::data::fly::FlyRecording,
}

py_methods! {
    FlyRecording {
        arrays {
            /// Odour of each presentation (from 0), shape ``(n_presentations,)``.
            odours: PyArray1<i64>,
            /// Decision of each presentation (1 accept, 0 reject), shape ``(n_presentations,)``.
            decisions: PyArray1<i64>,
            /// Trial of each presentation (from 0), shape ``(n_presentations,)``.
            trial_of_presentation: PyArray1<i64>,
            /// Reward ``R`` of each trial, shape ``(n_trials,)``.
            rewards: PyArray1<f64>,
        }
        counts {
            /// Number of odour presentations (int).
            n_presentations,
            /// Number of trials (int): a trial ends with an accepted odour.
            n_trials,
        }
        /// The fly's name: its file name without the extension.
        #[getter]
        fn name(&self) -> String {
            self.inner.name.clone()
        }
        /// Number of odours (int).
        #[getter]
        fn n_odours(&self) -> usize {
            self.inner.n_odours
        }
        /// The fly as a one-session behaviour dataset, as ``plasticity flies`` fits it.
        ///
        /// The inputs are the one-hot odours of the presentations; the initial weights are drawn
        /// as ``W₀ ~ N(0, initial_weight_std²)`` from ``seed`` (a fly's own are unknown).
        ///
        /// Parameters
        /// ----------
        /// n_hidden : int, default 10
        ///     Neurons of the plastic layer.
        /// initial_weight_std : float, default 0.01
        ///     Standard deviation of the initial weights.
        /// seed : int, default 0
        ///     Seed of the initial weights.
        /// expected_reward_window : int, default 10
        ///     ``E[R]`` is the mean of the last this many rewards.
        /// reward_signal : {"centred", "raw"}, default "centred"
        ///     The reward term of the rule: ``r = R − E[R]`` (``"centred"``) or ``r = R``
        ///     (``"raw"``).
        ///
        /// Returns
        /// -------
        /// BehaviourDataset
        ///     One session holding this fly's presentations, decisions and rewards.
        ///
        /// Raises
        /// ------
        /// ValueError
        ///     If ``reward_signal`` is neither ``"centred"`` nor ``"raw"``.
        #[pyo3(signature = (n_hidden = 10, initial_weight_std = 0.01, seed = 0, expected_reward_window = 10, reward_signal = "centred"))]
        fn to_dataset(
            &self,
            n_hidden: usize,
            initial_weight_std: f64,
            seed: u64,
            expected_reward_window: usize,
            reward_signal: &str,
        ) -> PyResult<BehaviourDataset> {
            let dataset = plasticity::data::fly::to_dataset(
                std::slice::from_ref(&self.inner),
                n_hidden,
                initial_weight_std,
                seed,
                expected_reward_window,
                reward_signal_of(reward_signal)?,
            )
            .map_err(to_py_err)?;
            Ok(dataset.into())
        }
        fn __repr__(&self) -> String {
            format!(
                "FlyRecording(name={:?}, presentations={}, trials={}, rewards={})",
                self.inner.name,
                self.inner.n_presentations(),
                self.inner.n_trials(),
                self.inner.rewards.iter().filter(|&&r| r > 0.0).count()
            )
        }
    }
}

/// Reads one fly's session from a ``.mat`` (MATLAB v5/v7) or ``.csv`` file.
///
/// A ``.mat`` file holds ``X`` (presentations × odours, one-hot), ``Y`` (1 accept, 0
/// reject) and ``R`` (the reward of each trial); a ``.csv`` file one row per presentation
/// with the header ``trial,odour,decision,reward`` (docs/model.md §6.3).
///
/// Parameters
/// ----------
/// path : str or os.PathLike
///     The ``.mat`` or ``.csv`` file.
///
/// Returns
/// -------
/// FlyRecording
///     The fly's session, named after the file.
///
/// Raises
/// ------
/// FileNotFoundError
///     If ``path`` does not exist.
/// ValueError
///     If the file is not a fly recording (a missing variable, inconsistent lengths).
#[pyfunction]
fn load_fly(py: Python<'_>, path: PathBuf) -> PyResult<FlyRecording> {
    let inner = read_file(py, &path, plasticity::data::fly::load_fly)?;
    Ok(FlyRecording { inner })
}

/// Reads every fly (``*.mat``, ``*.csv``, and subdirectories of deposited raw data
/// holding ``choice_order.mat``, converted as ``plasticity convert-fly`` does) of a
/// directory.
///
/// Parameters
/// ----------
/// directory : str or os.PathLike
///     The directory; other files in it are ignored.
///
/// Returns
/// -------
/// list of FlyRecording
///     One recording per file or raw directory, in natural order of the names
///     (``Fly2`` before ``Fly10``).
///
/// Raises
/// ------
/// FileNotFoundError
///     If ``directory`` does not exist.
/// ValueError
///     If a file is not a fly recording, or the directory holds none.
#[pyfunction]
fn load_flies(py: Python<'_>, directory: PathBuf) -> PyResult<Vec<FlyRecording>> {
    let flies = read_file(py, &directory, plasticity::data::fly::load_fly_dir)?;
    Ok(flies
        .into_iter()
        .map(|inner| FlyRecording { inner })
        .collect())
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<FlyRecording>()?;
    m.add_function(wrap_pyfunction!(load_fly, m)?)?;
    m.add_function(wrap_pyfunction!(load_flies, m)?)?;
    Ok(())
}
