//! `plasticity design` on a tiny grid: power.csv has one row per design with the power
//! and the log-likelihood difference, design.json records the settings, seed and
//! version, the figures exist; the same seed gives the same table; bad flags are
//! errors naming the flag.

mod common;

use common::{run, stderr};
use std::path::Path;
use std::process::Output;

fn design(out: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "--quiet",
        "design",
        "--rule-true",
        "x*r - 0.1*w",
        "--animals",
        "1,2",
        "--trials",
        "30",
        "--replicates",
        "2",
        "--iterations",
        "30",
        "--out",
        out.to_str().expect("utf-8"),
    ];
    args.extend_from_slice(extra);
    run(&args)
}

#[test]
fn design_writes_the_power_table_and_figures() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("a");
    let output = design(&out, &[]);
    assert!(output.status.success(), "design: {}", stderr(&output));
    let csv = std::fs::read_to_string(out.join("power.csv")).expect("power.csv");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "animals,trials,replicates,alpha,power,power_se,mean_log_likelihood_difference,\
         sd_log_likelihood_difference,median_p_value,mean_presentations,mean_theta_w"
    );
    assert_eq!(lines.len(), 3, "one row per design");
    for (line, animals) in lines[1..].iter().zip(["1", "2"]) {
        let fields: Vec<&str> = line.split(',').collect();
        assert_eq!(fields[0], animals);
        assert_eq!(fields[1], "30");
        assert_eq!(fields[2], "2");
        let power: f64 = fields[4].parse().expect("power");
        assert!((0.0..=1.0).contains(&power));
        let difference: f64 = fields[6].parse().expect("difference");
        assert!(difference > -1e-3, "{line}");
    }
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("design.json")).expect("design.json"),
    )
    .expect("JSON");
    assert!(json["version"].is_string());
    assert_eq!(json["seed"], 0);
    assert_eq!(json["settings"]["rule_true"], "x*r - 0.1*w");
    assert_eq!(json["analysis"]["extra_terms"], serde_json::json!(["w"]));
    assert_eq!(
        json["analysis"]["replicates"].as_array().map(Vec::len),
        Some(4)
    );
    for stem in ["power_vs_trials", "log_likelihood_difference"] {
        assert!(out.join("figures").join(format!("{stem}.png")).is_file());
    }
    // the same seed, the same table
    let again = dir.path().join("b");
    assert!(design(&again, &[]).status.success());
    assert_eq!(
        csv,
        std::fs::read_to_string(again.join("power.csv")).expect("power.csv")
    );
}

#[test]
fn design_names_the_bad_flag() {
    let dir = tempfile::tempdir().expect("temp dir");
    for (flags, expected) in [
        (vec!["--trials", "31"], "trials"),
        (vec!["--alpha", "2"], "alpha"),
        (vec!["--rule-null", "x*r - 0.1*w"], "nothing to detect"),
        (
            vec!["--reward-probabilities", "0.2"],
            "--reward-probabilities",
        ),
    ] {
        let output = design(&dir.path().join("x"), &flags);
        assert!(!output.status.success(), "{flags:?}");
        let message = stderr(&output);
        assert!(message.contains(expected), "{flags:?}: {message}");
    }
}
