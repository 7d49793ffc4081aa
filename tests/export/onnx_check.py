"""Checks an ONNX file written by `backprop export --onnx` against `backprop eval --scores`.

    python3 onnx_check.py MODEL.onnx SCORES.safetensors

Runs onnx.checker.check_model (full check, with shape inference), then onnxruntime on the
images eval scored, and prints one JSON object: the largest absolute difference between
onnxruntime's `logits` and eval's scores, the same for `probabilities` against a NumPy
softmax of eval's scores, how many images get the same argmax, the graph's input and
outputs, and its metadata. The Rust test (tests/export.rs) asserts on it.
"""

import json
import sys

import numpy as np
import onnx
import onnxruntime as ort
from safetensors.numpy import load_file


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
    shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
    softmax = shifted / shifted.sum(axis=1, keepdims=True)

    def dims(v):
        return [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]

    print(json.dumps({
        "samples": int(scores.shape[0]),
        "max_abs_diff": float(np.abs(logits - scores).max()),
        "max_abs_score": float(np.abs(scores).max()),
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
