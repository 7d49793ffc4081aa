//! `DeepConvNet`, the network of §8.1.1: six 3×3 convolutions in pairs, each pair followed
//! by max pooling, then Affine → ReLU → Dropout → Affine → Dropout.

use std::ops::{Deref, DerefMut};

use super::{Arch, LayerPlan, Network};
use crate::error::{Error, Result};
use crate::float::Float;
use crate::rng::Rng;

/// The filter counts and paddings of the six 3×3 convolutions (stride 1); the fourth pads by
/// 2, which turns the 14×14 maps of a 28×28 input into 16×16 so that the last pooling ends
/// on 4×4.
pub(crate) const CONVS: [(usize, usize); 6] =
    [(16, 1), (16, 1), (32, 1), (32, 2), (64, 1), (64, 1)];

/// The smallest image side the three 2×2 poolings accept (4 → 2 → 4 → 2 → 1).
pub const DEEP_CONV_MIN_SIDE: usize = 4;

/// The book's deep convolutional net (ch08 `deep_convnet.py`):
///
/// `conv(16)-ReLU-conv(16)-ReLU-pool-conv(32)-ReLU-conv(32, pad 2)-ReLU-pool-conv(64)-ReLU-`
/// `conv(64)-ReLU-pool-Affine(hidden)-ReLU-Dropout(0.5)-Affine(output)-Dropout(0.5)`
///
/// with 3×3 filters, pad 1 except the fourth, max pooling 2×2 stride 2, He initialisation
/// (`std = √(2 / fan_in)`, fan-in = input channels × 9 for a convolution, inputs for an
/// Affine) and zero biases. Parameters `W1…W8`, `b1…b8`; for `1×28×28` input, 10 classes and
/// `hidden = 50` it has 123,552 parameters.
///
/// As in the book there is a dropout after the last Affine: in test mode it scales the
/// scores by 0.5, which leaves the predicted class unchanged. The dropout layers draw their
/// masks from generators seeded from the build generator. The spatial sizes are computed from
/// the input; images need at least [`DEEP_CONV_MIN_SIDE`] pixels a side (8×8 digits give
/// 8 → 4 → 6 → 3 → 1, so the Affine takes 64 inputs). It derefs to [`Network`].
pub struct DeepConvNet<F: Float>(Network<F>);

impl<F: Float> DeepConvNet<F> {
    /// A fresh net for images of `input_dim` `[C, H, W]`, or [`Error::Shape`] when the images
    /// are too small for the three poolings.
    pub fn new(
        input_dim: [usize; 3],
        hidden_size: usize,
        output_size: usize,
        rng: &mut Rng,
    ) -> Result<Self> {
        let [c, h, w] = input_dim;
        if hidden_size == 0 {
            return Err(Error::Invalid(
                "DeepConvNet: hidden size must be positive".into(),
            ));
        }
        let too_small = || {
            Error::Shape(format!(
                "DeepConvNet's three 2×2 poolings need images of at least \
                 {DEEP_CONV_MIN_SIDE}×{DEEP_CONV_MIN_SIDE} with at least one channel, got {c}×{h}×{w}"
            ))
        };
        let arch = Arch::DeepConv {
            hidden: hidden_size,
        };
        let plan = arch.plan(input_dim, output_size);
        if !plan.iter().all(LayerPlan::fits) {
            return Err(too_small());
        }
        Ok(DeepConvNet(arch.assemble(&plan, rng)))
    }

    /// The underlying [`Network`].
    pub fn into_inner(self) -> Network<F> {
        self.0
    }
}

impl<F: Float> Deref for DeepConvNet<F> {
    type Target = Network<F>;
    fn deref(&self) -> &Network<F> {
        &self.0
    }
}

impl<F: Float> DerefMut for DeepConvNet<F> {
    fn deref_mut(&mut self) -> &mut Network<F> {
        &mut self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::functions::Targets;
    use crate::gradient::relative_error;
    use ndarray::Array4;

    #[test]
    fn book_shapes_init_and_parameter_count() {
        let mut net = DeepConvNet::<f64>::new([1, 28, 28], 50, 10, &mut Rng::new(0)).unwrap();
        assert_eq!(net.param_count(), 123_552);
        let names: Vec<String> = (1..=8)
            .flat_map(|k| [format!("W{k}"), format!("b{k}")])
            .collect();
        assert_eq!(net.param_names(), names);
        assert_eq!(net.params()[12].value.shape(), [1024, 50]);
        // The book's He scales from fan-ins [9, 144, 144, 288, 288, 576, 1024, 50]; the
        // smallest tensors (W1: 144 values) get a loose tolerance.
        let want = [
            0.471405, 0.117851, 0.117851, 0.083333, 0.083333, 0.058926, 0.044194, 0.2,
        ];
        for (k, want) in want.iter().enumerate() {
            let std = net.params()[2 * k].value.std(0.0);
            assert!(
                (std / want - 1.0).abs() < 0.15,
                "W{}: std {std} vs {want}",
                k + 1
            );
        }
        let kinds: Vec<&str> = net.layers().iter().map(|l| l.name()).collect();
        assert_eq!(kinds.iter().filter(|&&n| n == "Pooling").count(), 3);
        assert_eq!(kinds.last(), Some(&"Dropout"));
    }

    #[test]
    fn sizes_adapt_down_to_4x4_and_smaller_is_refused() {
        let mut net = DeepConvNet::<f32>::new([1, 8, 8], 50, 10, &mut Rng::new(0)).unwrap();
        assert_eq!(net.params()[12].value.shape(), [64, 50]);
        let y = net.predict(Array4::zeros((2, 1, 8, 8)).into_dyn(), false);
        assert_eq!(y.dim(), (2, 10));
        assert!(DeepConvNet::<f32>::new([1, 4, 4], 50, 10, &mut Rng::new(0)).is_ok());
        let err = DeepConvNet::<f32>::new([1, 3, 3], 50, 10, &mut Rng::new(0))
            .err()
            .unwrap();
        assert!(err.to_string().contains("at least 4×4"), "{err}");
    }

    #[test]
    fn backprop_matches_numerical_gradient() {
        // Dropout masks are redrawn on every forward pass, so replay the generators' states
        // for each evaluation of the loss: compare with a fixed-mask network. A ratio-0
        // check is not possible (the book's net fixes 0.5), so seed-replay it is.
        let mut rng = Rng::new(3);
        let mut net = DeepConvNet::<f64>::new([1, 6, 6], 6, 3, &mut rng).unwrap();
        let x = Array4::from_shape_simple_fn((2, 1, 6, 6), || rng.normal()).into_dyn();
        let t = [0, 2];
        let states: Vec<[u64; 4]> = net.rngs().iter().map(|r| r.state()).collect();
        let restore = |net: &mut Network<f64>| {
            for (r, s) in net.rngs().into_iter().zip(&states) {
                *r = Rng::from_state(*s);
            }
        };
        net.gradient(x.clone(), Targets::Labels(&t));
        let backprop: Vec<_> = net.params().iter().map(|p| p.grad.to_owned()).collect();
        let h = 1e-5;
        for (k, bp) in backprop.iter().enumerate() {
            // About 40 entries of each tensor keep the test fast (W6 alone has 36,864).
            let picks: Vec<usize> = (0..bp.len()).step_by((bp.len() / 40).max(1)).collect();
            let bp_slice = bp.as_slice_memory_order().unwrap();
            let bp = ndarray::ArrayD::from_shape_fn(vec![picks.len()], |i| bp_slice[picks[i[0]]]);
            let mut num = ndarray::ArrayD::zeros(bp.raw_dim());
            for (slot, &i) in picks.iter().enumerate() {
                let nudge = |net: &mut Network<f64>, d: f64| {
                    let mut ps = net.params();
                    ps[k].value.as_slice_memory_order_mut().unwrap()[i] += d;
                };
                nudge(&mut net, h);
                restore(&mut net);
                let f1 = net.loss(x.clone(), Targets::Labels(&t), true);
                nudge(&mut net, -2.0 * h);
                restore(&mut net);
                let f2 = net.loss(x.clone(), Targets::Labels(&t), true);
                nudge(&mut net, h);
                num[[slot]] = (f1 - f2) / (2.0 * h);
            }
            let e = relative_error(&bp, &num);
            assert!(e < 1e-6, "{}: relative error {e:e}", net.param_names()[k]);
        }
    }
}
