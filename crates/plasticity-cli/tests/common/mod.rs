//! Helpers shared by the command-line tests: run the binary, build its argument lists
//! and read what it wrote.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use plasticity::task::{BehaviourTask, OjaTask};
use serde_json::Value;

/// The `plasticity` binary, not started yet.
pub fn binary() -> Command {
    Command::new(env!("CARGO_BIN_EXE_plasticity"))
}

/// Runs the `plasticity` binary with `args` and waits for it.
pub fn run(args: &[&str]) -> Output {
    binary().args(args).output().expect("the binary runs")
}

/// What the command wrote to standard error.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Runs the binary with `args` and checks that it succeeded.
pub fn ok(args: &[&str]) -> Output {
    let output = run(args);
    assert!(
        output.status.success(),
        "plasticity {args:?}: {}",
        stderr(&output)
    );
    output
}

/// `path` as text (the temporary directories are UTF-8).
pub fn utf8(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// `head` followed by the words of `flags` (split at white space): a command line
/// whose values with spaces or paths go in `head`.
pub fn args<'a>(head: &[&'a str], flags: &'a str) -> Vec<&'a str> {
    head.iter()
        .copied()
        .chain(flags.split_whitespace())
        .collect()
}

/// [`args`] with `tail` after the flags.
pub fn args_then<'a>(head: &[&'a str], flags: &'a str, tail: &[&'a str]) -> Vec<&'a str> {
    let mut all = args(head, flags);
    all.extend_from_slice(tail);
    all
}

/// [`args`] as owned strings, for closures that build a command line per directory.
pub fn owned_args(head: &[&str], flags: &str) -> Vec<String> {
    args(head, flags).into_iter().map(String::from).collect()
}

/// The keys every results.json has.
pub const RESULTS_KEYS: [&str; 6] = [
    "coefficients",
    "metrics",
    "loss_history",
    "config",
    "seed",
    "version",
];

/// The JSON file at `path`.
pub fn json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("JSON")
}

/// `dir/results.json`.
pub fn results(dir: &Path) -> Value {
    json(&dir.join("results.json"))
}

/// The text file at `path`.
pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A directory `flies/` under `root` holding the library's Fly1 fixture under each name.
pub fn fly_dir(root: &Path, names: &[&str]) -> PathBuf {
    let data = root.join("flies");
    std::fs::create_dir_all(&data).expect("data dir");
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../plasticity/tests/data/flies/Fly1.mat");
    for name in names {
        std::fs::copy(&fixture, data.join(name)).expect("copy fixture");
    }
    data
}

/// The repository's root directory.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A behaviour task of `sessions` sessions, `trials_per_block` trials a block, `rule`
/// and `seed`, the rest default.
pub fn behaviour_task(
    sessions: usize,
    trials_per_block: usize,
    rule: &str,
    seed: u64,
) -> BehaviourTask {
    BehaviourTask {
        sessions,
        trials_per_block,
        rule: rule.into(),
        seed,
        ..BehaviourTask::default()
    }
}

/// [`behaviour_task`] simulated and saved at `dir/d.npz`; returns that path.
pub fn behaviour_file(
    dir: &Path,
    sessions: usize,
    trials_per_block: usize,
    rule: &str,
    seed: u64,
) -> PathBuf {
    let path = dir.join("d.npz");
    save_behaviour(&path, sessions, trials_per_block, rule, seed);
    path
}

/// [`behaviour_task`] simulated and saved at `path`.
pub fn save_behaviour(
    path: &Path,
    sessions: usize,
    trials_per_block: usize,
    rule: &str,
    seed: u64,
) {
    let task = behaviour_task(sessions, trials_per_block, rule, seed);
    task.simulate()
        .expect("simulated")
        .save(path)
        .expect("saved");
}

/// The noisy Oja dataset of the identify and posterior tests (4 → 8 neurons, 20 steps,
/// 3 trajectories, noise 0.02, seed 7), saved at `path`.
pub fn save_small_oja(path: &Path) {
    let task = OjaTask {
        n_pre: 4,
        n_post: 8,
        steps: 20,
        trajectories: 3,
        noise_std: 0.02,
        seed: 7,
        ..OjaTask::default()
    };
    task.simulate()
        .expect("simulated")
        .save(path)
        .expect("saved");
}

/// The text of a small neural experiment (6 → 12 neurons, 20 steps, 3 trajectories, a
/// 2-cell grid over the noise): `head` after the kind, `fit` after the fit's epochs and
/// evaluation trajectories.
pub fn neural_experiment(head: &str, epochs: usize, fit: &str) -> String {
    let simulate = "[simulate]\nn_pre = 6\nn_post = 12\nsteps = 20\ntrajectories = 3\nseed = 1\n";
    let grid = "[grid]\n\"simulate.noise_std\" = [0.0, 0.3]\n";
    format!(
        "kind = \"neural\"\n{head}checkpoint_interval = 0\n\n{simulate}\n[fit]\nepochs = {epochs}\neval_trajectories = 1\n{fit}\n{grid}"
    )
}

/// `plasticity [global] run FILE --out OUT [extra]`.
pub fn run_experiment(global: &[&str], file: &Path, out: &Path, extra: &[&str]) -> Output {
    binary()
        .args(global)
        .arg("run")
        .arg(file)
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .expect("ran")
}

/// The command failed, and its standard error names every one of `needles`.
pub fn assert_fails_saying(output: &Output, needles: &[&str]) {
    assert!(!output.status.success());
    let message = stderr(output);
    for needle in needles {
        assert!(message.contains(needle), "'{needle}' not in: {message}");
    }
}

/// The command's standard error contains `needle` (the message shows it all).
pub fn assert_says(output: &Output, needle: &str) {
    assert!(stderr(output).contains(needle), "{}", stderr(output));
}
