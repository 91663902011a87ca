//! `plasticity flies` on data with and without the signature of rejections labelled in
//! the first block only (docs/flies.md): one warning line on stderr (none with
//! `--quiet`, which prints only errors) and `data_warnings` in comparison.json, an empty list for clean data.

mod common;

use common::{args, fly_dir, json, run, utf8};
use std::path::Path;

/// Runs a fast `flies` on `data` (one model, one draw, 3 epochs, no intervals, no
/// baseline, no shared rule) with `global` flags before the command; returns its
/// stderr and `comparison.json`.
fn quick_flies(global: &[&str], data: &Path, out: &Path) -> (String, serde_json::Value) {
    let mut command = global.to_vec();
    let flags = "--resamples 1 --epochs 3 --no-intervals --no-q-learning --population-folds 0";
    command.extend(args(
        &[
            "flies",
            utf8(data),
            "--out",
            utf8(out),
            "--models",
            "1,x,r,x*r",
        ],
        flags,
    ));
    let output = run(&command);
    let log = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "{log}");
    (log, json(&out.join("comparison.json")))
}

/// The public Fly1 (a copy in the library's fixtures) rejects only in its first 80
/// trials: one warning line (none with `--quiet`), and `data_warnings` lists the fly
/// with its counts either way.
#[test]
fn flies_warns_about_rejections_labelled_in_the_first_block_only() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = fly_dir(dir.path(), &["Fly1.mat"]);
    let (quiet_log, quiet_comparison) = quick_flies(&["--quiet"], &data, &dir.path().join("quiet"));
    assert!(!quiet_log.contains("data warning"), "{quiet_log}");
    assert_eq!(
        quiet_comparison["data_warnings"].as_array().map(Vec::len),
        Some(1)
    );
    let (log, comparison) = quick_flies(&[], &data, &dir.path().join("out"));
    let lines: Vec<&str> = log.lines().filter(|l| l.contains("data warning")).collect();
    assert_eq!(lines.len(), 1, "{log}");
    assert!(
        lines[0].contains("1 of 1 flies reject only in the first 80 trials and trial 81 (Fly1)"),
        "{log}"
    );
    assert!(lines[0].contains("docs/flies.md"), "{log}");
    let warnings = comparison["data_warnings"]
        .as_array()
        .expect("data_warnings");
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    let w = &warnings[0];
    assert_eq!(w["fly"], "Fly1");
    assert_eq!(w["kind"], "no_rejection_after_first_block");
    assert_eq!(w["block_trials"], 80);
    assert_eq!(w["trials"], 240);
    assert_eq!(w["presentations"], 286);
    assert_eq!(w["rejections"], 46);
    assert_eq!(w["rejections_in_first_block"], 46);
    assert_eq!(w["rejections_in_boundary_trial"], 0);
    assert_eq!(w["rejections_after_boundary_trial"], 0);
    assert_eq!(w["trials_after_boundary_trial"], 159);
    assert!(comparison["data_warning_summary"]
        .as_str()
        .is_some_and(|s| s.contains("Fly1")));
    // the existing keys are still there
    for key in "models comparisons recordings fits settings flies".split_whitespace() {
        assert!(comparison.get(key).is_some(), "{key} missing");
    }
}

/// A fly that rejects in every block (120 trials, a rejection in every 4th): no
/// warning line and an empty `data_warnings`.
#[test]
fn flies_gives_no_data_warning_for_rejections_in_every_block() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("clean");
    std::fs::create_dir_all(&data).expect("data dir");
    let mut csv = String::from("trial,odour,decision,reward\n");
    for trial in 0..120 {
        let odour = trial % 2;
        if trial % 4 == 1 {
            csv.push_str(&format!("{trial},{},0,\n", 1 - odour));
        }
        csv.push_str(&format!("{trial},{odour},1,{}\n", (trial / 3) % 2));
    }
    std::fs::write(data.join("Steady.csv"), csv).expect("CSV written");
    let (log, comparison) = quick_flies(&[], &data, &dir.path().join("out"));
    assert!(!log.contains("data warning"), "{log}");
    assert_eq!(comparison["data_warnings"], serde_json::json!([]));
    assert!(comparison["data_warning_summary"].is_null());
    assert_eq!(comparison["recordings"][0]["rejections"], 30);
}

/// `flies --task choice` fits the chosen odours (both odours offered in every trial):
/// the two rules and both Q-learning baselines, the last block held out, matching.csv
/// and the matching-law figure; and `simulate choice` writes a dataset `fit` reads as
/// choices.
#[test]
fn flies_fits_the_choices_and_simulate_writes_choice_data() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = fly_dir(dir.path(), &["Fly1.mat"]);
    let out = dir.path().join("choice");
    let output = run(&args(
        &[
            "--quiet",
            "flies",
            utf8(&data),
            "--out",
            utf8(&out),
            "--task",
            "choice",
        ],
        "--resamples 1 --epochs 20 --no-intervals --population-folds 0",
    ));
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let comparison = json(&out.join("comparison.json"));
    assert_eq!(comparison["settings"]["task"], "choice");
    assert_eq!(comparison["settings"]["heldout_from_trial"], 160);
    let models: Vec<&str> = comparison["models"]
        .as_object()
        .expect("models")
        .keys()
        .map(String::as_str)
        .collect();
    for model in [
        "1,x,r,x*r",
        "1,x,r,x*r,w",
        "q-learning",
        "q-learning-forgetting",
    ] {
        assert!(models.contains(&model), "{models:?}");
    }
    let matching = std::fs::read_to_string(out.join("matching.csv")).expect("matching.csv");
    let rows: Vec<&str> = matching.lines().collect();
    assert!(rows[0].starts_with("fly,block,trials,choice_fraction,reward_fraction,predicted:"));
    assert_eq!(rows.len(), 1 + 3, "three blocks of Fly1: {matching}");
    // every model predicts a fraction for every block
    assert!(
        rows[1..].iter().all(|r| !r.split(',').any(str::is_empty)),
        "{matching}"
    );
    assert!(out.join("figures/matching_law.png").is_file());

    let simulated = dir.path().join("choice.npz");
    let output = run(&[
        "--quiet",
        "simulate",
        "choice",
        "--sessions",
        "3",
        "--trials-per-block",
        "20",
        "--rule",
        "x*r - 0.05*w",
        "--out",
        utf8(&simulated),
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let fit = dir.path().join("fit");
    let output = run(&[
        "--quiet",
        "fit",
        utf8(&simulated),
        "--trainable",
        "x*r,w",
        "--solver",
        "levenberg-marquardt",
        "--out",
        utf8(&fit),
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let results = json(&fit.join("results.json"));
    assert_eq!(results["data"]["kind"], "choice");
}
