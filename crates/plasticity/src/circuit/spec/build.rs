//! Building the [`Network`] a circuit file describes: its rules, the generating θ, the
//! masks (drawn or read from a file) and the initial weights.

use std::path::Path;

use crate::circuit::network::{
    Activation, Connectivity, NamedRule, Network, Population, PopulationKind, Projection,
};
use crate::rule::{parse_expression, Rule, RuleFamily, Variables};
use crate::{Error, Result};

use super::{CircuitSpec, MaskSpec};

impl CircuitSpec {
    /// The circuit's rules with their names.
    pub fn named_rules(&self) -> Result<Vec<NamedRule>> {
        self.rules
            .iter()
            .map(|spec| {
                let family = match spec.family.as_str() {
                    "mlp" => RuleFamily::Mlp,
                    _ => RuleFamily::Taylor,
                };
                let rule = Rule::of_family(family, Variables::Xyw, &spec.hidden)?;
                Ok(NamedRule {
                    name: spec.name.clone(),
                    rule,
                })
            })
            .collect()
    }

    /// The generating θ of every rule (each from its `rule` expression).
    pub fn generating_theta(&self) -> Result<Option<Vec<f64>>> {
        let mut theta = Vec::new();
        for spec in &self.rules {
            let Some(expression) = &spec.rule else {
                return Ok(None);
            };
            if spec.family != "taylor" {
                return Ok(None);
            }
            theta.extend(parse_expression(expression, Variables::Xyw)?);
        }
        Ok(Some(theta))
    }

    /// Builds the network. Random masks are drawn from `seed`; `masks` (one per
    /// projection, from a dataset) replace the circuit's own.
    pub fn build(&self, seed: u64, masks: Option<&[Connectivity]>) -> Result<Network> {
        use rand::{RngExt, SeedableRng};
        let index = |name: &str| self.populations.iter().position(|p| p.name == name);
        let populations: Vec<Population> = self
            .populations
            .iter()
            .map(|spec| Population {
                name: spec.name.clone(),
                size: spec.size,
                kind: if spec.input {
                    PopulationKind::Input
                } else {
                    PopulationKind::Neurons {
                        activation: spec.activation.unwrap_or(Activation::Sigmoid),
                        external_input: spec.external_input,
                        initial_activity: spec.initial_activity,
                    }
                },
            })
            .collect();
        let position = |p: usize| populations[..p].iter().filter(|q| q.is_simulated()).count();
        let mut projections = Vec::new();
        // the synapses drawn or read so far, against the memory limit
        let mut synapse_bytes = Some(0u64);
        for (k, spec) in self.projections.iter().enumerate() {
            let key = format!("projections.{}", spec.name);
            let (Some(pre), Some(post)) = (index(&spec.from), index(&spec.to)) else {
                return Err(Error::config(
                    key,
                    "names a population the circuit does not have",
                ));
            };
            let (n_pre, n_post) = (populations[pre].size, populations[post].size);
            let connectivity = match masks {
                Some(masks) => masks[k].clone(),
                None => {
                    // at most every synapse present: its presynaptic index, and the
                    // row starts (a mask file's 0/1 entries take less), refused before
                    // any is drawn or read where they would not fit
                    let (pre_size, post_size) = (n_pre as u64, n_post as u64);
                    synapse_bytes = pre_size
                        .checked_mul(post_size)
                        .and_then(|s| s.checked_add(post_size + 1))
                        .and_then(|s| s.checked_mul(8))
                        .and_then(|s| s.checked_add(synapse_bytes?));
                    crate::limits::check_dataset_bytes(
                        &format!(
                            "the synapses of projection '{}' ({n_post} × {n_pre} neurons, with those before it)",
                            spec.name
                        ),
                        synapse_bytes,
                    )?;
                    let self_synapses = pre != post || spec.self_synapses;
                    match &spec.mask {
                        None => Connectivity::all(n_pre, n_post, self_synapses),
                        Some(MaskSpec {
                            density: Some(density),
                            ..
                        }) => {
                            let mut rng = rand::rngs::ChaCha8Rng::seed_from_u64(
                                seed ^ (0x6d61_736b_0000 + k as u64),
                            );
                            Connectivity::from_fn(n_pre, n_post, |i, j| {
                                let draw = rng.random::<f64>() < *density;
                                draw && (self_synapses || i != j)
                            })
                        }
                        Some(MaskSpec {
                            file: Some(file), ..
                        }) => {
                            let mask = read_mask(&self.base.join(file), n_pre, n_post, &key)?;
                            Connectivity::from_mask(n_pre, n_post, &mask)
                        }
                        Some(_) => {
                            return Err(Error::config(
                                format!("{key}.mask"),
                                "give exactly one of density or file",
                            ))
                        }
                    }
                }
            };
            let delayed = match spec.delay {
                Some(d) => d == 1,
                None => populations[pre].is_simulated() && position(pre) >= position(post),
            };
            let rule = match &spec.rule {
                None => None,
                Some(name) => Some(self.rules.iter().position(|r| &r.name == name).ok_or_else(
                    || {
                        Error::config(
                            format!("{key}.rule"),
                            format!("names rule '{name}', which is not declared"),
                        )
                    },
                )?),
            };
            projections.push(Projection {
                name: spec.name.clone(),
                pre,
                post,
                delayed,
                connectivity,
                rule,
                learning_rate: spec.learning_rate,
            });
        }
        Ok(Network::new(populations, projections, self.named_rules()?)?
            .with_weight_bound(self.weight_bound))
    }
}

/// A connectome: `pre,post` pairs (`.csv`, `.txt`) or a dense `[n_post, n_pre]` 0/1
/// `.npy` matrix.
fn read_mask(path: &Path, n_pre: usize, n_post: usize, key: &str) -> Result<Vec<bool>> {
    let mut mask = vec![false; n_pre * n_post];
    let is_npy = path.extension().is_some_and(|e| e == "npy");
    if is_npy {
        let array: ndarray::Array2<f64> = ndarray_npy::read_npy(path)
            .or_else(|_| {
                ndarray_npy::read_npy::<_, ndarray::Array2<i64>>(path).map(|a| a.mapv(|v| v as f64))
            })
            .map_err(|e| {
                Error::data(
                    path,
                    key,
                    format!("expected a 2-d float64 or int64 .npy mask: {e}"),
                )
            })?;
        if array.dim() != (n_post, n_pre) {
            return Err(Error::data(
                path,
                key,
                format!(
                    "the mask has shape {:?}, expected [{n_post}, {n_pre}] ([post, pre])",
                    array.shape()
                ),
            ));
        }
        for (slot, &v) in mask.iter_mut().zip(array.iter()) {
            if v != 0.0 && v != 1.0 {
                return Err(Error::data(
                    path,
                    key,
                    format!("mask entries must be 0 or 1, found {v}"),
                ));
            }
            *slot = v == 1.0;
        }
        return Ok(mask);
    }
    let text = crate::io::read_text(path, key)?;
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line
            .split([',', ' ', '\t'])
            .filter(|f| !f.is_empty())
            .collect();
        let parsed: Option<Vec<usize>> = fields.iter().map(|f| f.parse().ok()).collect();
        match parsed.as_deref() {
            Some([pre, post]) => {
                if *pre >= n_pre || *post >= n_post {
                    return Err(Error::data(
                        path,
                        key,
                        format!("line {}: pair ({pre}, {post}) is out of range (pre < {n_pre}, post < {n_post})", number + 1),
                    ));
                }
                mask[post * n_pre + pre] = true;
            }
            None if number == 0 => continue, // a header
            _ => {
                return Err(Error::data(
                    path,
                    key,
                    format!(
                        "line {}: expected two indices 'pre,post', found '{line}'",
                        number + 1
                    ),
                ))
            }
        }
    }
    Ok(mask)
}
