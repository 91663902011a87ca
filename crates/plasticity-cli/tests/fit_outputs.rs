//! What `fit --out` and `oja --out` write beside results.json: history.csv (the
//! histories as a table) and the fit's figures; and `run`'s resolved.toml, which holds
//! exactly the keys of its experiment's kind and runs again to the same result.

mod common;

use std::path::{Path, PathBuf};

use common::{args, args_then, ok, results, utf8};

/// The figure `name` exists as a non-empty PNG (with its signature) and SVG.
fn assert_figure(dir: &Path, name: &str) {
    let png = std::fs::read(dir.join(format!("figures/{name}.png")))
        .unwrap_or_else(|_| panic!("figures/{name}.png missing in {}", dir.display()));
    assert!(
        png.len() > 1000 && png.starts_with(b"\x89PNG"),
        "{name}.png"
    );
    let svg = std::fs::read_to_string(dir.join(format!("figures/{name}.svg")))
        .unwrap_or_else(|_| panic!("figures/{name}.svg missing"));
    assert!(svg.contains("<svg") && svg.len() > 1000, "{name}.svg");
}

/// history.csv has the header `epoch,loss,<parameter_names>` and one row per epoch,
/// with the numbers of results.json's histories.
fn assert_history(dir: &Path) {
    let results = results(dir);
    let names: Vec<String> = results["parameter_names"]
        .as_array()
        .expect("parameter_names")
        .iter()
        .map(|n| {
            let n = n.as_str().expect("a name").to_string();
            if n.contains(',') {
                format!("\"{n}\"")
            } else {
                n
            }
        })
        .collect();
    let loss = results["loss_history"].as_array().expect("loss_history");
    let history = results["parameter_history"]
        .as_array()
        .expect("parameter_history");
    assert!(!loss.is_empty());
    let csv = std::fs::read_to_string(dir.join("history.csv")).expect("history.csv");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], format!("epoch,loss,{}", names.join(",")));
    assert_eq!(lines.len(), loss.len() + 1, "one row per epoch");
    for (k, line) in lines[1..].iter().enumerate() {
        let fields: Vec<&str> = line.split(',').collect();
        assert_eq!(fields[0], (k + 1).to_string());
        assert_eq!(fields[1].parse::<f64>().ok(), loss[k].as_f64(), "loss {k}");
        let theta = history[k].as_array().expect("θ");
        assert_eq!(fields.len(), 2 + names.len());
        assert_eq!(fields[2].parse::<f64>().ok(), theta[0].as_f64(), "θ_0 {k}");
    }
}

/// Simulates `plasticity simulate SIMULATE --out DIR/data --quiet` and fits it, `plasticity
/// fit DIR/data --out DIR/out FIT`; returns the fit's directory.
fn simulated_and_fitted(dir: &Path, [data, out]: [&str; 2], simulate: &str, fit: &str) -> PathBuf {
    let (data, out) = (dir.join(data), dir.join(out));
    ok(&args_then(
        &["simulate"],
        simulate,
        &["--out", utf8(&data), "--quiet"],
    ));
    ok(&args(&["fit", utf8(&data), "--out", utf8(&out)], fit));
    out
}

#[test]
fn a_neural_fit_writes_its_history_and_figures() {
    let dir = tempfile::tempdir().expect("temp dir");
    let oja = "oja --n-pre 5 --n-post 8 --steps 10 --trajectories 2 --noise-std 0.1";
    let fit = "--solver lbfgs --epochs 25 --quiet";
    let out = simulated_and_fitted(dir.path(), ["d.npz", "f"], oja, fit);
    // the documented keys stay in results.json
    let r = results(&out);
    for key in [
        "loss_history",
        "parameter_history",
        "parameter_names",
        "coefficients",
    ] {
        assert!(r.get(key).is_some(), "{key} missing from results.json");
    }
    assert_history(&out);
    for name in ["loss", "coefficients", "weights"] {
        assert_figure(&out, name);
    }
    // four synapses, labelled by their neurons, in different rows and columns of W
    let svg = std::fs::read_to_string(out.join("figures/weights.svg")).unwrap();
    let labels: Vec<(usize, usize)> = svg
        .match_indices("(post ")
        .filter_map(|(at, _)| {
            let rest = &svg[at + 6..];
            let (post, rest) = rest.split_once(", pre ")?;
            let (pre, _) = rest.split_once(')')?;
            Some((post.parse().ok()?, pre.parse().ok()?))
        })
        .collect();
    let mut distinct = labels.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), 4, "{labels:?}");
    for (i, a) in distinct.iter().enumerate() {
        for b in &distinct[i + 1..] {
            assert!(a.0 != b.0 && a.1 != b.1, "{a:?} and {b:?} share a neuron");
        }
    }
    // the coefficient figure marks the generating values and the intervals
    let svg = std::fs::read_to_string(out.join("figures/coefficients.svg")).unwrap();
    assert!(
        svg.contains("generating value") && svg.contains("x*y"),
        "coefficients.svg"
    );
}

#[test]
fn oja_out_draws_the_figures() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("o");
    ok(&["oja", "--out", out.to_str().unwrap(), "--quiet"]);
    for name in ["loss", "coefficients", "weights"] {
        assert_figure(&out, name);
    }
    assert_history(&out);
}

/// A fit of `simulate` data with `fit` draws its loss, the coefficients where
/// `coefficients` (none otherwise), and writes its history.
fn assert_fit_draws(names: [&str; 2], simulate: &str, fit: &str, coefficients: bool) {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = simulated_and_fitted(dir.path(), names, simulate, fit);
    assert_figure(&out, "loss");
    if coefficients {
        assert_figure(&out, "coefficients");
    } else {
        assert!(!out.join("figures/coefficients.png").exists());
    }
    assert_history(&out);
}

#[test]
fn an_mlp_fit_draws_its_loss_but_no_coefficients() {
    let oja = "oja --n-pre 4 --n-post 6 --steps 8 --trajectories 2";
    let mlp = "--rule-family mlp --hidden 3 --epochs 5 --quiet";
    assert_fit_draws(["d.npz", "m"], oja, mlp, false);
}

#[test]
fn a_behaviour_fit_writes_its_history_and_figures() {
    let behaviour = "behaviour --sessions 2 --trials-per-block 10";
    let fit = "--epochs 4 --eval-sessions 1 --quiet";
    assert_fit_draws(["b.npz", "b"], behaviour, fit, true);
}

/// A small neural experiment.
const EXPERIMENT: &str = concat!(
    "kind = \"neural\"\ntitle = \"resolved\"\ncheckpoint_interval = 0\n\n",
    "[simulate]\nn_pre = 4\nn_post = 6\nsteps = 10\ntrajectories = 2\nseed = 3\n\n",
    "[fit]\nepochs = 6\nsolver = \"lbfgs\"\neval_trajectories = 1\n",
);

#[test]
fn a_neural_resolved_toml_holds_its_keys_and_runs_to_the_same_result() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (file, first) = (dir.path().join("e.toml"), dir.path().join("first"));
    std::fs::write(&file, EXPERIMENT).unwrap();
    ok(&["run", utf8(&file), "--out", utf8(&first), "--quiet"]);
    let resolved = std::fs::read_to_string(first.join("resolved.toml")).unwrap();
    // l1 (no default value) is listed, behaviour and circuit keys are not
    assert!(resolved.contains("# l1: not set"), "{resolved}");
    let absent = "weight_bound eval_sessions input_seed horizon_stages stage_epochs";
    for key in absent.split_whitespace() {
        assert!(!resolved.contains(key), "{key} in\n{resolved}");
    }
    // it runs as it is, to the same table
    let again = dir.path().join("again");
    let resolved_file = first.join("resolved.toml");
    ok(&[
        "run",
        utf8(&resolved_file),
        "--out",
        utf8(&again),
        "--quiet",
    ]);
    let table = |d: &Path| std::fs::read_to_string(d.join("table.csv")).expect("table.csv");
    assert_eq!(table(&first), table(&again));
    // and resolves to itself
    assert_eq!(
        std::fs::read_to_string(again.join("resolved.toml")).unwrap(),
        resolved
    );
}
