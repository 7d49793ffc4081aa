//! The book's functions (`common/functions.py`): softmax and the loss functions; and the
//! image-to-matrix rearrangement of convolution (`common/util.py`): [`im2col`], [`col2im`].

use ndarray::{Array2, Array4, ArrayView2, ArrayView4, Axis};

use crate::float::Float;

/// What a loss compares the network's output with: class indices, or one-hot rows.
#[derive(Clone, Copy, Debug)]
pub enum Targets<'a, F> {
    /// One class index per sample.
    Labels(&'a [usize]),
    /// One row per sample; as in the book, the row's argmax is the class.
    OneHot(ArrayView2<'a, F>),
}

impl<F: Float> Targets<'_, F> {
    /// The number of samples.
    pub fn len(&self) -> usize {
        match self {
            Targets::Labels(t) => t.len(),
            Targets::OneHot(t) => t.nrows(),
        }
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The class of sample `i` (for one-hot rows, the first maximum, like `argmax`).
    pub fn class(&self, i: usize) -> usize {
        match self {
            Targets::Labels(t) => t[i],
            Targets::OneHot(t) => argmax(t.row(i).iter().copied()),
        }
    }
}

/// Index of the first maximum, like `np.argmax`.
pub fn argmax<F: Float>(xs: impl Iterator<Item = F>) -> usize {
    let mut best = 0;
    let mut best_v = F::neg_infinity();
    for (i, v) in xs.enumerate() {
        if v > best_v || i == 0 {
            best = i;
            best_v = v;
        }
    }
    best
}

/// Row-wise softmax, `exp(x − max) / Σ exp(x − max)`; subtracting each row's maximum keeps
/// `exp` from overflowing without changing the result.
///
/// ```
/// use ndarray::array;
/// let y = backprop::functions::softmax(array![[0.3, 2.9, 4.0]].view());
/// assert!((y[[0, 2]] - 0.7365969137693786_f64).abs() < 1e-15);
/// ```
pub fn softmax<F: Float>(x: ArrayView2<F>) -> Array2<F> {
    let mut y = x.to_owned();
    softmax_inplace(&mut y);
    y
}

/// [`softmax`] in place, one row at a time.
pub fn softmax_inplace<F: Float>(x: &mut Array2<F>) {
    for mut row in x.axis_iter_mut(Axis(0)) {
        let max = row.iter().copied().fold(F::neg_infinity(), F::max);
        let mut sum = F::zero();
        for v in row.iter_mut() {
            *v = (*v - max).exp();
            sum += *v;
        }
        row.mapv_inplace(|v| v / sum);
    }
}

/// The book's guard inside the logarithm of the cross-entropy error.
pub const CROSS_ENTROPY_DELTA: f64 = 1e-7;

/// Mean cross-entropy error over the batch, `−Σ log(y[i, t_i] + 1e-7) / N`.
///
/// The 1e-7 guard keeps `log(0)` finite, as in the book's code. One-hot targets are reduced to
/// their argmax first, as the book does.
pub fn cross_entropy_error<F: Float>(y: ArrayView2<F>, t: Targets<F>) -> F {
    let n = y.nrows();
    assert_eq!(
        n,
        t.len(),
        "cross_entropy_error: {} outputs but {} targets",
        n,
        t.len()
    );
    let delta = F::lit(CROSS_ENTROPY_DELTA);
    let mut sum = F::zero();
    for i in 0..n {
        sum += (y[[i, t.class(i)]] + delta).ln();
    }
    -sum / F::from_usize(n).unwrap()
}

/// The sum of squared errors, `½ Σ (y − t)²`, summed over the whole batch as in the book.
pub fn sum_squared_error<F: Float>(y: ArrayView2<F>, t: ArrayView2<F>) -> F {
    let half = F::lit(0.5);
    half * y
        .iter()
        .zip(t.iter())
        .map(|(&a, &b)| (a - b) * (a - b))
        .sum::<F>()
}

/// The geometry of a filter sliding over an image: the sizes that [`im2col`] and
/// [`col2im`] (and the convolution and pooling layers) share.
///
/// The output size follows the book: `oh = (H + 2·pad − fh) / stride + 1` (integer
/// division), likewise `ow`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvGeometry {
    /// Channels of the input.
    pub c: usize,
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// Filter height.
    pub fh: usize,
    /// Filter width.
    pub fw: usize,
    /// Step between neighbouring filter positions.
    pub stride: usize,
    /// Zeros added on every side of the input.
    pub pad: usize,
    /// Output height.
    pub oh: usize,
    /// Output width.
    pub ow: usize,
}

impl ConvGeometry {
    /// The geometry of an `fh × fw` filter over a `c × h × w` input, or `None` when the
    /// filter does not fit in the padded input or the stride is 0.
    pub fn new(
        [c, h, w]: [usize; 3],
        fh: usize,
        fw: usize,
        stride: usize,
        pad: usize,
    ) -> Option<Self> {
        if stride == 0 || fh == 0 || fw == 0 || h + 2 * pad < fh || w + 2 * pad < fw {
            return None;
        }
        Some(ConvGeometry {
            c,
            h,
            w,
            fh,
            fw,
            stride,
            pad,
            oh: (h + 2 * pad - fh) / stride + 1,
            ow: (w + 2 * pad - fw) / stride + 1,
        })
    }

    /// Elements of one input sample, `C·H·W`.
    pub fn input_len(&self) -> usize {
        self.c * self.h * self.w
    }

    /// Rows of one sample's column matrix: the output positions, `oh·ow`.
    pub fn positions(&self) -> usize {
        self.oh * self.ow
    }

    /// Columns of the column matrix: the values under one filter position, `C·fh·fw`.
    pub fn patch_len(&self) -> usize {
        self.c * self.fh * self.fw
    }

    /// For output column `j` and filter column `kx`, the input column, or `None` in padding.
    #[inline]
    fn in_x(&self, j: usize, kx: usize) -> Option<usize> {
        (j * self.stride + kx)
            .checked_sub(self.pad)
            .filter(|&x| x < self.w)
    }

    /// For output row `i` and filter row `ky`, the input row, or `None` in padding.
    #[inline]
    fn in_y(&self, i: usize, ky: usize) -> Option<usize> {
        (i * self.stride + ky)
            .checked_sub(self.pad)
            .filter(|&y| y < self.h)
    }

    /// The input columns `[x0, x0 + fw)` under output column `j` when none of them is padding.
    #[inline]
    fn inner_x(&self, j: usize) -> Option<usize> {
        let x0 = (j * self.stride).checked_sub(self.pad)?;
        (x0 + self.fw <= self.w).then_some(x0)
    }
}

/// `dst.copy_from_slice(src)` for the short runs of a filter row. A copy of unknown length
/// is a `memcpy` call, which costs more than copying 3 or 5 values; with the book's filter
/// widths spelled out, the compiler moves them inline. Longer runs (an output row of 24
/// values in SimpleConvNet) go to `memcpy`: copying them eight at a time inline was measured
/// 2.3× slower (0.97 against 2.25 µs for an image's columns).
#[inline(always)]
fn copy_run<F: Copy>(dst: &mut [F], src: &[F]) {
    match dst.len() {
        2 => dst[..2].copy_from_slice(&src[..2]),
        3 => dst[..3].copy_from_slice(&src[..3]),
        5 => dst[..5].copy_from_slice(&src[..5]),
        _ => dst.copy_from_slice(src),
    }
}

/// Rearranges one sample (`x`, `C·H·W` values) into its column matrix `col`
/// (`oh·ow × C·fh·fw`, row-major): row `i·ow + j` holds the patch under output position
/// `(i, j)`, in the order `(c·fh + ky)·fw + kx`; padding reads as zero.
///
/// Each row is written front to back, and each `fw`-long run of it is one contiguous
/// stretch of an input row, copied whole where it lies clear of the padding.
pub fn im2col_sample<F: Float>(x: &[F], g: &ConvGeometry, col: &mut [F]) {
    assert_eq!(x.len(), g.input_len(), "im2col: input length");
    assert_eq!(
        col.len(),
        g.positions() * g.patch_len(),
        "im2col: col length"
    );
    let mut rows = col.chunks_exact_mut(g.patch_len());
    for i in 0..g.oh {
        for j in 0..g.ow {
            let row = rows.next().expect("oh·ow rows");
            let inner = g.inner_x(j);
            for (k, run) in row.chunks_exact_mut(g.fw).enumerate() {
                let (c, ky) = (k / g.fh, k % g.fh);
                let Some(y) = g.in_y(i, ky) else {
                    run.fill(F::zero());
                    continue;
                };
                let line = &x[(c * g.h + y) * g.w..][..g.w];
                match inner {
                    Some(x0) => copy_run(run, &line[x0..x0 + g.fw]),
                    None => {
                        for (kx, v) in run.iter_mut().enumerate() {
                            *v = g.in_x(j, kx).map_or(F::zero(), |x| line[x]);
                        }
                    }
                }
            }
        }
    }
}

/// The adjoint of [`im2col_sample`]: adds every entry of `col` (`oh·ow × C·fh·fw`) into the
/// input position it was read from, so `dx` (`C·H·W`, zeroed first) sums the overlaps;
/// entries that came from padding are dropped.
pub fn col2im_sample<F: Float>(col: &[F], g: &ConvGeometry, dx: &mut [F]) {
    assert_eq!(dx.len(), g.input_len(), "col2im: output length");
    assert_eq!(
        col.len(),
        g.positions() * g.patch_len(),
        "col2im: col length"
    );
    dx.fill(F::zero());
    let mut rows = col.chunks_exact(g.patch_len());
    for i in 0..g.oh {
        for j in 0..g.ow {
            let row = rows.next().expect("oh·ow rows");
            let inner = g.inner_x(j);
            for (k, run) in row.chunks_exact(g.fw).enumerate() {
                let (c, ky) = (k / g.fh, k % g.fh);
                let Some(y) = g.in_y(i, ky) else { continue };
                let line = &mut dx[(c * g.h + y) * g.w..][..g.w];
                match inner {
                    Some(x0) => {
                        for (d, &v) in line[x0..x0 + g.fw].iter_mut().zip(run) {
                            *d += v;
                        }
                    }
                    None => {
                        for (kx, &v) in run.iter().enumerate() {
                            if let Some(x) = g.in_x(j, kx) {
                                line[x] += v;
                            }
                        }
                    }
                }
            }
        }
    }
}

/// For filter column `kx` at stride 1: the output columns `j_lo..j_hi` whose input column
/// `j + kx − pad` lies inside the image, and the input column of `j_lo`.
#[inline]
fn stride1_span(g: &ConvGeometry, kx: usize) -> (usize, usize, usize) {
    let j_lo = g.pad.saturating_sub(kx).min(g.ow);
    let j_hi = (g.w + g.pad).saturating_sub(kx).clamp(j_lo, g.ow);
    (j_lo, j_hi, (j_lo + kx).saturating_sub(g.pad))
}

/// [`im2col_sample`] transposed: `colᵀ` (`C·fh·fw × oh·ow`, row-major), whose row
/// `(c·fh + ky)·fw + kx` holds, for every output position, the input value under filter
/// tap `(c, ky, kx)`.
///
/// This is the layout the convolution uses: at stride 1 each output row's stretch of a
/// `colᵀ` row is one contiguous run of an input row (`ow` values, 24 for the book's net),
/// so the copies are long where [`im2col_sample`]'s are `fw` values each; and the forward
/// product `W · colᵀ` then reads both operands row-major.
pub fn im2col_t_sample<F: Float>(x: &[F], g: &ConvGeometry, col_t: &mut [F]) {
    // Compiled for baseline x86-64 only: compiled for AVX-512 its `memcpy` calls for the
    // rows of SimpleConvNet's columns ran 2.3× slower (2.25 against 0.97 µs an image).
    assert_eq!(x.len(), g.input_len(), "im2col: input length");
    let p = g.positions();
    assert_eq!(col_t.len(), p * g.patch_len(), "im2col: col length");
    let mut rows = col_t.chunks_exact_mut(p);
    for plane in x.chunks_exact(g.h * g.w) {
        for ky in 0..g.fh {
            for kx in 0..g.fw {
                let row = rows.next().expect("a row of colᵀ per filter tap");
                if g.stride == 1 && g.ow == g.w {
                    same_width_row(plane, g, ky, kx, row);
                } else {
                    im2col_t_row(plane, g, ky, kx, row);
                }
            }
        }
    }
}

/// One row of `colᵀ`, filter tap `(ky, kx)` over one input `plane`, output row by output row.
#[inline(always)]
fn im2col_t_row<F: Float>(plane: &[F], g: &ConvGeometry, ky: usize, kx: usize, row: &mut [F]) {
    for (i, out) in row.chunks_exact_mut(g.ow).enumerate() {
        let Some(y) = g.in_y(i, ky) else {
            fill_zero(out);
            continue;
        };
        let line = &plane[y * g.w..][..g.w];
        if g.stride == 1 {
            let (j_lo, j_hi, x0) = stride1_span(g, kx);
            fill_zero(&mut out[..j_lo]);
            copy_run(&mut out[j_lo..j_hi], &line[x0..x0 + (j_hi - j_lo)]);
            fill_zero(&mut out[j_hi..]);
        } else {
            for (j, v) in out.iter_mut().enumerate() {
                *v = g.in_x(j, kx).map_or(F::zero(), |x| line[x]);
            }
        }
    }
}

/// One row of `colᵀ` (filter tap `(ky, kx)` over one input `plane`) when the output is as
/// wide as the input (stride 1, `2·pad = fw − 1`, "same" padding, as in DeepConvNet): output
/// position `i·w + j` reads input position `i·w + j + (ky − pad)·w + (kx − pad)`, one offset
/// for the whole plane. So the row is one copy of the plane shifted by that offset, then
/// zeros where the filter tap lies in padding: the rows above or below the image, and in
/// every other row the `pad − kx` columns on the left or `kx − pad` on the right (which the
/// shifted copy filled from the neighbouring input row). The same values as the general
/// loop, written with one copy instead of one per output row.
#[inline(always)]
fn same_width_row<F: Float>(plane: &[F], g: &ConvGeometry, ky: usize, kx: usize, row: &mut [F]) {
    let Some(span) = SameWidthSpan::new(g, ky, kx) else {
        row.fill(F::zero());
        return;
    };
    let (first, last, src) = (span.first, span.last, span.src);
    row[first..=last].copy_from_slice(&plane[src..=src + (last - first)]);
    row[..first].fill(F::zero());
    row[last + 1..].fill(F::zero());
    span.for_each_edge(row, fill_zero);
}

/// Where one row of `colᵀ` lies in its input plane when the output is as wide as the input
/// (see [`same_width_row`]): output positions `first..=last` read (and in the backward pass,
/// add into) plane positions `src..=src + last − first`, except the edge columns of each
/// output row, which lie in padding.
struct SameWidthSpan {
    first: usize,
    last: usize,
    src: usize,
    rows: std::ops::Range<usize>,
    j_lo: usize,
    j_hi: usize,
    w: usize,
}

impl SameWidthSpan {
    /// The span of filter tap `(ky, kx)`; `None` when all of it lies in padding.
    #[inline(always)]
    fn new(g: &ConvGeometry, ky: usize, kx: usize) -> Option<Self> {
        let w = g.w;
        let i_lo = g.pad.saturating_sub(ky).min(g.oh);
        let i_hi = (g.h + g.pad).saturating_sub(ky).min(g.oh);
        let (j_lo, j_hi, _) = stride1_span(g, kx);
        if i_lo >= i_hi || j_lo >= j_hi {
            return None;
        }
        let first = i_lo * w + j_lo;
        Some(SameWidthSpan {
            first,
            last: (i_hi - 1) * w + j_hi - 1,
            // Output position `i·w + j` reads plane position `(i + ky − pad)·w + j + kx − pad`.
            src: first + ky * w + kx - g.pad * (w + 1),
            rows: i_lo..i_hi,
            j_lo,
            j_hi,
            w,
        })
    }

    /// Calls `f` on the padding columns at the two ends of each output row inside the span.
    #[inline(always)]
    fn for_each_edge<F>(&self, row: &mut [F], mut f: impl FnMut(&mut [F])) {
        for i in self.rows.clone() {
            let out = &mut row[i * self.w..(i + 1) * self.w];
            f(&mut out[..self.j_lo]);
            f(&mut out[self.j_hi..]);
        }
    }
}

/// `run.fill(0)` for the few values of padding at the ends of a row (one or two for the
/// book's 3×3 and 5×5 filters), stored inline: a loop of any length becomes a `memset` call,
/// which cost more than the stores (9 % of DeepConvNet's step went to such calls).
#[inline(always)]
fn fill_zero<F: Float>(run: &mut [F]) {
    match run {
        [] => {}
        [a] => *a = F::zero(),
        [a, b] => (*a, *b) = (F::zero(), F::zero()),
        _ => run.fill(F::zero()),
    }
}

/// The adjoint of [`im2col_t_sample`] (so [`col2im_sample`] of the transpose): adds every
/// entry of `col_t` (`C·fh·fw × oh·ow`) into the input position it was read from; `dx`
/// (`C·H·W`) is zeroed first, and entries that came from padding are dropped.
///
/// `col_t` is scratch to this function: its entries that came from padding may be set to
/// zero. With "same" padding each row of `colᵀ` is then added to its plane as one run (adding
/// +0 to a sum that started at +0 leaves its bits as they are, so the result is the same as
/// skipping those entries).
pub fn col2im_t_sample<F: Float>(col_t: &mut [F], g: &ConvGeometry, dx: &mut [F]) {
    col2im_t_with(crate::cpu::active(), col_t, g, dx);
}

crate::cpu::dispatch! {
    [avx512]
    /// [`col2im_t_sample`], compiled per instruction set.
    fn col2im_t_with<F>(col_t: &mut [F], g: &ConvGeometry, dx: &mut [F]) {
        assert_eq!(dx.len(), g.input_len(), "col2im: output length");
        let p = g.positions();
        assert_eq!(col_t.len(), p * g.patch_len(), "col2im: col length");
        dx.fill(F::zero());
        let mut rows = col_t.chunks_exact_mut(p);
        for plane in dx.chunks_exact_mut(g.h * g.w) {
            for ky in 0..g.fh {
                for kx in 0..g.fw {
                    let row = rows.next().expect("a row of colᵀ per filter tap");
                    if g.stride == 1 && g.ow == g.w {
                        let Some(span) = SameWidthSpan::new(g, ky, kx) else {
                            continue;
                        };
                        span.for_each_edge(row, fill_zero);
                        let (first, last, src) = (span.first, span.last, span.src);
                        let to = &mut plane[src..=src + (last - first)];
                        for (d, &v) in to.iter_mut().zip(&row[first..=last]) {
                            *d += v;
                        }
                    } else {
                        col2im_t_row(row, g, ky, kx, plane);
                    }
                }
            }
        }
    }
}

/// Adds one row of `colᵀ` (filter tap `(ky, kx)`) into its input `plane`, output row by
/// output row.
#[inline(always)]
fn col2im_t_row<F: Float>(row: &[F], g: &ConvGeometry, ky: usize, kx: usize, plane: &mut [F]) {
    for (i, run) in row.chunks_exact(g.ow).enumerate() {
        let Some(y) = g.in_y(i, ky) else { continue };
        let line = &mut plane[y * g.w..][..g.w];
        if g.stride == 1 {
            let (j_lo, j_hi, x0) = stride1_span(g, kx);
            for (d, &v) in line[x0..x0 + (j_hi - j_lo)]
                .iter_mut()
                .zip(&run[j_lo..j_hi])
            {
                *d += v;
            }
        } else {
            for (j, &v) in run.iter().enumerate() {
                if let Some(x) = g.in_x(j, kx) {
                    line[x] += v;
                }
            }
        }
    }
}

/// The book's `im2col`: a batch of images `(N, C, H, W)` as one matrix
/// `(N·oh·ow, C·fh·fw)` whose row `(n·oh + i)·ow + j` is the patch under output position
/// `(i, j)` of image `n`, in column order `(c·fh + ky)·fw + kx`, zero-padded by `pad`.
/// A convolution is then one matrix product with the filters laid out as columns.
///
/// Panics when the filter does not fit the padded input or the stride is 0.
///
/// ```
/// use ndarray::{Array, array};
/// let x = Array::from_shape_vec((1, 1, 3, 3), (1..=9).map(f64::from).collect()).unwrap();
/// let col = backprop::functions::im2col(x.view(), 2, 2, 1, 0);
/// assert_eq!(col, array![[1., 2., 4., 5.], [2., 3., 5., 6.], [4., 5., 7., 8.], [5., 6., 8., 9.]]);
/// ```
pub fn im2col<F: Float>(
    input: ArrayView4<F>,
    fh: usize,
    fw: usize,
    stride: usize,
    pad: usize,
) -> Array2<F> {
    let (n, c, h, w) = input.dim();
    let g = ConvGeometry::new([c, h, w], fh, fw, stride, pad).unwrap_or_else(|| {
        panic!("im2col: a {fh}×{fw} filter with stride {stride}, pad {pad} does not fit {h}×{w}")
    });
    let x = input.as_standard_layout();
    let x = x.as_slice().expect("standard layout");
    let mut col = Array2::zeros((n * g.positions(), g.patch_len()));
    let out = col.as_slice_mut().expect("fresh array");
    if n > 0 {
        for (xs, cs) in x
            .chunks_exact(g.input_len())
            .zip(out.chunks_exact_mut(g.positions() * g.patch_len()))
        {
            im2col_sample(xs, &g, cs);
        }
    }
    col
}

/// The book's `col2im`: the adjoint of [`im2col`]. Each entry of `col`
/// (`N·oh·ow × C·fh·fw`) is added into the pixel of `input_shape` `(N, C, H, W)` it came
/// from, so pixels under several filter positions receive the sum; padding is dropped. It
/// is not an inverse: `col2im(im2col(x))` multiplies each pixel by the number of patches
/// that contain it.
pub fn col2im<F: Float>(
    col: ArrayView2<F>,
    input_shape: [usize; 4],
    fh: usize,
    fw: usize,
    stride: usize,
    pad: usize,
) -> Array4<F> {
    let [n, c, h, w] = input_shape;
    let g = ConvGeometry::new([c, h, w], fh, fw, stride, pad).unwrap_or_else(|| {
        panic!("col2im: a {fh}×{fw} filter with stride {stride}, pad {pad} does not fit {h}×{w}")
    });
    assert_eq!(
        col.dim(),
        (n * g.positions(), g.patch_len()),
        "col2im: col shape does not match input shape {input_shape:?}"
    );
    let col = col.as_standard_layout();
    let col = col.as_slice().expect("standard layout");
    let mut img = Array4::zeros((n, c, h, w));
    let out = img.as_slice_mut().expect("fresh array");
    if n > 0 {
        for (cs, xs) in col
            .chunks_exact(g.positions() * g.patch_len())
            .zip(out.chunks_exact_mut(g.input_len()))
        {
            col2im_sample(cs, &g, xs);
        }
    }
    img
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array, Array2, array};

    #[test]
    fn softmax_appendix_a() {
        let y = softmax(array![[0.3_f64, 2.9, 4.0]].view());
        let want = [0.01821127329554753, 0.24519181293507392, 0.7365969137693786];
        for (a, b) in y.iter().zip(want) {
            assert!((a - b).abs() < 1e-15, "{a} vs {b}");
        }
    }

    #[test]
    fn softmax_does_not_overflow() {
        let y = softmax(array![[1000.0_f32, 1000.0, -1000.0]].view());
        assert!((y[[0, 0]] - 0.5).abs() < 1e-6 && y[[0, 2]] == 0.0);
    }

    fn book_y() -> (Array2<f64>, Array2<f64>) {
        let y = array![[0.1, 0.05, 0.6, 0.0, 0.05, 0.1, 0.0, 0.1, 0.0, 0.0]];
        let y2 = array![[0.1, 0.05, 0.1, 0.0, 0.05, 0.1, 0.0, 0.6, 0.0, 0.0]];
        (y, y2)
    }

    #[test]
    fn cross_entropy_appendix_a() {
        let (y, y2) = book_y();
        let mut t = Array2::<f64>::zeros((1, 10));
        t[[0, 2]] = 1.0;
        let cee = cross_entropy_error(y.view(), Targets::OneHot(t.view()));
        assert!((cee - 0.510825457099338).abs() < 1e-15, "{cee}");
        let cee2 = cross_entropy_error(y2.view(), Targets::Labels(&[2]));
        assert!((cee2 - 2.302584092994546).abs() < 1e-15, "{cee2}");
    }

    #[test]
    fn sum_squared_appendix_a() {
        let (y, y2) = book_y();
        let mut t = Array2::<f64>::zeros((1, 10));
        t[[0, 2]] = 1.0;
        assert!((sum_squared_error(y.view(), t.view()) - 0.09750000000000003).abs() < 1e-16);
        assert!((sum_squared_error(y2.view(), t.view()) - 0.5975).abs() < 1e-15);
    }

    #[test]
    fn argmax_first_maximum_wins() {
        assert_eq!(argmax([1.0, 3.0, 3.0, 2.0].into_iter()), 1);
    }

    #[test]
    fn im2col_hand_computed_with_padding_and_stride() {
        // 1 image, 2 channels of 2×2, 2×2 filter, pad 1, stride 2 → 2×2 output positions.
        let x = Array::from_shape_vec((1, 2, 2, 2), (1..=8).map(f64::from).collect()).unwrap();
        let col = im2col(x.view(), 2, 2, 2, 1);
        // Position (0,0) sees the padded top-left corner: only x[c,0,0] is inside.
        #[rustfmt::skip]
        let want = array![
            [0., 0., 0., 1.,  0., 0., 0., 5.],
            [0., 0., 2., 0.,  0., 0., 6., 0.],
            [0., 3., 0., 0.,  0., 7., 0., 0.],
            [4., 0., 0., 0.,  8., 0., 0., 0.],
        ];
        assert_eq!(col, want);
    }

    #[test]
    fn im2col_rows_are_batch_major() {
        // Two images of one 2×3 channel, 2×2 filter: 2 positions per image.
        let x = Array::from_shape_vec((2, 1, 2, 3), (1..=12).map(f64::from).collect()).unwrap();
        let col = im2col(x.view(), 2, 2, 1, 0);
        #[rustfmt::skip]
        let want = array![
            [1., 2., 4., 5.], [2., 3., 5., 6.],
            [7., 8., 10., 11.], [8., 9., 11., 12.],
        ];
        assert_eq!(col, want);
    }

    #[test]
    fn col2im_sums_overlaps() {
        // Every 2×2 patch of a 3×3 image is all ones: each pixel receives the number of
        // patches that cover it.
        let col = Array2::<f64>::ones((4, 4));
        let img = col2im(col.view(), [1, 1, 3, 3], 2, 2, 1, 0);
        let want = array![[1., 2., 1.], [2., 4., 2.], [1., 2., 1.]];
        assert_eq!(img.slice(ndarray::s![0, 0, .., ..]), want);
    }

    #[test]
    fn col2im_is_the_adjoint_of_im2col() {
        // <im2col(x), y> = <x, col2im(y)> for every x and y.
        let mut rng = crate::rng::Rng::new(5);
        for &(h, w, fh, fw, stride, pad) in &[
            (5, 5, 3, 3, 1, 0),
            (5, 6, 3, 3, 1, 1),
            (7, 7, 3, 2, 2, 0),
            (6, 7, 3, 3, 2, 1),
            (4, 4, 2, 2, 2, 0),
            (5, 5, 5, 5, 3, 2),
        ] {
            let x = Array::from_shape_simple_fn((2, 3, h, w), || rng.normal());
            let col = im2col(x.view(), fh, fw, stride, pad);
            let y = Array2::from_shape_simple_fn(col.raw_dim(), || rng.normal());
            let lhs = (&col * &y).sum();
            let rhs = (&x * &col2im(y.view(), [2, 3, h, w], fh, fw, stride, pad)).sum();
            assert!(
                (lhs - rhs).abs() < 1e-10 * lhs.abs().max(1.0),
                "{h}×{w} f{fh}×{fw} s{stride} p{pad}: {lhs} vs {rhs}"
            );
        }
    }

    #[test]
    fn same_padding_col2im_gives_the_bits_of_the_row_by_row_loop() {
        // With "same" padding each row of colᵀ is added to its plane as one run after its
        // padding entries are zeroed. Against the row-by-row loop, which skips them: the same
        // bits, with NaN and infinities in the padding entries (dropped either way) and
        // negative zeros among the values.
        let mut rng = crate::rng::Rng::new(8);
        for &(c, h, w, f) in &[(16, 28, 28, 3), (3, 7, 7, 3), (2, 6, 5, 5), (1, 1, 4, 3)] {
            let g = ConvGeometry::new([c, h, w], f, f, 1, (f - 1) / 2).unwrap();
            assert_eq!(g.ow, g.w);
            let (p, k) = (g.positions(), g.patch_len());
            let mut col_t: Vec<f32> = (0..k * p)
                .map(|i| match i % 7 {
                    0 => -0.0,
                    _ => rng.normal() as f32,
                })
                .collect();
            // Poison the entries that came from padding: im2col of an all-NaN image leaves
            // zeros exactly there.
            let mut pad = vec![0.0f32; k * p];
            im2col_t_sample(&vec![f32::NAN; g.input_len()], &g, &mut pad);
            for (v, &m) in col_t.iter_mut().zip(&pad) {
                if m == 0.0 {
                    *v = if rng.below(2) == 0 {
                        f32::NAN
                    } else {
                        f32::INFINITY
                    };
                }
            }
            let mut expected = vec![0.0f32; g.input_len()];
            let mut rows = col_t.chunks_exact(p);
            for plane in expected.chunks_exact_mut(h * w) {
                for ky in 0..f {
                    for kx in 0..f {
                        col2im_t_row(rows.next().unwrap(), &g, ky, kx, plane);
                    }
                }
            }
            let mut dx = vec![f32::NAN; g.input_len()];
            col2im_t_sample(&mut col_t, &g, &mut dx);
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&dx), bits(&expected), "{c}×{h}×{w} f{f}");
            assert!(dx.iter().all(|v| v.is_finite()));
        }
    }

    #[test]
    fn transposed_im2col_and_col2im_are_the_transposes() {
        let mut rng = crate::rng::Rng::new(6);
        for &(c, h, w, fh, fw, stride, pad) in &[
            (1, 28, 28, 5, 5, 1, 0),
            (2, 5, 6, 3, 3, 1, 1),
            (3, 7, 7, 3, 2, 2, 0),
            (1, 6, 7, 3, 3, 2, 1),
            (2, 5, 5, 5, 5, 3, 2),
            (1, 3, 3, 2, 2, 1, 3), // padding wider than the filter: rows entirely of padding
            // "Same" padding (output as wide as the input: one shifted copy per row of colᵀ):
            // DeepConvNet's layers, a 5×5 filter, and images shorter than the filter.
            (16, 28, 28, 3, 3, 1, 1),
            (3, 7, 7, 3, 3, 1, 1),
            (2, 6, 5, 5, 5, 1, 2),
            (1, 1, 4, 3, 3, 1, 1),
            (2, 2, 3, 5, 5, 1, 2),
        ] {
            let g = ConvGeometry::new([c, h, w], fh, fw, stride, pad).unwrap();
            let (p, k) = (g.positions(), g.patch_len());
            let x: Vec<f64> = (0..g.input_len()).map(|_| rng.normal()).collect();
            let mut col = vec![0.0; p * k];
            let mut col_t = vec![f64::NAN; p * k];
            im2col_sample(&x, &g, &mut col);
            im2col_t_sample(&x, &g, &mut col_t);
            let col = Array2::from_shape_vec((p, k), col).unwrap();
            let col_t = Array2::from_shape_vec((k, p), col_t).unwrap();
            assert_eq!(
                col.t(),
                col_t,
                "im2col {c}×{h}×{w} f{fh}×{fw} s{stride} p{pad}"
            );

            let d_t = Array2::from_shape_simple_fn((k, p), || rng.normal());
            let d = d_t.t().as_standard_layout().into_owned();
            let (mut dx, mut dx_t) = (vec![0.0; g.input_len()], vec![f64::NAN; g.input_len()]);
            col2im_sample(d.as_slice().unwrap(), &g, &mut dx);
            col2im_t_sample(d_t.clone().as_slice_mut().unwrap(), &g, &mut dx_t);
            for (a, b) in dx.iter().zip(&dx_t) {
                assert!(
                    (a - b).abs() < 1e-12,
                    "col2im {c}×{h}×{w} f{fh}×{fw}: {a} vs {b}"
                );
            }
        }
    }

    #[test]
    fn geometry_follows_the_book_and_rejects_misfits() {
        let g = ConvGeometry::new([1, 28, 28], 5, 5, 1, 0).unwrap();
        assert_eq!((g.oh, g.ow, g.patch_len()), (24, 24, 25));
        let g = ConvGeometry::new([16, 14, 14], 3, 3, 1, 2).unwrap();
        assert_eq!((g.oh, g.ow), (16, 16));
        let g = ConvGeometry::new([1, 7, 7], 2, 2, 2, 0).unwrap();
        assert_eq!((g.oh, g.ow), (3, 3));
        assert!(ConvGeometry::new([1, 4, 4], 5, 5, 1, 0).is_none());
        assert!(ConvGeometry::new([1, 4, 4], 3, 3, 0, 0).is_none());
    }
}
