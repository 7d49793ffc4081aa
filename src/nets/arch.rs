//! Architectures by name: what `--model` selects, what a model file records, and how to
//! build the network from it.

use super::plan::product;
use super::{
    Activation, ConvParam, DeepConvNet, MultiLayerConfig, MultiLayerNet, Network, SimpleConvNet,
    TwoLayerNet,
};
use crate::data::Layout;
use crate::error::{Error, Result};
use crate::float::Float;
use crate::init::Init;
use crate::rng::Rng;
use serde::{Deserialize, Serialize};

/// The most values one forward pass may hold in its layers, as [`Arch::check_sizes`]
/// counts them (each layer's input and output, and the unrolled windows of a convolution or
/// pooling): 2²⁶, 256 MiB at f32. A model file declares its sizes in a few bytes of
/// metadata, so without a bound a tiny file could ask for any amount of memory. `predict`
/// runs one image at a time, `eval` shrinks its batch to stay within the bound.
pub const MAX_FORWARD_VALUES: usize = 1 << 26;

/// A network architecture, independent of the data it will be trained on.
///
/// Serialised (serde) as `{"name": "two-layer", "hidden": 50, "weight_init_std": 0.01}`:
/// the `--model` name, then the variant's fields.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "kebab-case")]
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
        #[serde(flatten)]
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

    /// The architecture as JSON, for model files: `{"name": "two-layer", …}` with the
    /// variant's fields (its serde form). [`Arch::from_json`] reads it back.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("an architecture serialises")
    }

    /// Reads an architecture written by [`Arch::to_json`].
    pub fn from_json(v: &serde_json::Value) -> Result<Arch> {
        Arch::deserialize(v).map_err(|e| {
            Error::Invalid(format!(
                "the architecture {v} is invalid: {e} (this build knows two-layer, \
                 multi-layer, simple-conv and deep-conv)"
            ))
        })
    }

    /// Whether the network takes flat vectors or images.
    pub fn layout(&self) -> Layout {
        match self {
            Arch::TwoLayer { .. } | Arch::MultiLayer { .. } => Layout::Flat,
            Arch::SimpleConv { .. } | Arch::DeepConv { .. } => Layout::Image,
        }
    }

    /// The name and shape of every tensor (parameters, then buffers, in walk order) that
    /// [`Arch::build`] would create for `image_shape` and `classes`, computed without
    /// allocating them: model files are checked against this before a network is built, so
    /// a file cannot make the loader allocate more than the file holds.
    pub fn tensor_shapes(
        &self,
        image_shape: [usize; 3],
        classes: usize,
    ) -> Vec<(String, Vec<usize>)> {
        let plan = self.plan(image_shape, classes);
        let params = plan.iter().flat_map(|l| l.params.iter().cloned());
        let buffers = plan.iter().flat_map(|l| l.buffers.iter().cloned());
        params.chain(buffers).collect()
    }

    /// Builds a freshly initialised network for images of `image_shape` (`[C, H, W]`) and
    /// `classes` outputs, drawing initial weights from `rng`.
    pub fn build<F: Float>(
        &self,
        image_shape: [usize; 3],
        classes: usize,
        rng: &mut Rng,
    ) -> Result<Network<F>> {
        self.check_sizes(image_shape, classes)?;
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

/// The `--arch` spelling of an architecture, with the book's sizes for what it leaves open:
/// `two-layer` (50 hidden units), `multi-layer:H1,H2,…[:sigmoid|relu]` (ReLU with He
/// weights, sigmoid with Xavier's, as the book's MultiLayerNet chooses), `simple-conv` (30
/// 5×5 filters, 100 hidden units), `deep-conv` (50 hidden units). Importing a pickle reads
/// the open sizes from its weights ([`crate::io::import`]).
impl std::str::FromStr for Arch {
    type Err = Error;

    fn from_str(s: &str) -> Result<Arch> {
        let mut parts = s.split(':');
        let head = parts.next().unwrap_or_default();
        let rest: Vec<&str> = parts.collect();
        let no_args = |arch: Arch| {
            if rest.is_empty() {
                Ok(arch)
            } else {
                Err(Error::Invalid(format!(
                    "{head} takes no arguments, got {s:?}"
                )))
            }
        };
        match head {
            "two-layer" | "simple-conv" | "deep-conv" => {
                no_args(Arch::book(head).expect("a book architecture"))
            }
            "multi-layer" => {
                let (sizes, act) = match rest[..] {
                    [sizes] => (sizes, "relu"),
                    [sizes, act] => (sizes, act),
                    _ => {
                        return Err(Error::Invalid(format!(
                            "expected multi-layer:H1,H2,…[:sigmoid|relu], got {s:?}"
                        )));
                    }
                };
                let hidden = sizes
                    .split(',')
                    .map(|h| match h.trim().parse::<usize>() {
                        Ok(n) if n > 0 => Ok(n),
                        _ => Err(Error::Invalid(format!(
                            "hidden size {h:?} in {s:?} is not a positive integer"
                        ))),
                    })
                    .collect::<Result<Vec<_>>>()?;
                let activation = match act {
                    "relu" => Activation::Relu,
                    "sigmoid" => Activation::Sigmoid,
                    _ => {
                        return Err(Error::Invalid(format!(
                            "activation {act:?} is not sigmoid or relu"
                        )));
                    }
                };
                Ok(Arch::MultiLayer {
                    hidden,
                    activation,
                    init: activation.book_init(),
                    batch_norm: false,
                    dropout: None,
                    weight_decay: 0.0,
                })
            }
            _ => Err(Error::Invalid(format!(
                "unknown architecture {head:?}: expected two-layer, multi-layer:H1,H2,…[:sigmoid|relu], \
                 simple-conv or deep-conv"
            ))),
        }
    }
}

impl Arch {
    /// Every architecture name (`--model`), in the book's order.
    pub const NAMES: [&'static str; 4] = ["two-layer", "multi-layer", "simple-conv", "deep-conv"];

    /// The architecture called `name` (see [`Arch::NAMES`]) with the book's settings: TwoLayerNet
    /// 50 hidden units and weights N(0, 0.01²) (§5.7), MultiLayerNet four hidden layers of 100
    /// with ReLU and He weights (§6), SimpleConvNet 30 5×5 filters and 100 hidden units with
    /// N(0, 0.01²) (§7.5), DeepConvNet 50 hidden units (§8.1.1). `None` for other names.
    pub fn book(name: &str) -> Option<Arch> {
        Some(match name {
            "two-layer" => Arch::TwoLayer {
                hidden: 50,
                weight_init_std: 0.01,
            },
            "multi-layer" => Arch::MultiLayer {
                hidden: vec![100; 4],
                activation: Activation::Relu,
                init: Init::He,
                batch_norm: false,
                dropout: None,
                weight_decay: 0.0,
            },
            "simple-conv" => Arch::SimpleConv {
                conv: ConvParam::default(),
                hidden: 100,
                weight_init_std: 0.01,
            },
            "deep-conv" => Arch::DeepConv { hidden: 50 },
            _ => return None,
        })
    }
}

/// Sizes a model file or flags can declare, checked before anything is allocated.
impl Arch {
    /// Checks that every size of the architecture for `image_shape` and `classes` is
    /// positive (hidden sizes, filter count and size, stride, the input's sides; at least 2
    /// classes) and that one image's forward pass holds at most [`MAX_FORWARD_VALUES`],
    /// every product checked for overflow. Returns the values one image needs. (Whether the
    /// convolutions and poolings fit the image is for [`Arch::build`] to say.)
    pub fn check_sizes(&self, image_shape: [usize; 3], classes: usize) -> Result<usize> {
        let invalid = |msg: String| Err(Error::Invalid(format!("{}: {msg}", self.name())));
        if classes < 2 {
            return Err(Error::Invalid(format!(
                "a classifier needs at least 2 classes, got {classes}"
            )));
        }
        if image_shape.contains(&0) {
            return invalid(format!("the input shape {image_shape:?} has a zero size"));
        }
        let hidden = match self {
            Arch::TwoLayer { hidden, .. }
            | Arch::SimpleConv { hidden, .. }
            | Arch::DeepConv { hidden } => std::slice::from_ref(hidden),
            Arch::MultiLayer { hidden, .. } => hidden.as_slice(),
        };
        if hidden.contains(&0) {
            return invalid(format!("hidden sizes must be positive, got {hidden:?}"));
        }
        if let Arch::SimpleConv { conv, .. } = self
            && (conv.filter_num == 0 || conv.filter_size == 0 || conv.stride == 0)
        {
            return invalid(format!(
                "the filter count, filter size and stride must be positive, got {conv:?}"
            ));
        }
        let [c, h, w] = image_shape;
        match self.forward_values(image_shape, classes) {
            Some(n) if n <= MAX_FORWARD_VALUES => Ok(n),
            n => invalid(format!(
                "one {c}×{h}×{w} image's forward pass would hold {} values, more than the \
                 {MAX_FORWARD_VALUES} allowed",
                n.map_or("more than 2⁶⁴".to_string(), |n| n.to_string())
            )),
        }
    }

    /// The values one image's forward pass holds (see [`MAX_FORWARD_VALUES`]), or `None`
    /// if the count overflows.
    fn forward_values(&self, image_shape: [usize; 3], classes: usize) -> Option<usize> {
        self.plan(image_shape, classes)
            .iter()
            .try_fold(0usize, |n, layer| n.checked_add(layer.forward_values()?))
    }
}

/// What training a network needs in memory, estimated from its sizes before anything is
/// allocated, so that sizes that cannot fit are refused with an error instead of ending the
/// process in an allocation failure.
impl Arch {
    /// About the bytes that training this architecture on `image_shape` images with `classes`
    /// outputs, in batches of `batch`, holds at once, in floats of `float_bytes` bytes, with an
    /// optimizer keeping `optimizer_arrays` arrays per parameter
    /// ([`OptimizerKind::arrays_per_param`](crate::optim::OptimizerKind::arrays_per_param)).
    ///
    /// Parameters count `2 + optimizer_arrays` times (values, gradients, the optimizer's
    /// arrays); each sample, twice what its forward pass holds (the values of
    /// [`Arch::check_sizes`]' count, and the gradients flowing back through them). `None` when
    /// a size overflows.
    pub fn training_bytes(
        &self,
        image_shape: [usize; 3],
        classes: usize,
        batch: usize,
        float_bytes: usize,
        optimizer_arrays: usize,
    ) -> Option<usize> {
        let mut params = 0usize;
        for (_, shape) in self.tensor_shapes(image_shape, classes) {
            params = params.checked_add(product(&shape)?)?;
        }
        let per_sample = self.forward_values(image_shape, classes)?.checked_mul(2)?;
        params
            .checked_mul(optimizer_arrays.checked_add(2)?)?
            .checked_add(per_sample.checked_mul(batch)?)?
            .checked_mul(float_bytes)
    }

    /// Refuses training that would need more memory than the process may have
    /// ([`crate::alloc::available_memory`]; [`Error::TooLarge`]), or whose sizes overflow
    /// ([`Error::Invalid`]), by
    /// [`Arch::training_bytes`]: sizes that cannot fit are an error, not an allocation failure.
    pub fn check_training_fits(
        &self,
        image_shape: [usize; 3],
        classes: usize,
        batch: usize,
        float_bytes: usize,
        optimizer_arrays: usize,
    ) -> Result<()> {
        let [c, h, w] = image_shape;
        let what = format!(
            "training a {} net on {c}×{h}×{w} images in batches of {batch}",
            self.name()
        );
        let Some(need) =
            self.training_bytes(image_shape, classes, batch, float_bytes, optimizer_arrays)
        else {
            return Err(Error::Invalid(format!(
                "{what} is too large: the memory it needs overflows a \
                 {}-bit count; choose smaller sizes",
                usize::BITS
            )));
        };
        match crate::alloc::available_memory() {
            Some(available) if need as u64 > available.bytes => Err(Error::TooLarge(format!(
                "{what} needs about {} of memory, more than the {} {}; choose smaller sizes",
                crate::alloc::human_bytes(need as u64),
                crate::alloc::human_bytes(available.bytes),
                available.source
            ))),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// `tensor_shapes` must list exactly what `build` creates, for every architecture.
    #[test]
    // Each new architecture joins the list.
    fn tensor_shapes_match_the_built_network() {
        for (arch, shape) in all_archs() {
            let mut net: Network<f32> = arch.build(shape, 5, &mut Rng::new(0)).unwrap();
            assert_eq!(
                crate::io::tensor_shapes(&mut net),
                arch.tensor_shapes(shape, 5),
                "{}",
                arch.name()
            );
        }
    }

    pub(in crate::nets) fn all_archs() -> Vec<(Arch, [usize; 3])> {
        vec![
            (
                Arch::TwoLayer {
                    hidden: 7,
                    weight_init_std: 0.01,
                },
                [1, 3, 4],
            ),
            (
                Arch::MultiLayer {
                    hidden: vec![6, 5],
                    activation: Activation::Sigmoid,
                    init: Init::Xavier,
                    batch_norm: true,
                    dropout: Some(0.2),
                    weight_decay: 0.1,
                },
                [1, 3, 4],
            ),
            (
                Arch::MultiLayer {
                    hidden: vec![4],
                    activation: Activation::Relu,
                    init: Init::Std(0.01),
                    batch_norm: false,
                    dropout: None,
                    weight_decay: 0.0,
                },
                [1, 2, 2],
            ),
            (
                Arch::SimpleConv {
                    conv: ConvParam::default(),
                    hidden: 9,
                    weight_init_std: 0.01,
                },
                [1, 28, 28],
            ),
            (
                Arch::SimpleConv {
                    conv: ConvParam {
                        filter_num: 4,
                        filter_size: 3,
                        pad: 1,
                        stride: 2,
                    },
                    hidden: 3,
                    weight_init_std: 0.01,
                },
                [2, 9, 11],
            ),
            (Arch::DeepConv { hidden: 50 }, [1, 28, 28]),
            (Arch::DeepConv { hidden: 5 }, [1, 8, 8]),
        ]
    }

    #[test]
    fn sizes_are_checked_before_building() {
        // Every architecture of the tests fits, with what build makes.
        for (arch, shape) in all_archs() {
            assert!(arch.check_sizes(shape, 5).unwrap() > 0, "{}", arch.name());
        }
        // Two-layer 4 → 3 → 2 by hand: Affine 4 + 3, ReLU 3 + 3, Affine 3 + 2.
        let two = |hidden| Arch::TwoLayer {
            hidden,
            weight_init_std: 0.01,
        };
        assert_eq!(two(3).check_sizes([1, 2, 2], 2).unwrap(), 18);
        // A zero size anywhere, as every architecture refuses it.
        let e = two(0).check_sizes([1, 2, 2], 2).unwrap_err().to_string();
        assert!(e.contains("hidden sizes must be positive"), "{e}");
        assert!(two(0).build::<f32>([1, 2, 2], 2, &mut Rng::new(0)).is_err());
        assert!(
            Arch::DeepConv { hidden: 0 }
                .check_sizes([1, 28, 28], 10)
                .is_err()
        );
        assert!(two(3).check_sizes([1, 0, 2], 2).is_err());
        assert!(two(3).check_sizes([1, 2, 2], 1).is_err());
        let conv = |filter_num, filter_size, stride| Arch::SimpleConv {
            conv: ConvParam {
                filter_num,
                filter_size,
                pad: 0,
                stride,
            },
            hidden: 10,
            weight_init_std: 0.01,
        };
        for bad in [conv(0, 5, 1), conv(30, 0, 1), conv(30, 5, 0)] {
            assert!(bad.check_sizes([1, 28, 28], 10).is_err(), "{bad:?}");
        }
        // Beyond the bound, and beyond usize.
        let e = two(1)
            .check_sizes([1, 65536, 65536], 2)
            .unwrap_err()
            .to_string();
        assert!(e.contains("more than the 67108864 allowed"), "{e}");
        let e = two(usize::MAX)
            .check_sizes([1, 1, 1], 2)
            .unwrap_err()
            .to_string();
        assert!(e.contains("more than 2⁶⁴"), "{e}");
    }

    #[test]
    fn arch_strings_parse_in_all_four_forms() {
        let parse = |s: &str| s.parse::<Arch>().unwrap();
        for name in ["two-layer", "simple-conv", "deep-conv"] {
            assert_eq!(Some(parse(name)), Arch::book(name));
        }
        let multi = |hidden: Vec<usize>, activation, init| Arch::MultiLayer {
            hidden,
            activation,
            init,
            batch_norm: false,
            dropout: None,
            weight_decay: 0.0,
        };
        assert_eq!(
            parse("multi-layer:100,50"),
            multi(vec![100, 50], Activation::Relu, Init::He)
        );
        assert_eq!(
            parse("multi-layer:50,100:sigmoid"),
            multi(vec![50, 100], Activation::Sigmoid, Init::Xavier)
        );
        for bad in [
            "three-layer",
            "two-layer:5",
            "multi-layer",
            "multi-layer:",
            "multi-layer:0",
            "multi-layer:5,x",
            "multi-layer:5:tanh",
            "multi-layer:5:relu:x",
        ] {
            assert!(bad.parse::<Arch>().is_err(), "{bad}");
        }
        // Every name has the book's settings, and only those names.
        for name in Arch::NAMES {
            assert_eq!(Arch::book(name).unwrap().name(), name);
        }
        assert_eq!(Arch::book("three-layer"), None);
    }

    #[test]
    fn every_architecture_round_trips_through_json() {
        for (arch, _) in all_archs() {
            assert_eq!(Arch::from_json(&arch.to_json()).unwrap(), arch);
        }
    }

    #[test]
    fn json_round_trips_and_rejects_unknown_names() {
        let a = Arch::TwoLayer {
            hidden: 50,
            weight_init_std: 0.01,
        };
        let j = a.to_json();
        assert_eq!(j["name"], "two-layer");
        assert_eq!(Arch::from_json(&j).unwrap(), a);
        let e = Arch::from_json(&serde_json::json!({"name": "three-layer"})).unwrap_err();
        assert!(e.to_string().contains("three-layer"), "{e}");
        let e =
            Arch::from_json(&serde_json::json!({"name": "two-layer", "hidden": -1})).unwrap_err();
        assert!(e.to_string().contains("hidden"), "{e}");
    }

    /// The estimate by hand for a small two-layer net, and its parameter part against every
    /// built network's tensors.
    #[test]
    fn training_bytes_count_parameters_gradients_state_and_activations() {
        let arch = Arch::TwoLayer {
            hidden: 7,
            weight_init_std: 0.01,
        };
        // Parameters 12·7 + 7 + 7·5 + 5 = 131, twice (values, gradients): 262. Per sample,
        // the Affines hold their inputs and outputs (12 + 7, 7 + 5) and the ReLU its own
        // (7 + 7): 45 values, twice with their gradients, for 2 samples 180. 442 f32 values.
        assert_eq!(arch.training_bytes([1, 3, 4], 5, 2, 4, 0), Some(442 * 4));
        // Adam's two arrays add 2·131 values.
        assert_eq!(
            arch.training_bytes([1, 3, 4], 5, 2, 4, 2),
            Some((442 + 262) * 4)
        );
        for (arch, shape) in all_archs() {
            let mut net: Network<f64> = arch.build(shape, 5, &mut Rng::new(0)).unwrap();
            let values: usize = crate::io::tensor_shapes(&mut net)
                .iter()
                .map(|(_, s)| s.iter().product::<usize>())
                .sum();
            assert_eq!(arch.training_bytes(shape, 5, 0, 1, 0), Some(2 * values));
            // A batch only adds.
            assert!(arch.training_bytes(shape, 5, 10, 1, 0).unwrap() > 2 * values);
        }
        let huge = Arch::TwoLayer {
            hidden: usize::MAX,
            weight_init_std: 0.01,
        };
        assert_eq!(huge.training_bytes([1, 8, 8], 10, 100, 4, 0), None);
        let e = huge
            .check_training_fits([1, 8, 8], 10, 100, 4, 0)
            .unwrap_err();
        assert!(
            matches!(e, Error::Invalid(_)) && e.to_string().contains("too large"),
            "{e}"
        );
        // Sizes that count but cannot fit: what happened, and no flag (the CLI adds those).
        let big = Arch::TwoLayer {
            hidden: 1 << 40,
            weight_init_std: 0.01,
        };
        let e = big
            .check_training_fits([1, 8, 8], 10, 100, 4, 0)
            .unwrap_err();
        assert!(matches!(e, Error::TooLarge(_)), "{e}");
        let msg = e.to_string();
        assert!(
            msg.contains("of memory, more than the") && !msg.contains("--"),
            "{msg}"
        );
    }
}
