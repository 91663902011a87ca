//! The library's error type: every failure names what was at fault (file, variable,
//! expression, configuration key) and what was expected.

use std::path::PathBuf;

/// Everything that can go wrong in the library.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be opened, read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A file was read but its content is not what was expected. Displayed as
    /// `{path}: variable '{variable}': {message}`, or `{path}: {message}` when the
    /// whole file is at fault (`variable` empty).
    #[error("{}{}: {message}", path.display(), variable_label(variable))]
    Data {
        /// The file concerned.
        path: PathBuf,
        /// The variable (array, key, column) at fault; empty for the whole file.
        variable: String,
        /// What was found and what was expected.
        message: String,
    },
    /// A rule expression or term name could not be understood.
    #[error("rule expression '{expression}': {message}")]
    Expression {
        /// The text as given.
        expression: String,
        /// What is wrong, with the position where it helps.
        message: String,
    },
    /// An invalid setting (a flag, a configuration key, an argument).
    #[error("invalid setting '{key}': {message}")]
    Config {
        /// The setting's name.
        key: String,
        /// What was given and what is allowed.
        message: String,
    },
    /// A dataset or computation would need more memory than the limit allows
    /// ([`crate::limits`]); refused before allocating.
    #[error("{what} needs {needed}, more than the limit of {limit}")]
    TooLarge {
        /// What would be allocated.
        what: String,
        /// The size it would need, readable.
        needed: String,
        /// The limit and where it comes from.
        limit: String,
    },
    /// A computation produced a non-finite value that it cannot recover from.
    #[error("numerical failure: {0}")]
    Numerical(String),
    /// The caller asked the work to stop ([`crate::journal::Journal::stop_requested`])
    /// before it was done; the units finished so far are in the journal.
    #[error("interrupted: {what} stopped after {done} of {total} units")]
    Interrupted {
        /// The work that stopped.
        what: String,
        /// Units finished (recorded in the journal).
        done: usize,
        /// Units in all.
        total: usize,
    },
}

/// `: variable 'name'`, or nothing for the whole file.
fn variable_label(variable: &str) -> String {
    if variable.is_empty() {
        String::new()
    } else {
        format!(": variable '{variable}'")
    }
}

impl Error {
    /// A data error for `variable` of the file at `path`.
    pub fn data(
        path: impl Into<PathBuf>,
        variable: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Error::Data {
            path: path.into(),
            variable: variable.into(),
            message: message.into(),
        }
    }

    /// An expression error.
    pub fn expression(expression: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Expression {
            expression: expression.into(),
            message: message.into(),
        }
    }

    /// A configuration error.
    pub fn config(key: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Config {
            key: key.into(),
            message: message.into(),
        }
    }

    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
