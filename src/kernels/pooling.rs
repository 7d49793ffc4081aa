//! Max pooling's loops ([`crate::layers::Pooling`] holds the math): each `H × W` plane
//! scanned in place, window by window, with branch-free selects; images split over the
//! allowed threads.

use std::sync::OnceLock;
use std::time::Instant;

use crate::cpu;
use crate::float::Float;
use crate::functions::ConvGeometry;
use crate::parallel;

/// Pools the `n` images of `xs` (`(N, C, H, W)`, geometry `g`) into `outs` (`(N, C, OH,
/// OW)`); with `args` (a training pass), records there the plane index of each maximum.
pub(crate) fn max_pool<F: Float>(
    xs: &[F],
    g: &ConvGeometry,
    n: usize,
    outs: &mut [F],
    args: Option<&mut [u32]>,
) {
    let c = g.c;
    // Images are independent: with more threads allowed, each run of images is pooled on
    // its own task (see `crate::parallel`).
    let runs = parallel::runs_elementwise(n, xs.len());
    let simd = cpu::active();
    let (x_runs, out_runs) = (
        parallel::split(xs, c * g.h * g.w, &runs),
        parallel::split_mut(outs, c * g.oh * g.ow, &runs),
    );
    match args {
        Some(args) => {
            let arg_runs = parallel::split_mut(args, c * g.oh * g.ow, &runs);
            let jobs = x_runs.into_iter().zip(out_runs).zip(arg_runs).collect();
            parallel::run(jobs, |((xs, outs), args)| {
                planes::<F, true>(simd, xs, g, outs, args)
            });
        }
        None => {
            let jobs = x_runs.into_iter().zip(out_runs).collect();
            parallel::run(jobs, |(xs, outs)| {
                planes::<F, false>(simd, xs, g, outs, &mut [])
            });
        }
    }
}

/// [`pool_planes`], or for f32 2×2 windows 2 apart on a CPU with AVX-512, the same result
/// sixteen windows at a time ([`avx512::pool_planes_2x2`]) when that is the faster here
/// ([`pool_2x2_choice`]): on Zen 4 the compiler's own vectorising of the 2×2 loop took
/// 0.40 ms of SimpleConvNet's step with AVX2 and 0.69 ms with AVX-512, the intrinsics 0.21 ms.
fn planes<F: Float, const TRAIN: bool>(
    simd: cpu::Simd,
    xs: &[F],
    g: &ConvGeometry,
    outs: &mut [F],
    args: &mut [u32],
) {
    #[cfg(target_arch = "x86_64")]
    if std::any::TypeId::of::<F>() == std::any::TypeId::of::<f32>()
        && simd >= cpu::Simd::Avx512
        && g.fh == 2
        && g.fw == 2
        && g.stride == 2
        && g.pad == 0
        && pool_2x2_choice(g) == Pool2x2::Avx512
    {
        // SAFETY: F is f32 (checked above): same layout, same lengths.
        let (xs, outs) = unsafe {
            (
                std::slice::from_raw_parts(xs.as_ptr() as *const f32, xs.len()),
                std::slice::from_raw_parts_mut(outs.as_mut_ptr() as *mut f32, outs.len()),
            )
        };
        // SAFETY: the CPU has AVX-512 F and BW (`cpu::active` gives only supported levels).
        return unsafe { avx512::pool_planes_2x2::<TRAIN>(xs, g, outs, args) };
    }
    pool_planes::<F, TRAIN>(simd, xs, g, outs, args)
}

/// The two ways [`planes`] can pool f32 2×2 windows 2 apart on a CPU with AVX-512: the same
/// bits and the same indices (tested), different speeds by the core.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pool2x2 {
    /// [`avx512::pool_planes_2x2`]'s intrinsics, sixteen windows per vector.
    Avx512,
    /// [`pool_planes`], as the compiler vectorises it.
    Loop,
}

/// The faster [`Pool2x2`] on this host, timed once per process (by [`super::fastest`]) on
/// scratch planes of the first call's geometry `g`, in a training pass (with indices): the
/// intrinsics were written and measured on Zen 4 only, so a core where the compiler's loop
/// does better keeps it.
#[cfg(target_arch = "x86_64")]
fn pool_2x2_choice(g: &ConvGeometry) -> Pool2x2 {
    static CHOICE: OnceLock<Pool2x2> = OnceLock::new();
    *CHOICE.get_or_init(|| {
        // A few images' worth of SimpleConvNet's planes (30 of 24 × 24), as for unpooling.
        let planes = (30 * 24 * 24 * 8 / (g.h * g.w).max(1)).clamp(1, 4096);
        let one = ConvGeometry { c: planes, ..*g };
        let xs: Vec<f32> = (0..planes * g.h * g.w)
            .map(|i| ((i.wrapping_mul(2_654_435_761) >> 9) % 97) as f32 - 48.0)
            .collect();
        let mut outs = vec![0f32; planes * g.oh * g.ow];
        let mut args = vec![0u32; outs.len()];
        let simd = cpu::active();
        super::fastest(&[Pool2x2::Avx512, Pool2x2::Loop], 4, |how| {
            let start = Instant::now();
            match how {
                // SAFETY: the caller checked AVX-512 and the 2×2 geometry; whole planes.
                Pool2x2::Avx512 => unsafe {
                    avx512::pool_planes_2x2::<true>(&xs, &one, &mut outs, &mut args)
                },
                Pool2x2::Loop => pool_planes::<f32, true>(simd, &xs, &one, &mut outs, &mut args),
            }
            std::hint::black_box((&outs, &args));
            start.elapsed().as_secs_f64()
        })
    })
}

/// `dxs[argmax] += ds` plane by plane: the gradient of [`max_pool`] for `n` inputs of
/// geometry `g`, where `args` holds the maxima it recorded.
pub(crate) fn max_unpool<F: Float>(
    ds: &[F],
    args: &[u32],
    g: &ConvGeometry,
    n: usize,
    dxs: &mut [F],
) {
    // The book's 2×2 windows 2 apart do not overlap, so each dx can also be written once
    // (see [`Unpool::WriteOnce`]); which way is faster depends on the core, so it is timed.
    let disjoint_2x2 = g.fh == 2 && g.fw == 2 && g.stride == 2 && g.pad == 0;
    let how = if disjoint_2x2 {
        unpool_2x2_choice(g)
    } else {
        Unpool::Scatter
    };
    max_unpool_with(how, cpu::active(), ds, args, g, n, dxs);
}

/// The two ways [`max_unpool`] writes `dx` for disjoint 2×2 windows. Both give the same
/// bits (the scatter adds `d` to a zero once, and the single write stores `0 + d`, −0
/// included); they differ in speed, by the core: writing once was 5 % of a SimpleConvNet step
/// faster on an Intel family 6 core, and 4.4× slower (0.33 → 1.48 ms for the book's pooling
/// backward) on Zen 4, where zeroing a plane with whole-vector stores and a few scattered
/// adds cost less than the per-element selects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Unpool {
    /// Zero each plane, then `dx[argmax] += d` for every output.
    Scatter,
    /// Every dx written once: its window's `d` where the recorded maximum is, 0 elsewhere
    /// (2×2 windows 2 apart only).
    WriteOnce,
}

impl Unpool {
    /// The candidates [`unpool_2x2_choice`] times.
    pub(crate) const ALL: [Unpool; 2] = [Unpool::Scatter, Unpool::WriteOnce];
}

/// The faster [`Unpool`] on this host for disjoint 2×2 windows, timed once per process
/// (by [`super::fastest`]) on scratch planes of the first call's geometry `g`.
fn unpool_2x2_choice(g: &ConvGeometry) -> Unpool {
    static CHOICE: OnceLock<Unpool> = OnceLock::new();
    *CHOICE.get_or_init(|| {
        // A few images' worth of SimpleConvNet's planes (30 of 24 × 24): about what one
        // thread's run sees, in cache as in training.
        let planes = (30 * 24 * 24 * 8 / (g.h * g.w).max(1)).clamp(1, 4096);
        let plane_out = g.oh * g.ow;
        let ds: Vec<f32> = (0..planes * plane_out)
            .map(|i| (i % 13) as f32 - 6.0)
            .collect();
        // Each window's maximum at a position that changes from window to window, as on
        // real data.
        let args: Vec<u32> = (0..planes * plane_out)
            .map(|o| {
                let (i, j) = (o % plane_out / g.ow, o % g.ow);
                let corner = (o.wrapping_mul(2_654_435_761) >> 7) % 4;
                ((2 * i + corner / 2) * g.w + 2 * j + corner % 2) as u32
            })
            .collect();
        let mut dxs = vec![0f32; planes * g.h * g.w];
        let simd = cpu::active();
        let one = ConvGeometry { c: planes, ..*g };
        super::fastest(&Unpool::ALL, 4, |how| {
            let start = Instant::now();
            max_unpool_with(how, simd, &ds, &args, &one, 1, &mut dxs);
            std::hint::black_box(&dxs);
            start.elapsed().as_secs_f64()
        })
    })
}

/// [`max_unpool`] written the way `how` says, at instruction-set level `simd`.
///
/// # Panics
/// If `how` is [`Unpool::WriteOnce`] and the windows are not 2×2, 2 apart, unpadded.
pub(crate) fn max_unpool_with<F: Float>(
    how: Unpool,
    simd: cpu::Simd,
    ds: &[F],
    args: &[u32],
    g: &ConvGeometry,
    n: usize,
    dxs: &mut [F],
) {
    let (c, h, w) = (g.c, g.h, g.w);
    let plane_out = g.oh * g.ow;
    let write_once = how == Unpool::WriteOnce;
    assert!(
        !write_once || (g.fh == 2 && g.fw == 2 && g.stride == 2 && g.pad == 0),
        "max_unpool: writing once needs disjoint 2×2 windows"
    );
    let runs = parallel::runs_elementwise(n, dxs.len());
    let jobs = parallel::split_mut(dxs, c * h * w, &runs)
        .into_iter()
        .zip(parallel::split(ds, c * plane_out, &runs))
        .zip(parallel::split(args, c * plane_out, &runs))
        .collect();
    parallel::run(jobs, |((dxs, ds), args)| {
        if write_once {
            unpool_2x2_planes(simd, dxs, ds, args, g);
            return;
        }
        for ((dx_plane, d_plane), arg_plane) in dxs
            .chunks_exact_mut(h * w)
            .zip(ds.chunks_exact(plane_out))
            .zip(args.chunks_exact(plane_out))
        {
            // Zeroed plane by plane, so that it is still in L1 for the sums.
            dx_plane.fill(F::zero());
            for (&d, &at) in d_plane.iter().zip(arg_plane) {
                dx_plane[at as usize] += d;
            }
        }
    });
}

crate::cpu::dispatch! {
    // Compiled for each level, so that the timing in `unpool_2x2_choice` weighs the best
    // this core can do with the selects.
    [avx512, avx2]
    /// [`Unpool::WriteOnce`] over whole planes: every input row and column under a window
    /// takes its window's `d` where the recorded maximum is, 0 elsewhere; rows and columns
    /// past the last window (odd sizes) are 0.
    fn unpool_2x2_planes<F>(dxs: &mut [F], ds: &[F], args: &[u32], g: &ConvGeometry) {
        let (w, ow, plane_out) = (g.w, g.ow, g.oh * g.ow);
        for ((dx, d), arg) in dxs
            .chunks_exact_mut(g.h * w)
            .zip(ds.chunks_exact(plane_out))
            .zip(args.chunks_exact(plane_out))
        {
            for (y, dx_row) in dx.chunks_exact_mut(w).enumerate() {
                let i = y / 2;
                if i >= g.oh {
                    dx_row.fill(F::zero());
                    continue;
                }
                let (d_row, arg_row) = (&d[i * ow..][..ow], &arg[i * ow..][..ow]);
                let (under, past) = dx_row.split_at_mut(2 * ow);
                for (j, pair) in under.chunks_exact_mut(2).enumerate() {
                    let at = (y * w + 2 * j) as u32;
                    let (dj, aj) = (F::zero() + d_row[j], arg_row[j]);
                    pair[0] = if aj == at { dj } else { F::zero() };
                    pair[1] = if aj == at + 1 { dj } else { F::zero() };
                }
                past.fill(F::zero());
            }
        }
    }
}

crate::cpu::dispatch! {
    // The crate is built for baseline x86-64 (SSE2), where the compiler's vectorised selects
    // of the 2×2 path work on 4 lanes; profiles showed this loop compute-bound.
    [avx2]
    /// Pools every `H × W` plane of `xs` into `outs` (and `args` with `TRAIN`) with
    /// [`pool_plane`].
    fn pool_planes<F, const TRAIN: bool>(
        xs: &[F],
        g: &ConvGeometry,
        outs: &mut [F],
        args: &mut [u32],
    ) {
        let plane_out = g.oh * g.ow;
        let planes = xs
            .chunks_exact(g.h * g.w)
            .zip(outs.chunks_exact_mut(plane_out));
        if TRAIN {
            for ((plane, out_plane), arg_plane) in planes.zip(args.chunks_exact_mut(plane_out)) {
                pool_plane::<F, true>(plane, g, out_plane, arg_plane);
            }
        } else {
            for (plane, out_plane) in planes {
                pool_plane::<F, false>(plane, g, out_plane, &mut []);
            }
        }
    }
}

/// Pools one `H × W` plane into `out` (`OH × OW`); with `TRAIN`, also records in `arg` the
/// plane index of each maximum. The first maximum in row-major window order wins, as the
/// comparisons are strict. The selects are written so that the compiler can make them
/// branch-free: on real data, which element of a window is largest is unpredictable.
#[inline(always)]
fn pool_plane<F: Float, const TRAIN: bool>(
    plane: &[F],
    g: &ConvGeometry,
    out: &mut [F],
    arg: &mut [u32],
) {
    let w = g.w;
    if g.fh == 2 && g.fw == 2 && g.stride == 2 {
        // The book's only pooling: two input rows per output row, two columns per output.
        for (i, out_row) in out.chunks_exact_mut(g.ow).enumerate() {
            let r0 = &plane[2 * i * w..][..2 * g.ow];
            let r1 = &plane[(2 * i + 1) * w..][..2 * g.ow];
            let windows = r0.chunks_exact(2).zip(r1.chunks_exact(2));
            for (j, (o, (a, b))) in out_row.iter_mut().zip(windows).enumerate() {
                let (mut m, mut k) = (a[0], 0);
                for (v, idx) in [(a[1], 1), (b[0], w), (b[1], w + 1)] {
                    let up = v > m;
                    m = if up { v } else { m };
                    k = if up { idx } else { k };
                }
                *o = m;
                if TRAIN {
                    arg[i * g.ow + j] = (2 * i * w + 2 * j + k) as u32;
                }
            }
        }
        return;
    }
    let mut o = 0;
    for i in 0..g.oh {
        for j in 0..g.ow {
            let top_left = i * g.stride * w + j * g.stride;
            let (mut best, mut at) = (plane[top_left], top_left);
            for ky in 0..g.fh {
                let start = top_left + ky * w;
                for (kx, &v) in plane[start..start + g.fw].iter().enumerate() {
                    let up = v > best;
                    best = if up { v } else { best };
                    at = if up { start + kx } else { at };
                }
            }
            out[o] = best;
            if TRAIN {
                arg[o] = at as u32;
            }
            o += 1;
        }
    }
}

/// Max pooling's 2×2 windows with AVX-512 intrinsics.
#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    use crate::functions::ConvGeometry;

    /// [`super::pool_plane`]'s 2×2 path for every plane of `xs`, sixteen windows of an
    /// output row at a time: the two input rows are loaded (masked at the row's end) and
    /// split into their even and odd columns, giving each window's four values in four
    /// vectors; the maximum and its offset are kept with the same strict `>` comparisons in
    /// the same order (`_CMP_GT_OQ` is false for NaN, as `>` is), so values and indices
    /// have the bits of the scalar loop.
    ///
    /// # Safety
    /// The CPU must have AVX-512 F and BW; `g` must be 2×2 windows 2 apart with no padding,
    /// and the slices whole planes of `g` (`args` too, or empty when not `TRAIN`).
    #[target_feature(enable = "avx512f,avx512bw,avx2,fma")]
    pub(super) unsafe fn pool_planes_2x2<const TRAIN: bool>(
        xs: &[f32],
        g: &ConvGeometry,
        outs: &mut [f32],
        args: &mut [u32],
    ) {
        let (w, ow, plane_out) = (g.w, g.ow, g.oh * g.ow);
        let planes = xs.len() / (g.h * w);
        assert!(
            2 * ow <= w
                && 2 * g.oh <= g.h
                && outs.len() == planes * plane_out
                && (!TRAIN || args.len() == outs.len())
        );
        let even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        let odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
        let (one, down, diagonal) = (
            _mm512_set1_epi32(1),
            _mm512_set1_epi32(w as i32),
            _mm512_set1_epi32(w as i32 + 1),
        );
        for p in 0..planes {
            let plane = &xs[p * g.h * w..][..g.h * w];
            for i in 0..g.oh {
                let row = |r: usize| plane[r * w..].as_ptr();
                let (r0, r1) = (row(2 * i), row(2 * i + 1));
                let mut j = 0;
                while j < ow {
                    let count = (ow - j).min(16);
                    // Lanes of the 2·count input values, in two halves of 16.
                    let low = ((1u32 << (2 * count).min(16)) - 1) as u16;
                    let high = if 2 * count > 16 {
                        ((1u32 << (2 * count - 16)) - 1) as u16
                    } else {
                        0
                    };
                    // SAFETY: the masks cover input columns 2j .. 2(j + count) ≤ 2·ow ≤ w of
                    // rows 2i and 2i + 1 < h; masked-off lanes are not read.
                    let halves = |r: *const f32| unsafe {
                        let a = _mm512_maskz_loadu_ps(low, r.add(2 * j));
                        let b = _mm512_maskz_loadu_ps(high, r.add(2 * j + 16));
                        (
                            _mm512_permutex2var_ps(a, even, b),
                            _mm512_permutex2var_ps(a, odd, b),
                        )
                    };
                    let ((a0, a1), (b0, b1)) = (halves(r0), halves(r1));
                    let (mut m, mut k) = (a0, _mm512_setzero_si512());
                    for (v, offset) in [(a1, one), (b0, down), (b1, diagonal)] {
                        let up = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(v, m);
                        m = _mm512_mask_blend_ps(up, m, v);
                        k = _mm512_mask_blend_epi32(up, k, offset);
                    }
                    let lanes = ((1u32 << count) - 1) as u16;
                    let at = p * plane_out + i * ow + j;
                    // SAFETY: `count` outputs from `at` lie in row i of plane p's output.
                    unsafe { _mm512_mask_storeu_ps(outs[at..].as_mut_ptr(), lanes, m) };
                    if TRAIN {
                        // The window's top-left plane index, 2i·w + 2(j + lane), plus k.
                        let base = _mm512_set1_epi32((2 * i * w + 2 * j) as i32);
                        let index = _mm512_add_epi32(_mm512_add_epi32(base, even), k);
                        // SAFETY: as for the outputs.
                        unsafe {
                            _mm512_mask_storeu_epi32(
                                args[at..].as_mut_ptr() as *mut i32,
                                lanes,
                                index,
                            )
                        };
                    }
                    j += count;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    /// Every level pools 2×2 windows to the same bits and the same argmax as a plain loop
    /// over the windows: ties (the first maximum in row-major order wins), NaN (never
    /// greater, never passed over for being less), −0 against +0, and rows whose width is
    /// not a multiple of the sixteen windows a vector holds, or leaves a column unpooled.
    #[test]
    fn pooling_2x2_gives_the_plain_loops_bits_at_every_level() {
        let mut rng = Rng::new(11);
        for (h, w) in [(2, 2), (24, 24), (5, 33), (4, 34), (6, 64), (3, 71), (8, 8)] {
            let (c, n) = (3, 2);
            let g = ConvGeometry::new([c, h, w], 2, 2, 2, 0).expect("fits");
            let xs: Vec<f32> = (0..n * c * h * w)
                .map(|_| match rng.below(10) {
                    0 => f32::NAN,
                    1 => -0.0,
                    2 => 0.0,
                    k => k as f32 / 4.0 - 1.0,
                })
                .collect();
            // The windows one by one, as the book's im2col-and-argmax reads them.
            let (mut want, mut want_at) = (Vec::new(), Vec::new());
            for plane in xs.chunks_exact(h * w) {
                for i in 0..g.oh {
                    for j in 0..g.ow {
                        let cells = [(0, 0), (0, 1), (1, 0), (1, 1)]
                            .map(|(dy, dx)| (2 * i + dy) * w + 2 * j + dx);
                        let mut at = cells[0];
                        for &cell in &cells[1..] {
                            if plane[cell] > plane[at] {
                                at = cell;
                            }
                        }
                        want.push(plane[at].to_bits());
                        want_at.push(at as u32);
                    }
                }
            }
            for simd in cpu::testable() {
                let len = n * c * g.oh * g.ow;
                let (mut outs, mut args) = (vec![1.5f32; len], vec![u32::MAX; len]);
                planes::<f32, true>(simd, &xs, &g, &mut outs, &mut args);
                let bits: Vec<u32> = outs.iter().map(|v| v.to_bits()).collect();
                assert_eq!(bits, want, "{h}×{w} at {simd}");
                assert_eq!(args, want_at, "{h}×{w} at {simd}");
                let mut outs = vec![1.5f32; len];
                planes::<f32, false>(simd, &xs, &g, &mut outs, &mut []);
                let bits: Vec<u32> = outs.iter().map(|v| v.to_bits()).collect();
                assert_eq!(bits, want, "{h}×{w} at {simd}, test mode");
            }
            // The intrinsics themselves, whichever way this host's timing chose above.
            #[cfg(target_arch = "x86_64")]
            if cpu::testable().contains(&cpu::Simd::Avx512) {
                let len = n * c * g.oh * g.ow;
                let (mut outs, mut args) = (vec![1.5f32; len], vec![u32::MAX; len]);
                // SAFETY: AVX-512 is testable here; 2×2 windows 2 apart; whole planes.
                unsafe { avx512::pool_planes_2x2::<true>(&xs, &g, &mut outs, &mut args) };
                let bits: Vec<u32> = outs.iter().map(|v| v.to_bits()).collect();
                assert_eq!(
                    (bits, args),
                    (want.clone(), want_at.clone()),
                    "{h}×{w} intrinsics"
                );
                let mut outs = vec![1.5f32; len];
                // SAFETY: as above.
                unsafe { avx512::pool_planes_2x2::<false>(&xs, &g, &mut outs, &mut []) };
                let bits: Vec<u32> = outs.iter().map(|v| v.to_bits()).collect();
                assert_eq!(bits, want, "{h}×{w} intrinsics, test mode");
            }
        }
        #[cfg(target_arch = "x86_64")]
        if cpu::testable().contains(&cpu::Simd::Avx512) {
            let g = ConvGeometry::new([30, 24, 24], 2, 2, 2, 0).expect("fits");
            assert!([Pool2x2::Avx512, Pool2x2::Loop].contains(&pool_2x2_choice(&g)));
        }
    }

    #[test]
    fn both_ways_of_unpooling_give_the_same_bits_at_every_level() {
        // Odd sizes leave a row and a column under no window; −0 in d must come out as the
        // scatter's 0 + (−0) = +0 either way. Rows of 4, 12 (SimpleConvNet's), 8 and 20
        // windows, and a single window.
        let mut rng = Rng::new(5);
        for (h, w) in [(7, 9), (24, 24), (5, 17), (3, 41), (2, 2)] {
            let g = ConvGeometry::new([3, h, w], 2, 2, 2, 0).expect("fits");
            let n = 2;
            let xs: Vec<f32> = (0..n * 3 * h * w).map(|_| rng.normal() as f32).collect();
            let len = n * 3 * g.oh * g.ow;
            let mut outs = vec![0f32; len];
            let mut args = vec![0u32; len];
            max_pool(&xs, &g, n, &mut outs, Some(&mut args));
            let ds: Vec<f32> = (0..len)
                .map(|o| if o % 3 == 0 { -0.0 } else { o as f32 - 20.5 })
                .collect();
            let unpool = |how, simd| {
                let mut dxs = vec![f32::NAN; xs.len()];
                max_unpool_with(how, simd, &ds, &args, &g, n, &mut dxs);
                dxs.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
            };
            let want = unpool(Unpool::Scatter, cpu::Simd::Baseline);
            assert_eq!(
                want.iter().filter(|&&b| b != 0).count(),
                len - len.div_ceil(3),
                "{h}×{w}"
            );
            // Each d lands at its recorded maximum, as the definition says.
            for (o, (&d, &at)) in ds.iter().zip(&args).enumerate() {
                let plane = o / (g.oh * g.ow);
                assert_eq!(want[plane * h * w + at as usize], (0.0 + d).to_bits());
            }
            for simd in cpu::testable() {
                for how in Unpool::ALL {
                    assert_eq!(unpool(how, simd), want, "{how:?} at {simd}, {h}×{w}");
                }
            }
            assert!(Unpool::ALL.contains(&unpool_2x2_choice(&g)));
        }
    }
}
