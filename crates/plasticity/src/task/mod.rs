//! Seeded data generation for the experiments of SPEC §4.

pub mod behaviour;
pub mod circuit;
pub mod oja;

pub use behaviour::{BehaviourTask, SimulatedSession};
pub use circuit::CircuitTask;
pub use oja::{simulate_neural_trajectory, OjaTask};
