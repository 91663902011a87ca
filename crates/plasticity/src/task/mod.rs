//! Seeded data generation for the experiments of docs/model.md §4, and the task samplers of
//! the function objectives (covariances for PCA, pattern sets for memory).

pub mod behaviour;
mod choice;
pub mod circuit;
pub mod covariance;
pub mod oja;
pub mod patterns;
pub mod phases;
pub mod spiking;

pub use behaviour::{BehaviourTask, SimulatedSession};
pub use circuit::CircuitTask;
pub use oja::OjaTask;
