//! What `results.json` says of a finished `plasticity discover` job: the public keys,
//! the metrics of each kind and the learned rule as text.

use super::{index, DiscoverReport};
use crate::pipeline::discover::spec::{DiscoverKind, DiscoverSpec};
use crate::rule::Variables;

impl DiscoverReport {
    /// The run's results as JSON, as `results.json` holds them: `kind`, `optimizer`,
    /// `coefficients` (by canonical name), `rule`, `trainable`, `metrics`,
    /// `loss_history`, `skipped_steps`, `evaluations`, `safeguard`, `config` (the
    /// experiment as run), `seed`, `version`, the held-out `evaluation`, and for memory
    /// `identifiable_coefficients`.
    pub fn results(&self, spec: &DiscoverSpec) -> serde_json::Value {
        use serde_json::json;
        let theta = &self.outcome.theta;
        let coefficients: serde_json::Map<String, serde_json::Value> = self
            .term_names
            .iter()
            .zip(theta)
            .map(|(name, v)| (name.clone(), json!(v)))
            .collect();
        let safeguard = match spec.kind {
            DiscoverKind::Pca => json!({
                "kind": "norm_cap",
                "value": spec.meta.norm_cap,
                "applied": "meta-training only (w ← w·min(1, cap/‖w‖) after each update); never at evaluation",
            }),
            DiscoverKind::Memory => json!({
                "kind": "weight_bound",
                "value": spec.meta.weight_bound,
                "applied": "meta-training only (|W_ij| ≤ bound after each storage step); never at evaluation",
            }),
            DiscoverKind::MemoryPhase | DiscoverKind::SpikingTargetRate => {
                json!({"kind": "none", "value": null, "applied": "never"})
            }
            DiscoverKind::PcaComponents => json!({
                "kind": "norm_cap",
                "value": spec.meta.norm_cap,
                "applied": "meta-training only (every row of W and of L capped at the value after each update); never at evaluation",
            }),
        };
        let mut results = json!({
            "kind": spec.kind,
            "optimizer": self.optimizer,
            "coefficients": coefficients,
            "rule": self.rule_expression(),
            "trainable": self.trainable.iter().map(|&k| self.term_names[k].clone()).collect::<Vec<_>>(),
            "metrics": self.metrics(),
            "loss_history": self.outcome.loss_history,
            "skipped_steps": self.outcome.skipped_steps,
            "evaluations": self.outcome.evaluations,
            "safeguard": safeguard,
            "config": spec,
            "seed": self.seed,
            "version": crate::VERSION,
        });
        if let Some(memory) = &self.memory {
            results["identifiable_coefficients"] = json!(memory.combinations);
            results["evaluation"] = json!({"learned": memory.learned, "baseline": memory.baseline});
        }
        if let Some(phase) = &self.memory_phase {
            results["evaluation"] = json!(phase);
        }
        if let Some(components) = &self.pca_components {
            results["evaluation"] = json!({
                "learned": components.learned,
                "oja_antihebbian": components.oja_antihebbian,
                "sanger": components.sanger,
            });
        }
        if let Some(target) = &self.spiking_target_rate {
            results["evaluation"] = json!(target);
        }
        if let Some(pca) = &self.pca {
            results["evaluation"] = json!({
                "learned": pca.learned,
                "two_terms": pca.two_terms,
                "baseline": pca.baseline,
            });
        }
        results
    }

    /// The learned rule as text: a Taylor expression, or for the phase-memory task
    /// `Ω(Δ) = …; H(Δ) = …` as Fourier series.
    pub fn rule_expression(&self) -> String {
        let theta = &self.outcome.theta;
        if self.pca_components.is_some() {
            let (ff, lateral) = theta.split_at(theta.len() / 2);
            return format!(
                "ff: {}; lateral: {}",
                crate::rule::format_expression(ff, Variables::Xyw),
                crate::rule::format_expression(lateral, Variables::Xyw)
            );
        }
        if let Some(target) = &self.spiking_target_rate {
            return target.learned_rule.clone();
        }
        if self.memory_phase.is_none() {
            return crate::rule::format_expression(theta, Variables::Xyw);
        }
        let mut parts: Vec<(&str, String)> = Vec::new();
        for (name, value) in self.term_names.iter().zip(theta) {
            let (rule, term) = name.split_once('.').unwrap_or(("", name));
            let rule = if rule == "omega" { "Ω(Δ)" } else { "H(Δ)" };
            let (function, k) = term.split_at(3);
            let argument = if k == "1" {
                "Δ".to_string()
            } else {
                format!("{k}Δ")
            };
            let term = format!("{value:+.4} {function}({argument})");
            match parts.iter_mut().find(|p| p.0 == rule) {
                Some(part) => part.1 = format!("{} {term}", part.1),
                None => parts.push((rule, term)),
            }
        }
        parts
            .iter()
            .map(|(rule, series)| format!("{rule} = {series}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// The metrics (public keys) and a few more, as JSON.
    pub fn metrics(&self) -> serde_json::Value {
        use serde_json::json;
        let theta = &self.outcome.theta;
        if let Some(phase) = &self.memory_phase {
            return phase.metrics();
        }
        if let Some(components) = &self.pca_components {
            return components.metrics();
        }
        if let Some(target) = &self.spiking_target_rate {
            return target.metrics();
        }
        if let Some(pca) = &self.pca {
            let (xy, yyw) = (theta[index("x*y")], theta[index("y^2*w")]);
            let mut order: Vec<usize> = (0..theta.len()).collect();
            order.sort_by(|&a, &b| theta[b].abs().total_cmp(&theta[a].abs()));
            json!({
                "cos2_T": pca.learned.cos2_t,
                "cos2_5T": pca.learned.cos2_long,
                "weight_norm_median": pca.learned.weight_norm_median,
                "weight_norm_median_5T": pca.learned.weight_norm_median_long,
                "diverged_fraction": pca.learned.diverged_fraction,
                "loss_T": pca.learned.loss_t,
                "baseline_cos2_T": pca.baseline.cos2_t,
                "baseline_cos2_5T": pca.baseline.cos2_long,
                "baseline_weight_norm_median": pca.baseline.weight_norm_median,
                "baseline_diverged_fraction": pca.baseline.diverged_fraction,
                "baseline_rate": pca.baseline_rate,
                "ratio_y2w_to_xy": yyw / xy,
                "largest_terms": [self.term_names[order[0]], self.term_names[order[1]]],
                "two_term_cos2_T": pca.two_terms.cos2_t,
                "two_term_cos2_5T": pca.two_terms.cos2_long,
                "two_term_cos2_change": (pca.two_terms.cos2_t - pca.learned.cos2_t)
                    .abs()
                    .max((pca.two_terms.cos2_long - pca.learned.cos2_long).abs()),
            })
        } else if let Some(memory) = &self.memory {
            let by_load = |pairs: &[(usize, f64)]| {
                let map: serde_json::Map<String, serde_json::Value> = pairs
                    .iter()
                    .map(|(load, v)| (load.to_string(), json!(v)))
                    .collect();
                serde_json::Value::Object(map)
            };
            let mass: f64 = memory.combinations.iter().map(|c| c.value.abs()).sum();
            let xy = memory
                .combinations
                .iter()
                .find(|c| c.name == "x*y")
                .map_or(0.0, |c| c.value);
            let combination = |name: &str| {
                memory
                    .combinations
                    .iter()
                    .find(|c| c.name == name)
                    .map_or(0.0, |c| c.value)
            };
            json!({
                "overlap_by_load": by_load(&memory.learned.overlap_by_load),
                "baseline_overlap_by_load": by_load(&memory.baseline.overlap_by_load),
                "mean_overlap_by_load": by_load(&memory.learned.mean_overlap_by_load),
                "diverged_fraction": memory.learned.diverged_fraction,
                "baseline_rule": memory.baseline_rule,
                "xy_mass_fraction": if mass > 0.0 { xy.abs() / mass } else { 0.0 },
                "identifiable_x": combination("x"),
                "identifiable_y": combination("y"),
                "identifiable_x*y": xy,
            })
        } else {
            json!({})
        }
    }
}
