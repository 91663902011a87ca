//! What the system lets this process allocate, read once per process: the machine's
//! available memory, the address space left under `RLIMIT_AS` (`ulimit -v`), and the
//! memory left under a control group's limit (cgroup v2 `memory.max`, v1
//! `memory.limit_in_bytes`). Each is `None` where it cannot be read or is unlimited.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Bytes left to this process by each source, as probed the first time it is asked.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct SystemMemory {
    /// `MemAvailable` of `/proc/meminfo` (`MemTotal` on kernels without it).
    pub available: Option<u64>,
    /// `RLIMIT_AS`'s soft limit minus the address space already mapped (`VmSize`).
    pub address_space: Option<u64>,
    /// The tightest cgroup memory limit on the way to the root, minus its usage.
    pub cgroup: Option<u64>,
}

/// The probes, run once per process (so that the limit does not change during a run).
pub(super) fn system_memory() -> SystemMemory {
    static PROBED: OnceLock<SystemMemory> = OnceLock::new();
    *PROBED.get_or_init(|| SystemMemory {
        available: available_memory(),
        address_space: address_space_headroom(),
        cgroup: cgroup_headroom(),
    })
}

/// A `key:   N kB` line of a `/proc` status file, in bytes.
fn proc_kib(text: &str, key: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with(key))?;
    let kib: u64 = line[key.len()..].split_whitespace().next()?.parse().ok()?;
    kib.checked_mul(1024)
}

/// `MemAvailable` of `/proc/meminfo`, else `MemTotal`, in bytes.
fn available_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    proc_kib(&text, "MemAvailable:").or_else(|| proc_kib(&text, "MemTotal:"))
}

/// The soft `RLIMIT_AS` minus this process's `VmSize` (the whole limit where `VmSize`
/// cannot be read); `None` when unlimited.
fn address_space_headroom() -> Option<u64> {
    let limit = address_space_limit()?;
    let used = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|text| proc_kib(&text, "VmSize:"))
        .unwrap_or(0);
    Some(limit.saturating_sub(used))
}

/// The soft `RLIMIT_AS` in bytes, `None` when unlimited.
#[cfg(unix)]
fn address_space_limit() -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one `rlimit` through a valid, exclusive pointer.
    let status = unsafe { libc::getrlimit(libc::RLIMIT_AS, &mut limit) };
    if status != 0 || limit.rlim_cur == libc::RLIM_INFINITY {
        return None;
    }
    #[allow(clippy::unnecessary_cast)] // rlim_t is not u64 on every platform
    Some(limit.rlim_cur as u64)
}

#[cfg(not(unix))]
fn address_space_limit() -> Option<u64> {
    None
}

/// A cgroup limit at or above this counts as unlimited (v1 writes 2^63 rounded to pages).
const UNLIMITED: u64 = 1 << 60;

/// The smallest `limit − usage` of the cgroups from this process's group up to the
/// root (v2 `memory.max` / `memory.current`, v1 `memory.limit_in_bytes` /
/// `memory.usage_in_bytes`); `None` where none sets a limit.
fn cgroup_headroom() -> Option<u64> {
    let membership = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let mut best: Option<u64> = None;
    for line in membership.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(_), Some(controllers), Some(group)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let (root, limit_file, usage_file) = if controllers.is_empty() {
            (Path::new("/sys/fs/cgroup"), "memory.max", "memory.current")
        } else if controllers.split(',').any(|c| c == "memory") {
            (
                Path::new("/sys/fs/cgroup/memory"),
                "memory.limit_in_bytes",
                "memory.usage_in_bytes",
            )
        } else {
            continue;
        };
        for dir in ancestors(root, group) {
            let Some(limit) = read_number(&dir.join(limit_file)) else {
                continue;
            };
            if limit >= UNLIMITED {
                continue;
            }
            let usage = read_number(&dir.join(usage_file)).unwrap_or(0);
            let left = limit.saturating_sub(usage);
            best = Some(best.map_or(left, |b| b.min(left)));
        }
    }
    best
}

/// `root/group`, then each of its parents up to `root` itself.
fn ancestors(root: &Path, group: &str) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    let mut relative = PathBuf::from(group.trim_start_matches('/'));
    loop {
        dirs.push(root.join(&relative));
        if !relative.pop() {
            break;
        }
    }
    dirs
}

/// A file holding one number (`max` and anything else unreadable: `None`).
fn read_number(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_lines_are_read_in_bytes() {
        let text = "MemTotal:       16000 kB\nMemAvailable:    8000 kB\n";
        assert_eq!(proc_kib(text, "MemAvailable:"), Some(8000 * 1024));
        assert_eq!(proc_kib(text, "VmSize:"), None);
        let dirs = ancestors(Path::new("/sys/fs/cgroup"), "/a/b");
        assert_eq!(
            dirs,
            ["/sys/fs/cgroup/a/b", "/sys/fs/cgroup/a", "/sys/fs/cgroup"]
                .map(PathBuf::from)
                .to_vec()
        );
        // probing never fails, and a machine running tests has some memory available
        assert!(system_memory().available.is_some_and(|b| b > 0));
    }
}
