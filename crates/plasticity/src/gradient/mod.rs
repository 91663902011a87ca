//! Trajectory gradients: the strategies (full tape, checkpointed adjoint, forward mode),
//! the choice between them by memory, and the engine that computes them ([`network`]).
//!
//! The adjoint's forward pass keeps the weights only every `K` steps (checkpoints,
//! `K ≈ √T` by default); the backward pass recomputes one segment of `K` steps at a time
//! from its checkpoint and runs the adjoint through it. Memory is `(⌈T/K⌉ + K) ×
//! synapses` instead of `T × synapses`; [`GradientStrategy::FullTape`] keeps every step
//! (one segment of length `T`). Both give bit-identical results. Forward mode computes
//! the same gradient with the tangents `∂W/∂θ` carried along, in memory independent of
//! `T`.

use crate::scalar::Scalar;

pub mod network;
pub mod spiking;

#[cfg(test)]
mod choice_tests {
    use super::*;

    #[test]
    fn the_adjoint_when_it_fits_forward_mode_when_only_it_fits() {
        // paper scale, T = 50: 0.4 MB of data per trajectory, tape 40 MB
        let small = choose_strategy(50 * 50 * 1100 * 8, 100_000, 27, 50, 1 << 30).unwrap();
        assert_eq!(small.strategy, GradientStrategy::FullTape);
        assert_eq!(small.adjoint_bytes, 50 * 50 * 1100 * 8 + 50 * 800_000);
        // T = 1e5: 880 MB of data over a 512 MiB budget; 22 MB of tangents
        let long = choose_strategy(880_000_000, 100_000, 27, 100_000, 512 << 20).unwrap();
        assert_eq!(long.strategy, GradientStrategy::Forward);
        assert_eq!(long.forward_bytes, 100_000 * 8 * 28);
        assert!(long.reason.contains("forward mode"), "{}", long.reason);
        // the tape beyond 64 MiB is checkpointed: 2⌈√T⌉ weight matrices
        let checkpointed = choose_strategy(0, 100_000, 27, 10_000, u64::MAX).unwrap();
        assert_eq!(checkpointed.strategy, GradientStrategy::Checkpointed);
        assert_eq!(checkpointed.adjoint_bytes, 200 * 800_000);
        // nothing fits
        let error = choose_strategy(880_000_000, 100_000, 27, 100_000, 1 << 20).unwrap_err();
        assert!(
            error.to_string().contains("neither strategy fits"),
            "{error}"
        );
    }
}

pub use network::{
    replay_session, EnginePath, NeuralEngine, NeuralForward, NeuralOperation, NeuralWorkspace,
    SessionLoss,
};

/// How the trajectory gradient is computed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GradientStrategy {
    /// Keep the weights of every step (memory grows as steps × synapses).
    FullTape,
    /// Keep weight checkpoints every `⌈√T⌉` steps and recompute each segment in the
    /// backward pass; when the whole tape of a neural trajectory fits in
    /// [`FULL_TAPE_BUDGET_BYTES`], keep it and skip the recomputation.
    #[default]
    Checkpointed,
    /// Checkpoints every given number of steps.
    CheckpointEvery(usize),
    /// Forward mode ([`NeuralForward`], [`network::jacobian`]): the sensitivities `∂W_t/∂θ` carried along with the
    /// simulation; memory `synapses × parameters`, independent of the number of steps.
    Forward,
}

/// The largest tape (weights of every step of one trajectory) that
/// [`GradientStrategy::Checkpointed`] keeps whole rather than recomputing (64 MiB).
pub const FULL_TAPE_BUDGET_BYTES: usize = 64 << 20;

impl GradientStrategy {
    /// Segment length for a trajectory of `steps` steps whose weights take
    /// `bytes_per_step` bytes: the whole trajectory when `Checkpointed` and the tape
    /// fits in [`FULL_TAPE_BUDGET_BYTES`], else [`GradientStrategy::segment_length`].
    pub fn segment_length_within_budget(self, steps: usize, bytes_per_step: usize) -> usize {
        match self {
            GradientStrategy::Checkpointed
                if steps.saturating_mul(bytes_per_step) <= FULL_TAPE_BUDGET_BYTES =>
            {
                steps.max(1)
            }
            other => other.segment_length(steps),
        }
    }

    /// Segment length for a trajectory of `steps` steps.
    pub fn segment_length(self, steps: usize) -> usize {
        match self {
            // forward mode keeps no tape; as a segment length it means "whole"
            GradientStrategy::FullTape | GradientStrategy::Forward => steps.max(1),
            GradientStrategy::Checkpointed => ((steps as f64).sqrt().ceil() as usize).max(1),
            GradientStrategy::CheckpointEvery(k) => k.clamp(1, steps.max(1)),
        }
    }
}

/// The strategy [`choose_strategy`] picked, and why (for the user and the results).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StrategyChoice {
    /// The strategy.
    pub strategy: GradientStrategy,
    /// Bytes the adjoint would hold: the whole recording plus one tape.
    pub adjoint_bytes: u64,
    /// Bytes forward mode would hold: the tangents (the recording streams).
    pub forward_bytes: u64,
    /// Why, in words.
    pub reason: String,
}

/// Chooses how to differentiate a recording of `steps` steps per trajectory, whose
/// arrays take `data_bytes` in all, through a layer of `synapses` synapses and a rule
/// of `parameters` parameters, within `budget_bytes` of memory.
///
/// The cost model: the adjoint needs the whole recording in memory plus one tape: the
/// whole tape `T × synapses × 8` bytes when that fits in [`FULL_TAPE_BUDGET_BYTES`]
/// ([`GradientStrategy::FullTape`], 2 forward passes' cost), else `2⌈√T⌉` checkpointed
/// weight matrices ([`GradientStrategy::Checkpointed`], about 3);
/// forward mode ([`GradientStrategy::Forward`]) streams the recording and holds
/// `synapses × parameters × 8` bytes of tangents, but costs about `P/5` forward
/// passes per step (measured: 5× the adjoint's time at 100→1000 with 27 terms, 2.5×
/// on the behaviour circuit with 81). So: the adjoint whenever it fits in the budget,
/// forward mode when only it fits, an error when neither does.
pub fn choose_strategy(
    data_bytes: u64,
    synapses: u64,
    parameters: u64,
    steps: u64,
    budget_bytes: u64,
) -> crate::Result<StrategyChoice> {
    let weights = synapses.saturating_mul(8);
    let whole_tape = steps.saturating_mul(weights);
    let tape = if whole_tape <= FULL_TAPE_BUDGET_BYTES as u64 {
        whole_tape
    } else {
        let segment = (steps as f64).sqrt().ceil() as u64;
        (2 * segment).min(steps).saturating_mul(weights)
    };
    let adjoint_bytes = data_bytes.saturating_add(tape);
    let forward_bytes = weights.saturating_mul(parameters.saturating_add(1));
    let size = crate::limits::format_bytes;
    if adjoint_bytes <= budget_bytes {
        // the whole tape when it is small (what Checkpointed would keep anyway)
        let (strategy, tape_kind) = if whole_tape <= FULL_TAPE_BUDGET_BYTES as u64 {
            (GradientStrategy::FullTape, "the whole tape")
        } else {
            (
                GradientStrategy::Checkpointed,
                "a tape of 2⌈√T⌉ checkpoints",
            )
        };
        Ok(StrategyChoice {
            strategy,
            adjoint_bytes,
            forward_bytes,
            reason: format!(
                "the adjoint fits: the recording and {tape_kind}, {} in all, within the budget of {} (it is several times faster than forward mode)",
                size(adjoint_bytes),
                size(budget_bytes)
            ),
        })
    } else if forward_bytes <= budget_bytes {
        Ok(StrategyChoice {
            strategy: GradientStrategy::Forward,
            adjoint_bytes,
            forward_bytes,
            reason: format!(
                "the adjoint would need {} (recording and tape), over the budget of {}; forward mode streams the recording with {} of tangents",
                size(adjoint_bytes),
                size(budget_bytes),
                size(forward_bytes)
            ),
        })
    } else {
        Err(crate::Error::config(
            "gradient",
            format!(
                "neither strategy fits in {}: the adjoint needs {}, forward mode {}",
                size(budget_bytes),
                size(adjoint_bytes),
                size(forward_bytes)
            ),
        ))
    }
}

/// Sizes a buffer whose every entry is written before it is read (the tape and the
/// checkpoints): no clearing when it already has the size (a 40 MB tape cleared on
/// every call was a tenth of a gradient's time).
pub(crate) fn resize_for_overwrite<S: Scalar>(buffer: &mut Vec<S>, len: usize) {
    if buffer.len() != len {
        resize(buffer, len);
    }
}

pub(crate) fn resize<S: Scalar>(buffer: &mut Vec<S>, len: usize) {
    buffer.clear();
    buffer.resize(len, S::zero());
}

pub(crate) fn load<S: Scalar>(target: &mut [S], source: &[f64]) {
    for (t, &s) in target.iter_mut().zip(source) {
        *t = S::from_f64(s);
    }
}
