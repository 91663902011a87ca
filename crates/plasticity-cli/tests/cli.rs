//! The `plasticity` binary on tiny fixtures: bad input gives a clear error (file,
//! variable, what was expected), exit code ≠ 0, no panic and no output file; results
//! are reproducible whatever the thread count.

mod common;

use common::{
    args, args_then, assert_says, binary, fly_dir, results, run, stderr, utf8, RESULTS_KEYS,
};
use std::path::{Path, PathBuf};
use std::process::Output;

use ndarray::{Array1, Array3, ArrayD, IxDyn};
use plasticity::io::npz::{write_npz, NpzValue};
use plasticity::task::OjaTask;

/// A tiny valid dataset: 3→4 neurons, 6 steps, 2 trajectories, 3 recorded.
fn tiny_task() -> OjaTask {
    OjaTask {
        n_pre: 3,
        n_post: 4,
        steps: 6,
        trajectories: 2,
        recording_fraction: 0.75,
        noise_std: 0.01,
        seed: 3,
        ..OjaTask::default()
    }
}

/// A replacement array for one entry.
enum Owned {
    F64(ArrayD<f64>),
    I64(ArrayD<i64>),
}

/// `a` as a float64 entry.
fn f64s<D: ndarray::Dimension>(a: &ndarray::Array<f64, D>) -> NpzValue<'_> {
    NpzValue::F64(a.view().into_dyn())
}

/// `a` as an int64 entry.
fn i64s<D: ndarray::Dimension>(a: &ndarray::Array<i64, D>) -> NpzValue<'_> {
    NpzValue::I64(a.view().into_dyn())
}

/// Writes a dataset whose entries can be replaced or removed.
fn write_dataset(path: &Path, replace: Option<(&str, Owned)>, remove: Option<&str>) {
    let d = tiny_task().simulate().expect("simulated");
    let neurons: Array1<i64> = d.recorded_neurons.iter().map(|&i| i as i64).collect();
    let metadata = serde_json::Value::Object(d.metadata.clone()).to_string();
    let mut entries: Vec<(&str, NpzValue<'_>)> = vec![
        ("inputs", f64s(&d.inputs)),
        ("initial_weights", f64s(&d.initial_weights)),
        ("recorded_activity", f64s(&d.recorded_activity)),
        ("recorded_neurons", i64s(&neurons)),
        ("metadata", NpzValue::Str(&metadata)),
    ];
    entries.retain(|(k, _)| Some(*k) != remove);
    if let Some((key, value)) = &replace {
        entries.retain(|(k, _)| k != key);
        entries.push((
            key,
            match value {
                Owned::F64(a) => NpzValue::F64(a.view()),
                Owned::I64(a) => NpzValue::I64(a.view()),
            },
        ));
    }
    write_npz(path, &entries).expect("written");
}

fn temp() -> tempfile::TempDir {
    tempfile::tempdir().expect("temporary directory")
}

/// Simulates `task` and saves it at `path`.
fn save(task: &OjaTask, path: &Path) {
    task.simulate()
        .expect("simulated")
        .save(path)
        .expect("saved");
}

/// Runs `fit DATA --out OUT FLAGS` on `threads` threads, checks that results.json has
/// the public keys and returns it without its timings.
fn fit_json(data: &Path, out: &Path, threads: &str, flags: &str) -> serde_json::Value {
    let output = binary()
        .env("RAYON_NUM_THREADS", threads)
        .args(args(&["fit", utf8(data), "--out", utf8(out)], flags))
        .output()
        .expect("runs");
    assert!(output.status.success(), "{}", stderr(&output));
    let mut json = results(out);
    for key in RESULTS_KEYS {
        assert!(json.get(key).is_some(), "results.json lacks {key}");
    }
    json.as_object_mut().expect("object").remove("timing");
    json
}

/// Runs `fit` on `data` and checks it fails cleanly, mentioning every `needle`.
fn assert_fit_fails(data: &Path, needles: &[&str]) {
    let dir = temp();
    let out = dir.path().join("out");
    let output = run(&["fit", utf8(data), "--out", utf8(&out), "--epochs", "2"]);
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{message}");
    assert!(!message.contains("panicked"), "{message}");
    for needle in needles {
        assert!(message.contains(needle), "'{needle}' not in: {message}");
    }
    assert!(!out.join("results.json").exists(), "no output on failure");
}

/// `fit` refuses data.npz written by [`write_dataset`] with `replace` and `remove`,
/// naming every one of `needles`.
fn assert_dataset_refused(replace: Option<(&str, Owned)>, remove: Option<&str>, needles: &[&str]) {
    let dir = temp();
    let data = dir.path().join("data.npz");
    write_dataset(&data, replace, remove);
    assert_fit_fails(&data, needles);
}

#[test]
fn missing_key_is_named() {
    let needles = ["data.npz", "initial_weights", "missing"];
    assert_dataset_refused(None, Some("initial_weights"), &needles);
}

#[test]
fn wrong_shape_is_named() {
    let wrong = Owned::F64(Array3::<f64>::zeros((2, 6, 5)).into_dyn());
    let needles = ["data.npz", "recorded_activity", "expected shape [2, 6, 3]"];
    assert_dataset_refused(Some(("recorded_activity", wrong)), None, &needles);
}

#[test]
fn wrong_dtype_is_named() {
    let wrong = ArrayD::<i64>::zeros(IxDyn(&[2, 6, 3]));
    let needles = ["data.npz", "inputs", "float64"];
    assert_dataset_refused(Some(("inputs", Owned::I64(wrong))), None, &needles);
}

#[test]
fn non_finite_values_are_named() {
    let mut activity = tiny_task().simulate().expect("simulated").recorded_activity;
    activity[[1, 2, 0]] = f64::NAN;
    let activity = Owned::F64(activity.into_dyn());
    let needles = ["data.npz", "recorded_activity", "finite", "(1, 2, 0)"];
    assert_dataset_refused(Some(("recorded_activity", activity)), None, &needles);
}

#[test]
fn empty_file_is_refused() {
    let dir = temp();
    let data = dir.path().join("empty.npz");
    std::fs::write(&data, b"").expect("written");
    assert_fit_fails(&data, &["empty.npz", "not a valid .npz"]);
}

#[test]
fn missing_file_is_refused() {
    let dir = temp();
    assert_fit_fails(&dir.path().join("absent.npz"), &["absent.npz"]);
}

#[test]
fn unknown_term_and_syntax_errors_in_expressions() {
    let dir = temp();
    let data = dir.path().join("data.npz");
    write_dataset(&data, None, None);
    let data = data.to_str().expect("utf-8");
    for (theta, needle) in [
        ("x*z", "unknown variable 'z'"),
        ("x*y -", "expected a term"),
        ("x**y", "position"),
    ] {
        let output = run(&["loss", data, "--theta", theta]);
        let message = stderr(&output);
        assert_eq!(output.status.code(), Some(1), "{message}");
        assert!(
            message.contains(needle) && message.contains(theta),
            "{message}"
        );
        assert!(output.stdout.is_empty());
    }
    // an unknown term in --trainable
    let out = dir.path().join("out");
    let output = run(&args(
        &["fit", data, "--out", utf8(&out)],
        "--trainable x*y,q --epochs 1",
    ));
    assert_eq!(output.status.code(), Some(1));
    assert_says(&output, "trainable");
    assert!(!out.join("results.json").exists());
}

#[test]
fn loss_reports_every_term_and_zero_at_the_generating_rule() {
    let dir = temp();
    let data = dir.path().join("data.npz");
    let mut task = tiny_task();
    task.noise_std = 0.0;
    save(&task, &data);
    let output = run(&["loss", utf8(&data), "--theta", "x*y - y^2*w"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert!(json["loss"].as_f64().expect("loss") < 1e-28);
    assert_eq!(json["gradient"].as_object().expect("gradient").len(), 27);
    assert!(json["gradient"]["x*y"].is_number());
    let output = run(&["loss", data.to_str().expect("utf-8"), "--theta", "0.5*x*y"]);
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert!(json["loss"].as_f64().expect("loss") > 1e-8);
}

fn fit_results(data: &Path, out: &Path, threads: &str, optimizer: &str) -> String {
    let flags = format!("--epochs 15 --optimizer {optimizer} --seed 11");
    // everything apart from timings and the output path must match
    let json = fit_json(data, out, threads, &flags);
    for key in ["r2_weights", "r2_activity", "final_loss"] {
        assert!(json["metrics"][key].is_number(), "metrics.{key}");
    }
    assert!(out.join("coefficients.csv").exists());
    serde_json::to_string(&json).expect("JSON")
}

#[test]
fn same_seed_gives_identical_results_at_one_and_two_threads() {
    let dir = temp();
    let data = dir.path().join("data.npz");
    let task = OjaTask {
        n_pre: 5,
        n_post: 8,
        steps: 10,
        trajectories: 4,
        ..tiny_task()
    };
    save(&task, &data);
    for optimizer in ["lbfgs", "adam"] {
        let one = fit_results(&data, &dir.path().join("one"), "1", optimizer);
        let two = fit_results(&data, &dir.path().join("one"), "2", optimizer);
        assert_eq!(
            one, two,
            "{optimizer}: results differ between 1 and 2 threads"
        );
    }
}

#[test]
fn simulate_writes_the_spec_layout() {
    let dir = temp();
    let data: PathBuf = dir.path().join("sim.npz");
    let shape = "--n-pre 4 --n-post 10 --steps 7 --trajectories 3 --noise-std 0.1";
    let flags = format!("{shape} --recording-fraction 0.5");
    let head = ["simulate", "oja", "--out", utf8(&data)];
    let output = run(&args_then(
        &head,
        &flags,
        &["--rule", "x*y - y^2*w", "--seed", "5"],
    ));
    assert!(output.status.success(), "{}", stderr(&output));
    let file = plasticity::io::npz::NpzFile::open(&data).expect("readable");
    assert_eq!(
        file.f64_array("inputs", 3).expect("inputs").shape(),
        &[3, 7, 4]
    );
    assert_eq!(
        file.f64_array("initial_weights", 3).expect("w0").shape(),
        &[3, 10, 4]
    );
    assert_eq!(
        file.f64_array("recorded_activity", 3)
            .expect("activity")
            .shape(),
        &[3, 7, 5]
    );
    let neurons = file.i64_array("recorded_neurons", 1).expect("neurons");
    assert!(neurons
        .iter()
        .zip(neurons.iter().skip(1))
        .all(|(a, b)| a < b));
    let metadata: serde_json::Value =
        serde_json::from_str(&file.string("metadata").expect("metadata")).expect("JSON");
    for key in "kind rule noise_std recording_fraction seed version".split_whitespace() {
        assert!(metadata.get(key).is_some(), "metadata lacks {key}");
    }
    assert_eq!(metadata["kind"], "neural");
}

/// A small behaviour dataset written by the CLI: 3 sessions of 2 blocks × 10 trials.
fn simulate_behaviour(dir: &Path, extra: &[&str]) -> (PathBuf, Output) {
    let data = dir.join("behaviour.npz");
    let head = ["simulate", "behaviour", "--out", utf8(&data)];
    let mut args = args_then(
        &head,
        "--sessions 3 --blocks 2",
        &["--rule", "x*r - 0.05*w"],
    );
    if !extra.contains(&"--trials-per-block") {
        args.extend_from_slice(&["--trials-per-block", "10"]);
    }
    args.extend_from_slice(extra);
    let output = run(&args);
    (data, output)
}

#[test]
fn simulate_behaviour_writes_the_spec_layout() {
    let dir = temp();
    let (data, output) = simulate_behaviour(dir.path(), &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    let file = plasticity::io::npz::NpzFile::open(&data).expect("opens");
    let f64_keys = [("inputs", 3), ("rewards", 2), ("expected_rewards", 2)];
    for (key, ndim) in f64_keys.into_iter().chain([("initial_weights", 3)]) {
        file.f64_array(key, ndim)
            .unwrap_or_else(|e| panic!("{key}: {e}"));
    }
    let i64_keys = [
        ("odours", 2),
        ("decisions", 2),
        ("trial_of_presentation", 2),
    ];
    for (key, ndim) in i64_keys
        .into_iter()
        .chain([("n_presentations", 1), ("n_trials", 1)])
    {
        file.i64_array(key, ndim)
            .unwrap_or_else(|e| panic!("{key}: {e}"));
    }
    let metadata: serde_json::Value =
        serde_json::from_str(&file.string("metadata").expect("metadata")).expect("JSON");
    assert_eq!(metadata["kind"], "behaviour");
    assert_eq!(metadata["rule"], "x*r - 0.05*w");
    assert_eq!(metadata["reward_signal"], "centred");
    let n_trials = file.i64_array("n_trials", 1).expect("n_trials");
    assert!(n_trials.iter().all(|&n| n == 20), "{n_trials:?}");
    let shape = file
        .f64_array("initial_weights", 3)
        .expect("weights")
        .shape()
        .to_vec();
    assert_eq!(shape, vec![3, 10, 2]);
}

#[test]
fn bad_task_parameters_name_the_flag() {
    let dir = temp();
    for (extra, needle) in [
        (
            vec!["--reward-probabilities", "0.2,1.5"],
            "reward-probabilities",
        ),
        (vec!["--trials-per-block", "0"], "trials-per-block"),
        (
            vec!["--expected-reward-window", "0"],
            "expected-reward-window",
        ),
    ] {
        let (data, output) = simulate_behaviour(dir.path(), &extra);
        let message = stderr(&output);
        assert_eq!(output.status.code(), Some(1), "{message}");
        assert!(message.contains(needle), "'{needle}' not in: {message}");
        assert!(!message.contains("panicked"), "{message}");
        assert!(!data.exists(), "no dataset is written");
    }
}

#[test]
fn behaviour_loss_reports_all_81_terms() {
    let dir = temp();
    let (data, output) = simulate_behaviour(dir.path(), &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    let output = run(&["loss", utf8(&data), "--theta", "x*r - 0.05*w"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let gradient = json["gradient"].as_object().expect("gradient");
    assert_eq!(gradient.len(), 81);
    assert!(gradient.contains_key("x^2*y*w*r^2") && gradient.contains_key("x*r"));
    let loss = json["loss"].as_f64().expect("loss");
    // a cross-entropy of binary choices: positive and below ln 2 at a fitted rule
    assert!(loss > 0.0 && loss < std::f64::consts::LN_2, "loss {loss}");
}

#[test]
fn malformed_behaviour_dataset_is_refused_by_fit() {
    let dir = temp();
    let (data, output) = simulate_behaviour(dir.path(), &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    let d = plasticity::data::BehaviourDataset::load(&data).expect("loads");
    let mut decisions = d.decisions.clone();
    decisions[[1, 2]] = 7;
    let broken = dir.path().join("broken.npz");
    let metadata = serde_json::Value::Object(d.metadata.clone()).to_string();
    let n_pres: Array1<i64> = d.n_presentations.iter().map(|&n| n as i64).collect();
    let n_trials: Array1<i64> = d.n_trials.iter().map(|&n| n as i64).collect();
    write_npz(
        &broken,
        &[
            ("inputs", f64s(&d.inputs)),
            ("odours", i64s(&d.odours)),
            ("decisions", i64s(&decisions)),
            ("trial_of_presentation", i64s(&d.trial_of_presentation)),
            ("n_presentations", i64s(&n_pres)),
            ("rewards", f64s(&d.rewards)),
            ("expected_rewards", f64s(&d.expected_rewards)),
            ("n_trials", i64s(&n_trials)),
            ("initial_weights", f64s(&d.initial_weights)),
            ("metadata", NpzValue::Str(&metadata)),
        ],
    )
    .expect("written");
    assert_fit_fails(
        &broken,
        &["broken.npz", "decisions", "0 (reject) or 1 (accept)"],
    );
}

#[test]
fn behaviour_fit_is_identical_at_one_and_two_threads() {
    let dir = temp();
    let (data, output) = simulate_behaviour(dir.path(), &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    let results = |threads: &str| {
        let out = dir.path().join(format!("fit{threads}"));
        let mut json = fit_json(&data, &out, threads, "--epochs 5 --eval-sessions 2");
        assert!(json["metrics"]["percent_deviance"].is_number());
        assert!(json["metrics"]["evaluation"]["ceiling_percent_deviance"].is_number());
        assert!(json["metrics"]["weights_clipped_during_fit"].is_number());
        json["data"].as_object_mut().expect("data").remove("path");
        serde_json::to_string(&json).expect("JSON")
    };
    assert_eq!(results("1"), results("2"));
}

#[test]
fn expressions_may_start_with_a_minus_sign() {
    let dir = temp();
    let data = dir.path().join("data.npz");
    save(&tiny_task(), &data);
    let output = run(&["loss", utf8(&data), "--theta", "-y^2*w + x*y"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let out = dir.path().join("fit");
    let head = ["fit", utf8(&data), "--out", utf8(&out), "--epochs", "1"];
    let output = run(&args_then(&head, "--init", &["-0.5*y^2*w + x*y"]));
    assert!(output.status.success(), "{}", stderr(&output));
}

#[test]
fn flies_writes_the_table_the_population_fit_and_figures() {
    let dir = temp();
    let data = fly_dir(dir.path(), &["Fly1.mat", "Fly2.mat"]);
    let out = dir.path().join("out");
    let posterior = "--posterior --posterior-chains 2 --posterior-draws 40 --posterior-warmup 40";
    let flags = format!("--resamples 1 --epochs 5 --population-folds 2 {posterior}");
    let output = run(&args(&["flies", utf8(&data), "--out", utf8(&out)], &flags));
    assert!(output.status.success(), "{}", stderr(&output));
    let table = std::fs::read_to_string(out.join("per_fly.csv")).expect("per_fly.csv");
    let mut lines = table.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    assert_eq!(
        &header[..5],
        [
            "fly",
            "model",
            "family",
            "percent_deviance",
            "heldout_percent_deviance"
        ]
    );
    let columns = "aic theta_w theta_x*r learning_rate theta_w_lower theta_w_laplace_lower";
    let more = "theta_w_laplace_upper theta_w_posterior_lower theta_w_posterior_upper";
    for column in columns.split_whitespace().chain(more.split_whitespace()) {
        assert!(header.contains(&column), "{column} missing from {header:?}");
    }
    // the Laplace columns come after every existing column (their keys stay put)
    let first_laplace = header
        .iter()
        .position(|c| c.ends_with("_laplace_lower"))
        .expect("Laplace columns");
    assert!(header[..first_laplace].contains(&"theta_w_upper"));
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 6, "2 flies × (2 rules + Q-learning)");
    assert!(rows
        .iter()
        .any(|r| r.starts_with("Fly2,\"1,x,r,x*r,w\",plasticity_rule,")));
    assert!(rows
        .iter()
        .any(|r| r.starts_with("Fly1,q-learning,q_learning,")));
    let population = std::fs::read_to_string(out.join("population.csv")).expect("population.csv");
    assert_eq!(population.lines().count(), 1 + 2 * 2);
    let comparison: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("comparison.json")).expect("comparison.json"),
    )
    .expect("JSON");
    assert_eq!(comparison["comparisons"].as_array().map(Vec::len), Some(3));
    assert_eq!(comparison["population"].as_array().map(Vec::len), Some(2));
    assert_eq!(comparison["flies"], serde_json::json!(["Fly1", "Fly2"]));
    // how the θ_w intervals fall: both (identical) flies counted under the w model
    let signs = &comparison["theta_w_intervals"][0];
    assert_eq!(signs["model"], "1,x,r,x*r,w");
    assert_eq!(signs["signs"]["flies"], 2);
    assert_eq!(signs["signs"]["laplace"], 2);
    assert_eq!(signs["signs"]["posterior"], 2);
    // the shared rule's Laplace interval of θ_w
    let find = |list: &serde_json::Value, key: &str, value: &str| {
        let mut items = list.as_array().expect("a list").iter();
        items.find(|item| item[key] == value).cloned()
    };
    let shared = find(&comparison["population"], "model", "1,x,r,x*r,w").expect("shared w rule");
    let w = find(&shared["intervals"], "term", "w").expect("θ_w");
    assert!(
        w["laplace_lower"].as_f64() < w["laplace_upper"].as_f64(),
        "{w}"
    );
    assert!(comparison["version"].is_string() && comparison["settings"]["seed"] == 0);
    let stems =
        "percent_deviance_1_x_r_xr_vs_1_x_r_xr_w coefficients_1_x_r_xr_w intervals_1_x_r_xr_w";
    for stem in stems
        .split_whitespace()
        .chain(["intervals_w_1_x_r_xr_w", "shared_rule_1_x_r_xr_w"])
    {
        for extension in ["png", "svg"] {
            let path = out.join("figures").join(format!("{stem}.{extension}"));
            assert!(path.is_file(), "{} missing", path.display());
        }
    }
}

#[test]
fn flies_adapts_the_folds_to_the_number_of_flies() {
    let dir = temp();
    let data = fly_dir(dir.path(), &["Fly1.mat"]);
    let out = dir.path().join("out");
    // one fly, the default 6 folds: no shared rule to cross-validate, the rest runs
    let flags = "--resamples 1 --epochs 3 --no-intervals --no-q-learning";
    let output = run(&args(&["flies", utf8(&data), "--out", utf8(&out)], flags));
    assert!(output.status.success(), "{}", stderr(&output));
    assert_says(&output, "uses 0 folds instead of 6");
    assert!(out.join("per_fly.csv").is_file());
    assert!(!out.join("population.csv").exists());
}

/// An Adam fit whose loss becomes NaN (a large learning rate on a rule that makes the
/// weights overflow) backs off `--max-backoffs` times; with too few, results.json
/// records the stop, its epoch and why, and keeps the last good (finite) parameters.
#[test]
fn a_diverging_fit_records_its_backoffs_and_stop_in_results_json() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("d.npz");
    let mut task = OjaTask::default();
    (
        task.n_pre,
        task.n_post,
        task.steps,
        task.trajectories,
        task.seed,
    ) = (4, 6, 30, 2, 2);
    save(&task, &data);
    let fit = |out: &str, backoffs: &str| -> serde_json::Value {
        let out = dir.path().join(out);
        let adam = "--optimizer adam --learning-rate 0.5 --init x*y --epochs 30";
        let flags = format!("{adam} --eval-trajectories 1 --max-backoffs {backoffs}");
        let output = run(&args(
            &["--quiet", "fit", utf8(&data), "--out", utf8(&out)],
            &flags,
        ));
        assert!(output.status.success(), "{}", stderr(&output));
        results(&out)
    };
    let stopped = fit("stopped", "2");
    let reason = &stopped["stop_reason"];
    assert_eq!(reason["reason"], "non_finite", "{reason}");
    assert_eq!(reason["epoch"], 1, "{reason}");
    let detail = reason["detail"].as_str().expect("detail");
    assert!(
        detail.contains("the loss is NaN on minibatch 2 of epoch 1 after 2 backoff(s)"),
        "{detail}"
    );
    assert_eq!(stopped["backoffs"], 2);
    assert_eq!(
        stopped["config"]["settings"]["fit"]["max_backoffs"], 2,
        "{}",
        stopped["config"]
    );
    // the last good parameters are the initial ones: x*y = 1, the rest 0, all finite
    let coefficients = stopped["coefficients"].as_object().expect("coefficients");
    assert_eq!(coefficients["x*y"], 1.0);
    assert!(coefficients
        .values()
        .all(|v| v.as_f64().is_some_and(f64::is_finite)));

    // enough backoffs: the same fit runs all its epochs
    let finished = fit("finished", "12");
    assert_eq!(finished["stop_reason"]["reason"], "epochs_completed");
    assert!(finished["backoffs"].as_u64().expect("count") > 2);
}

/// A dataset too large for memory is refused with the size it would need, not ended by
/// the out-of-memory killer: a simulation (80 TB) and, under a lowered limit, a file.
#[test]
fn a_dataset_too_large_for_memory_is_refused_with_its_size() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("huge.npz");
    let huge = "--n-pre 100000 --n-post 100000 --trajectories 1000 --out";
    let output = run(&args_then(
        &["--quiet", "simulate", "oja"],
        huge,
        &[utf8(&out)],
    ));
    assert!(!output.status.success());
    let error = stderr(&output);
    assert!(
        error.contains("simulating 1000 trajectories × 50 steps of a 100000 → 100000 layer needs 80.2 TB (80240000000000 bytes), more than the limit of"),
        "{error}"
    );
    assert!(!out.exists());

    let data = dir.path().join("tiny.npz");
    save(&tiny_task(), &data);
    let fit_with = |limit: &str, solver: &str| {
        binary()
            .args(["--quiet", "fit", "--solver", solver])
            .arg(&data)
            .arg("--out")
            .arg(dir.path().join("fit"))
            .env("PLASTICITY_MAX_DATASET_BYTES", limit)
            .env("RAYON_NUM_THREADS", "1")
            .output()
            .expect("the binary runs")
    };
    let fit = |limit: &str| fit_with(limit, "lbfgs");
    // the file's arrays (with the metadata text) take 1784 bytes
    let output = fit("1000");
    assert!(!output.status.success());
    let error = stderr(&output);
    assert!(
        error.contains(&format!(
            "loading the arrays of {} needs 1.8 kB (1784 bytes), more than the limit of 1.0 kB (1000 bytes) (set by PLASTICITY_MAX_DATASET_BYTES)",
            data.display()
        )),
        "{error}"
    );
    // the fit needs its arrays (768 bytes) and a workspace of 6 + 1 + 4 weight
    // matrices of 12 synapses (1056 bytes)
    let output = fit("1800");
    assert!(!output.status.success());
    let error = stderr(&output);
    assert!(
        error.contains("fitting 2 trajectories × 6 steps of a 3 → 4 layer on 1 thread(s) needs 1.8 kB (1824 bytes), more than the limit of 1.8 kB (1800 bytes)"),
        "{error}"
    );
    assert!(fit("1824").status.success());
    // Levenberg–Marquardt (the default solver) also holds a Gauss–Newton system per
    // trajectory (27 × 28 values) and three more, and the tangents (issue 27)
    let output = fit_with("1824", "auto");
    assert!(!output.status.success());
    let error = stderr(&output);
    assert!(
        error.contains(&format!("fitting the rule to {}", data.display()))
            && error.contains("(Levenberg–Marquardt, 1 thread(s)) needs 37.0 kB (37008 bytes), more than the limit of 1.8 kB (1824 bytes)"),
        "{error}"
    );
    assert!(fit_with("37008", "auto").status.success());
}

/// `--quiet` prints nothing but errors: a successful simulate and fit write nothing to
/// stdout or stderr. Without it, the fit's table shows each coefficient's 95 %
/// interval, marks the ones the data do not determine and names the least-determined
/// direction; coefficients.csv carries the same columns.
#[test]
fn quiet_fit_prints_nothing_and_the_table_shows_the_intervals() {
    let dir = temp();
    let data = dir.path().join("data.npz");
    let flags = "--n-pre 3 --n-post 4 --steps 20 --trajectories 3 --noise-std 0.05";
    let flags = format!("{flags} --recording-fraction 0.75 --out");
    let output = run(&args_then(
        &["--quiet", "simulate", "oja"],
        &flags,
        &[utf8(&data)],
    ));
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(output.stdout.is_empty() && output.stderr.is_empty());
    let quiet_out = dir.path().join("quiet");
    let output = run(&[
        "--quiet",
        "fit",
        utf8(&data),
        "--out",
        utf8(&quiet_out),
        "--epochs",
        "20",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        output.stdout.is_empty(),
        "stdout: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    assert!(output.stderr.is_empty(), "stderr: {}", stderr(&output));
    let csv = std::fs::read_to_string(quiet_out.join("coefficients.csv")).expect("csv");
    let header = csv.lines().next().expect("header");
    assert_eq!(
        header,
        "term,value,generating,error,std_error,lower,upper,determined"
    );
    let determined: Vec<&str> = csv
        .lines()
        .skip(1)
        .map(|l| l.rsplit(',').next().expect("a column"))
        .collect();
    assert_eq!(determined.len(), 27);
    assert!(determined.iter().all(|d| *d == "true" || *d == "false"));

    let out = dir.path().join("loud");
    let output = run(&["fit", utf8(&data), "--out", utf8(&out), "--epochs", "20"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(table.contains("95 % interval"), "{table}");
    assert!(table.contains("least-determined direction: "), "{table}");
    if determined.contains(&"false") {
        assert!(table.contains("not determined"), "{table}");
    }
    assert!(stderr(&output).contains("results written to"));
    // the same fit, the same table
    assert_eq!(
        std::fs::read_to_string(out.join("coefficients.csv")).expect("csv"),
        csv
    );
}
