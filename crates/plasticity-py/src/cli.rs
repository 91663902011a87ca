//! `plasticity.run_cli`: the CLI's whole command set in this process (the library
//! target of `plasticity-cli`), the GIL released.
//!
//! Signals: the CLI library installs no handler in the Python process. The command
//! runs on its own thread while this one waits with the GIL released and, every
//! 50 ms, takes the GIL to run Python's signal handlers (`check_signals`). When one
//! raises (Ctrl-C's `KeyboardInterrupt`, or whatever a SIGTERM handler raises), the
//! command is asked to stop at its next safe point, as the binary's first Ctrl-C
//! does; once it has stopped (its files say `interrupted`) that exception is raised.
//! A second one raises at once and leaves the command finishing its step in the
//! background (the binary's second Ctrl-C exits at once).

use std::sync::mpsc::{channel, RecvTimeoutError};
use std::time::Duration;

use plasticity_cli::{CliError as RunError, CliErrorKind};
use pyo3::exceptions::{PyKeyboardInterrupt, PyRuntimeError, PyValueError};
use pyo3::prelude::*;

pyo3::create_exception!(
    _plasticity,
    CliError,
    PyRuntimeError,
    "A command of run_cli failed; the message is the CLI's error message."
);

/// The stack of the command's thread: as large as a program's main thread.
const STACK_BYTES: usize = 8 << 20;

/// How often the waiting thread runs Python's signal handlers.
const POLL: Duration = Duration::from_millis(50);

/// Runs a ``plasticity`` command in this process, as the binary would.
///
/// The command runs in Rust with the GIL released; one command runs at a time in a
/// process (a second call waits). Ctrl-C (or an exception raised by a signal handler)
/// stops it at its next safe point with its results written as ``interrupted``, then
/// raises that exception; a second Ctrl-C raises at once.
///
/// Parameters
/// ----------
/// args : list of str
///     The command line without the program name, such as
///     ``["run", "experiments/oja.toml", "--out", "runs/oja", "--quiet"]``.
///
/// Raises
/// ------
/// ValueError
///     If the command line is refused (an unknown command or flag: the binary's
///     status 2).
/// CliError
///     If the command fails (the binary's status 1); the message is the CLI's
///     (``plasticity: error: …`` and its causes).
/// KeyboardInterrupt
///     If the command was interrupted.
///
/// Examples
/// --------
/// >>> import plasticity as pl
/// >>> try:
/// ...     pl.run_cli(["no-such-command"])
/// ... except ValueError as error:
/// ...     print(str(error).splitlines()[0])
/// error: unrecognized subcommand 'no-such-command'
/// >>> # pl.run_cli(["run", "experiments/oja.toml", "--out", "runs/oja", "--quiet"])
#[pyfunction]
pub(crate) fn run_cli(py: Python<'_>, args: Vec<String>) -> PyResult<()> {
    let (done_tx, done_rx) = channel();
    let worker = std::thread::Builder::new()
        .name("plasticity-cli".into())
        .stack_size(STACK_BYTES)
        .spawn(move || {
            let result = plasticity_cli::run_with_args(args);
            let _ = done_tx.send(result);
        })
        .map_err(|e| PyRuntimeError::new_err(format!("starting the command's thread: {e}")))?;
    let mut signal: Option<PyErr> = None;
    let mut done_rx = done_rx;
    let result = loop {
        // the receiver is moved in and out: it may be sent to another thread, not shared
        let (received, rx) = py.detach(move || (done_rx.recv_timeout(POLL), done_rx));
        done_rx = rx;
        match received {
            Ok(result) => break result,
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                break Err(RunError {
                    kind: CliErrorKind::Failed,
                    message: "plasticity: error: the command's thread ended without a result"
                        .into(),
                })
            }
        }
        if let Err(error) = py.check_signals() {
            if signal.is_some() {
                return Err(error);
            }
            plasticity_cli::request_interrupt();
            signal = Some(error);
        }
    };
    let _ = worker.join();
    if let Some(error) = signal {
        return Err(error);
    }
    result.map_err(|error| match error.kind {
        CliErrorKind::Usage => PyValueError::new_err(error.message),
        CliErrorKind::Interrupted => PyKeyboardInterrupt::new_err(error.message),
        CliErrorKind::Failed => CliError::new_err(error.message),
    })
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(run_cli, m)?)?;
    m.add("CliError", m.py().get_type::<CliError>())?;
    Ok(())
}
