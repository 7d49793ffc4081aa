//! Affine, the fully connected layer (§5.6.1–5.6.2).

use ndarray::{Array1, Array2, ArrayD, Axis, IxDyn, Zip};

use super::buffers::{flatten_2d, recycle, reuse};
use super::{Layer, Param};
use crate::float::Float;
use crate::linalg::gemm;

/// `out = x · W + b`, with `W` of shape `(in, out)` and `b` of shape `(out,)`.
///
/// Backward, for `dout = ∂L/∂out` of shape `(N, out)`:
///
/// * `dx = dout · Wᵀ` — shape `(N, in)`, reshaped back to the input's shape;
/// * `dW = xᵀ · dout` — shape `(in, out)`;
/// * `db = Σₙ dout[n, :]` — the bias was broadcast over the batch, so its gradient sums over it.
///
/// Like the book's layer, an N-D input (say convolution output `(N, C, H, W)`) is flattened to
/// `(N, C·H·W)` and the gradient is given back in the original shape.
///
/// For speed, like [`super::Convolution`], the layer recycles storage: `out` is written into
/// the storage of the last `dout` and `dx` into that of `x` (same shapes), the bias is
/// written first and the product added to it (β = 1, one pass over `out` fewer), and `db`
/// is summed in place; at a steady batch size a training step allocates nothing here.
#[derive(Debug)]
pub struct Affine<F> {
    /// Weights `(in, out)`.
    pub w: Array2<F>,
    /// Bias `(out,)`.
    pub b: Array1<F>,
    /// `∂L/∂W` of the last backward pass.
    pub dw: Array2<F>,
    /// `∂L/∂b` of the last backward pass.
    pub db: Array1<F>,
    x: Array2<F>,
    original_x_shape: Vec<usize>,
    input_grad: bool,
    /// Storage to reuse for the next output (recycled from `dout`).
    spare_out: Vec<F>,
}

impl<F: Float> Affine<F> {
    /// An affine layer with the given weights and bias.
    pub fn new(w: Array2<F>, b: Array1<F>) -> Self {
        assert_eq!(
            w.ncols(),
            b.len(),
            "Affine: W is {:?} but b is {:?}",
            w.dim(),
            b.dim()
        );
        let (dw, db) = (Array2::zeros(w.raw_dim()), Array1::zeros(b.raw_dim()));
        Affine {
            w,
            b,
            dw,
            db,
            x: Array2::zeros((0, 0)),
            original_x_shape: Vec::new(),
            input_grad: true,
            spare_out: Vec::new(),
        }
    }
}

impl<F: Float> Layer<F> for Affine<F> {
    fn name(&self) -> &'static str {
        "Affine"
    }

    fn op(&self) -> super::Op {
        super::Op::Affine
    }

    fn forward(&mut self, x: ArrayD<F>, _train: bool) -> ArrayD<F> {
        self.original_x_shape.clear();
        self.original_x_shape.extend_from_slice(x.shape());
        let x = flatten_2d(x);
        assert_eq!(
            x.ncols(),
            self.w.nrows(),
            "Affine: input has {} features per sample but W is {:?}",
            x.ncols(),
            self.w.dim()
        );
        let mut out = reuse(&mut self.spare_out, &[x.nrows(), self.w.ncols()])
            .into_dimensionality()
            .expect("2-D");
        out.assign(&self.b); // broadcast over the rows
        gemm(F::one(), x.view(), self.w.view(), F::one(), &mut out);
        self.x = x;
        out.into_dyn()
    }

    fn backward(&mut self, dout: ArrayD<F>) -> ArrayD<F> {
        let dout = flatten_2d(dout);
        gemm(F::one(), self.x.t(), dout.view(), F::zero(), &mut self.dw);
        self.db.fill(F::zero());
        for row in dout.axis_iter(Axis(0)) {
            Zip::from(&mut self.db).and(row).for_each(|d, &v| *d += v);
        }
        if !self.input_grad {
            self.spare_out = recycle(dout.into_dyn());
            return ArrayD::zeros(IxDyn(&[0]));
        }
        // dx has x's shape: write it over x, which backward no longer needs.
        let x = std::mem::replace(&mut self.x, Array2::zeros((0, 0)));
        let mut dx = reuse(&mut recycle(x.into_dyn()), &self.original_x_shape);
        {
            let mut dx2 = dx
                .view_mut()
                .into_shape_with_order((dout.nrows(), self.w.nrows()))
                .expect("dx has the input's size");
            gemm(F::one(), dout.view(), self.w.t(), F::zero(), &mut dx2);
        }
        self.spare_out = recycle(dout.into_dyn());
        dx
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
    use crate::gradient::check_layer;
    use crate::rng::Rng;
    use ndarray::array;

    fn random_affine(i: usize, o: usize, seed: u64) -> Affine<f64> {
        let mut rng = Rng::new(seed);
        let w = Array2::from_shape_simple_fn((i, o), || rng.normal());
        let b = Array1::from_shape_simple_fn(o, || rng.normal());
        Affine::new(w, b)
    }

    #[test]
    fn hand_computed_forward_and_backward() {
        let mut a = Affine::new(
            array![[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]],
            array![0.5, -0.5],
        );
        let out = a.forward(array![[1.0, 0.0, -1.0]].into_dyn(), true);
        assert_eq!(out, array![[-3.5, -4.5]].into_dyn());
        let dx = a.backward(array![[1.0, 2.0]].into_dyn());
        assert_eq!(dx, array![[5.0, 11.0, 17.0]].into_dyn());
        assert_eq!(a.dw, array![[1.0, 2.0], [0.0, 0.0], [-1.0, -2.0]]);
        assert_eq!(a.db, array![1.0, 2.0]);
    }

    #[test]
    fn gradient_matches_numerical() {
        check_layer(&mut random_affine(6, 4, 1), &[3, 6], 3);
    }

    #[test]
    fn flattens_nd_input_and_restores_gradient_shape() {
        let mut a = random_affine(2 * 3 * 3, 5, 2);
        check_layer(&mut a, &[4, 2, 3, 3], 4);
    }
}
