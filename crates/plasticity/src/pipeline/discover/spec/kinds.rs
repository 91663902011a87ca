//! The `[task]` and `[rule]` sections of the two kinds of issue 29: the phase-coded
//! memory (Lengyel & Dayan) and several principal components; and of issue 28's
//! spiking target rate (inhibitory plasticity, Vogels et al. 2011).

use super::{
    DiscoverKind, DiscoverSpec, LearnedRule, MetaOptimizer, PhaseSetup, PhaseStart, Trainable,
};
use crate::objective::function::target_rate::TARGET_RATE_TERMS;
use crate::objective::function::{ComponentsTask, PhaseMemoryTask, TargetRateTask};
use crate::rule::spike::SpikeRule;
use crate::{Error, Result};

impl DiscoverSpec {
    /// The several-components task: every key of `[task]` but the eigenvalue ranges
    /// required.
    pub(super) fn components_task(&self) -> Result<ComponentsTask> {
        let t = &self.task;
        self.need_task_key("inputs", t.inputs.is_some())?;
        self.need_task_key("components", t.components.is_some())?;
        self.need_task_key("steps", t.steps.is_some())?;
        self.need_task_key("learning_rate", t.learning_rate.is_some())?;
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

    /// The phase-memory set-up: `[task]` (neurons, loads, recall, the window) and
    /// `[rule]` (which rule is learned, its harmonics and start).
    pub(super) fn phase_setup(&self) -> Result<PhaseSetup> {
        let t = &self.task;
        self.need_task_key("neurons", t.neurons.is_some())?;
        self.need_task_key("loads", t.loads.is_some())?;
        let Some(window) = t.window.clone() else {
            return Err(self.missing_task_key("window"));
        };
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

    /// Refuses an optimizer the kind cannot use: the spiking target rate has no
    /// gradient (spikes are thresholds) unless `task.surrogate_slope` gives it a
    /// surrogate one; without, only CMA-ES.
    pub fn check_optimizer(&self, optimizer: MetaOptimizer) -> Result<()> {
        if self.kind == DiscoverKind::SpikingTargetRate
            && optimizer == MetaOptimizer::Adam
            && self.task.surrogate_slope.is_none()
        {
            return Err(Error::config(
                "meta.optimizer",
                "spiking_target_rate has no gradient: use optimizer = \"cmaes\", or set task.surrogate_slope (β of the fast-sigmoid surrogate derivative, per mV) for Adam",
            ));
        }
        Ok(())
    }

    /// The spiking target-rate task: `[task]` with defaults (80 E, 20 I, 5 Hz, 10 s of
    /// learning, 4 s of measurement, `η` = 0.1).
    pub(super) fn target_rate_task(&self) -> Result<TargetRateTask> {
        let t = &self.task;
        let task = TargetRateTask {
            n_excitatory: t.excitatory.unwrap_or(80),
            n_inhibitory: t.inhibitory.unwrap_or(20),
            target_rate_hz: t.target_rate_hz.unwrap_or(5.0),
            learn_seconds: t.learn_seconds.unwrap_or(10.0),
            eval_seconds: t.eval_seconds.unwrap_or(4.0),
            learning_rate: t.learning_rate.unwrap_or(0.1),
            surrogate_slope: t.surrogate_slope,
        };
        task.validate()?;
        Ok(task)
    }

    /// The trained terms of the spiking target rate: `"all"` or a list of
    /// `s_post*x_trace`, `s_pre*y_trace`, `s_pre`.
    pub(super) fn target_rate_trainable(&self) -> Result<Vec<usize>> {
        match &self.rule.trainable {
            Trainable::All(word) if word == "all" => Ok((0..TARGET_RATE_TERMS.len()).collect()),
            Trainable::Terms(list) if !list.is_empty() => {
                let mut indices = Vec::new();
                for name in list {
                    match TARGET_RATE_TERMS.iter().position(|t| t == name) {
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
                                format!("'{name}': expected one of {TARGET_RATE_TERMS:?}"),
                            ))
                        }
                    }
                }
                indices.sort_unstable();
                Ok(indices)
            }
            _ => Err(Error::config(
                "rule.trainable",
                format!("expected \"all\" or a non-empty list of {TARGET_RATE_TERMS:?}"),
            )),
        }
    }

    /// The start of the spiking target rate: `"zero"` or an expression over its terms
    /// (e.g. `"1.0*s_post*x_trace + 1.0*s_pre*y_trace - 0.2*s_pre"`, Vogels' rule).
    pub(super) fn target_rate_initial_theta(&self) -> Result<Vec<f64>> {
        if self.rule.initial == "zero" {
            return Ok(vec![0.0; TARGET_RATE_TERMS.len()]);
        }
        SpikeRule::from_names(&TARGET_RATE_TERMS[..])?
            .parse_theta(&self.rule.initial)
            .map_err(|e| Error::config("rule.initial", e.to_string()))
    }
}
