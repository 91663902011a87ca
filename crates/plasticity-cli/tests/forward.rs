//! Forward-mode gradients from the command line: `loss` and `fit` stream a neural
//! recording with `--gradient forward` and give the adjoint's numbers; `--gradient
//! auto` says which strategy it chose and why; `fit --online` writes the estimate after
//! every update.

mod common;

use common::{args, ok, results, run, utf8};
use std::path::Path;
use std::process::Output;

fn simulate(dir: &Path, steps: &str) -> String {
    let path = dir.join("data.npz").display().to_string();
    let head = [
        "--quiet", "simulate", "oja", "--out", &path, "--n-pre", "6", "--n-post", "10",
    ];
    let flags =
        format!("--steps {steps} --trajectories 2 --noise-std 0.02 --recording-fraction 0.6");
    ok(&args(&head, &flags));
    path
}

fn json(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).expect("JSON on stdout")
}

#[test]
fn streamed_loss_and_fit_equal_the_adjoint() {
    let dir = tempfile::tempdir().unwrap();
    let data = simulate(dir.path(), "80");
    let theta = "0.7*x*y - 1.2*y^2*w + 0.01*x";
    let adjoint = json(&ok(&["loss", &data, "--theta", theta]));
    let forward = json(&ok(&[
        "loss",
        &data,
        "--theta",
        theta,
        "--gradient",
        "forward",
    ]));
    let (a, f) = (
        adjoint["loss"].as_f64().unwrap(),
        forward["loss"].as_f64().unwrap(),
    );
    assert!((a - f).abs() <= 1e-13 * a, "{a} vs {f}");
    for (term, value) in adjoint["gradient"].as_object().unwrap() {
        let (a, f) = (
            value.as_f64().unwrap(),
            forward["gradient"][term].as_f64().unwrap(),
        );
        assert!(
            (a - f).abs() <= 1e-10 * a.abs().max(1e-9),
            "{term}: {a} vs {f}"
        );
    }
    // a streamed fit writes the usual outputs, marked as streamed
    let out = dir.path().join("fit");
    ok(&args(
        &["--quiet", "fit", &data, "--out", utf8(&out)],
        "--epochs 5 --gradient forward",
    ));
    let results = results(&out);
    assert_eq!(results["data"]["streamed"], true);
    assert_eq!(results["loss_history"].as_array().unwrap().len(), 5);
    assert!(out.join("coefficients.csv").exists());
}

#[test]
fn auto_chooses_by_the_memory_budget_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let data = simulate(dir.path(), "200");
    let roomy = ok(&["loss", &data, "--theta", "x*y", "--gradient", "auto"]);
    let said = String::from_utf8_lossy(&roomy.stderr);
    // 2 trajectories × 200 steps of 60 synapses: the whole tape is small
    assert!(said.contains("gradient: full-tape"), "{said}");
    // a budget of 0 MiB: not even the tangents fit
    let refused = run(&args(
        &["loss", &data],
        "--theta x*y --gradient auto --memory-budget 0",
    ));
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("neither strategy fits"));
    // the same numbers whichever strategy auto picks
    let forced = json(&ok(&args(
        &["loss", &data],
        "--theta x*y --gradient forward",
    )));
    assert!(
        (json(&roomy)["loss"].as_f64().unwrap() - forced["loss"].as_f64().unwrap()).abs() < 1e-15
    );
}

#[test]
fn online_fit_writes_the_estimate_after_every_update() {
    let dir = tempfile::tempdir().unwrap();
    let data = simulate(dir.path(), "300");
    let out = dir.path().join("online");
    // not --quiet: the summary on stdout is checked below
    let online = "--online --update-every 20 --learning-rate 0.02 --init zeros --basis canonical";
    let flags = format!("{online} --trainable x*y,y^2*w");
    let output = ok(&args(&["fit", &data, "--out", utf8(&out)], &flags));
    let csv = std::fs::read_to_string(out.join("online.csv")).unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    // 2 trajectories × 300 steps / 20 = 30 updates, after the header
    assert_eq!(rows.len(), 31, "{csv}");
    assert!(rows[0].starts_with("step,window_loss,1,"));
    let column = rows[0].split(',').position(|c| c == "x*y").unwrap();
    let first: f64 = rows[1].split(',').nth(column).unwrap().parse().unwrap();
    let last: f64 = rows[30].split(',').nth(column).unwrap().parse().unwrap();
    // from 0 towards the generating 1; Adam moves each coefficient by at most about
    // its step size per update
    assert!(first.abs() <= 0.02 + 1e-9, "{first}");
    assert!(last > 0.1 && last <= 30.0 * 0.02 + 1e-9, "{first} → {last}");
    assert!(out.join("figures").join("online.png").exists());
    assert!(String::from_utf8_lossy(&output.stdout).contains("30 updates"));
    // results.json's keys, in order, are a contract
    let results = results(&out);
    let keys = |value: &serde_json::Value| -> Vec<String> {
        value.as_object().unwrap().keys().cloned().collect()
    };
    assert_eq!(
        keys(&results),
        [
            "online",
            "online_settings",
            "coefficients",
            "config",
            "data",
            "seed",
            "version",
            "timing"
        ]
    );
    assert_eq!(
        keys(&results["data"]),
        [
            "path",
            "trajectories",
            "steps",
            "n_pre",
            "n_post",
            "n_recorded",
            "metadata",
            "streamed"
        ]
    );
    assert_eq!(keys(&results["config"]), ["settings"]);
    assert_eq!(keys(&results["timing"]), ["fit_seconds"]);
    assert_eq!(
        results["coefficients"]["x*y"],
        results["online"]["theta"][column - 2]
    );
    // the generating rule's terms are followed, in the order the rule is written
    let stdout = String::from_utf8_lossy(&output.stdout);
    let followed: Vec<&str> = stdout
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(followed, ["x*y", "y^2*w"], "{stdout}");
    // behaviour data is refused with the reason
    let behaviour = dir.path().join("b.npz");
    let head = [
        "--quiet",
        "simulate",
        "behaviour",
        "--out",
        utf8(&behaviour),
    ];
    ok(&args(
        &head,
        "--sessions 2 --blocks 1 --trials-per-block 10",
    ));
    let refused = run(&["fit", utf8(&behaviour), "--out", utf8(&out), "--online"]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("online fits take neural recordings"));
}

#[test]
fn a_recording_over_the_memory_limit_streams() {
    let dir = tempfile::tempdir().unwrap();
    let data = simulate(dir.path(), "200");
    // the recording's arrays take about 26 kB; allow 20 kB
    let limited = |args: &[&str]| {
        common::binary()
            .args(args)
            .env("PLASTICITY_MAX_DATASET_BYTES", "20000")
            .output()
            .unwrap()
    };
    let loaded = limited(&["loss", &data, "--theta", "x*y"]);
    assert!(!loaded.status.success());
    assert!(String::from_utf8_lossy(&loaded.stderr).contains("PLASTICITY_MAX_DATASET_BYTES"));
    let streamed = limited(&["loss", &data, "--theta", "x*y", "--gradient", "forward"]);
    assert!(
        streamed.status.success(),
        "{}",
        String::from_utf8_lossy(&streamed.stderr)
    );
    let auto = limited(&["loss", &data, "--theta", "x*y", "--gradient", "auto"]);
    assert!(auto.status.success());
    assert!(String::from_utf8_lossy(&auto.stderr).contains("gradient: forward"));
    assert_eq!(json(&auto)["loss"], json(&streamed)["loss"]);
}
