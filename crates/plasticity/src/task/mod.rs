//! Seeded data generation for the experiments of SPEC §4.

pub mod oja;

pub use oja::{simulate_neural_trajectory, OjaTask};
