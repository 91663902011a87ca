//! `plasticity identify RUN_DIR`: what a fit's data determine (the Gauss–Newton /
//! Fisher information at the fitted θ, its eigen-directions, Laplace standard errors
//! and intervals, profile-likelihood intervals for named terms), written to
//! RUN_DIR/identifiability.json and RUN_DIR/figures/.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;
use serde_json::{json, Value};

use plasticity::data::Dataset;
use plasticity::fit::behaviour::{circuit_of, resample_inputs, BehaviourFitSettings, InputSource};
use plasticity::fit::neural::NeuralFitSettings;
use plasticity::fit::profile::{ProfileInterval, ProfileSettings};
use plasticity::gradient::GradientStrategy;
use plasticity::identifiability::{
    analyse, behaviour_curvature, neural_curvature, profile_intervals, Curvature, Identifiability,
};
use plasticity::objective::{BehaviourObjective, NeuralObjective};
use plasticity::report::write_json;
use plasticity::rule::{term_names, TaylorRule, Term, TrainableSpec, Variables};

#[derive(Args, Debug)]
pub(crate) struct IdentifyArgs {
    /// The directory of a fit (`plasticity fit DATA --out DIR`): its results.json
    /// gives θ, the trainable terms and the data.
    run_dir: PathBuf,
    /// The dataset, if not at the path recorded in results.json.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Trainable terms to give profile-likelihood intervals too, comma-separated
    /// (e.g. x*y,y^2*w): each costs a few dozen constrained L-BFGS fits.
    #[arg(long, value_delimiter = ',')]
    terms: Vec<String>,
    /// Where identifiability.json and figures/ go (default: RUN_DIR).
    #[arg(long)]
    out: Option<PathBuf>,
}

/// What identify needs from a fit's results.json.
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

fn named_terms(terms: &[String], variables: Variables, trainable: &[usize]) -> Result<Vec<usize>> {
    terms
        .iter()
        .map(|name| {
            let k = Term::parse(name.trim(), variables)
                .with_context(|| format!("reading --terms: '{name}'"))?
                .index(variables)
                .with_context(|| format!("--terms: '{name}' is not a term of this rule"))?;
            if !trainable.contains(&k) {
                bail!("--terms: '{name}' was not trained in this fit (it is fixed at 0)");
            }
            Ok(k)
        })
        .collect()
}

pub(crate) fn identify_command(args: &IdentifyArgs) -> Result<()> {
    let record = read_record(&args.run_dir, args.data.as_deref(), "identify")?;
    let out = args.out.clone().unwrap_or_else(|| args.run_dir.clone());
    let dataset = Dataset::load(&record.data)
        .with_context(|| format!("reading dataset {}", record.data.display()))?;
    let profile_settings = ProfileSettings::default();
    let (variables, curvature, profiles): (Variables, Curvature, Vec<ProfileInterval>) =
        match (&dataset, record.kind.as_str()) {
            (Dataset::Neural(dataset), "neural") => {
                let settings: NeuralFitSettings =
                    serde_json::from_value(record.settings.clone())
                        .context("reading config.settings of results.json (a neural fit)")?;
                let variables = Variables::Xyw;
                let parameters = trainable(&settings.trainable, variables)?;
                let named = named_terms(&args.terms, variables, &parameters)?;
                let rule = TaylorRule::new(variables);
                let curvature = neural_curvature(dataset, &rule, &record.theta, &parameters)
                    .context("computing the Gauss-Newton matrix")?;
                let profiles = if named.is_empty() {
                    Vec::new()
                } else {
                    let objective =
                        NeuralObjective::new(dataset, rule, GradientStrategy::Checkpointed);
                    profile_intervals(
                        &objective,
                        curvature.likelihood_scale,
                        &parameters,
                        &record.theta,
                        &named,
                        &profile_settings,
                    )
                    .context("profile-likelihood intervals")?
                };
                (variables, curvature, profiles)
            }
            (Dataset::Behaviour(dataset), "behaviour") => {
                let settings: BehaviourFitSettings =
                    serde_json::from_value(record.settings.clone())
                        .context("reading config.settings of results.json (a behaviour fit)")?;
                let variables = Variables::Xywr;
                let parameters = trainable(&settings.trainable, variables)?;
                let named = named_terms(&args.terms, variables, &parameters)?;
                let rule = TaylorRule::new(variables);
                let inputs = match settings.inputs {
                    InputSource::Resampled => resample_inputs(dataset, settings.input_seed)?,
                    InputSource::Recorded => dataset.inputs.clone(),
                };
                let circuit = circuit_of(dataset, settings.weight_bound);
                let curvature = behaviour_curvature(
                    dataset,
                    &inputs,
                    &circuit,
                    &rule,
                    &record.theta,
                    &parameters,
                )
                .context("computing the Fisher information")?;
                let profiles = if named.is_empty() {
                    Vec::new()
                } else {
                    let objective = BehaviourObjective::new(
                        dataset,
                        inputs,
                        circuit,
                        rule,
                        GradientStrategy::Checkpointed,
                    );
                    profile_intervals(
                        &objective,
                        curvature.likelihood_scale,
                        &parameters,
                        &record.theta,
                        &named,
                        &profile_settings,
                    )
                    .context("profile-likelihood intervals")?
                };
                (variables, curvature, profiles)
            }
            (_, kind) => bail!(
                "{} is not a {kind} dataset, but results.json in {} is a {kind} fit",
                record.data.display(),
                args.run_dir.display()
            ),
        };
    let names = term_names(variables);
    let report =
        analyse(&curvature, &names, &record.theta).context("analysing the information matrix")?;
    let mut json = report.to_json();
    json.insert("method".into(), json!(curvature.method));
    json.insert("loss".into(), json!(curvature.loss));
    json.insert("observations".into(), json!(curvature.observations));
    json.insert(
        "residual_variance".into(),
        json!(curvature.residual_variance),
    );
    json.insert("likelihood_scale".into(), json!(curvature.likelihood_scale));
    json.insert(
        "profile_intervals".into(),
        Value::Object(
            profiles
                .iter()
                .map(|p| {
                    (
                        names[p.parameter].clone(),
                        json!({
                            "estimate": p.estimate,
                            "interval": [p.lower, p.upper],
                            "fits": p.fits,
                        }),
                    )
                })
                .collect(),
        ),
    );
    json.insert(
        "fit".into(),
        json!(args.run_dir.join("results.json").display().to_string()),
    );
    json.insert("data".into(), json!(record.data.display().to_string()));
    json.insert("seed".into(), record.seed.clone());
    json.insert("version".into(), json!(plasticity::VERSION));
    std::fs::create_dir_all(out.join("figures"))
        .with_context(|| format!("creating {}", out.join("figures").display()))?;
    write_json(&out.join("identifiability.json"), &Value::Object(json))?;
    draw_figures(&out.join("figures"), &report)?;
    print_report(&report);
    note!(
        "written: {} and {}",
        out.join("identifiability.json").display(),
        out.join("figures").display()
    );
    Ok(())
}

fn draw_figures(dir: &Path, report: &Identifiability) -> Result<()> {
    let spectrum: Vec<(f64, f64)> = report
        .eigenvalues
        .iter()
        .enumerate()
        .filter(|(_, &v)| v > 0.0)
        .map(|(k, &v)| ((k + 1) as f64, v))
        .collect();
    if !spectrum.is_empty() {
        plasticity::figures::line_plot(
            &dir.join("identifiability_spectrum"),
            &format!(
                "Information spectrum (condition number {})",
                report
                    .condition_number
                    .map(|c| format!("{c:.2e}"))
                    .unwrap_or_else(|| "∞".into())
            ),
            "eigenvalue rank (ascending)",
            "eigenvalue of the Fisher information",
            &[plasticity::figures::Series::new("eigenvalue", spectrum)],
            false,
            true,
        )?;
    }
    let worst: Vec<_> = report.directions.iter().take(3).collect();
    let rows: Vec<String> = worst
        .iter()
        .enumerate()
        .map(|(k, d)| format!("#{} λ={:.2e}", k + 1, d.eigenvalue))
        .collect();
    let values: Vec<Vec<f64>> = worst.iter().map(|d| d.loadings.clone()).collect();
    plasticity::figures::heat_map(
        &dir.join("identifiability_directions"),
        "Loadings of the least-determined directions",
        "term",
        "direction",
        &report.terms,
        &rows,
        &values,
        "loading",
    )?;
    Ok(())
}

fn print_report(report: &Identifiability) {
    show!(
        "condition number: {}",
        report
            .condition_number
            .map(|c| format!("{c:.3e}"))
            .unwrap_or_else(|| "infinite (singular information)".into())
    );
    for sentence in &report.sentences {
        show!("- {sentence}");
    }
    show!(
        "{:>14}  {:>11}  {:>11}  {:>24}",
        "term",
        "estimate",
        "SE",
        "95 % (Laplace)"
    );
    for ((term, estimate), (se, interval)) in report
        .terms
        .iter()
        .zip(&report.estimates)
        .zip(report.standard_errors.iter().zip(&report.intervals))
    {
        let se = se.map(|s| format!("{s:.3e}")).unwrap_or_else(|| "-".into());
        let interval = interval
            .map(|(l, h)| format!("[{l:.4}, {h:.4}]"))
            .unwrap_or_else(|| "undetermined".into());
        show!("{term:>14}  {estimate:>11.4}  {se:>11}  {interval:>24}");
    }
}
