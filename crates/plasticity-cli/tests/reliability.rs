//! Issue 27, through the binary: a dataset file that declares more memory than the
//! process may have is refused, naming the file, before anything is allocated — under
//! `ulimit -v 2000000` as well, where asking the allocator for 4 GiB would abort — and
//! one writer per run directory: a second process refuses naming the first, and a lock
//! left by a killed process is taken over with a warning.

mod common;
#[path = "../../plasticity/tests/support/huge.rs"]
mod huge;

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{assert_says, binary, neural_experiment, stderr};
use huge::*;

/// Runs the binary with `args` under `ulimit -v 2000000` (2 GB of address space);
/// returns its output and wall time.
fn under_ulimit(args: &[&str]) -> (Output, Duration) {
    let start = Instant::now();
    let output = Command::new("sh")
        .arg("-c")
        .arg("ulimit -v 2000000 && exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_plasticity"))
        .args(args)
        .env_remove("PLASTICITY_MAX_DATASET_BYTES")
        .output()
        .expect("sh runs");
    (output, start.elapsed())
}

/// `fit FILE --out DIR` and `loss FILE --theta x*y` on `data`, each under the ulimit:
/// both refused (exit 1, not an abort) in under 2 s, naming the file and `expected`.
fn refused_under_ulimit(data: &Path, expected: &str) {
    let out = data.with_extension("fit");
    let data_text = data.display().to_string();
    let out_text = out.display().to_string();
    for args in [
        vec!["fit", &data_text, "--out", &out_text],
        vec!["loss", &data_text, "--theta", "x*y"],
    ] {
        let (output, elapsed) = under_ulimit(&args);
        let error = stderr(&output);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {error}");
        assert!(error.contains(&data_text), "{args:?}: {error}");
        assert!(error.contains(expected), "{args:?}: {error}");
        assert!(!error.contains("memory allocation"), "{error}");
        assert!(
            elapsed < Duration::from_secs(2),
            "{args:?} took {elapsed:?}"
        );
    }
}

#[test]
fn a_huge_member_is_refused_under_an_address_space_limit() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("huge_inputs.npz");
    write_zip(&data, &huge_inputs_members());
    refused_under_ulimit(
        &data,
        "variable 'initial_weights': expected shape [1, n_post, 536870912] to match 'inputs' [1, 1, 536870912], found [2, 4, 6]",
    );
}

#[test]
fn a_member_declaring_1e12_elements_is_refused_under_an_address_space_limit() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("1e12.npz");
    let mut bytes = npy_header("<f8", &[1_000_000, 1000, 1000]);
    let declared = bytes.len() as u64 + 8_000_000_000_000;
    bytes.extend([0u8; 16]);
    let mut members = neural_members([2, 9, 6], [2, 4, 6], [2, 9, 4]);
    members[1] = Member {
        name: "inputs.npy".into(),
        body: Body::Declared { bytes, declared },
    };
    write_zip(&data, &members);
    refused_under_ulimit(&data, "variable 'inputs': member 'inputs.npy' declares");
}

#[test]
fn consistent_headers_over_the_memory_limit_are_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    // 2 × 2^25 steps × 6 inputs: 3.2 GB of inputs and 0.5 GB of recording that agree
    let data = dir.path().join("consistent.npz");
    let steps = 1 << 25;
    let members = neural_members([2, steps, 6], [2, 4, 6], [2, steps, 1]);
    write_zip(&data, &members);
    refused_under_ulimit(&data, "needs 3.8 GB (");
    let (output, _) = under_ulimit(&["loss", &data.display().to_string(), "--theta", "x*y"]);
    assert_says(&output, "(ulimit -v)");
    // a small dataset over a configured limit
    let small = dir.path().join("small.npz");
    write_zip(&small, &neural_members([2, 9, 6], [2, 4, 6], [2, 9, 4]));
    let output = binary()
        .args(["loss", &small.display().to_string(), "--theta", "x*y"])
        .env("PLASTICITY_MAX_DATASET_BYTES", "1000")
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let text = stderr(&output);
    assert!(
        text.contains(&format!("loading the arrays of {} needs", small.display()))
            && text.contains(
                "more than the limit of 1.0 kB (1000 bytes) (set by PLASTICITY_MAX_DATASET_BYTES)"
            ),
        "{text}"
    );
}

/// A small neural experiment (a 2-cell grid) of `epochs` epochs without a convergence
/// test, so that a run of many epochs lasts.
fn experiment(dir: &Path, epochs: usize) -> PathBuf {
    let path = dir.join(format!("small_{epochs}.toml"));
    let fit = "tolerance = 0.0\noptimizer = \"lbfgs\"\n# L-BFGS: Levenberg–Marquardt (the default) converges in a few steps, and the run\n# must outlast the commands the tests start beside it\nsolver = \"lbfgs\"\n";
    std::fs::write(&path, neural_experiment("", epochs, fit)).expect("written");
    path
}

fn run(file: &Path, out: &Path, extra: &[&str]) -> Output {
    common::run_experiment(&[], file, out, extra)
}

#[test]
fn a_second_process_on_a_run_directory_refuses_naming_the_first() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = experiment(dir.path(), 100_000);
    let out = dir.path().join("run");
    let mut first = binary()
        .arg("run")
        .arg(&file)
        .arg("--out")
        .arg(&out)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("started");
    let pid = first.id();
    // wait until the first has taken the lock and started a cell
    let start = Instant::now();
    while !out.join("cells/cell_0000/checkpoint.json").is_file() {
        assert!(first.try_wait().expect("waited").is_none(), "ended early");
        assert!(start.elapsed() < Duration::from_secs(120), "no checkpoint");
        std::thread::sleep(Duration::from_millis(10));
    }
    let holder = format!("process {pid} on host");
    let second = run(&file, &out, &["--resume"]);
    assert_eq!(second.status.code(), Some(1), "{}", stderr(&second));
    assert_says(&second, &holder);
    assert_says(&second, "`plasticity run`");
    let collect = binary().arg("collect").arg(&out).output().expect("ran");
    assert_says(&collect, &holder);
    // a cell the first is running is refused too, naming it
    let cell = binary()
        .args([
            "cell",
            &out.display().to_string(),
            "--index",
            "0",
            "--resume",
        ])
        .output()
        .expect("ran");
    assert!(!cell.status.success());
    assert_says(&cell, &holder);
    assert!(
        first.try_wait().expect("waited").is_none(),
        "the first process ended before the others were refused"
    );

    // killed: its locks are stale, and the next writer takes them over with a warning
    first.kill().expect("killed");
    first.wait().expect("reaped");
    let collect = binary().arg("collect").arg(&out).output().expect("ran");
    let text = stderr(&collect);
    assert!(
        text.contains("warning: taking over the lock on")
            && text.contains(&format!("from process {pid} on host"))
            && text.contains("no longer running"),
        "{text}"
    );
    // (the cells are unfinished, so collect still fails, but for that reason)
    assert!(text.contains("cells are not finished"), "{text}");
}

#[test]
fn slurm_cells_are_not_blocked_by_the_run_directory_lock() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = experiment(dir.path(), 3);
    let out = dir.path().join("run");
    let output = run(&file, &out, &["--executor", "slurm", "--dry-run"]);
    assert!(output.status.success(), "{}", stderr(&output));
    // this test holds the run directory's lock, as a live `plasticity run` would
    let lock = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(out.join(".lock"))
        .expect("lock file");
    lock.try_lock().expect("free after the dry run");
    let mut record = &lock;
    write!(
        record,
        "{{\"pid\": {}, \"host\": \"test\", \"command\": \"run\"}}",
        std::process::id()
    )
    .expect("written");
    // an array task writes only its cell
    let cell = binary()
        .args([
            "--quiet",
            "cell",
            &out.display().to_string(),
            "--index",
            "1",
        ])
        .output()
        .expect("ran");
    assert!(cell.status.success(), "{}", stderr(&cell));
    assert!(out.join("cells/cell_0001/result.json").is_file());
    assert!(!out.join("cells/cell_0000").exists());
    // the shared files wait for the holder
    let collect = binary().arg("collect").arg(&out).output().expect("ran");
    assert_says(
        &collect,
        &format!("process {} on host test", std::process::id()),
    );
    lock.set_len(0)
        .expect("record emptied, as a finished holder leaves it");
    drop(lock);
    let collect = binary().arg("collect").arg(&out).output().expect("ran");
    assert_says(&collect, "cells are not finished");
}

/// The number of bytes in a "needs 76.8 kB (76800 bytes)" message.
fn needed_bytes(text: &str) -> u64 {
    let after = text.split(" needs ").nth(1).expect("a 'needs' figure");
    let inside = after.split('(').nth(1).expect("bytes in parentheses");
    inside
        .split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .expect("a number of bytes")
}

/// Issue 27: the memory limit counts a fit's working memory (Gauss–Newton systems,
/// tangents, tapes, per thread), not only the dataset: a circuit recording that loads
/// within the limit but whose fit would not fit is refused before the fit allocates,
/// naming the dataset, the estimate and the limit, and what would fit (fewer threads).
#[test]
fn a_fit_whose_working_memory_exceeds_the_limit_is_refused_naming_what_would_fit() {
    let dir = tempfile::tempdir().expect("temp dir");
    let circuit = dir.path().join("circuit.toml");
    std::fs::write(
        &circuit,
        concat!(
            "[populations.x]\nsize = 3\ninput = true\n\n[populations.y]\nsize = 4\n\n",
            "[rules.ff]\nrule = \"x*y - y^2*w\"\n\n",
            "[projections.ff]\nfrom = \"x\"\nto = \"y\"\nrule = \"ff\"\ninitial_weights = { std = 0.5 }\n",
        ),
    )
    .expect("written");
    let data = dir.path().join("data.npz");
    let data_text = data.display().to_string();
    let output = binary()
        .args(["simulate", "circuit", &circuit.display().to_string()])
        .args(["--out", &data_text, "--trajectories", "2", "--steps", "200"])
        .output()
        .expect("runs");
    assert!(output.status.success(), "{}", stderr(&output));
    let fit = |limit: u64, threads: usize| {
        binary()
            .args(["fit", &data_text, "--epochs", "1", "--quiet", "--out"])
            .arg(dir.path().join(format!("fit_{limit}_{threads}")))
            .env("PLASTICITY_MAX_DATASET_BYTES", limit.to_string())
            .env("RAYON_NUM_THREADS", threads.to_string())
            .output()
            .expect("runs")
    };
    // the recording (about 23 kB) loads within 50 kB; Levenberg–Marquardt's systems
    // and tangents do not fit beside it
    let one = fit(50_000, 1);
    assert_eq!(one.status.code(), Some(1), "{}", stderr(&one));
    let text = stderr(&one);
    assert!(
        text.contains(&format!("fitting the circuit's rules to {data_text}"))
            && text.contains("fitting 2 trajectories × 200 steps of a circuit of 7 neurons")
            && text.contains("Levenberg–Marquardt, 1 thread(s)) needs")
            && text.contains(
                "more than the limit of 50.0 kB (50000 bytes) (set by PLASTICITY_MAX_DATASET_BYTES)"
            ),
        "{text}"
    );
    let one_thread = needed_bytes(&text);
    // on two threads, a limit that one thread fits is refused, naming one thread
    let two = fit(one_thread, 2);
    assert_eq!(two.status.code(), Some(1), "{}", stderr(&two));
    let text = stderr(&two);
    assert!(needed_bytes(&text) > one_thread, "{text}");
    assert!(
        text.contains("within the limit with 1 thread(s) (RAYON_NUM_THREADS=1)"),
        "{text}"
    );
    // and within the estimate, the fit runs
    let fitted = fit(one_thread, 1);
    assert!(fitted.status.success(), "{}", stderr(&fitted));
}

/// A reader that stops early (`plasticity loss … | head -c 10`): the program ends
/// quietly with status 0, as standard tools do, instead of panicking on the closed pipe.
#[test]
fn a_closed_stdout_ends_the_program_quietly() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("oja.npz");
    common::save_small_oja(&data);
    // `true` closes the pipe at once, long before the loss is computed and printed
    let output = Command::new("bash")
        .arg("-c")
        .arg("set -o pipefail; \"$0\" loss \"$1\" --theta 'x*y - y^2*w' | true")
        .arg(env!("CARGO_BIN_EXE_plasticity"))
        .arg(&data)
        .stderr(Stdio::piped())
        .output()
        .expect("sh runs");
    let log = stderr(&output);
    assert!(!log.contains("panicked"), "{log}");
    assert!(!log.contains("Broken pipe"), "{log}");
    assert!(output.status.success(), "{log}");
}
