//! How much memory this process may still take, read from the machine, and
//! buffers allocated so that running out is an error rather than an abort.
//!
//! A run that needs more memory than the machine has must be refused before
//! it starts, with the sizes, not killed halfway (or aborted by the
//! allocator with a backtrace). The budget is the smallest of what Linux
//! reports: `MemAvailable` (what can be had without swapping), the control
//! group's `memory.max` less its `memory.current` (a container's limit),
//! and the process's address-space and data-size limits (`ulimit -v`,
//! `ulimit -d`) less what is already mapped. Where none of these can be
//! read (another OS), there is no estimate and the fallible allocations
//! below are the only guard. Estimates are never exact, so large buffers
//! are still reserved with `try_reserve`: a refusal there is reported like
//! any other, with exit status 2.

use std::fs;

/// The bytes this process can still allocate, when the machine says.
pub fn available() -> Option<u64> {
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    let limits = fs::read_to_string("/proc/self/limits").unwrap_or_default();
    let mapped = kib_field(&status, "VmSize:");
    let data = kib_field(&status, "VmData:");
    [
        kib_field(
            &fs::read_to_string("/proc/meminfo").unwrap_or_default(),
            "MemAvailable:",
        ),
        cgroup_room(),
        rlimit(&limits, "Max address space").map(|l| l.saturating_sub(mapped.unwrap_or(0))),
        rlimit(&limits, "Max data size").map(|l| l.saturating_sub(data.unwrap_or(0))),
    ]
    .into_iter()
    .flatten()
    .min()
}

/// `name   12345 kB` in a /proc file, in bytes.
fn kib_field(text: &str, name: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with(name))?;
    let kib: u64 = line[name.len()..].split_whitespace().next()?.parse().ok()?;
    Some(kib.saturating_mul(1024))
}

/// The soft limit of `name` in /proc/self/limits, in bytes; None when
/// unlimited or unreadable.
fn rlimit(limits: &str, name: &str) -> Option<u64> {
    let line = limits.lines().find(|l| l.starts_with(name))?;
    line[name.len()..].split_whitespace().next()?.parse().ok()
}

/// Room left under this process's cgroup (v2) memory limit.
fn cgroup_room() -> Option<u64> {
    let own = fs::read_to_string("/proc/self/cgroup").ok()?;
    let path = own.lines().find_map(|l| l.strip_prefix("0::"))?;
    let dir = format!("/sys/fs/cgroup{}", path.trim_end_matches('/'));
    let max: u64 = fs::read_to_string(format!("{dir}/memory.max"))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let used: u64 = fs::read_to_string(format!("{dir}/memory.current"))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    Some(max.saturating_sub(used))
}

/// A buffer the allocator could not give.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutOfMemory {
    pub bytes: u64,
}

impl std::fmt::Display for OutOfMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "could not allocate {} ({} bytes)",
            human_bytes(self.bytes as f64),
            self.bytes
        )
    }
}

/// `len` zeros, or an error if the allocator refuses (instead of aborting).
pub fn try_zeros(len: usize) -> Result<Vec<f64>, OutOfMemory> {
    let mut v: Vec<f64> = Vec::new();
    v.try_reserve_exact(len).map_err(|_| OutOfMemory {
        bytes: (len as u64).saturating_mul(8),
    })?;
    v.resize(len, 0.0);
    Ok(v)
}

/// A size in the unit a person reads.
pub fn human_bytes(b: f64) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut v = b;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    format!("{v:.1} {}", UNITS[u])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_read_in_bytes() {
        let meminfo = "MemTotal:       16318480 kB\nMemAvailable:    9876543 kB\n";
        assert_eq!(kib_field(meminfo, "MemAvailable:"), Some(9_876_543 * 1024));
        assert_eq!(kib_field(meminfo, "SwapFree:"), None);
        let limits = "Limit                     Soft Limit           Hard Limit           Units     \n\
                      Max data size             unlimited            unlimited            bytes     \n\
                      Max address space         4294967296           unlimited            bytes     \n";
        assert_eq!(rlimit(limits, "Max address space"), Some(4_294_967_296));
        assert_eq!(rlimit(limits, "Max data size"), None);
    }

    #[test]
    fn this_machine_reports_some_memory() {
        // On Linux MemAvailable is always there; it is positive and less
        // than the 2^64 bytes no machine has.
        if cfg!(target_os = "linux") {
            let a = available().expect("Linux reports MemAvailable");
            assert!(a > 0 && a < u64::MAX / 2, "{a}");
        }
    }

    #[test]
    fn an_impossible_buffer_is_an_error_not_an_abort() {
        // 2^58 doubles are 2 EiB: within what a Vec may ask for, beyond
        // what any allocator can give.
        let e = try_zeros(1 << 58).expect_err("no machine has 2 EiB");
        assert_eq!(e.bytes, 1 << 61);
        assert!(e.to_string().contains("2.0 EiB"), "{e}");
        assert!(try_zeros(8).unwrap().iter().all(|&x| x == 0.0));
    }
}
