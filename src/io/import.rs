//! Importing the book's parameter pickles: which architecture they belong to (`--arch`), and
//! the network built from them.

use std::collections::BTreeMap;
use std::path::Path;

use ndarray::ArrayD;

use super::pickle::load_pickle;
use super::safetensors::ModelInfo;
use super::{mismatch_error, set_tensors, tensor_problems};
use crate::error::{Error, Fix, Result};
use crate::float::Float;
use crate::nets::{Arch, Network};
use crate::rng::Rng;

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

/// A `C,H,W` input shape as `--input-shape` spells it (`1,28,28`).
pub fn parse_input_shape(s: &str) -> std::result::Result<[usize; 3], String> {
    let dims: Vec<usize> = s
        .split(',')
        .map(|d| match d.trim().parse::<usize>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(format!("{d:?} in {s:?} is not a positive integer")),
        })
        .collect::<std::result::Result<_, _>>()?;
    match dims[..] {
        [c, h, w] => Ok([c, h, w]),
        _ => Err(format!("expected C,H,W (three sizes), got {s:?}")),
    }
}

/// The 2-D shape `[rows, cols]` of tensor `name`, or an error naming what it is instead.
fn matrix(
    tensors: &BTreeMap<String, ArrayD<f64>>,
    name: &str,
    net: &str,
    path: &Path,
) -> Result<[usize; 2]> {
    match shape_of(tensors, name, path)? {
        &[r, c] if r > 0 && c > 0 => Ok([r, c]),
        s => Err(Error::format(
            path,
            format!("a {net} net needs a non-empty 2-D {name}, found shape {s:?}"),
        )),
    }
}

/// The image sides tried, in order, when a convolutional net's input size must be inferred
/// from its first Affine: MNIST's 28, the digits' 8, then every side from 1 up.
fn side_candidates() -> impl Iterator<Item = usize> {
    [28, 8].into_iter().chain(1..=4096)
}

/// The first square `[c, s, s]` (in [`side_candidates`] order) for which `arch` has the
/// tensor shapes the file holds, checking `flat_name` only (the Affine after the flatten).
fn infer_square(
    arch: &Arch,
    c: usize,
    classes: usize,
    flat_name: &str,
    flat: usize,
) -> Option<[usize; 3]> {
    side_candidates().map(|s| [c, s, s]).find(|&shape| {
        arch.tensor_shapes(shape, classes)
            .iter()
            .any(|(n, sh)| n == flat_name && sh.first() == Some(&flat))
    })
}

/// Builds the network `spec` describes around the arrays of a pickle: sizes that the spec
/// leaves open are read from the weights, and then every name and shape is checked (all
/// mismatches listed at once). Returns the network, its [`ModelInfo`] and any warnings.
/// The input shape is inferred (see [`network_from_tensors_with`]).
pub fn network_from_tensors<F: Float>(
    spec: &Arch,
    tensors: &BTreeMap<String, ArrayD<f64>>,
    path: &Path,
) -> Result<(Network<F>, ModelInfo, Vec<String>)> {
    network_from_tensors_with(spec, tensors, path, None)
}

/// [`network_from_tensors`] with an explicit input shape `[C, H, W]`. A pickle records none,
/// so without one it is inferred: a fully connected net's `W1` rows `n` give `[1, √n, √n]`
/// when `n` is a square (784 → `[1, 28, 28]`), else `[1, 1, n]`; a convolutional net's
/// channels come from `W1` and its square side from the size of the flattened maps, which
/// fixes it up to the rounding of the poolings (28 and 8 are tried first, then the smallest
/// side that fits).
///
/// Book pickles hold `self.params` only. For a MultiLayerNetExtend with batch norm
/// (`gamma1`, `beta1`, …) that leaves out the running mean and variance that test-mode batch
/// norm needs, so such a pickle is refused unless it also holds `running_mean{k}` and
/// `running_var{k}`. Dropout is not recorded in parameters and is not rebuilt: a net trained
/// with dropout in its hidden layers scales them by `1 − ratio` in the book's test mode.
pub fn network_from_tensors_with<F: Float>(
    spec: &Arch,
    tensors: &BTreeMap<String, ArrayD<f64>>,
    path: &Path,
    input_shape: Option<[usize; 3]>,
) -> Result<(Network<F>, ModelInfo, Vec<String>)> {
    let (arch, image_shape, classes) = match spec {
        Arch::TwoLayer {
            weight_init_std, ..
        } => {
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
                weight_init_std: *weight_init_std,
            };
            (arch, input_shape.unwrap_or(square_image(input)), classes)
        }
        Arch::MultiLayer {
            hidden,
            activation,
            init,
            ..
        } => {
            let [input, _] = matrix(tensors, "W1", "multi-layer", path)?;
            let last = crate::nets::param_name(crate::layers::ParamKind::Weight, hidden.len() + 1);
            let [_, classes] = matrix(tensors, &last, "multi-layer", path)?;
            let batch_norm = tensors.contains_key("gamma1") || tensors.contains_key("beta1");
            if batch_norm
                && !(tensors.contains_key("running_mean1") && tensors.contains_key("running_var1"))
            {
                return Err(Error::format(
                    path,
                    "this MultiLayerNetExtend pickle has batch norm (gamma1, beta1, …) but no \
                     running_mean1/running_var1: the book's params dict does not hold the \
                     running statistics, without which test-mode batch norm cannot be computed; \
                     add them to the dict (from net.layers['BatchNorm1'].running_mean, …) \
                     and pickle it again",
                ));
            }
            let arch = Arch::MultiLayer {
                hidden: hidden.clone(),
                activation: *activation,
                init: *init,
                batch_norm,
                dropout: None,
                weight_decay: 0.0,
            };
            (arch, input_shape.unwrap_or(square_image(input)), classes)
        }
        Arch::SimpleConv {
            conv,
            weight_init_std,
            ..
        } => {
            let w1 = shape_of(tensors, "W1", path)?;
            let &[fnum, c, fh, fw] = w1 else {
                return Err(Error::format(
                    path,
                    format!("a simple-conv net needs a 4-D W1 (FN, C, FH, FW), found {w1:?}"),
                ));
            };
            if fnum == 0 || c == 0 || fh == 0 || fh != fw {
                return Err(Error::format(
                    path,
                    format!("W1 {w1:?} is not a stack of non-empty square filters"),
                ));
            }
            let [flat, hidden] = matrix(tensors, "W2", "simple-conv", path)?;
            let [_, classes] = matrix(tensors, "W3", "simple-conv", path)?;
            let arch = Arch::SimpleConv {
                conv: crate::nets::ConvParam {
                    filter_num: fnum,
                    filter_size: fh,
                    ..*conv
                },
                hidden,
                weight_init_std: *weight_init_std,
            };
            let shape = match input_shape {
                Some(s) => s,
                None => infer_square(&arch, c, classes, "W2", flat).ok_or_else(|| {
                    Error::needs(
                        format!(
                            "{}: no square input fits W1 {w1:?} and W2 [{flat}, {hidden}] \
                             (pad 0, stride 1, 2×2 pooling)",
                            path.display()
                        ),
                        Fix::InputShape,
                    )
                })?,
            };
            (arch, shape, classes)
        }
        Arch::DeepConv { .. } => {
            let w1 = shape_of(tensors, "W1", path)?;
            let &[_, c, _, _] = w1 else {
                return Err(Error::format(
                    path,
                    format!("a deep-conv net needs a 4-D W1 (16, C, 3, 3), found {w1:?}"),
                ));
            };
            let [flat, hidden] = matrix(tensors, "W7", "deep-conv", path)?;
            let [_, classes] = matrix(tensors, "W8", "deep-conv", path)?;
            let arch = Arch::DeepConv { hidden };
            let shape = match input_shape {
                Some(s) => s,
                None => infer_square(&arch, c.max(1), classes, "W7", flat).ok_or_else(|| {
                    Error::needs(
                        format!(
                            "{}: no square input fits W7 [{flat}, {hidden}] (64 maps after \
                             three poolings)",
                            path.display()
                        ),
                        Fix::InputShape,
                    )
                })?,
            };
            (arch, shape, classes)
        }
    };
    if classes < 2 {
        return Err(Error::format(
            path,
            format!("the last layer has {classes} output(s); a classifier needs at least 2"),
        ));
    }
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

/// Reads a pickle and builds the network `spec` describes from it, for `input_shape` if
/// given (else inferred, see [`network_from_tensors_with`]).
pub fn import_pickle<F: Float>(
    path: &Path,
    spec: &Arch,
    input_shape: Option<[usize; 3]>,
) -> Result<(Network<F>, ModelInfo, Vec<String>)> {
    let tensors = load_pickle(path)?;
    network_from_tensors_with(spec, &tensors, path, input_shape)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn book(name: &str) -> Arch {
        Arch::book(name).unwrap()
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
            network_from_tensors::<f64>(&book("two-layer"), &t, Path::new("p.pkl")).unwrap();
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
            network_from_tensors::<f32>(&book("two-layer"), &t, p)
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

    fn zeros(shapes: &[(&str, &[usize])]) -> BTreeMap<String, ArrayD<f64>> {
        shapes
            .iter()
            .map(|(n, s)| (n.to_string(), ArrayD::zeros(*s)))
            .collect()
    }

    /// The book's own 28×28 shapes (§3 of the reference): the input shape is inferred.
    #[test]
    fn book_mnist_shapes_infer_28_by_28() {
        let p = Path::new("p.pkl");
        let sc = zeros(&[
            ("W1", &[30, 1, 5, 5]),
            ("b1", &[30]),
            ("W2", &[4320, 100]),
            ("b2", &[100]),
            ("W3", &[100, 10]),
            ("b3", &[10]),
        ]);
        let (_, info, _) = network_from_tensors::<f32>(&book("simple-conv"), &sc, p).unwrap();
        assert_eq!(info.image_shape, [1, 28, 28]);
        let mut deep: Vec<(String, Vec<usize>)> = Vec::new();
        let mut c = 1;
        for (k, f) in [16, 16, 32, 32, 64, 64].into_iter().enumerate() {
            deep.push((format!("W{}", k + 1), vec![f, c, 3, 3]));
            deep.push((format!("b{}", k + 1), vec![f]));
            c = f;
        }
        deep.extend([
            ("W7".into(), vec![1024, 50]),
            ("b7".into(), vec![50]),
            ("W8".into(), vec![50, 10]),
            ("b8".into(), vec![10]),
        ]);
        let mut t: BTreeMap<String, ArrayD<f64>> = deep
            .iter()
            .map(|(n, s)| (n.clone(), ArrayD::zeros(s.as_slice())))
            .collect();
        let (mut net, info, _) = network_from_tensors::<f32>(&book("deep-conv"), &t, p).unwrap();
        assert_eq!(info.image_shape, [1, 28, 28]);
        assert_eq!(net.param_count(), 123_552);
        // Wrong shapes are all listed.
        t.insert("W4".into(), ArrayD::zeros(&[32, 16, 3, 3][..]));
        t.remove("b8");
        let e = network_from_tensors::<f32>(&book("deep-conv"), &t, p)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("tensor W4 has shape [32, 16, 3, 3], the architecture needs [32, 32, 3, 3]"),
            "{e}"
        );
        assert!(e.contains("missing tensor b8 (expected shape [10])"), "{e}");
        // A W7 no square input can give (64 maps of any side: not a multiple of 64).
        t.insert("W7".into(), ArrayD::zeros(&[1000, 50][..]));
        let e = network_from_tensors::<f32>(&book("deep-conv"), &t, p)
            .unwrap_err()
            .to_string();
        assert!(e.contains("no square input fits W7 [1000, 50]"), "{e}");
        // The book's ch03 sample network: a sigmoid MLP 784-50-100-10.
        let mlp = zeros(&[
            ("W1", &[784, 50]),
            ("b1", &[50]),
            ("W2", &[50, 100]),
            ("b2", &[100]),
            ("W3", &[100, 10]),
            ("b3", &[10]),
        ]);
        let spec = "multi-layer:50,100:sigmoid".parse().unwrap();
        let (_, info, _) = network_from_tensors::<f32>(&spec, &mlp, p).unwrap();
        assert_eq!(info.image_shape, [1, 28, 28]);
        assert_eq!(info.arch.name(), "multi-layer");
    }

    #[test]
    fn input_shapes_parse() {
        assert_eq!(parse_input_shape("1,28,28"), Ok([1, 28, 28]));
        assert!(parse_input_shape("1,28").is_err());
        assert!(parse_input_shape("1,0,28").is_err());
        assert!(parse_input_shape("a,b,c").is_err());
    }
}
