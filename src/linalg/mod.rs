//! The matrix products every layer goes through, kept behind one small interface so that the
//! GEMM kernel is chosen in one place.
//!
//! The kernel is chosen per product, by measurement (`cargo run --release --example
//! gemm_shapes`, figures in BENCHMARKS.md):
//!
//! * f32 on a CPU with AVX-512 (when [`crate::cpu::active`] allows it), when the rows of `b` and `c` are contiguous (every product of
//!   the book's nets but `dout · Wᵀ`): this crate's [`avx512::direct`], which reads the
//!   operands in place instead of packing them (or packs them, where the planner finds that
//!   faster). Where `b`'s *columns* are contiguous instead (the Affine's `dx = dout · Wᵀ`)
//!   and the inner dimension is not short, [`avx512::direct_bt`] copies B's columns into
//!   row-major panels for the same tiles. On the project machine it beat both crates
//!   below on every such shape: the MLP's `x · W1` 114 against 69–74 GFLOP/s, the
//!   convolution's per-image `W · colᵀ` 106 against 70, 1024³ 103 against 91. The
//!   convolution's `dW` goes to [`sum_of_products_abt`] ([`avx512::DotSums`]).
//! * otherwise the `gemm` crate (f32 and f64, its AVX-512 `x86-v4` kernels selected at run
//!   time) for small and medium products, and `matrixmultiply` (what `ndarray::dot` uses) for
//!   products of [`LARGE`] multiply-adds or more, where the `gemm` crate's blocking fell
//!   behind on this machine (1024³: 53 against 91 GFLOP/s), and for products with a short inner
//!   dimension ([`SHORT_K`]). The f64 path (gradient checks, experiments) always goes here.
//!
//! Products run on one thread unless [`set_threads`] allows more *and* the product is large
//! enough to pay for a second thread: the book's nets are small, and a second thread was
//! measured to slow the MLP down.

use std::any::TypeId;
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

use gemm_common::Parallelism;
use ndarray::{Array2, ArrayBase, ArrayView2, ArrayViewMut2, Axis, Data, DataMut, Ix2};

use crate::cpu::{self, Simd};
use crate::float::Float;

#[cfg(target_arch = "x86_64")]
pub mod avx512;
#[cfg(target_arch = "x86_64")]
pub mod plan;

static THREADS: AtomicUsize = AtomicUsize::new(1);

/// Multiply-adds (`m·n·k`) below which a product always runs on one thread: the MLP's
/// products (≤ 3.9 M) stay below it, as a second thread was measured to slow the MLP step.
pub const PARALLEL_THRESHOLD: usize = 1 << 23;

thread_local! {
    /// A [`with_threads`] override for work started on this thread (0 = none).
    static LOCAL_THREADS: Cell<usize> = const { Cell::new(0) };
}

/// Allows matrix products and per-image layer work (see [`crate::parallel`]) to use up to
/// `n` threads (1 = single-threaded, the default), process-wide.
pub fn set_threads(n: usize) {
    THREADS.store(n.max(1), Ordering::Relaxed);
}

/// The number of threads work started on this thread may use: the [`with_threads`] override
/// if one is active, else what [`set_threads`] allowed.
pub fn threads() -> usize {
    match LOCAL_THREADS.with(Cell::get) {
        0 => THREADS.load(Ordering::Relaxed),
        n => n,
    }
}

/// Runs `f` as if [`set_threads`]`(n)` had been called, for work started on this thread only
/// (tests use it to compare thread counts side by side without touching the process-wide
/// setting).
pub fn with_threads<R>(n: usize, f: impl FnOnce() -> R) -> R {
    let before = LOCAL_THREADS.with(|c| c.replace(n.max(1)));
    let result = f();
    LOCAL_THREADS.with(|c| c.set(before));
    result
}

/// Multiply-adds (`m·n·k`) from which a single-threaded product goes to `matrixmultiply`.
pub const LARGE: usize = 1 << 25;

/// Inner dimensions up to which a single-threaded product goes to `matrixmultiply`: on the
/// measured shapes with `k` ≤ 30 (the convolution's `W · colᵀ` with `k` = 25, the MLP's
/// `dout · W2ᵀ` with `k` = 10) it was 15–75 % faster than the `gemm` crate.
pub const SHORT_K: usize = 32;

/// `c ← α · a · b + β · c`.
///
/// # Panics
/// If the shapes do not fit (`a: m×k`, `b: k×n`, `c: m×n`): a programmer error.
pub fn gemm<F: Float, S: DataMut<Elem = F>>(
    alpha: F,
    a: ArrayView2<F>,
    b: ArrayView2<F>,
    beta: F,
    c: &mut ArrayBase<S, Ix2>,
) {
    let (m, k) = a.dim();
    let (k2, n) = b.dim();
    assert!(
        k == k2 && c.dim() == (m, n),
        "gemm: {:?} · {:?} into {:?}",
        a.dim(),
        b.dim(),
        c.dim()
    );
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        *c *= beta;
        return;
    }
    let (threads, simd) = (threads(), cpu::active());
    if threads > 1 && m * n * k >= PARALLEL_THRESHOLD {
        split_gemm(simd, alpha, a, b, beta, c.view_mut(), threads);
    } else {
        gemm_one(simd, alpha, a, b, beta, c.view_mut());
    }
}

/// A product on `threads` threads: `c` is cut into `threads` blocks of rows (or of columns,
/// whichever side is longer), each computed by [`gemm_one`] on its own rayon task. Every
/// element of `c` is still one thread's dot product over all of `k`, so the threads never
/// touch the same memory; results differ from one thread's only where a block's size picks
/// another kernel, or another path for its last few columns (reassociation). This beat the
/// `gemm` crate's own rayon parallelism on 1024³ (see BENCHMARKS.md).
fn split_gemm<F: Float>(
    simd: Simd,
    alpha: F,
    a: ArrayView2<F>,
    b: ArrayView2<F>,
    beta: F,
    c: ArrayViewMut2<F>,
    threads: usize,
) {
    let (m, n) = c.dim();
    if threads <= 1 || m.max(n) < 2 {
        gemm_one(simd, alpha, a, b, beta, c);
        return;
    }
    let left = threads / 2;
    if m >= n {
        let mid = m * left / threads;
        let (c1, c2) = c.split_at(Axis(0), mid);
        let (a1, a2) = a.split_at(Axis(0), mid);
        rayon::join(
            || split_gemm(simd, alpha, a1, b, beta, c1, left),
            || split_gemm(simd, alpha, a2, b, beta, c2, threads - left),
        );
    } else {
        let mid = n * left / threads;
        let (c1, c2) = c.split_at(Axis(1), mid);
        let (b1, b2) = b.split_at(Axis(1), mid);
        rayon::join(
            || split_gemm(simd, alpha, a, b1, beta, c1, left),
            || split_gemm(simd, alpha, a, b2, beta, c2, threads - left),
        );
    }
}

#[cfg(target_arch = "x86_64")]
thread_local! {
    /// This thread's partial sums for [`sum_of_products_abt`], kept to be reused.
    static DOT_SUMS: std::cell::RefCell<avx512::DotSums> = Default::default();
}

/// `c (m×n) += Σ a · bᵀ` over `pairs` of row-major `a` (`m×k`) and `b` (`n×k`): a sum of
/// products whose inner dimension is contiguous in both operands, like the convolution's
/// `dW = Σₙ doutₙ · colₙ` with `colₙᵀ` stored. On one thread. In f32 on AVX-512 the dot
/// products keep 16 partial sums each across all pairs ([`avx512::DotSums`]: 88 against
/// 59 GFLOP/s per image for the book's convolution); elsewhere each pair is one [`gemm`].
///
/// # Panics
/// If a pair or `c` does not have the stated shape.
pub fn sum_of_products_abt<'a, F: Float>(
    m: usize,
    n: usize,
    k: usize,
    pairs: impl Iterator<Item = (&'a [F], &'a [F])>,
    c: &mut [F],
) {
    #[cfg(target_arch = "x86_64")]
    if TypeId::of::<F>() == TypeId::of::<f32>() && cpu::active() >= Simd::Avx512 {
        let as_f32 = |x: &'a [F]| {
            // SAFETY: F is f32 (checked above): same layout, same length.
            unsafe { std::slice::from_raw_parts(x.as_ptr() as *const f32, x.len()) }
        };
        // SAFETY: as above, for the mutable slice.
        let c32 = unsafe { std::slice::from_raw_parts_mut(c.as_mut_ptr() as *mut f32, c.len()) };
        DOT_SUMS.with_borrow_mut(|sums| {
            sums.reset(m, n);
            let pairs: Vec<(&[f32], &[f32])> = pairs.map(|(a, b)| (as_f32(a), as_f32(b))).collect();
            // SAFETY: the CPU has AVX-512F (`cpu::active` gives only supported levels);
            // `add_many` checks the shapes.
            unsafe { sums.add_many(&pairs, k) };
            sums.add_into(c32);
        });
        return;
    }
    let mut c = ArrayViewMut2::from_shape((m, n), c).expect("c is m×n");
    for (a, b) in pairs {
        let a = ArrayView2::from_shape((m, k), a).expect("a is m×k");
        let b = ArrayView2::from_shape((n, k), b).expect("b is n×k");
        gemm(F::one(), a, b.t(), F::one(), &mut c);
    }
}

/// [`sum_of_products_abt`] over `count` pairs whose `a`s lie one after another in `a`
/// (`count · m·k` values) and whose `b`s are made on demand: `make_b(i, buf)` writes pair
/// `i`'s `b` (`n×k`) into `buf`. A few `b`s at a time are made into `scratch` (as many as
/// fit in [`avx512::GROUP_BYTES`] with their `a`s, at least one) and used while they are
/// still in cache, so no caller needs to hold every `b` at once (the convolution's columns
/// of a whole batch were 111 MB a step for DeepConvNet). The sums are those
/// [`sum_of_products_abt`] gives over the same pairs, to the bit.
///
/// # Panics
/// If `a` or `c` does not have the stated shape.
pub fn sum_of_products_abt_made<F: Float>(
    m: usize,
    n: usize,
    k: usize,
    a: &[F],
    scratch: &mut Vec<F>,
    mut make_b: impl FnMut(usize, &mut [F]),
    c: &mut [F],
) {
    let count = a.len().checked_div(m * k).unwrap_or(0);
    assert_eq!(a.len(), count * m * k, "a holds whole m×k matrices");
    assert_eq!(c.len(), m * n, "c is m×n");
    if count == 0 || n * k == 0 {
        return;
    }
    #[cfg(target_arch = "x86_64")]
    let group = (avx512::GROUP_BYTES / ((m + n) * k * std::mem::size_of::<F>()).max(1)).max(1);
    #[cfg(not(target_arch = "x86_64"))]
    let group = 1;
    let group = group.min(count);
    scratch.resize(group * n * k, F::zero());
    #[cfg(target_arch = "x86_64")]
    if TypeId::of::<F>() == TypeId::of::<f32>() && cpu::active() >= Simd::Avx512 {
        let as_f32 = |x: &[F]| {
            // SAFETY: F is f32 (checked above): same layout, same length.
            unsafe { std::slice::from_raw_parts(x.as_ptr() as *const f32, x.len()) }
        };
        // SAFETY: as above, for the mutable slice.
        let c32 = unsafe { std::slice::from_raw_parts_mut(c.as_mut_ptr() as *mut f32, c.len()) };
        DOT_SUMS.with_borrow_mut(|sums| {
            sums.reset(m, n);
            let mut start = 0;
            for a_group in a.chunks(group * m * k) {
                let len = a_group.len() / (m * k);
                for (i, buf) in scratch.chunks_exact_mut(n * k).take(len).enumerate() {
                    make_b(start + i, buf);
                }
                let pairs: Vec<(&[f32], &[f32])> = a_group
                    .chunks_exact(m * k)
                    .zip(scratch.chunks_exact(n * k))
                    .map(|(a, b)| (as_f32(a), as_f32(b)))
                    .collect();
                // SAFETY: the CPU has AVX-512F (`cpu::active` gives only supported levels);
                // `add_many` checks the shapes.
                unsafe { sums.add_many(&pairs, k) };
                start += len;
            }
            sums.add_into(c32);
        });
        return;
    }
    for (i, a) in a.chunks_exact(m * k).enumerate() {
        let buf = &mut scratch[..n * k];
        make_b(i, buf);
        sum_of_products_abt(m, n, k, std::iter::once((a, &*buf)), c);
    }
}

/// `c ← a · b + bias`, `bias[i]` added to every value of row `i` of `c`
/// (the convolution's `outₙ = W · colₙᵀ + b`). Each value is the product's sum plus the
/// bias, rounded once, as [`gemm`] with β = 1 on a `c` filled with the bias gives it (the
/// same bits, whichever kernel): in f32 on AVX-512 the tiles add the bias as they store
/// their sums ([`avx512::direct_row_bias`]), which saves writing `c` once and reading it back.
///
/// # Panics
/// If the shapes do not fit (`a: m×k`, `b: k×n`, `c: m×n`, `bias: m`).
pub fn gemm_row_bias<F: Float>(
    a: ArrayView2<F>,
    b: ArrayView2<F>,
    bias: &[F],
    c: &mut ArrayViewMut2<F>,
) {
    let (m, k) = a.dim();
    let n = b.ncols();
    assert!(
        b.nrows() == k && c.dim() == (m, n) && bias.len() == m,
        "gemm_row_bias: {:?} · {:?} + bias of {} into {:?}",
        a.dim(),
        b.dim(),
        bias.len(),
        c.dim()
    );
    #[cfg(target_arch = "x86_64")]
    let one_thread = threads() == 1 || m * n * k < PARALLEL_THRESHOLD;
    if m > 0
        && n > 0
        && k > 0
        && one_thread
        && !matches!(plan::forced(), Some(plan::Forced::Crate(_)))
        && direct_fits(cpu::active(), &a, &b, &c.view_mut())
    {
        let walk = planned_walk(&a, n, false);
        let (lda, a_col) = (a.strides()[0] as usize, a.strides()[1] as usize);
        let (ldb, ldc) = (b.strides()[0] as usize, c.strides()[0] as usize);
        // SAFETY: F is f32 (checked by `direct_fits`), so the pointers are f32 pointers;
        // the shapes were checked above and the strides by `direct_fits`, so every
        // element the kernel reaches lies in the views, and `bias` holds m values; `c` is
        // borrowed mutably and cannot alias the others; the CPU has AVX-512F
        // (`cpu::active` gives only supported levels).
        unsafe {
            avx512::direct_row_bias(
                walk,
                m,
                n,
                k,
                a.as_ptr() as *const f32,
                lda,
                a_col,
                b.as_ptr() as *const f32,
                ldb,
                bias.as_ptr() as *const f32,
                c.as_mut_ptr() as *mut f32,
                ldc,
            )
        };
        return;
    }
    for (mut row, &bias) in c.rows_mut().into_iter().zip(bias) {
        row.fill(bias);
    }
    gemm(F::one(), a, b, F::one(), c);
}

/// A single-threaded product with the kernel chosen by size and by the instruction set
/// `simd` allows (see the module documentation).
fn gemm_one<F: Float>(
    simd: Simd,
    alpha: F,
    a: ArrayView2<F>,
    b: ArrayView2<F>,
    beta: F,
    c: ArrayViewMut2<F>,
) {
    let (m, k) = a.dim();
    let n = b.ncols();
    #[cfg(target_arch = "x86_64")]
    if TypeId::of::<F>() == TypeId::of::<f32>() {
        let forced = plan::forced();
        if let Some(plan::Forced::Crate(kernel)) = forced {
            return gemm_with(kernel, alpha, a, b, beta, c);
        }
        // B a transposed view (the Affine's dx = dout · Wᵀ) too, its columns copied into
        // panels, unless the inner dimension is short: `matrixmultiply` stays for the MLP's
        // dout · W2ᵀ (k = 10).
        let rows_b = direct_fits(simd, &a, &b, &c);
        if rows_b || k > SHORT_K && direct_bt_fits(simd, &a, &b, &c) {
            return direct_walk(planned_walk(&a, n, !rows_b), alpha, a, b, beta, c);
        }
    }
    let kernel = if m * n * k >= LARGE || k <= SHORT_K {
        Kernel::MatrixMultiply
    } else {
        Kernel::GemmCrate
    };
    gemm_with(kernel, alpha, a, b, beta, c);
}

/// The walk of this crate's f32 kernel for `a` (m×k) times a k×`n` matrix: the one
/// [`plan::KERNEL_VAR`] forces, else the planner's for the shape (and whether `a` is a
/// transposed view).
#[cfg(target_arch = "x86_64")]
fn planned_walk<F>(a: &ArrayView2<F>, n: usize, b_transposed: bool) -> avx512::Walk {
    if let Some(plan::Forced::Walk(walk)) = plan::forced() {
        return walk;
    }
    let (m, k) = a.dim();
    plan::walk(plan::Key {
        m,
        n,
        k,
        a_transposed: a.strides()[0] == 1 && m > 1,
        b_transposed,
    })
}

/// `c ← α · a · b + β · c` with this crate's AVX-512 kernel walking the product as `walk` says
/// (every walk gives the same bits): [`avx512::direct`] for a `b` whose rows are contiguous,
/// [`avx512::direct_bt`] for one whose columns are (a transposed view); where neither fits
/// (see [`Kernel::Direct`]), as [`gemm_with`] would.
///
/// # Panics
/// If the shapes do not fit.
#[cfg(target_arch = "x86_64")]
pub fn direct_walk<F: Float>(
    walk: avx512::Walk,
    alpha: F,
    a: ArrayView2<F>,
    b: ArrayView2<F>,
    beta: F,
    c: ArrayViewMut2<F>,
) {
    let (m, k) = a.dim();
    let n = b.ncols();
    assert!(
        b.nrows() == k && c.dim() == (m, n),
        "gemm: {:?} · {:?} into {:?}",
        a.dim(),
        b.dim(),
        c.dim()
    );
    let simd = cpu::active();
    // B's rows `ldb` apart, or its columns.
    let (product, ldb): (avx512::Product, isize) = if direct_fits(simd, &a, &b, &c) {
        (avx512::direct, b.strides()[0])
    } else if direct_bt_fits(simd, &a, &b, &c) {
        (avx512::direct_bt, b.strides()[1])
    } else {
        return gemm_with(Kernel::GemmCrate, alpha, a, b, beta, c);
    };
    let mut c = c;
    let (lda, a_col, ldc) = (a.strides()[0], a.strides()[1], c.strides()[0]);
    let f = |x: F| x.to_f64_lossy() as f32; // F is f32 here: exact
    // SAFETY: F is f32 (checked by `direct_fits` / `direct_bt_fits`), so the pointers are f32
    // pointers; the views' shapes were checked above, their strides are non-negative and
    // B's rows (for `direct`) or columns (for `direct_bt`) and C's rows are contiguous, so
    // every element the kernel reaches lies in the views; `c` is borrowed mutably and cannot
    // alias `a` or `b`; the CPU has AVX-512F (`cpu::active` gives only supported levels).
    unsafe {
        product(
            walk,
            m,
            n,
            k,
            f(alpha),
            a.as_ptr() as *const f32,
            lda as usize,
            a_col as usize,
            b.as_ptr() as *const f32,
            ldb as usize,
            f(beta),
            c.as_mut_ptr() as *mut f32,
            ldc as usize,
        )
    };
}

/// The GEMM kernels [`gemm`] chooses between.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    /// The `gemm` crate (f32 and f64; other types fall back to `matrixmultiply`).
    GemmCrate,
    /// `matrixmultiply`, through `ndarray::linalg::general_mat_mul`.
    MatrixMultiply,
    /// This crate's AVX-512 product without packing ([`avx512::direct`]), for f32 operands
    /// whose rows are contiguous, or with B's columns copied into panels
    /// ([`avx512::direct_bt`]) for a B whose columns are; other cases fall back to the `gemm`
    /// crate.
    Direct,
}

/// Whether [`Kernel::Direct`] can compute this product: f32 with `simd` (a level the CPU
/// supports) at least AVX-512, the rows of `b` and `c` contiguous (unit column stride,
/// non-negative row stride), `a` with non-negative strides (it may be a transposed view).
fn direct_fits<F: Float>(
    simd: Simd,
    a: &ArrayView2<F>,
    b: &ArrayView2<F>,
    c: &ArrayViewMut2<F>,
) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        let rows = |s: &[isize]| s[1] == 1 && s[0] >= 0;
        TypeId::of::<F>() == TypeId::of::<f32>()
            && a.strides().iter().all(|&s| s >= 0)
            && rows(b.strides())
            && rows(c.strides())
            && simd >= Simd::Avx512
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (simd, a, b, c);
        false
    }
}

/// Whether [`avx512::direct_bt`] can compute this product: as [`direct_fits`], but with B's
/// *columns* contiguous (a transposed view such as the Affine's `Wᵀ`: unit row stride,
/// non-negative column stride) instead of its rows.
fn direct_bt_fits<F: Float>(
    simd: Simd,
    a: &ArrayView2<F>,
    b: &ArrayView2<F>,
    c: &ArrayViewMut2<F>,
) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        let (bs, cs) = (b.strides(), c.strides());
        TypeId::of::<F>() == TypeId::of::<f32>()
            && a.strides().iter().all(|&s| s >= 0)
            && bs[0] == 1
            && bs[1] >= 0
            && cs[1] == 1
            && cs[0] >= 0
            && simd >= Simd::Avx512
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (simd, a, b, c);
        false
    }
}

/// `c ← α · a · b + β · c` on this thread with the given kernel, for measuring the kernels
/// against each other (`examples/gemm_shapes.rs`); layers call [`gemm`]. [`Kernel::Direct`]
/// needs [`cpu::active`] to allow AVX-512.
///
/// # Panics
/// If the shapes do not fit.
pub fn gemm_with<F: Float>(
    kernel: Kernel,
    alpha: F,
    a: ArrayView2<F>,
    b: ArrayView2<F>,
    beta: F,
    mut c: ArrayViewMut2<F>,
) {
    if kernel == Kernel::MatrixMultiply {
        // With β = 0, matrixmultiply does not read c (as the gemm crate with read_dst false).
        ndarray::linalg::general_mat_mul(alpha, &a, &b, beta, &mut c);
        return;
    }
    let (m, k) = a.dim();
    let n = b.ncols();
    assert!(
        b.nrows() == k && c.dim() == (m, n),
        "gemm: {:?} · {:?} into {:?}",
        a.dim(),
        b.dim(),
        c.dim()
    );
    #[cfg(target_arch = "x86_64")]
    if kernel == Kernel::Direct {
        // The gemm crate's below, where the kernel does not fit.
        return direct_walk(avx512::Walk::DEFAULT, alpha, a, b, beta, c);
    }
    if m == 0 || n == 0 || k == 0 {
        // the gemm crate's kernels expect non-empty operands
        ndarray::linalg::general_mat_mul(alpha, &a, &b, beta, &mut c);
        return;
    }
    let parallelism = Parallelism::None;
    let (cs, as_, bs) = (c.strides().to_vec(), a.strides(), b.strides());
    let read_dst = beta != F::zero();
    // The kernel computes dst ← alpha·dst + beta·lhs·rhs: its alpha is our β and vice versa.
    // SAFETY: the pointers and strides come from live ndarray views whose shapes were checked
    // above; `c` is borrowed mutably, so it cannot alias `a` or `b`.
    unsafe {
        if TypeId::of::<F>() == TypeId::of::<f32>() {
            gemm_f32::gemm::f32::get_gemm_fn()(
                m,
                n,
                k,
                c.as_mut_ptr() as *mut f32,
                cs[1],
                cs[0],
                read_dst,
                a.as_ptr() as *const f32,
                as_[1],
                as_[0],
                b.as_ptr() as *const f32,
                bs[1],
                bs[0],
                *(&beta as *const F as *const f32),
                *(&alpha as *const F as *const f32),
                false,
                false,
                false,
                parallelism,
            )
        } else if TypeId::of::<F>() == TypeId::of::<f64>() {
            gemm_f64::gemm::f64::get_gemm_fn()(
                m,
                n,
                k,
                c.as_mut_ptr() as *mut f64,
                cs[1],
                cs[0],
                read_dst,
                a.as_ptr() as *const f64,
                as_[1],
                as_[0],
                b.as_ptr() as *const f64,
                bs[1],
                bs[0],
                *(&beta as *const F as *const f64),
                *(&alpha as *const F as *const f64),
                false,
                false,
                false,
                parallelism,
            )
        } else {
            ndarray::linalg::general_mat_mul(alpha, &a, &b, beta, &mut c)
        }
    }
}

/// `Σ xs` with 32 independent partial sums. A plain left-to-right sum is one chain of
/// dependent additions (≈ 4 cycles each) that the compiler may not reorder; partial sums let
/// it use vector adds. Profiles showed the convolution's bias gradient, 1.7 M elements a
/// step, taking longer than its own weight-gradient GEMMs with the plain sum.
pub fn sum<F: Float>(xs: &[F]) -> F {
    let mut acc = [F::zero(); 32];
    let mut chunks = xs.chunks_exact(acc.len());
    for chunk in &mut chunks {
        for (a, &v) in acc.iter_mut().zip(chunk) {
            *a += v;
        }
    }
    let tail: F = chunks.remainder().iter().copied().sum();
    acc.iter().copied().sum::<F>() + tail
}

/// `a · b` into a new array.
pub fn matmul<F: Float, S1: Data<Elem = F>, S2: Data<Elem = F>>(
    a: &ArrayBase<S1, Ix2>,
    b: &ArrayBase<S2, Ix2>,
) -> Array2<F> {
    let mut c = Array2::zeros((a.nrows(), b.ncols()));
    gemm(F::one(), a.view(), b.view(), F::zero(), &mut c);
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    fn naive(a: &Array2<f64>, b: &Array2<f64>) -> Array2<f64> {
        Array2::from_shape_fn((a.nrows(), b.ncols()), |(i, j)| {
            (0..a.ncols()).map(|p| a[[i, p]] * b[[p, j]]).sum()
        })
    }

    #[test]
    fn matches_the_definition_for_all_layouts() {
        let mut rng = Rng::new(0);
        for (m, k, n) in [
            (1, 1, 1),
            (3, 5, 2),
            (17, 33, 9),
            (100, 784, 50),
            (64, 3, 130),
            (330, 330, 330), // ≥ LARGE: the matrixmultiply path
        ] {
            let a = Array2::from_shape_simple_fn((m, k), || rng.normal());
            let b = Array2::from_shape_simple_fn((k, n), || rng.normal());
            let want = naive(&a, &b);
            // Every instruction set this CPU has: the AVX-512 kernels where it allows them,
            // the `gemm` crate and `matrixmultiply` in their place below it.
            for simd in cpu::testable() {
                cpu::with_simd(simd, || check_all_layouts(&a, &b, &want));
            }
        }
    }

    /// `gemm` and every kernel against `want` = `a · b`, in every layout, f64 and f32.
    fn check_all_layouts(a: &Array2<f64>, b: &Array2<f64>, want: &Array2<f64>) {
        let ((m, k), n) = (a.dim(), b.ncols());
        let simd = cpu::active();
        // row-major, and transposed views of column-major copies
        let at = a.t().as_standard_layout().into_owned();
        let bt = b.t().as_standard_layout().into_owned();
        for (av, bv) in [(a.view(), b.view()), (at.t(), bt.t()), (a.view(), bt.t())] {
            let expect = want * 2.0 + 0.5;
            let mut c = Array2::from_elem((m, n), 1.0);
            gemm(2.0, av, bv, 0.5, &mut c);
            let err = (&c - &expect).iter().fold(0.0_f64, |e, d| e.max(d.abs()));
            assert!(err < 1e-12 * k as f64, "{simd} {m}x{k}x{n}: {err}");
            for kernel in [Kernel::GemmCrate, Kernel::MatrixMultiply] {
                let mut c = Array2::from_elem((m, n), 1.0);
                gemm_with(kernel, 2.0, av, bv, 0.5, c.view_mut());
                let err = (&c - &expect).iter().fold(0.0_f64, |e, d| e.max(d.abs()));
                assert!(
                    err < 1e-12 * k as f64,
                    "{simd} {kernel:?} {m}x{k}x{n}: {err}"
                );
            }
        }
        let c32 = matmul(&a.mapv(|v| v as f32), &b.mapv(|v| v as f32));
        let err = (&c32.mapv(|v| v as f64) - want)
            .iter()
            .fold(0.0_f64, |e, d| e.max(d.abs()));
        assert!(err < 1e-4 * k as f64, "{simd} f32 {m}x{k}x{n}: {err}");
        // f32 in every layout, through every kernel (Direct where it fits, else its
        // fallback), into a C that is a column slice of a wider array (row stride > n).
        let (a32, b32) = (a.mapv(|v| v as f32), b.mapv(|v| v as f32));
        let (at32, bt32) = (at.mapv(|v| v as f32), bt.mapv(|v| v as f32));
        let expect = want * 2.0 + 0.5;
        for (av, bv) in [
            (a32.view(), b32.view()),
            (at32.t(), bt32.t()),
            (at32.t(), b32.view()),
            (a32.view(), bt32.t()),
        ] {
            for kernel in [Kernel::Direct, Kernel::GemmCrate, Kernel::MatrixMultiply] {
                let mut wide = Array2::from_elem((m, n + 3), 1.0f32);
                let mut c = wide.slice_mut(ndarray::s![.., 1..n + 1]);
                gemm_with(kernel, 2.0, av, bv, 0.5, c.view_mut());
                let err = (&c.mapv(|v| v as f64) - &expect)
                    .iter()
                    .fold(0.0_f64, |e, d| e.max(d.abs()));
                assert!(
                    err < 1e-4 * k as f64,
                    "{simd} f32 {kernel:?} {m}x{k}x{n}: {err}"
                );
                assert!(
                    wide.column(0)
                        .iter()
                        .chain(wide.column(n + 1))
                        .all(|&v| v == 1.0)
                );
            }
        }
    }

    #[test]
    fn a_transposed_b_gets_the_bits_of_the_tiles_on_its_row_major_copy() {
        // dx = dout · Wᵀ: B is a transposed view, whose columns direct_bt copies into
        // row-major panels. Every tile shape, with row-major or transposed A, k from 33 to
        // 400, C a column slice of a wider array with β ≠ 0, and widths with a partial last
        // vector: the bits of the tiles on a row-major copy of B, and the definition within
        // f32 rounding (where the copy's last columns would take the narrow path, only that).
        if !cpu::testable().contains(&Simd::Avx512) {
            return;
        }
        let mut rng = Rng::new(11);
        for (m, k, n) in [(100, 100, 432), (13, 45, 71), (7, 400, 40), (30, 33, 100)] {
            let a = Array2::from_shape_simple_fn((m, k), || rng.normal() as f32);
            let at = a.t().as_standard_layout().into_owned();
            let w = Array2::from_shape_simple_fn((n, k), || rng.normal() as f32);
            let b = w.t().as_standard_layout().into_owned(); // Wᵀ, row-major
            let want = naive(&a.mapv(f64::from), &b.mapv(f64::from)) * 2.0 + 0.5;
            for (av, name) in [(a.view(), "A"), (at.t(), "Aᵀ view")] {
                let run = |walk: Option<avx512::Walk>, bv: ArrayView2<f32>| {
                    let mut wide = Array2::from_elem((m, n + 3), 1.0f32);
                    let mut c = wide.slice_mut(ndarray::s![.., 1..n + 1]);
                    cpu::with_simd(Simd::Avx512, || match walk {
                        Some(walk) => direct_walk(walk, 2.0, av, bv, 0.5, c.view_mut()),
                        None => gemm(2.0, av, bv, 0.5, &mut c),
                    });
                    let c = c.to_owned();
                    assert!(
                        wide.column(0)
                            .iter()
                            .chain(wide.column(n + 1))
                            .all(|&v| v == 1.0)
                    );
                    c
                };
                let routed = run(None, w.t());
                let err = (&routed.mapv(f64::from) - &want)
                    .iter()
                    .fold(0.0_f64, |e, d| e.max(d.abs()));
                assert!(err < 1e-4 * k as f64, "{name} {m}x{k}x{n}: {err}");
                for tile in avx512::TileShape::ALL {
                    let walk = avx512::Walk {
                        tile,
                        packed: false,
                    };
                    let got = run(Some(walk), w.t());
                    // The row-major copy leaves 1–4 last columns to NarrowColumns, which
                    // rounds otherwise (n = 100): the definition's tolerance then.
                    let copy = if (1..=avx512::NARROW).contains(&(n % 16)) {
                        let err = (&got.mapv(f64::from) - &want)
                            .iter()
                            .fold(0.0_f64, |e, d| e.max(d.abs()));
                        assert!(err < 1e-4 * k as f64, "{name} {m}x{k}x{n} {tile}: {err}");
                        continue;
                    } else {
                        run(Some(walk), b.view())
                    };
                    assert_eq!(
                        got.mapv(f32::to_bits),
                        copy.mapv(f32::to_bits),
                        "{name} {m}x{k}x{n} {tile}"
                    );
                    if k > SHORT_K {
                        // gemm routes the transposed view to the tiles, whichever it planned.
                        assert_eq!(got.mapv(f32::to_bits), routed.mapv(f32::to_bits));
                    }
                }
            }
        }
        // matrixmultiply gives these bits too (one fused multiply-add per step, in order),
        // so the planner's record tells that gemm ran the tiles: 100×100×432 was planned
        // with a transposed B, among the tile shapes only.
        let key = plan::Key {
            m: 100,
            n: 432,
            k: 100,
            a_transposed: false,
            b_transposed: true,
        };
        let chosen: Vec<_> = plan::chosen()
            .into_iter()
            .filter(|(k, _)| *k == key)
            .collect();
        assert!(
            chosen.len() == 1 && !chosen[0].1.packed,
            "{chosen:?} (forced: {:?})",
            plan::forced()
        );
    }

    #[test]
    fn gemm_picks_its_kernel_by_the_instruction_set() {
        // The MLP's x · W1 on the MNIST: Direct (its dot-product columns) with AVX-512, else
        // the `gemm` crate; the two round differently, so the bits tell which one ran.
        let mut rng = Rng::new(3);
        let a = Array2::from_shape_simple_fn((100, 784), || rng.normal() as f32);
        let b = Array2::from_shape_simple_fn((784, 50), || rng.normal() as f32);
        let by = |kernel| {
            let mut c = Array2::zeros((100, 50));
            gemm_with(kernel, 1.0, a.view(), b.view(), 0.0, c.view_mut());
            c
        };
        let levels = cpu::testable();
        let (direct, general) = cpu::with_simd(*levels.last().unwrap(), || {
            (by(Kernel::Direct), by(Kernel::GemmCrate))
        });
        for simd in levels {
            let want = if simd >= Simd::Avx512 {
                &direct
            } else {
                &general
            };
            let got = cpu::with_simd(simd, || matmul(&a, &b));
            assert_eq!(got.mapv(f32::to_bits), want.mapv(f32::to_bits), "{simd}");
            if simd >= Simd::Avx512 {
                assert_ne!(
                    direct, general,
                    "the kernels' results must differ for this test"
                );
            }
        }
    }

    #[test]
    fn the_planned_walk_is_a_candidate_kept_per_shape_with_the_default_bits() {
        // Above plan::PLAN_MIN, gemm times the candidates once for the shape and keeps the
        // fastest; whichever won, the product has the bits of the default walk.
        if !cpu::testable().contains(&Simd::Avx512) {
            return;
        }
        let mut rng = Rng::new(5);
        let (m, k, n) = (120, 700, 90);
        assert!(m * k * n >= plan::PLAN_MIN);
        let a = Array2::from_shape_simple_fn((m, k), || rng.normal() as f32);
        let b = Array2::from_shape_simple_fn((k, n), || rng.normal() as f32);
        let mut want = Array2::zeros((m, n));
        direct_walk(
            avx512::Walk::DEFAULT,
            1.0,
            a.view(),
            b.view(),
            0.0,
            want.view_mut(),
        );
        let got = cpu::with_simd(Simd::Avx512, || matmul(&a, &b));
        assert_eq!(got.mapv(f32::to_bits), want.mapv(f32::to_bits));
        let key = plan::Key {
            m,
            n,
            k,
            a_transposed: false,
            b_transposed: false,
        };
        let chosen: Vec<_> = plan::chosen()
            .into_iter()
            .filter(|(k, _)| *k == key)
            .collect();
        assert_eq!(chosen.len(), 1, "{chosen:?}");
        assert!(plan::candidates().contains(&chosen[0].1));
        assert_eq!(plan::walk(key), chosen[0].1, "kept, not timed again");
        // Below PLAN_MIN nothing is timed.
        let small = plan::Key {
            m: 10,
            n: 10,
            k: 10,
            a_transposed: false,
            b_transposed: false,
        };
        assert_eq!(plan::walk(small), avx512::Walk::DEFAULT);
        assert!(plan::chosen().iter().all(|(k, _)| *k != small));
    }

    #[test]
    fn sums_of_products_abt_match_the_definition() {
        let mut rng = Rng::new(4);
        let (m, n, k) = (7, 9, 37);
        let pairs: Vec<(Vec<f32>, Vec<f32>)> = (0..3)
            .map(|_| {
                let a = (0..m * k).map(|_| rng.normal() as f32).collect();
                let b = (0..n * k).map(|_| rng.normal() as f32).collect();
                (a, b)
            })
            .collect();
        // f32 at every instruction set: AVX-512's DotSums where allowed, else one gemm a pair
        let mut runs = Vec::new();
        for simd in cpu::testable() {
            let mut c = vec![0.5f32; m * n];
            let slices = pairs.iter().map(|(a, b)| (&a[..], &b[..]));
            cpu::with_simd(simd, || sum_of_products_abt(m, n, k, slices, &mut c));
            for i in 0..m {
                for j in 0..n {
                    let want: f64 = 0.5
                        + pairs
                            .iter()
                            .map(|(a, b)| {
                                (0..k)
                                    .map(|p| a[i * k + p] as f64 * b[j * k + p] as f64)
                                    .sum::<f64>()
                            })
                            .sum::<f64>();
                    assert!((c[i * n + j] as f64 - want).abs() < 1e-4, "{simd} {i},{j}");
                }
            }
            runs.push(c);
        }
        let c = &runs[0];
        // f64 takes the general path.
        let pairs64: Vec<(Vec<f64>, Vec<f64>)> = pairs
            .iter()
            .map(|(a, b)| {
                (
                    a.iter().map(|&v| v as f64).collect(),
                    b.iter().map(|&v| v as f64).collect(),
                )
            })
            .collect();
        let mut c64 = vec![0.5f64; m * n];
        sum_of_products_abt(
            m,
            n,
            k,
            pairs64.iter().map(|(a, b)| (&a[..], &b[..])),
            &mut c64,
        );
        for (x, y) in c.iter().zip(&c64) {
            assert!((*x as f64 - y).abs() < 1e-4);
        }
    }

    #[test]
    fn sums_of_products_made_on_demand_have_the_bits_of_the_stored_ones() {
        // One group of pairs (small operands) and one pair per group (1 MB operands), f32 at
        // every instruction set and f64: the same sums, to the bit, as sum_of_products_abt
        // over the same pairs held in memory.
        let mut rng = Rng::new(6);
        for (m, n, k, count) in [(7, 9, 37, 3), (64, 64, 2048, 3)] {
            let a: Vec<f32> = (0..count * m * k).map(|_| rng.normal() as f32).collect();
            let b: Vec<f32> = (0..count * n * k).map(|_| rng.normal() as f32).collect();
            for simd in cpu::testable() {
                cpu::with_simd(simd, || {
                    let mut want = vec![0.25f32; m * n];
                    let pairs = a.chunks_exact(m * k).zip(b.chunks_exact(n * k));
                    sum_of_products_abt(m, n, k, pairs, &mut want);
                    let (mut got, mut scratch, mut made) = (vec![0.25f32; m * n], vec![], vec![]);
                    let make = |i: usize, buf: &mut [f32]| {
                        made.push(i);
                        buf.copy_from_slice(&b[i * n * k..(i + 1) * n * k]);
                    };
                    sum_of_products_abt_made(m, n, k, &a, &mut scratch, make, &mut got);
                    assert_eq!(made, (0..count).collect::<Vec<_>>(), "{simd}");
                    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                    assert_eq!(bits(&got), bits(&want), "{simd} {m}×{n}×{k}");
                });
            }
            let (a64, b64): (Vec<f64>, Vec<f64>) = (
                a.iter().map(|&v| v as f64).collect(),
                b.iter().map(|&v| v as f64).collect(),
            );
            let mut want = vec![0.0f64; m * n];
            let pairs = a64.chunks_exact(m * k).zip(b64.chunks_exact(n * k));
            sum_of_products_abt(m, n, k, pairs, &mut want);
            let mut got = vec![0.0f64; m * n];
            let make = |i: usize, buf: &mut [f64]| buf.copy_from_slice(&b64[i * n * k..][..n * k]);
            sum_of_products_abt_made(m, n, k, &a64, &mut vec![], make, &mut got);
            assert_eq!(got, want);
        }
    }

    #[test]
    fn a_row_bias_added_by_the_tiles_has_the_bits_of_a_c_filled_with_it() {
        // The convolution's shapes (30×25×576; DeepConvNet's 196 and 49 columns end in a
        // few narrow ones), other remainders, A transposed, and products large enough to be
        // planned (≥ PLAN_MIN) with an inner dimension past one packed block (KC).
        let mut rng = Rng::new(31);
        for (m, k, n, transposed) in [
            (30, 25, 576, false),
            (7, 3, 17, false),
            (13, 25, 130, false),
            (16, 144, 196, false),
            (9, 288, 49, false),
            (6, 9, 20, true),
            (20, 400, 100, false),
            (64, 300, 100, true),
        ] {
            let a64 = Array2::from_shape_simple_fn((m, k), || rng.normal());
            let a_t = a64.t().as_standard_layout().into_owned();
            let a64 = if transposed { a_t.t() } else { a64.view() };
            let b64 = Array2::from_shape_simple_fn((k, n), || rng.normal());
            let bias64: Vec<f64> = (0..m).map(|_| rng.normal()).collect();
            // f64 (never this crate's kernels): the fill and the product, exactly.
            let filled = |a, b, bias: &[f64]| {
                let mut c = Array2::from_shape_fn((m, n), |(i, _)| bias[i]);
                gemm(1.0, a, b, 1.0, &mut c);
                c
            };
            let mut c = Array2::from_elem((m, n), f64::NAN);
            gemm_row_bias(a64, b64.view(), &bias64, &mut c.view_mut());
            assert_eq!(c, filled(a64, b64.view(), &bias64), "f64 {m}×{k}×{n}");
            let a = a64.mapv(|v| v as f32);
            let a = if transposed {
                a.t().as_standard_layout().into_owned().reversed_axes()
            } else {
                a
            };
            assert_eq!(a.strides()[0] == 1, transposed && m > 1);
            let b = b64.mapv(|v| v as f32);
            let bias: Vec<f32> = bias64.iter().map(|&v| v as f32).collect();
            let bits = |c: &Array2<f32>| c.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            for simd in cpu::testable() {
                cpu::with_simd(simd, || {
                    let mut c = Array2::from_elem((m, n), f32::NAN);
                    gemm_row_bias(a.view(), b.view(), &bias, &mut c.view_mut());
                    let mut want = Array2::from_shape_fn((m, n), |(i, _)| bias[i]);
                    gemm(1.0, a.view(), b.view(), 1.0, &mut want);
                    assert_eq!(bits(&c), bits(&want), "{simd} {m}×{k}×{n}");
                    let err = (&c.mapv(f64::from) - &filled(a64, b64.view(), &bias64))
                        .iter()
                        .fold(0.0f64, |e, d| e.max(d.abs()));
                    assert!(err < 1e-4 * k as f64, "{simd} {m}×{k}×{n}: {err}");
                });
            }
            // Every walk of the AVX-512 kernel, against a C filled with the bias.
            #[cfg(target_arch = "x86_64")]
            if cpu::testable().contains(&Simd::Avx512) {
                for walk in plan::candidates() {
                    let mut want = Array2::from_shape_fn((m, n), |(i, _)| bias[i]);
                    cpu::with_simd(Simd::Avx512, || {
                        direct_walk(walk, 1.0, a.view(), b.view(), 1.0, want.view_mut())
                    });
                    let mut c = Array2::from_elem((m, n), f32::NAN);
                    // SAFETY: the CPU has AVX-512 (checked above); the arrays hold m×k
                    // (strides as given), k×n, m and m×n values.
                    unsafe {
                        avx512::direct_row_bias(
                            walk,
                            m,
                            n,
                            k,
                            a.as_ptr(),
                            a.strides()[0] as usize,
                            a.strides()[1] as usize,
                            b.as_ptr(),
                            n,
                            bias.as_ptr(),
                            c.as_mut_ptr(),
                            n,
                        )
                    };
                    assert_eq!(bits(&c), bits(&want), "{walk:?} {m}×{k}×{n}");
                }
            }
        }
    }

    #[test]
    fn sum_agrees_with_the_plain_sum() {
        for len in [0, 1, 31, 32, 33, 100, 1000] {
            let xs: Vec<f64> = (0..len).map(|i| (i as f64 * 0.37).sin()).collect();
            let plain: f64 = xs.iter().sum();
            assert!((sum(&xs) - plain).abs() < 1e-12, "{len}");
        }
    }

    #[test]
    fn empty_inner_dimension_scales_c() {
        let a = Array2::<f32>::zeros((2, 0));
        let b = Array2::<f32>::zeros((0, 3));
        let mut c = Array2::from_elem((2, 3), 4.0_f32);
        gemm(1.0, a.view(), b.view(), 0.5, &mut c);
        assert!(c.iter().all(|&v| v == 2.0));
    }

    #[test]
    fn more_threads_agree_with_one() {
        let mut rng = Rng::new(1);
        // square (row split), wide (column split), and a long k with an odd row count
        for (m, k, n) in [(256, 256, 256), (40, 300, 900), (333, 2000, 20)] {
            let a = Array2::from_shape_simple_fn((m, k), || rng.normal() as f32);
            let b = Array2::from_shape_simple_fn((k, n), || rng.normal() as f32);
            let one = matmul(&a, &b);
            for threads in [2, 3] {
                let mut c = Array2::from_elem((m, n), f32::NAN);
                split_gemm(
                    cpu::active(),
                    1.0,
                    a.view(),
                    b.view(),
                    0.0,
                    c.view_mut(),
                    threads,
                );
                let err = (&one - &c).iter().fold(0.0_f32, |e, d| e.max(d.abs()));
                assert!(err < 1e-3, "{m}×{k}×{n} on {threads}: {err}");
            }
        }
    }
}
