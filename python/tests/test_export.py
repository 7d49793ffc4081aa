"""network.export_onnx(path) and network.export_torch(dir) on the package's nets.

Every network class is trained a few steps on the embedded digits, exported, checked with
onnx.checker and run in onnxruntime on the digits test set: its `logits` must be what
`network.predict(x)` (test mode) gives, to 1e-5 in float32 (relative where scores exceed 1),
with the same argmax on every image, and its `probabilities` their softmax. Where PyTorch is
installed, the `export_torch` module's logits are compared with `predict` the same way.
"""

import json
import struct

import numpy as np
import pytest

from backprop.dataset.mnist import load_digits
from backprop.deep_convnet import DeepConvNet
from backprop.multi_layer_net import MultiLayerNet
from backprop.multi_layer_net_extend import MultiLayerNetExtend
from backprop.optimizer import Adam
from backprop.simple_convnet import SimpleConvNet
from backprop.two_layer_net import TwoLayerNet

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

NETS = {
    "two-layer": (True, lambda dt: TwoLayerNet(64, 30, 10, seed=1, dtype=dt)),
    "multi-layer relu": (True, lambda dt: MultiLayerNet(64, [30, 20], 10, seed=2, dtype=dt)),
    "multi-layer sigmoid": (
        True,
        lambda dt: MultiLayerNet(64, [30, 20], 10, activation="sigmoid", weight_init_std="sigmoid",
                                 seed=3, dtype=dt),
    ),
    "batch norm + dropout": (
        True,
        lambda dt: MultiLayerNetExtend(64, [30, 20], 10, use_dropout=True, dropout_ration=0.2,
                                       use_batchnorm=True, seed=4, dtype=dt),
    ),
    "simple-conv": (
        False,
        lambda dt: SimpleConvNet((1, 8, 8), {"filter_num": 6, "filter_size": 3, "pad": 0,
                                             "stride": 1}, 20, 10, seed=5, dtype=dt),
    ),
    "deep-conv": (False, lambda dt: DeepConvNet((1, 8, 8), hidden_size=20, seed=6, dtype=dt)),
}


def trained(name, dtype):
    flat, make = NETS[name]
    (x_train, t_train), (x_test, t_test) = load_digits(flatten=flat)
    net = make(dtype)
    opt = Adam(lr=0.003)
    rng = np.random.default_rng(0)
    for _ in range(30 if name == "deep-conv" else 100):
        mask = rng.choice(len(x_train), 50)
        opt.update(net.params, net.gradient(x_train[mask].astype(dtype), t_train[mask]))
    return net, x_test.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(NETS))
def test_onnxruntime_gives_predicts_scores(tmp_path, name, dtype):
    net, x = trained(name, dtype)
    path = tmp_path / "net.onnx"
    net.export_onnx(path)
    model = onnx.load(str(path))
    onnx.checker.check_model(model, full_check=True)
    meta = {p.key: p.value for p in model.metadata_props}
    assert json.loads(meta["class_names"]) == [str(c) for c in range(10)]
    assert json.loads(meta["input_shape"]) == list(x.shape[1:])
    assert [o.version for o in model.opset_import] == [17]
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["image"]
    logits, probabilities = session.run(["logits", "probabilities"],
                                        {"image": x.astype(np.float32)})
    scores = net.predict(x, train_flg=False)
    largest = max(1.0, float(np.abs(scores).max()))
    assert np.abs(logits - scores).max() <= 1e-5 * largest
    assert (logits.argmax(axis=1) == scores.argmax(axis=1)).all()
    e = np.exp(scores - scores.max(axis=1, keepdims=True))
    assert np.abs(probabilities - e / e.sum(axis=1, keepdims=True)).max() <= 1e-5


def test_torch_export_names_every_parameter(tmp_path):
    net, _ = trained("batch norm + dropout", np.float32)
    net.export_torch(tmp_path / "t")
    raw = (tmp_path / "t" / "model.safetensors").read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    header.pop("__metadata__")

    def tensor(key):
        begin, end = header[key]["data_offsets"]
        return np.frombuffer(raw[8 + n + begin:8 + n + end], dtype=np.float32).reshape(
            header[key]["shape"])

    # nn.Linear holds [out, in]: the book's W1 transposed.
    np.testing.assert_array_equal(tensor("Affine1.weight"), net.params["W1"].T)
    np.testing.assert_array_equal(tensor("BatchNorm1.weight"), net.params["gamma1"])
    assert header["BatchNorm2.running_var"]["shape"] == [20]
    assert header["BatchNorm1.num_batches_tracked"]["dtype"] == "I64"
    source = (tmp_path / "t" / "model.py").read_text()
    assert '("Dropout1", Dropout(0.2)),' in source


@pytest.mark.parametrize("name", list(NETS))
def test_pytorch_gives_predicts_scores(tmp_path, name):
    """Where PyTorch is installed (CI does not install it: too large), the exported module
    loads the exported state_dict unchanged (strict) and its logits are `predict`'s."""
    torch = pytest.importorskip("torch")
    load_file = pytest.importorskip("safetensors.torch").load_file
    import importlib.util

    net, x = trained(name, np.float32)
    net.export_torch(tmp_path / "t")
    spec = importlib.util.spec_from_file_location(f"exported_{abs(hash(name))}",
                                                  tmp_path / "t" / "model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model = module.Net()
    model.load_state_dict(load_file(str(tmp_path / "t" / "model.safetensors")))
    model.eval()
    with torch.no_grad():
        logits = model(torch.from_numpy(x)).numpy()
    scores = net.predict(x, train_flg=False)
    largest = max(1.0, float(np.abs(scores).max()))
    diff = float(np.abs(logits - scores).max())
    print(f"figure: torch {torch.__version__} {name}: max |logits - predict| = {diff:.3e} "
          f"(largest |score| {largest:.1f}), {len(x)} digits")
    assert diff <= 1e-5 * largest
    assert (logits.argmax(axis=1) == scores.argmax(axis=1)).all()


def test_export_errors_name_the_path(tmp_path):
    net = TwoLayerNet(64, 10, 10, seed=1)
    missing = tmp_path / "no" / "such" / "dir" / "net.onnx"
    with pytest.raises(FileNotFoundError, match="no/such/dir"):
        net.export_onnx(missing)
