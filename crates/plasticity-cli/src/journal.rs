//! What lets a long command continue after Ctrl-C, SIGTERM (a Slurm time limit) or a
//! crash, to the result an uninterrupted run gives: the journal of finished units
//! (`select`, `flies`: one file each under `OUT/checkpoint/`), and a fit's checkpoint
//! (`OUT/checkpoint.json` of `fit`, `cells/<cell>/checkpoint.json` of `run`).

use std::cell::RefCell;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use plasticity::report::InterruptedRun;
use serde_json::json;

use plasticity::fit::{EpochReport, FitCheckpoint, StopReason};
use plasticity::io::write_atomically;
use plasticity::journal::Journal;

/// The error of a command that Ctrl-C or SIGTERM stopped (its checkpoint is written);
/// `plasticity run` recognises it to report an interrupted cell.
#[derive(Debug)]
pub(crate) struct Interrupted(pub(crate) String);

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.is_empty() {
            write!(f, "interrupted")
        } else {
            write!(f, "{}", self.0)
        }
    }
}

impl std::error::Error for Interrupted {}

/// `OUT/checkpoint/`: a `fingerprint` file (the settings the units were computed
/// with) and one file per finished unit.
pub(crate) struct DirJournal {
    dir: PathBuf,
}

impl DirJournal {
    /// The journal of the run writing into `out` with settings `fingerprint`. With
    /// `resume`, an existing journal must have the same fingerprint and its units are
    /// kept; without, an existing journal (of an interrupted run) is discarded.
    pub(crate) fn open(out: &Path, fingerprint: &str, resume: bool) -> Result<DirJournal> {
        let dir = out.join("checkpoint");
        let stamp = dir.join("fingerprint");
        if dir.is_dir() {
            let same = std::fs::read_to_string(&stamp).is_ok_and(|text| text == fingerprint);
            if resume && !same {
                bail!(
                    "{}: the checkpoint was taken with other settings or data; remove it to start afresh, or resume with the same flags",
                    dir.display()
                );
            }
            if !resume {
                note!(
                    "discarding the checkpoint of an interrupted run in {} (continue one with --resume)",
                    dir.display()
                );
                std::fs::remove_dir_all(&dir)
                    .with_context(|| format!("removing {}", dir.display()))?;
            }
        }
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        if !stamp.is_file() {
            write_atomically(&stamp, |w| {
                std::io::Write::write_all(w, fingerprint.as_bytes())
            })?;
        }
        Ok(DirJournal { dir })
    }

    /// The output directory the journal belongs to.
    pub(crate) fn out(&self) -> &Path {
        self.dir.parent().unwrap_or(Path::new("."))
    }

    /// How many units the journal holds.
    pub(crate) fn len(&self) -> usize {
        std::fs::read_dir(&self.dir)
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok())
                    .filter(|e| e.file_name().to_string_lossy().ends_with(".cbor"))
                    .count()
            })
            .unwrap_or(0)
    }

    /// The work is done: the journal is no longer needed.
    pub(crate) fn finish(self) -> Result<()> {
        std::fs::remove_dir_all(&self.dir)
            .with_context(|| format!("removing {}", self.dir.display()))
    }

    /// A library error, turned into [`Interrupted`] when it is the interruption: then
    /// `results` (the command's main JSON file) records `stop_reason: interrupted`, how
    /// many units were done, and how to continue (`command` with `--resume`).
    pub(crate) fn outcome<T>(
        &self,
        result: plasticity::Result<T>,
        results: &Path,
        command: &str,
    ) -> Result<T> {
        match result {
            Err(plasticity::Error::Interrupted { what, done, total }) => {
                let resume = format!("{command} --resume");
                let checkpoint = self.dir.display().to_string();
                let record = InterruptedRun::new(&what, (done, total), &checkpoint, &resume);
                plasticity::report::write_json(results, &serde_json::to_value(record)?)?;
                Err(Interrupted(format!(
                    "interrupted: {what} stopped after {done} of {total} units, kept in {}; continue with `{resume}`",
                    self.dir.display()
                ))
                .into())
            }
            other => Ok(other?),
        }
    }

    /// Unit `key` of work done in the CLI ([`plasticity::journal::unit_if`]): `None`
    /// from `compute` is a unit that Ctrl-C or SIGTERM cut short.
    pub(crate) fn unit<T: serde::Serialize + serde::de::DeserializeOwned>(
        &self,
        key: &str,
        compute: impl FnOnce() -> Result<Option<T>>,
    ) -> Result<Option<T>> {
        plasticity::journal::unit_if(self, key, compute)
    }

    fn path(&self, key: &str) -> PathBuf {
        self.dir.join(format!("{}.cbor", file_name(key)))
    }
}

impl Journal for DirJournal {
    fn stop_requested(&self) -> bool {
        crate::interrupt::interrupted()
    }

    fn recorded(&self, key: &str) -> Option<Vec<u8>> {
        std::fs::read(self.path(key)).ok()
    }

    fn record(&self, key: &str, bytes: &[u8]) -> plasticity::Result<()> {
        write_atomically(&self.path(key), |w| std::io::Write::write_all(w, bytes))
    }
}

/// A checkpoint file: the cell it belongs to and the fit's state.
#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct CheckpointFile {
    pub(crate) fingerprint: String,
    pub(crate) checkpoint: FitCheckpoint,
}

/// The checkpoint to continue from, when resuming a cell that has one.
pub(crate) fn load_checkpoint(
    dir: &Path,
    fingerprint: &str,
    resume: bool,
) -> Result<Option<Box<FitCheckpoint>>> {
    let path = dir.join("checkpoint.json");
    if !resume || !path.is_file() {
        return Ok(None);
    }
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let file: CheckpointFile = serde_json::from_str(&text)
        .with_context(|| format!("{}: not a checkpoint of this program", path.display()))?;
    if file.fingerprint != fingerprint {
        bail!(
            "{}: the checkpoint was taken with other settings; remove it to start this cell afresh",
            path.display()
        );
    }
    tracing::info!(
        epochs_done = file.checkpoint.epochs_done,
        "resuming from checkpoint"
    );
    Ok(Some(Box::new(file.checkpoint)))
}

/// `OUT/checkpoint.json` of `plasticity fit`: written when Ctrl-C or SIGTERM stops
/// the fit (with its results, `stop_reason: interrupted`), read by `--resume`, removed
/// when a fit completes.
pub(crate) struct FitResume {
    out: PathBuf,
    fingerprint: String,
    error: RefCell<Option<anyhow::Error>>,
}

impl FitResume {
    /// The checkpoint of fitting `data` into `out` with `settings`.
    pub(crate) fn new(out: &Path, data: &Path, settings: &impl serde::Serialize) -> Result<Self> {
        let fingerprint = serde_json::to_string(&json!({
            "settings": settings,
            "data": data.display().to_string(),
            "data_bytes": std::fs::metadata(data).map(|m| m.len()).ok(),
            "version": plasticity::VERSION,
        }))?;
        Ok(FitResume {
            out: out.to_path_buf(),
            fingerprint,
            error: RefCell::new(None),
        })
    }

    /// With `resume`, the checkpoint an interrupted fit left in `out` (none if it left
    /// none); one of other settings or data is refused.
    pub(crate) fn load(&self, resume: bool) -> Result<Option<Box<FitCheckpoint>>> {
        let loaded = load_checkpoint(&self.out, &self.fingerprint, resume)?;
        if let Some(checkpoint) = &loaded {
            note!("resuming after epoch {}", checkpoint.epochs_done);
        } else if resume {
            note!(
                "--resume: {} holds no checkpoint; fitting from the start",
                self.out.display()
            );
        }
        Ok(loaded)
    }

    /// `observer`, writing the checkpoint when the fit is asked to stop.
    pub(crate) fn observe<'a>(
        &'a self,
        mut observer: impl FnMut(&EpochReport<'_>) -> ControlFlow<()> + 'a,
    ) -> impl FnMut(&EpochReport<'_>) -> ControlFlow<()> + 'a {
        move |report: &EpochReport<'_>| {
            let flow = observer(report);
            if flow.is_break() && crate::interrupt::interrupted() {
                if let Err(error) = self.save(report) {
                    *self.error.borrow_mut() = Some(error);
                }
            }
            flow
        }
    }

    fn save(&self, report: &EpochReport<'_>) -> Result<()> {
        std::fs::create_dir_all(&self.out)
            .with_context(|| format!("creating {}", self.out.display()))?;
        let file = CheckpointFile {
            fingerprint: self.fingerprint.clone(),
            checkpoint: (report.checkpoint)(),
        };
        plasticity::report::write_text(
            &self.out.join("checkpoint.json"),
            &serde_json::to_string(&file)?,
        )?;
        Ok(())
    }

    /// After the fit: an error writing the checkpoint, or for an interrupted fit how to
    /// continue it; a completed fit's old checkpoint is removed.
    pub(crate) fn finish(&self, stop_reason: &StopReason) -> Result<()> {
        if let Some(error) = self.error.borrow_mut().take() {
            return Err(error.context("writing the checkpoint"));
        }
        if *stop_reason == StopReason::Interrupted {
            note!(
                "interrupted: the checkpoint is in {}; continue with `{} --resume`",
                self.out.join("checkpoint.json").display(),
                command_line()
            );
        } else {
            let _ = std::fs::remove_file(self.out.join("checkpoint.json"));
        }
        Ok(())
    }
}

/// A unit key as a file name: letters, digits, `.`, `-` and `_` kept, every other byte
/// written `%XX`.
fn file_name(key: &str) -> String {
    let mut name = String::with_capacity(key.len());
    for byte in key.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'-' | b'_') {
            name.push(byte as char);
        } else {
            name.push_str(&format!("%{byte:02X}"));
        }
    }
    name
}

/// The command line to resume with: the program's arguments as given.
pub(crate) fn command_line() -> String {
    crate::invocation::args()
        .into_iter()
        .filter(|a| a != "--resume")
        .map(|a| if a.contains(' ') { format!("'{a}'") } else { a })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_become_distinct_portable_file_names() {
        assert_eq!(
            file_name("select/x*r,w/fold2"),
            "select%2Fx%2Ar%2Cw%2Ffold2"
        );
        assert_ne!(file_name("a/b"), file_name("a%2Fb"));
    }
}
