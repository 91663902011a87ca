//! The command line of the current call and the `plasticity` binary to start for
//! work that runs in a child process (Slurm job scripts, scaling cells).
//!
//! The binary's call is the process's own (`std::env::args`, `current_exe`); a call
//! from a host process ([`crate::run_with_args`]) names its arguments here, and its
//! process is the host's interpreter, so the binary is looked for instead.

use std::path::PathBuf;
use std::sync::Mutex;

use anyhow::{bail, Result};

static ARGUMENTS: Mutex<Option<Vec<String>>> = Mutex::new(None);

/// The arguments of an in-process call, until dropped.
pub(crate) struct InProcess;

impl InProcess {
    /// `args`: the command line of the call, `plasticity` first.
    pub(crate) fn start(args: Vec<String>) -> InProcess {
        *ARGUMENTS.lock().unwrap_or_else(|p| p.into_inner()) = Some(args);
        InProcess
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        *ARGUMENTS.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}

fn in_process_args() -> Option<Vec<String>> {
    ARGUMENTS.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

/// The program's arguments as given (`plasticity` first).
pub(crate) fn args() -> Vec<String> {
    in_process_args().unwrap_or_else(|| std::env::args().collect())
}

/// The `plasticity` binary: this executable, or in a host process `$PLASTICITY_CLI`,
/// else `plasticity` on `PATH`.
pub(crate) fn binary() -> Result<PathBuf> {
    if in_process_args().is_none() {
        return Ok(std::env::current_exe()?);
    }
    match host_binary() {
        Some(path) => Ok(path),
        None => bail!(
            "this in-process run needs the plasticity binary for a child process: \
             set PLASTICITY_CLI or put plasticity on PATH"
        ),
    }
}

/// [`binary`], or in a host process without one the bare name `plasticity` (for a
/// job script, which finds it on the node's `PATH`).
pub(crate) fn binary_or_name() -> Result<PathBuf> {
    if in_process_args().is_none() {
        return Ok(std::env::current_exe()?);
    }
    Ok(host_binary().unwrap_or_else(|| PathBuf::from("plasticity")))
}

fn host_binary() -> Option<PathBuf> {
    if let Some(configured) = std::env::var_os("PLASTICITY_CLI") {
        let path = PathBuf::from(configured);
        return path.is_file().then_some(path);
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join("plasticity"))
        .find(|path| path.is_file())
}
