//! Logs: `tracing` events go to stderr (level from `PLASTICITY_LOG`, default warnings;
//! errors only with `--quiet`)
//! and, once a command has a run directory, to its `log.txt` as well (info and above,
//! with their fields: cell, epoch, loss…).

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

use anyhow::{Context, Result};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::prelude::*;

static LOG_FILE: Mutex<Option<File>> = Mutex::new(None);

/// Writes to the run's log file when one is open, else nowhere.
struct LogFileWriter;

impl Write for LogFileWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match LOG_FILE.lock() {
            Ok(mut guard) => match guard.as_mut() {
                Some(file) => file.write(buf),
                None => Ok(buf.len()),
            },
            Err(_) => Ok(buf.len()),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match LOG_FILE.lock() {
            Ok(mut guard) => guard.as_mut().map_or(Ok(()), File::flush),
            Err(_) => Ok(()),
        }
    }
}

impl<'a> MakeWriter<'a> for LogFileWriter {
    type Writer = LogFileWriter;
    fn make_writer(&'a self) -> Self::Writer {
        LogFileWriter
    }
}

/// Installs the subscriber: stderr, plus the log file once [`log_to`] opens one. With
/// `quiet` (`--quiet`), stderr shows errors only unless `PLASTICITY_LOG` asks for more.
///
/// Once per process: a later call (another in-process command) keeps the subscriber
/// installed first (`try_init`), whose stderr level follows each command's `--quiet`
/// (read at every event) unless `PLASTICITY_LOG` set it.
pub fn init(quiet: bool) {
    crate::output::set_quiet(quiet);
    match tracing_subscriber::EnvFilter::try_from_env("PLASTICITY_LOG") {
        Ok(filter) => install(filter),
        Err(_) => install(
            tracing_subscriber::filter::filter_fn(|metadata| {
                let shown = if crate::output::quiet() {
                    tracing::Level::ERROR
                } else {
                    tracing::Level::WARN
                };
                *metadata.level() <= shown
            })
            .with_max_level_hint(LevelFilter::WARN),
        ),
    }
}

fn install<F>(stderr_filter: F)
where
    F: tracing_subscriber::layer::Filter<tracing_subscriber::Registry> + Send + Sync + 'static,
{
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_filter(stderr_filter);
    let file = tracing_subscriber::fmt::layer()
        .with_writer(LogFileWriter)
        .with_ansi(false)
        .with_filter(LevelFilter::INFO);
    let _ = tracing_subscriber::registry()
        .with(stderr)
        .with(file)
        .try_init();
}

/// Stops writing to the run's log file (the end of an in-process command: the next
/// one's events must not go to this run's `log.txt`).
pub(crate) fn close_log() {
    if let Ok(mut guard) = LOG_FILE.lock() {
        *guard = None;
    }
}

/// Appends the log to `path` from now on.
pub(crate) fn log_to(path: &Path) -> Result<()> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening the log {}", path.display()))?;
    if let Ok(mut guard) = LOG_FILE.lock() {
        *guard = Some(file);
    }
    Ok(())
}
