//! An architecture laid out for one input shape: its layers in order, each with its kind,
//! the names and shapes of its parameters and buffers, and its output shape.
//!
//! This is the one place where an [`Arch`] and an image shape become sizes: the book's
//! `W{k}`/`b{k}` names (and `gamma{k}`, `running_mean{k}` for the batch norm after the k-th
//! weighted layer), a convolution's or pooling's output side `(H + 2·pad − F) / stride + 1`,
//! and the flattened size an Affine takes. [`Arch::build`] (and the nets' constructors)
//! assemble their layers from it, [`Arch::tensor_shapes`] lists its tensors (what a model file
//! must hold, checked before anything is allocated; what a pickle's input shape is inferred
//! from), and [`Arch::check_sizes`] counts the values one forward pass holds from it.

use ndarray::Array1;

use super::{Activation, Arch, ConvParam, Network};
use crate::data::Layout;
use crate::float::Float;
use crate::functions::ConvGeometry;
use crate::init::{Init, gaussian};
use crate::layers::{
    Affine, BatchNormalization, Convolution, Dropout, Layer, ParamKind, Pooling, Relu, Sigmoid,
};
use crate::rng::Rng;

/// What a layer of a [`LayerPlan`] is, with the settings that are not tensor shapes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LayerKind {
    /// [`Convolution`] with `filters` square filters of side `size`.
    Convolution {
        /// Number of filters (output channels).
        filters: usize,
        /// Filter side.
        size: usize,
        /// Zero padding on every side.
        pad: usize,
        /// Step between filter positions.
        stride: usize,
    },
    /// Max [`Pooling`] over `size`×`size` windows.
    Pooling {
        /// Window side.
        size: usize,
        /// Step between windows.
        stride: usize,
    },
    /// [`Affine`] (flattens its input).
    Affine,
    /// [`BatchNormalization`] of the features.
    BatchNorm,
    /// [`Relu`].
    Relu,
    /// [`Sigmoid`].
    Sigmoid,
    /// [`Dropout`] with this ratio.
    Dropout(f64),
}

impl LayerKind {
    /// The layer's name, as [`Layer::name`] gives it (`"Convolution"`, `"Affine"`, …).
    pub fn name(&self) -> &'static str {
        match self {
            LayerKind::Convolution { .. } => "Convolution",
            LayerKind::Pooling { .. } => "Pooling",
            LayerKind::Affine => "Affine",
            LayerKind::BatchNorm => "BatchNormalization",
            LayerKind::Relu => "Relu",
            LayerKind::Sigmoid => "Sigmoid",
            LayerKind::Dropout(_) => "Dropout",
        }
    }
}

/// One layer of an architecture laid out for an input shape (see the module docs).
///
/// Sizes are computed with saturating arithmetic, so a plan exists for any sizes; the
/// counts that are summed from it ([`Arch::check_sizes`]) are checked for overflow.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerPlan {
    /// What the layer is.
    pub kind: LayerKind,
    /// The shape of one input sample.
    pub input: Vec<usize>,
    /// The shape of one output sample.
    pub output: Vec<usize>,
    /// Parameter names and shapes, in the layer's order (`W1`, `b1`; `gamma1`, `beta1`).
    pub params: Vec<(String, Vec<usize>)>,
    /// Buffer names and shapes (`running_mean1`, `running_var1`).
    pub buffers: Vec<(String, Vec<usize>)>,
}

impl LayerPlan {
    /// The window geometry of a convolution or pooling over its input, `None` when the window
    /// does not fit the (padded) input or the input has no channel. Other layers: `None`.
    pub fn geometry(&self) -> Option<ConvGeometry> {
        let (size, pad, stride) = match self.kind {
            LayerKind::Convolution {
                size, pad, stride, ..
            } => (size, pad, stride),
            LayerKind::Pooling { size, stride } => (size, 0, stride),
            _ => return None,
        };
        let &[c, h, w] = self.input.as_slice() else {
            return None;
        };
        (c > 0)
            .then(|| ConvGeometry::new([c, h, w], size, size, stride, pad))
            .flatten()
    }

    /// Whether the layer fits its input: a convolution's or pooling's window fits the padded
    /// image (see [`LayerPlan::geometry`]); every other layer does.
    pub fn fits(&self) -> bool {
        match self.kind {
            LayerKind::Convolution { .. } | LayerKind::Pooling { .. } => self.geometry().is_some(),
            _ => true,
        }
    }

    /// The values one sample's pass through this layer holds: its input and its output, and
    /// a convolution's or pooling's unrolled windows (`OH·OW·C·F·F`). `None` on overflow.
    pub fn forward_values(&self) -> Option<usize> {
        let mut n = product(&self.input)?.checked_add(product(&self.output)?)?;
        if let LayerKind::Convolution { size, .. } | LayerKind::Pooling { size, .. } = self.kind {
            let (c, out) = (self.input[0], &self.output);
            n = n.checked_add(product(&[out[1], out[2], c, size, size])?)?;
        }
        Some(n)
    }
}

/// The output side of a window of side `f` sliding with `stride` over a side of `x` padded
/// by `pad` (the book's `(H + 2·pad − F) / stride + 1`), saturating: a window that does not
/// fit gives 1 (see [`LayerPlan::fits`]).
fn window_side(x: usize, f: usize, pad: usize, stride: usize) -> usize {
    x.saturating_add(pad.saturating_mul(2)).saturating_sub(f) / stride.max(1) + 1
}

/// The product of `dims`, or `None` on overflow.
pub(super) fn product(dims: &[usize]) -> Option<usize> {
    dims.iter().try_fold(1usize, |a, &d| a.checked_mul(d))
}

/// The name of a tensor with `prefix` owned by (or following) the `k`-th weighted layer: the
/// book's `W1`, `b1`, `gamma1`, `beta1`, and batch norm's `running_mean1`. The one naming
/// rule: plans, [`Network::params`] and [`Network::buffers`] all name their tensors with it.
pub(crate) fn tensor_name(prefix: &str, k: usize) -> String {
    format!("{prefix}{k}")
}

/// The name of a parameter of `kind` owned by (or following) the `k`-th weighted layer
/// ([`tensor_name`] with the kind's prefix): `W1`, `b1`, `gamma1`, `beta1`.
pub(crate) fn param_name(kind: ParamKind, k: usize) -> String {
    tensor_name(kind.prefix(), k)
}

/// Lays out layers one after another, tracking the shape between them and the count of
/// weighted layers (the `k` of `W{k}`).
struct Planner {
    layers: Vec<LayerPlan>,
    shape: Vec<usize>,
    k: usize,
}

impl Planner {
    fn push(
        &mut self,
        kind: LayerKind,
        output: Vec<usize>,
        params: Vec<(String, Vec<usize>)>,
        buffers: Vec<(String, Vec<usize>)>,
    ) {
        let input = std::mem::replace(&mut self.shape, output.clone());
        self.layers.push(LayerPlan {
            kind,
            input,
            output,
            params,
            buffers,
        });
    }

    /// The current shape as `[C, H, W]` (an image: convolutions and poolings only follow
    /// images).
    fn chw(&self) -> [usize; 3] {
        match self.shape[..] {
            [c, h, w] => [c, h, w],
            _ => unreachable!("a window layer follows an image"),
        }
    }

    fn convolution(&mut self, filters: usize, size: usize, pad: usize, stride: usize) {
        let [c, h, w] = self.chw();
        self.k += 1;
        let k = self.k;
        let side = |x| window_side(x, size, pad, stride);
        self.push(
            LayerKind::Convolution {
                filters,
                size,
                pad,
                stride,
            },
            vec![filters, side(h), side(w)],
            vec![
                (
                    param_name(ParamKind::Weight, k),
                    vec![filters, c, size, size],
                ),
                (param_name(ParamKind::Bias, k), vec![filters]),
            ],
            vec![],
        );
    }

    /// The book's max pooling, 2×2 windows with stride 2.
    fn pooling(&mut self) {
        let [c, h, w] = self.chw();
        let side = |x| window_side(x, 2, 0, 2);
        self.push(
            LayerKind::Pooling { size: 2, stride: 2 },
            vec![c, side(h), side(w)],
            vec![],
            vec![],
        );
    }

    fn affine(&mut self, outputs: usize) {
        let rows = self.shape.iter().fold(1usize, |a, &d| a.saturating_mul(d));
        self.k += 1;
        let k = self.k;
        self.push(
            LayerKind::Affine,
            vec![outputs],
            vec![
                (param_name(ParamKind::Weight, k), vec![rows, outputs]),
                (param_name(ParamKind::Bias, k), vec![outputs]),
            ],
            vec![],
        );
    }

    fn batch_norm(&mut self) {
        let (k, d) = (self.k, self.shape.clone());
        self.push(
            LayerKind::BatchNorm,
            d.clone(),
            vec![
                (param_name(ParamKind::Gamma, k), d.clone()),
                (param_name(ParamKind::Beta, k), d.clone()),
            ],
            BatchNormalization::<f64>::BUFFERS
                .iter()
                .map(|prefix| (tensor_name(prefix, k), d.clone()))
                .collect(),
        );
    }

    /// A layer that keeps the shape (activation, dropout).
    fn elementwise(&mut self, kind: LayerKind) {
        let shape = self.shape.clone();
        self.push(kind, shape, vec![], vec![]);
    }
}

impl Arch {
    /// The layers of this architecture for images of `image_shape` (`[C, H, W]`) and
    /// `classes` outputs, in forward order (see the module `nets::plan`). Flat architectures
    /// take the image as `C·H·W` values.
    pub fn plan(&self, image_shape: [usize; 3], classes: usize) -> Vec<LayerPlan> {
        let shape = match self.layout() {
            Layout::Flat => vec![image_shape.iter().fold(1usize, |a, &d| a.saturating_mul(d))],
            Layout::Image => image_shape.to_vec(),
        };
        let mut p = Planner {
            layers: Vec::new(),
            shape,
            k: 0,
        };
        match self {
            Arch::TwoLayer { hidden, .. } => {
                p.affine(*hidden);
                p.elementwise(LayerKind::Relu);
                p.affine(classes);
            }
            Arch::MultiLayer {
                hidden,
                activation,
                batch_norm,
                dropout,
                ..
            } => {
                for &h in hidden {
                    p.affine(h);
                    if *batch_norm {
                        p.batch_norm();
                    }
                    p.elementwise(match activation {
                        Activation::Relu => LayerKind::Relu,
                        Activation::Sigmoid => LayerKind::Sigmoid,
                    });
                    if let Some(ratio) = dropout {
                        p.elementwise(LayerKind::Dropout(*ratio));
                    }
                }
                p.affine(classes);
            }
            Arch::SimpleConv { conv, hidden, .. } => {
                let ConvParam {
                    filter_num,
                    filter_size,
                    pad,
                    stride,
                } = *conv;
                p.convolution(filter_num, filter_size, pad, stride);
                p.elementwise(LayerKind::Relu);
                p.pooling();
                p.affine(*hidden);
                p.elementwise(LayerKind::Relu);
                p.affine(classes);
            }
            Arch::DeepConv { hidden } => {
                for (i, &(filters, pad)) in super::deep_conv::CONVS.iter().enumerate() {
                    p.convolution(filters, 3, pad, 1);
                    p.elementwise(LayerKind::Relu);
                    if i % 2 == 1 {
                        p.pooling();
                    }
                }
                p.affine(*hidden);
                p.elementwise(LayerKind::Relu);
                p.elementwise(LayerKind::Dropout(0.5));
                p.affine(classes);
                p.elementwise(LayerKind::Dropout(0.5));
            }
        }
        p.layers
    }

    /// How the architecture draws its initial weights: `N(0, init.std(fan_in)²)`, where a
    /// convolution's fan-in is `C·F·F` and an Affine's its number of rows.
    fn init(&self) -> Init {
        match self {
            Arch::TwoLayer {
                weight_init_std, ..
            }
            | Arch::SimpleConv {
                weight_init_std, ..
            } => Init::Std(*weight_init_std),
            Arch::DeepConv { .. } => Init::He,
            Arch::MultiLayer { init, .. } => *init,
        }
    }

    /// The network of `plan` (from [`Arch::plan`], every layer fitting its input), with
    /// weights drawn from `rng` in layer order and zero biases (batch norm: γ 1, β 0). Each
    /// dropout layer gets a generator seeded from `rng`: as it comes for MultiLayerNet, after
    /// all the weights for DeepConvNet (the order this project has always drawn them in, so
    /// that a seed gives the same network as before).
    pub(super) fn assemble<F: Float>(&self, plan: &[LayerPlan], rng: &mut Rng) -> Network<F> {
        let init = self.init();
        let seeds_last = matches!(self, Arch::DeepConv { .. });
        let mut layers: Vec<Box<dyn Layer<F>>> = Vec::with_capacity(plan.len());
        let mut dropouts = Vec::new();
        for layer in plan {
            let weights = layer.params.first().map(|(_, s)| s.as_slice());
            layers.push(match (layer.kind, weights) {
                (
                    LayerKind::Convolution {
                        filters,
                        size,
                        pad,
                        stride,
                    },
                    Some(&[_, c, _, _]),
                ) => {
                    let w = gaussian((filters, c, size, size), init.std(c * size * size), rng);
                    Box::new(Convolution::new(w, Array1::zeros(filters), stride, pad))
                }
                (LayerKind::Affine, Some(&[rows, cols])) => {
                    let w = gaussian((rows, cols), init.std(rows), rng);
                    Box::new(Affine::new(w, Array1::zeros(cols)))
                }
                (LayerKind::Pooling { size, stride }, _) => {
                    Box::new(Pooling::new(size, size, stride))
                }
                (LayerKind::BatchNorm, _) => {
                    Box::new(BatchNormalization::with_size(layer.output[0]))
                }
                (LayerKind::Relu, _) => Box::new(Relu::new()),
                (LayerKind::Sigmoid, _) => Box::new(Sigmoid::new()),
                (LayerKind::Dropout(ratio), _) if seeds_last => {
                    dropouts.push((layers.len(), ratio));
                    Box::new(Dropout::new(ratio, Rng::new(0)))
                }
                (LayerKind::Dropout(ratio), _) => {
                    Box::new(Dropout::new(ratio, Rng::new(rng.next_u64())))
                }
                (kind, _) => unreachable!("a plan's {} has its weights", kind.name()),
            });
        }
        for (i, ratio) in dropouts {
            layers[i] = Box::new(Dropout::new(ratio, Rng::new(rng.next_u64())));
        }
        let input = plan.first().map_or_else(Vec::new, |l| l.input.clone());
        let net = Network::new(layers, input);
        match self {
            Arch::MultiLayer { weight_decay, .. } => net.with_weight_decay(*weight_decay),
            _ => net,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::ArrayD;

    /// The book's SimpleConvNet on MNIST by hand (§7.5): conv 30×24×24, pool 30×12×12, the
    /// first Affine takes 4320; DeepConvNet's last pooling ends on 64×4×4 = 1024 (§8.1.1).
    #[test]
    fn book_sizes() {
        let plan = Arch::book("simple-conv").unwrap().plan([1, 28, 28], 10);
        let outputs: Vec<_> = plan.iter().map(|l| l.output.clone()).collect();
        assert_eq!(
            outputs,
            [
                vec![30, 24, 24],
                vec![30, 24, 24],
                vec![30, 12, 12],
                vec![100],
                vec![100],
                vec![10]
            ]
        );
        assert_eq!(plan[3].params[0], ("W2".to_string(), vec![4320, 100]));
        let plan = Arch::book("deep-conv").unwrap().plan([1, 28, 28], 10);
        let affine = plan.iter().find(|l| l.kind == LayerKind::Affine).unwrap();
        assert_eq!(affine.input, [64, 4, 4]);
        assert_eq!(affine.params[0], ("W7".to_string(), vec![1024, 50]));
        // A 5×5 image: the 5×5 filters leave 1×1, which the 2×2 pooling does not fit.
        let plan = Arch::book("simple-conv").unwrap().plan([1, 5, 5], 10);
        assert!(plan[0].fits() && !plan[2].fits());
    }

    /// Every layer of a built network is the plan's kind, and a forward pass gives each
    /// layer the plan's output shape.
    #[test]
    fn plans_match_the_built_networks_layers_and_outputs() {
        for (arch, shape) in super::super::arch::tests::all_archs() {
            let plan = arch.plan(shape, 5);
            let mut net: Network<f64> = arch.build(shape, 5, &mut Rng::new(0)).unwrap();
            let kinds: Vec<&str> = net.layers().iter().map(|l| l.name()).collect();
            let planned: Vec<&str> = plan.iter().map(|l| l.kind.name()).collect();
            assert_eq!(kinds, planned, "{}", arch.name());
            let mut dims = vec![3];
            dims.extend(&plan[0].input);
            let outputs = net.layer_outputs(ArrayD::zeros(dims), false);
            for ((name, y), layer) in outputs.iter().zip(&plan) {
                assert_eq!(&y.shape()[1..], layer.output, "{} {name}", arch.name());
            }
        }
    }
}
