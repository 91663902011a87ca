//! `plasticity`: infer synaptic plasticity rules from recordings of neural activity.
//!
//! A thin layer over the `plasticity` library: flags become settings, the library does
//! the science, and this binary prints results, shows progress and turns errors into
//! messages with their whole cause chain and a non-zero exit code.

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
mod identify;
mod interrupt;
mod journal;
mod logging;
mod output;
mod posterior;
mod run;
mod run_lock;
mod select;
mod simulate;
mod table;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    logging::init(cli.quiet());
    interrupt::install_interrupt_handler();
    match cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let mut message = format!("plasticity: error: {error}");
            for cause in error.chain().skip(1) {
                message.push_str(&format!("\n  caused by: {cause}"));
            }
            eprintln!("{message}");
            ExitCode::from(1)
        }
    }
}
