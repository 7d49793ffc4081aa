//! Max pooling's loops ([`crate::layers::Pooling`] holds the math): each `H × W` plane
//! scanned in place, window by window, with branch-free selects; images split over the
//! allowed threads.

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
    let (c, h, w) = (g.c, g.h, g.w);
    let plane_out = g.oh * g.ow;
    let runs = parallel::runs_elementwise(n, dxs.len());
    let jobs = parallel::split_mut(dxs, c * h * w, &runs)
        .into_iter()
        .zip(parallel::split(ds, c * plane_out, &runs))
        .zip(parallel::split(args, c * plane_out, &runs))
        .collect();
    // The book's 2×2 windows 2 apart do not overlap: each input is under at most one
    // window, so each dx is written once, as its window's d where it was the maximum and 0
    // elsewhere (`0 + d`, the sum's bits, −0 included), without zeroing the plane first and
    // adding at scattered places.
    let disjoint_2x2 = g.fh == 2 && g.fw == 2 && g.stride == 2 && g.pad == 0;
    parallel::run(jobs, |((dxs, ds), args)| {
        for ((dx_plane, d_plane), arg_plane) in dxs
            .chunks_exact_mut(h * w)
            .zip(ds.chunks_exact(plane_out))
            .zip(args.chunks_exact(plane_out))
        {
            if disjoint_2x2 {
                unpool_2x2_plane(dx_plane, d_plane, arg_plane, g);
                continue;
            }
            // Zeroed plane by plane, so that it is still in L1 for the sums.
            dx_plane.fill(F::zero());
            for (&d, &at) in d_plane.iter().zip(arg_plane) {
                dx_plane[at as usize] += d;
            }
        }
    });
}

/// One plane of [`max_unpool`] for 2×2 windows 2 apart: every input row and column under a
/// window takes its window's `d` where the recorded maximum is, 0 elsewhere; rows and
/// columns past the last window (odd sizes) are 0.
fn unpool_2x2_plane<F: Float>(dx: &mut [F], d: &[F], arg: &[u32], g: &ConvGeometry) {
    let (w, ow) = (g.w, g.ow);
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
