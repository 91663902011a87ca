//! The experiment file of `plasticity discover` (TOML): which function objective,
//! its task, which Taylor terms are trainable, the meta-optimizer and the evaluation.
//! Errors name the file, the key and its line.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::phase::{LearnedRule, PhaseSetup, PhaseStart};
use super::{MetaAdamSettings, MetaCmaesSettings};
use crate::circuit::spec::Reader;
use crate::objective::function::target_rate::TARGET_RATE_TERMS;
use crate::objective::function::{
    ComponentsTask, MemoryTask, PcaTask, RecallDynamics, TargetRateTask,
};
use crate::rule::{Term, Variables};
use crate::task::covariance::CovarianceSampler;
use crate::task::patterns::PatternKind;
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
    /// An inhibitory→excitatory spike-timing rule must bring the excitatory neurons of
    /// random E/I networks to a target rate (Vogels et al. 2011; CMA-ES only).
    SpikingTargetRate,
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

mod sections;
use sections::all_terms;
pub use sections::{
    CmaesSection, EvaluationSection, MetaSection, RuleSection, TaskSection, Trainable,
    WindowSection,
};

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
    /// Inhibitory plasticity to a target rate.
    SpikingTargetRate(TargetRateTask),
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
        spec.check_optimizer(spec.meta.optimizer)
            .map_err(relocate)?;
        spec.adam_settings().validate().map_err(relocate)?;
        Ok(spec)
    }

    /// The task, with the kind's keys required and the other kinds' refused.
    pub fn function_task(&self) -> Result<FunctionTask> {
        let task = self.kind_task()?;
        self.refuse_other_kinds_keys()?;
        Ok(task)
    }

    /// The error of a `task.NAME` the file's kind requires and the file lacks.
    fn missing_task_key(&self, name: &str) -> Error {
        Error::config(
            format!("task.{name}"),
            format!("missing: kind = \"{}\" needs it", self.kind_name()),
        )
    }

    /// `task.NAME` is required by the file's kind: an error naming it when absent.
    fn need_task_key(&self, name: &str, present: bool) -> Result<()> {
        if present {
            Ok(())
        } else {
            Err(self.missing_task_key(name))
        }
    }

    /// `task.NAME` belongs to another kind: an error naming it when present.
    fn refuse_task_key(&self, name: &str, present: bool) -> Result<()> {
        if present {
            Err(Error::config(
                format!("task.{name}"),
                format!("not a setting of kind = \"{}\"", self.kind_name()),
            ))
        } else {
            Ok(())
        }
    }

    /// Refuses the keys of `[task]`, `[rule]`, `[meta]` and `[evaluation]` that belong
    /// to another kind.
    fn refuse_other_kinds_keys(&self) -> Result<()> {
        let refuse = |name: &str, present: bool| self.refuse_task_key(name, present);
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
            DiscoverKind::SpikingTargetRate => &[
                "target_rate_hz",
                "excitatory",
                "inhibitory",
                "learn_seconds",
                "eval_seconds",
                "learning_rate",
                "surrogate_slope",
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
        let need = |name: &str, present: bool| self.need_task_key(name, present);
        let refuse = |name: &str, present: bool| self.refuse_task_key(name, present);
        match self.kind {
            DiscoverKind::MemoryPhase => self.phase_setup().map(FunctionTask::MemoryPhase),
            DiscoverKind::PcaComponents => self.components_task().map(FunctionTask::PcaComponents),
            DiscoverKind::SpikingTargetRate => {
                self.target_rate_task().map(FunctionTask::SpikingTargetRate)
            }
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
            DiscoverKind::SpikingTargetRate => "spiking_target_rate",
        }
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

    /// The names of θ's coefficients: canonical Taylor terms, or `omega.cos1`, …,
    /// `h.sin5` for the phase-memory task.
    pub fn coefficient_names(&self) -> Result<Vec<String>> {
        match self.function_task()? {
            FunctionTask::MemoryPhase(setup) => Ok(setup.task.coefficient_names()),
            FunctionTask::PcaComponents(_) => Ok(
                crate::objective::function::components::coefficient_names(Variables::Xyw),
            ),
            FunctionTask::SpikingTargetRate(_) => {
                Ok(TARGET_RATE_TERMS.iter().map(|t| (*t).to_string()).collect())
            }
            _ => Ok(crate::rule::term_names(Variables::Xyw)),
        }
    }

    /// The indices of the trainable terms.
    pub fn trainable(&self) -> Result<Vec<usize>> {
        if self.kind == DiscoverKind::MemoryPhase {
            return Ok(self.phase_setup()?.trainable());
        }
        if self.kind == DiscoverKind::SpikingTargetRate {
            return self.target_rate_trainable();
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
        if self.kind == DiscoverKind::SpikingTargetRate {
            return self.target_rate_initial_theta();
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

mod kinds;
#[cfg(test)]
mod tests;
