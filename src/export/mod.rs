//! Models that leave backprop: [`onnx`] (an ONNX graph for onnxruntime and every tool that
//! reads ONNX) and [`torch`] (a PyTorch `state_dict` in safetensors and the `torch.nn.Module`
//! that loads it).
//!
//! Both read the network the way building, loading and import do ([`walk`]): its
//! architecture's plan ([`Arch::plan`](crate::nets::Arch::plan)) gives every layer's kind,
//! the sample shapes it takes and gives and the names and shapes of its parameters and
//! buffers; the built layers give what each computes in test mode ([`Op`]) and the values
//! ([`Network::params`], [`Network::buffers`]), checked against the plan. No exporter knows an architecture by
//! name, so every network the library builds exports.

pub mod onnx;
#[allow(missing_docs, clippy::all, clippy::pedantic)]
#[rustfmt::skip]
pub mod onnx_proto;
pub mod torch;

use crate::error::{Error, Result};
use crate::float::Float;
use crate::io::safetensors::ModelInfo;
use crate::layers::Op;
use crate::nets::Network;

/// One named tensor of a layer, its values converted to `f32` (what both formats store).
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    /// The book's name (`W1`, `b1`, `gamma1`, `running_mean1`, …).
    pub name: String,
    /// Its shape as the library holds it (`W` of an Affine is `[in, out]`).
    pub shape: Vec<usize>,
    /// Its values in row-major order.
    pub values: Vec<f32>,
}

/// One layer of a network as an exporter sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// The book's class name (`Affine`, `Relu`, …) and its number among the layers of that
    /// class, from 1: `Affine2`, as the book's `OrderedDict` of layers names them.
    pub name: String,
    /// What it computes in test mode.
    pub op: Op,
    /// The shape of one sample going in (`[784]`, `[1, 28, 28]`).
    pub input_shape: Vec<usize>,
    /// The shape of one sample coming out.
    pub output_shape: Vec<usize>,
    /// Its parameters in the book's order (`W`, `b` or `gamma`, `beta`).
    pub params: Vec<Tensor>,
    /// Its buffers (`running_mean`, `running_var`).
    pub buffers: Vec<Tensor>,
}

/// The layers of `net`, a network of `info.arch` for images of `info.image_shape` and
/// `info.class_names.len()` classes, in forward order with their shapes and tensors: the
/// shapes and names from [`Arch::plan`](crate::nets::Arch::plan), the values and test-mode
/// operations from `net`.
///
/// Fails with [`Error::Shape`] when `net` is not that network (its layers, tensor names or
/// shapes differ from the plan's) or when a window does not fit its input (a network built
/// by the library never is).
pub fn walk<F: Float>(net: &mut Network<F>, info: &ModelInfo) -> Result<Vec<Step>> {
    let plan = info.arch.plan(info.image_shape, info.class_names.len());
    let ops: Vec<(&'static str, Op)> = net.layers().iter().map(|l| (l.name(), l.op())).collect();
    let planned: Vec<&str> = plan.iter().map(|l| l.kind.name()).collect();
    let built: Vec<&str> = ops.iter().map(|&(name, _)| name).collect();
    if planned != built {
        return Err(Error::Shape(format!(
            "the network's layers {built:?} are not those of {} ({planned:?})",
            info.arch.name()
        )));
    }
    let tensor = |name: &str, v: ndarray::ArrayViewD<'_, F>| Tensor {
        name: name.to_string(),
        shape: v.shape().to_vec(),
        values: v.iter().map(|x| x.to_f64_lossy() as f32).collect(),
    };
    let params: Vec<Tensor> = net
        .params()
        .iter()
        .map(|p| tensor(p.name, p.value.view()))
        .collect();
    let buffers: Vec<Tensor> = net
        .buffers()
        .iter()
        .map(|(n, v)| tensor(n, v.view()))
        .collect();
    let (mut params, mut buffers) = (params.into_iter(), buffers.into_iter());
    let mut counts: std::collections::HashMap<&str, usize> = Default::default();
    let mut steps = Vec::with_capacity(plan.len());
    for (layer, (class, op)) in plan.into_iter().zip(ops) {
        let short = match op {
            Op::BatchNorm { .. } => "BatchNorm",
            Op::Convolution { .. } => "Conv",
            Op::MaxPool { .. } => "Pool",
            _ => class,
        };
        let n = counts.entry(short).or_insert(0);
        *n += 1;
        let name = format!("{short}{n}");
        if !layer.fits() {
            return Err(Error::Shape(format!(
                "{name}: the window does not fit its input {:?}",
                layer.input
            )));
        }
        let take = |planned: Vec<(String, Vec<usize>)>, from: &mut dyn Iterator<Item = Tensor>| {
            planned
                .into_iter()
                .map(|(want, shape)| match from.next() {
                    Some(t) if t.name == want && t.shape == shape => Ok(t),
                    got => Err(Error::Shape(format!(
                        "{name}: the architecture has {want} of shape {shape:?}, the network {}",
                        got.map_or("nothing".into(), |t| format!(
                            "{} of shape {:?}",
                            t.name, t.shape
                        ))
                    ))),
                })
                .collect::<Result<Vec<Tensor>>>()
        };
        let p = take(layer.params, &mut params)?;
        let b = take(layer.buffers, &mut buffers)?;
        steps.push(Step {
            name,
            op,
            input_shape: layer.input,
            output_shape: layer.output,
            params: p,
            buffers: b,
        });
    }
    if params.next().is_some() || buffers.next().is_some() {
        return Err(Error::Shape(
            "the network has tensors that belong to no layer".into(),
        ));
    }
    Ok(steps)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nets::Arch;
    use crate::rng::Rng;

    /// What a model file of `arch` on `image_shape` with `classes` outputs says.
    fn info(arch: &Arch, image_shape: [usize; 3], classes: usize) -> ModelInfo {
        ModelInfo {
            arch: arch.clone(),
            image_shape,
            class_names: (0..classes).map(|c| c.to_string()).collect(),
            dataset: String::new(),
            train_config: serde_json::json!({}),
        }
    }

    /// SimpleConvNet on 1×28×28 with the book's sizes: the shapes of §7.5 by hand
    /// (28 − 5 + 1 = 24, pooled to 12; 30·12·12 = 4320 into the first Affine).
    #[test]
    fn simple_conv_walk_has_the_books_shapes_and_names() {
        let arch: Arch = "simple-conv".parse().unwrap();
        let mut net = arch
            .build::<f32>([1, 28, 28], 10, &mut Rng::new(1))
            .unwrap();
        let steps = walk(&mut net, &info(&arch, [1, 28, 28], 10)).unwrap();
        let names: Vec<&str> = steps.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            ["Conv1", "Relu1", "Pool1", "Affine1", "Relu2", "Affine2"]
        );
        let shapes: Vec<&[usize]> = steps.iter().map(|s| &s.output_shape[..]).collect();
        assert_eq!(
            shapes,
            [
                &[30, 24, 24][..],
                &[30, 24, 24],
                &[30, 12, 12],
                &[100],
                &[100],
                &[10]
            ]
        );
        let tensor_names: Vec<&str> = steps
            .iter()
            .flat_map(|s| s.params.iter().map(|t| t.name.as_str()))
            .collect();
        assert_eq!(tensor_names, ["W1", "b1", "W2", "b2", "W3", "b3"]);
        // The values are the network's, in its row-major order.
        let w2 = net.params()[2].value.iter().copied().collect::<Vec<f32>>();
        assert_eq!(steps[3].params[0].values, w2);
        assert_eq!(steps[3].params[0].shape, [4320, 100]);
    }

    /// Batch norm's γ, β go with its layer and its running statistics with them.
    #[test]
    fn batch_norm_tensors_go_with_their_layer() {
        let arch: Arch = "multi-layer:20,10".parse().unwrap();
        let Arch::MultiLayer {
            hidden,
            activation,
            init,
            ..
        } = arch
        else {
            unreachable!()
        };
        let arch = Arch::MultiLayer {
            hidden,
            activation,
            init,
            batch_norm: true,
            dropout: Some(0.25),
            weight_decay: 0.0,
        };
        let mut net = arch.build::<f64>([1, 8, 8], 10, &mut Rng::new(2)).unwrap();
        let steps = walk(&mut net, &info(&arch, [1, 8, 8], 10)).unwrap();
        let summary: Vec<(String, Vec<String>)> = steps
            .iter()
            .map(|s| {
                let t = s.params.iter().chain(&s.buffers);
                (s.name.clone(), t.map(|t| t.name.clone()).collect())
            })
            .collect();
        let expect =
            |n: &str, t: &[&str]| (n.to_string(), t.iter().map(|s| s.to_string()).collect());
        assert_eq!(
            summary,
            vec![
                expect("Affine1", &["W1", "b1"]),
                expect(
                    "BatchNorm1",
                    &["gamma1", "beta1", "running_mean1", "running_var1"]
                ),
                expect("Relu1", &[]),
                expect("Dropout1", &[]),
                expect("Affine2", &["W2", "b2"]),
                expect(
                    "BatchNorm2",
                    &["gamma2", "beta2", "running_mean2", "running_var2"]
                ),
                expect("Relu2", &[]),
                expect("Dropout2", &[]),
                expect("Affine3", &["W3", "b3"]),
            ]
        );
        assert_eq!(steps[3].op, Op::Dropout { ratio: 0.25 });
    }

    /// A network that is not the architecture's (other sizes, other classes, other layers)
    /// is refused with both sides named, not exported with shapes that do not fit.
    #[test]
    fn a_network_that_is_not_the_architectures_is_refused() {
        let two: Arch = "two-layer".parse().unwrap();
        let mut net = two.build::<f32>([1, 4, 4], 3, &mut Rng::new(0)).unwrap();
        let err = walk(&mut net, &info(&two, [1, 4, 4], 4)).unwrap_err();
        assert!(
            matches!(&err, Error::Shape(m) if m.contains("W2 of shape [50, 4]") && m.contains("[50, 3]")),
            "{err}"
        );
        let err = walk(&mut net, &info(&two, [1, 5, 4], 3)).unwrap_err();
        assert!(
            matches!(&err, Error::Shape(m) if m.contains("[20, 50]")),
            "{err}"
        );
        let multi: Arch = "multi-layer:50".parse().unwrap();
        assert!(walk(&mut net, &info(&multi, [1, 4, 4], 3)).is_ok());
        let conv: Arch = "simple-conv".parse().unwrap();
        let err = walk(&mut net, &info(&conv, [1, 4, 4], 3)).unwrap_err();
        assert!(
            matches!(&err, Error::Shape(m) if m.contains("simple-conv")),
            "{err}"
        );
    }
}
