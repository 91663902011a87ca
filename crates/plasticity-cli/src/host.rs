//! The public face of the library target: what the binary (`main.rs`) and a host
//! process (the Python bindings' `plasticity.run_cli`) call.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Mutex;

use clap::Parser;

pub use crate::cli::Cli;
pub use crate::logging::init as init_logging;
pub use crate::output::set_stdout_failure_handler;

/// Whether `--quiet` is in force (the last call's flag).
pub fn quiet() -> bool {
    crate::output::quiet()
}

/// Asks the running command to stop at its next safe point (the first Ctrl-C or
/// SIGTERM): a fit writes its results with `stop_reason` "interrupted" and a
/// checkpoint, and the command fails saying how to `--resume`. Returns whether a stop
/// had been asked already. Safe to call from a signal handler's thread.
pub fn request_interrupt() -> bool {
    crate::interrupt::request()
}

/// Whether a stop has been asked ([`request_interrupt`]) since the call began.
pub fn interrupt_requested() -> bool {
    crate::interrupt::interrupted()
}

/// Runs a parsed command line: the binary's call, once per process, with the logging
/// ([`init_logging`]) and its signal handler installed by the caller.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    crate::cli::run(cli)
}

/// The message of a failed command: `plasticity: error: …` and one
/// `  caused by: …` line per cause, as the binary prints it.
pub fn error_message(error: &anyhow::Error) -> String {
    let mut message = format!("plasticity: error: {error}");
    for cause in error.chain().skip(1) {
        message.push_str(&format!("\n  caused by: {cause}"));
    }
    message
}

/// How an in-process command failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CliErrorKind {
    /// The command line was refused (the binary exits with status 2).
    Usage,
    /// The command failed (status 1).
    Failed,
    /// The command stopped because [`request_interrupt`] asked it to (status 1, its
    /// files say `interrupted`).
    Interrupted,
}

/// A failed in-process command: its kind and the message the binary would print.
#[derive(Debug, Clone)]
pub struct CliError {
    pub kind: CliErrorKind,
    pub message: String,
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.message)
    }
}

impl std::error::Error for CliError {}

/// One in-process command at a time: the quiet flag, the interrupt request, the run's
/// log file and the call's arguments are process-global.
static CALLS: Mutex<()> = Mutex::new(());

/// Runs `plasticity ARGS…` in this process (`args` without the program name), as the
/// binary would, but returning instead of exiting: `--help` and `--version` print
/// to stdout and return `Ok`; a refused command line is [`CliErrorKind::Usage`]; a
/// failed command [`CliErrorKind::Failed`], or [`CliErrorKind::Interrupted`] when
/// [`request_interrupt`] stopped it. A panic becomes a `Failed` error.
///
/// Installs the logging once per process and no signal handler (the crate's doc);
/// clears an earlier interrupt request; a second concurrent call waits for the first.
pub fn run_with_args<I, T>(args: I) -> Result<(), CliError>
where
    I: IntoIterator<Item = T>,
    T: Into<String>,
{
    let _one_at_a_time = CALLS.lock().unwrap_or_else(|p| p.into_inner());
    let argv: Vec<String> = std::iter::once("plasticity".to_string())
        .chain(args.into_iter().map(Into::into))
        .collect();
    let cli = match Cli::try_parse_from(&argv) {
        Ok(cli) => cli,
        Err(error) if !error.use_stderr() => {
            crate::output::print_stdout(format_args!("{}", error.render()));
            return Ok(());
        }
        Err(error) => {
            return Err(CliError {
                kind: CliErrorKind::Usage,
                message: error.render().to_string().trim_end().to_string(),
            })
        }
    };
    crate::interrupt::clear();
    let _arguments = crate::invocation::InProcess::start(argv);
    init_logging(cli.quiet());
    let result = catch_unwind(AssertUnwindSafe(|| run(cli)));
    crate::logging::close_log();
    let error = match result {
        Ok(Ok(())) => return Ok(()),
        Ok(Err(error)) => error_message(&error),
        Err(panic) => {
            let what = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("no message");
            format!("plasticity: error: internal error (a panic): {what}")
        }
    };
    let kind = if crate::interrupt::interrupted() {
        CliErrorKind::Interrupted
    } else {
        CliErrorKind::Failed
    };
    Err(CliError {
        kind,
        message: error,
    })
}
