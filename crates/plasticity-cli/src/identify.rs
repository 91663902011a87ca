//! `plasticity identify RUN_DIR`: what a fit's data determine (the Gauss–Newton /
//! Fisher information at the fitted θ, its eigen-directions, Laplace standard errors
//! and intervals, profile-likelihood intervals for named terms), written to
//! RUN_DIR/identifiability.json and RUN_DIR/figures/.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;
use serde_json::{json, Value};

use plasticity::analysis::identifiability::{
    analyse, behaviour_curvature, neural_curvature, profile_intervals, Curvature, Identifiability,
};
use plasticity::analysis::profile::{ProfileInterval, ProfileSettings};
use plasticity::data::{BehaviourDataset, Dataset, NeuralDataset};
use plasticity::gradient::GradientStrategy;
use plasticity::objective::{BehaviourObjective, NeuralObjective};
use plasticity::pipeline::behaviour::{
    circuit_of, resample_inputs, BehaviourFitSettings, InputSource,
};
use plasticity::pipeline::neural::NeuralFitSettings;
use plasticity::report::write_json;
use plasticity::rule::{term_names, TaylorRule, Term, Variables};

use crate::fit_record::{read_record, trainable, FitRecord};

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
                neural_information(args, &record, dataset, &profile_settings)?
            }
            (Dataset::Behaviour(dataset), "behaviour") => {
                behaviour_information(args, &record, dataset, &profile_settings)?
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
        plasticity::report::figures::line_plot(
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
            &[plasticity::report::figures::Series::new(
                "eigenvalue",
                spectrum,
            )],
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
    plasticity::report::figures::heat_map(
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

/// The curvature of a neural fit's loss (Gauss-Newton) over its trainable terms, and
/// the profile intervals of --terms.
fn neural_information(
    args: &IdentifyArgs,
    record: &FitRecord,
    dataset: &NeuralDataset,
    profile_settings: &ProfileSettings,
) -> Result<(Variables, Curvature, Vec<ProfileInterval>)> {
    let settings: NeuralFitSettings = serde_json::from_value(record.settings.clone())
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
        let objective = NeuralObjective::new(dataset, rule, GradientStrategy::Checkpointed)?;
        profile_intervals(
            &objective,
            curvature.likelihood_scale,
            &parameters,
            &record.theta,
            &named,
            profile_settings,
        )
        .context("profile-likelihood intervals")?
    };
    Ok((variables, curvature, profiles))
}

/// The Fisher information of a behaviour fit over its trainable terms, and the profile
/// intervals of --terms.
fn behaviour_information(
    args: &IdentifyArgs,
    record: &FitRecord,
    dataset: &BehaviourDataset,
    profile_settings: &ProfileSettings,
) -> Result<(Variables, Curvature, Vec<ProfileInterval>)> {
    let settings: BehaviourFitSettings = serde_json::from_value(record.settings.clone())
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
        )?;
        profile_intervals(
            &objective,
            curvature.likelihood_scale,
            &parameters,
            &record.theta,
            &named,
            profile_settings,
        )
        .context("profile-likelihood intervals")?
    };
    Ok((variables, curvature, profiles))
}
