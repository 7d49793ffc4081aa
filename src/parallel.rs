//! Splitting a layer's per-image work across the threads that [`set_threads`] allows.
//!
//! A batch of `N` images is cut into at most `threads` contiguous runs of images, one per
//! rayon task, and only when the whole job is large enough to pay for a second thread
//! ([`PARALLEL_THRESHOLD`] multiply-adds, or [`ELEMENTWISE_THRESHOLD`] values for passes over
//! memory; the MLP's layers never qualify). The cut
//! depends only on `N` and the thread count, and results that are sums over images (a
//! convolution's `dW`) are combined in run order, so a given thread count always gives the
//! same bits; different thread counts differ only by the reassociation of those sums.
//!
//! [`set_threads`]: crate::linalg::set_threads
//! [`PARALLEL_THRESHOLD`]: crate::linalg::PARALLEL_THRESHOLD

use std::ops::Range;

use rayon::prelude::*;

use crate::linalg::{PARALLEL_THRESHOLD, threads};

/// Allows `n` threads for the rest of the process, as `--threads n` does: products, layers
/// and optimizers ([`set_threads`](crate::linalg::set_threads)), and rayon's global pool,
/// which the `gemm` crate's parallel kernels also run on, sized to match. The calling thread
/// is one of the pool's `n`: call it from the thread that will do the work (a command's main
/// thread), which then runs one run of each parallel job itself and hands the others to the
/// pool's threads, instead of sleeping until they finish. On two cores that was a third of the
/// context switches of SimpleConvNet's two-thread step and up to 15 % more steps per second
/// (BENCHMARKS.md, ninth session).
pub fn use_threads(n: usize) {
    build_pool(n, true);
}

/// [`use_threads`] for a process whose parallel work starts on threads of its own, not on
/// the caller (the lab's server, whose runs train on their own threads): all `n` of the
/// pool's threads are rayon's, as a caller that never does the work would leave one idle.
pub fn use_threads_elsewhere(n: usize) {
    build_pool(n, false);
}

fn build_pool(n: usize, with_caller: bool) {
    crate::linalg::set_threads(n);
    if n > 1 {
        let builder = rayon::ThreadPoolBuilder::new().num_threads(n);
        let builder = if with_caller {
            builder.use_current_thread()
        } else {
            builder
        };
        // Fails only if the pool was already built, which leaves its size as it was.
        let _ = builder.build_global();
    }
}

/// The largest `--threads` the command accepts: four threads per core the system reports
/// (`available_parallelism`, 1 if unknown). More threads than cores only time-slice the same
/// cores (four per core leaves room to measure that); a value beyond is a mistake, and building a
/// pool of 100,000 threads would load the machine for nothing.
pub fn max_threads() -> usize {
    4 * std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The runs of images `0..n` to give one task each, for a job of about `work` operations:
/// one run unless more threads are allowed and `work` ≥ [`PARALLEL_THRESHOLD`].
pub fn runs(n: usize, work: usize) -> Vec<Range<usize>> {
    even_runs(n, threads_for(work, PARALLEL_THRESHOLD))
}

/// Elements below which a pass over memory (pooling, ReLU, an optimizer update) stays on one
/// thread: about 0.1 ms of work, against a few microseconds to wake a second thread.
pub const ELEMENTWISE_THRESHOLD: usize = 1 << 18;

/// The runs of images `0..n` for a pass over `elements` values, like [`runs`] but with the
/// [`ELEMENTWISE_THRESHOLD`].
pub fn runs_elementwise(n: usize, elements: usize) -> Vec<Range<usize>> {
    even_runs(n, threads_for(elements, ELEMENTWISE_THRESHOLD))
}

/// Whether a pass over `elements` values runs on more than one thread (as
/// [`runs_elementwise`] would cut it, without building the runs).
pub fn elementwise_parallel(elements: usize) -> bool {
    elements >= 2 && threads_for(elements, ELEMENTWISE_THRESHOLD) > 1
}

/// `f(a, b)` over two slices of the same length, value by value: on one run per allowed thread
/// for long slices ([`ELEMENTWISE_THRESHOLD`]), else directly, with nothing allocated.
pub fn zip_elementwise<A: Send, B: Send>(
    a: &mut [A],
    b: &mut [B],
    f: impl Fn(&mut [A], &mut [B]) + Sync + Send,
) {
    assert_eq!(a.len(), b.len(), "zip_elementwise: lengths");
    if !elementwise_parallel(a.len()) {
        return f(a, b);
    }
    let runs = runs_elementwise(a.len(), a.len());
    let jobs = split_mut(a, 1, &runs)
        .into_iter()
        .zip(split_mut(b, 1, &runs))
        .collect();
    run(jobs, |(a, b)| f(a, b));
}

/// The threads a job of `amount` may use: all that are allowed from `threshold` on, else one.
fn threads_for(amount: usize, threshold: usize) -> usize {
    if amount >= threshold { threads() } else { 1 }
}

/// `0..n` cut into `t` runs (fewer when `n` < `t`) whose lengths differ by at most one.
fn even_runs(n: usize, t: usize) -> Vec<Range<usize>> {
    let t = t.min(n).max(1);
    (0..t).map(|i| n * i / t..n * (i + 1) / t).collect()
}

/// Cuts `s`, which holds `per_item` values for each image, into one slice per run.
pub fn split_mut<'a, T>(
    mut s: &'a mut [T],
    per_item: usize,
    runs: &[Range<usize>],
) -> Vec<&'a mut [T]> {
    let mut parts = Vec::with_capacity(runs.len());
    for r in runs {
        let (head, tail) = s.split_at_mut(r.len() * per_item);
        parts.push(head);
        s = tail;
    }
    parts
}

/// Cuts `s`, which holds `per_item` values for each image, into one slice per run.
pub fn split<'a, T>(s: &'a [T], per_item: usize, runs: &[Range<usize>]) -> Vec<&'a [T]> {
    runs.iter()
        .map(|r| &s[r.start * per_item..r.end * per_item])
        .collect()
}

/// Runs `f` on every job, each on its own rayon task when there are several, and returns the
/// results in job order.
pub fn run<T: Send, R: Send>(jobs: Vec<T>, f: impl Fn(T) -> R + Sync + Send) -> Vec<R> {
    if jobs.len() <= 1 {
        jobs.into_iter().map(f).collect()
    } else {
        jobs.into_par_iter().map(f).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_cover_the_batch_in_order() {
        assert_eq!(runs(100, PARALLEL_THRESHOLD - 1), vec![0..100]);
        assert_eq!(even_runs(100, 1), vec![0..100]);
        assert_eq!(even_runs(101, 2), vec![0..50, 50..101]);
        assert_eq!(even_runs(2, 3), vec![0..1, 1..2]);
        assert_eq!(even_runs(0, 2), vec![0..0]);
        let parts = split(&[1, 2, 3, 4, 5, 6], 2, &[0..1, 1..3]);
        assert_eq!(parts, vec![&[1, 2][..], &[3, 4, 5, 6][..]]);
        let mut v = [0; 6];
        for (i, p) in split_mut(&mut v, 3, &[0..1, 1..2]).into_iter().enumerate() {
            p.fill(i + 1);
        }
        assert_eq!(v, [1, 1, 1, 2, 2, 2]);
        assert_eq!(run(vec![3, 1, 2], |x| x * 10), vec![30, 10, 20]);
    }
}
