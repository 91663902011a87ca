//! Memory limits: a dataset that would not fit in memory is refused, with the size it
//! would need, before anything is allocated — not ended by the kernel's out-of-memory
//! killer or an aborting allocator half-way.
//!
//! The limit ([`memory_limit`]) is the smallest of: the configured limit (the
//! environment variable `PLASTICITY_MAX_DATASET_BYTES`, a number of bytes), half the
//! machine's available memory (`MemAvailable` in `/proc/meminfo`), half the address
//! space left under the process's `RLIMIT_AS` (`ulimit -v`), and half the memory left
//! under its cgroup's limit (v2 `memory.max`, v1 `memory.limit_in_bytes`), each where
//! set; 8 GiB where none can be read. The system's figures are read once per process.
//! It applies to simulated datasets ([`OjaTask`](crate::task::OjaTask),
//! [`BehaviourTask`](crate::task::BehaviourTask)), to the arrays of a dataset file
//! (checked from the members' headers before any data is read), to a circuit's
//! synapses, and to a neural or circuit fit's dataset with its working memory
//! (gradient tapes and checkpoints, Gauss–Newton systems and tangents, per thread:
//! [`crate::pipeline::neural::neural_fit_bytes`], [`crate::pipeline::circuit::circuit_fit_bytes`]),
//! refused with the settings that would fit ([`check_working_bytes`]). A recording that streams from its file (forward mode,
//! [`NeuralStream`](crate::data::NeuralStream)) is never held whole: only its initial
//! weights count. Large buffers are also allocated fallibly ([`try_vec`]): where the
//! system refuses them anyway, the result is an error naming what and how much, not
//! an abort.

mod system;

use crate::{Error, Result};

/// The environment variable that lowers [`max_dataset_bytes`].
pub const MAX_DATASET_BYTES_VAR: &str = "PLASTICITY_MAX_DATASET_BYTES";

/// The limit where neither a configured limit nor the machine's memory can be read:
/// 8 GiB.
pub const FALLBACK_MAX_DATASET_BYTES: u64 = 8 << 30;

/// The memory limit and where it comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemoryLimit {
    /// The most bytes one dataset (with its fit's working memory) may take.
    pub bytes: u64,
    /// Which source set it, for messages.
    pub source: &'static str,
}

/// The configured limit, `PLASTICITY_MAX_DATASET_BYTES`, where it is set to a number.
fn configured_limit() -> Option<u64> {
    std::env::var(MAX_DATASET_BYTES_VAR)
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
}

/// The smallest of the configured limit and half of each system figure (available
/// memory, address space left under `RLIMIT_AS`, memory left under the cgroup's
/// limit); [`FALLBACK_MAX_DATASET_BYTES`] where none is known. Ties go to the
/// configured limit.
pub fn memory_limit() -> MemoryLimit {
    let system = system::system_memory();
    let candidates = [
        (configured_limit(), "set by PLASTICITY_MAX_DATASET_BYTES"),
        (
            system.available.map(|b| b / 2),
            "half of this machine's available memory; set PLASTICITY_MAX_DATASET_BYTES to lower it",
        ),
        (
            system.address_space.map(|b| b / 2),
            "half of the address space left under this process's limit (ulimit -v)",
        ),
        (
            system.cgroup.map(|b| b / 2),
            "half of the memory left under this control group's limit (memory.max)",
        ),
    ];
    candidates
        .into_iter()
        .filter_map(|(bytes, source)| {
            Some(MemoryLimit {
                bytes: bytes?,
                source,
            })
        })
        .min_by_key(|limit| limit.bytes)
        .unwrap_or(MemoryLimit {
            bytes: FALLBACK_MAX_DATASET_BYTES,
            source: "the default; set PLASTICITY_MAX_DATASET_BYTES to change it",
        })
}

/// The most bytes one dataset may take in memory: [`memory_limit`]'s bytes.
pub fn max_dataset_bytes() -> u64 {
    memory_limit().bytes
}

/// Bytes as a readable size, e.g. "21.0 GB (20971520000 bytes)".
pub fn format_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "kB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} bytes")
    } else {
        format!("{value:.1} {} ({bytes} bytes)", UNITS[unit])
    }
}

/// Product of `factors` in bytes of f64, `None` on overflow.
pub fn f64_bytes(factors: &[usize]) -> Option<u64> {
    factors
        .iter()
        .try_fold(8u64, |acc, &f| acc.checked_mul(f as u64))
}

/// Refuses `needed` bytes (`None`: more than a `u64` can count) for `what` above
/// [`max_dataset_bytes`], with [`Error::TooLarge`] naming both sizes.
pub fn check_dataset_bytes(what: &str, needed: Option<u64>) -> Result<()> {
    let limit = memory_limit();
    match needed {
        Some(needed) if needed <= limit.bytes => Ok(()),
        needed => Err(Error::TooLarge {
            what: what.to_string(),
            needed: needed.map_or_else(|| "more than 2^64 bytes".to_string(), format_bytes),
            limit: format!("{} ({})", format_bytes(limit.bytes), limit.source),
        }),
    }
}

/// Refuses a computation's working memory, `needed` bytes for `what`, above
/// [`memory_limit`] as [`check_dataset_bytes`] does; the error also names the
/// `alternatives` (a setting, e.g. `--gradient checkpointed`, and the bytes it would
/// need) that would fit within the limit.
pub fn check_working_bytes(
    what: &str,
    needed: Option<u64>,
    alternatives: &[(String, Option<u64>)],
) -> Result<()> {
    let limit = memory_limit();
    let Err(Error::TooLarge {
        what,
        needed,
        limit: limit_text,
    }) = check_dataset_bytes(what, needed)
    else {
        return Ok(());
    };
    let fitting: Vec<String> = alternatives
        .iter()
        .filter_map(|(setting, bytes)| {
            bytes
                .filter(|&b| b <= limit.bytes)
                .map(|b| format!("{setting}, which needs {}", format_bytes(b)))
        })
        .collect();
    let limit = if fitting.is_empty() {
        limit_text
    } else {
        format!(
            "{limit_text}; within the limit with {}",
            fitting.join(", or ")
        )
    };
    Err(Error::TooLarge {
        what,
        needed,
        limit,
    })
}

/// An empty vector with room for `len` items, allocated fallibly: where the system
/// refuses the memory, [`Error::TooLarge`] naming `what` (e.g. the file and variable)
/// and the bytes asked for, instead of an abort.
pub fn try_vec<T>(what: impl FnOnce() -> String, len: usize) -> Result<Vec<T>> {
    let mut out = Vec::new();
    try_reserve(&mut out, len, what)?;
    Ok(out)
}

/// Room for `additional` more items in `out`, allocated fallibly (see [`try_vec`]).
pub fn try_reserve<T>(
    out: &mut Vec<T>,
    additional: usize,
    what: impl FnOnce() -> String,
) -> Result<()> {
    out.try_reserve_exact(additional).map_err(|_| {
        let bytes = (additional as u64).checked_mul(std::mem::size_of::<T>() as u64);
        Error::TooLarge {
            what: what(),
            needed: bytes.map_or_else(|| "more than 2^64 bytes".to_string(), format_bytes),
            limit: "what the system would allocate (the allocation failed)".to_string(),
        }
    })
}

/// `len` zeros, allocated fallibly (see [`try_vec`]).
pub fn try_zeros(what: impl FnOnce() -> String, len: usize) -> Result<Vec<f64>> {
    let mut out = try_vec(what, len)?;
    out.resize(len, 0.0);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_readable_and_overflow_is_refused() {
        assert_eq!(format_bytes(512), "512 bytes");
        assert_eq!(format_bytes(21_000_000_000), "21.0 GB (21000000000 bytes)");
        assert_eq!(f64_bytes(&[2, 3]), Some(48));
        assert_eq!(f64_bytes(&[usize::MAX, 16]), None);
        let error = check_dataset_bytes("x", None).unwrap_err().to_string();
        assert!(error.contains("more than 2^64 bytes"), "{error}");
        assert!(check_dataset_bytes("x", Some(1024)).is_ok());
        assert!(max_dataset_bytes() > 1 << 20);
    }

    #[test]
    fn a_refused_allocation_is_an_error_naming_what_and_how_much() {
        let error = try_vec::<f64>(|| "reading 'x' of f.npz".to_string(), usize::MAX / 4)
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("reading 'x' of f.npz needs"), "{error}");
        assert!(error.contains("the allocation failed"), "{error}");
        assert_eq!(try_zeros(String::new, 3).unwrap(), vec![0.0; 3]);
    }
}
