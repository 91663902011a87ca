//! Circuits: one simulation step of each circuit and its vector-Jacobian product
//! (docs/model.md §3). The rule acts on the circuit's plastic layer through
//! [`PlasticityRule`](crate::rule::PlasticityRule).

pub mod behaviour;
pub mod network;
pub mod spec;
pub mod spiking;
pub mod trajectory;

pub use behaviour::{BehaviourCircuit, RewardSignal};
pub use network::{
    Activation, Connectivity, NamedRule, Network, Population, PopulationKind, Projection,
    PARALLEL_SYNAPSES, ROW_BLOCK,
};
pub use spec::{CircuitSpec, InitialWeightsFit};
pub use trajectory::{NetworkTrajectory, TrajectoryLoss};
