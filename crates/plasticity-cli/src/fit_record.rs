//! A fit's record (RUN_DIR/results.json) as `identify` and `posterior` read it.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde_json::Value;

use plasticity::rule::{term_names, TrainableSpec, Variables};

/// What identify and posterior need from a fit's results.json.
pub(crate) struct FitRecord {
    pub(crate) kind: String,
    pub(crate) theta: Vec<f64>,
    pub(crate) data: PathBuf,
    pub(crate) settings: Value,
    pub(crate) seed: Value,
}

/// Reads what `command` (identify, posterior) needs from RUN_DIR/results.json.
pub(crate) fn read_record(run_dir: &Path, data: Option<&Path>, command: &str) -> Result<FitRecord> {
    let path = run_dir.join("results.json");
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "reading {}: {command} needs the results.json that `plasticity fit DATA --out {}` \
             writes",
            path.display(),
            run_dir.display()
        )
    })?;
    let results: Value = serde_json::from_str(&text)
        .with_context(|| format!("{} is not valid JSON", path.display()))?;
    let family = results["config"]["rule_family"]
        .as_str()
        .unwrap_or("taylor");
    if family != "taylor" || results.get("coefficients").is_none() {
        bail!(
            "{} holds a fit of an {} rule: {command} needs a Taylor fit (its coefficients \
             are named terms whose identifiability can be stated)",
            path.display(),
            family.to_uppercase()
        );
    }
    let kind = match results["data"]["kind"].as_str() {
        Some("behaviour") => "behaviour",
        _ => "neural",
    }
    .to_string();
    let variables = if kind == "behaviour" {
        Variables::Xywr
    } else {
        Variables::Xyw
    };
    let coefficients = results["coefficients"].as_object().with_context(|| {
        format!(
            "{}: 'coefficients' is not an object of term → value",
            path.display()
        )
    })?;
    let theta = term_names(variables)
        .iter()
        .map(|name| {
            coefficients
                .get(name)
                .and_then(Value::as_f64)
                .with_context(|| {
                    format!(
                        "{}: 'coefficients' has no number for the term '{name}' (a {kind} fit \
                     has all {} terms)",
                        path.display(),
                        variables.n_terms()
                    )
                })
        })
        .collect::<Result<Vec<f64>>>()?;
    let data = match data {
        Some(data) => data.to_path_buf(),
        None => PathBuf::from(results["data"]["path"].as_str().with_context(|| {
            format!(
                "{}: no 'data.path'; give the dataset with --data",
                path.display()
            )
        })?),
    };
    if !data.is_file() {
        bail!(
            "the dataset {} (from {}) does not exist: give it with --data DATA.npz",
            data.display(),
            if data.is_relative() && results["data"]["path"].is_string() {
                format!(
                    "'data.path' of {}, relative to the current directory",
                    path.display()
                )
            } else {
                "the command line".into()
            }
        );
    }
    Ok(FitRecord {
        kind,
        theta,
        data,
        settings: results["config"]["settings"].clone(),
        seed: results["seed"].clone(),
    })
}

pub(crate) fn trainable(spec: &str, variables: Variables) -> Result<Vec<usize>> {
    let mask = TrainableSpec::parse(spec)?.mask(variables)?;
    Ok((0..mask.len()).filter(|&k| mask[k]).collect())
}
