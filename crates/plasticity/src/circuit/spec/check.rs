//! The checks of a parsed circuit file: every population, rule and projection is
//! checked, and each error names the table and key at fault (and its line).

use crate::rule::{parse_expression, TrainableSpec, Variables};
use crate::{Error, Result};

use super::{CircuitSpec, InitialWeightsFit, PopulationSpec, ProjectionSpec, Reader, Recorded};

impl CircuitSpec {
    /// Checks every population, rule and projection, then builds the network once (for
    /// the update order and the shapes), naming the table and key of any error.
    pub(super) fn check(&self, reader: &Reader<'_>) -> Result<()> {
        if self.populations.is_empty() {
            return Err(Error::data(
                reader.path,
                "populations",
                "the circuit declares no population ([populations.NAME])",
            ));
        }
        let names: Vec<&str> = self.populations.iter().map(|p| p.name.as_str()).collect();
        for population in &self.populations {
            check_population(reader, population)?;
        }
        self.check_rules(reader)?;
        for projection in &self.projections {
            self.check_projection(reader, &names, projection)?;
        }
        // the order and shapes (delays, mask shapes) are checked when built
        self.build(0, None).map(|_| ()).map_err(|e| match e {
            Error::Config { key, message } => {
                let (section, field) = key
                    .rsplit_once('.')
                    .map(|(s, f)| {
                        if s.contains('.') {
                            (s.to_string(), f.to_string())
                        } else {
                            (key.clone(), String::new())
                        }
                    })
                    .unwrap_or((key.clone(), String::new()));
                reader.error(&section, &field, message)
            }
            Error::TooLarge {
                what,
                needed,
                limit,
            } => Error::TooLarge {
                what: format!("{what} of {}", reader.path.display()),
                needed,
                limit,
            },
            other => other,
        })
    }

    /// The checks of every rule: a known family, a valid `trainable` and `rule`.
    fn check_rules(&self, reader: &Reader<'_>) -> Result<()> {
        for rule in &self.rules {
            let section = format!("rules.{}", rule.name);
            match rule.family.as_str() {
                "taylor" => {
                    TrainableSpec::parse(&rule.trainable)
                        .and_then(|t| t.mask(Variables::Xyw))
                        .map_err(|e| reader.error(&section, "trainable", e))?;
                }
                "mlp" => {}
                other => {
                    return Err(reader.error(
                        &section,
                        "family",
                        format!("'{other}': expected taylor or mlp"),
                    ));
                }
            }
            if let Some(expression) = &rule.rule {
                parse_expression(expression, Variables::Xyw)
                    .map_err(|e| reader.error(&section, "rule", e))?;
            }
        }
        Ok(())
    }

    /// The checks of one projection: declared populations and rule, its delay, its
    /// initial weights, how they are fitted and its mask (`names`: the populations).
    fn check_projection(
        &self,
        reader: &Reader<'_>,
        names: &[&str],
        projection: &ProjectionSpec,
    ) -> Result<()> {
        let section = format!("projections.{}", projection.name);
        for (key, population) in [("from", &projection.from), ("to", &projection.to)] {
            if !names.contains(&population.as_str()) {
                return Err(reader.error(
                    &section,
                    key,
                    format!(
                        "names population '{population}', which is not declared (populations: {})",
                        names.join(", ")
                    ),
                ));
            }
        }
        if let Some(rule) = &projection.rule {
            if !self.rules.iter().any(|r| &r.name == rule) {
                let rules: Vec<&str> = self.rules.iter().map(|r| r.name.as_str()).collect();
                return Err(reader.error(
                    &section,
                    "rule",
                    format!(
                        "names rule '{rule}', which is not declared (rules: {})",
                        rules.join(", ")
                    ),
                ));
            }
        }
        if let Some(delay) = projection.delay {
            if delay > 1 {
                return Err(reader.error(
                    &section,
                    "delay",
                    format!("must be 0 or 1, found {delay}"),
                ));
            }
        }
        let w0 = &projection.initial_weights;
        if !(w0.std >= 0.0 && w0.std.is_finite() && w0.mean.is_finite()) {
            return Err(reader.error(
                &section,
                "initial_weights",
                "needs a finite mean and a finite std ≥ 0",
            ));
        }
        if projection.fit_initial_weights == InitialWeightsFit::PerTrajectory {
            return Err(reader.error(
                &section,
                "fit_initial_weights",
                "per-trajectory W₀ is refused: fitted jointly with θ it is not identifiable (W₀ and θ trade off, and a row of W₀ has more unknowns than informative data; measured in a prototype and in docs/circuits.md); use \"shared\" (one W₀ for every trajectory) or \"given\"",
            ));
        }
        if let Some(mask) = &projection.mask {
            match (mask.density, &mask.file) {
                (Some(d), None) if (0.0..=1.0).contains(&d) => {}
                (Some(d), None) => {
                    return Err(reader.error(
                        &section,
                        "mask",
                        format!("density must be in [0, 1], found {d}"),
                    ))
                }
                (None, Some(_)) => {}
                _ => {
                    return Err(reader.error(
                        &section,
                        "mask",
                        "give exactly one of density or file",
                    ))
                }
            }
        }
        Ok(())
    }
}

/// The checks of one population: its size, activation, recorded neurons and input noise.
fn check_population(reader: &Reader<'_>, population: &PopulationSpec) -> Result<()> {
    let section = format!("populations.{}", population.name);
    if population.size == 0 {
        return Err(reader.error(&section, "size", "must be at least 1"));
    }
    if population.input && population.activation.is_some() {
        return Err(reader.error(
            &section,
            "activation",
            "an input population has no activation (its activity is given)",
        ));
    }
    match &population.recorded {
        Recorded::Fraction(f) if !(0.0..=1.0).contains(f) => {
            return Err(reader.error(
                &section,
                "recorded",
                format!("a fraction must be in [0, 1], found {f}"),
            ));
        }
        Recorded::Neurons(list) => {
            if let Some(bad) = list.iter().find(|&&i| i >= population.size) {
                return Err(reader.error(
                    &section,
                    "recorded",
                    format!("neuron {bad} is out of range 0..{}", population.size),
                ));
            }
        }
        _ => {}
    }
    if !(population.input_std >= 0.0 && population.input_std.is_finite()) {
        return Err(reader.error(&section, "input_std", "must be a finite number ≥ 0"));
    }
    Ok(())
}
