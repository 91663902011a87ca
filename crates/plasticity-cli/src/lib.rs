//! `plasticity`: infer synaptic plasticity rules from recordings of neural activity.
//!
//! A thin layer over the `plasticity` library: flags become settings, the library does
//! the science, and the commands print results and show progress. The binary
//! (`src/main.rs`) parses the command line, installs the Ctrl-C/SIGTERM handler and
//! turns errors into messages and exit codes; this library target holds every command
//! so that a host process (the Python bindings, `plasticity.run_cli`) can run the same
//! command set in-process: [`run_with_args`].
//!
//! Process-global state, and what a host gets:
//! - logs: the tracing subscriber is installed at most once per process
//!   ([`init_logging`] uses `try_init`; later calls keep the first one, whose stderr
//!   level follows each call's `--quiet`);
//! - `--quiet` is set by every call;
//! - signals: the library installs no signal handler. The binary installs its own
//!   (a first Ctrl-C or SIGTERM calls [`request_interrupt`], a second exits with 130);
//!   a host that wants a run to stop at its next safe point calls
//!   [`request_interrupt`] itself (the bindings do when Python's own handler raises),
//!   and [`run_with_args`] clears the request when it starts. Installing `ctrlc`
//!   handlers in a host such as Python would replace the host's own handling of
//!   SIGINT/SIGTERM for the rest of the process, and exit it at a second signal;
//! - stdout: a failed write (a reader that closed the pipe) ends the binary (its
//!   [`set_stdout_failure_handler`]); in a host the output is dropped instead;
//! - calls are serialised: a second concurrent [`run_with_args`] waits for the first.

/// `out!` unless `--quiet`: a human-readable result on stdout (a file the command
/// writes holds it too). Machine-readable output that is a command's only product
/// (the JSON of `loss`, `evaluate` and `bench-kernels`, the job id of `run --executor slurm`)
/// is printed with `out!` whatever `--quiet` says.
macro_rules! show {
    ($($arg:tt)*) => {
        if !crate::output::quiet() {
            out!($($arg)*);
        }
    };
}

/// `println!` that ends the program quietly when stdout is a closed pipe (the reader
/// stopped early, as `head` does), as standard tools do, instead of panicking
/// ([`output::print_stdout`]).
macro_rules! out {
    ($($arg:tt)*) => {
        crate::output::print_stdout(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `eprintln!` unless `--quiet`: a message for the person at the terminal (not an
/// error; errors are printed by `main` whatever `--quiet` says).
macro_rules! note {
    ($($arg:tt)*) => {
        if !crate::output::quiet() {
            eprintln!($($arg)*);
        }
    };
}

mod bench;
mod cli;
mod convert_fly;
mod design;
mod discover;
mod fit;
mod fit_record;
mod fitting;
mod flags;
mod flies;
mod flies_figures;
mod host;
mod identify;
mod interrupt;
mod invocation;
mod journal;
mod logging;
mod output;
mod posterior;
mod run;
mod run_lock;
mod select;
mod simulate;
mod table;

pub use host::{
    error_message, init_logging, interrupt_requested, quiet, request_interrupt, run, run_with_args,
    set_stdout_failure_handler, Cli, CliError, CliErrorKind,
};
