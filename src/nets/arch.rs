//! Architectures by name: what `--model` selects, what a model file records, and how to
//! build the network from it.

use super::{
    Activation, ConvParam, DeepConvNet, MultiLayerConfig, MultiLayerNet, Network, SimpleConvNet,
    TwoLayerNet,
};
use crate::data::Layout;
use crate::error::{Error, Result};
use crate::float::Float;
use crate::init::Init;
use crate::rng::Rng;

/// A network architecture, independent of the data it will be trained on.
#[derive(Clone, Debug, PartialEq)]
pub enum Arch {
    /// The book's TwoLayerNet (§5.7): Affine → ReLU → Affine.
    TwoLayer {
        /// Hidden units.
        hidden: usize,
        /// Standard deviation of the initial weights (the book's 0.01).
        weight_init_std: f64,
    },
    /// The book's SimpleConvNet (§7.5): conv → ReLU → pool → Affine → ReLU → Affine.
    SimpleConv {
        /// The convolution's filters, padding and stride.
        conv: ConvParam,
        /// Hidden units of the first Affine (the book's 100).
        hidden: usize,
        /// Standard deviation of the initial weights (the book's 0.01).
        weight_init_std: f64,
    },
    /// The book's DeepConvNet (§8.1.1): six 3×3 convolutions, three poolings, two Affine
    /// layers with dropout, He initialisation.
    DeepConv {
        /// Hidden units of the first Affine (the book's 50).
        hidden: usize,
    },
    /// The book's MultiLayerNet(Extend) (§6.1–6.4): hidden layers of any sizes, each
    /// `Affine → [BatchNorm] → activation → [Dropout]`, then Affine.
    MultiLayer {
        /// Units of each hidden layer.
        hidden: Vec<usize>,
        /// Hidden activation.
        activation: Activation,
        /// Initial weight scale.
        init: Init,
        /// Whether each hidden layer has batch norm.
        batch_norm: bool,
        /// Dropout ratio after each hidden activation, if any.
        dropout: Option<f64>,
        /// L2 weight decay λ.
        weight_decay: f64,
    },
}

impl Arch {
    /// The name `--model` uses (`two-layer`, …).
    pub fn name(&self) -> &'static str {
        match self {
            Arch::TwoLayer { .. } => "two-layer",
            Arch::SimpleConv { .. } => "simple-conv",
            Arch::DeepConv { .. } => "deep-conv",
            Arch::MultiLayer { .. } => "multi-layer",
        }
    }

    /// Whether the network takes flat vectors or images.
    pub fn layout(&self) -> Layout {
        match self {
            Arch::TwoLayer { .. } | Arch::MultiLayer { .. } => Layout::Flat,
            Arch::SimpleConv { .. } | Arch::DeepConv { .. } => Layout::Image,
        }
    }

    /// Builds a freshly initialised network for images of `image_shape` (`[C, H, W]`) and
    /// `classes` outputs, drawing initial weights from `rng`.
    pub fn build<F: Float>(
        &self,
        image_shape: [usize; 3],
        classes: usize,
        rng: &mut Rng,
    ) -> Result<Network<F>> {
        if classes < 2 {
            return Err(Error::Invalid(format!(
                "a classifier needs at least 2 classes, got {classes}"
            )));
        }
        let input: usize = image_shape.iter().product();
        Ok(match self {
            Arch::TwoLayer {
                hidden,
                weight_init_std,
            } => TwoLayerNet::new(input, *hidden, classes, *weight_init_std, rng).into_inner(),
            Arch::SimpleConv {
                conv,
                hidden,
                weight_init_std,
            } => SimpleConvNet::new(image_shape, *conv, *hidden, classes, *weight_init_std, rng)?
                .into_inner(),
            Arch::DeepConv { hidden } => {
                DeepConvNet::new(image_shape, *hidden, classes, rng)?.into_inner()
            }
            Arch::MultiLayer {
                hidden,
                activation,
                init,
                batch_norm,
                dropout,
                weight_decay,
            } => MultiLayerNet::new(
                &MultiLayerConfig {
                    input_size: input,
                    hidden_sizes: hidden.clone(),
                    output_size: classes,
                    activation: *activation,
                    init: *init,
                    batch_norm: *batch_norm,
                    dropout: *dropout,
                    weight_decay: *weight_decay,
                },
                rng,
            )?
            .into_inner(),
        })
    }
}
