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
                pool_planes::<F, true>(simd, xs, g, outs, args)
            });
        }
        None => {
            let jobs = x_runs.into_iter().zip(out_runs).collect();
            parallel::run(jobs, |(xs, outs)| {
                pool_planes::<F, false>(simd, xs, g, outs, &mut [])
            });
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    #[test]
    fn both_ways_of_unpooling_give_the_same_bits_at_every_level() {
        // Odd sizes leave a row and a column under no window; −0 in d must come out as the
        // scatter's 0 + (−0) = +0 either way.
        let g = ConvGeometry::new([3, 7, 9], 2, 2, 2, 0).expect("fits");
        let n = 2;
        let mut rng = Rng::new(5);
        let xs: Vec<f32> = (0..n * 3 * 7 * 9).map(|_| rng.normal() as f32).collect();
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
            len - len.div_ceil(3)
        );
        for simd in cpu::testable() {
            for how in Unpool::ALL {
                assert_eq!(unpool(how, simd), want, "{how:?} at {simd}");
            }
        }
        assert!(Unpool::ALL.contains(&unpool_2x2_choice(&g)));
    }
}
