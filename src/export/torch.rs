//! A network as PyTorch expects it: `model.safetensors`, a `state_dict` with PyTorch's names
//! and layouts, and `model.py`, the `torch.nn.Module` that loads it unchanged:
//!
//! ```python
//! from safetensors.torch import load_file
//! from model import Net
//! model = Net()
//! model.load_state_dict(load_file("model.safetensors"))   # strict: every name and shape
//! model.eval()                                             # test mode, as backprop eval
//! ```
//!
//! `Net` is an `nn.Sequential` whose children are named like the book's `OrderedDict` of
//! layers (`Affine1`, `Relu1`, `BatchNorm1`, `Conv1`, `Pool1`, …), so the keys read
//! `Affine1.weight`, `BatchNorm1.running_var`. The layouts are PyTorch's: an `nn.Linear`
//! weight is `[out, in]` (the book's `W` transposed), a `Conv2d` weight `[out, in, kh, kw]`
//! (as the book's); batch norm stores `weight` (γ), `bias` (β), `running_mean`,
//! `running_var` and `num_batches_tracked` (0: backprop does not count batches).
//!
//! The modules keep the book's semantics where PyTorch's differ: `Affine` flattens its input
//! to `(N, -1)` first, `BatchNorm` normalises each activation of the flattened input
//! (ε = 1e-6, PyTorch momentum 0.1 = the book's 0.9 on the old value), and `Dropout` is the
//! book's unscaled one (`x · (1 − ratio)` in eval mode).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use safetensors::{Dtype, tensor::TensorView};

use super::{Step, Tensor};
use crate::error::{Error, Result};
use crate::float::Float;
use crate::io::safetensors::ModelInfo;
use crate::layers::Op;
use crate::nets::Network;

/// The weights' file name in the output directory.
pub const WEIGHTS: &str = "model.safetensors";
/// The module's file name in the output directory.
pub const MODULE: &str = "model.py";

/// Whether [`save`] writes (and replaces) the file called `name` in its directory: no other
/// output may be one of them.
pub fn owns(name: &str) -> bool {
    name == WEIGHTS || name == MODULE
}

/// Whether [`save`] into `dir` would replace the file `model` (through any link), so that a
/// network read from `model` cannot be written there. A `model` that cannot be resolved is no
/// file of `dir`'s.
pub fn would_overwrite(dir: &Path, model: &Path) -> bool {
    let Ok(model) = std::fs::canonicalize(model) else {
        return false;
    };
    [WEIGHTS, MODULE]
        .iter()
        .any(|f| std::fs::canonicalize(dir.join(f)).ok().as_ref() == Some(&model))
}

/// One `state_dict` entry: its key, shape and little-endian bytes.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// The key (`Affine1.weight`).
    pub key: String,
    /// The shape in PyTorch's layout.
    pub shape: Vec<usize>,
    /// `F32` for parameters and statistics, `I64` for `num_batches_tracked`.
    pub dtype: Dtype,
    /// The values, little-endian.
    pub bytes: Vec<u8>,
}

fn f32_entry(key: String, shape: Vec<usize>, values: impl IntoIterator<Item = f32>) -> Entry {
    Entry {
        key,
        shape,
        dtype: Dtype::F32,
        bytes: values.into_iter().flat_map(f32::to_le_bytes).collect(),
    }
}

/// `W` `[in, out]` as `nn.Linear` holds it, `[out, in]`.
fn transposed(t: &Tensor) -> Vec<f32> {
    let (i, o) = (t.shape[0], t.shape[1]);
    (0..o)
        .flat_map(|c| (0..i).map(move |r| t.values[r * o + c]))
        .collect()
}

/// The `state_dict` of the network walked as `steps`, in layer order.
pub fn state_dict(steps: &[Step]) -> Vec<Entry> {
    let mut out = Vec::new();
    for s in steps {
        let key = |k: &str| format!("{}.{k}", s.name);
        match s.op {
            Op::Affine => {
                let (w, b) = (&s.params[0], &s.params[1]);
                out.push(f32_entry(
                    key("weight"),
                    vec![w.shape[1], w.shape[0]],
                    transposed(w),
                ));
                out.push(f32_entry(key("bias"), b.shape.clone(), b.values.clone()));
            }
            Op::Convolution { .. } => {
                for (t, k) in s.params.iter().zip(["weight", "bias"]) {
                    out.push(f32_entry(key(k), t.shape.clone(), t.values.clone()));
                }
            }
            Op::BatchNorm { .. } => {
                let names = ["weight", "bias", "running_mean", "running_var"];
                for (t, k) in s.params.iter().chain(&s.buffers).zip(names) {
                    out.push(f32_entry(key(k), t.shape.clone(), t.values.clone()));
                }
                out.push(Entry {
                    key: key("num_batches_tracked"),
                    shape: vec![],
                    dtype: Dtype::I64,
                    bytes: 0i64.to_le_bytes().to_vec(),
                });
            }
            Op::Relu | Op::Sigmoid | Op::Dropout { .. } | Op::MaxPool { .. } => {}
        }
    }
    out
}

/// The `state_dict` as the bytes of a safetensors file (metadata `format: pt`, as
/// `safetensors.torch.save_file` writes).
pub fn state_dict_bytes(entries: &[Entry]) -> Result<Vec<u8>> {
    let views = entries
        .iter()
        .map(|e| {
            TensorView::new(e.dtype, e.shape.clone(), &e.bytes)
                .map(|v| (e.key.as_str(), v))
                .map_err(|err| Error::Invalid(format!("tensor {}: {err}", e.key)))
        })
        .collect::<Result<Vec<_>>>()?;
    let meta = std::collections::HashMap::from([("format".to_string(), "pt".to_string())]);
    safetensors::serialize(views, Some(meta))
        .map_err(|e| Error::Invalid(format!("cannot serialise the state_dict: {e}")))
}

/// A Python float literal that reads back as `v`.
fn py_float(v: f64) -> String {
    let s = format!("{v:?}");
    if s.contains(['.', 'e', 'n', 'i']) {
        s
    } else {
        format!("{s}.0")
    }
}

/// The source of `model.py` for the network walked as `steps`, described by `info`.
pub fn module_source(steps: &[Step], info: &ModelInfo, input_shape: &[usize]) -> String {
    let mut layers = String::new();
    for s in steps {
        let module = match s.op {
            Op::Affine => {
                let w = &s.params[0].shape;
                format!("Affine({}, {})", w[0], w[1])
            }
            Op::Relu => "nn.ReLU()".into(),
            Op::Sigmoid => "nn.Sigmoid()".into(),
            Op::BatchNorm { eps } => format!(
                "BatchNorm({}, eps={}, momentum=0.1)",
                s.params[0].shape[0],
                py_float(eps)
            ),
            Op::Dropout { ratio } => format!("Dropout({})", py_float(ratio)),
            Op::Convolution { stride, pad } => {
                let w = &s.params[0].shape;
                format!(
                    "nn.Conv2d({}, {}, ({}, {}), stride={stride}, padding={pad})",
                    w[1], w[0], w[2], w[3]
                )
            }
            Op::MaxPool {
                pool_h,
                pool_w,
                stride,
            } => format!("nn.MaxPool2d(({pool_h}, {pool_w}), stride={stride})"),
        };
        let _ = writeln!(layers, "            (\"{}\", {module}),", s.name);
    }
    let shape = input_shape
        .iter()
        .map(|d| format!("{d}, "))
        .collect::<String>();
    let arch = info.arch.to_json().to_string();
    let classes = serde_json::json!(info.class_names).to_string();
    format!(
        r#""""The {name} network of backprop as a torch.nn.Module (written by `backprop export --torch`).

The weights are in model.safetensors beside this file, under state_dict names:

    from safetensors.torch import load_file
    from model import Net
    model = Net()
    model.load_state_dict(load_file("model.safetensors"))
    model.eval()                       # test mode, as `backprop eval` scores
    logits = model(images)             # images: float32, shape (N, *INPUT_SHAPE)

Net(x) returns the book's scores (its `predict`); their softmax gives class probabilities.
The modules keep the book's semantics: Affine flattens its input, BatchNorm normalises each
activation of the flattened input, Dropout is unscaled in training and scales by
(1 - ratio) in eval mode.
"""

from collections import OrderedDict

import torch
from torch import nn

#: One name per output.
CLASS_NAMES = {classes}
#: The shape of one sample as Net takes it.
INPUT_SHAPE = ({shape})
#: The architecture as backprop records it.
ARCH = {arch:?}


class Affine(nn.Linear):
    """The book's Affine: x.reshape(N, -1) @ W + b (nn.Linear holds W transposed)."""

    def forward(self, x):
        return super().forward(x.flatten(1))


class BatchNorm(nn.BatchNorm1d):
    """The book's BatchNormalization: statistics per activation of x.reshape(N, -1)."""

    def forward(self, x):
        return super().forward(x.flatten(1)).reshape(x.shape)


class Dropout(nn.Module):
    """The book's Dropout: x * mask in training (unscaled), x * (1 - ratio) in eval mode."""

    def __init__(self, ratio):
        super().__init__()
        self.ratio = ratio

    def forward(self, x):
        if self.training:
            return x * (torch.rand_like(x) > self.ratio)
        return x * (1.0 - self.ratio)


class Net(nn.Sequential):
    """{name}: the layers in the book's order and with its names."""

    def __init__(self):
        super().__init__(OrderedDict([
{layers}        ]))
"#,
        name = info.arch.name(),
    )
}

/// Writes `model.safetensors` and `model.py` for `net` into `dir` (created if missing), each
/// atomically; returns their paths.
pub fn save<F: Float>(
    dir: &Path,
    net: &mut Network<F>,
    info: &ModelInfo,
) -> Result<(PathBuf, PathBuf)> {
    let steps = super::walk(net, info)?;
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let (weights, module) = (dir.join(WEIGHTS), dir.join(MODULE));
    crate::io::write_atomic(&weights, &state_dict_bytes(&state_dict(&steps))?)?;
    let input = steps.first().map_or(&[][..], |s| &s.input_shape[..]);
    let source = module_source(&steps, info, input);
    crate::io::write_atomic(&module, source.as_bytes())?;
    Ok((weights, module))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_owns_its_two_files_only() {
        assert!(owns("model.safetensors") && owns("model.py"));
        assert!(!owns("model.onnx") && !owns("Model.py") && !owns(""));
    }

    /// The model read is one of the two files the export writes, by name or through a link
    /// or `..`; another file, or one not there, is not.
    #[test]
    fn a_model_inside_the_directory_would_be_overwritten() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("torch");
        std::fs::create_dir(&dir).unwrap();
        let weights = dir.join(WEIGHTS);
        std::fs::write(&weights, b"x").unwrap();
        let other = tmp.path().join("other.safetensors");
        std::fs::write(&other, b"x").unwrap();
        assert!(would_overwrite(&dir, &weights));
        assert!(would_overwrite(
            &dir,
            &tmp.path().join("torch/../torch/model.safetensors")
        ));
        #[cfg(unix)]
        {
            let link = tmp.path().join("link.safetensors");
            std::os::unix::fs::symlink(&weights, &link).unwrap();
            assert!(would_overwrite(&dir, &link));
            // The module's name as a link to the model counts too.
            std::os::unix::fs::symlink(&other, dir.join(MODULE)).unwrap();
            assert!(would_overwrite(&dir, &other));
        }
        assert!(!would_overwrite(&tmp.path().join("elsewhere"), &weights));
        assert!(!would_overwrite(
            &dir,
            &tmp.path().join("missing.safetensors")
        ));
    }
}
