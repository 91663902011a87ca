//! `plasticity posterior` on a tiny behaviour fit: posterior.json has its public keys,
//! a Laplace prior that matches the fit's L1 penalty, one CSV row per draw, the pair
//! plot; the same seed gives the same draws; bad flags are errors naming the flag.

mod common;

use common::{
    args, args_then, assert_fails_saying, behaviour_task, json, run, save_small_oja, stderr, utf8,
};
use std::path::Path;
use std::process::Output;

/// A tiny behaviour dataset fitted over two terms with L1 1e-2; returns the fit's
/// directory and the number of presentations.
fn fitted(dir: &Path) -> (std::path::PathBuf, usize) {
    let data = dir.join("b.npz");
    let task = behaviour_task(3, 20, "x*r - 0.05*w", 3);
    let dataset = task.simulate().expect("simulated");
    dataset.save(&data).expect("saved");
    let fit = dir.join("fit");
    let head = ["--quiet", "fit", utf8(&data), "--out", utf8(&fit)];
    let flags = "--trainable w,x*r --optimizer lbfgs --epochs 30 --l1 0.01 --eval-sessions 0";
    let output = run(&args(&head, flags));
    assert!(output.status.success(), "fit: {}", stderr(&output));
    (fit, dataset.n_presentations.iter().sum())
}

fn posterior(fit: &Path, out: &Path, seed: &str) -> Output {
    let head = ["--quiet", "posterior", utf8(fit)];
    let flags = format!("--chains 2 --draws 60 --warmup 60 --seed {seed} --out");
    run(&args_then(&head, &flags, &[utf8(out)]))
}

#[test]
fn posterior_writes_summaries_draws_and_the_pair_plot() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (fit, presentations) = fitted(dir.path());
    let out = dir.path().join("a");
    let output = posterior(&fit, &out, "5");
    assert!(output.status.success(), "posterior: {}", stderr(&output));
    let report = json(&out.join("posterior.json"));
    let keys = "terms summaries divergences max_rhat chains prior config seed version";
    for key in keys.split_whitespace().chain(["presentations"]) {
        assert!(report.get(key).is_some(), "missing key {key}");
    }
    assert_eq!(report["terms"], serde_json::json!(["w", "x*r"]));
    assert_eq!(report["presentations"].as_u64(), Some(presentations as u64));
    // L1 1e-2 → Laplace scale 1/(N λ₁)
    let scale = report["prior"]["laplace_scale"].as_f64().expect("Laplace");
    assert!((scale - 1.0 / (presentations as f64 * 0.01)).abs() < 1e-12 * scale);
    for term in ["w", "x*r"] {
        let s = &report["summaries"][term];
        let values: Vec<f64> = ["q2_5", "q50", "q97_5"]
            .iter()
            .map(|k| s[k].as_f64().expect("quantile"))
            .collect();
        assert!(
            values[0] <= values[1] && values[1] <= values[2],
            "{term}: {s}"
        );
        for key in ["mean", "sd", "rhat", "ess_bulk", "laplace_se"] {
            assert!(s[key].as_f64().is_some(), "{term}: {key} missing in {s}");
        }
    }
    let csv = std::fs::read_to_string(out.join("posterior_draws.csv")).expect("draws");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "chain,draw,w,x*r");
    assert_eq!(lines.len(), 1 + 2 * 60);
    assert!(lines[61].starts_with("1,0,"), "{}", lines[61]);
    for ext in ["png", "svg"] {
        assert!(out
            .join("figures")
            .join(format!("posterior_pairs.{ext}"))
            .is_file());
    }
    // the same seed gives the same draws; another seed other draws
    let again = dir.path().join("b");
    assert!(posterior(&fit, &again, "5").status.success());
    let other = dir.path().join("c");
    assert!(posterior(&fit, &other, "6").status.success());
    let read = |d: &Path| std::fs::read_to_string(d.join("posterior_draws.csv")).expect("draws");
    assert_eq!(read(&out), read(&again));
    assert_ne!(read(&out), read(&other));
}

#[test]
fn posterior_names_the_bad_flag() {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = run(&["posterior", utf8(dir.path())]);
    assert_fails_saying(&output, &["results.json", "posterior needs"]);
    let (fit, _) = fitted(dir.path());
    let fit = fit.to_str().expect("utf-8");
    for (flags, expected) in [
        (vec!["--prior", "cauchy:1"], "--prior"),
        (vec!["--prior", "normal:abc"], "not a number"),
        (vec!["--prior", "normal:-1"], "prior-sd"),
        (vec!["--chains", "0"], "chains"),
    ] {
        let mut args = vec!["posterior", fit];
        args.extend(flags.iter().copied());
        let output = run(&args);
        assert!(!output.status.success(), "{flags:?}");
        let message = stderr(&output);
        assert!(message.contains(expected), "{flags:?}: {message}");
    }
}

#[test]
fn posterior_of_a_neural_fit_uses_the_gaussian_likelihood() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("d.npz");
    save_small_oja(&data);
    let fit = dir.path().join("fit");
    let head = ["--quiet", "fit", utf8(&data), "--out", utf8(&fit)];
    let output = run(&args(&head, "--trainable x*y,y^2*w --epochs 100"));
    assert!(output.status.success(), "fit: {}", stderr(&output));
    let out = dir.path().join("post");
    let output = posterior(&fit, &out, "1");
    assert!(output.status.success(), "posterior: {}", stderr(&output));
    let report = json(&out.join("posterior.json"));
    assert_eq!(report["terms"], serde_json::json!(["y^2*w", "x*y"]));
    assert!(report["likelihood"]
        .as_str()
        .expect("text")
        .starts_with("Gaussian"));
    // the Oja coefficients are well determined: the posterior sits near the fit
    for term in ["x*y", "y^2*w"] {
        let s = &report["summaries"][term];
        let (mean, fitted, se) = (
            s["mean"].as_f64().expect("mean"),
            s["fitted"].as_f64().expect("fitted"),
            s["laplace_se"].as_f64().expect("SE"),
        );
        assert!((mean - fitted).abs() < 2.0 * se, "{term}: {s}");
    }
}
