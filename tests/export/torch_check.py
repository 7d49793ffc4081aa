"""Checks the directory written by `backprop export --torch DIR`, without PyTorch.

    python3 torch_check.py DIR [SCORES.safetensors]

Executes DIR/model.py against a stub `torch` package (stub_torch/) whose modules record the
state_dict entries real PyTorch gives them (names, shapes and dtypes as PyTorch documents
them: nn.Linear weight [out, in], nn.Conv2d weight [out, in, kh, kw], BatchNorm1d weight,
bias, running_mean, running_var and an int64 num_batches_tracked), builds Net(), and compares
those entries with the header of DIR/model.safetensors, read as raw JSON. Prints one JSON
object. Where real PyTorch is importable and SCORES is given, it also loads the weights with
`model.load_state_dict(load_file(...))` (strict) and compares the logits with eval's scores,
and both with the same module run in float64 on the same weights.
"""

import json
import os
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def header(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        h = json.loads(f.read(n))
    h.pop("__metadata__", None)
    return {k: {"shape": v["shape"], "dtype": v["dtype"]} for k, v in h.items()}


def stub_entries(directory):
    """The state_dict that Net() of model.py has, per the stub torch."""
    sys.path.insert(0, os.path.join(HERE, "stub_torch"))
    sys.path.insert(0, directory)
    import model  # noqa: E402  (model.py of the export, importing the stub torch)
    import torch  # noqa: E402

    assert torch.IS_STUB, "the stub torch was not the one imported"
    net = model.Net()
    return net.state_dict_entries(), model


def real_torch_logits(directory, scores_path):
    """Runs the real PyTorch in a fresh interpreter (the stub is loaded in this one)."""
    code = f"""
import json, sys
sys.path.insert(0, {directory!r})
import numpy as np, torch
from safetensors.torch import load_file
from safetensors.numpy import load_file as load_np
from model import Net
net = Net()
net.load_state_dict(load_file({os.path.join(directory, "model.safetensors")!r}))
net.eval()
data = load_np({scores_path!r})
images = torch.from_numpy(data["images"].astype(np.float32))
with torch.no_grad():
    logits = net(images).numpy()
    # The same module and float32 weights computed in float64: PyTorch's own reference.
    exact = net.double()(images.double()).numpy()
scores = data["scores"]
print(json.dumps({{"max_abs_diff": float(np.abs(logits - scores).max()),
                  "torch_vs_f64": float(np.abs(logits - exact).max()),
                  "eval_vs_torch_f64": float(np.abs(scores - exact).max()),
                  "argmax_agree": int((logits.argmax(1) == scores.argmax(1)).sum()),
                  "samples": int(scores.shape[0]), "torch": torch.__version__}}))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(out.stderr)
    return json.loads(out.stdout)


def main(directory, scores_path=None):
    file_entries = header(os.path.join(directory, "model.safetensors"))
    module_entries, model = stub_entries(directory)
    result = {
        "file": file_entries,
        "module": module_entries,
        "class_names": model.CLASS_NAMES,
        "input_shape": list(model.INPUT_SHAPE),
    }
    probe = subprocess.run([sys.executable, "-c", "import torch, safetensors.torch"],
                           capture_output=True)
    if scores_path and probe.returncode == 0:
        result["torch"] = real_torch_logits(directory, scores_path)
    print(json.dumps(result))


if __name__ == "__main__":
    main(*sys.argv[1:])
