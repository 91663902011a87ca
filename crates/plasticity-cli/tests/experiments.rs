//! `plasticity run`, `collect`, `plot` and experiment files: config errors name the
//! key and the line; a run killed mid-fit resumes to the identical table; figures are
//! redrawn without refitting; every shipped experiment file is valid.

mod common;

use common::{args, assert_says, neural_experiment, repo_root, stderr};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn binary() -> Command {
    let mut command = common::binary();
    command.arg("--quiet");
    command
}

/// A small neural experiment (6 → 12 neurons, a 2-cell grid) with `extra` appended.
fn small_experiment(dir: &Path, epochs: usize, extra: &str) -> PathBuf {
    let path = dir.join("small.toml");
    let text = neural_experiment("title = \"test\"\n", epochs, extra);
    std::fs::write(&path, text).expect("written");
    path
}

fn run_experiment(file: &Path, out: &Path, extra: &[&str]) -> Output {
    common::run_experiment(&["--quiet"], file, out, extra)
}

/// `plasticity --quiet run FILE --out OUT --executor slurm --dry-run EXTRA`, which must
/// succeed.
fn slurm_dry_run(file: &Path, out: &Path, extra: &str) {
    let flags = args(&["--executor", "slurm", "--dry-run"], extra);
    let output = run_experiment(file, out, &flags);
    assert!(output.status.success(), "{}", stderr(&output));
}

/// `plasticity --quiet cell OUT --index INDEX --resume`, which must succeed.
fn cell(out: &Path, index: &str) {
    let output = binary()
        .args(["cell"])
        .arg(out)
        .args(["--index", index, "--resume"])
        .output()
        .expect("cell");
    assert!(output.status.success(), "{}", stderr(&output));
}

/// `plasticity --quiet collect OUT`.
fn collect(out: &Path) -> Output {
    binary().arg("collect").arg(out).output().expect("collect")
}

/// The error of `plasticity run` on an experiment file with `text`.
fn config_error(text: &str) -> String {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, text).expect("written");
    let output = run_experiment(&path, &dir.path().join("run"), &[]);
    assert!(!output.status.success(), "accepted:\n{text}");
    assert!(
        !dir.path().join("run").exists(),
        "a refused experiment must not create its run directory"
    );
    stderr(&output)
}

/// Each case's file is refused with an error that contains every one of its needles.
fn assert_config_errors(cases: &[(String, &[&str])]) {
    for (text, needles) in cases {
        let error = config_error(text);
        for needle in *needles {
            assert!(
                error.contains(needle),
                "{text:?}: '{needle}' not in {error}"
            );
        }
    }
}

/// The fit settings of the Adam experiments.
const ADAM: &str = "optimizer = \"adam\"\nlearning_rate = 0.01\nbatch_size = 2\n";

const GOOD_HEAD: &str = "kind = \"neural\"\n\n[simulate]\nn_pre = 4\nn_post = 6\n\n[fit]\n";

#[test]
fn unknown_keys_are_named_with_their_line() {
    let g = |tail: &str| format!("{GOOD_HEAD}{tail}");
    assert_config_errors(&[
        (
            g("epochs = 3\nlearning_rat = 0.1\n"),
            // the known keys are listed
            &[
                "bad.toml:9",
                "fit.learning_rat",
                "unknown key",
                "learning_rate",
            ],
        ),
        (
            "kind = \"neural\"\nseeed = 3\n".into(),
            &["bad.toml:2", "seeed"],
        ),
        (
            g("[slurm]\nmemory = \"4G\"\n"),
            &["bad.toml:9", "slurm.memory"],
        ),
        (
            g("[grid]\n\"fit.epoch\" = [1, 2]\n"),
            &["bad.toml:9", "fit.epoch"],
        ),
        (
            "kind = \"neural\"\n[table]\nseeds = 1\n".into(),
            &["[table]"],
        ),
    ]);
}

#[test]
fn wrong_types_are_named_with_their_line() {
    let g = |tail: &str| format!("{GOOD_HEAD}{tail}");
    assert_config_errors(&[
        (
            g("epochs = \"many\"\n"),
            &["bad.toml:8", "fit.epochs", "many"],
        ),
        (g("epochs = 2.5\n"), &["bad.toml:8", "fit.epochs"]),
        // the choices are listed
        (
            g("optimizer = \"sgd\"\n"),
            &["bad.toml:8", "fit.optimizer", "lbfgs"],
        ),
        (g("seed = [1, 2]\n"), &["bad.toml:8", "fit.seed"]),
        (
            "kind = \"neural\"\nsave_data = \"yes\"\n".into(),
            &["bad.toml:2", "save_data"],
        ),
        ("kind = \"neurons\"\n".into(), &["bad.toml:1", "kind"]),
        (
            "kind = \"neural\"\n[fit\nepochs = 3\n".into(),
            &["not valid TOML", "line 2"],
        ),
    ]);
}

#[test]
fn out_of_range_values_are_named_with_their_line() {
    let g = |tail: &str| format!("{GOOD_HEAD}{tail}");
    let neural = "kind = \"neural\"\n";
    assert_config_errors(&[
        (g("epochs = 0\n"), &["bad.toml:8", "fit.epochs"]),
        (
            g("learning_rate = -1.0\n"),
            &["bad.toml:8", "fit.learning_rate"],
        ),
        (
            format!("{neural}\n[simulate]\nn_post = 6\nrecording_fraction = 1.5\n"),
            &["bad.toml:5", "simulate.recording_fraction"],
        ),
        // a grid value out of range points at the grid's line
        (
            format!(
                "{neural}[simulate]\nn_post = 6\n[grid]\n\"simulate.noise_std\" = [0.0, -1.0]\n"
            ),
            &["bad.toml:5", "simulate.noise_std"],
        ),
        (
            format!("{neural}checkpoint_interval = -2\n"),
            &["bad.toml:2", "checkpoint_interval"],
        ),
    ]);
}

#[test]
fn a_run_writes_its_directory_and_plot_redraws_the_figures() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = small_experiment(dir.path(), 15, "");
    let out = dir.path().join("run");
    let output = run_experiment(&file, &out, &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    for name in [
        "experiment.toml",
        "resolved.toml",
        "run.json",
        "table.csv",
        "results.json",
        "log.txt",
    ] {
        assert!(out.join(name).is_file(), "{name} missing");
    }
    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).expect("run.json"))
            .expect("json");
    assert!(run["version"].is_string() && run["git_commit"].is_string());
    assert_eq!(run["seeds"]["simulate.seed"], serde_json::json!([1]));
    // the resolved config holds every flag, defaults included, and runs as it is
    let resolved = std::fs::read_to_string(out.join("resolved.toml")).expect("resolved");
    for key in "learning_rate batch_size tolerance recording_fraction".split_whitespace() {
        assert!(
            resolved.contains(key),
            "{key} not in resolved.toml:\n{resolved}"
        );
    }
    let table = std::fs::read_to_string(out.join("table.csv")).expect("table");
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 3, "{table}");
    assert!(
        lines[0].starts_with("cell,noise_std,rule_family,stop_reason"),
        "{}",
        lines[0]
    );
    assert!(lines[0].contains("r2_weights") && lines[0].contains("theta_x*y"));
    let log = std::fs::read_to_string(out.join("log.txt")).expect("log");
    assert!(log.contains("cell done") && log.contains("loss"), "{log}");

    // figures: drawn by the run, redrawn by `plot` from the tables alone
    let figures = out.join("figures");
    let names = |dir: &Path| -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .map(|e| e.expect("entry").file_name().to_string_lossy().to_string())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    };
    let drawn = names(&figures);
    for expected in [
        "coefficients_cell0000.png",
        "coefficients_cell0001.svg",
        "weights_cell0000.png",
        "loss.png",
    ] {
        assert!(
            drawn.contains(&expected.to_string()),
            "{expected} not in {drawn:?}"
        );
    }
    std::fs::remove_dir_all(&figures).expect("removed");
    for cell in ["cell_0000", "cell_0001"] {
        std::fs::remove_file(out.join("cells").join(cell).join("coefficients.csv")).ok();
    }
    let output = binary().arg("plot").arg(&out).output().expect("plot");
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(names(&figures), drawn);

    // the run directory is not overwritten without --resume
    let output = run_experiment(&file, &out, &[]);
    assert!(!output.status.success());
    assert_says(&output, "--resume");
}

/// Runs `file` uninterrupted into `dir/whole`; returns that directory and its table.
fn whole_run(dir: &Path, file: &Path) -> (PathBuf, String) {
    let whole = dir.join("whole");
    let output = run_experiment(file, &whole, &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    let table = std::fs::read_to_string(whole.join("table.csv")).expect("table");
    (whole, table)
}

/// Starts a run, kills it (SIGKILL) once a checkpoint of cell 0 exists, resumes it,
/// and returns the resumed table; panics if the run finished before it was killed.
fn killed_and_resumed(file: &Path, out: &Path) -> String {
    let mut child = binary()
        .arg("run")
        .arg(file)
        .arg("--out")
        .arg(out)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("started");
    let checkpoint = out.join("cells/cell_0000/checkpoint.json");
    let start = Instant::now();
    while !checkpoint.is_file() {
        assert!(
            child.try_wait().expect("waited").is_none(),
            "the run ended before it could be killed"
        );
        assert!(start.elapsed() < Duration::from_secs(120), "no checkpoint");
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(50));
    child.kill().expect("killed");
    child.wait().expect("reaped");
    assert!(
        !out.join("table.csv").is_file(),
        "the run finished before it was killed"
    );
    // every file the killed run left behind parses
    let text = std::fs::read_to_string(&checkpoint).expect("checkpoint");
    serde_json::from_str::<serde_json::Value>(&text).expect("a complete checkpoint");
    let output = run_experiment(file, out, &["--resume"]);
    assert!(output.status.success(), "{}", stderr(&output));
    // the interrupted fit continued from its checkpoint rather than starting over
    let log = std::fs::read_to_string(out.join("log.txt")).expect("log");
    assert!(
        log.contains("resuming from checkpoint") && !log.contains("epochs_done=0 "),
        "{log}"
    );
    std::fs::read_to_string(out.join("table.csv")).expect("table")
}

#[test]
fn a_killed_run_resumes_to_the_identical_table() {
    // enough epochs that the kill lands mid-fit; the convergence test is off; L-BFGS
    // (Levenberg–Marquardt, the default, converges in a few steps and restarts a cell)
    let lbfgs = "tolerance = 0.0\noptimizer = \"lbfgs\"\nsolver = \"lbfgs\"\n";
    let dir = tempfile::tempdir().expect("temp dir");
    let file = small_experiment(dir.path(), 400, lbfgs);
    let (whole, expected) = whole_run(dir.path(), &file);
    let resumed = killed_and_resumed(&file, &dir.path().join("killed"));
    assert_eq!(resumed, expected);
    let trajectory = |run: &Path| {
        std::fs::read_to_string(run.join("cells/cell_0000/trajectory.csv")).expect("trajectory")
    };
    assert_eq!(trajectory(&dir.path().join("killed")), trajectory(&whole));
}

#[test]
fn an_adam_run_killed_mid_fit_resumes_to_the_identical_table() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = small_experiment(dir.path(), 300, ADAM);
    let (_, expected) = whole_run(dir.path(), &file);
    assert_eq!(
        killed_and_resumed(&file, &dir.path().join("killed")),
        expected
    );
}

#[test]
fn a_resumed_run_must_be_the_same_experiment() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = small_experiment(dir.path(), 5, "");
    let out = dir.path().join("run");
    assert!(run_experiment(&file, &out, &[]).status.success());
    let file = small_experiment(dir.path(), 6, "");
    let output = run_experiment(&file, &out, &["--resume"]);
    assert!(!output.status.success());
    assert_says(&output, "same experiment");
}

#[test]
fn slurm_dry_run_writes_a_job_array_and_collect_reports_missing_cells() {
    let dir = tempfile::tempdir().expect("temp dir");
    let slurm = "\n[slurm]\ntime = \"00:05:00\"\noptions = [\"--mem=1G\"]\n";
    let file = small_experiment(dir.path(), 5, slurm);
    let out = dir.path().join("run");
    slurm_dry_run(&file, &out, "--sbatch-option=--qos=short");
    let script = std::fs::read_to_string(out.join("slurm/array.sh")).expect("script");
    for line in [
        "#SBATCH --array=0-1",
        "#SBATCH --time=00:05:00",
        "#SBATCH --mem=1G",
        "#SBATCH --qos=short",
        "cell",
        "--index \"$SLURM_ARRAY_TASK_ID\"",
    ] {
        assert!(script.contains(line), "{line} not in\n{script}");
    }
    let output = collect(&out);
    assert!(!output.status.success());
    assert_says(&output, "2 of 2 cells");
    // the cells run as a Slurm task would run them, then collect gathers them
    for index in ["0", "1"] {
        cell(&out, index);
    }
    let output = collect(&out);
    assert!(output.status.success(), "{}", stderr(&output));
    let local = dir.path().join("local");
    assert!(run_experiment(&file, &local, &[]).status.success());
    assert_eq!(
        std::fs::read_to_string(out.join("table.csv")).expect("slurm table"),
        std::fs::read_to_string(local.join("table.csv")).expect("local table")
    );
}

#[test]
fn slurm_cells_and_resubmissions_keep_the_run_command_line_overrides() {
    // `--seed` and `--sbatch-option` given to `plasticity run --executor slurm` hold
    // for its array tasks (`plasticity cell`) and for `collect --resubmit-failed`,
    // which read the run directory, not the command line
    let dir = tempfile::tempdir().expect("temp dir");
    let file = small_experiment(dir.path(), 5, "");
    let out = dir.path().join("run");
    slurm_dry_run(&file, &out, "--seed 7 --sbatch-option=--time=1");
    cell(&out, "0");
    // cell 1 is missing: a resubmission (no sbatch here) writes the script with the
    // recorded option and the new one after it, then fails to submit
    let output = binary()
        .arg("collect")
        .arg(&out)
        .args(["--resubmit-failed", "--sbatch-option=--time=2"])
        .env("PATH", dir.path())
        .output()
        .expect("collect");
    assert!(!output.status.success());
    assert_says(&output, "sbatch");
    let script = std::fs::read_to_string(out.join("slurm/array.sh")).expect("script");
    let at = |line: &str| {
        script
            .find(line)
            .unwrap_or_else(|| panic!("{line} not in\n{script}"))
    };
    assert!(at("#SBATCH --array=1\n") < at("#SBATCH --time=1\n"));
    assert!(at("#SBATCH --time=1\n") < at("#SBATCH --time=2\n"));
    cell(&out, "1");
    let output = collect(&out);
    assert!(output.status.success(), "{}", stderr(&output));
    let local = dir.path().join("local");
    assert!(run_experiment(&file, &local, &["--seed", "7"])
        .status
        .success());
    let other = dir.path().join("other");
    assert!(run_experiment(&file, &other, &[]).status.success());
    let table = |dir: &Path| std::fs::read_to_string(dir.join("table.csv")).expect("table");
    assert_eq!(table(&out), table(&local));
    assert_ne!(table(&out), table(&other), "--seed 7 changed nothing");
    // a resumed run must keep the seed it started with
    let output = run_experiment(&file, &local, &["--resume"]);
    assert!(!output.status.success());
    assert_says(&output, "--seed 7");
}

#[test]
fn every_shipped_experiment_file_is_valid() {
    let dir = repo_root().join("experiments");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).expect("experiments/") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "toml") {
            // `plasticity discover` files (function objectives) are checked by
            // `discover --check`
            let text = std::fs::read_to_string(&path).expect("readable");
            if text.lines().any(|l| {
                [
                    "pca",
                    "memory",
                    "memory_phase",
                    "pca_components",
                    "spiking_target_rate",
                ]
                .iter()
                .any(|kind| l == format!("kind = \"{kind}\""))
            }) {
                let output = binary()
                    .arg("discover")
                    .arg(&path)
                    .arg("--check")
                    .output()
                    .expect("ran");
                assert!(
                    output.status.success(),
                    "{}: {}",
                    path.display(),
                    stderr(&output)
                );
                checked += 1;
                continue;
            }
            // --executor slurm --dry-run parses and checks everything, then only
            // writes the job script
            let out = tempfile::tempdir().expect("temp dir");
            let output = binary()
                .arg("run")
                .arg(&path)
                .arg("--out")
                .arg(out.path().join("run"))
                .args(["--executor", "slurm", "--dry-run"])
                .output()
                .expect("ran");
            let error = stderr(&output);
            // every experiment's data is in the repository (flies.toml: data/flies)
            assert!(output.status.success(), "{}: {error}", path.display());
            checked += 1;
        }
    }
    assert!(checked >= 6, "only {checked} experiment files checked");
}

/// The TOML files of the malformed-file corpus (made by
/// `crates/plasticity/tests/malformed.rs`): each is refused before anything runs, with
/// a message that names the file, the line and key where there is one, and the defect.
#[test]
fn every_malformed_experiment_file_is_refused_naming_file_and_key() {
    let corpus = repo_root().join("crates/plasticity/tests/data/malformed");
    let cases = [
        (
            "toml_truncated.toml",
            ": not valid TOML: TOML parse error at line 5, column 13",
        ),
        (
            "toml_wrong_magic.toml",
            ": not valid TOML: TOML parse error at line 1",
        ),
        (
            "toml_wrong_dtype.toml",
            ":8: key `fit.epochs`: invalid value 'many' for 'epochs <EPOCHS>'",
        ),
        (
            "toml_shapes_disagree.toml",
            ":11: key `grid.\"table.rule\"`: no section [table] in a \"neural\" experiment",
        ),
        (
            "toml_grid_claims_1e12_cells.toml",
            ":12: key `grid.\"fit.seed\"`: the grid has more than 100000 cells",
        ),
        (
            "toml_nan.toml",
            ":9: key `fit.learning_rate`: must be a positive number, got NaN",
        ),
        (
            "toml_inf.toml",
            ":6: key `simulate.noise_std`: must be finite and ≥ 0, got inf",
        ),
        (
            "toml_non_utf8.toml",
            ": not UTF-8 text: invalid byte at offset 76",
        ),
        (
            "toml_empty_grid.toml",
            ":11: key `grid.\"fit.seed\"`: the array of values is empty",
        ),
    ];
    let dir = tempfile::tempdir().expect("temp dir");
    for (file, expected) in cases {
        let path = corpus.join(file);
        let output = run_experiment(&path, &dir.path().join("run"), &[]);
        let error = stderr(&output);
        assert!(!output.status.success(), "{file} accepted");
        let located = format!("{}{expected}", path.display());
        assert!(
            error.contains(&located),
            "{file}: expected '{located}' in:\n{error}"
        );
        assert!(error.contains(&path.display().to_string()), "{error}");
        assert!(
            !dir.path().join("run").exists(),
            "{file}: a run directory was made"
        );
    }
}

/// Every output file under `dir` parses: JSON, CSV (a header and rows with as many
/// cells, each line complete), TOML, PNG (signature to IEND) and SVG (closed). Temporary
/// files of an interrupted atomic write (`.name.tmp-PID`) are not outputs and are
/// skipped; so are the append-only log and the lock files (`.lock`: empty, or the
/// writer holding the directory). Returns how many files were checked.
fn every_output_parses(dir: &Path) -> usize {
    let mut checked = 0;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    for entry in entries {
        let path = entry.expect("entry").path();
        let name = path
            .file_name()
            .expect("name")
            .to_string_lossy()
            .to_string();
        if path.is_dir() {
            checked += every_output_parses(&path);
            continue;
        }
        if name.starts_with('.') && name.contains(".tmp-") || name == "log.txt" || name == ".lock" {
            continue;
        }
        let bytes = std::fs::read(&path).expect("readable");
        let text = || String::from_utf8(bytes.clone()).expect("UTF-8");
        match path.extension().and_then(|e| e.to_str()) {
            Some("json") => {
                serde_json::from_slice::<serde_json::Value>(&bytes)
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            }
            Some("toml") => {
                text()
                    .parse::<toml::Table>()
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            }
            Some("csv") => {
                let text = text();
                assert!(text.ends_with('\n'), "{}: incomplete", path.display());
                let cells = |line: &str| {
                    let mut quoted = false;
                    1 + line
                        .chars()
                        .filter(|&c| {
                            quoted ^= c == '"';
                            c == ',' && !quoted
                        })
                        .count()
                };
                let mut lines = text.lines();
                let width = cells(lines.next().expect("a header"));
                for line in lines {
                    assert_eq!(cells(line), width, "{}: {line}", path.display());
                }
            }
            Some("png") => {
                assert!(
                    bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
                    "{}",
                    path.display()
                );
                assert!(bytes.ends_with(b"IEND\xaeB`\x82"), "{}", path.display());
            }
            Some("svg") => {
                assert!(text().trim_end().ends_with("</svg>"), "{}", path.display());
            }
            _ => panic!("{}: an output of unknown kind", path.display()),
        }
        checked += 1;
    }
    checked
}

/// SIGKILL at random (seeded) moments: a run, and then each `--resume` of it, is killed
/// at a moment drawn uniformly over most of an uninterrupted run's duration; after every kill
/// every output file present parses; the last `--resume` finishes with a table and
/// fit trajectories byte-identical to the uninterrupted run's.
#[test]
fn a_run_killed_at_random_moments_resumes_to_the_identical_table() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = small_experiment(dir.path(), 300, ADAM);
    let whole = dir.path().join("whole");
    let start = Instant::now();
    let output = run_experiment(&file, &whole, &[]);
    let duration = start.elapsed();
    assert!(output.status.success(), "{}", stderr(&output));
    let expected = std::fs::read_to_string(whole.join("table.csv")).expect("table");
    assert!(every_output_parses(&whole) > 10);

    let out = dir.path().join("killed");
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15; // xorshift64, fixed seed
    let mut duration = duration;
    let mut killed = 0;
    let mut fresh = true;
    for _ in 0..8 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        // a moment in the first 70 % of an uninterrupted run (a resumed run has less
        // left to do)
        let fraction = 0.7 * (state >> 11) as f64 / (1u64 << 53) as f64;
        let mut command = binary();
        command.arg("run").arg(&file).arg("--out").arg(&out);
        if !fresh {
            command.arg("--resume");
        }
        let mut child = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("started");
        std::thread::sleep(duration.mul_f64(fraction));
        let finished = child.try_wait().expect("waited").is_some();
        if !finished {
            child.kill().expect("killed");
            killed += 1;
        }
        child.wait().expect("reaped");
        every_output_parses(&out);
        // A run that finished before its moment came (the machine was busier when the
        // uninterrupted run was timed) leaves nothing to interrupt: start afresh, with
        // moments drawn over a shorter time.
        fresh = finished;
        if finished {
            std::fs::remove_dir_all(&out).expect("removed");
            duration /= 2;
        }
    }
    let output = run_experiment(&file, &out, &["--resume"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(killed >= 1, "no run was killed before it finished");
    assert_eq!(
        std::fs::read_to_string(out.join("table.csv")).expect("table"),
        expected
    );
    for cell in ["cell_0000", "cell_0001"] {
        let trajectory =
            |run: &Path| std::fs::read(run.join("cells").join(cell).join("trajectory.csv"));
        assert_eq!(
            trajectory(&out).expect("trajectory"),
            trajectory(&whole).expect("trajectory"),
            "{cell}"
        );
    }
    assert!(every_output_parses(&out) > 10);
}

#[test]
fn a_circuit_experiment_runs_and_its_seed_is_overridden() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let run = |seed: &str| {
        let _ = std::fs::remove_dir_all(&out);
        // not --quiet: the headline is on stdout
        let output = Command::new(env!("CARGO_BIN_EXE_plasticity"))
            .current_dir(repo_root())
            .args(["run", "experiments/tests/small_circuit.toml", "--out"])
            .arg(&out)
            .args(["--seed", seed])
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", stderr(&output));
        // the headline: a line per cell with its metrics and largest coefficients
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            stdout.contains("cell 1  simulate.recording_fraction=0.5")
                && stdout.contains("final_loss")
                && stdout.contains("largest: "),
            "{stdout}"
        );
        std::fs::read_to_string(out.join("table.csv")).unwrap()
    };
    let table = run("7");
    let header = table.lines().next().unwrap();
    for column in [
        "recording_fraction",
        "r2_weights_feedforward",
        "r2_weights_recurrent",
        "recurrent.x*y",
        "noise_std",
        "recorded_fraction",
        "max_coefficient_error_recurrent",
        "rule_output_error_feedforward",
    ] {
        assert!(
            header.split(',').any(|c| c == column),
            "{column} missing from {header}"
        );
    }
    assert_eq!(table.lines().count(), 3, "{table}");
    let result: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("cells/cell_0001/result.json")).unwrap(),
    )
    .unwrap();
    let results = &result["results"];
    assert_eq!(results["seed"], 7);
    assert_eq!(results["data"]["metadata"]["seed"], 7);
    assert_eq!(results["data"]["metadata"]["recording_fraction"], 0.5);
    // `auto` resolved: the rules alone, no penalty, so Levenberg–Marquardt ran
    assert_eq!(results["config"]["solver_used"], "levenberg-marquardt");
    assert_eq!(results["config"]["settings"]["solver"], "auto");
    for key in ["r2_weights_by_projection", "r2_weights_latent"] {
        let metrics = results["metrics"][key].as_object().unwrap();
        assert!(
            metrics.contains_key("feedforward") && metrics.contains_key("recurrent"),
            "{key}"
        );
    }
    // the figure against the recorded fraction, drawn from the table
    for extension in ["png", "svg"] {
        let figure = out.join(format!("figures/recorded_fraction.{extension}"));
        assert!(figure.is_file(), "{} missing", figure.display());
    }
    let svg = std::fs::read_to_string(out.join("figures/recorded_fraction.svg")).unwrap();
    for text in [
        "recurrent, σ = 0",
        "feedforward, σ = 0",
        "recorded fraction",
    ] {
        assert!(svg.contains(text), "the figure lacks {text:?}");
    }
    // same seed, same table; another seed, other data
    assert_eq!(run("7"), table);
    assert_ne!(run("8"), table);
}
