//! Convolution (§7.2, §7.4.3), by im2col and a matrix product per image.

use ndarray::{Array1, Array4, ArrayD, ArrayView2, ArrayViewMut2, IxDyn};

use super::buffers::{recycle, reuse, standard};
use super::{Layer, Param};
use crate::float::Float;
use crate::functions::{ConvGeometry, col2im_t_sample, im2col_t_sample};
use crate::linalg::{gemm, gemm_row_bias};
use crate::parallel;

/// A 2-D convolution over `(N, C, H, W)` images with `FN` filters of `C × FH × FW`, a
/// stride and zero padding; the output is `(N, FN, OH, OW)` with
/// `OH = (H + 2·pad − FH) / stride + 1` (likewise `OW`).
///
/// Forward, as in the book: each image `n` becomes its column matrix `colₙ = im2col(xₙ)`
/// (`OH·OW × C·FH·FW`) and, with the filters as a matrix `W` (`FN × C·FH·FW`),
///
/// * `outₙ = W · colₙᵀ + b` — shape `(FN, OH·OW)`, which already is the NCHW layout, so the
///   book's final transpose is not needed.
///
/// Backward, for `doutₙ = ∂L/∂outₙ` of shape `(FN, OH·OW)`:
///
/// * `dW = Σₙ doutₙ · colₙ` — reshaped to `(FN, C, FH, FW)`;
/// * `db[f] = Σₙ Σₚ doutₙ[f, p]` — the bias was broadcast over images and positions;
/// * `dcolₙ = doutₙᵀ · W`, then `dxₙ = col2im(dcolₙ)`: `col2im` is the adjoint of `im2col`,
///   so each pixel receives the sum over every filter position that read it.
///
/// The column matrices are kept transposed, `colₙᵀ` (`C·FH·FW × OH·OW`, see
/// [`im2col_t_sample`]): at stride 1 the copies that build them are whole runs of input rows,
/// and `W · colₙᵀ` reads both operands row-major. The products are the same:
/// `outₙ = W · colₙᵀ`, `dW = Σₙ doutₙ · (colₙᵀ)ᵀ`, `dcolₙᵀ = Wᵀ · doutₙ`.
///
/// Departures from the book, for speed and memory: the column matrices are computed per image
/// into a few images' worth of scratch and used while they are in cache; the layer keeps
/// `x` (`C·FH·FW / stride²` times smaller) instead of the batch's columns and backward
/// makes them again, a few images at a time, for `dW` (the batch's columns were 111 MB a
/// step for DeepConvNet, written to memory and read back; making them again from a cached
/// image costs less); `dcol` is one image at a time; `dx` is skipped entirely for a first
/// layer (see [`Layer::set_input_grad`]); and the storage of the arrays the layer is handed
/// (`x`, `dout`) is recycled for the arrays it hands back (`dx`, the next `out`), so at a
/// steady batch size the layer allocates no buffer of its own from one training step to the
/// next.
#[derive(Debug)]
pub struct Convolution<F> {
    /// Filters `(FN, C, FH, FW)`.
    pub w: Array4<F>,
    /// Bias `(FN,)`.
    pub b: Array1<F>,
    /// `∂L/∂W` of the last backward pass.
    pub dw: Array4<F>,
    /// `∂L/∂b` of the last backward pass.
    pub db: Array1<F>,
    /// Step between filter positions.
    pub stride: usize,
    /// Zeros added on each side of the input.
    pub pad: usize,
    /// Geometry and batch size of the last training forward pass.
    last: Option<(ConvGeometry, usize)>,
    /// The input of the last training forward pass, from which backward makes the column
    /// matrices again.
    x: Option<ArrayD<F>>,
    /// Column matrices, a few images' worth per run: forward's `col`, backward's `col` and
    /// `dcol`.
    scratch: Vec<F>,
    /// Each run's columns of a few images in backward, kept to be reused.
    scratch_runs: Vec<Vec<F>>,
    /// Storage to reuse for the next output (recycled from `dout`).
    spare_out: Vec<F>,
    /// Storage to reuse for the next `dx` (recycled from the last `x`).
    spare_dx: Vec<F>,
    /// Per-run partial sums of `dW` and `db` (see [`crate::parallel`]).
    partials: Vec<F>,
    input_grad: bool,
}

impl<F: Float> Convolution<F> {
    /// A convolution with filters `w` `(FN, C, FH, FW)`, bias `b` `(FN,)`, `stride` ≥ 1 and
    /// `pad`.
    pub fn new(w: Array4<F>, b: Array1<F>, stride: usize, pad: usize) -> Self {
        assert_eq!(
            w.dim().0,
            b.len(),
            "Convolution: W is {:?} but b is {:?}",
            w.dim(),
            b.dim()
        );
        assert!(stride >= 1, "Convolution: stride must be at least 1");
        let w = w.as_standard_layout().into_owned();
        let (dw, db) = (Array4::zeros(w.raw_dim()), Array1::zeros(b.raw_dim()));
        Convolution {
            w,
            b,
            dw,
            db,
            stride,
            pad,
            last: None,
            x: None,
            scratch: Vec::new(),
            scratch_runs: Vec::new(),
            spare_out: Vec::new(),
            spare_dx: Vec::new(),
            partials: Vec::new(),
            input_grad: true,
        }
    }

    /// The geometry for an input sample of `[C, H, W]`, or `None` when the filters do not fit.
    pub fn geometry(&self, [c, h, w]: [usize; 3]) -> Option<ConvGeometry> {
        let (_, wc, fh, fw) = self.w.dim();
        if c != wc {
            return None;
        }
        ConvGeometry::new([c, h, w], fh, fw, self.stride, self.pad)
    }
}

/// The filters `w` as the matrix `(FN, C·FH·FW)`.
fn w_mat<F: Float>(w: &Array4<F>) -> ArrayView2<'_, F> {
    let fn_ = w.dim().0;
    let w = w.as_slice().expect("W is kept in standard layout");
    ArrayView2::from_shape((fn_, w.len() / fn_.max(1)), w).expect("W as a matrix")
}

/// Forward for a run of images: `outₙ = W · colₙᵀ + b` for each image `xₙ` of `xs`, with
/// `col` (one image's column matrix) as scratch.
fn forward_images<F: Float>(
    w_mat: ArrayView2<F>,
    b: &[F],
    g: &ConvGeometry,
    xs: &[F],
    outs: &mut [F],
    col_n: &mut [F],
) {
    let (fn_, p, k) = (w_mat.nrows(), g.positions(), g.patch_len());
    let images = xs
        .chunks_exact(g.input_len())
        .zip(outs.chunks_exact_mut(fn_ * p));
    for (x_n, out_n) in images {
        im2col_t_sample(x_n, g, col_n);
        let col_t = ArrayView2::from_shape((k, p), &*col_n).expect("colᵀ shape");
        // The bias is added by the product as it stores each sum: no pass over the output
        // of its own.
        let mut out_n = ArrayViewMut2::from_shape((fn_, p), out_n).expect("out shape");
        gemm_row_bias(w_mat, col_t, b, &mut out_n);
    }
}

/// Backward for a run of images `xs`: adds `Σₙ doutₙ · colₙ` and `Σₙ Σₚ doutₙ` to `grads`
/// (`dW` then `db`, zeroed by the caller), making each `colₙ = im2col(xₙ)` again in `col`
/// (scratch, a few images' worth), and, when `dx` is given, writes
/// `dxₙ = col2im(Wᵀ · doutₙ)` using its `dcol` (one image's columns) as scratch.
fn backward_images<F: Float>(
    w_mat: ArrayView2<F>,
    g: &ConvGeometry,
    dout: &[F],
    xs: &[F],
    col: &mut Vec<F>,
    grads: &mut [F],
    dx: Option<(&mut [F], &mut [F])>,
) {
    let (fn_, p, k) = (w_mat.nrows(), g.positions(), g.patch_len());
    let (dw, db) = grads.split_at_mut(fn_ * k);
    for dout_n in dout.chunks_exact(fn_ * p) {
        for (db, row) in db.iter_mut().zip(dout_n.chunks_exact(p)) {
            *db += crate::linalg::sum(row);
        }
    }
    // dW = Σₙ doutₙ · colₙ, with colₙᵀ (k × p) made again: both operands run along p.
    let input = g.input_len();
    crate::linalg::sum_of_products_abt_made(
        fn_,
        k,
        p,
        dout,
        col,
        |i, col_n| im2col_t_sample(&xs[i * input..(i + 1) * input], g, col_n),
        dw,
    );
    let Some((dx, dcol)) = dx else {
        return;
    };
    for (dout_n, dx_n) in dout.chunks_exact(fn_ * p).zip(dx.chunks_exact_mut(input)) {
        let dout_n = ArrayView2::from_shape((fn_, p), dout_n).expect("dout shape");
        let mut dcol_t = ArrayViewMut2::from_shape((k, p), &mut *dcol).expect("dcolᵀ shape");
        gemm(F::one(), w_mat.t(), dout_n, F::zero(), &mut dcol_t);
        col2im_t_sample(dcol, g, dx_n);
    }
}

impl<F: Float> Layer<F> for Convolution<F> {
    fn name(&self) -> &'static str {
        "Convolution"
    }

    fn op(&self) -> super::Op {
        super::Op::Convolution {
            stride: self.stride,
            pad: self.pad,
        }
    }

    fn forward(&mut self, x: ArrayD<F>, train: bool) -> ArrayD<F> {
        let &[n, c, h, w] = x.shape() else {
            panic!(
                "Convolution: input must be (N, C, H, W), got {:?}",
                x.shape()
            );
        };
        let g = self.geometry([c, h, w]).unwrap_or_else(|| {
            panic!(
                "Convolution: filters {:?} with stride {} and pad {} do not fit input {:?}",
                self.w.dim(),
                self.stride,
                self.pad,
                x.shape()
            )
        });
        let fn_ = self.w.dim().0;
        let (p, k) = (g.positions(), g.patch_len());
        let x = standard(x);
        let xs = x.as_slice().expect("standard layout");
        let mut out = reuse(&mut self.spare_out, &[n, fn_, g.oh, g.ow]);
        let outs = out.as_slice_mut().expect("fresh storage");
        let runs = parallel::runs(n, n * fn_ * p * k);
        // One image's columns per run.
        self.scratch.resize(runs.len() * p * k, F::zero());
        let jobs = parallel::split(xs, g.input_len(), &runs)
            .into_iter()
            .zip(parallel::split_mut(outs, fn_ * p, &runs))
            .zip(self.scratch.chunks_exact_mut(p * k));
        let (w_mat, b) = (w_mat(&self.w), self.b.as_slice().expect("b is contiguous"));
        parallel::run(jobs.collect(), |((x, out), col)| {
            forward_images(w_mat, b, &g, x, out, col)
        });
        if train {
            self.last = Some((g, n));
            self.x = Some(x);
        }
        out
    }

    fn backward(&mut self, dout: ArrayD<F>) -> ArrayD<F> {
        let (g, n) = self
            .last
            .expect("Convolution::backward before a training forward");
        let fn_ = self.w.dim().0;
        let (p, k) = (g.positions(), g.patch_len());
        assert_eq!(
            dout.shape(),
            &[n, fn_, g.oh, g.ow],
            "Convolution::backward: dout shape"
        );
        let dout = standard(dout);
        let ds = dout.as_slice().expect("standard layout");
        let x = self
            .x
            .take()
            .expect("Convolution::backward keeps the input of the training forward");
        let xs = x.as_slice().expect("standard layout");
        let products = if self.input_grad { 2 } else { 1 };
        let runs = parallel::runs(n, products * n * fn_ * p * k);
        let mut dx = self
            .input_grad
            .then(|| reuse(&mut self.spare_dx, &[n, g.c, g.h, g.w]));
        // Each run's columns (made by `backward_images`, a few images' worth) and, when dx
        // is wanted, its part of dx with one image's dcol as scratch.
        let mut cols: Vec<Vec<F>> = self.scratch_runs.drain(..).collect();
        cols.resize_with(runs.len(), Vec::new);
        self.scratch.resize(runs.len() * p * k, F::zero());
        let dx_runs: Vec<Option<(&mut [F], &mut [F])>> = match &mut dx {
            Some(dx) => {
                let dxs = dx.as_slice_mut().expect("fresh storage");
                parallel::split_mut(dxs, g.input_len(), &runs)
                    .into_iter()
                    .zip(self.scratch.chunks_exact_mut(p * k))
                    .map(Some)
                    .collect()
            }
            None => runs.iter().map(|_| None).collect(),
        };
        // Each run sums its images' dW and db into its own part; the parts are added in run
        // order below, so one thread count always gives the same bits.
        let grads_len = fn_ * k + fn_;
        self.partials.clear();
        self.partials.resize(runs.len() * grads_len, F::zero());
        let jobs = parallel::split(ds, fn_ * p, &runs)
            .into_iter()
            .zip(parallel::split(xs, g.input_len(), &runs))
            .zip(cols)
            .zip(self.partials.chunks_exact_mut(grads_len))
            .zip(dx_runs);
        let w_mat = w_mat(&self.w);
        let cols = parallel::run(jobs.collect(), |((((dout, xs), mut col), grads), dx)| {
            backward_images(w_mat, &g, dout, xs, &mut col, grads, dx);
            col
        });
        self.scratch_runs = cols;
        let (dw, db) = (
            self.dw.as_slice_mut().expect("dW is standard layout"),
            self.db.as_slice_mut().expect("db is contiguous"),
        );
        dw.fill(F::zero());
        db.fill(F::zero());
        for part in self.partials.chunks_exact(grads_len) {
            let (part_dw, part_db) = part.split_at(fn_ * k);
            dw.iter_mut().zip(part_dw).for_each(|(a, &b)| *a += b);
            db.iter_mut().zip(part_db).for_each(|(a, &b)| *a += b);
        }
        self.spare_out = recycle(dout);
        if self.input_grad {
            self.spare_dx = recycle(x);
        }
        dx.unwrap_or_else(|| ArrayD::zeros(IxDyn(&[0])))
    }

    fn params(&mut self) -> Vec<Param<'_, F>> {
        Param::weight_and_bias(&mut self.w, &mut self.dw, &mut self.b, &mut self.db)
    }

    fn set_input_grad(&mut self, needed: bool) {
        self.input_grad = needed;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::functions::im2col;
    use crate::gradient::check_layer;
    use crate::rng::Rng;
    use ndarray::{Array, Array2, Axis, array};

    fn close(a: &ArrayD<f64>, b: &ArrayD<f64>, tol: f64) -> bool {
        a.shape() == b.shape() && a.iter().zip(b).all(|(x, y)| (x - y).abs() <= tol)
    }

    #[test]
    fn f32_agrees_with_f64() {
        // The f32 path has kernels of its own (AVX-512 products where the CPU has them);
        // the f64 path is the one the gradient checks verify.
        let mut rng = Rng::new(13);
        let x = Array::from_shape_simple_fn((3, 2, 12, 11), || rng.normal());
        let dout = Array::from_shape_simple_fn((3, 7, 10, 9), || rng.normal());
        let mut c64 = random_conv(7, 2, 3, 1, 0);
        let mut c32 = Convolution::new(c64.w.mapv(|v| v as f32), c64.b.mapv(|v| v as f32), 1, 0);
        let out64 = c64.forward(x.clone().into_dyn(), true);
        let out32 = c32.forward(x.mapv(|v| v as f32).into_dyn(), true);
        let dx64 = c64.backward(dout.clone().into_dyn());
        let dx32 = c32.backward(dout.mapv(|v| v as f32).into_dyn());
        let near = |a: &ArrayD<f64>, b: ArrayD<f32>| {
            assert_eq!(a.shape(), b.shape());
            let scale = a.iter().fold(1.0f64, |m, v| m.max(v.abs()));
            for (x, y) in a.iter().zip(b.iter()) {
                assert!((x - *y as f64).abs() <= 1e-5 * scale, "{x} vs {y}");
            }
        };
        near(&out64, out32);
        near(&dx64, dx32);
        near(&c64.dw.clone().into_dyn(), c32.dw.clone().into_dyn());
        near(&c64.db.clone().into_dyn(), c32.db.clone().into_dyn());
    }

    #[test]
    fn two_threads_agree_with_one() {
        // 8·30·576·75 ≈ 10 M multiply-adds: enough for the images to be split in two runs.
        let mut rng = Rng::new(11);
        let x = Array::from_shape_simple_fn((8, 3, 28, 28), || rng.normal()).into_dyn();
        let dout = Array::from_shape_simple_fn((8, 30, 24, 24), || rng.normal()).into_dyn();
        let split = crate::linalg::with_threads(2, || crate::parallel::runs(8, 8 * 30 * 576 * 75));
        assert_eq!(split, vec![0..4, 4..8]);
        let run = |threads| {
            crate::linalg::with_threads(threads, || {
                let mut conv = random_conv(30, 3, 5, 1, 0);
                let out = conv.forward(x.clone(), true);
                let dx = conv.backward(dout.clone());
                let test_out = conv.forward(x.clone(), false);
                let (dw, db) = (conv.dw.into_dyn(), conv.db.into_dyn());
                (out, dx, test_out, dw, db)
            })
        };
        let (one, two) = (run(1), run(2));
        assert_eq!(two, run(2), "two threads, twice: the same bits");
        // Each output and each dx is one image's own computation; only the sums over images
        // (dW, db) are added in a different order.
        assert_eq!((&one.0, &one.1, &one.2), (&two.0, &two.1, &two.2));
        assert!(close(&one.3, &two.3, 1e-9) && close(&one.4, &two.4, 1e-9));
        assert!(one.3.iter().any(|&v| v != 0.0));
    }

    fn random_conv(fn_: usize, c: usize, f: usize, stride: usize, pad: usize) -> Convolution<f64> {
        let mut rng = Rng::new(7);
        let w = Array4::from_shape_simple_fn((fn_, c, f, f), || rng.normal());
        let b = Array1::from_shape_simple_fn(fn_, || rng.normal());
        Convolution::new(w, b, stride, pad)
    }

    #[test]
    fn forward_with_the_bias_in_the_product_equals_im2col_then_gemm() {
        // The plain formulation per image: colₙᵀ = im2col, outₙ filled with b, then
        // outₙ += W · colₙᵀ. The layer adds the bias in the product's tiles instead: the
        // same bits in f32 (each value is the sum plus b, rounded once), exactly the same in
        // f64, and the same bits run after run for each thread count. Shapes of both nets'
        // layers: 576 positions, and 196 and 49 (narrow columns) with padding.
        let mut rng = Rng::new(17);
        for (fn_, c, f, pad, hw) in [(30, 1, 5, 0, 28), (16, 3, 3, 1, 14), (8, 4, 3, 1, 7)] {
            let x64 = Array::from_shape_simple_fn((3, c, hw, hw), || rng.normal());
            let conv64 = random_conv(fn_, c, f, 1, pad);
            let g = conv64.geometry([c, hw, hw]).expect("fits");
            let (p, k) = (g.positions(), g.patch_len());
            fn plain<F: Float>(conv: &Convolution<F>, x: &Array4<F>, g: &ConvGeometry) -> Vec<F> {
                let (fn_, p, k) = (conv.w.dim().0, g.positions(), g.patch_len());
                let xs = x.as_slice().unwrap();
                let mut out = Vec::new();
                let mut col = vec![F::zero(); k * p];
                for x_n in xs.chunks_exact(g.input_len()) {
                    im2col_t_sample(x_n, g, &mut col);
                    let mut o = Array2::from_shape_fn((fn_, p), |(i, _)| conv.b[i]);
                    let col_t = ArrayView2::from_shape((k, p), &col[..]).unwrap();
                    gemm(F::one(), w_mat(&conv.w), col_t, F::one(), &mut o);
                    out.extend(o.iter().copied());
                }
                out
            }
            let x32 = x64.mapv(|v| v as f32);
            let conv32 = Convolution::new(
                conv64.w.mapv(|v| v as f32),
                conv64.b.mapv(|v| v as f32),
                1,
                pad,
            );
            let want64 = plain(&conv64, &x64, &g);
            let want32 = plain(&conv32, &x32, &g);
            for threads in [1, 2] {
                crate::linalg::with_threads(threads, || {
                    let mut c64 = random_conv(fn_, c, f, 1, pad);
                    let out64 = c64.forward(x64.clone().into_dyn(), true);
                    assert_eq!(out64.as_slice().unwrap(), &want64[..], "f64 {fn_}×{k}×{p}");
                    let mut c32 = Convolution::new(conv32.w.clone(), conv32.b.clone(), 1, pad);
                    let bits = |o: ArrayD<f32>| o.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
                    let first = bits(c32.forward(x32.clone().into_dyn(), true));
                    let want: Vec<u32> = want32.iter().map(|v| v.to_bits()).collect();
                    assert_eq!(first, want, "f32 {fn_}×{k}×{p}, {threads} threads");
                    assert_eq!(bits(c32.forward(x32.clone().into_dyn(), true)), first);
                    for (o, w) in first.iter().zip(&want64) {
                        let o = f32::from_bits(*o) as f64;
                        assert!((o - w).abs() <= 1e-5 * (1.0 + w.abs()), "{o} vs {w}");
                    }
                });
            }
        }
    }

    #[test]
    fn hand_computed_forward() {
        // One 3×3 image, one 2×2 filter: each output is the dot product with a patch, plus b.
        let w = array![[[[1.0, 0.0], [0.0, -1.0]]]];
        let mut conv = Convolution::new(w, array![0.5], 1, 0);
        let x = Array::from_shape_vec((1, 1, 3, 3), (1..=9).map(f64::from).collect()).unwrap();
        let out = conv.forward(x.into_dyn(), true);
        // x[i][j] − x[i+1][j+1] = −4 everywhere, + 0.5.
        assert_eq!(out, Array::from_elem((1, 1, 2, 2), -3.5).into_dyn());
        // dout = 1 everywhere: dW[ky][kx] = Σ over positions of the pixel under (ky, kx).
        let dx = conv.backward(Array::ones((1, 1, 2, 2)).into_dyn());
        assert_eq!(conv.dw, array![[[[12.0, 16.0], [24.0, 28.0]]]]);
        assert_eq!(conv.db, array![4.0]);
        // dx: the filter summed over the positions covering each pixel.
        let want = array![[1.0, 1.0, 0.0], [1.0, 0.0, -1.0], [0.0, -1.0, -1.0]];
        assert_eq!(
            dx.index_axis(Axis(0), 0).index_axis(Axis(0), 0),
            want.into_dyn()
        );
    }

    #[test]
    fn forward_matches_the_books_single_matrix_product() {
        // The book's formulation: im2col over the batch, times W reshaped to (FN, -1)ᵀ.
        let mut conv = random_conv(4, 3, 3, 2, 1);
        let mut rng = Rng::new(3);
        let x = Array::from_shape_simple_fn((2, 3, 7, 6), || rng.normal());
        let col = im2col(x.view(), 3, 3, 2, 1);
        let w_mat = conv.w.clone().into_shape_with_order((4, 27)).unwrap();
        let book: Array2<f64> = col.dot(&w_mat.t()) + &conv.b;
        let book = book
            .into_shape_with_order((2, 4, 3, 4))
            .unwrap()
            .permuted_axes([0, 3, 1, 2]);
        let ours = conv.forward(x.into_dyn(), true);
        assert!(close(&ours, &book.into_dyn(), 1e-12));
    }

    #[test]
    fn test_mode_matches_training_mode_and_buffers_are_reused_safely() {
        let mut conv = random_conv(5, 2, 3, 1, 1);
        let mut rng = Rng::new(4);
        let big = Array::from_shape_simple_fn((6, 2, 5, 5), || rng.normal()).into_dyn();
        let small = Array::from_shape_simple_fn((2, 2, 5, 5), || rng.normal()).into_dyn();
        let train = conv.forward(big.clone(), true);
        conv.backward(train.clone());
        let dw_big = conv.dw.clone();
        // A test-mode pass in between must not disturb what backward needs.
        let test = conv.forward(big.clone(), false);
        assert!(close(&train, &test, 1e-12));
        let out_small = conv.forward(small.clone(), true);
        let _ = conv.forward(big.clone(), false);
        conv.backward(out_small.clone());
        let mut fresh = random_conv(5, 2, 3, 1, 1);
        let want = fresh.forward(small, true);
        assert!(close(&out_small, &want, 1e-12));
        fresh.backward(want);
        assert!(close(
            &conv.dw.clone().into_dyn(),
            &fresh.dw.clone().into_dyn(),
            1e-12
        ));
        assert!(!close(
            &conv.dw.clone().into_dyn(),
            &dw_big.into_dyn(),
            1e-6
        ));
    }

    #[test]
    fn a_large_test_mode_batch_leaves_no_large_buffer_behind() {
        let mut conv = random_conv(4, 2, 3, 1, 0);
        let (p, k) = (3 * 3, 2 * 3 * 3);
        let out = conv.forward(Array::zeros((2, 2, 5, 5)).into_dyn(), true);
        conv.backward(out);
        let _ = conv.forward(Array::zeros((500, 2, 5, 5)).into_dyn(), false);
        let held = conv.scratch.capacity()
            + conv.scratch_runs.iter().map(Vec::capacity).sum::<usize>()
            + conv.spare_out.capacity()
            + conv.spare_dx.capacity();
        // One image's columns for forward and dcol, two images' for dW (both fit in one
        // group), the last dout (2 images' outputs) and x (2 images) recycled.
        assert!(held <= p * k + 2 * p * k + 2 * 4 * p + 2 * 2 * 25, "{held}");
    }

    #[test]
    fn backward_makes_the_columns_again_from_the_kept_input() {
        // Backward uses the input of the training forward, not one of a test-mode forward
        // in between, nor a batch of the same shape passed later in test mode.
        let mut rng = Rng::new(9);
        let x = Array::from_shape_simple_fn((3, 2, 6, 6), || rng.normal()).into_dyn();
        let other = Array::from_shape_simple_fn((3, 2, 6, 6), || rng.normal()).into_dyn();
        let dout = Array::from_shape_simple_fn((3, 4, 4, 4), || rng.normal()).into_dyn();
        let mut a = random_conv(4, 2, 3, 1, 0);
        let mut b = random_conv(4, 2, 3, 1, 0);
        a.forward(x.clone(), true);
        let dx_a = a.backward(dout.clone());
        b.forward(x.clone(), true);
        let _ = b.forward(other, false);
        let dx_b = b.backward(dout.clone());
        assert_eq!((&a.dw, &a.db, &dx_a), (&b.dw, &b.db, &dx_b));
        // dW against the book's im2col over the batch: dW = doutᵀ-rows · col.
        let col = im2col(x.view().into_dimensionality().unwrap(), 3, 3, 1, 0);
        let dout_rows = dout
            .view()
            .into_dimensionality::<ndarray::Ix4>()
            .unwrap()
            .permuted_axes([0, 2, 3, 1])
            .as_standard_layout()
            .into_owned()
            .into_shape_with_order((3 * 16, 4))
            .unwrap();
        let book_dw = dout_rows
            .t()
            .dot(&col)
            .into_shape_with_order((4, 2, 3, 3))
            .unwrap();
        assert!(close(&a.dw.clone().into_dyn(), &book_dw.into_dyn(), 1e-10));
    }

    #[test]
    fn gradient_stride_1_pad_0() {
        check_layer(&mut random_conv(3, 2, 3, 1, 0), &[2, 2, 5, 5], 1);
    }

    #[test]
    fn gradient_stride_1_pad_1() {
        check_layer(&mut random_conv(3, 2, 3, 1, 1), &[2, 2, 5, 4], 2);
    }

    #[test]
    fn gradient_stride_2_pad_0() {
        check_layer(&mut random_conv(2, 3, 3, 2, 0), &[2, 3, 7, 6], 3);
    }

    #[test]
    fn gradient_stride_2_pad_1() {
        check_layer(&mut random_conv(2, 2, 2, 2, 1), &[3, 2, 5, 5], 4);
    }

    #[test]
    fn first_layer_skips_dx() {
        let mut conv = random_conv(2, 1, 3, 1, 0);
        Layer::<f64>::set_input_grad(&mut conv, false);
        let out = conv.forward(Array::ones((1, 1, 4, 4)).into_dyn(), true);
        assert_eq!(conv.backward(out).len(), 0);
    }
}
