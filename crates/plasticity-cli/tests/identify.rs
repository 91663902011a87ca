//! `plasticity identify` on a tiny fit: identifiability.json has the public keys, unit
//! directions in ascending order of eigenvalue and Laplace intervals around the fitted
//! θ; bad input names the file and what was expected.

mod common;

use common::{run, stderr};
use std::path::Path;

use plasticity::task::OjaTask;
use serde_json::Value;

const TERMS: &str = "x*y,y^2*w,x,w";

/// A tiny noisy Oja dataset fitted over four terms; returns the fit's directory.
fn fitted(dir: &Path) -> std::path::PathBuf {
    let data = dir.join("d.npz");
    OjaTask {
        n_pre: 4,
        n_post: 8,
        steps: 20,
        trajectories: 3,
        noise_std: 0.02,
        seed: 7,
        ..OjaTask::default()
    }
    .simulate()
    .expect("simulated")
    .save(&data)
    .expect("saved");
    let fit = dir.join("fit");
    let output = run(&[
        "--quiet",
        "fit",
        data.to_str().expect("utf-8"),
        "--out",
        fit.to_str().expect("utf-8"),
        "--trainable",
        TERMS,
        "--epochs",
        "200",
    ]);
    assert!(output.status.success(), "fit: {}", stderr(&output));
    fit
}

#[test]
fn identify_writes_the_report_and_figures() {
    let dir = tempfile::tempdir().expect("temp dir");
    let fit = fitted(dir.path());
    let output = run(&[
        "--quiet",
        "identify",
        fit.to_str().expect("utf-8"),
        "--terms",
        "x*y",
    ]);
    assert!(output.status.success(), "identify: {}", stderr(&output));
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(fit.join("identifiability.json")).expect("written"),
    )
    .expect("JSON");
    for key in [
        "terms",
        "eigenvalues",
        "condition_number",
        "directions",
        "standard_errors",
        "intervals",
        "method",
        "version",
        "sentences",
    ] {
        assert!(report.get(key).is_some(), "missing key {key}");
    }
    let terms: Vec<&str> = report["terms"]
        .as_array()
        .expect("terms")
        .iter()
        .map(|t| t.as_str().expect("name"))
        .collect();
    // trainable terms in canonical order
    assert_eq!(terms, vec!["w", "y^2*w", "x", "x*y"]);
    let eigenvalues: Vec<f64> = report["eigenvalues"]
        .as_array()
        .expect("eigenvalues")
        .iter()
        .map(|v| v.as_f64().expect("number"))
        .collect();
    assert_eq!(eigenvalues.len(), 4);
    assert!(
        eigenvalues.windows(2).all(|w| w[0] <= w[1]),
        "{eigenvalues:?}"
    );
    assert!(eigenvalues[0] > 0.0);
    let condition = report["condition_number"].as_f64().expect("finite");
    assert!((condition - eigenvalues[3] / eigenvalues[0]).abs() <= 1e-9 * condition);
    let directions = report["directions"].as_array().expect("directions");
    assert_eq!(directions.len(), 4);
    let vectors: Vec<Vec<f64>> = directions
        .iter()
        .zip(&eigenvalues)
        .map(|(d, &lambda)| {
            assert_eq!(d["eigenvalue"].as_f64(), Some(lambda));
            terms
                .iter()
                .map(|t| d["loadings"][t].as_f64().expect("a loading per term"))
                .collect()
        })
        .collect();
    for (a, u) in vectors.iter().enumerate() {
        for (b, v) in vectors.iter().enumerate() {
            let dot: f64 = u.iter().zip(v).map(|(x, y)| x * y).sum();
            let expected = if a == b { 1.0 } else { 0.0 };
            assert!((dot - expected).abs() < 1e-10, "directions {a}·{b} = {dot}");
        }
    }
    let results: Value =
        serde_json::from_str(&std::fs::read_to_string(fit.join("results.json")).expect("results"))
            .expect("JSON");
    for term in &terms {
        let theta = results["coefficients"][term].as_f64().expect("θ");
        let interval = &report["intervals"][term];
        let (low, high) = (
            interval[0].as_f64().expect("low"),
            interval[1].as_f64().expect("high"),
        );
        let se = report["standard_errors"][term].as_f64().expect("SE");
        assert!(
            se > 0.0 && low < theta && theta < high,
            "{term}: {theta} in [{low}, {high}]"
        );
        assert!((high - low - 2.0 * 1.959_963_984_540_054 * se).abs() < 1e-9 * (high - low));
    }
    let profile = &report["profile_intervals"]["x*y"]["interval"];
    let (low, high) = (
        profile[0].as_f64().expect("low"),
        profile[1].as_f64().expect("high"),
    );
    let theta = results["coefficients"]["x*y"].as_f64().expect("θ");
    assert!(
        low < theta && theta < high,
        "profile {low} < {theta} < {high}"
    );
    for figure in ["identifiability_spectrum", "identifiability_directions"] {
        assert!(fit.join("figures").join(format!("{figure}.png")).is_file());
    }
}

#[test]
fn identify_names_what_is_missing() {
    let dir = tempfile::tempdir().expect("temp dir");
    // no results.json
    let output = run(&["identify", dir.path().to_str().expect("utf-8")]);
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(
        message.contains("results.json") && message.contains("plasticity fit"),
        "{message}"
    );
    let fit = fitted(dir.path());
    // the data file gone
    std::fs::remove_file(dir.path().join("d.npz")).expect("removed");
    let output = run(&["identify", fit.to_str().expect("utf-8")]);
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(
        message.contains("d.npz") && message.contains("--data"),
        "{message}"
    );
    // an MLP fit
    let results = fit.join("results.json");
    let mut json: Value =
        serde_json::from_str(&std::fs::read_to_string(&results).expect("read")).expect("JSON");
    json["config"]["rule_family"] = Value::from("mlp");
    std::fs::write(&results, json.to_string()).expect("written");
    let output = run(&["identify", fit.to_str().expect("utf-8")]);
    let message = stderr(&output);
    assert!(
        message.contains("needs a Taylor fit") && message.contains("results.json"),
        "{message}"
    );
    assert!(!fit.join("identifiability.json").exists());
}

#[test]
fn every_fit_has_the_report_in_its_results() {
    let dir = tempfile::tempdir().expect("temp dir");
    let fit = fitted(dir.path());
    let output = run(&["--quiet", "identify", fit.to_str().expect("utf-8")]);
    assert!(output.status.success(), "identify: {}", stderr(&output));
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(fit.join("identifiability.json")).expect("written"),
    )
    .expect("JSON");
    let results: Value =
        serde_json::from_str(&std::fs::read_to_string(fit.join("results.json")).expect("results"))
            .expect("JSON");
    let section = &results["identifiability"];
    assert_eq!(section["computed"], true, "{section}");
    // the same report as `identify` on the same fit
    for key in [
        "terms",
        "eigenvalues",
        "condition_number",
        "standard_errors",
        "intervals",
        "method",
    ] {
        assert_eq!(section[key], report[key], "{key}");
    }
    // a behaviour fit has one too, over its trainable terms
    let data = dir.path().join("b.npz");
    let simulated = run(&[
        "--quiet",
        "simulate",
        "behaviour",
        "--out",
        data.to_str().unwrap(),
        "--sessions",
        "4",
        "--blocks",
        "2",
        "--trials-per-block",
        "30",
        "--rule",
        "x*r - 0.05*w",
    ]);
    assert!(simulated.status.success(), "{}", stderr(&simulated));
    let out = dir.path().join("bfit");
    let fitted_behaviour = run(&[
        "--quiet",
        "fit",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--trainable",
        "1,x*r,w",
        "--epochs",
        "30",
    ]);
    assert!(
        fitted_behaviour.status.success(),
        "{}",
        stderr(&fitted_behaviour)
    );
    let results: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    let section = &results["identifiability"];
    assert_eq!(section["computed"], true, "{section}");
    assert_eq!(section["terms"], serde_json::json!(["1", "w", "x*r"]));
    assert!(section["condition_number"].as_f64().unwrap() >= 1.0);
    // an MLP fit says why it has none
    let mlp = dir.path().join("mlp");
    let fitted_mlp = run(&[
        "--quiet",
        "fit",
        data.to_str().unwrap(),
        "--out",
        mlp.to_str().unwrap(),
        "--rule-family",
        "mlp",
        "--hidden",
        "3",
        "--epochs",
        "2",
    ]);
    assert!(fitted_mlp.status.success(), "{}", stderr(&fitted_mlp));
    let results: Value =
        serde_json::from_str(&std::fs::read_to_string(mlp.join("results.json")).unwrap()).unwrap();
    assert_eq!(results["identifiability"]["computed"], false);
    assert!(results["identifiability"]["reason"]
        .as_str()
        .unwrap()
        .contains("MLP"));
}
