//! A network as an ONNX model: one graph node (or two) per layer, the parameters as
//! initialisers under the book's names, written with `prost` from the ONNX schema
//! ([`super::onnx_proto`]).
//!
//! The graph takes `image`, a float32 batch shaped as the network takes it (`[N, D]` for the
//! fully connected nets, `[N, C, H, W]` for the conv nets; `N` is symbolic), and gives
//! `logits`, the test-mode scores the book's `predict` returns (what `backprop eval` ranks,
//! and what `eval --scores` writes), and `probabilities`, their softmax. Each layer becomes
//! the ONNX operator of its test-mode computation (opset [`OPSET`]):
//!
//! | layer | ONNX |
//! | --- | --- |
//! | `Affine` | `Flatten` (axis 1, when the input has more than one axis), `Gemm(x, W, b)` |
//! | `Relu`, `Sigmoid` | `Relu`, `Sigmoid` |
//! | `BatchNormalization` | `BatchNormalization(x, γ, β, running_mean, running_var)`, ε = 1e-6, on the input flattened to `(N, C·H·W)` (the book's per-activation statistics) |
//! | `Dropout` | `Mul` by `1 − ratio` (the book's test mode; ONNX's `Dropout` is the identity at inference) |
//! | `Convolution` | `Conv` (`strides`, `pads`) |
//! | `Pooling` | `MaxPool` (`kernel_shape`, `strides`, no padding) |
//!
//! The model's `metadata_props` record `class_names` (a JSON list, one per output),
//! `input_shape` (one sample's shape as `image` takes it), `image_shape` (`[C, H, W]`),
//! `arch` and `dataset`.

use std::path::Path;

use prost::Message;

use super::onnx_proto as pb;
use super::{Step, Tensor};
use crate::error::{Error, Result};
use crate::float::Float;
use crate::io::safetensors::ModelInfo;
use crate::layers::Op;
use crate::nets::Network;

/// The ONNX operator set the graph uses (ONNX 1.12; onnxruntime has run it since 1.12).
pub const OPSET: i64 = 17;
/// The ONNX IR version that goes with [`OPSET`].
pub const IR_VERSION: i64 = 8;
/// The name of the graph's input.
pub const INPUT: &str = "image";
/// The name of the output holding the test-mode scores.
pub const LOGITS: &str = "logits";
/// The name of the output holding the softmax of the scores.
pub const PROBABILITIES: &str = "probabilities";
/// The name of the symbolic batch dimension.
pub const BATCH: &str = "N";

/// `TensorProto.DataType.FLOAT`.
const FLOAT: i32 = pb::tensor_proto::DataType::Float as i32;
/// `TensorProto.DataType.INT64`.
const INT64: i32 = pb::tensor_proto::DataType::Int64 as i32;

/// The ONNX model of `net`, described by `info` (class names, image shape, architecture).
pub fn to_model<F: Float>(net: &mut Network<F>, info: &ModelInfo) -> Result<pb::ModelProto> {
    let steps = super::walk(net, info)?;
    let classes = steps.last().map(|s| s.output_shape.clone());
    if classes.as_deref().map(|s| s.len()) != Some(1) {
        return Err(Error::Shape(
            "the network's last layer must give one score per class".into(),
        ));
    }
    let mut g = Graph::default();
    let mut x = INPUT.to_string();
    for step in &steps {
        x = g.layer(step, x);
    }
    // The last layer's output is the logits.
    let last = g.nodes.last_mut().expect("a network has layers");
    last.output[0] = LOGITS.to_string();
    g.node(
        "Softmax",
        "Softmax",
        vec![LOGITS.into()],
        PROBABILITIES,
        vec![attr_int("axis", 1)],
    );
    let input_dims = steps[0].input_shape.clone();
    let classes = classes.unwrap_or_default();
    let graph = pb::GraphProto {
        node: g.nodes,
        name: info.arch.name().to_string(),
        initializer: g.initializers,
        input: vec![value_info(INPUT, &input_dims)],
        output: vec![
            value_info(LOGITS, &classes),
            value_info(PROBABILITIES, &classes),
        ],
        doc_string: format!(
            "{} from backprop: `{LOGITS}` are the test-mode scores (the book's predict), \
             `{PROBABILITIES}` their softmax",
            info.arch.name()
        ),
        ..Default::default()
    };
    let json = |v: serde_json::Value| v.to_string();
    let meta = [
        ("class_names", json(serde_json::json!(info.class_names))),
        ("input_shape", json(serde_json::json!(input_dims))),
        ("image_shape", json(serde_json::json!(info.image_shape))),
        ("arch", json(info.arch.to_json())),
        ("dataset", info.dataset.clone()),
    ];
    Ok(pb::ModelProto {
        ir_version: IR_VERSION,
        opset_import: vec![pb::OperatorSetIdProto {
            domain: String::new(),
            version: OPSET,
        }],
        producer_name: "backprop".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        graph: Some(graph),
        metadata_props: meta
            .into_iter()
            .map(|(key, value)| pb::StringStringEntryProto {
                key: key.into(),
                value,
            })
            .collect(),
        ..Default::default()
    })
}

/// [`to_model`] encoded as the bytes of a `.onnx` file.
pub fn to_bytes<F: Float>(net: &mut Network<F>, info: &ModelInfo) -> Result<Vec<u8>> {
    Ok(to_model(net, info)?.encode_to_vec())
}

/// Writes [`to_model`] to `path` atomically ([`crate::io::write_atomic`]).
pub fn save<F: Float>(path: &Path, net: &mut Network<F>, info: &ModelInfo) -> Result<()> {
    crate::io::write_atomic(path, &to_bytes(net, info)?)
}

/// Reads an ONNX model (as [`save`] writes it, or any other), naming `path` in errors.
pub fn load(path: &Path) -> Result<pb::ModelProto> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    pb::ModelProto::decode(&bytes[..])
        .map_err(|e| Error::format(path, format!("not an ONNX model: {e}")))
}

/// The nodes and initialisers written so far.
#[derive(Default)]
struct Graph {
    nodes: Vec<pb::NodeProto>,
    initializers: Vec<pb::TensorProto>,
}

impl Graph {
    /// Adds a node `name` of `op_type` and returns the name of its output.
    fn node(
        &mut self,
        name: &str,
        op_type: &str,
        input: Vec<String>,
        output: &str,
        attribute: Vec<pb::AttributeProto>,
    ) -> String {
        self.nodes.push(pb::NodeProto {
            input,
            output: vec![output.to_string()],
            name: name.to_string(),
            op_type: op_type.to_string(),
            attribute,
            ..Default::default()
        });
        output.to_string()
    }

    /// Adds a float initialiser and returns its name.
    fn float(&mut self, t: &Tensor) -> String {
        self.initializers
            .push(float_tensor(&t.name, &t.shape, &t.values));
        t.name.clone()
    }

    /// Adds the nodes of one layer, reading `x`; returns the name of the layer's output.
    fn layer(&mut self, step: &Step, x: String) -> String {
        let name = step.name.as_str();
        let out = format!("{name}_out");
        let flatten = |g: &mut Graph, x: String| {
            if step.input_shape.len() > 1 {
                let flat = format!("{name}_flat");
                g.node(&flat, "Flatten", vec![x], &flat, vec![attr_int("axis", 1)])
            } else {
                x
            }
        };
        match step.op {
            Op::Affine => {
                let x = flatten(self, x);
                let w = self.float(&step.params[0]);
                let b = self.float(&step.params[1]);
                self.node(name, "Gemm", vec![x, w, b], &out, vec![])
            }
            Op::Relu => self.node(name, "Relu", vec![x], &out, vec![]),
            Op::Sigmoid => self.node(name, "Sigmoid", vec![x], &out, vec![]),
            Op::BatchNorm { eps } => {
                let flat = flatten(self, x);
                let mut inputs = vec![flat];
                for t in step.params.iter().chain(&step.buffers) {
                    inputs.push(self.float(t));
                }
                let attrs = vec![attr_float("epsilon", eps as f32)];
                if step.input_shape.len() > 1 {
                    let normed = format!("{name}_normed");
                    self.node(name, "BatchNormalization", inputs, &normed, attrs);
                    // Back to the input's shape; 0 keeps the batch dimension.
                    let shape_name = format!("{name}_shape");
                    let mut dims = vec![0i64];
                    dims.extend(step.input_shape.iter().map(|&d| d as i64));
                    self.initializers.push(pb::TensorProto {
                        dims: vec![dims.len() as i64],
                        data_type: INT64,
                        int64_data: dims,
                        name: shape_name.clone(),
                        ..Default::default()
                    });
                    self.node(
                        &format!("{name}_reshape"),
                        "Reshape",
                        vec![normed, shape_name],
                        &out,
                        vec![],
                    )
                } else {
                    self.node(name, "BatchNormalization", inputs, &out, attrs)
                }
            }
            Op::Dropout { ratio } => {
                let scale = format!("{name}_scale");
                self.initializers
                    .push(float_tensor(&scale, &[], &[(1.0 - ratio) as f32]));
                self.node(name, "Mul", vec![x, scale], &out, vec![])
            }
            Op::Convolution { stride, pad } => {
                let w = self.float(&step.params[0]);
                let b = self.float(&step.params[1]);
                let (s, p) = (stride as i64, pad as i64);
                let kernel = step.params[0].shape[2..].iter().map(|&d| d as i64);
                let attrs = vec![
                    attr_ints("kernel_shape", kernel.collect()),
                    attr_ints("strides", vec![s, s]),
                    attr_ints("pads", vec![p, p, p, p]),
                ];
                self.node(name, "Conv", vec![x, w, b], &out, attrs)
            }
            Op::MaxPool {
                pool_h,
                pool_w,
                stride,
            } => {
                let s = stride as i64;
                let attrs = vec![
                    attr_ints("kernel_shape", vec![pool_h as i64, pool_w as i64]),
                    attr_ints("strides", vec![s, s]),
                ];
                self.node(name, "MaxPool", vec![x], &out, attrs)
            }
        }
    }
}

/// A float32 tensor `name` of `shape` holding `values` (little-endian `raw_data`).
fn float_tensor(name: &str, shape: &[usize], values: &[f32]) -> pb::TensorProto {
    pb::TensorProto {
        dims: shape.iter().map(|&d| d as i64).collect(),
        data_type: FLOAT,
        raw_data: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        name: name.to_string(),
        ..Default::default()
    }
}

/// The float32 values of a float initialiser, from its `raw_data` (as [`save`] writes them) or
/// its `float_data`.
pub fn float_values(t: &pb::TensorProto) -> Vec<f32> {
    if t.raw_data.is_empty() {
        t.float_data.clone()
    } else {
        t.raw_data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect()
    }
}

/// The type of a graph input or output: float32, `[N, dims…]` with `N` symbolic.
fn value_info(name: &str, dims: &[usize]) -> pb::ValueInfoProto {
    use pb::tensor_shape_proto::{Dimension, dimension::Value};
    let mut dim = vec![Dimension {
        value: Some(Value::DimParam(BATCH.into())),
        ..Default::default()
    }];
    dim.extend(dims.iter().map(|&d| Dimension {
        value: Some(Value::DimValue(d as i64)),
        ..Default::default()
    }));
    pb::ValueInfoProto {
        name: name.to_string(),
        r#type: Some(pb::TypeProto {
            value: Some(pb::type_proto::Value::TensorType(pb::type_proto::Tensor {
                elem_type: FLOAT,
                shape: Some(pb::TensorShapeProto { dim }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn attr_int(name: &str, i: i64) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.into(),
        r#type: pb::attribute_proto::AttributeType::Int as i32,
        i,
        ..Default::default()
    }
}

fn attr_float(name: &str, f: f32) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.into(),
        r#type: pb::attribute_proto::AttributeType::Float as i32,
        f,
        ..Default::default()
    }
}

fn attr_ints(name: &str, ints: Vec<i64>) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.into(),
        r#type: pb::attribute_proto::AttributeType::Ints as i32,
        ints,
        ..Default::default()
    }
}
