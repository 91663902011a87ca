//! One trajectory of a multi-population recording, as the network engine reads it:
//! its drive, initial weights, recorded neurons and their activity (or decisions),
//! modulatory signal and plasticity gate, and what its loss compares. A view of data,
//! shared by datasets ([`crate::data`]) and the engine ([`crate::gradient::network`]).

use crate::scalar::Scalar;

/// What a trajectory's loss compares.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TrajectoryLoss {
    /// `Σ_t Σ_{i recorded} (y_t,i − ŷ_t,i)²` against recorded activity (a sum, not a
    /// mean: the objective normalises).
    #[default]
    SquaredError,
    /// `(1/T) Σ_t Σ_{i recorded} [softplus(z_t,i) − d_t,i z_t,i]`, the binary
    /// cross-entropy of `P = σ(z_t,i)` for the recorded decision `d_t,i ∈ {0, 1}`
    /// (`recorded_activity`), written through the net input `z` so that it is finite
    /// for any `z`; its mean over the steps, as the behaviour circuit's loss of a
    /// session (docs/model.md §6). For a sigmoid population `σ(z) = y`, the neuron's activity.
    CrossEntropy,
    /// `(1/C) Σ_sets [log Σ_{k∈set} e^{z_k} − z_chosen]`, the negative log-likelihood
    /// of choices among several options (`P(chosen) = softmax_k(z_k)`), with `z_t` the
    /// net input of the one recorded neuron: consecutive steps offer the options of
    /// one choice and the set ends at its chosen option (decision 1 in
    /// `recorded_activity`; the others 0); `C` is the number of sets. Steps after the
    /// last chosen option belong to no set. The K-choice task's loss (docs/model.md §6,
    /// `kind = "choice"`).
    Softmax,
}

/// One trajectory of a multi-population recording.
#[derive(Clone, Copy, Debug)]
pub struct NetworkTrajectory<'a> {
    /// Number of steps `T`.
    pub steps: usize,
    /// Per step, one entry per neuron of the circuit: the activity of input
    /// populations, the external current of neuron populations (0 where none);
    /// `T × n_neurons`. Rows may be narrower, `T × w` for the first `w` neurons, when
    /// every input population and every neuron with an external current lies among
    /// them (the neurons after them take no drive): a §3.1 recording's inputs serve as
    /// the drive of its single layer as they are.
    pub drive: &'a [f64],
    /// `W_0` of every projection, synapses present only (`n_synapses`).
    pub initial_weights: &'a [f64],
    /// Recorded neurons, as indices into the circuit's activity vector.
    pub recorded: &'a [usize],
    /// Their recorded activity, `T × recorded.len()` (for
    /// [`TrajectoryLoss::CrossEntropy`], the decisions `d_t,i` as 0.0 or 1.0).
    pub recorded_activity: &'a [f64],
    /// The modulatory signal `r_t` the rules see as `reward` at each step (`T`
    /// entries), or empty for `r_t = 0`.
    pub reward: &'a [f64],
    /// The plasticity gate of each step (`T` entries): plastic projections update
    /// after step `t` only where it is on. Empty: on at every step.
    pub gate: &'a [bool],
    /// What the loss compares.
    pub loss: TrajectoryLoss,
}

impl NetworkTrajectory<'_> {
    pub(crate) fn drive(&self, n_neurons: usize, t: usize) -> &[f64] {
        let width = self
            .drive
            .len()
            .checked_div(self.steps)
            .unwrap_or(n_neurons);
        &self.drive[t * width..(t + 1) * width]
    }

    pub(crate) fn target(&self, t: usize) -> &[f64] {
        let n = self.recorded.len();
        &self.recorded_activity[t * n..(t + 1) * n]
    }

    /// `r_t`.
    #[inline]
    pub(crate) fn reward(&self, t: usize) -> f64 {
        if self.reward.is_empty() {
            0.0
        } else {
            self.reward[t]
        }
    }

    /// Whether the weights change after step `t` (never after the last step, which no
    /// loss would see).
    #[inline]
    pub(crate) fn updates_after(&self, t: usize) -> bool {
        t + 1 < self.steps && (self.gate.is_empty() || self.gate[t])
    }

    /// The trajectory's loss from the sum of its per-step losses (for a softmax, the
    /// sum of its sets' losses).
    #[inline]
    pub(crate) fn finish<S: Scalar>(&self, sum: S) -> S {
        match self.loss {
            TrajectoryLoss::SquaredError => sum,
            TrajectoryLoss::CrossEntropy => sum / S::from_f64(self.steps as f64),
            TrajectoryLoss::Softmax => sum / S::from_f64(self.choice_sets().max(1) as f64),
        }
    }

    /// The number of choice sets of a [`TrajectoryLoss::Softmax`] trajectory (its
    /// recorded decisions equal to 1).
    pub(crate) fn choice_sets(&self) -> usize {
        self.recorded_activity.iter().filter(|&&d| d == 1.0).count()
    }
}
