//! # plasticity
//!
//! Model-based inference of synaptic plasticity rules: a parameterised rule
//! `Δw = g_θ(x, y, w, r)` sits inside a simulated circuit, the circuit is run over a
//! whole recorded session, and `θ` is fitted by gradient descent through the entire
//! trajectory so that the simulation reproduces the recording.
//!
//! Where things are, from the bottom layer up (a layer imports only those below it):
//! - [`scalar`], [`error`], the random helpers, [`limits`] (the memory a job may
//!   take), [`journal`] (units of work recorded for resuming);
//! - [`rule`]: the Taylor-series and MLP rules, their parameter gradients, the
//!   expression syntax and trainable masks; [`optim`]: Adam, L-BFGS,
//!   Levenberg–Marquardt;
//! - [`io`]: file formats (NumPy `.npz`, MATLAB v5 `.mat`); [`circuit`]: populations,
//!   projections and one simulation step; [`data`]: datasets in memory;
//! - [`gradient`]: trajectory gradients (full tape, checkpointed adjoint, forward
//!   mode, the Gauss–Newton pass); [`objective`]: losses over datasets; [`task`]:
//!   seeded data generation;
//! - [`fit`]: the driver (epochs, observers, checkpoints, stop reasons) and its
//!   parametrisation; [`baseline`]: Q-learning;
//! - [`analysis`]: metrics, identifiability, profile likelihood, posterior;
//! - [`pipeline`]: the recipes each command runs (neural, behaviour, circuit, flies,
//!   population, selection, design, discover, online);
//! - [`report`]: results files, and in [`report::figures`] the figures.
#![deny(missing_docs)]

pub mod analysis;
pub mod baseline;
pub mod circuit;
pub mod data;
pub mod error;
pub mod fit;
pub mod gradient;
pub mod io;
pub mod journal;
pub mod limits;
pub mod objective;
pub mod optim;
pub mod pipeline;
mod random;
pub mod report;
pub mod rule;
pub mod scalar;
pub mod task;

/// The library's version, recorded in every output.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

pub use error::{Error, Result};
