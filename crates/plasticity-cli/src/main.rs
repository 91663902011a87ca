//! `plasticity`: infer synaptic plasticity rules from recordings of neural activity.
//!
//! A thin layer over the `plasticity` library: flags become settings, the library does
//! the science, and this binary prints results, shows progress and turns errors into
//! messages with their whole cause chain and a non-zero exit code.

mod behaviour;
mod bench;
mod circuit;
mod commands;
mod design;
mod discover;
mod experiment;
mod flies;
mod identify;
mod logging;
mod posterior;
mod run;
mod run_figures;
mod run_lock;
mod select;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = commands::Cli::parse();
    logging::init();
    commands::install_interrupt_handler();
    match commands::run(cli) {
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
