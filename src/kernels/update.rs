//! The optimizers' element-wise updates over flat slices ([`crate::optim`] holds the math):
//! compiled per instruction set, where SGD's multiply-subtract and the division and square
//! root of Adam's step run 8 or 16 to a vector instead of the baseline's 4, and cut into one
//! run per allowed thread. Each value's update is the same operations in the same order at
//! every width and on every thread (IEEE division and square root are correctly rounded per
//! lane), so the bits do not depend on either.

use crate::cpu;
use crate::float::Float;
use crate::parallel;

/// SGD's step over one parameter's contiguous values: `w −= lr·g`.
///
/// # Panics
/// If the slices differ in length.
pub(crate) fn sgd<F: Float>(w: &mut [F], g: &mut [F], lr: F) {
    let simd = cpu::active();
    parallel::zip_elementwise(w, g, |w, g| sgd_step(simd, w, g, lr));
}

crate::cpu::dispatch! {
    // TwoLayerNet's 39,760 parameters stay in L2, where the baseline's 4 lanes are the bound.
    [avx512, avx2]
    /// One run of [`sgd`].
    fn sgd_step<F>(w: &mut [F], g: &[F], lr: F) {
        for (w, &g) in w.iter_mut().zip(g) {
            *w -= lr * g;
        }
    }
}

/// The scalars of one Adam step: `lr_t` (the step's bias-corrected learning rate), `eps`,
/// `b1 = 1 − β₁`, `b2 = 1 − β₂`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct AdamStep<F> {
    pub(crate) lr_t: F,
    pub(crate) eps: F,
    pub(crate) b1: F,
    pub(crate) b2: F,
}

/// Adam's step over one parameter's contiguous values: `m += b1·(g − m)`,
/// `v += b2·(g² − v)`, `w −= lr_t·m / (√v + eps)`.
///
/// # Panics
/// If the slices differ in length.
pub(crate) fn adam<F: Float>(w: &mut [F], m: &mut [F], v: &mut [F], g: &[F], k: AdamStep<F>) {
    let n = w.len();
    assert!(
        m.len() == n && v.len() == n && g.len() == n,
        "adam: lengths"
    );
    let simd = cpu::active();
    let runs = parallel::runs_elementwise(n, n);
    let jobs: Vec<_> = parallel::split_mut(w, 1, &runs)
        .into_iter()
        .zip(parallel::split_mut(m, 1, &runs))
        .zip(parallel::split_mut(v, 1, &runs))
        .zip(parallel::split(g, 1, &runs))
        .collect();
    parallel::run(jobs, |(((w, m), v), g)| adam_step(simd, w, m, v, g, k));
}

crate::cpu::dispatch! {
    // Baseline x86-64 has 4-lane SSE division and square root, which made this a twentieth
    // of SimpleConvNet's step (433 k parameters).
    [avx512, avx2]
    /// One run of [`adam`].
    fn adam_step<F>(w: &mut [F], m: &mut [F], v: &mut [F], g: &[F], k: AdamStep<F>) {
        let AdamStep { lr_t, eps, b1, b2 } = k;
        for (((w, m), v), &g) in w.iter_mut().zip(m.iter_mut()).zip(v.iter_mut()).zip(g) {
            *m += b1 * (g - *m);
            *v += b2 * (g * g - *v);
            *w -= lr_t * *m / (v.sqrt() + eps);
        }
    }
}
