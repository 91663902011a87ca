//! One writer per run directory: the commands that write a run directory's shared
//! files (`run`, `collect`, `plot`) hold an advisory lock on `DIR/.lock`, and a cell
//! (`cell`, or a cell of a local `run`) holds one on its own directory's `.lock`, so
//! that Slurm array tasks, which each write one cell, never wait for each other or for
//! the parent.
//!
//! The lock is `flock(2)` on the file (through [`std::fs::File::try_lock`]): the
//! kernel releases it when its process ends, however it ends, so a lock cannot outlive
//! its writer. The file holds its holder as JSON (`pid`, `host`, `command`,
//! `started_unix_seconds`) for the message a second process gives, and is emptied when
//! its holder finishes normally: a file that still names a holder when its lock is
//! free was left by a process that was killed, and is taken over with a warning. On
//! file systems without `flock` the holder's record decides alone: a live process of
//! this host keeps the directory, any other record is taken over.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

/// The name of the lock file in a locked directory.
pub(crate) const LOCK_FILE: &str = ".lock";

/// A held lock on a directory; released (and its record emptied) when dropped.
#[derive(Debug)]
pub(crate) struct DirLock {
    file: File,
    path: PathBuf,
}

/// Who holds (or held) a lock, as its file records it.
#[derive(Debug, Clone, PartialEq)]
struct Holder {
    pid: u64,
    host: String,
    command: String,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "process {} on host {}", self.pid, self.host)?;
        if !self.command.is_empty() {
            write!(f, " (`plasticity {}`)", self.command)?;
        }
        Ok(())
    }
}

/// Takes the lock on `dir` (created if missing) for `command` (e.g. "run"), or refuses
/// with an error naming the live process that holds it. A record left by a process
/// that is gone is taken over, with a warning on stderr (unless `quiet`) and in the log.
pub(crate) fn lock_dir(dir: &Path, command: &str, quiet: bool) -> Result<DirLock> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join(LOCK_FILE);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .with_context(|| format!("opening the lock file {}", path.display()))?;
    let previous = match file.try_lock() {
        Ok(()) => read_holder(&file),
        Err(TryLockError::WouldBlock) => {
            let holder =
                read_holder(&file).map_or_else(|| "another process".to_string(), |h| h.to_string());
            bail!(
                "{} is being written by {holder}; wait for it to finish or stop it, then run this again (lock file {})",
                dir.display(),
                path.display()
            );
        }
        Err(TryLockError::Error(error)) if flock_unsupported(&error) => {
            // no flock here: the record decides (racy, but the best this file system allows)
            let previous = read_holder(&file);
            if let Some(holder) = previous.as_ref().filter(|h| is_alive(h)) {
                bail!(
                    "{} is being written by {holder}; wait for it to finish or stop it, then run this again (lock file {})",
                    dir.display(),
                    path.display()
                );
            }
            previous
        }
        Err(TryLockError::Error(error)) => {
            return Err(error).with_context(|| format!("locking {}", path.display()));
        }
    };
    if let Some(holder) = previous.filter(|h| h.pid != u64::from(std::process::id())) {
        let text = format!(
            "warning: taking over the lock on {} from {holder}, which is no longer running (it was stopped before it finished; lock file {})",
            dir.display(),
            path.display()
        );
        tracing::warn!("{text}");
        if !quiet {
            eprintln!("plasticity: {text}");
        }
    }
    let mut lock = DirLock { file, path };
    lock.record(command)
        .with_context(|| format!("writing the lock file {}", lock.path.display()))?;
    Ok(lock)
}

impl DirLock {
    /// Writes this process as the holder.
    fn record(&mut self, command: &str) -> std::io::Result<()> {
        let started = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let record = json!({
            "pid": std::process::id(),
            "host": host_name(),
            "command": command,
            "started_unix_seconds": started,
        });
        self.file.set_len(0)?;
        self.file.seek(SeekFrom::Start(0))?;
        self.file.write_all(format!("{record}\n").as_bytes())?;
        self.file.sync_data()
    }
}

impl Drop for DirLock {
    /// Empties the record (a finished holder leaves none); the kernel releases the
    /// lock when the file closes.
    fn drop(&mut self) {
        let _ = self.file.set_len(0);
    }
}

/// The holder recorded in `file`, if it names one.
fn read_holder(mut file: &File) -> Option<Holder> {
    let mut text = String::new();
    file.seek(SeekFrom::Start(0)).ok()?;
    file.take(64 << 10).read_to_string(&mut text).ok()?;
    let value: Value = serde_json::from_str(text.trim()).ok()?;
    Some(Holder {
        pid: value.get("pid")?.as_u64()?,
        host: value
            .get("host")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        command: value
            .get("command")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
    })
}

/// Whether locking failed because the file system has no `flock`.
fn flock_unsupported(error: &std::io::Error) -> bool {
    const ENOLCK: i32 = 37;
    const EOPNOTSUPP: i32 = 95;
    error.kind() == std::io::ErrorKind::Unsupported
        || matches!(error.raw_os_error(), Some(ENOLCK | EOPNOTSUPP))
}

/// Whether `holder` is a live process of this host (`/proc/PID` exists); a process of
/// another host cannot be checked and counts as alive.
fn is_alive(holder: &Holder) -> bool {
    if holder.host != host_name() {
        return true;
    }
    Path::new("/proc").join(holder.pid.to_string()).exists()
}

/// This machine's host name (`/proc/sys/kernel/hostname`, `/etc/hostname`,
/// `$HOSTNAME`), or "unknown".
pub(crate) fn host_name() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_a_held_directory_is_refused_naming_the_holder() {
        let dir = tempfile::tempdir().expect("temp dir");
        let held = lock_dir(dir.path(), "run", true).expect("first lock");
        let error = lock_dir(dir.path(), "collect", true)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains(&format!("process {} on host", std::process::id())),
            "{error}"
        );
        assert!(error.contains("`plasticity run`"), "{error}");
        drop(held);
        // released: taken again, and the record was emptied
        assert_eq!(
            std::fs::read_to_string(dir.path().join(LOCK_FILE)).expect("lock file"),
            ""
        );
        lock_dir(dir.path(), "collect", true).expect("free again");
    }

    #[test]
    fn a_record_left_by_a_gone_process_is_taken_over() {
        let dir = tempfile::tempdir().expect("temp dir");
        let stale = json!({"pid": u32::MAX, "host": host_name(), "command": "run"});
        std::fs::write(dir.path().join(LOCK_FILE), stale.to_string()).expect("written");
        let lock = lock_dir(dir.path(), "run", true).expect("taken over");
        let text = std::fs::read_to_string(&lock.path).expect("lock file");
        assert!(
            text.contains(&format!("\"pid\":{}", std::process::id())),
            "{text}"
        );
    }
}
