//! Importing the book's parameter pickles: which architecture they belong to (`--arch`), and
//! the network built from them.

use std::collections::BTreeMap;
use std::path::Path;

use ndarray::ArrayD;

use super::pickle::load_pickle;
use super::safetensors::ModelInfo;
use super::{mismatch_error, set_tensors, tensor_problems};
use crate::error::{Error, Result};
use crate::float::Float;
use crate::nets::{Arch, Network};
use crate::rng::Rng;

/// The activation of a MultiLayerNet's hidden layers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    /// `sigmoid`.
    Sigmoid,
    /// `relu` (the book's default).
    Relu,
}

/// The architecture a pickle is said to hold, as `--arch` spells it:
/// `two-layer`, `multi-layer:H1,H2,…[:sigmoid|relu]`, `simple-conv`, `deep-conv`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ArchSpec {
    /// The book's TwoLayerNet; the hidden size comes from `W1`'s shape.
    TwoLayer,
    /// The book's MultiLayerNet with these hidden sizes.
    MultiLayer {
        /// Hidden layer sizes.
        hidden: Vec<usize>,
        /// Their activation.
        activation: Activation,
    },
    /// The book's SimpleConvNet (ch07).
    SimpleConv,
    /// The book's DeepConvNet (ch08).
    DeepConv,
}

impl std::str::FromStr for ArchSpec {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let mut parts = s.split(':');
        let head = parts.next().unwrap_or_default();
        let rest: Vec<&str> = parts.collect();
        let no_args = |spec: ArchSpec| {
            if rest.is_empty() {
                Ok(spec)
            } else {
                Err(format!("{head} takes no arguments, got {s:?}"))
            }
        };
        match head {
            "two-layer" => no_args(ArchSpec::TwoLayer),
            "simple-conv" => no_args(ArchSpec::SimpleConv),
            "deep-conv" => no_args(ArchSpec::DeepConv),
            "multi-layer" => {
                let (sizes, act) = match rest[..] {
                    [sizes] => (sizes, "relu"),
                    [sizes, act] => (sizes, act),
                    _ => {
                        return Err(format!(
                            "expected multi-layer:H1,H2,…[:sigmoid|relu], got {s:?}"
                        ));
                    }
                };
                let hidden = sizes
                    .split(',')
                    .map(|h| match h.trim().parse::<usize>() {
                        Ok(n) if n > 0 => Ok(n),
                        _ => Err(format!(
                            "hidden size {h:?} in {s:?} is not a positive integer"
                        )),
                    })
                    .collect::<std::result::Result<Vec<_>, _>>()?;
                let activation = match act {
                    "relu" => Activation::Relu,
                    "sigmoid" => Activation::Sigmoid,
                    _ => return Err(format!("activation {act:?} is not sigmoid or relu")),
                };
                Ok(ArchSpec::MultiLayer { hidden, activation })
            }
            _ => Err(format!(
                "unknown architecture {head:?}: expected two-layer, multi-layer:H1,H2,…[:sigmoid|relu], \
                 simple-conv or deep-conv"
            )),
        }
    }
}

fn shape_of<'a>(
    tensors: &'a BTreeMap<String, ArrayD<f64>>,
    name: &str,
    path: &Path,
) -> Result<&'a [usize]> {
    tensors
        .get(name)
        .map(|t| t.shape())
        .ok_or_else(|| Error::format(path, format!("missing tensor {name}")))
}

/// The side of a square single-channel image of `n` pixels, if there is one: the input
/// shape of a flat net is not in its weights, and the book's images are square.
fn square_image(n: usize) -> [usize; 3] {
    let s = (n as f64).sqrt().round() as usize;
    if s * s == n { [1, s, s] } else { [1, 1, n] }
}

/// Builds the network `spec` describes around the arrays of a pickle: sizes that the spec
/// leaves open are read from the weights, and then every name and shape is checked (all
/// mismatches listed at once). Returns the network, its [`ModelInfo`] and any warnings.
pub fn network_from_tensors<F: Float>(
    spec: &ArchSpec,
    tensors: &BTreeMap<String, ArrayD<f64>>,
    path: &Path,
) -> Result<(Network<F>, ModelInfo, Vec<String>)> {
    let (arch, image_shape, classes) = match spec {
        ArchSpec::TwoLayer => {
            let w1 = shape_of(tensors, "W1", path)?;
            let w2 = shape_of(tensors, "W2", path)?;
            let (&[input, hidden], &[_, classes]) = (w1, w2) else {
                return Err(Error::format(
                    path,
                    format!("a two-layer net needs 2-D W1 and W2, found W1 {w1:?} and W2 {w2:?}"),
                ));
            };
            if input == 0 || hidden == 0 {
                return Err(Error::format(path, format!("W1 has an empty shape {w1:?}")));
            }
            let arch = Arch::TwoLayer {
                hidden,
                weight_init_std: 0.01,
            };
            (arch, square_image(input), classes)
        }
        other => {
            return Err(Error::Invalid(format!(
                "--arch {}: not supported yet in this build (only two-layer is)",
                match other {
                    ArchSpec::MultiLayer { .. } => "multi-layer",
                    ArchSpec::SimpleConv => "simple-conv",
                    _ => "deep-conv",
                }
            )));
        }
    };
    // Every name and shape is checked before building, so that the network is never larger
    // than the arrays the file holds.
    let found = tensors
        .iter()
        .map(|(k, v)| (k.clone(), v.shape().to_vec()))
        .collect();
    let problems = tensor_problems(&arch.tensor_shapes(image_shape, classes), &found);
    if !problems.is_empty() {
        return Err(mismatch_error(path, &problems));
    }
    let mut net: Network<F> = arch
        .build(image_shape, classes, &mut Rng::stream(0, "import"))
        .map_err(|e| Error::format(path, format!("cannot build {}: {e}", arch.name())))?;
    let warnings = set_tensors(&mut net, tensors, path)?;
    let info = ModelInfo {
        arch,
        image_shape,
        class_names: (0..classes).map(|c| c.to_string()).collect(),
        dataset: String::new(),
        train_config: serde_json::json!({"imported_from": path.display().to_string()}),
    };
    Ok((net, info, warnings))
}

/// Reads a pickle and builds the network `spec` describes from it.
pub fn import_pickle<F: Float>(
    path: &Path,
    spec: &ArchSpec,
) -> Result<(Network<F>, ModelInfo, Vec<String>)> {
    let tensors = load_pickle(path)?;
    network_from_tensors(spec, &tensors, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arch_specs_parse_in_all_four_forms() {
        assert_eq!("two-layer".parse(), Ok(ArchSpec::TwoLayer));
        assert_eq!("simple-conv".parse(), Ok(ArchSpec::SimpleConv));
        assert_eq!("deep-conv".parse(), Ok(ArchSpec::DeepConv));
        assert_eq!(
            "multi-layer:100,50".parse(),
            Ok(ArchSpec::MultiLayer {
                hidden: vec![100, 50],
                activation: Activation::Relu
            })
        );
        assert_eq!(
            "multi-layer:50,100:sigmoid".parse(),
            Ok(ArchSpec::MultiLayer {
                hidden: vec![50, 100],
                activation: Activation::Sigmoid
            })
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
            assert!(bad.parse::<ArchSpec>().is_err(), "{bad}");
        }
    }

    fn arr(shape: &[usize], v: &[f64]) -> ArrayD<f64> {
        ArrayD::from_shape_vec(shape, v.to_vec()).unwrap()
    }

    #[test]
    fn a_two_layer_pickle_computes_what_its_weights_say() {
        let t = BTreeMap::from([
            (
                "W1".to_string(),
                arr(&[4, 2], &[1., 0., 0., 1., 0., 0., 0., 0.]),
            ),
            ("b1".to_string(), arr(&[2], &[0., -3.])),
            ("W2".to_string(), arr(&[2, 2], &[1., 2., 3., 4.])),
            ("b2".to_string(), arr(&[2], &[0.5, 0.])),
        ]);
        let (mut net, info, warnings) =
            network_from_tensors::<f64>(&ArchSpec::TwoLayer, &t, Path::new("p.pkl")).unwrap();
        assert!(warnings.is_empty());
        assert_eq!(info.image_shape, [1, 2, 2]);
        assert_eq!(info.class_names, ["0", "1"]);
        // h = relu([1, 2] + [0, -3]) = [1, 0]; y = h·W2 + b2 = [1.5, 2].
        let x = arr(&[1, 4], &[1., 2., 3., 4.]);
        assert_eq!(
            net.predict(x, false).into_raw_vec_and_offset().0,
            vec![1.5, 2.0]
        );
    }

    #[test]
    fn unusable_two_layer_shapes_are_errors() {
        let p = Path::new("p.pkl");
        let two = |w1: &[usize], w2: &[usize]| {
            let z = |s: &[usize]| ArrayD::zeros(s);
            BTreeMap::from([("W1".to_string(), z(w1)), ("W2".to_string(), z(w2))])
        };
        let msg = |t| {
            network_from_tensors::<f32>(&ArchSpec::TwoLayer, &t, p)
                .unwrap_err()
                .to_string()
        };
        assert!(msg(two(&[4], &[2, 2])).contains("needs 2-D W1 and W2"));
        assert!(msg(two(&[0, 2], &[2, 2])).contains("empty shape"));
        assert!(msg(BTreeMap::new()).contains("missing tensor W1"));
        // W2 claims a huge class count with no data: refused before anything is allocated.
        let e = msg(two(&[4, 2], &[0, 1 << 40]));
        assert!(e.contains("tensor W2 has shape [0, 1099511627776]"), "{e}");
    }

    #[test]
    fn square_images_are_inferred() {
        assert_eq!(square_image(784), [1, 28, 28]);
        assert_eq!(square_image(64), [1, 8, 8]);
        assert_eq!(square_image(10), [1, 1, 10]);
    }
}
