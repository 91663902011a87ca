//! Spiking circuits from the command line: `simulate circuit` on a spiking circuit
//! file writes spike trains, `loss` gives the same likelihood and gradient by forward
//! mode and the adjoint, `fit` writes its results, coefficients and figures, and bad
//! input is refused with the key at fault.

mod common;

use common::{assert_fails_saying, ok, repo_root, results, run, utf8};

fn pair_file() -> String {
    repo_root()
        .join("experiments/spiking/stdp_pair.toml")
        .display()
        .to_string()
}

#[test]
fn simulate_loss_and_fit_on_spike_trains() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("spikes.npz");
    let data = utf8(&data);
    let circuit = pair_file();
    ok(&[
        "--quiet",
        "simulate",
        "circuit",
        &circuit,
        "--out",
        data,
        "--steps",
        "8000",
        "--trajectories",
        "2",
        "--seed",
        "3",
    ]);
    let loss = |gradient: &str| -> serde_json::Value {
        let output = ok(&[
            "loss",
            data,
            "--theta",
            "generating",
            "--gradient",
            gradient,
        ]);
        serde_json::from_slice(&output.stdout).expect("JSON on stdout")
    };
    let (forward, adjoint) = (loss("forward"), loss("checkpointed"));
    let nll = |v: &serde_json::Value| v["negative_log_likelihood"].as_f64().unwrap();
    assert!((nll(&forward) - nll(&adjoint)).abs() < 1e-9 * nll(&forward));
    for (term, value) in forward["gradient"].as_object().unwrap() {
        let (f, a) = (
            value.as_f64().unwrap(),
            adjoint["gradient"][term].as_f64().unwrap(),
        );
        assert!(
            (f - a).abs() <= 1e-8 * f.abs().max(1.0),
            "{term}: {f} vs {a}"
        );
    }
    let evaluated = ok(&["evaluate", data, "--theta", "generating", "--seed", "5"]);
    let evaluated: serde_json::Value = serde_json::from_slice(&evaluated.stdout).unwrap();
    let m = &evaluated["metrics"];
    assert_eq!(m["log_likelihood_over_generating"].as_f64(), Some(0.0));
    assert!(m["r2_open_loop"].as_f64().unwrap() > 0.999999, "{m}");
    let out = dir.path().join("fit");
    ok(&[
        "--quiet",
        "fit",
        data,
        "--out",
        utf8(&out),
        "--epochs",
        "30",
    ]);
    let r = results(&out);
    assert_eq!(r["kind"], "spike_train");
    assert_eq!(r["parameter_names"][0], "stdp.s_post*x_trace");
    let excess = r["metrics"]["log_likelihood_over_generating"]
        .as_f64()
        .unwrap();
    assert!((-1e-6..=12.0).contains(&excess), "{excess}");
    assert!(r["identifiability"]["condition_number"].as_f64().unwrap() > 1.0);
    assert!(r["metrics"]["r2_open_loop"].as_f64().unwrap() > 0.9);
    for file in [
        "coefficients.csv",
        "figures/raster.png",
        "figures/weights.png",
        "figures/stdp_window.png",
    ] {
        assert!(out.join(file).exists(), "{file} missing");
    }
}

#[test]
fn latent_neurons_are_left_out_of_recordings_and_taken_by_expectation() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("latent.npz");
    let data = utf8(&data);
    let circuit = repo_root().join("experiments/spiking/stdp_latent.toml");
    ok(&[
        "--quiet",
        "simulate",
        "circuit",
        utf8(&circuit),
        "--out",
        data,
        "--steps",
        "4000",
        "--trajectories",
        "1",
        "--seed",
        "2",
    ]);
    let file = plasticity::io::npz::NpzFile::open(data).unwrap();
    assert!(file.contains("spikes/out") && !file.contains("spikes/hidden"));
    let loss = |gradient: &str| -> serde_json::Value {
        let output = ok(&[
            "loss",
            data,
            "--theta",
            "generating",
            "--gradient",
            gradient,
        ]);
        serde_json::from_slice(&output.stdout).expect("JSON on stdout")
    };
    let (forward, adjoint) = (loss("forward"), loss("checkpointed"));
    assert_eq!(forward["gradient"], adjoint["gradient"]);
    assert!(forward["gradient_strategy"]
        .as_str()
        .unwrap()
        .contains("latent"));
    let out = dir.path().join("fit");
    ok(&[
        "--quiet",
        "fit",
        data,
        "--out",
        utf8(&out),
        "--epochs",
        "20",
    ]);
    let r = results(&out);
    let m = &r["metrics"];
    assert!(m["r2_open_loop"].as_f64().unwrap() > 0.9, "{m}");
    // the fitted rule explains the recorded neurons better than no plasticity
    let (fitted, none) = (
        m["log_likelihood"].as_f64().unwrap(),
        m["log_likelihood_no_plasticity"].as_f64().unwrap(),
    );
    assert!(fitted > none, "{fitted} vs {none}");
}

#[test]
fn spiking_circuit_errors_name_the_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    let text = std::fs::read_to_string(pair_file()).unwrap().replace(
        "activation = \"lif\"",
        "activation = \"lif\"\nthreshhold = 1.0",
    );
    std::fs::write(&bad, text).unwrap();
    let out = dir.path().join("x.npz");
    let output = run(&["simulate", "circuit", utf8(&bad), "--out", utf8(&out)]);
    assert_fails_saying(&output, &["bad.toml", "threshhold"]);
    assert!(!out.exists(), "no output after an error");
    let output = run(&[
        "simulate",
        "circuit",
        &pair_file(),
        "--out",
        utf8(&out),
        "--noise-std",
        "0.1",
    ]);
    assert_fails_saying(&output, &["--noise-std", "spiking"]);
    ok(&[
        "--quiet",
        "simulate",
        "circuit",
        &pair_file(),
        "--out",
        utf8(&out),
        "--steps",
        "500",
        "--trajectories",
        "1",
    ]);
    let fit = dir.path().join("fit");
    let output = run(&[
        "fit",
        utf8(&out),
        "--out",
        utf8(&fit),
        "--optimizer",
        "adam",
    ]);
    assert_fails_saying(&output, &["Fisher scoring", "Adam"]);
    let output = run(&[
        "fit",
        utf8(&out),
        "--out",
        utf8(&fit),
        "--trainable",
        "stdp.w",
    ]);
    assert_fails_saying(&output, &["stdp.w", "not a parameter"]);
}
