//! `plasticity identify` on a tiny fit: identifiability.json has the public keys, unit
//! directions in ascending order of eigenvalue and Laplace intervals around the fitted
//! θ; bad input names the file and what was expected.

mod common;

use common::{
    args, args_then, assert_fails_saying, json, results, run, save_small_oja, stderr, utf8,
};
use std::path::Path;

use serde_json::Value;

const TERMS: &str = "x*y,y^2*w,x,w";

/// A tiny noisy Oja dataset fitted over four terms; returns the fit's directory.
fn fitted(dir: &Path) -> std::path::PathBuf {
    let data = dir.join("d.npz");
    save_small_oja(&data);
    let fit = dir.join("fit");
    let head = [
        "--quiet",
        "fit",
        utf8(&data),
        "--out",
        utf8(&fit),
        "--trainable",
        TERMS,
    ];
    let output = run(&args(&head, "--epochs 200"));
    assert!(output.status.success(), "fit: {}", stderr(&output));
    fit
}

#[test]
fn identify_writes_the_report_and_figures() {
    let dir = tempfile::tempdir().expect("temp dir");
    let fit = fitted(dir.path());
    let output = run(&["--quiet", "identify", utf8(&fit), "--terms", "x*y"]);
    assert!(output.status.success(), "identify: {}", stderr(&output));
    let report = json(&fit.join("identifiability.json"));
    let keys = "terms eigenvalues condition_number directions standard_errors intervals";
    for key in keys
        .split_whitespace()
        .chain(["method", "version", "sentences"])
    {
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
    let results = results(&fit);
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
    let output = run(&["identify", utf8(dir.path())]);
    assert_fails_saying(&output, &["results.json", "plasticity fit"]);
    let fit = fitted(dir.path());
    // the data file gone
    std::fs::remove_file(dir.path().join("d.npz")).expect("removed");
    let output = run(&["identify", utf8(&fit)]);
    assert_fails_saying(&output, &["d.npz", "--data"]);
    // an MLP fit
    let results = fit.join("results.json");
    let mut mlp = json(&results);
    mlp["config"]["rule_family"] = Value::from("mlp");
    std::fs::write(&results, mlp.to_string()).expect("written");
    let message = stderr(&run(&["identify", utf8(&fit)]));
    for needle in ["needs a Taylor fit", "results.json"] {
        assert!(message.contains(needle), "{message}");
    }
    assert!(!fit.join("identifiability.json").exists());
}

#[test]
fn every_fit_has_the_report_in_its_results() {
    let dir = tempfile::tempdir().expect("temp dir");
    let fit = fitted(dir.path());
    let output = run(&["--quiet", "identify", utf8(&fit)]);
    assert!(output.status.success(), "identify: {}", stderr(&output));
    let report = json(&fit.join("identifiability.json"));
    let fit_results = results(&fit);
    let section = &fit_results["identifiability"];
    assert_eq!(section["computed"], true, "{section}");
    // the same report as `identify` on the same fit
    let keys = "terms eigenvalues condition_number standard_errors intervals method";
    for key in keys.split_whitespace() {
        assert_eq!(section[key], report[key], "{key}");
    }
    // a behaviour fit has one too, over its trainable terms
    let data = dir.path().join("b.npz");
    let head = ["--quiet", "simulate", "behaviour", "--out", utf8(&data)];
    let flags = "--sessions 4 --blocks 2 --trials-per-block 30";
    let simulated = run(&args_then(&head, flags, &["--rule", "x*r - 0.05*w"]));
    assert!(simulated.status.success(), "{}", stderr(&simulated));
    let out = dir.path().join("bfit");
    let head = ["--quiet", "fit", utf8(&data), "--out", utf8(&out)];
    let fitted_behaviour = run(&args(&head, "--trainable 1,x*r,w --epochs 30"));
    assert!(
        fitted_behaviour.status.success(),
        "{}",
        stderr(&fitted_behaviour)
    );
    let behaviour_results = results(&out);
    let section = &behaviour_results["identifiability"];
    assert_eq!(section["computed"], true, "{section}");
    assert_eq!(section["terms"], serde_json::json!(["1", "w", "x*r"]));
    assert!(section["condition_number"].as_f64().unwrap() >= 1.0);
    // an MLP fit says why it has none
    let mlp = dir.path().join("mlp");
    let head = ["--quiet", "fit", utf8(&data), "--out", utf8(&mlp)];
    let fitted_mlp = run(&args(&head, "--rule-family mlp --hidden 3 --epochs 2"));
    assert!(fitted_mlp.status.success(), "{}", stderr(&fitted_mlp));
    let mlp_results = results(&mlp);
    assert_eq!(mlp_results["identifiability"]["computed"], false);
    assert!(mlp_results["identifiability"]["reason"]
        .as_str()
        .unwrap()
        .contains("MLP"));
}
