//! Process-wide allocator settings for the `backprop` command, and the memory the process may
//! still take ([`available_memory`]).
//!
//! A training step allocates and frees the same few buffers again and again (a batch of
//! images, the GEMM crate's packing buffers, layer outputs). With glibc's default settings a
//! freed buffer of a few hundred KB at the top of the heap is handed back to the kernel
//! (`brk` shrinks, or the buffer was `mmap`ed and is unmapped), and the next step takes a
//! page fault on every 4 KB page of it again: profiles of the MLP step showed ≈ 10 % of its
//! time in the kernel's page-fault path. Keeping freed memory in the process costs no more
//! than the peak it already reached. The `backprop` command calls it at start-up unless the
//! environment variable `BACKPROP_NO_MALLOPT` is set (to measure what it is worth).

/// Tells glibc's `malloc` to keep freed memory for reuse rather than return it to the kernel
/// (no trimming, no `mmap` below 64 MB). A no-op on other C libraries. Call it once, early,
/// from a program (the library itself never calls it).
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // glibc's <malloc.h>: M_TRIM_THRESHOLD = -1, M_MMAP_THRESHOLD = -3.
        unsafe extern "C" {
            fn mallopt(param: i32, value: i32) -> i32;
        }
        // SAFETY: mallopt only changes allocator parameters; it is called before the program
        // starts any thread.
        unsafe {
            mallopt(-1, 1 << 30);
            mallopt(-3, 64 << 20);
        }
    }
}

/// Asks the kernel to back `bytes` with 2 MB pages (transparent huge pages), where it can:
/// Linux only, and only a hint (a kernel that refuses leaves the 4 KB pages as they were).
///
/// A training batch reads 100 images scattered over the whole training set (47 MB for MNIST).
/// With 4 KB pages nearly every image lies on a page the TLB does not hold, and the walk of the
/// page table comes on top of the cache miss: profiles of the MLP step put ≈ 13 % of its time
/// in gathering the batch, most of it stalled on the first touch of each image. With 2 MB
/// pages the whole set needs 24 TLB entries. The pages already written are collapsed in place
/// (`MADV_COLLAPSE`, Linux 6.1 and later); the contents do not change. The environment
/// variable `BACKPROP_NO_HUGEPAGES` turns the hint off (to measure what it is worth).
pub fn prefer_huge_pages(bytes: &[u8]) {
    #[cfg(target_os = "linux")]
    if std::env::var_os("BACKPROP_NO_HUGEPAGES").is_none() {
        const HUGE: usize = 2 << 20;
        const MADV_HUGEPAGE: i32 = 14;
        const MADV_COLLAPSE: i32 = 25;
        unsafe extern "C" {
            fn madvise(addr: *mut std::ffi::c_void, len: usize, advice: i32) -> i32;
        }
        let start = bytes.as_ptr() as usize;
        let (first, end) = (start.next_multiple_of(HUGE), start + bytes.len());
        if end < first + HUGE {
            return;
        }
        let len = (end - first) / HUGE * HUGE;
        // SAFETY: the range lies inside `bytes`, memory this process owns, whole 2 MB pages of
        // it; both advices only change how the pages are backed, never their contents.
        unsafe {
            madvise(first as *mut _, len, MADV_HUGEPAGE);
            madvise(first as *mut _, len, MADV_COLLAPSE);
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = bytes;
}

/// How much memory the process may still take, and what limits it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Available {
    /// Bytes.
    pub bytes: u64,
    /// Where the figure comes from, for messages: "available on this machine" (the kernel's
    /// `MemAvailable`) or "left under the address-space limit" (`ulimit -v`).
    pub source: &'static str,
}

/// The memory this process may still allocate: the smaller of what the system reports
/// available (`MemAvailable` in `/proc/meminfo`, which counts reclaimable caches) and what the
/// address-space limit (`RLIMIT_AS`, `ulimit -v`) leaves beyond the process's current size.
/// `None` where neither is known.
pub fn available_memory() -> Option<Available> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok();
    let machine = meminfo
        .as_deref()
        .and_then(|m| kib_field(m, "MemAvailable:"))
        .map(|bytes| Available {
            bytes,
            source: "available on this machine",
        });
    let limit = address_space_left().map(|bytes| Available {
        bytes,
        source: "left under the address-space limit (ulimit -v)",
    });
    match (machine, limit) {
        (Some(m), Some(l)) => Some(if l.bytes < m.bytes { l } else { m }),
        (m, l) => m.or(l),
    }
}

/// A `NAME: <n> kB` line of a `/proc` file, in bytes.
fn kib_field(text: &str, name: &str) -> Option<u64> {
    let line = text.lines().find_map(|l| l.strip_prefix(name))?;
    let kib: u64 = line.trim().strip_suffix("kB")?.trim().parse().ok()?;
    kib.checked_mul(1024)
}

/// What `RLIMIT_AS` leaves beyond the process's current virtual size (`VmSize`), if a limit is
/// set (read from `/proc/self/limits`, the soft limit's column).
fn address_space_left() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let soft: u64 = soft_limit(&limits, "Max address space")?;
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let used = kib_field(&status, "VmSize:").unwrap_or(0);
    Some(soft.saturating_sub(used))
}

/// The soft limit of the `name` row of a `/proc/<pid>/limits` table, `None` when unlimited.
fn soft_limit(limits: &str, name: &str) -> Option<u64> {
    let row = limits.lines().find_map(|l| l.strip_prefix(name))?;
    row.split_whitespace().next()?.parse().ok()
}

/// `bytes` for people: `25.6 GB`, `640 MB`, `12 kB` (powers of 1000).
pub fn human_bytes(bytes: u64) -> String {
    let b = bytes as f64;
    match bytes {
        0..1_000_000 => format!("{:.0} kB", b / 1e3),
        1_000_000..1_000_000_000 => format!("{:.0} MB", b / 1e6),
        _ => format!("{:.1} GB", b / 1e9),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_soft_address_space_limit_is_read_from_proc_limits() {
        let table = "Limit                     Soft Limit           Hard Limit           Units     \n\
                     Max stack size            8388608              unlimited            bytes     \n\
                     Max address space         4294967296           unlimited            bytes     \n";
        assert_eq!(soft_limit(table, "Max address space"), Some(4 << 30));
        assert_eq!(soft_limit(table, "Max stack size"), Some(8 << 20));
        let unlimited =
            "Max address space         unlimited            unlimited            bytes\n";
        assert_eq!(soft_limit(unlimited, "Max address space"), None);
        // This process's own table has the row.
        let own = std::fs::read_to_string("/proc/self/limits").unwrap();
        assert!(own.contains("Max address space"), "{own}");
    }
}
