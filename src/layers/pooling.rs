//! Max pooling (§7.3, §7.4.4).

use ndarray::ArrayD;

use super::Layer;
use super::buffers::{recycle, reuse, standard};
use crate::float::Float;
use crate::functions::ConvGeometry;
use crate::kernels;

/// Max pooling over `(N, C, H, W)`: each channel's `pool_h × pool_w` windows, `stride`
/// apart, are replaced by their maximum; the output is `(N, C, OH, OW)` with
/// `OH = (H − pool_h) / stride + 1` (likewise `OW`), as in the book (no padding).
///
/// Forward remembers, for every output, where in its window the maximum was (`arg_max`); as
/// with the book's `np.argmax` the first maximum in row-major window order wins ties.
///
/// Backward: `∂out/∂x` is 1 at the argmax of the window and 0 elsewhere, so
/// `dx[argmaxₒ] += dout[o]` for every output `o`, and zero where no window took its maximum.
/// Windows that overlap (`stride < pool`) add up, like the book's `col2im`.
///
/// The book goes through `im2col`; scanning each window in place gives the same numbers
/// without the column matrix. Only a training forward records `arg_max`; like the
/// convolution, the layer recycles the storage of `x` and `dout` for `dx` and the next output.
#[derive(Debug)]
pub struct Pooling<F> {
    /// Window height.
    pub pool_h: usize,
    /// Window width.
    pub pool_w: usize,
    /// Step between windows.
    pub stride: usize,
    /// Input shape of the last training forward pass.
    x_shape: Option<[usize; 4]>,
    /// For every output of the last training pass, the index of its maximum in its `H × W`
    /// input plane.
    arg_max: Vec<u32>,
    spare_out: Vec<F>,
    spare_dx: Vec<F>,
}

impl<F: Float> Pooling<F> {
    /// Max pooling with `pool_h × pool_w` windows `stride` apart.
    pub fn new(pool_h: usize, pool_w: usize, stride: usize) -> Self {
        assert!(
            pool_h >= 1 && pool_w >= 1 && stride >= 1,
            "Pooling: window and stride must be at least 1"
        );
        Pooling {
            pool_h,
            pool_w,
            stride,
            x_shape: None,
            arg_max: Vec::new(),
            spare_out: Vec::new(),
            spare_dx: Vec::new(),
        }
    }

    /// The geometry for an input sample `[C, H, W]`, or `None` when the window does not fit.
    pub fn geometry(&self, chw: [usize; 3]) -> Option<ConvGeometry> {
        ConvGeometry::new(chw, self.pool_h, self.pool_w, self.stride, 0)
    }
}

impl<F: Float> Layer<F> for Pooling<F> {
    fn name(&self) -> &'static str {
        "Pooling"
    }

    fn op(&self) -> super::Op {
        super::Op::MaxPool {
            pool_h: self.pool_h,
            pool_w: self.pool_w,
            stride: self.stride,
        }
    }

    fn forward(&mut self, x: ArrayD<F>, train: bool) -> ArrayD<F> {
        let &[n, c, h, w] = x.shape() else {
            panic!("Pooling: input must be (N, C, H, W), got {:?}", x.shape());
        };
        let g = self.geometry([c, h, w]).unwrap_or_else(|| {
            panic!(
                "Pooling: a {}×{} window does not fit input {:?}",
                self.pool_h,
                self.pool_w,
                x.shape()
            )
        });
        assert!(h * w <= u32::MAX as usize, "Pooling: input plane too large");
        let x = standard(x);
        let xs = x.as_slice().expect("standard layout");
        let mut out = reuse(&mut self.spare_out, &[n, c, g.oh, g.ow]);
        let outs = out.as_slice_mut().expect("fresh storage");
        if train {
            self.arg_max.resize(n * c * g.oh * g.ow, 0);
        }
        let args = if train {
            Some(&mut self.arg_max[..])
        } else {
            None
        };
        kernels::pooling::max_pool(xs, &g, n, outs, args);
        if train {
            self.x_shape = Some([n, c, h, w]);
            self.spare_dx = recycle(x);
        }
        out
    }

    fn backward(&mut self, dout: ArrayD<F>) -> ArrayD<F> {
        let [n, c, h, w] = self
            .x_shape
            .expect("Pooling::backward before a training forward");
        assert_eq!(
            dout.len(),
            self.arg_max.len(),
            "Pooling::backward: dout shape {:?}",
            dout.shape()
        );
        let dout = standard(dout);
        let ds = dout.as_slice().expect("standard layout");
        let mut dx = reuse(&mut self.spare_dx, &[n, c, h, w]);
        let dxs = dx.as_slice_mut().expect("fresh storage");
        let g = self
            .geometry([c, h, w])
            .expect("the geometry of the forward pass");
        kernels::pooling::max_unpool(ds, &self.arg_max, &g, n, dxs);
        self.spare_out = recycle(dout);
        dx
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::functions::im2col;
    use crate::gradient::check_layer;
    use crate::rng::Rng;
    use ndarray::{Array, Axis, array};

    #[test]
    fn hand_computed_with_ties() {
        let x = array![[
            [1.0, 3.0, 2.0, 0.0],
            [3.0, 0.0, 1.0, 2.0],
            [5.0, 5.0, -1.0, -2.0],
            [5.0, 5.0, -3.0, -1.0],
        ]]
        .insert_axis(Axis(0));
        let mut pool = Pooling::new(2, 2, 2);
        let out = pool.forward(x.into_dyn(), true);
        assert_eq!(out, array![[[[3.0, 2.0], [5.0, -1.0]]]].into_dyn());
        let dx = pool.backward(array![[[[10.0, 20.0], [30.0, 40.0]]]].into_dyn());
        // Ties go to the first maximum in row-major window order.
        let want = array![[[
            [0.0, 10.0, 20.0, 0.0],
            [0.0, 0.0, 0.0, 0.0],
            [30.0, 0.0, 40.0, 0.0],
            [0.0, 0.0, 0.0, 0.0],
        ]]];
        // (the 2 at (0,2) is the first maximum of its window; the 2 at (1,3) is not)
        assert_eq!(dx, want.into_dyn());
    }

    #[test]
    fn overlapping_windows_accumulate() {
        let x = array![[[[0.0, 9.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]]];
        let mut pool = Pooling::new(2, 2, 1);
        let out = pool.forward(x.into_dyn(), true);
        assert_eq!(out, array![[[[9.0, 9.0], [0.0, 0.0]]]].into_dyn());
        let dx = pool.backward(Array::ones((1, 1, 2, 2)).into_dyn());
        assert_eq!(dx[[0, 0, 0, 1]], 2.0);
        // The all-zero lower windows pick their first element.
        assert_eq!(dx[[0, 0, 1, 0]], 1.0);
        assert_eq!(dx[[0, 0, 1, 1]], 1.0);
        assert_eq!(dx.sum(), 4.0);
    }

    #[test]
    fn matches_the_books_im2col_formulation_at_every_instruction_set() {
        let mut rng = Rng::new(8);
        let x = Array::from_shape_simple_fn((2, 3, 7, 6), || rng.normal());
        // the general scan and the 2×2 fast path, training and test mode
        for (ph, pw, stride, oh, ow) in [(3, 2, 2, 3, 3), (2, 2, 2, 3, 3)] {
            let col = im2col(x.view(), ph, pw, stride, 0)
                .into_shape_with_order((2 * oh * ow * 3, ph * pw))
                .unwrap();
            let max = col.map_axis(Axis(1), |r| r.iter().copied().fold(f64::MIN, f64::max));
            let book = max
                .into_shape_with_order((2, oh, ow, 3))
                .unwrap()
                .permuted_axes([0, 3, 1, 2])
                .into_dyn();
            let mut dxs = Vec::new();
            for simd in crate::cpu::testable() {
                let mut pool = Pooling::new(ph, pw, stride);
                crate::cpu::with_simd(simd, || {
                    for train in [false, true] {
                        let ours = pool.forward(x.clone().into_dyn(), train);
                        assert_eq!(ours, book, "{simd} {ph}×{pw} train {train}");
                    }
                    // the arg-maxes the training pass recorded, as seen by backward
                    dxs.push(pool.backward(book.mapv(|v| v * 10.0)));
                });
            }
            assert!(dxs.iter().all(|dx| *dx == dxs[0]), "{ph}×{pw}");
            assert!((dxs[0].sum() - book.sum() * 10.0).abs() < 1e-9);
        }
    }

    #[test]
    fn a_large_test_mode_batch_leaves_no_large_buffer_behind() {
        let mut pool = Pooling::<f32>::new(2, 2, 2);
        let out = pool.forward(Array::zeros((2, 3, 4, 4)).into_dyn(), true);
        pool.backward(out);
        let _ = pool.forward(Array::zeros((500, 3, 4, 4)).into_dyn(), false);
        let held = pool.arg_max.capacity() + pool.spare_out.capacity() + pool.spare_dx.capacity();
        assert!(held <= 2 * 3 * 4 + 2 * 3 * 16 + 2 * 3 * 4, "{held}");
    }

    #[test]
    fn two_threads_agree_with_one() {
        // 16·30·24·24 ≈ 276 K values: enough for the images to be split in two runs.
        let mut rng = Rng::new(12);
        let x = Array::from_shape_simple_fn((16, 30, 24, 24), || rng.normal()).into_dyn();
        let dout = Array::from_shape_simple_fn((16, 30, 12, 12), || rng.normal()).into_dyn();
        let split =
            crate::linalg::with_threads(2, || crate::parallel::runs_elementwise(16, x.len()));
        assert_eq!(split.len(), 2);
        let run = |threads| {
            crate::linalg::with_threads(threads, || {
                let mut pool = Pooling::new(2, 2, 2);
                let out = pool.forward(x.clone(), true);
                let dx = pool.backward(dout.clone());
                (out, dx, pool.forward(x.clone(), false))
            })
        };
        assert_eq!(run(1), run(2));
    }

    #[test]
    fn gradient_2x2_stride_2() {
        check_layer(&mut Pooling::new(2, 2, 2), &[2, 3, 6, 5], 1);
    }

    #[test]
    fn gradient_3x3_stride_1() {
        check_layer(&mut Pooling::new(3, 3, 1), &[2, 2, 5, 5], 2);
    }

    #[test]
    fn the_2x2_fast_path_agrees_with_the_general_scan() {
        // A 2×2 window with stride 2 takes the fast path, stride 1 the general scan, which
        // visits the same windows and more. Few distinct values make many ties (the tie
        // order of the fast path is checked by `hand_computed_with_ties`).
        let mut rng = Rng::new(5);
        let x = Array::from_shape_simple_fn((2, 2, 6, 7), || (rng.below(4) as f64) - 1.0);
        let mut fast = Pooling::new(2, 2, 2);
        let out = fast.forward(x.clone().into_dyn(), true);
        let dx = fast.backward(out.clone());
        let mut general = Pooling::new(2, 2, 1);
        let out1 = general.forward(x.into_dyn(), true);
        // stride 1 visits every window; the stride-2 windows are every other one.
        let sub = out1.slice_each_axis(|ax| match ax.axis.index() {
            2 | 3 => ndarray::Slice::new(0, None, 2),
            _ => ndarray::Slice::from(..),
        });
        assert_eq!(out, sub.into_owned());
        // Each output's gradient lands on exactly one input of its window.
        assert_eq!(dx.sum(), out.sum());
    }

    #[test]
    fn the_2x2_gradient_is_the_scatter_of_dout_onto_the_maxima_to_the_bit() {
        // Odd sizes leave a row and a column under no window; negative zeros in dout must
        // come out as the scatter's 0 + (−0) = +0.
        let mut rng = Rng::new(12);
        let x = Array::from_shape_simple_fn((2, 3, 7, 9), || rng.normal()).into_dyn();
        let mut pool = Pooling::new(2, 2, 2);
        let out = pool.forward(x, true);
        assert_eq!(out.shape(), &[2, 3, 3, 4]);
        let dout = Array::from_shape_fn(out.raw_dim(), |ix| {
            if ix[3] % 2 == 0 {
                -0.0
            } else {
                ix[2] as f64 - 1.5
            }
        });
        let mut want = vec![0.0f64; 2 * 3 * 7 * 9];
        for (o, (&d, &at)) in dout.iter().zip(&pool.arg_max).enumerate() {
            want[(o / 12) * 63 + at as usize] += d;
        }
        let dx = pool.backward(dout);
        let bits = |v: &mut dyn Iterator<Item = f64>| v.map(f64::to_bits).collect::<Vec<_>>();
        assert_eq!(bits(&mut dx.iter().copied()), bits(&mut want.into_iter()));
    }

    #[test]
    fn gradient_3x2_stride_2() {
        check_layer(&mut Pooling::new(3, 2, 2), &[2, 2, 7, 6], 3);
    }
}
