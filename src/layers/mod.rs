//! The array layers of chapters 5–7, one file each, `forward` and `backward` side by side.
//!
//! Every layer implements [`Layer`]: `forward` takes its input by value and returns its
//! output; `backward` takes the upstream gradient `dout = ∂L/∂out` by value and returns
//! `dx = ∂L/∂x`. Taking arrays by value lets a layer reuse a buffer it was handed (ReLU masks
//! in place) without ever mutating an array that its caller still holds. What a layer needs
//! for its backward pass (`mask`, `x`, `out`) it keeps in fields named after the book's.
//!
//! The loss layer [`SoftmaxWithLoss`] has a different shape of interface (it takes targets
//! and returns a scalar) and so is not a [`Layer`].

mod affine;
mod batch_norm;
pub(crate) mod buffers;
mod convolution;
mod dropout;
mod pooling;
mod relu;
mod sigmoid;
mod softmax_with_loss;

pub use affine::Affine;
pub use batch_norm::BatchNormalization;
pub use convolution::Convolution;
pub use dropout::Dropout;
pub use pooling::Pooling;
pub use relu::Relu;
pub use sigmoid::Sigmoid;
pub use softmax_with_loss::SoftmaxWithLoss;

use ndarray::{ArrayD, ArrayViewMutD};

use crate::float::Float;
use crate::rng::Rng;

/// What a parameter is, which decides its book name (`W3`, `b3`, `gamma2`, …) and whether
/// weight decay applies to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamKind {
    /// A weight matrix or filter bank, `W`. Weight decay applies to these only.
    Weight,
    /// A bias, `b`.
    Bias,
    /// A batch-norm scale, `gamma`.
    Gamma,
    /// A batch-norm shift, `beta`.
    Beta,
}

impl ParamKind {
    /// The book's name prefix: `W`, `b`, `gamma`, `beta`.
    pub fn prefix(self) -> &'static str {
        match self {
            ParamKind::Weight => "W",
            ParamKind::Bias => "b",
            ParamKind::Gamma => "gamma",
            ParamKind::Beta => "beta",
        }
    }
}

/// One trainable parameter of a layer: its value and the gradient of the last backward pass.
#[derive(Debug)]
pub struct Param<'a, F> {
    /// What the parameter is.
    pub kind: ParamKind,
    /// The value, updated in place by optimizers.
    pub value: ArrayViewMutD<'a, F>,
    /// `∂L/∂value` from the last backward pass.
    pub grad: ArrayViewMutD<'a, F>,
}

impl<'a, F> Param<'a, F> {
    /// The `W`, `b` pair of a layer with weights and a bias (Affine, Convolution), in the
    /// book's order.
    pub fn weight_and_bias<D1: ndarray::Dimension, D2: ndarray::Dimension>(
        w: &'a mut ndarray::Array<F, D1>,
        dw: &'a mut ndarray::Array<F, D1>,
        b: &'a mut ndarray::Array<F, D2>,
        db: &'a mut ndarray::Array<F, D2>,
    ) -> Vec<Self> {
        vec![
            Param {
                kind: ParamKind::Weight,
                value: w.view_mut().into_dyn(),
                grad: dw.view_mut().into_dyn(),
            },
            Param {
                kind: ParamKind::Bias,
                value: b.view_mut().into_dyn(),
                grad: db.view_mut().into_dyn(),
            },
        ]
    }
}

/// What a layer computes in test mode, with the settings that are not parameters: what an
/// exporter ([`crate::export`]) needs to write the same computation in another format. The
/// parameters and buffers themselves come from [`Layer::params`] and [`Layer::buffers`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Op {
    /// `x · W + b`, the input flattened to `(N, -1)` first ([`Affine`]).
    Affine,
    /// `max(0, x)` ([`Relu`]).
    Relu,
    /// `1 / (1 + exp(−x))` ([`Sigmoid`]).
    Sigmoid,
    /// `γ · (x − running_mean) / √(running_var + eps) + β` over the input flattened to
    /// `(N, -1)` ([`BatchNormalization`]).
    BatchNorm {
        /// The ε under the square root.
        eps: f64,
    },
    /// `x · (1 − ratio)` ([`Dropout`]'s test mode).
    Dropout {
        /// The training-time probability of dropping a unit.
        ratio: f64,
    },
    /// Cross-correlation with `W` `(FN, C, FH, FW)` plus `b`, zero padding `pad` on every
    /// side ([`Convolution`]).
    Convolution {
        /// Step between windows.
        stride: usize,
        /// Zeros added on each side.
        pad: usize,
    },
    /// Max pooling without padding ([`Pooling`]).
    MaxPool {
        /// Window height.
        pool_h: usize,
        /// Window width.
        pool_w: usize,
        /// Step between windows.
        stride: usize,
    },
}

/// A layer of a network: forward and backward over arrays whose first axis is the batch.
///
/// A `&dyn Layer<F>` converts to `&dyn Any` (the trait requires `Any`), so code that holds a
/// network's layer can reach the concrete type's fields (a ReLU's `mask`) by downcasting.
pub trait Layer<F: Float>: Send + std::any::Any {
    /// The book's class name (`Affine`, `Relu`, …).
    fn name(&self) -> &'static str;

    /// What the layer computes in test mode ([`Op`]).
    fn op(&self) -> Op;

    /// Computes the output and remembers what backward needs. `train` selects training
    /// behaviour for layers that have one (dropout, batch norm).
    fn forward(&mut self, x: ArrayD<F>, train: bool) -> ArrayD<F>;

    /// Given `dout = ∂L/∂out`, stores parameter gradients and returns `∂L/∂x`.
    fn backward(&mut self, dout: ArrayD<F>) -> ArrayD<F>;

    /// The layer's trainable parameters, in the book's order (`W` before `b`).
    fn params(&mut self) -> Vec<Param<'_, F>> {
        Vec::new()
    }

    /// Whether `backward` must return `∂L/∂x`. The first layer of a network sets this to
    /// `false`: nothing consumes the gradient of the input images, so layers that can skip
    /// computing it (Affine saves a whole matrix product) return an empty array instead.
    fn set_input_grad(&mut self, _needed: bool) {}

    /// State that is not trained by gradients but belongs in a model file, such as batch
    /// norm's running mean and variance, as `(prefix, value)` pairs; the network appends the
    /// layer's number (`running_mean2`).
    fn buffers(&mut self) -> Vec<(&'static str, ArrayViewMutD<'_, F>)> {
        Vec::new()
    }

    /// The layer's own random generator, for layers that draw random numbers (dropout), so
    /// that checkpoints can save and restore it.
    fn rng(&mut self) -> Option<&mut Rng> {
        None
    }
}
