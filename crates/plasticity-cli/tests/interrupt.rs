//! SIGTERM (what Slurm sends at a time limit) and then `--resume`, for the long commands
//! that work in units or steps: `select`, `flies`, `discover`, and a staged
//! Levenberg–Marquardt circuit fit under `plasticity run`. Each is stopped mid-run,
//! must say so (exit status, `stop_reason: interrupted`, a checkpoint), and its
//! resumed run must write exactly what an uninterrupted run writes.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use plasticity::task::BehaviourTask;
use serde_json::Value;

fn binary() -> Command {
    Command::new(env!("CARGO_BIN_EXE_plasticity"))
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn succeeds(args: &[&str]) {
    let output = binary().args(args).output().expect("the binary runs");
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
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

fn count_units(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .filter(|e| e.file_name().to_string_lossy().ends_with(".cbor"))
                .count()
        })
        .unwrap_or(0)
}

fn json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
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
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d.npz");
    BehaviourTask {
        sessions: 6,
        trials_per_block: 40,
        rule: "x*r".into(),
        seed: 2,
        ..BehaviourTask::default()
    }
    .simulate()
    .unwrap()
    .save(&data)
    .unwrap();
    let data = data.to_str().unwrap();
    let args = |out: &Path| -> Vec<String> {
        [
            "select",
            data,
            "--out",
            out.to_str().unwrap(),
            "--pool",
            "1,x,r,x*r,w",
            "--max-terms",
            "2",
            "--folds",
            "3",
            "--epochs",
            "60",
            "--quiet",
        ]
        .map(String::from)
        .to_vec()
    };
    let (whole, part) = whole_and_resumed(dir.path(), args, "selection.json");
    assert_eq!(
        read(&part.join("selection.csv")),
        read(&whole.join("selection.csv"))
    );
    let (a, b) = (
        json(&part.join("selection.json")),
        json(&whole.join("selection.json")),
    );
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
    let args = |out: &Path| -> Vec<String> {
        [
            "flies",
            data.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--resamples",
            "2",
            "--epochs",
            "40",
            "--population-folds",
            "0",
            "--no-intervals",
            "--quiet",
            "--models",
            "1,x,r,x*r",
            "x*r,w",
        ]
        .map(String::from)
        .to_vec()
    };
    let (whole, part) = whole_and_resumed(dir.path(), args, "comparison.json");
    assert_eq!(
        read(&part.join("per_fly.csv")),
        read(&whole.join("per_fly.csv"))
    );
    let (a, b) = (
        json(&part.join("comparison.json")),
        json(&whole.join("comparison.json")),
    );
    assert_eq!(a["fits"], b["fits"]);
    assert_eq!(a["comparisons"], b["comparisons"]);
}

#[test]
fn discover_resumes_after_sigterm_to_the_uninterrupted_rule() {
    let dir = tempfile::tempdir().unwrap();
    let experiment = repo_root().join("experiments/pca.toml");
    let args = |out: &Path, optimizer: &str, iterations: &str| -> Vec<String> {
        [
            "discover",
            experiment.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--optimizer",
            optimizer,
            "--iterations",
            iterations,
            "--checkpoint-interval",
            "0",
            "--quiet",
        ]
        .map(String::from)
        .to_vec()
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
            assert_eq!(
                read(&part.join(file)),
                read(&whole.join(file)),
                "{optimizer}: {file}"
            );
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
    succeeds(&["--quiet", "run", file, "--out", whole.to_str().unwrap()]);
    let args = [
        "--quiet",
        "run",
        file,
        "--out",
        part.to_str().unwrap(),
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
    assert_eq!(
        read(&part.join("table.csv")),
        read(&whole.join("table.csv"))
    );
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
    let data = dir.path().join("d.npz");
    BehaviourTask {
        sessions: 4,
        trials_per_block: 40,
        rule: "x*r".into(),
        seed: 4,
        ..BehaviourTask::default()
    }
    .simulate()
    .unwrap()
    .save(&data)
    .unwrap();
    let args = |out: &Path| -> Vec<String> {
        [
            "fit",
            data.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--optimizer",
            "adam",
            "--epochs",
            "600",
            "--learning-rate",
            "0.01",
        ]
        .map(String::from)
        .to_vec()
    };
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
    assert_eq!(
        read(&part.join("coefficients.csv")),
        read(&whole.join("coefficients.csv"))
    );
    assert!(!part.join("checkpoint.json").exists());
}

fn behaviour_data(dir: &Path, sessions: usize, trials_per_block: usize) -> PathBuf {
    let data = dir.join("d.npz");
    BehaviourTask {
        sessions,
        trials_per_block,
        rule: "x*r - 0.05*w".into(),
        seed: 3,
        ..BehaviourTask::default()
    }
    .simulate()
    .unwrap()
    .save(&data)
    .unwrap();
    data
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
    let args = |out: &Path| -> Vec<String> {
        [
            "table",
            "--out",
            out.to_str().unwrap(),
            "--rules",
            "x*r;x*r - 0.05*w",
            "--seeds",
            "4",
            "--families",
            "taylor",
            "--sessions",
            "4",
            "--epochs",
            "60",
            "--quiet",
        ]
        .map(String::from)
        .to_vec()
    };
    let (whole, part) = whole_and_resumed(dir.path(), args, "table.json");
    assert_eq!(
        read(&part.join("table.csv")),
        read(&whole.join("table.csv"))
    );
}

#[test]
fn design_resumes_after_sigterm_to_the_uninterrupted_power() {
    let dir = tempfile::tempdir().unwrap();
    let args = |out: &Path| -> Vec<String> {
        [
            "design",
            "--out",
            out.to_str().unwrap(),
            "--animals",
            "3,6",
            "--trials",
            "120",
            "--replicates",
            "4",
            "--iterations",
            "40",
            "--quiet",
        ]
        .map(String::from)
        .to_vec()
    };
    let (whole, part) = whole_and_resumed(dir.path(), args, "design.json");
    assert_eq!(
        read(&part.join("power.csv")),
        read(&whole.join("power.csv"))
    );
    let (a, b) = (
        json(&part.join("design.json")),
        json(&whole.join("design.json")),
    );
    assert_eq!(a["analysis"], b["analysis"]);
}

#[test]
fn posterior_resumes_after_sigterm_to_the_uninterrupted_draws() {
    let dir = tempfile::tempdir().unwrap();
    let data = behaviour_data(dir.path(), 3, 20);
    let fit = dir.path().join("fit");
    succeeds(&[
        "--quiet",
        "fit",
        data.to_str().unwrap(),
        "--out",
        fit.to_str().unwrap(),
        "--trainable",
        "w,x*r",
        "--optimizer",
        "lbfgs",
        "--epochs",
        "30",
        "--eval-sessions",
        "0",
    ]);
    let args = |out: &Path| -> Vec<String> {
        [
            "posterior",
            fit.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--chains",
            "8",
            "--draws",
            "150",
            "--warmup",
            "150",
            "--quiet",
        ]
        .map(String::from)
        .to_vec()
    };
    let (whole, part) = whole_and_resumed(dir.path(), args, "posterior.json");
    assert_eq!(
        read(&part.join("posterior_draws.csv")),
        read(&whole.join("posterior_draws.csv"))
    );
}
