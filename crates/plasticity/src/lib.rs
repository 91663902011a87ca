//! # plasticity
//!
//! Model-based inference of synaptic plasticity rules: a parameterised rule
//! `Δw = g_θ(x, y, w, r)` sits inside a simulated circuit, the circuit is run over a
//! whole recorded session, and `θ` is fitted by gradient descent through the entire
//! trajectory so that the simulation reproduces the recording.
//!
//! Where things are:
//! - [`rule`]: the Taylor-series and MLP rules, their parameter gradients, the
//!   expression syntax and trainable masks;
//! - [`circuit`]: one simulation step of each circuit and its vector-Jacobian product;
//! - [`gradient`]: trajectory gradient strategies (full tape, checkpointed adjoint);
//! - [`objective`]: losses over datasets;
//! - [`optim`] and [`fit`]: optimisers and the fitting loop;
//! - [`task`]: seeded data generation; [`data`]: datasets in memory; [`io`]: file
//!   formats (NumPy `.npz`, MATLAB v5 `.mat`);
//! - [`report`]: results files, and in [`report::figures`] the figures;
//! - [`metrics`]: R² of weights and activity, coefficient error;
//! - [`limits`]: the memory a dataset may take.
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

// Old paths, kept until every caller uses `crate::analysis`, `crate::pipeline` and
// `crate::report`.
pub use analysis::{identifiability, metrics, posterior};
pub use pipeline::design;
pub use report::figures;
