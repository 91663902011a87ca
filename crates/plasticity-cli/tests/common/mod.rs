//! Helpers shared by the command-line tests: run the binary and read what it wrote.
#![allow(dead_code)]

use std::process::{Command, Output};

/// Runs the `plasticity` binary with `args` and waits for it.
pub fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_plasticity"))
        .args(args)
        .output()
        .expect("the binary runs")
}

/// What the command wrote to standard error.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}
