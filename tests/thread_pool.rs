//! `--threads n` as the commands set it up (`parallel::use_threads`): the calling thread is
//! one of the pool's `n` threads and runs part of every parallel job itself, and the jobs'
//! results are the same as on one thread. Its own test binary, as the pool is process-wide.

use std::thread;

use backprop::parallel;

#[test]
fn the_calling_thread_works_in_the_pool() {
    parallel::use_threads(2);
    assert_eq!(rayon::current_num_threads(), 2);
    // The command's main thread is the pool's first thread, not a client that sleeps.
    assert_eq!(rayon::current_thread_index(), Some(0));
    let me = thread::current().id();
    for _ in 0..20 {
        let ran_on = parallel::run(vec![0, 1], |_| thread::current().id());
        assert!(
            ran_on.contains(&me),
            "no run of the job on the calling thread"
        );
    }
    // The runs' results come back in run order, whoever ran them.
    let runs = parallel::runs(1000, usize::MAX);
    assert_eq!(runs.len(), 2);
    let sums = parallel::run(runs.clone(), |r| r.clone().map(|i| i as u64).sum::<u64>());
    assert_eq!(sums, vec![(0..500).sum::<u64>(), (500..1000).sum::<u64>()]);
}
