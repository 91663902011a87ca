//! Datasets in memory (SPEC §6), validated when loaded.

pub mod neural;

pub use neural::{NeuralDataset, NeuralTrajectory};
