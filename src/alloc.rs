//! Process-wide allocator settings for the `backprop` command.
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
