//! `SimpleConvNet`, the network of §7.5: Convolution → ReLU → Pooling → Affine → ReLU →
//! Affine → Softmax-with-Loss.

use std::ops::{Deref, DerefMut};

use super::{Arch, LayerPlan, Network};
use crate::error::{Error, Result};
use crate::float::Float;
use crate::rng::Rng;

/// The convolution settings of [`SimpleConvNet`], the book's `conv_param`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ConvParam {
    /// Number of filters (`filter_num`, 30 in the book).
    pub filter_num: usize,
    /// Filters are `filter_size × filter_size` (5 in the book).
    pub filter_size: usize,
    /// Zero padding (0 in the book).
    pub pad: usize,
    /// Stride (1 in the book).
    pub stride: usize,
}

impl Default for ConvParam {
    /// The book's `{'filter_num': 30, 'filter_size': 5, 'pad': 0, 'stride': 1}`.
    fn default() -> Self {
        ConvParam {
            filter_num: 30,
            filter_size: 5,
            pad: 0,
            stride: 1,
        }
    }
}

/// The book's simple convolutional net: `conv → ReLU → max-pool 2×2 stride 2 → Affine →
/// ReLU → Affine`, with Gaussian weights of standard deviation `weight_init_std` (0.01 in the
/// book) and zero biases. Parameters `W1 (FN, C, F, F)`, `b1`, `W2 (FN·PH·PW, hidden)`, `b2`,
/// `W3 (hidden, output)`, `b3`; for `1×28×28` input and the book's settings, `W2` is
/// `(4320, 100)` and the net has 433,890 parameters.
///
/// The spatial sizes are computed from the input shape, so the same net fits the 8×8 digits
/// (conv 4×4, pool 2×2, `W2 (120, hidden)`). It derefs to [`Network`].
///
/// ```
/// use backprop::{nets::{ConvParam, SimpleConvNet}, rng::Rng};
/// let mut net = SimpleConvNet::<f32>::new([1, 28, 28], ConvParam::default(), 100, 10, 0.01, &mut Rng::new(0))?;
/// assert_eq!(net.param_count(), 433_890);
/// # Ok::<(), backprop::Error>(())
/// ```
pub struct SimpleConvNet<F: Float>(Network<F>);

impl<F: Float> SimpleConvNet<F> {
    /// A fresh net for images of `input_dim` `[C, H, W]`, or [`Error::Shape`] when the
    /// filters and the 2×2 pooling do not fit the images.
    pub fn new(
        input_dim: [usize; 3],
        conv: ConvParam,
        hidden_size: usize,
        output_size: usize,
        weight_init_std: f64,
        rng: &mut Rng,
    ) -> Result<Self> {
        let [c, h, w] = input_dim;
        let ConvParam {
            filter_num,
            filter_size: fs,
            pad,
            stride,
        } = conv;
        if filter_num == 0 || fs == 0 || stride == 0 || hidden_size == 0 {
            return Err(Error::Invalid(format!(
                "SimpleConvNet: filter count, filter size, stride and hidden size must be \
                 positive, got {conv:?} and hidden {hidden_size}"
            )));
        }
        let arch = Arch::SimpleConv {
            conv,
            hidden: hidden_size,
            weight_init_std,
        };
        let plan = arch.plan(input_dim, output_size);
        if !plan.iter().all(LayerPlan::fits) {
            // The smallest image whose convolution output still holds one 2×2 pooling window.
            let min = (fs + stride).saturating_sub(2 * pad).max(1);
            return Err(Error::Shape(format!(
                "SimpleConvNet with {fs}×{fs} filters (pad {pad}, stride {stride}) and 2×2 \
                 pooling needs images of at least {min}×{min} with at least one channel, \
                 got {c}×{h}×{w}"
            )));
        }
        Ok(SimpleConvNet(arch.assemble(&plan, rng)))
    }

    /// The underlying [`Network`].
    pub fn into_inner(self) -> Network<F> {
        self.0
    }
}

impl<F: Float> Deref for SimpleConvNet<F> {
    type Target = Network<F>;
    fn deref(&self) -> &Network<F> {
        &self.0
    }
}

impl<F: Float> DerefMut for SimpleConvNet<F> {
    fn deref_mut(&mut self) -> &mut Network<F> {
        &mut self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::functions::Targets;
    use crate::gradient::{mean_abs_diff, relative_error};
    use ndarray::Array4;

    #[test]
    fn book_shapes_and_parameter_count() {
        let mut net = SimpleConvNet::<f32>::new(
            [1, 28, 28],
            ConvParam::default(),
            100,
            10,
            0.01,
            &mut Rng::new(0),
        )
        .unwrap();
        assert_eq!(net.param_count(), 433_890);
        assert_eq!(net.param_names(), ["W1", "b1", "W2", "b2", "W3", "b3"]);
        let shapes: Vec<Vec<usize>> = net
            .params()
            .iter()
            .map(|p| p.value.shape().to_vec())
            .collect();
        assert_eq!(
            shapes,
            [
                vec![30, 1, 5, 5],
                vec![30],
                vec![4320, 100],
                vec![100],
                vec![100, 10],
                vec![10]
            ]
        );
        let std = net.params()[2].value.std(0.0);
        assert!((std - 0.01).abs() < 2e-4, "{std}");
    }

    #[test]
    fn adapts_to_small_images_and_refuses_too_small_ones() {
        let mut net = SimpleConvNet::<f32>::new(
            [1, 8, 8],
            ConvParam::default(),
            100,
            10,
            0.01,
            &mut Rng::new(0),
        )
        .unwrap();
        assert_eq!(net.params()[2].value.shape(), [30 * 2 * 2, 100]);
        let y = net.predict(Array4::zeros((3, 1, 8, 8)).into_dyn(), false);
        assert_eq!(y.dim(), (3, 10));
        // 5×5 filters leave 1×1 on a 5×5 image: too small for the 2×2 pooling.
        let err = SimpleConvNet::<f32>::new(
            [1, 5, 5],
            ConvParam::default(),
            100,
            10,
            0.01,
            &mut Rng::new(0),
        )
        .err()
        .unwrap();
        assert!(err.to_string().contains("at least 6×6"), "{err}");
        assert!(
            SimpleConvNet::<f32>::new(
                [1, 6, 6],
                ConvParam::default(),
                100,
                10,
                0.01,
                &mut Rng::new(0)
            )
            .is_ok()
        );
    }

    /// The book's ch07/gradient_check.py: input (1, 10, 10), 10 filters of 3×3, hidden 10.
    #[test]
    fn backprop_matches_numerical_gradient_book_setting() {
        let conv = ConvParam {
            filter_num: 10,
            filter_size: 3,
            pad: 0,
            stride: 1,
        };
        let mut rng = Rng::new(1);
        let mut net = SimpleConvNet::<f64>::new([1, 10, 10], conv, 10, 10, 0.01, &mut rng).unwrap();
        let x = Array4::from_shape_simple_fn((2, 1, 10, 10), || rng.uniform()).into_dyn();
        let t = [1, 7];
        net.gradient(x.clone(), Targets::Labels(&t));
        let backprop: Vec<_> = net.params().iter().map(|p| p.grad.to_owned()).collect();
        // h = 1e-5 rather than the book's 1e-4: with weights of std 0.01 the conv outputs
        // are ~0.01, and a step of 1e-4 carries some of them across a ReLU kink or a pooling
        // tie (W1 then disagrees at ~1e-3). What remains, ≈ 5e-7 for every parameter, is the
        // loss's 1e-7 guard, which the gradient does not carry: δ / y ≈ 1e-6 with y ≈ 0.1.
        let numerical = net.numerical_gradient(&x, Targets::Labels(&t), 1e-5);
        for ((name, num), bp) in numerical.iter().zip(&backprop) {
            let e = relative_error(bp, num);
            println!(
                "{name}: mean |num − backprop| {:e}, relative error {e:e}",
                mean_abs_diff(bp, num)
            );
            assert!(e < 1e-6, "{name}: relative error {e:e}");
        }
    }
}
