//! `plasticity discover` on shortened copies of the shipped experiments: the run
//! directory has the public keys of issue 12 (`coefficients`, `metrics`,
//! `loss_history`, `config`, `seed`, `version`; PCA `cos2_T`, `cos2_5T`,
//! `weight_norm_median`, `diverged_fraction`, `baseline_cos2_T`; memory
//! `overlap_by_load`, `baseline_overlap_by_load` keyed by load), the figures exist, the
//! same seed gives the same coefficients, `--seed` and `--optimizer` take effect, and
//! bad files are errors naming the file, key and line.

mod common;

use common::{results, run, stderr, utf8, RESULTS_KEYS};
use std::path::{Path, PathBuf};

fn experiment(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../experiments")
        .join(name)
}

/// A shortened copy of a shipped experiment (fewer tasks, steps and iterations).
fn shortened(dir: &Path, name: &str, replacements: &[(&str, &str)]) -> PathBuf {
    let mut text = std::fs::read_to_string(experiment(name)).expect("the experiment exists");
    for (from, to) in replacements {
        assert!(text.contains(from), "{name} has no '{from}'");
        text = text.replacen(from, to, 1);
    }
    let path = dir.join(name);
    std::fs::write(&path, text).expect("writing");
    path
}

fn discover(file: &Path, out: &Path, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["--quiet", "discover", utf8(file), "--out", utf8(out)];
    args.extend_from_slice(extra);
    let output = run(&args);
    assert!(output.status.success(), "{}", stderr(&output));
    results(out)
}

/// What the PCA test shortens in `pca.toml`.
const SHORTER_PCA: [(&str, &str); 5] = [
    ("steps = 500", "steps = 100"),
    ("iterations = 500", "iterations = 15"),
    ("tasks_per_step = 32", "tasks_per_step = 4"),
    ("tasks = 500 ", "tasks = 20 "),
    ("validation_tasks = 64", "validation_tasks = 8"),
];

#[test]
fn pca_runs_write_the_public_keys_and_are_reproducible() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = shortened(dir.path(), "pca.toml", &SHORTER_PCA);
    let a = discover(&file, &dir.path().join("a"), &[]);
    for key in RESULTS_KEYS {
        assert!(a.get(key).is_some(), "results.json lacks {key}");
    }
    let metrics = "cos2_T cos2_5T weight_norm_median diverged_fraction baseline_cos2_T";
    for key in metrics.split_whitespace() {
        let value = a["metrics"][key].as_f64().unwrap_or(f64::NAN);
        assert!(value.is_finite(), "metrics.{key} = {value}");
    }
    assert_eq!(a["coefficients"].as_object().expect("a map").len(), 27);
    assert_eq!(a["loss_history"].as_array().expect("a list").len(), 15);
    assert_eq!(a["seed"], 1);
    // 15 steps of Adam from θ = 0 already move x*y up and y²w down.
    assert!(a["coefficients"]["x*y"].as_f64().unwrap() > 0.0);
    assert!(a["coefficients"]["y^2*w"].as_f64().unwrap() < 0.0);
    for figure in ["meta_loss", "coefficients", "learned_vs_oja"] {
        assert!(
            dir.path().join(format!("a/figures/{figure}.png")).exists(),
            "{figure}"
        );
    }
    let again = discover(&file, &dir.path().join("b"), &[]);
    assert_eq!(a["coefficients"], again["coefficients"]);
    let other = discover(&file, &dir.path().join("c"), &["--seed", "2"]);
    assert_eq!(other["seed"], 2);
    assert_ne!(a["coefficients"], other["coefficients"]);
    let cmaes = discover(
        &file,
        &dir.path().join("d"),
        &["--optimizer", "cmaes", "--iterations", "3"],
    );
    assert_eq!(cmaes["optimizer"], "cmaes");
    assert_eq!(cmaes["loss_history"].as_array().expect("a list").len(), 3);
}

#[test]
fn memory_runs_report_overlap_by_load() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = shortened(
        dir.path(),
        "memory.toml",
        &[
            ("neurons = 100", "neurons = 40"),
            ("learning_rate = 0.01 ", "learning_rate = 0.025 "),
            ("iterations = 300", "iterations = 10"),
            ("tasks_per_step = 16", "tasks_per_step = 4"),
            ("tasks_per_load = 100", "tasks_per_load = 5"),
            ("validation_tasks = 64", "validation_tasks = 8"),
        ],
    );
    let a = discover(&file, &dir.path().join("a"), &[]);
    for key in ["overlap_by_load", "baseline_overlap_by_load"] {
        let map = a["metrics"][key].as_object().expect("a map by load");
        let loads: Vec<&str> = map.keys().map(String::as_str).collect();
        assert_eq!(loads, ["5", "10", "15", "20"], "{key}");
        assert!(map.values().all(|v| v.as_f64().is_some_and(f64::is_finite)));
    }
    let combinations = a["identifiable_coefficients"].as_array().expect("a list");
    assert_eq!(combinations.len(), 12);
    assert!(a["coefficients"]["x*y"].as_f64().unwrap() > 0.0);
    assert!(dir.path().join("a/figures/learned_vs_hebbian.svg").exists());
}

/// The phase-coded memory task, shortened: the public keys keyed by load, the
/// controls, the figures; 20 steps from the mismatched start already turn H towards Ω′.
#[test]
fn phase_memory_runs_report_quality_by_load_and_the_controls() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = shortened(
        dir.path(),
        "memory_phase.toml",
        &[
            ("neurons = 100", "neurons = 40"),
            ("loads = [5, 10, 20, 30] ", "loads = [2, 4] "),
            ("iterations = 300", "iterations = 20"),
            ("tasks_per_step = 32", "tasks_per_step = 8"),
            ("loads = [2, 5, 10, 20, 30, 40]", "loads = [2, 4, 8]"),
            ("tasks_per_load = 100", "tasks_per_load = 8"),
            ("validation_tasks = 96", "validation_tasks = 12"),
        ],
    );
    let a = discover(&file, &dir.path().join("a"), &[]);
    for key in RESULTS_KEYS {
        assert!(a.get(key).is_some(), "results.json lacks {key}");
    }
    for key in [
        "quality_by_load",
        "matched_quality_by_load",
        "mismatched_quality_by_load",
        "anti_matched_quality_by_load",
        "cue_quality_by_load",
    ] {
        let map = a["metrics"][key].as_object().expect("a map by load");
        let loads: Vec<&str> = map.keys().map(String::as_str).collect();
        assert_eq!(loads, ["2", "4", "8"], "{key}");
        assert!(map
            .values()
            .all(|v| v.as_f64().is_some_and(|q| (0.0..=1.0).contains(&q))));
    }
    let coefficients = a["coefficients"].as_object().expect("a map");
    assert_eq!(coefficients.len(), 2 + 10, "{coefficients:?}");
    assert!(coefficients.contains_key("omega.cos1") && coefficients.contains_key("h.sin5"));
    let start = a["metrics"]["correlation_with_matched"]
        .as_f64()
        .expect("a number");
    // H starts at Ω, which is orthogonal to Ω′ at one harmonic (correlation 0).
    assert!(start > 0.3, "correlation with Ω′ after 20 steps: {start}");
    for figure in [
        "meta_loss",
        "coefficients",
        "quality_by_load",
        "learned_vs_matched",
    ] {
        assert!(
            dir.path().join(format!("a/figures/{figure}.svg")).exists(),
            "{figure}"
        );
    }
    let bad = shortened(
        dir.path(),
        "memory_phase.toml",
        &[("tau_plus = 16.8", "tau_plus = -1.0")],
    );
    let output = run(&["--quiet", "discover", utf8(&bad), "--check"]);
    let message = stderr(&output);
    assert!(!output.status.success());
    assert!(
        message.contains("memory_phase.toml") && message.contains("tau_plus"),
        "{message}"
    );
}

/// Several components, shortened: the metrics of both baselines, 54 coefficients named
/// by rule, and the CMA-ES alternative through the same driver.
#[test]
fn pca_components_runs_report_both_baselines() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = shortened(
        dir.path(),
        "pca_components.toml",
        &[
            ("inputs = 20", "inputs = 8"),
            ("steps = 500", "steps = 60"),
            ("iterations = 300", "iterations = 10"),
            ("tasks_per_step = 32", "tasks_per_step = 4"),
            ("tasks = 500 ", "tasks = 10 "),
            ("validation_tasks = 64", "validation_tasks = 4"),
        ],
    );
    let a = discover(&file, &dir.path().join("a"), &[]);
    for key in [
        "captured_variance_fraction",
        "baseline_captured_variance_fraction",
        "sanger_captured_variance_fraction",
        "output_correlation",
    ] {
        let value = a["metrics"][key].as_f64().unwrap_or(f64::NAN);
        assert!((0.0..=1.0).contains(&value), "metrics.{key} = {value}");
    }
    let coefficients = a["coefficients"].as_object().expect("a map");
    assert_eq!(coefficients.len(), 54);
    assert!(coefficients.contains_key("ff.x*y") && coefficients.contains_key("lateral.y^2*w"));
    assert!(a["rule"].as_str().expect("text").starts_with("ff: "));
    let cmaes = discover(
        &file,
        &dir.path().join("b"),
        &["--optimizer", "cmaes", "--iterations", "2"],
    );
    assert_eq!(cmaes["loss_history"].as_array().expect("a list").len(), 2);
    let bad = shortened(
        dir.path(),
        "pca_components.toml",
        &[("components = 3", "components = 30")],
    );
    let output = run(&["--quiet", "discover", utf8(&bad), "--check"]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("task.components"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn bad_experiment_files_name_the_key_and_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let loads = [("inputs = 20", "inputs = 20\nloads = [5]")];
    let file = shortened(dir.path(), "pca.toml", &loads);
    let out = dir.path().join("out");
    let output = run(&["--quiet", "discover", utf8(&file), "--out", utf8(&out)]);
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(
        message.contains("pca.toml") && message.contains("task.loads") && message.contains("line"),
        "{message}"
    );
    assert!(!dir.path().join("out/results.json").exists());
}
