//! ReLU (§5.5.1).

use ndarray::{ArrayD, Zip};

use super::Layer;
use crate::float::Float;
use crate::kernels;

/// `y = x` where `x > 0`, else `0`.
///
/// Forward remembers `mask = (x <= 0)`. Backward: `∂y/∂x = 1` where `x > 0` and `0`
/// elsewhere (also at `x = 0`, as in the book's layer), so `dx = dout` with the masked
/// entries set to zero.
///
/// The book's backward zeroes `dout` in place and returns it, which silently changes an array
/// its caller may still hold. Here `dout` is taken by value: the layer may reuse the buffer
/// because nobody else can see it.
#[derive(Debug, Default)]
pub struct Relu {
    mask: ArrayD<bool>,
}

impl Relu {
    /// A ReLU layer.
    pub fn new() -> Self {
        Self::default()
    }

    /// The mask of the last forward pass (`true` where the input was `<= 0`).
    pub fn mask(&self) -> &ArrayD<bool> {
        &self.mask
    }
}

impl<F: Float> Layer<F> for Relu {
    fn name(&self) -> &'static str {
        "Relu"
    }

    fn op(&self) -> super::Op {
        super::Op::Relu
    }

    fn forward(&mut self, mut x: ArrayD<F>, _train: bool) -> ArrayD<F> {
        if self.mask.shape() != x.shape() {
            self.mask = ArrayD::from_elem(x.raw_dim(), false);
        }
        // Flat slices when both are contiguous (always, in a network), and a select rather
        // than a branch: the signs of real activations are unpredictable, and a mispredicted
        // branch per element made this loop cost as much as the convolution before it.
        if let (Some(xs), Some(ms)) = (
            x.as_slice_memory_order_mut(),
            self.mask.as_slice_memory_order_mut(),
        ) {
            kernels::relu::forward(xs, ms);
            return x;
        }
        Zip::from(&mut self.mask)
            .and(&x)
            .for_each(|m, &v| *m = v <= F::zero());
        Zip::from(&mut x).and(&self.mask).for_each(|v, &m| {
            if m {
                *v = F::zero();
            }
        });
        x
    }

    fn backward(&mut self, mut dout: ArrayD<F>) -> ArrayD<F> {
        assert_eq!(
            dout.shape(),
            self.mask.shape(),
            "Relu::backward: dout shape"
        );
        if let (Some(ds), Some(ms)) = (
            dout.as_slice_memory_order_mut(),
            self.mask.as_slice_memory_order_mut(),
        ) {
            kernels::relu::backward(ds, ms);
            return dout;
        }
        Zip::from(&mut dout).and(&self.mask).for_each(|d, &m| {
            if m {
                *d = F::zero();
            }
        });
        dout
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradient::check_layer;
    use ndarray::array;

    #[test]
    fn two_threads_agree_with_one() {
        // 300,000 values: above the element-wise threshold, so cut in two runs.
        let x = ndarray::Array1::from_shape_fn(300_000, |i| ((i * 7919) % 1001) as f64 - 500.0)
            .into_dyn();
        let dout = ndarray::Array1::from_shape_fn(300_000, |i| i as f64).into_dyn();
        let run = |threads| {
            crate::linalg::with_threads(threads, || {
                let mut relu = Relu::new();
                let out = relu.forward(x.clone(), true);
                (out, relu.backward(dout.clone()))
            })
        };
        let (one, two) = (run(1), run(2));
        assert_eq!(one, two);
        assert_eq!(two.0, x.mapv(|v| v.max(0.0)));
        assert_eq!(
            two.1,
            ndarray::Zip::from(&x)
                .and(&dout)
                .map_collect(|&v, &d| if v > 0.0 { d } else { 0.0 })
        );
    }

    #[test]
    fn every_instruction_set_agrees_with_the_definition() {
        // 1003 values: whole vectors of every width and a tail; zeros, signs and a NaN.
        let x = ndarray::Array1::from_shape_fn(1003, |i| match i % 7 {
            0 => 0.0,
            1 => -0.0,
            _ if i == 500 => f32::NAN,
            _ => ((i * 7919) % 1001) as f32 - 500.0,
        })
        .into_dyn();
        let dout = ndarray::Array1::from_shape_fn(1003, |i| i as f32 + 1.0).into_dyn();
        for simd in crate::cpu::testable() {
            let mut relu = Relu::new();
            let (y, dx) = crate::cpu::with_simd(simd, || {
                let y = relu.forward(x.clone(), true);
                (y, relu.backward(dout.clone()))
            });
            let want_y = x.mapv(|v| if v <= 0.0 { 0.0 } else { v });
            let want_dx = ndarray::Zip::from(&x)
                .and(&dout)
                .map_collect(|&v, &d| if v <= 0.0 { 0.0 } else { d });
            // Bit-exact, NaN (kept, as `NaN <= 0` is false) and -0 (→ +0) included.
            assert_eq!(y.mapv(f32::to_bits), want_y.mapv(f32::to_bits), "{simd}");
            assert_eq!(dx, want_dx, "{simd}");
        }
    }

    #[test]
    fn book_mask_example() {
        let mut relu = Relu::new();
        let x = array![[1.0, -0.5], [-2.0, 3.0]].into_dyn();
        let y = Layer::<f64>::forward(&mut relu, x, true);
        assert_eq!(y, array![[1.0, 0.0], [0.0, 3.0]].into_dyn());
        assert_eq!(
            relu.mask(),
            &array![[false, true], [true, false]].into_dyn()
        );
        let dout = array![[5.0, 6.0], [7.0, 8.0]].into_dyn();
        let kept = dout.clone();
        let dx = Layer::<f64>::backward(&mut relu, dout.clone());
        assert_eq!(dx, array![[5.0, 0.0], [0.0, 8.0]].into_dyn());
        assert_eq!(dout, kept, "the caller's array is untouched");
    }

    #[test]
    fn gradient_matches_numerical() {
        check_layer(&mut Relu::new(), &[4, 7], 1);
    }
}
