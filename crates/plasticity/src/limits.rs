//! Memory limits: a dataset that would not fit in memory is refused, with the size it
//! would need, before anything is allocated — not ended by the kernel's out-of-memory
//! killer half-way.
//!
//! The limit is half the machine's memory (`MemTotal` in `/proc/meminfo`), or 8 GiB
//! where that cannot be read; the environment variable `PLASTICITY_MAX_DATASET_BYTES`
//! (a number of bytes) replaces it. It applies to simulated datasets
//! ([`OjaTask`](crate::task::OjaTask), [`BehaviourTask`](crate::task::BehaviourTask))
//! and to the arrays of a dataset file ([`NpzFile::open`](crate::io::npz::NpzFile::open)).
//! A recording that streams from its file (forward mode,
//! [`NeuralStream`](crate::data::NeuralStream)) is never held whole: only its initial
//! weights count.

use crate::{Error, Result};

/// The environment variable that overrides [`max_dataset_bytes`].
pub const MAX_DATASET_BYTES_VAR: &str = "PLASTICITY_MAX_DATASET_BYTES";

/// The limit where the machine's memory cannot be read: 8 GiB.
pub const FALLBACK_MAX_DATASET_BYTES: u64 = 8 << 30;

/// The most bytes one dataset may take in memory: `PLASTICITY_MAX_DATASET_BYTES` if set
/// to a number, else half of `MemTotal` from `/proc/meminfo`, else 8 GiB.
pub fn max_dataset_bytes() -> u64 {
    if let Some(bytes) = std::env::var(MAX_DATASET_BYTES_VAR)
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
    {
        return bytes;
    }
    total_memory_bytes().map_or(FALLBACK_MAX_DATASET_BYTES, |total| total / 2)
}

/// `MemTotal` of `/proc/meminfo`, in bytes.
fn total_memory_bytes() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// Where the limit comes from, for messages.
fn limit_source() -> &'static str {
    if std::env::var(MAX_DATASET_BYTES_VAR)
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .is_some()
    {
        "set by PLASTICITY_MAX_DATASET_BYTES"
    } else if total_memory_bytes().is_some() {
        "half of this machine's memory; set PLASTICITY_MAX_DATASET_BYTES to change it"
    } else {
        "the default; set PLASTICITY_MAX_DATASET_BYTES to change it"
    }
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
    let limit = max_dataset_bytes();
    match needed {
        Some(needed) if needed <= limit => Ok(()),
        needed => Err(Error::TooLarge {
            what: what.to_string(),
            needed: needed.map_or_else(|| "more than 2^64 bytes".to_string(), format_bytes),
            limit: format!("{} ({})", format_bytes(limit), limit_source()),
        }),
    }
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
}
