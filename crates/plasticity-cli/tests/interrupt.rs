//! SIGTERM (what Slurm sends at a time limit) and then `--resume`, for the long commands
//! that work in units or steps: `select`, `flies`, `discover`, and a staged
//! Levenberg–Marquardt circuit fit under `plasticity run`. Each is stopped mid-run,
//! must say so (exit status, `stop_reason: interrupted`, a checkpoint), and its
//! resumed run must write exactly what an uninterrupted run writes.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{args, behaviour_file, binary, json, ok, owned_args, read, repo_root, utf8};
use serde_json::Value;

fn succeeds(args: &[&str]) {
    ok(args);
}

/// `name` is the same in the whole run's directory and the resumed one's.
fn assert_same_file(whole: &Path, part: &Path, name: &str) {
    assert_eq!(read(&part.join(name)), read(&whole.join(name)), "{name}");
}

/// [`whole_and_resumed`], checking that both runs wrote the same `same` file; returns
/// the `results` of the resumed run and of the whole run.
fn resumed_as_whole(
    dir: &Path,
    args: impl Fn(&Path) -> Vec<String>,
    results: &str,
    same: &str,
) -> (Value, Value) {
    let (whole, part) = whole_and_resumed(dir, args, results);
    assert_same_file(&whole, &part, same);
    both_json(&whole, &part, results)
}

/// The JSON file `name` of the resumed run and of the whole run.
fn both_json(whole: &Path, part: &Path, name: &str) -> (Value, Value) {
    (json(&part.join(name)), json(&whole.join(name)))
}

/// Runs `args`, sends SIGTERM as soon as `ready()` holds, and returns the exit status
/// and stderr; panics if the command ended before it could be stopped.
fn terminated_when(args: &[&str], ready: impl Fn() -> bool) -> (bool, String) {
    terminated_when_logged(args, |_| ready())
}

/// [`terminated_when`], `ready` seeing what the command wrote to stderr so far.
fn terminated_when_logged(args: &[&str], ready: impl Fn(&str) -> bool) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("stderr");
    // two threads everywhere: the units in flight when the signal lands are bounded
    let mut child = binary()
        .env("RAYON_NUM_THREADS", "2")
        .args(args)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("started");
    let start = Instant::now();
    while !ready(&std::fs::read_to_string(&log).unwrap_or_default()) {
        if let Some(status) = child.try_wait().expect("waited") {
            panic!(
                "{args:?} ended ({status}) before it could be stopped: make it longer\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        assert!(start.elapsed() < Duration::from_secs(300), "never ready");
        std::thread::sleep(Duration::from_millis(5));
    }
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let status = child.wait().expect("reaped");
    (
        status.success(),
        std::fs::read_to_string(&log).unwrap_or_default(),
    )
}

/// The journal's units (`.cbor` files) in `dir`; none where `dir` does not exist.
fn count_units(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let is_unit = |name: &str| name.ends_with(".cbor");
    entries
        .flatten()
        .filter(|e| is_unit(&e.file_name().to_string_lossy()))
        .count()
}

/// The checks every interrupted unit-journal command shares: non-zero exit naming the
/// interruption, the results file saying so, units kept; then the resumed run.
fn interrupted_then_resumed(args: &[&str], out: &Path, results: &str) {
    let checkpoint = out.join("checkpoint");
    let (success, stderr) = terminated_when(args, || count_units(&checkpoint) >= 2);
    assert!(!success, "an interrupted run must not exit 0");
    assert!(
        stderr.contains("interrupted") && stderr.contains("--resume"),
        "{stderr}"
    );
    let partial = json(&out.join(results));
    assert_eq!(partial["stop_reason"], "interrupted", "{partial}");
    let (done, total) = (
        partial["units_done"].as_u64().unwrap(),
        partial["units"].as_u64().unwrap(),
    );
    assert!(done >= 2 && done < total, "{done} of {total}");
    assert!(count_units(&checkpoint) as u64 >= done);
    let mut resumed: Vec<&str> = args.to_vec();
    resumed.push("--resume");
    succeeds(&resumed);
    assert_eq!(json(&out.join(results))["stop_reason"], "completed");
    assert!(!checkpoint.exists(), "the journal is removed once done");
}

#[test]
fn select_resumes_after_sigterm_to_the_uninterrupted_ranking() {
    let flags = "--pool 1,x,r,x*r,w --max-terms 2 --folds 3 --epochs 60 --quiet";
    let dir = tempfile::tempdir().unwrap();
    let data = behaviour_file(dir.path(), 6, 40, "x*r", 2);
    let args = |out: &Path| owned_args(&["select", utf8(&data), "--out", utf8(out)], flags);
    let (a, b) = resumed_as_whole(dir.path(), args, "selection.json", "selection.csv");
    assert_eq!(a["candidates"], b["candidates"]);
}

#[test]
fn flies_resume_after_sigterm_to_the_uninterrupted_fits() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("flies");
    std::fs::create_dir(&data).unwrap();
    for fly in ["Fly1.mat", "Fly2.mat", "Fly3.mat"] {
        std::fs::copy(repo_root().join("data/flies").join(fly), data.join(fly)).unwrap();
    }
    let flags = "--resamples 2 --epochs 40 --population-folds 0 --no-intervals --quiet";
    let flags = format!("{flags} --models 1,x,r,x*r x*r,w");
    let args = |out: &Path| owned_args(&["flies", utf8(&data), "--out", utf8(out)], &flags);
    let (a, b) = resumed_as_whole(dir.path(), args, "comparison.json", "per_fly.csv");
    assert_eq!(a["fits"], b["fits"]);
    assert_eq!(a["comparisons"], b["comparisons"]);
}

#[test]
fn discover_resumes_after_sigterm_to_the_uninterrupted_rule() {
    let dir = tempfile::tempdir().unwrap();
    let experiment = repo_root().join("experiments/pca.toml");
    let args = |out: &Path, optimizer: &str, iterations: &str| -> Vec<String> {
        let head = ["discover", utf8(&experiment), "--out", utf8(out)];
        let flags = format!("--optimizer {optimizer} --iterations {iterations}");
        owned_args(&head, &format!("{flags} --checkpoint-interval 0 --quiet"))
    };
    for (optimizer, iterations) in [("adam", "600"), ("cmaes", "40")] {
        let whole = dir.path().join(format!("whole-{optimizer}"));
        let part = dir.path().join(format!("part-{optimizer}"));
        let whole_args = args(&whole, optimizer, iterations);
        succeeds(&whole_args.iter().map(String::as_str).collect::<Vec<_>>());
        let part_args = args(&part, optimizer, iterations);
        let part_args: Vec<&str> = part_args.iter().map(String::as_str).collect();
        let checkpoint = part.join("checkpoint.cbor");
        let (success, stderr) = terminated_when(&part_args, || checkpoint.is_file());
        assert!(!success && stderr.contains("interrupted"), "{stderr}");
        assert_eq!(
            json(&part.join("results.json"))["stop_reason"],
            "interrupted"
        );
        let mut resumed = part_args.clone();
        resumed.push("--resume");
        succeeds(&resumed);
        for file in [
            "coefficients.csv",
            "loss_history.csv",
            "coefficient_history.csv",
        ] {
            let (a, b) = (read(&part.join(file)), read(&whole.join(file)));
            assert_eq!(a, b, "{optimizer}: {file}");
        }
        assert_eq!(json(&part.join("results.json"))["stop_reason"], "completed");
        assert!(!checkpoint.exists());
    }
}

#[test]
fn a_staged_circuit_fit_resumes_mid_stage_after_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let circuit = repo_root().join("experiments/circuits/recurrent.toml");
    let file = dir.path().join("circuit.toml");
    std::fs::write(
        &file,
        format!(
            "kind = \"circuit\"\ntitle = \"t\"\ndescription = \"d\"\n\
             [simulate]\ncircuit = {circuit:?}\ntrajectories = 4\nsteps = 24\n\
             noise_std = 0.05\nrecording_fraction = 0.5\nseed = 3\n\
             [fit]\nepochs = 30\neval_trajectories = 2\nseed = 1\n"
        ),
    )
    .unwrap();
    let file = file.to_str().unwrap();
    let (whole, part) = (dir.path().join("whole"), dir.path().join("part"));
    succeeds(&["--quiet", "run", file, "--out", utf8(&whole)]);
    let args = [
        "--quiet",
        "run",
        file,
        "--out",
        utf8(&part),
        "--checkpoint-interval",
        "0",
    ];
    let checkpoint = part.join("cells/cell_0000/checkpoint.json");
    // stop once the fit is a few stages in
    let (success, stderr) = terminated_when(&args, || {
        std::fs::read_to_string(&checkpoint)
            .ok()
            .and_then(|text| serde_json::from_str::<Value>(&text).ok())
            .is_some_and(|c| c["checkpoint"]["epochs_done"].as_u64() >= Some(8))
    });
    assert!(!success && stderr.contains("--resume"), "{stderr}");
    let taken = json(&checkpoint);
    assert!(
        taken["checkpoint"]["staged"].is_string(),
        "a staged checkpoint"
    );
    let mut resumed = args.to_vec();
    resumed.push("--resume");
    succeeds(&resumed);
    assert_same_file(&whole, &part, "table.csv");
    let log = read(&part.join("log.txt"));
    assert!(log.contains("resuming from checkpoint"), "{log}");
}

/// `plasticity fit` (here of behaviour data with Adam, whose minibatch order is
/// replayed from the seed) stopped by SIGTERM writes its results with stop_reason
/// interrupted and OUT/checkpoint.json; `--resume` ends where the uninterrupted fit
/// ends.
#[test]
fn a_fit_resumes_after_sigterm_to_the_uninterrupted_coefficients() {
    let dir = tempfile::tempdir().unwrap();
    let data = behaviour_file(dir.path(), 4, 40, "x*r", 4);
    let flags = "--optimizer adam --epochs 600 --learning-rate 0.01";
    let args = |out: &Path| owned_args(&["fit", utf8(&data), "--out", utf8(out)], flags);
    let (whole, part) = (dir.path().join("whole"), dir.path().join("part"));
    let whole_args = args(&whole);
    let mut quiet: Vec<&str> = whole_args.iter().map(String::as_str).collect();
    quiet.push("--quiet");
    succeeds(&quiet);
    let part_args = args(&part);
    let part_args: Vec<&str> = part_args.iter().map(String::as_str).collect();
    // without a terminal the fit logs a line every 5 % of its epochs
    let (_, stderr) = terminated_when_logged(&part_args, |log| log.contains("epoch 60/"));
    assert!(stderr.contains("--resume"), "{stderr}");
    let results = json(&part.join("results.json"));
    assert_eq!(results["stop_reason"]["reason"], "interrupted", "{results}");
    assert!(part.join("checkpoint.json").is_file());
    let mut resumed = part_args.clone();
    resumed.extend(["--resume", "--quiet"]);
    succeeds(&resumed);
    assert_same_file(&whole, &part, "coefficients.csv");
    assert!(!part.join("checkpoint.json").exists());
}

/// Runs `args(out)` whole into `whole`, then interrupted and resumed into `part`, and
/// returns both directories.
fn whole_and_resumed(
    dir: &Path,
    args: impl Fn(&Path) -> Vec<String>,
    results: &str,
) -> (PathBuf, PathBuf) {
    let (whole, part) = (dir.join("whole"), dir.join("part"));
    succeeds(&args(&whole).iter().map(String::as_str).collect::<Vec<_>>());
    interrupted_then_resumed(
        &args(&part).iter().map(String::as_str).collect::<Vec<_>>(),
        &part,
        results,
    );
    (whole, part)
}

#[test]
fn table_resumes_after_sigterm_to_the_uninterrupted_table() {
    let dir = tempfile::tempdir().unwrap();
    let flags = "--seeds 4 --families taylor --sessions 4 --epochs 60 --quiet";
    let args = |out: &Path| {
        let head = ["table", "--out", utf8(out), "--rules", "x*r;x*r - 0.05*w"];
        owned_args(&head, flags)
    };
    resumed_as_whole(dir.path(), args, "table.json", "table.csv");
}

#[test]
fn design_resumes_after_sigterm_to_the_uninterrupted_power() {
    let dir = tempfile::tempdir().unwrap();
    let flags = "--animals 3,6 --trials 120 --replicates 4 --iterations 40 --quiet";
    let args = |out: &Path| owned_args(&["design", "--out", utf8(out)], flags);
    let (a, b) = resumed_as_whole(dir.path(), args, "design.json", "power.csv");
    assert_eq!(a["analysis"], b["analysis"]);
}

#[test]
fn posterior_resumes_after_sigterm_to_the_uninterrupted_draws() {
    let dir = tempfile::tempdir().unwrap();
    let data = behaviour_file(dir.path(), 3, 20, "x*r - 0.05*w", 3);
    let fit = dir.path().join("fit");
    let head = ["--quiet", "fit", utf8(&data), "--out", utf8(&fit)];
    succeeds(&args(
        &head,
        "--trainable w,x*r --optimizer lbfgs --epochs 30 --eval-sessions 0",
    ));
    let flags = "--chains 8 --draws 150 --warmup 150 --quiet";
    let args = |out: &Path| owned_args(&["posterior", utf8(&fit), "--out", utf8(out)], flags);
    resumed_as_whole(dir.path(), args, "posterior.json", "posterior_draws.csv");
}
