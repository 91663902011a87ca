//! The experiment file of `plasticity discover` (TOML): which function objective,
//! its task, which Taylor terms are trainable, the meta-optimizer and the evaluation.
//! Errors name the file, the key and its line.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::phase::{LearnedRule, PhaseSetup, PhaseStart};
use super::{MetaAdamSettings, MetaCmaesSettings};
use crate::circuit::spec::Reader;
use crate::objective::function::{
    ComponentsTask, MemoryTask, PcaTask, PhaseMemoryTask, RecallDynamics,
};
use crate::rule::{Term, Variables};
use crate::task::covariance::CovarianceSampler;
use crate::task::patterns::PatternKind;
use crate::task::phases::StdpWindow;
use crate::{Error, Result};

/// The function a rule is meta-learned for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiscoverKind {
    /// One linear neuron must find the first principal component with unit norm.
    Pca,
    /// A recurrent network must store patterns and recall them from partial cues.
    Memory,
    /// Phase-coded memories stored by an STDP window `Ω` and recalled by phase
    /// dynamics with an interaction function `H` (Lengyel & Dayan).
    MemoryPhase,
    /// `k` linear neurons with feed-forward and lateral plastic weights must find the
    /// top-`k` principal subspace (Földiák; Rubner & Tavan).
    PcaComponents,
}

/// The meta-optimizer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetaOptimizer {
    /// Adam with schedule, clipping and proximal L1 (gradient-based).
    Adam,
    /// CMA-ES (gradient-free).
    Cmaes,
}

/// `[task]`: the union of both kinds' keys; [`DiscoverSpec::parse`] checks that the
/// kind's own keys are present and the other kind's absent.
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

fn all_terms() -> Trainable {
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

/// A `plasticity discover` experiment file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscoverSpec {
    /// `"pca"` or `"memory"`.
    pub kind: DiscoverKind,
    /// A name for reports.
    #[serde(default)]
    pub name: Option<String>,
    /// The seed of the training tasks (and, derived from it, of the validation and
    /// held-out tasks and of CMA-ES); `--seed` overrides it.
    #[serde(default)]
    pub seed: u64,
    /// The task.
    pub task: TaskSection,
    /// The rule.
    #[serde(default)]
    pub rule: RuleSection,
    /// The meta-optimizer.
    pub meta: MetaSection,
    /// CMA-ES settings.
    #[serde(default)]
    pub cmaes: CmaesSection,
    /// Held-out evaluation.
    #[serde(default)]
    pub evaluation: EvaluationSection,
}

/// The task of a parsed experiment.
#[derive(Clone, Debug, PartialEq)]
pub enum FunctionTask {
    /// PCA.
    Pca(PcaTask),
    /// Autoassociative memory.
    Memory(MemoryTask),
    /// Phase-coded memory.
    MemoryPhase(PhaseSetup),
    /// Several principal components.
    PcaComponents(ComponentsTask),
}

impl DiscoverSpec {
    /// Reads and checks an experiment file.
    pub fn load(path: &Path) -> Result<DiscoverSpec> {
        let source = crate::io::read_text(path, "")?;
        DiscoverSpec::parse(&source, path)
    }

    /// Parses and checks experiment TOML (`path` names it in errors).
    pub fn parse(source: &str, path: &Path) -> Result<DiscoverSpec> {
        let reader = Reader { path, source };
        let spec: DiscoverSpec = toml::from_str(source).map_err(|e| reader.located(&e))?;
        let relocate = |error: Error| match error {
            Error::Config { key, message } => {
                let (section, name) = key.split_once('.').unwrap_or((key.as_str(), ""));
                reader.error(section, name, message)
            }
            other => other,
        };
        spec.function_task().map_err(relocate)?;
        spec.trainable().map_err(relocate)?;
        spec.initial_theta().map_err(relocate)?;
        spec.adam_settings().validate().map_err(relocate)?;
        Ok(spec)
    }

    /// The task, with the kind's keys required and the other kinds' refused.
    pub fn function_task(&self) -> Result<FunctionTask> {
        let task = self.kind_task()?;
        self.refuse_other_kinds_keys()?;
        Ok(task)
    }

    /// Refuses the keys of `[task]`, `[rule]`, `[meta]` and `[evaluation]` that belong
    /// to another kind.
    fn refuse_other_kinds_keys(&self) -> Result<()> {
        let refuse = |name: &str, present: bool| -> Result<()> {
            if present {
                Err(Error::config(
                    format!("task.{name}"),
                    format!("not a setting of kind = \"{}\"", self.kind_name()),
                ))
            } else {
                Ok(())
            }
        };
        let t = &self.task;
        let allowed: &[&str] = match self.kind {
            DiscoverKind::Pca => &[
                "inputs",
                "steps",
                "learning_rate",
                "initial_weight_scale",
                "top_eigenvalue_ratio",
                "minor_eigenvalue_max",
            ],
            DiscoverKind::Memory => &[
                "neurons",
                "patterns",
                "cue_flip_fraction",
                "coding_level",
                "cue_moved",
                "loads",
                "recall_steps",
                "learning_rate",
                "gain",
                "threshold",
            ],
            DiscoverKind::PcaComponents => &[
                "inputs",
                "components",
                "steps",
                "learning_rate",
                "lateral_learning_rate",
                "initial_weight_scale",
                "leading_eigenvalues",
                "minor_eigenvalue_max",
            ],
            DiscoverKind::MemoryPhase => &[
                "neurons",
                "loads",
                "recall_steps",
                "cue_concentration",
                "cue_strength",
                "step_size",
                "window",
            ],
        };
        if let Ok(serde_json::Value::Object(present)) = serde_json::to_value(t) {
            for key in present.keys() {
                refuse(key, !allowed.contains(&key.as_str()))?;
            }
        }
        self.check_kind_specific_sections()
    }

    /// The task of the file's kind, its own keys required.
    fn kind_task(&self) -> Result<FunctionTask> {
        let t = &self.task;
        let need = |name: &str, present: bool| -> Result<()> {
            if present {
                Ok(())
            } else {
                Err(Error::config(
                    format!("task.{name}"),
                    format!("missing: kind = \"{}\" needs it", self.kind_name()),
                ))
            }
        };
        let refuse = |name: &str, present: bool| -> Result<()> {
            if present {
                Err(Error::config(
                    format!("task.{name}"),
                    format!("not a setting of kind = \"{}\"", self.kind_name()),
                ))
            } else {
                Ok(())
            }
        };
        match self.kind {
            DiscoverKind::MemoryPhase => self.phase_setup().map(FunctionTask::MemoryPhase),
            DiscoverKind::PcaComponents => self.components_task().map(FunctionTask::PcaComponents),
            DiscoverKind::Pca => {
                need("inputs", t.inputs.is_some())?;
                need("steps", t.steps.is_some())?;
                need("learning_rate", t.learning_rate.is_some())?;
                let [low, high] = t.top_eigenvalue_ratio.unwrap_or([2.0, 5.0]);
                let task = PcaTask {
                    covariance: CovarianceSampler {
                        n_inputs: t.inputs.unwrap_or_default(),
                        top_ratio_min: low,
                        top_ratio_max: high,
                        minor_eigenvalue_max: t.minor_eigenvalue_max.unwrap_or(0.5),
                    },
                    learning_rate: t.learning_rate.unwrap_or_default(),
                    n_steps: t.steps.unwrap_or_default(),
                    initial_weight_scale: t.initial_weight_scale.unwrap_or(0.1),
                };
                task.validate()?;
                Ok(FunctionTask::Pca(task))
            }
            DiscoverKind::Memory => {
                need("neurons", t.neurons.is_some())?;
                need("patterns", t.patterns.is_some())?;
                need("loads", t.loads.is_some())?;
                need("recall_steps", t.recall_steps.is_some())?;
                let n = t.neurons.unwrap_or_default();
                let gain = t.gain.unwrap_or(1.0);
                let (patterns, recall) = match t.patterns.as_deref() {
                    Some("dense") => {
                        refuse("coding_level", t.coding_level.is_some())?;
                        refuse("cue_moved", t.cue_moved.is_some())?;
                        refuse("threshold", t.threshold.is_some())?;
                        (
                            PatternKind::Dense {
                                cue_flip_fraction: t.cue_flip_fraction.unwrap_or(0.15),
                            },
                            RecallDynamics::Tanh { gain },
                        )
                    }
                    Some("sparse") => {
                        refuse("cue_flip_fraction", t.cue_flip_fraction.is_some())?;
                        need("coding_level", t.coding_level.is_some())?;
                        (
                            PatternKind::Sparse {
                                coding_level: t.coding_level.unwrap_or_default(),
                                cue_moved: t.cue_moved.unwrap_or(2),
                            },
                            RecallDynamics::Sigmoid {
                                gain,
                                threshold: t.threshold.unwrap_or(0.0),
                            },
                        )
                    }
                    other => {
                        return Err(Error::config(
                            "task.patterns",
                            format!("{other:?}: expected \"dense\" or \"sparse\""),
                        ))
                    }
                };
                let task = MemoryTask {
                    n_neurons: n,
                    patterns,
                    loads: t.loads.clone().unwrap_or_default(),
                    recall_steps: t.recall_steps.unwrap_or_default(),
                    learning_rate: t.learning_rate.unwrap_or(1.0 / n.max(1) as f64),
                    recall,
                };
                task.validate()?;
                Ok(FunctionTask::Memory(task))
            }
        }
    }

    fn kind_name(&self) -> &'static str {
        match self.kind {
            DiscoverKind::Pca => "pca",
            DiscoverKind::Memory => "memory",
            DiscoverKind::MemoryPhase => "memory_phase",
            DiscoverKind::PcaComponents => "pca_components",
        }
    }

    /// The several-components task: every key of `[task]` but the eigenvalue ranges
    /// required.
    fn components_task(&self) -> Result<ComponentsTask> {
        let t = &self.task;
        for (name, present) in [
            ("inputs", t.inputs.is_some()),
            ("components", t.components.is_some()),
            ("steps", t.steps.is_some()),
            ("learning_rate", t.learning_rate.is_some()),
        ] {
            if !present {
                return Err(Error::config(
                    format!("task.{name}"),
                    "missing: kind = \"pca_components\" needs it",
                ));
            }
        }
        let learning_rate = t.learning_rate.unwrap_or_default();
        let task = ComponentsTask {
            n_inputs: t.inputs.unwrap_or_default(),
            n_components: t.components.unwrap_or_default(),
            n_steps: t.steps.unwrap_or_default(),
            learning_rate,
            lateral_learning_rate: t.lateral_learning_rate.unwrap_or(learning_rate),
            initial_weight_scale: t.initial_weight_scale.unwrap_or(1.0),
            leading_eigenvalues: t.leading_eigenvalues.unwrap_or([2.0, 5.0]),
            minor_eigenvalue_max: t.minor_eigenvalue_max.unwrap_or(0.5),
        };
        task.validate()?;
        Ok(task)
    }

    /// Refuses the keys of `[rule]`, `[meta]` and `[evaluation]` that belong to another
    /// kind.
    fn check_kind_specific_sections(&self) -> Result<()> {
        let phase = self.kind == DiscoverKind::MemoryPhase;
        let refuse = |key: &str, present: bool| -> Result<()> {
            if present {
                Err(Error::config(
                    key,
                    format!("not a setting of kind = \"{}\"", self.kind_name()),
                ))
            } else {
                Ok(())
            }
        };
        let rule = &self.rule;
        if phase {
            refuse("rule.trainable", rule.trainable != all_terms())?;
            refuse("meta.norm_cap", self.meta.norm_cap.is_some())?;
            refuse("meta.weight_bound", self.meta.weight_bound.is_some())?;
        } else {
            refuse("rule.learn", rule.learn.is_some())?;
            refuse("rule.harmonics", rule.harmonics.is_some())?;
            refuse("rule.initial_scale", rule.initial_scale.is_some())?;
            refuse("evaluation.loads", self.evaluation.loads.is_some())?;
        }
        if !matches!(self.kind, DiscoverKind::Pca | DiscoverKind::PcaComponents) {
            refuse("meta.norm_cap", self.meta.norm_cap.is_some())?;
        }
        if self.kind != DiscoverKind::Memory {
            refuse("meta.weight_bound", self.meta.weight_bound.is_some())?;
        }
        Ok(())
    }

    /// The phase-memory set-up: `[task]` (neurons, loads, recall, the window) and
    /// `[rule]` (which rule is learned, its harmonics and start).
    fn phase_setup(&self) -> Result<PhaseSetup> {
        let t = &self.task;
        for (name, present) in [
            ("neurons", t.neurons.is_some()),
            ("loads", t.loads.is_some()),
            ("window", t.window.is_some()),
        ] {
            if !present {
                return Err(Error::config(
                    format!("task.{name}"),
                    "missing: kind = \"memory_phase\" needs it",
                ));
            }
        }
        let window = t
            .window
            .clone()
            .unwrap_or_else(|| unreachable!("checked above"));
        let series = window.window.fourier(window.harmonics)?;
        let learn = self.rule.learn.unwrap_or(LearnedRule::Interaction);
        let harmonics = self.rule.harmonics.unwrap_or(5);
        let kappa = t.cue_concentration.unwrap_or(2.0);
        let (storage_harmonics, interaction_harmonics) = match learn {
            LearnedRule::Interaction => (window.harmonics, harmonics),
            LearnedRule::Storage => (harmonics, window.harmonics),
            LearnedRule::Both => (harmonics.max(window.harmonics), harmonics),
        };
        let task = PhaseMemoryTask {
            n_neurons: t.neurons.unwrap_or_default(),
            loads: t.loads.clone().unwrap_or_default(),
            cue_concentration: kappa,
            cue_strength: t.cue_strength.unwrap_or(kappa),
            recall_steps: t.recall_steps.unwrap_or(100),
            step_size: t.step_size.unwrap_or(0.025),
            storage_harmonics,
            interaction_harmonics,
        };
        task.validate()?;
        let start = match self.rule.initial.as_str() {
            "mismatched" => PhaseStart::Mismatched,
            "matched" => PhaseStart::Matched,
            "zero" => PhaseStart::Zero,
            other => {
                return Err(Error::config(
                    "rule.initial",
                    format!("\"{other}\": expected \"mismatched\", \"matched\" or \"zero\""),
                ))
            }
        };
        let initial_scale = self.rule.initial_scale.unwrap_or(0.2);
        if !(initial_scale > 0.0 && initial_scale.is_finite()) {
            return Err(Error::config(
                "rule.initial_scale",
                format!("{initial_scale}: expected a positive number"),
            ));
        }
        let evaluation_loads = self.evaluation.loads.clone().unwrap_or(task.loads.clone());
        if evaluation_loads.is_empty() || evaluation_loads.contains(&0) {
            return Err(Error::config(
                "evaluation.loads",
                format!("{evaluation_loads:?}: expected a non-empty list of positive loads"),
            ));
        }
        Ok(PhaseSetup {
            task,
            window: series,
            learn,
            start,
            initial_scale,
            evaluation_loads,
        })
    }

    /// The names of θ's coefficients: canonical Taylor terms, or `omega.cos1`, …,
    /// `h.sin5` for the phase-memory task.
    pub fn coefficient_names(&self) -> Result<Vec<String>> {
        match self.function_task()? {
            FunctionTask::MemoryPhase(setup) => Ok(setup.task.coefficient_names()),
            FunctionTask::PcaComponents(_) => Ok(
                crate::objective::function::components::coefficient_names(Variables::Xyw),
            ),
            _ => Ok(crate::rule::term_names(Variables::Xyw)),
        }
    }

    /// The indices of the trainable terms.
    pub fn trainable(&self) -> Result<Vec<usize>> {
        if self.kind == DiscoverKind::MemoryPhase {
            return Ok(self.phase_setup()?.trainable());
        }
        if self.kind == DiscoverKind::PcaComponents {
            let names = self.coefficient_names()?;
            return match &self.rule.trainable {
                Trainable::All(word) if word == "all" => Ok((0..names.len()).collect()),
                Trainable::Terms(list) if !list.is_empty() => {
                    let mut indices = Vec::new();
                    for name in list {
                        match names.iter().position(|n| n == name) {
                            Some(k) if !indices.contains(&k) => indices.push(k),
                            Some(_) => {
                                return Err(Error::config(
                                    "rule.trainable",
                                    format!("'{name}' is listed twice"),
                                ))
                            }
                            None => {
                                return Err(Error::config(
                                    "rule.trainable",
                                    format!("'{name}': expected \"ff.<term>\" or \"lateral.<term>\" with a canonical (x, y, w) term"),
                                ))
                            }
                        }
                    }
                    indices.sort_unstable();
                    Ok(indices)
                }
                _ => Err(Error::config(
                    "rule.trainable",
                    "expected \"all\" or a non-empty list of names \"ff.<term>\", \"lateral.<term>\"",
                )),
            };
        }
        match &self.rule.trainable {
            Trainable::All(word) if word == "all" => Ok((0..Variables::Xyw.n_terms()).collect()),
            Trainable::All(word) => Err(Error::config(
                "rule.trainable",
                format!("\"{word}\": expected \"all\" or a list of term names"),
            )),
            Trainable::Terms(names) => {
                let mut indices = Vec::new();
                for name in names {
                    let term = Term::parse(name, Variables::Xyw)
                        .map_err(|e| Error::config("rule.trainable", e.to_string()))?;
                    let index = term.index(Variables::Xyw).ok_or_else(|| {
                        Error::config(
                            "rule.trainable",
                            format!("'{name}' is not a term of the (x, y, w) Taylor rule"),
                        )
                    })?;
                    if indices.contains(&index) {
                        return Err(Error::config(
                            "rule.trainable",
                            format!("'{name}' is listed twice"),
                        ));
                    }
                    indices.push(index);
                }
                if indices.is_empty() {
                    return Err(Error::config("rule.trainable", "the list is empty"));
                }
                indices.sort_unstable();
                Ok(indices)
            }
        }
    }

    /// The starting θ.
    pub fn initial_theta(&self) -> Result<Vec<f64>> {
        if self.kind == DiscoverKind::MemoryPhase {
            return Ok(self.phase_setup()?.initial_theta());
        }
        if self.kind == DiscoverKind::PcaComponents {
            return match self.rule.initial.as_str() {
                "zero" => Ok(vec![0.0; self.coefficient_names()?.len()]),
                other => Err(Error::config(
                    "rule.initial",
                    format!("\"{other}\": kind = \"pca_components\" starts from \"zero\""),
                )),
            };
        }
        if self.rule.initial == "zero" {
            Ok(vec![0.0; Variables::Xyw.n_terms()])
        } else {
            crate::rule::parse_expression(&self.rule.initial, Variables::Xyw)
                .map_err(|e| Error::config("rule.initial", e.to_string()))
        }
    }

    /// Adam's settings.
    pub fn adam_settings(&self) -> MetaAdamSettings {
        MetaAdamSettings {
            iterations: self.meta.iterations,
            tasks_per_step: self.meta.tasks_per_step,
            learning_rate: self.meta.learning_rate,
            final_learning_rate: self.meta.final_learning_rate,
            gradient_clip: self.meta.gradient_clip,
            l1: self.meta.l1,
            max_backoffs: self.meta.max_backoffs,
        }
    }

    /// CMA-ES's settings.
    pub fn cmaes_settings(&self) -> MetaCmaesSettings {
        MetaCmaesSettings {
            generations: self.cmaes.generations,
            population: self.cmaes.population,
            initial_step_size: self.cmaes.initial_step_size,
            tasks_per_step: self
                .cmaes
                .tasks_per_step
                .unwrap_or(self.meta.tasks_per_step),
            l1: self.cmaes.l1.unwrap_or(self.meta.l1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PCA: &str = r#"
kind = "pca"
seed = 3

[task]
inputs = 20
steps = 500
learning_rate = 0.02

[meta]
iterations = 10
tasks_per_step = 4
learning_rate = 0.01
final_learning_rate = 0.001
gradient_clip = 1.0
norm_cap = 10.0
"#;

    #[test]
    fn a_pca_file_parses_with_defaults() {
        let spec = DiscoverSpec::parse(PCA, Path::new("pca.toml")).expect("test set-up");
        let FunctionTask::Pca(task) = spec.function_task().expect("test set-up") else {
            panic!("not PCA")
        };
        assert_eq!(task.covariance.n_inputs, 20);
        assert_eq!(task.covariance.top_ratio_min, 2.0);
        assert_eq!(spec.trainable().expect("test set-up").len(), 27);
        assert_eq!(spec.meta.optimizer, MetaOptimizer::Adam);
    }

    #[test]
    fn errors_name_the_file_key_and_line() {
        let bad = PCA.replace("steps = 500", "steps = 500\nneurons = 100");
        let error = DiscoverSpec::parse(&bad, Path::new("pca.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("pca.toml") && error.contains("task.neurons"),
            "{error}"
        );
        assert!(error.contains("line 8"), "{error}");
        let bad = PCA.replace("learning_rate = 0.02", "learning_rate = -1.0");
        let error = DiscoverSpec::parse(&bad, Path::new("pca.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("task.learning_rate") && error.contains("line 8"),
            "{error}"
        );
        let bad = PCA.replace("iterations = 10", "iterations = \"ten\"");
        let error = DiscoverSpec::parse(&bad, Path::new("pca.toml"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("meta.iterations"), "{error}");
        let bad = PCA.replace("[meta]", "[rule]\ntrainable = [\"x*y\", \"z\"]\n\n[meta]");
        let error = DiscoverSpec::parse(&bad, Path::new("pca.toml"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("rule.trainable"), "{error}");
        let bad = PCA.replace("kind = \"pca\"", "kind = \"memory\"");
        let error = DiscoverSpec::parse(&bad, Path::new("m.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("task.neurons") && error.contains("missing"),
            "{error}"
        );
    }

    const PHASE: &str = r#"
kind = "memory_phase"

[task]
neurons = 50
loads = [5, 10]

[task.window]
shape = "exponential"
theta_period = 125.0
a_plus = 1.0
a_minus = 0.5
tau_plus = 16.8
tau_minus = 33.7
harmonics = 2

[rule]
learn = "storage"
initial = "mismatched"

[meta]
iterations = 10
tasks_per_step = 4
learning_rate = 0.05
final_learning_rate = 0.001
gradient_clip = 1.0
"#;

    #[test]
    fn a_phase_memory_file_parses_with_defaults() {
        let spec = DiscoverSpec::parse(PHASE, Path::new("phase.toml")).expect("test set-up");
        let FunctionTask::MemoryPhase(setup) = spec.function_task().expect("test set-up") else {
            panic!("not phase memory")
        };
        // Ω learned with 5 harmonics, H = the 2-harmonic window's derivative.
        assert_eq!(setup.task.storage_harmonics, 5);
        assert_eq!(setup.task.interaction_harmonics, 2);
        assert_eq!(setup.task.cue_strength, 2.0);
        assert_eq!(setup.evaluation_loads, vec![5, 10]);
        assert_eq!(
            spec.trainable().expect("test set-up"),
            (0..10).collect::<Vec<_>>()
        );
        let names = spec.coefficient_names().expect("test set-up");
        assert_eq!(names[0], "omega.cos1");
        assert_eq!(names[13], "h.sin2");
        let theta = spec.initial_theta().expect("test set-up");
        let (omega, h) = setup.task.split(&theta);
        // The mismatched start: Ω = 0.2 H/‖H‖.
        assert!((crate::task::phases::norm(omega) - 0.2).abs() < 1e-12);
        assert!((crate::task::phases::correlation(omega, h) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn phase_memory_errors_name_the_key_and_line() {
        let check = |from: &str, to: &str, key: &str, line: &str| {
            let bad = PHASE.replacen(from, to, 1);
            let error = DiscoverSpec::parse(&bad, Path::new("phase.toml"))
                .unwrap_err()
                .to_string();
            assert!(
                error.contains("phase.toml") && error.contains(key),
                "{error}"
            );
            assert!(error.contains(line), "{error}");
        };
        check(
            "loads = [5, 10]",
            "loads = [5, 10]\ninputs = 3",
            "task.inputs",
            "line 7",
        );
        check(
            "learn = \"storage\"",
            "learn = \"everything\"",
            "rule.learn",
            "line 18",
        );
        check(
            "initial = \"mismatched\"",
            "initial = \"x*y\"",
            "rule.initial",
            "line 19",
        );
        check(
            "[meta]",
            "[meta]\nnorm_cap = 3.0",
            "meta.norm_cap",
            "line 22",
        );
        let bad = PHASE.replacen("tau_plus = 16.8", "tau_plus = 0.0", 1);
        let error = DiscoverSpec::parse(&bad, Path::new("phase.toml"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("tau_plus"), "{error}");
        let bad = PCA.replace("[meta]", "[rule]\nlearn = \"storage\"\n\n[meta]");
        let error = DiscoverSpec::parse(&bad, Path::new("pca.toml"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("rule.learn"), "{error}");
    }
}
