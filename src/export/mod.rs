//! Models that leave backprop: [`onnx`] (an ONNX graph for onnxruntime and every tool that
//! reads ONNX) and [`torch`] (a PyTorch `state_dict` in safetensors and the `torch.nn.Module`
//! that loads it).
//!
//! Both walk the network itself ([`walk`]): its layers in forward order, each with what it
//! computes in test mode ([`Op`]), the sample shape it takes and gives, and its named
//! parameters and buffers from [`Network::params`] and [`Network::buffers`]. No exporter
//! knows an architecture by name, so every network the library builds exports.

pub mod onnx;
#[allow(missing_docs, clippy::all, clippy::pedantic)]
#[rustfmt::skip]
pub mod onnx_proto;
pub mod torch;

use crate::error::{Error, Result};
use crate::float::Float;
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

/// The layers of `net` in forward order with their shapes and tensors.
///
/// Fails with [`Error::Shape`] when a layer's tensors do not fit the shape it is given (a
/// network built by the library never does) or when an input is too small for a window.
pub fn walk<F: Float>(net: &mut Network<F>) -> Result<Vec<Step>> {
    let tensor = |name: &str, v: ndarray::ArrayViewD<'_, F>| Tensor {
        name: name.to_string(),
        shape: v.shape().to_vec(),
        values: v.iter().map(|x| x.to_f64_lossy() as f32).collect(),
    };
    let mut params: std::collections::VecDeque<Tensor> = net
        .params()
        .iter()
        .map(|p| tensor(p.name, p.value.view()))
        .collect();
    let mut buffers: std::collections::VecDeque<Tensor> = net
        .buffers()
        .iter()
        .map(|(name, v)| tensor(name, v.view()))
        .collect();
    let ops: Vec<(&'static str, Op)> = net.layers().iter().map(|l| (l.name(), l.op())).collect();
    let mut shape = net.input_shape().to_vec();
    let mut counts: std::collections::HashMap<&str, usize> = Default::default();
    let mut steps = Vec::with_capacity(ops.len());
    for (class, op) in ops {
        let short = match op {
            Op::BatchNorm { .. } => "BatchNorm",
            Op::Convolution { .. } => "Conv",
            Op::MaxPool { .. } => "Pool",
            _ => class,
        };
        let n = counts.entry(short).or_insert(0);
        *n += 1;
        let name = format!("{short}{n}");
        let (n_params, n_buffers) = match op {
            Op::Affine | Op::Convolution { .. } => (2, 0),
            Op::BatchNorm { .. } => (2, 2),
            _ => (0, 0),
        };
        if params.len() < n_params || buffers.len() < n_buffers {
            return Err(Error::Shape(format!(
                "{name} has fewer tensors than it needs"
            )));
        }
        let p: Vec<Tensor> = params.drain(..n_params).collect();
        let b: Vec<Tensor> = buffers.drain(..n_buffers).collect();
        let output_shape = output_shape(&name, op, &shape, &p)?;
        steps.push(Step {
            name,
            op,
            input_shape: std::mem::replace(&mut shape, output_shape.clone()),
            output_shape,
            params: p,
            buffers: b,
        });
    }
    if !params.is_empty() || !buffers.is_empty() {
        return Err(Error::Shape(
            "the network has tensors that belong to no layer".into(),
        ));
    }
    Ok(steps)
}

/// The shape of one sample after `op` (named `name` in errors), given `input` and the
/// layer's parameters.
fn output_shape(name: &str, op: Op, input: &[usize], params: &[Tensor]) -> Result<Vec<usize>> {
    let flat: usize = input.iter().product();
    let bad = |what: String| Error::Shape(format!("{name}: {what} (input {input:?})"));
    match op {
        Op::Relu | Op::Sigmoid | Op::Dropout { .. } => Ok(input.to_vec()),
        Op::Affine => match &params[0].shape[..] {
            &[i, o] if i == flat => Ok(vec![o]),
            s => Err(bad(format!("weight of shape {s:?}"))),
        },
        Op::BatchNorm { .. } => {
            if params.iter().all(|p| p.shape == [flat]) {
                Ok(input.to_vec())
            } else {
                Err(bad("γ and β do not have one value per activation".into()))
            }
        }
        Op::Convolution { stride, pad } => {
            let (&[c, h, w], &[fnum, fc, fh, fw]) = (input, &params[0].shape[..]) else {
                return Err(bad("a convolution needs (C, H, W) samples".into()));
            };
            if fc != c || h + 2 * pad < fh || w + 2 * pad < fw {
                return Err(bad(format!("filters of shape {:?}", params[0].shape)));
            }
            Ok(vec![
                fnum,
                (h + 2 * pad - fh) / stride + 1,
                (w + 2 * pad - fw) / stride + 1,
            ])
        }
        Op::MaxPool {
            pool_h,
            pool_w,
            stride,
        } => match *input {
            [c, h, w] if h >= pool_h && w >= pool_w => Ok(vec![
                c,
                (h - pool_h) / stride + 1,
                (w - pool_w) / stride + 1,
            ]),
            _ => Err(bad(format!("a {pool_h}×{pool_w} window does not fit"))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nets::Arch;
    use crate::rng::Rng;

    /// SimpleConvNet on 1×28×28 with the book's sizes: the shapes of §7.5 by hand
    /// (28 − 5 + 1 = 24, pooled to 12; 30·12·12 = 4320 into the first Affine).
    #[test]
    fn simple_conv_walk_has_the_books_shapes_and_names() {
        let arch: Arch = "simple-conv".parse().unwrap();
        let mut net = arch
            .build::<f32>([1, 28, 28], 10, &mut Rng::new(1))
            .unwrap();
        let steps = walk(&mut net).unwrap();
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
        let steps = walk(&mut net).unwrap();
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
}
