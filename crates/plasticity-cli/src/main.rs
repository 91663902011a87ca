//! `plasticity`: infer synaptic plasticity rules from recordings of neural activity.
//!
//! The binary: parses the command line, installs the logging and the Ctrl-C/SIGTERM
//! handler, runs the command (the library target, `plasticity_cli`) and turns an error
//! into its message on stderr and exit status 1. Only this file ends the process
//! (`process::exit`): at a second Ctrl-C (130) and when stdout fails.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = plasticity_cli::Cli::parse();
    plasticity_cli::set_stdout_failure_handler(stdout_failed);
    plasticity_cli::init_logging(cli.quiet());
    install_interrupt_handler();
    match plasticity_cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{}", plasticity_cli::error_message(&error));
            ExitCode::from(1)
        }
    }
}

/// The first Ctrl-C (or SIGTERM, as Slurm sends at a time limit) stops a fit after its
/// current epoch, and its results are written with `stop_reason` "interrupted"; a
/// second one exits at once.
fn install_interrupt_handler() {
    let result = ctrlc::set_handler(|| {
        if plasticity_cli::request_interrupt() {
            std::process::exit(130);
        }
        if !plasticity_cli::quiet() {
            eprintln!("\ninterrupted: stopping at the next safe point (this epoch, step or unit) and writing the results and a checkpoint (Ctrl-C again to quit at once)");
        }
    });
    if let Err(error) = result {
        tracing::warn!("could not install the Ctrl-C handler: {error}");
    }
}

/// stdout failed: a reader that closed the pipe (`plasticity loss … | head`) ends the
/// program at once with status 0, as tools killed by `SIGPIPE` do (every file a
/// command writes is complete before it prints); another error with status 1.
fn stdout_failed(error: &std::io::Error) {
    if error.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    eprintln!("plasticity: error: writing to standard output: {error}");
    std::process::exit(1)
}
