"""Checks an ONNX file written by `backprop export --onnx` against `backprop eval --scores`.

    python3 onnx_check.py MODEL.onnx SCORES.safetensors

Runs onnx.checker.check_model (full check, with shape inference), then onnxruntime on the
images eval scored, and prints one JSON object: the largest absolute difference between
onnxruntime's `logits` and eval's scores, the same for `probabilities` against a NumPy
softmax of eval's scores, how many images get the same argmax, the graph's input and
outputs, and its metadata. The Rust test (tests/export.rs) asserts on it.

To say which of the two float32 computations is off when they differ, both are also compared
with a float64 reference: the graph evaluated node by node in NumPy float64 (`reference`
below, written from the ONNX operator definitions) on the same float32 weights and images.
"""

import json
import sys

import numpy as np
import onnx
import onnx.numpy_helper
import onnxruntime as ort
from safetensors.numpy import load_file


def _windows(x, kh, kw, stride):
    """(N, C, H, W) -> (N, C, OH, OW, kh, kw) views of every window."""
    v = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(2, 3))
    return v[:, :, ::stride, ::stride]


def _attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def reference(model, images, batch=200):
    """The graph's `logits` for `images`, every node computed in float64 by NumPy."""
    weights = {t.name: onnx.numpy_helper.to_array(t).astype(np.float64)
               for t in model.graph.initializer}
    out = []
    for start in range(0, len(images), batch):
        env = dict(weights)
        env[model.graph.input[0].name] = images[start:start + batch].astype(np.float64)
        for node in model.graph.node:
            a = _attrs(node)
            x = [env[i] for i in node.input]
            op = node.op_type
            if op == "Gemm":
                y = x[0] @ x[1] + x[2]
            elif op == "Relu":
                y = np.maximum(x[0], 0.0)
            elif op == "Sigmoid":
                y = 1.0 / (1.0 + np.exp(-x[0]))
            elif op == "Mul":
                y = x[0] * x[1]
            elif op == "Flatten":
                y = x[0].reshape(x[0].shape[0], -1)
            elif op == "Reshape":
                shape = [x[0].shape[0] if d == 0 else int(d) for d in x[1]]
                y = x[0].reshape(shape)
            elif op == "BatchNormalization":
                scale, bias, mean, var = x[1:5]
                y = scale * (x[0] - mean) / np.sqrt(var + np.float64(np.float32(a["epsilon"]))) + bias
            elif op == "Conv":
                (p, _, _, _), (s, _) = a["pads"], a["strides"]
                kh, kw = a["kernel_shape"]
                padded = np.pad(x[0], ((0, 0), (0, 0), (p, p), (p, p)))
                y = np.einsum("nchwij,ocij->nohw", _windows(padded, kh, kw, s), x[1],
                              optimize=True)
                y += x[2][None, :, None, None]
            elif op == "MaxPool":
                kh, kw = a["kernel_shape"]
                y = _windows(x[0], kh, kw, a["strides"][0]).max(axis=(4, 5))
            elif op == "Softmax":
                e = np.exp(x[0] - x[0].max(axis=1, keepdims=True))
                y = e / e.sum(axis=1, keepdims=True)
            else:
                raise ValueError(f"reference: no float64 {op}")
            env[node.output[0]] = y
        out.append(env["logits"])
    return np.concatenate(out)


def main(model_path, scores_path):
    model = onnx.load(model_path)
    onnx.checker.check_model(model, full_check=True)
    data = load_file(scores_path)
    images = data["images"].astype(np.float32)
    scores = data["scores"].astype(np.float64)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    session = ort.InferenceSession(model_path, opts, providers=["CPUExecutionProvider"])
    logits, probabilities = session.run(["logits", "probabilities"], {"image": images})
    exact = reference(model, images)
    shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
    softmax = shifted / shifted.sum(axis=1, keepdims=True)

    def dims(v):
        return [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]

    print(json.dumps({
        "samples": int(scores.shape[0]),
        "max_abs_diff": float(np.abs(logits - scores).max()),
        "max_abs_score": float(np.abs(scores).max()),
        "onnxruntime_vs_f64": float(np.abs(logits - exact).max()),
        "eval_vs_f64": float(np.abs(scores - exact).max()),
        "max_abs_diff_probabilities": float(np.abs(probabilities - softmax).max()),
        "argmax_agree": int((logits.argmax(axis=1) == scores.argmax(axis=1)).sum()),
        "accuracy": float((logits.argmax(axis=1) == data["labels"]).mean()),
        "inputs": {i.name: dims(i) for i in model.graph.input},
        "outputs": {o.name: dims(o) for o in model.graph.output},
        "metadata": {p.key: p.value for p in model.metadata_props},
        "opset": [o.version for o in model.opset_import],
        "producer": [model.producer_name, model.producer_version],
        "onnx": onnx.__version__,
        "onnxruntime": ort.__version__,
    }))


if __name__ == "__main__":
    main(*sys.argv[1:])
