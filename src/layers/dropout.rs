//! Dropout (§6.4.3), with the book's semantics.

use ndarray::{ArrayD, Zip};

use super::Layer;
use crate::float::Float;
use crate::rng::Rng;

/// Randomly silences units during training.
///
/// * Training: draws `mask = (u > dropout_ratio)` with `u ~ U[0, 1)` for every element and
///   returns `x · mask`. **Unscaled**, as in the book (not the "inverted" dropout that divides
///   by the keep probability).
/// * Test: returns `x · (1 − dropout_ratio)`, the expected value of the training output.
///
/// Backward: `∂out/∂x = mask`, so `dx = dout · mask` with the mask of the last training pass.
///
/// The mask comes from the layer's own [`Rng`], which the network derives from the run's
/// seed, so a run is reproducible and a checkpoint can save the generator.
#[derive(Debug)]
pub struct Dropout {
    /// The probability of dropping a unit.
    pub dropout_ratio: f64,
    mask: ArrayD<bool>,
    rng: Rng,
}

impl Dropout {
    /// A dropout layer that drops each unit with probability `dropout_ratio`.
    pub fn new(dropout_ratio: f64, rng: Rng) -> Self {
        assert!(
            (0.0..1.0).contains(&dropout_ratio),
            "dropout ratio {dropout_ratio} not in [0, 1)"
        );
        Dropout {
            dropout_ratio,
            mask: ArrayD::from_elem(vec![0], false),
            rng,
        }
    }

    /// The mask of the last training pass (`true` where the unit was kept).
    pub fn mask(&self) -> &ArrayD<bool> {
        &self.mask
    }
}

impl<F: Float> Layer<F> for Dropout {
    fn name(&self) -> &'static str {
        "Dropout"
    }

    fn op(&self) -> super::Op {
        super::Op::Dropout {
            ratio: self.dropout_ratio,
        }
    }

    fn forward(&mut self, mut x: ArrayD<F>, train: bool) -> ArrayD<F> {
        if train {
            let ratio = self.dropout_ratio;
            let rng = &mut self.rng;
            if self.mask.shape() != x.shape() {
                self.mask = ArrayD::from_elem(x.raw_dim(), false);
            }
            // Drawn in memory order, so the same seed gives the same mask for the same shape.
            for m in self.mask.iter_mut() {
                *m = rng.uniform() > ratio;
            }
            Zip::from(&mut x).and(&self.mask).for_each(|v, &keep| {
                if !keep {
                    *v = F::zero();
                }
            });
            x
        } else {
            x *= F::lit(1.0 - self.dropout_ratio);
            x
        }
    }

    fn backward(&mut self, mut dout: ArrayD<F>) -> ArrayD<F> {
        assert_eq!(
            dout.shape(),
            self.mask.shape(),
            "Dropout::backward: dout shape"
        );
        Zip::from(&mut dout).and(&self.mask).for_each(|d, &keep| {
            if !keep {
                *d = F::zero();
            }
        });
        dout
    }

    fn rng(&mut self) -> Option<&mut Rng> {
        Some(&mut self.rng)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradient::check_layer;

    #[test]
    fn drops_about_ratio_and_scales_at_test_time() {
        let mut d = Dropout::new(0.2, Rng::new(1));
        let x = ArrayD::<f64>::ones(vec![100, 100]);
        let y = d.forward(x.clone(), true);
        let kept = y.iter().filter(|&&v| v == 1.0).count();
        assert_eq!(kept, d.mask().iter().filter(|&&m| m).count());
        assert!((7_800..8_200).contains(&kept), "{kept}");
        let y_test = Layer::<f64>::forward(&mut d, x, false);
        assert!(y_test.iter().all(|&v| (v - 0.8).abs() < 1e-15));
    }

    #[test]
    fn same_seed_same_mask() {
        let x = ArrayD::<f32>::ones(vec![4, 10]);
        let a = Dropout::new(0.5, Rng::new(9)).forward(x.clone(), true);
        let b = Dropout::new(0.5, Rng::new(9)).forward(x, true);
        assert_eq!(a, b);
    }

    #[test]
    fn gradient_matches_numerical() {
        // check_layer replays the layer's generator so every forward uses the same mask.
        check_layer(&mut Dropout::new(0.3, Rng::new(4)), &[3, 8], 5);
    }
}
