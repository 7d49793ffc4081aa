"""Bad input is a Python exception naming the problem, never a crash."""

import subprocess
import sys

import numpy as np
import pytest

from backprop.layers import Affine, Convolution, SoftmaxWithLoss
from backprop.simple_convnet import SimpleConvNet
from backprop.two_layer_net import TwoLayerNet
from backprop.util import col2im, im2col

from conftest import PICKLES


def test_wrong_shapes_name_both_shapes():
    net = TwoLayerNet(4, 3, 2, seed=0)
    with pytest.raises(ValueError, match=r"\(5, 7\).*\(N, 4\)"):
        net.predict(np.zeros((5, 7)))
    with pytest.raises(ValueError, match=r"\(5, 2\).*\(4, 3\)"):
        Affine(np.zeros((4, 3)), np.zeros(3)).forward(np.zeros((5, 2)))
    with pytest.raises(ValueError, match=r"\(4, 3\).*\(2,\)"):
        Affine(np.zeros((4, 3)), np.zeros(2))
    with pytest.raises(ValueError, match="label 7"):
        net.loss(np.zeros((2, 4)), np.array([0, 7]))
    with pytest.raises(ValueError, match=r"\(2, 3\)"):
        net.gradient(np.zeros((2, 4)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="does not fit"):
        im2col(np.zeros((1, 1, 2, 2)), 3, 3)
    with pytest.raises(ValueError, match="col has shape"):
        col2im(np.zeros((3, 3)), (1, 1, 4, 4), 2, 2)
    with pytest.raises(ValueError, match="forward"):
        SoftmaxWithLoss().backward()
    a = Affine(np.zeros((4, 3)), np.zeros(3))
    a.forward(np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"\(5, 3\).*\(2, 3\)"):
        a.backward(np.zeros((5, 3)))


def test_wrong_dtypes_are_type_errors():
    net = TwoLayerNet(4, 3, 2, seed=0)
    with pytest.raises(TypeError, match="dtype"):
        net.predict(np.array([["a", "b", "c", "d"]]))
    with pytest.raises(TypeError, match="float64.*float32"):
        TwoLayerNet(4, 3, 2, dtype=np.int32)
    with pytest.raises(TypeError):
        Convolution(np.zeros((1, 1, 2, 2), dtype=complex), np.zeros(1))


def test_missing_and_corrupt_model_files(tmp_path):
    net = SimpleConvNet(seed=0)
    with pytest.raises(FileNotFoundError, match="nope.pkl"):
        net.load_params(tmp_path / "nope.pkl")
    garbage = tmp_path / "garbage.pkl"
    garbage.write_bytes(b"\x80\x04not really a pickle")
    with pytest.raises(ValueError, match="garbage.pkl"):
        net.load_params(garbage)
    with pytest.raises(ValueError, match="evil_p4.pkl"):  # a pickle that would run a command
        net.load_params(PICKLES / "evil_p4.pkl")
    # a real pickle of another network: every mismatch is named
    with pytest.raises(ValueError, match="W1 has shape"):
        net.load_params(PICKLES / "two_layer.pkl")
    truncated = tmp_path / "model.safetensors"
    small = TwoLayerNet(4, 3, 2, seed=0)
    small.save_params(truncated)
    truncated.write_bytes(truncated.read_bytes()[:-10])
    with pytest.raises(ValueError, match="model.safetensors"):
        small.load_params(truncated)


def test_a_rust_panic_is_an_exception_not_an_abort():
    # Run in a child interpreter so that an abort would show as a signal, not kill pytest.
    code = (
        "import numpy as np\n"
        "from backprop.layers import Pooling\n"
        "p = Pooling(2, 2, stride=2)\n"
        "p.forward(np.zeros((1, 1, 4, 4)))\n"
        "try:\n"
        "    p.backward(np.zeros((1, 1, 2, 2, 1)))\n"
        "except Exception as e:\n"
        "    print('caught', type(e).__name__)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "caught" in r.stdout
