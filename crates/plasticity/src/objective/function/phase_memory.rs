//! The phase-coded autoassociative memory objective (issue 29; Lengyel & Dayan, "Rate-
//! and phase-coded autoassociative memory", NIPS 2004; Lengyel, Kwag, Paulsen & Dayan,
//! Nat. Neurosci. 2005).
//!
//! `N` neurons each fire once per theta cycle, at a phase `φ_i`. A memory is a pattern
//! of phases `ξ^m`, i.i.d. uniform on the cycle. **Storage** by the STDP window `Ω`,
//! normalised by the load `M`:
//! `W_ij = (1/M) Σ_m Ω(ξ_i^m − ξ_j^m)` for `i ≠ j`, `W_ii = 0`.
//! **Recall** of memory 1 from a cue `φ̃ = ξ¹ + ε`, `ε ~ vonMises(0, κ)`: from `φ⁰ = φ̃`,
//! `K` Euler steps of the phase dynamics
//! `φ_i ← φ_i + Δt [Σ_j W_ij H(φ_i − φ_j) + γ sin(φ̃_i − φ_i)]`,
//! with `H` the interaction (phase-response) function and the cue term the gradient of
//! the cue's von Mises log-likelihood (`γ = κ` by default). **Quality**
//! `q = |(1/N) Σ_i exp(i(φ_i − ξ_i¹))|`: the dynamics are invariant under a common
//! rotation of every phase, and `q` ignores it. The loss of a task is `1 − q(φ^K)`.
//! With `M = load × N` the coupling `Σ_j W_ij` has a signal of order `N/M`, so the
//! dynamics' scale depends on the load, not on `N`.
//!
//! `Ω` and `H` are the two rules of this task, truncated Fourier series without a
//! constant term (`[a₁, b₁, a₂, b₂, …]`, see [`crate::task::phases`]); θ is
//! `[Ω's 2K_Ω coefficients | H's 2K_H coefficients]`, so that either or both can be
//! meta-learned. Their harmonics make every pairwise sum a few matrix products:
//! with `C_l = cos(lφ)`, `S_l = sin(lφ)`,
//! `Σ_j W_ij H(φ_i − φ_j) = Σ_l c_l (C_il (W C_l)_i + S_il (W S_l)_i) + d_l (S_il (W C_l)_i − C_il (W S_l)_i)`,
//! and `W = (1/M) Σ_k Pc_kᵀ (a_k Pc_k − b_k Ps_k) + Ps_kᵀ (a_k Ps_k + b_k Pc_k)` with
//! `Pc_k = cos(kξ)`, `Ps_k = sin(kξ)` (`M × N`). The gradient is a hand-written reverse
//! pass over the stored recall (memory `K × N × 4K_H` numbers, never `K × N²`); tests
//! check it against dual numbers through a plain pairwise reference and finite
//! differences.

use ndarray::linalg::general_mat_mul;
use ndarray::{Array2, Array3, ArrayBase, Axis, Data, DataMut, Ix2};
use rand::RngExt;
use serde::{Deserialize, Serialize};

use crate::task::covariance::task_rng;
use crate::task::phases::von_mises;
use crate::{Error, Result};

/// The most harmonics a series may have.
pub const MAX_HARMONICS: usize = 16;

/// The phase-coded memory task's settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhaseMemoryTask {
    /// Neurons `N`.
    pub n_neurons: usize,
    /// Loads `M` (memories stored); task `k` stores `loads[k mod len]`.
    pub loads: Vec<usize>,
    /// Concentration `κ` of the cue noise.
    pub cue_concentration: f64,
    /// Strength `γ` of the cue term.
    pub cue_strength: f64,
    /// Euler steps `K` of recall.
    pub recall_steps: usize,
    /// Euler step `Δt`.
    pub step_size: f64,
    /// Harmonics `K_Ω` of the storage window `Ω`.
    pub storage_harmonics: usize,
    /// Harmonics `K_H` of the interaction function `H`.
    pub interaction_harmonics: usize,
}

impl PhaseMemoryTask {
    /// Checks the settings.
    pub fn validate(&self) -> Result<()> {
        if self.n_neurons < 2 {
            return Err(Error::config(
                "task.neurons",
                format!("{}: at least 2 neurons are needed", self.n_neurons),
            ));
        }
        if self.loads.is_empty() || self.loads.contains(&0) {
            return Err(Error::config(
                "task.loads",
                format!(
                    "{:?}: expected a non-empty list of positive loads",
                    self.loads
                ),
            ));
        }
        for (key, value) in [
            ("cue_concentration", self.cue_concentration),
            ("cue_strength", self.cue_strength),
        ] {
            if !(value >= 0.0 && value.is_finite()) {
                return Err(Error::config(
                    format!("task.{key}"),
                    format!("{value}: expected a number ≥ 0"),
                ));
            }
        }
        if !(self.step_size > 0.0 && self.step_size.is_finite()) {
            return Err(Error::config(
                "task.step_size",
                format!("{}: expected a positive number", self.step_size),
            ));
        }
        if self.recall_steps == 0 {
            return Err(Error::config(
                "task.recall_steps",
                "0: expected at least 1 step",
            ));
        }
        if !(1..=MAX_HARMONICS).contains(&self.storage_harmonics)
            || !(1..=MAX_HARMONICS).contains(&self.interaction_harmonics)
        {
            return Err(Error::config(
                "rule.harmonics",
                format!(
                    "Ω has {}, H has {}: expected 1 to {MAX_HARMONICS} harmonics each",
                    self.storage_harmonics, self.interaction_harmonics
                ),
            ));
        }
        Ok(())
    }

    /// Number of θ: `2K_Ω + 2K_H`.
    pub fn n_parameters(&self) -> usize {
        2 * (self.storage_harmonics + self.interaction_harmonics)
    }

    /// θ's coefficient names: `omega.cos1`, `omega.sin1`, …, `h.cos1`, `h.sin1`, ….
    pub fn coefficient_names(&self) -> Vec<String> {
        let series = |rule: &str, harmonics: usize| {
            (1..=harmonics)
                .flat_map(|k| [format!("{rule}.cos{k}"), format!("{rule}.sin{k}")])
                .collect::<Vec<_>>()
        };
        let mut names = series("omega", self.storage_harmonics);
        names.extend(series("h", self.interaction_harmonics));
        names
    }

    /// θ from the two series (each padded with zeros or cut to its harmonics).
    pub fn theta(&self, omega: &[f64], h: &[f64]) -> Vec<f64> {
        let fit = |s: &[f64], harmonics: usize| {
            let mut out = vec![0.0; 2 * harmonics];
            for (o, v) in out.iter_mut().zip(s) {
                *o = *v;
            }
            out
        };
        let mut theta = fit(omega, self.storage_harmonics);
        theta.extend(fit(h, self.interaction_harmonics));
        theta
    }

    /// `(Ω, H)` of θ.
    pub fn split<'a>(&self, theta: &'a [f64]) -> (&'a [f64], &'a [f64]) {
        theta.split_at(2 * self.storage_harmonics)
    }
}

/// One drawn task: `M` memories (row-major `M × N`) and the cue of the first.
pub(crate) struct PhaseInstance {
    pub(crate) memories: Vec<f64>,
    pub(crate) cue: Vec<f64>,
    pub(crate) load: usize,
}

impl PhaseMemoryTask {
    /// Task `index` of a run seeded with `seed`, storing `load` memories: the memories'
    /// phases, then the cue noise, from stream `index + 1`.
    pub(crate) fn instance_with_load(&self, seed: u64, index: usize, load: usize) -> PhaseInstance {
        let n = self.n_neurons;
        let mut rng = task_rng(seed, index as u64);
        let tau = std::f64::consts::TAU;
        let memories: Vec<f64> = (0..load * n).map(|_| tau * rng.random::<f64>()).collect();
        let cue = (0..n)
            .map(|i| memories[i] + von_mises(&mut rng, self.cue_concentration))
            .collect();
        PhaseInstance {
            memories,
            cue,
            load,
        }
    }

    fn instance(&self, seed: u64, index: usize) -> PhaseInstance {
        let load = self.loads[index % self.loads.len()];
        self.instance_with_load(seed, index, load)
    }
}

/// `q = |(1/N) Σ_i exp(i(φ_i − ξ_i))|` and its `(x, y)` components.
pub(crate) fn recall_quality(phases: &[f64], memory: &[f64]) -> (f64, f64, f64) {
    let n = phases.len() as f64;
    let (x, y) = phases
        .iter()
        .zip(memory)
        .fold((0.0, 0.0), |(x, y), (p, m)| {
            (x + (p - m).cos(), y + (p - m).sin())
        });
    let (x, y) = (x / n, y / n);
    (x.hypot(y), x, y)
}

/// The harmonics `[cos(kξ^m); sin(kξ^m)]` of the memories, `2 K_Ω M × N`: rows
/// `2(k−1)M + m` (cosines) and `2(k−1)M + M + m` (sines).
fn storage_basis(instance: &PhaseInstance, n: usize, harmonics: usize) -> Array2<f64> {
    let m = instance.load;
    Array2::from_shape_fn((2 * harmonics * m, n), |(row, i)| {
        let k = (row / (2 * m) + 1) as f64;
        let within = row % (2 * m);
        let phase = k * instance.memories[(within % m) * n + i];
        if within < m {
            phase.cos()
        } else {
            phase.sin()
        }
    })
}

/// `W = (1/M) Σ_k Pc_kᵀ (a_k Pc_k − b_k Ps_k) + Ps_kᵀ (a_k Ps_k + b_k Pc_k)`, diagonal 0.
fn coupling(omega: &[f64], basis: &Array2<f64>, load: usize) -> Array2<f64> {
    let m = load;
    let mut mixed = Array2::zeros(basis.raw_dim());
    for (j, ab) in omega.chunks_exact(2).enumerate() {
        let (a, b) = (ab[0], ab[1]);
        for r in 0..m {
            let (c_row, s_row) = (2 * j * m + r, 2 * j * m + m + r);
            for i in 0..basis.ncols() {
                let (c, s) = (basis[[c_row, i]], basis[[s_row, i]]);
                mixed[[c_row, i]] = a * c - b * s;
                mixed[[s_row, i]] = a * s + b * c;
            }
        }
    }
    let mut w = Array2::zeros((basis.ncols(), basis.ncols()));
    general_mat_mul(1.0 / m as f64, &basis.t(), &mixed, 0.0, &mut w);
    for i in 0..w.nrows() {
        w[[i, i]] = 0.0;
    }
    w
}

/// What a rule pair achieves on held-out tasks, per load.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PhaseEvaluation {
    /// `(M, mean recall quality q)` (a non-finite run counts as 0).
    pub quality_by_load: Vec<(usize, f64)>,
    /// `(M, mean quality of the cue itself)`: recall by the cue alone.
    pub cue_quality_by_load: Vec<(usize, f64)>,
}

/// The phase-coded memory objective: items are task indices.
pub struct PhaseMemoryObjective {
    task: PhaseMemoryTask,
    seed: u64,
    storage_gradient: bool,
}

/// One recall, kept for the reverse pass: per step `t` the harmonics `X_t = [C_l, S_l]`
/// of `φ_t` and `Y_t = W X_t` (`K × N × 2K_H` each, allocated once; one step's worth
/// when the recall is not kept).
struct Recall {
    coupling: Array2<f64>,
    harmonics: Array3<f64>,
    products: Array3<f64>,
    phases: Vec<f64>,
}

impl PhaseMemoryObjective {
    /// The objective over tasks drawn with `seed`.
    pub fn new(task: PhaseMemoryTask, seed: u64) -> Result<Self> {
        task.validate()?;
        Ok(PhaseMemoryObjective {
            task,
            seed,
            storage_gradient: true,
        })
    }

    /// The same objective for a run in which `Ω` is fixed: the reverse pass skips the
    /// coupling's adjoint (a third of its work) and leaves `Ω`'s gradient entries
    /// unchanged.
    pub fn with_fixed_storage(mut self) -> Self {
        self.storage_gradient = false;
        self
    }

    /// The task settings.
    pub fn task(&self) -> &PhaseMemoryTask {
        &self.task
    }

    /// Stores the instance with `Ω` and runs recall with `H`; keeps the per-step
    /// harmonics when `keep` is set.
    fn recall(&self, theta: &[f64], instance: &PhaseInstance, keep: bool) -> Recall {
        let task = &self.task;
        let (n, kh) = (task.n_neurons, task.interaction_harmonics);
        let (omega, h) = task.split(theta);
        let basis = storage_basis(instance, n, task.storage_harmonics);
        let w = coupling(omega, &basis, instance.load);
        let mut phases = instance.cue.clone();
        let kept = if keep { task.recall_steps } else { 1 };
        let mut harmonics = Array3::zeros((kept, n, 2 * kh));
        let mut products = Array3::zeros((kept, n, 2 * kh));
        let dt = task.step_size;
        for t in 0..task.recall_steps {
            let slot = if keep { t } else { 0 };
            let mut x = harmonics.index_axis_mut(Axis(0), slot);
            let mut y = products.index_axis_mut(Axis(0), slot);
            fill_harmonics(&phases, &mut x);
            general_mat_mul(1.0, &w, &x, 0.0, &mut y);
            for (i, phase) in phases.iter_mut().enumerate() {
                let (cos_terms, sin_terms) = pair_sums(&x, &y, i, kh);
                let drift = dot_series(h, &cos_terms, &sin_terms, kh);
                *phase += dt * (drift + task.cue_strength * (instance.cue[i] - *phase).sin());
            }
        }
        Recall {
            coupling: w,
            harmonics,
            products,
            phases,
        }
    }

    /// The loss `1 − q` of task `index`.
    pub fn task_loss(&self, theta: &[f64], index: usize) -> f64 {
        let instance = self.task.instance(self.seed, index);
        let recall = self.recall(theta, &instance, false);
        let n = self.task.n_neurons;
        1.0 - recall_quality(&recall.phases, &instance.memories[..n]).0
    }

    /// The loss of task `index` and its gradient (added to `gradient`), by the reverse
    /// pass: with `λ = ∂L/∂φ_{t+1}`, `∂L/∂c_l += Δt Σ_i λ_i Σ_j W_ij cos(l(φ_i − φ_j))`
    /// (and sines for `d_l`), `∂L/∂W += Δt λ_i H(φ_i − φ_j)`, and
    /// `λ_j ← λ_j + Δt [λ_j (Σ_l W_jl H′(φ_j − φ_l) − γ cos(φ̃_j − φ_j)) − Σ_i λ_i W_ij H′(φ_i − φ_j)]`.
    pub fn task_loss_and_gradient(&self, theta: &[f64], index: usize, gradient: &mut [f64]) -> f64 {
        let task = &self.task;
        let (n, kh, dt) = (task.n_neurons, task.interaction_harmonics, task.step_size);
        let instance = task.instance(self.seed, index);
        let recall = self.recall(theta, &instance, true);
        let memory = &instance.memories[..n];
        let (q, zx, zy) = recall_quality(&recall.phases, memory);
        // λ = −∂q/∂φ_i = −(z_y cos ψ_i − z_x sin ψ_i)/(N q), ψ = φ − ξ.
        let mut lambda: Vec<f64> = recall
            .phases
            .iter()
            .zip(memory)
            .map(|(p, m)| {
                if q > 1e-300 {
                    -(zy * (p - m).cos() - zx * (p - m).sin()) / (n as f64 * q)
                } else {
                    0.0
                }
            })
            .collect();
        let (omega_len, h) = (2 * task.storage_harmonics, task.split(theta).1);
        let slope = crate::task::phases::derivative(h);
        let mut u = Array2::zeros((n, 2 * kh));
        let mut v = Array2::zeros((n, 2 * kh));
        let mut z = Array2::zeros((n, 2 * kh));
        let mut coupling_adjoint = Array2::zeros(if self.storage_gradient {
            (n, n)
        } else {
            (0, 0)
        });
        let mut self_terms = vec![0.0; n];
        let cue_cos: Vec<f64> = instance.cue.iter().map(|p| p.cos()).collect();
        let cue_sin: Vec<f64> = instance.cue.iter().map(|p| p.sin()).collect();
        for t in (0..task.recall_steps).rev() {
            let x = recall.harmonics.index_axis(Axis(0), t);
            let y = recall.products.index_axis(Axis(0), t);
            for i in 0..n {
                let (cos_terms, sin_terms) = pair_sums(&x, &y, i, kh);
                for l in 0..kh {
                    gradient[omega_len + 2 * l] += dt * lambda[i] * cos_terms[l];
                    gradient[omega_len + 2 * l + 1] += dt * lambda[i] * sin_terms[l];
                    let (c, s) = (x[[i, 2 * l]], x[[i, 2 * l + 1]]);
                    u[[i, 2 * l]] = lambda[i] * c;
                    u[[i, 2 * l + 1]] = lambda[i] * s;
                    v[[i, 2 * l]] = h[2 * l] * c - h[2 * l + 1] * s;
                    v[[i, 2 * l + 1]] = h[2 * l] * s + h[2 * l + 1] * c;
                }
                self_terms[i] = dot_series(&slope, &cos_terms, &sin_terms, kh);
            }
            if self.storage_gradient {
                general_mat_mul(dt, &u, &v.t(), 1.0, &mut coupling_adjoint);
            }
            general_mat_mul(1.0, &recall.coupling.t(), &u, 0.0, &mut z);
            for j in 0..n {
                let (cos_back, sin_back) = pair_sums_transposed(&x, &z, j, kh);
                let back = dot_series(&slope, &cos_back, &sin_back, kh);
                // cos(φ̃_j − φ_j) = cos φ̃_j C_j1 + sin φ̃_j S_j1.
                let cue = task.cue_strength * (cue_cos[j] * x[[j, 0]] + cue_sin[j] * x[[j, 1]]);
                lambda[j] += dt * (lambda[j] * (self_terms[j] - cue) - back);
            }
        }
        if self.storage_gradient {
            self.add_storage_gradient(&instance, &coupling_adjoint, &mut gradient[..omega_len]);
        }
        1.0 - q
    }

    /// `∂L/∂a_k = ⟨G, A_k⟩`, `∂L/∂b_k = ⟨G, B_k⟩` for the coupling's adjoint `G` (its
    /// diagonal ignored), through `R = P G`.
    fn add_storage_gradient(
        &self,
        instance: &PhaseInstance,
        adjoint: &Array2<f64>,
        out: &mut [f64],
    ) {
        let task = &self.task;
        let (n, m) = (task.n_neurons, instance.load);
        let basis = storage_basis(instance, n, task.storage_harmonics);
        let mut off_diagonal = adjoint.clone();
        for i in 0..n {
            off_diagonal[[i, i]] = 0.0;
        }
        let mut r = Array2::zeros(basis.raw_dim());
        general_mat_mul(1.0, &basis, &off_diagonal, 0.0, &mut r);
        let scale = 1.0 / m as f64;
        for k in 0..task.storage_harmonics {
            for row in 0..m {
                let (c_row, s_row) = (2 * k * m + row, 2 * k * m + m + row);
                let (mut a, mut b) = (0.0, 0.0);
                for i in 0..n {
                    let (c, s) = (basis[[c_row, i]], basis[[s_row, i]]);
                    let (rc, rs) = (r[[c_row, i]], r[[s_row, i]]);
                    a += rc * c + rs * s;
                    b += rs * c - rc * s;
                }
                out[2 * k] += scale * a;
                out[2 * k + 1] += scale * b;
            }
        }
    }

    /// Recall quality of `θ` on task `index` of `seed` storing `load` memories, and the
    /// cue's own quality; a non-finite recall scores 0.
    pub fn quality(&self, theta: &[f64], seed: u64, index: usize, load: usize) -> (f64, f64) {
        let n = self.task.n_neurons;
        let instance = self.task.instance_with_load(seed, index, load);
        let recall = self.recall(theta, &instance, false);
        let q = recall_quality(&recall.phases, &instance.memories[..n]).0;
        let cue = recall_quality(&instance.cue, &instance.memories[..n]).0;
        (if q.is_finite() { q } else { 0.0 }, cue)
    }

    /// Mean quality at each of `loads` over `tasks_per_load` tasks of `seed` (task
    /// `k` of load `l` has index `k · len + l`).
    pub fn evaluate(
        &self,
        theta: &[f64],
        seed: u64,
        tasks_per_load: usize,
        loads: &[usize],
    ) -> PhaseEvaluation {
        use rayon::prelude::*;
        let mut quality_by_load = Vec::new();
        let mut cue_quality_by_load = Vec::new();
        for (l, &load) in loads.iter().enumerate() {
            let runs: Vec<(f64, f64)> = (0..tasks_per_load)
                .into_par_iter()
                .map(|k| self.quality(theta, seed, k * loads.len() + l, load))
                .collect();
            let count = runs.len().max(1) as f64;
            quality_by_load.push((load, runs.iter().map(|r| r.0).sum::<f64>() / count));
            cue_quality_by_load.push((load, runs.iter().map(|r| r.1).sum::<f64>() / count));
        }
        PhaseEvaluation {
            quality_by_load,
            cue_quality_by_load,
        }
    }
}

/// `X = [cos(lφ), sin(lφ)]` column pairs for `l = 1 … K_H`, by the angle-addition
/// recurrence from one `sin_cos` per neuron.
fn fill_harmonics(phases: &[f64], x: &mut ArrayBase<impl DataMut<Elem = f64>, Ix2>) {
    let kh = x.ncols() / 2;
    for (i, &phase) in phases.iter().enumerate() {
        let (s1, c1) = phase.sin_cos();
        let (mut s, mut c) = (s1, c1);
        for l in 0..kh {
            x[[i, 2 * l]] = c;
            x[[i, 2 * l + 1]] = s;
            (s, c) = (s * c1 + c * s1, c * c1 - s * s1);
        }
    }
}

/// For neuron `i` and each harmonic `l`: `Σ_j W_ij cos(l(φ_i − φ_j)) = C_il Yc_il + S_il Ys_il`
/// and `Σ_j W_ij sin(l(φ_i − φ_j)) = S_il Yc_il − C_il Ys_il` (`Y = W X`).
fn pair_sums(
    x: &ArrayBase<impl Data<Elem = f64>, Ix2>,
    y: &ArrayBase<impl Data<Elem = f64>, Ix2>,
    i: usize,
    kh: usize,
) -> ([f64; MAX_HARMONICS], [f64; MAX_HARMONICS]) {
    let (mut cos_terms, mut sin_terms) = ([0.0; MAX_HARMONICS], [0.0; MAX_HARMONICS]);
    for l in 0..kh {
        let (c, s) = (x[[i, 2 * l]], x[[i, 2 * l + 1]]);
        let (yc, ys) = (y[[i, 2 * l]], y[[i, 2 * l + 1]]);
        cos_terms[l] = c * yc + s * ys;
        sin_terms[l] = s * yc - c * ys;
    }
    (cos_terms, sin_terms)
}

/// For neuron `j`: `Σ_i u_i W_ij cos(l(φ_i − φ_j)) = C_jl Zc_jl + S_jl Zs_jl` and
/// `Σ_i u_i W_ij sin(l(φ_i − φ_j)) = C_jl Zs_jl − S_jl Zc_jl` (`Z = Wᵀ (u ∘ X)`).
fn pair_sums_transposed(
    x: &ArrayBase<impl Data<Elem = f64>, Ix2>,
    z: &Array2<f64>,
    j: usize,
    kh: usize,
) -> ([f64; MAX_HARMONICS], [f64; MAX_HARMONICS]) {
    let (mut cos_terms, mut sin_terms) = ([0.0; MAX_HARMONICS], [0.0; MAX_HARMONICS]);
    for l in 0..kh {
        let (c, s) = (x[[j, 2 * l]], x[[j, 2 * l + 1]]);
        let (zc, zs) = (z[[j, 2 * l]], z[[j, 2 * l + 1]]);
        cos_terms[l] = c * zc + s * zs;
        sin_terms[l] = c * zs - s * zc;
    }
    (cos_terms, sin_terms)
}

/// `Σ_l a_l cos_terms_l + b_l sin_terms_l` for the series `[a₁, b₁, …]`.
fn dot_series(
    series: &[f64],
    cos_terms: &[f64; MAX_HARMONICS],
    sin_terms: &[f64; MAX_HARMONICS],
    kh: usize,
) -> f64 {
    (0..kh)
        .map(|l| series[2 * l] * cos_terms[l] + series[2 * l + 1] * sin_terms[l])
        .sum()
}

impl super::FunctionObjective for PhaseMemoryObjective {
    fn n_parameters(&self) -> usize {
        self.task.n_parameters()
    }

    fn task_loss_value(&self, theta: &[f64], index: usize) -> f64 {
        self.task_loss(theta, index)
    }

    fn task_loss_and_gradient(&self, theta: &[f64], index: usize, gradient: &mut [f64]) -> f64 {
        PhaseMemoryObjective::task_loss_and_gradient(self, theta, index, gradient)
    }
}

#[cfg(test)]
#[path = "phase_memory_tests.rs"]
mod tests;
