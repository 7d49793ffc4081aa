//! The layers' hot loops, apart from the book's math: a layer file reads like the book's
//! class and calls in here for the loops that are compiled per instruction set
//! ([`crate::cpu`]'s `dispatch!`, the one mechanism) and split over threads
//! ([`crate::parallel`]). Matrix products are [`crate::linalg`]'s, and the convolution's
//! unrolling is [`crate::functions::im2col`]'s.

pub(crate) mod pooling;
pub(crate) mod relu;
pub(crate) mod update;

/// The candidate that `time` (seconds for one run of it) finds fastest: `rounds` interleaved
/// rounds after a warm-up round, each candidate scored by its best round, so that a
/// disturbance from another process spoils one round of one candidate rather than the
/// choice. For kernels whose candidates give the same bits: the choice is the host's, by
/// measurement, and changes only the speed.
///
/// # Panics
/// If there are no candidates.
pub(crate) fn fastest<C: Copy>(candidates: &[C], rounds: usize, time: impl FnMut(C) -> f64) -> C {
    let best = best_times(candidates, rounds, time);
    let at = (0..candidates.len())
        .min_by(|&x, &y| best[x].total_cmp(&best[y]))
        .expect("candidates");
    candidates[at]
}

/// Each candidate's best time over `rounds` interleaved rounds after a warm-up round (as
/// [`fastest`] scores them), in the candidates' order.
///
/// # Panics
/// If there are no candidates.
pub(crate) fn best_times<C: Copy>(
    candidates: &[C],
    rounds: usize,
    mut time: impl FnMut(C) -> f64,
) -> Vec<f64> {
    assert!(!candidates.is_empty(), "fastest: no candidates");
    let mut best = vec![f64::INFINITY; candidates.len()];
    for round in 0..=rounds {
        for (&c, best) in candidates.iter().zip(&mut best) {
            let t = time(c);
            if round > 0 {
                *best = best.min(t);
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fastest_is_the_candidate_with_the_least_best_time() {
        // Either candidate wins when the measurement says so: the choice is not fixed.
        assert_eq!(
            fastest(&['a', 'b'], 3, |c| if c == 'a' { 2.0 } else { 1.0 }),
            'b'
        );
        assert_eq!(
            fastest(&['a', 'b'], 3, |c| if c == 'a' { 1.0 } else { 2.0 }),
            'a'
        );
        // Scored by the best round, after the warm-up: one slow round of 'a' (a disturbance)
        // and a slow warm-up of 'b' do not decide.
        let mut calls = 0;
        let pick = fastest(&['a', 'b'], 3, |c| {
            calls += 1;
            match (c, calls) {
                ('b', 2) => 100.0, // the warm-up
                ('a', 3) => 50.0,
                ('a', _) => 1.0,
                _ => 1.5,
            }
        });
        assert_eq!((pick, calls), ('a', 8));
    }
}
