//! Sigmoid (§5.5.2).

use ndarray::{ArrayD, Zip};

use super::Layer;
use crate::float::Float;

/// `y = 1 / (1 + exp(−x))`.
///
/// Backward: `∂y/∂x = y (1 − y)`, so `dx = dout · (1 − y) · y`, using the output `y`
/// remembered from the forward pass.
///
/// Unlike the book's `1 / (1 + np.exp(-x))`, which overflows `exp` for `x < −709` (and warns),
/// this evaluates `exp(x) / (1 + exp(x))` for negative `x`: same value, no overflow.
#[derive(Debug, Default)]
pub struct Sigmoid<F> {
    out: ArrayD<F>,
}

impl<F: Float> Sigmoid<F> {
    /// A sigmoid layer.
    pub fn new() -> Self {
        Sigmoid {
            out: ArrayD::zeros(vec![0]),
        }
    }
}

/// The logistic function without overflow for large `|x|`.
#[inline]
pub fn sigmoid<F: Float>(x: F) -> F {
    if x >= F::zero() {
        F::one() / (F::one() + (-x).exp())
    } else {
        let e = x.exp();
        e / (F::one() + e)
    }
}

impl<F: Float> Layer<F> for Sigmoid<F> {
    fn name(&self) -> &'static str {
        "Sigmoid"
    }

    fn op(&self) -> super::Op {
        super::Op::Sigmoid
    }

    fn forward(&mut self, mut x: ArrayD<F>, _train: bool) -> ArrayD<F> {
        x.mapv_inplace(sigmoid);
        if self.out.shape() == x.shape() {
            self.out.assign(&x);
        } else {
            self.out = x.clone();
        }
        x
    }

    fn backward(&mut self, mut dout: ArrayD<F>) -> ArrayD<F> {
        assert_eq!(
            dout.shape(),
            self.out.shape(),
            "Sigmoid::backward: dout shape"
        );
        Zip::from(&mut dout)
            .and(&self.out)
            .for_each(|d, &y| *d = *d * (F::one() - y) * y);
        dout
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradient::check_layer;

    #[test]
    fn no_overflow_for_large_inputs() {
        assert_eq!(sigmoid(-1000.0_f64), 0.0);
        assert_eq!(sigmoid(1000.0_f64), 1.0);
        assert_eq!(
            sigmoid(-100.0_f32),
            (-100.0_f32).exp() / (1.0 + (-100.0_f32).exp())
        );
        assert!((sigmoid(0.5_f64) - 0.6224593312018546).abs() < 1e-16);
    }

    #[test]
    fn gradient_matches_numerical() {
        check_layer(&mut Sigmoid::new(), &[5, 3], 2);
    }
}
