//! The sections of a `plasticity discover` file: `[task]` (the union of every kind's
//! keys), `[rule]`, `[meta]`, `[cmaes]` and `[evaluation]`, with their defaults.

use serde::{Deserialize, Serialize};

use super::MetaOptimizer;
use crate::pipeline::discover::phase::LearnedRule;
use crate::task::phases::StdpWindow;

/// `[task]`: the union of every kind's keys; [`super::DiscoverSpec::parse`] checks that the
/// kind's own keys are present and the other kinds' absent.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskSection {
    /// PCA: inputs `n`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inputs: Option<usize>,
    /// PCA: learning steps `T`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub steps: Option<usize>,
    /// PCA: `s` in `w₀ ~ N(0, s²/n)`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initial_weight_scale: Option<f64>,
    /// PCA: `[min, max]` of `λ₁/λ₂`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_eigenvalue_ratio: Option<[f64; 2]>,
    /// PCA: `λ₃…λ_n ~ U(0, this)` with `λ₂ = 1` (components: `λ_{k+1}…λ_n`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minor_eigenvalue_max: Option<f64>,
    /// Components: output neurons `k`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub components: Option<usize>,
    /// Components: learning rate `η_lat` of the lateral weights.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lateral_learning_rate: Option<f64>,
    /// Components: `[lo, hi]` of the `k` leading eigenvalues.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leading_eigenvalues: Option<[f64; 2]>,
    /// Both: learning rate `η` (memory default `1/N`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub learning_rate: Option<f64>,
    /// Memory: neurons `N`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub neurons: Option<usize>,
    /// Memory: `"dense"` (±1) or `"sparse"` ({0,1}).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patterns: Option<String>,
    /// Memory, dense: fraction of entries flipped in a cue.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cue_flip_fraction: Option<f64>,
    /// Memory, sparse: coding level `a`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coding_level: Option<f64>,
    /// Memory, sparse: active units moved in a cue.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cue_moved: Option<usize>,
    /// Memory: loads `P`, cycled over tasks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loads: Option<Vec<usize>>,
    /// Memory: recall steps `K`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recall_steps: Option<usize>,
    /// Memory: gain `β` of the recall dynamics.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gain: Option<f64>,
    /// Memory, sparse: threshold `h` of `σ(β (W s − h))`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    /// Phase memory: concentration `κ` of the cue's von Mises noise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cue_concentration: Option<f64>,
    /// Phase memory: strength `γ` of the cue term (default `κ`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cue_strength: Option<f64>,
    /// Phase memory: Euler step `Δt` of recall.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step_size: Option<f64>,
    /// Phase memory: the STDP window `Ω`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window: Option<WindowSection>,
    /// Spiking target rate: the excitatory neurons' target rate `ρ₀` (Hz).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_rate_hz: Option<f64>,
    /// Spiking target rate: excitatory neurons `N_E`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub excitatory: Option<usize>,
    /// Spiking target rate: inhibitory neurons `N_I`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inhibitory: Option<usize>,
    /// Spiking target rate: seconds of learning before the rates are measured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub learn_seconds: Option<f64>,
    /// Spiking target rate: seconds over which the rates are measured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eval_seconds: Option<f64>,
    /// Spiking target rate: `β` (per mV) of the fast-sigmoid surrogate spike
    /// derivative, which gives the loss a gradient (Adam).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub surrogate_slope: Option<f64>,
}

/// `[task.window]`: the STDP window of the phase-memory task and how many of its
/// harmonics are kept.
/// (Unknown keys are refused by the window's own variants: `deny_unknown_fields`
/// does not combine with `flatten`.)
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WindowSection {
    /// The window (`shape = "exponential"` with its amplitudes and time constants, or
    /// `shape = "table"` with `values`).
    #[serde(flatten)]
    pub window: StdpWindow,
    /// Harmonics of the window kept (its truncated Fourier series).
    pub harmonics: usize,
}

/// `[rule]`: the Taylor rule over (x, y, w) and its trainable terms.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSection {
    /// `"all"` or a list of term names (canonical, e.g. `"x*y"`, `"y^2*w"`).
    #[serde(default = "all_terms")]
    pub trainable: Trainable,
    /// The starting rule as an expression, or `"zero"`; for `memory_phase`,
    /// `"mismatched"` (`H ∝ Ω`, or `Ω ∝ H`), `"matched"` or `"zero"`.
    #[serde(default = "zero")]
    pub initial: String,
    /// Phase memory: the rule learned, `"interaction"` (`H`, default), `"storage"`
    /// (`Ω`) or `"both"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub learn: Option<LearnedRule>,
    /// Phase memory: harmonics of each learned function (default 5).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub harmonics: Option<usize>,
    /// Phase memory: the scale `s₀` of the start (default 0.2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initial_scale: Option<f64>,
}

impl Default for RuleSection {
    fn default() -> Self {
        RuleSection {
            trainable: all_terms(),
            initial: zero(),
            learn: None,
            harmonics: None,
            initial_scale: None,
        }
    }
}

/// Which terms are trained.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Trainable {
    /// `"all"`.
    All(String),
    /// A list of term names.
    Terms(Vec<String>),
}

pub(super) fn all_terms() -> Trainable {
    Trainable::All("all".into())
}

fn zero() -> String {
    "zero".into()
}

/// `[meta]`: the optimizer and the training-only safeguard.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetaSection {
    /// `"adam"` (default) or `"cmaes"`; `--optimizer` overrides it.
    #[serde(default = "adam")]
    pub optimizer: MetaOptimizer,
    /// Meta-iterations of Adam.
    pub iterations: usize,
    /// Fresh tasks per meta-step.
    pub tasks_per_step: usize,
    /// Adam's initial step size.
    pub learning_rate: f64,
    /// Adam's final step size (cosine schedule).
    pub final_learning_rate: f64,
    /// Gradient norm clip.
    pub gradient_clip: f64,
    /// Proximal L1 strength.
    #[serde(default)]
    pub l1: f64,
    /// Non-finite meta-steps tolerated in a row.
    #[serde(default = "five")]
    pub max_backoffs: usize,
    /// PCA safeguard: `‖w‖ ≤ norm_cap` during meta-training only.
    pub norm_cap: Option<f64>,
    /// Memory safeguard: `|W_ij| ≤ weight_bound` during meta-training only.
    pub weight_bound: Option<f64>,
}

fn adam() -> MetaOptimizer {
    MetaOptimizer::Adam
}

fn five() -> usize {
    5
}

/// `[cmaes]`: the gradient-free alternative.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CmaesSection {
    /// Generations.
    #[serde(default = "generations")]
    pub generations: usize,
    /// Population size (0: `4 + ⌊3 ln n⌋`).
    #[serde(default)]
    pub population: usize,
    /// Initial step size `σ₀`.
    #[serde(default = "step_size")]
    pub initial_step_size: f64,
    /// Tasks per generation (default: `meta.tasks_per_step`).
    pub tasks_per_step: Option<usize>,
    /// L1 penalty on the fitness (default: `meta.l1`).
    pub l1: Option<f64>,
}

impl Default for CmaesSection {
    fn default() -> Self {
        CmaesSection {
            generations: generations(),
            population: 0,
            initial_step_size: step_size(),
            tasks_per_step: None,
            l1: None,
        }
    }
}

fn generations() -> usize {
    600
}

fn step_size() -> f64 {
    0.1
}

/// `[evaluation]`: held-out tasks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvaluationSection {
    /// PCA: held-out covariances.
    #[serde(default = "tasks")]
    pub tasks: usize,
    /// PCA: the long horizon as a multiple of `T`.
    #[serde(default = "horizon")]
    pub horizon_multiple: usize,
    /// Memory: held-out tasks per load.
    #[serde(default = "per_load")]
    pub tasks_per_load: usize,
    /// Tasks used to tune each baseline's scale (not the held-out ones).
    #[serde(default = "validation")]
    pub validation_tasks: usize,
    /// Phase memory: the held-out loads (default: the task's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loads: Option<Vec<usize>>,
}

impl Default for EvaluationSection {
    fn default() -> Self {
        EvaluationSection {
            tasks: tasks(),
            horizon_multiple: horizon(),
            tasks_per_load: per_load(),
            validation_tasks: validation(),
            loads: None,
        }
    }
}

fn tasks() -> usize {
    500
}
fn horizon() -> usize {
    5
}
fn per_load() -> usize {
    100
}
fn validation() -> usize {
    64
}
