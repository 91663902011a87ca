//! The engine's fast path for one dense plastic layer (docs/model.md §3.1 recordings:
//! `y_t = σ(W_t x_t)`, `W_{t+1} = W_t + g_θ(x_t, y_t, W_t)`).
//!
//! [`NeuralEngine`](super::NeuralEngine) runs each operation on a recording either
//! through the general network step ([`Network::single_layer`](crate::circuit::Network::single_layer))
//! or through this specialised kernel, which fuses each row's activity with its update
//! and parallelises the rows of one trajectory. Under
//! [`EnginePath::Auto`](super::EnginePath) the kernel runs the recording's operations,
//! for the reasons [`EnginePath::fast_by_default`](super::EnginePath::fast_by_default)
//! gives (speed of the adjoint; forward mode and simulation step by step, which the
//! general step has only for whole trajectories). The two paths are tested equal (`gradient/network/tests.rs`), and
//! the kernel alone is checked against dual numbers and finite differences here
//! (`tests.rs`).
//!
//! - `step.rs`: the layer's step and its vector-Jacobian product, by row blocks;
//! - `adjoint.rs`: the checkpointed (or full-tape) adjoint of a trajectory;
//! - `forward.rs`: forward mode, step by step (what streaming and online fits drive).

pub(crate) mod adjoint;
pub(crate) mod forward;
pub(crate) mod step;
#[cfg(test)]
pub(crate) mod tests;

#[cfg(test)]
use crate::gradient::GradientStrategy;
#[cfg(test)]
use crate::rule::PlasticityRule;
#[cfg(test)]
use crate::scalar::Scalar;
pub(crate) use adjoint::{
    neural_trajectory_sse, neural_trajectory_sse_and_gradient, SingleLayerWorkspace,
};
pub(crate) use forward::neural_trajectory_sse_and_gradient_forward;
pub use forward::NeuralForward;
pub(crate) use step::SingleLayer;
