//! `TwoLayerNet`, the network of §5.7: Affine → ReLU → Affine → Softmax-with-Loss.

use std::ops::{Deref, DerefMut};

use super::{Arch, Network};
use crate::float::Float;
use crate::rng::Rng;

/// The book's two-layer net: `W1 (input, hidden)`, `b1`, `W2 (hidden, output)`, `b2`, with
/// Gaussian weights of standard deviation `weight_init_std` (the book uses 0.01) and zero
/// biases. It derefs to [`Network`] for `predict`, `loss`, `accuracy`, `gradient` and
/// `numerical_gradient`.
///
/// ```
/// use backprop::{nets::TwoLayerNet, rng::Rng, functions::Targets};
/// let mut net = TwoLayerNet::<f64>::new(4, 5, 3, 0.01, &mut Rng::new(0));
/// let x = ndarray::Array2::<f64>::ones((2, 4)).into_dyn();
/// let loss = net.gradient(x, Targets::Labels(&[0, 2]));
/// assert!((loss - 3f64.ln()).abs() < 1e-2); // tiny weights: every class ≈ 1/3
/// assert_eq!(net.param_names(), ["W1", "b1", "W2", "b2"]);
/// ```
pub struct TwoLayerNet<F: Float>(Network<F>);

impl<F: Float> TwoLayerNet<F> {
    /// A fresh net with weights drawn from `rng`.
    pub fn new(
        input_size: usize,
        hidden_size: usize,
        output_size: usize,
        weight_init_std: f64,
        rng: &mut Rng,
    ) -> Self {
        let arch = Arch::TwoLayer {
            hidden: hidden_size,
            weight_init_std,
        };
        let plan = arch.plan([1, 1, input_size], output_size);
        TwoLayerNet(arch.assemble(&plan, rng))
    }

    /// The underlying [`Network`].
    pub fn into_inner(self) -> Network<F> {
        self.0
    }
}

impl<F: Float> Deref for TwoLayerNet<F> {
    type Target = Network<F>;
    fn deref(&self) -> &Network<F> {
        &self.0
    }
}

impl<F: Float> DerefMut for TwoLayerNet<F> {
    fn deref_mut(&mut self) -> &mut Network<F> {
        &mut self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::functions::Targets;
    use crate::gradient::relative_error;
    use ndarray::Array2;

    #[test]
    fn backprop_matches_numerical_gradient() {
        let mut rng = Rng::new(11);
        // A larger init than the book's keeps gradients well above the f64 noise floor.
        let mut net = TwoLayerNet::<f64>::new(6, 5, 4, 0.5, &mut rng);
        let x = Array2::from_shape_simple_fn((3, 6), || rng.normal()).into_dyn();
        let t = [1, 3, 0];
        net.gradient(x.clone(), Targets::Labels(&t));
        let backprop: Vec<_> = net.params().iter().map(|p| p.grad.to_owned()).collect();
        let numerical = net.numerical_gradient(&x, Targets::Labels(&t), 1e-5);
        for ((name, num), bp) in numerical.iter().zip(&backprop) {
            // the loss carries the 1e-7 guard and the gradient does not (as in the book's
            // ch05/gradient_check.py, §5.7.3)
            let e = relative_error(bp, num);
            assert!(e < 1e-6, "{name}: relative error {e:e}");
        }
    }

    #[test]
    fn walking_the_layers_one_by_one_is_the_networks_gradient() {
        // The book's TwoLayerNet.gradient written out over `layer_mut` and `last_layer_mut`:
        // the same loss and gradients as `Network::gradient`, and ReLU's mask reachable
        // through the layer's concrete type.
        let mut rng = Rng::new(5);
        let x = Array2::from_shape_simple_fn((4, 6), || rng.normal()).into_dyn();
        let t = [2, 0, 3, 3];
        let mut whole = TwoLayerNet::<f64>::new(6, 5, 4, 0.5, &mut Rng::new(9)).into_inner();
        let want_loss = whole.gradient(x.clone(), Targets::Labels(&t));
        let want: Vec<_> = whole.params().iter().map(|p| p.grad.to_owned()).collect();

        let mut net = TwoLayerNet::<f64>::new(6, 5, 4, 0.5, &mut Rng::new(9)).into_inner();
        let mut h = x.clone();
        for k in 0..3 {
            h = net.layer_mut(k).unwrap().forward(h, true);
        }
        assert!(net.layer_mut(3).is_none());
        let loss = net
            .last_layer_mut()
            .forward(h.into_dimensionality().unwrap(), Targets::Labels(&t));
        assert_eq!(loss, want_loss);
        let relu = net.layer_mut(1).unwrap() as &mut dyn std::any::Any;
        let mask = relu.downcast_ref::<crate::layers::Relu>().unwrap().mask();
        assert_eq!(mask.shape(), [4, 5]);
        let mut dout = net.last_layer_mut().backward(1.0).into_dyn();
        for k in (0..3).rev() {
            dout = net.layer_mut(k).unwrap().backward(dout);
        }
        let got: Vec<_> = net.params().iter().map(|p| p.grad.to_owned()).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn weight_decay_adds_lambda_w_to_weight_gradients_only() {
        let x = Array2::from_shape_fn((2, 3), |(i, j)| (i + j) as f64 - 1.0).into_dyn();
        let t = Targets::Labels(&[0, 1]);
        let mut plain = TwoLayerNet::<f64>::new(3, 4, 2, 0.3, &mut Rng::new(2)).into_inner();
        let mut decayed = TwoLayerNet::<f64>::new(3, 4, 2, 0.3, &mut Rng::new(2))
            .into_inner()
            .with_weight_decay(0.1);
        let l0 = plain.gradient(x.clone(), t);
        let l1 = decayed.gradient(x, t);
        let sum_w2: f64 = plain
            .params()
            .iter()
            .filter(|p| p.kind == crate::layers::ParamKind::Weight)
            .map(|p| p.value.iter().map(|w| w * w).sum::<f64>())
            .sum();
        assert!((l1 - l0 - 0.05 * sum_w2).abs() < 1e-12);
        for (p, q) in plain.params().iter().zip(decayed.params().iter()) {
            let want = if p.kind == crate::layers::ParamKind::Weight {
                &p.grad + &(&p.value * 0.1)
            } else {
                p.grad.to_owned()
            };
            assert!(
                relative_error(&want, &q.grad.to_owned()) < 1e-12,
                "{}",
                p.name
            );
        }
    }
}
