"""What the fast book-style loop relies on (``network.gradient`` + ``params[key] -= lr * grad``):
reused gradient arrays, cached parameter views, float32 images and integer labels read
without NumPy conversions, all giving the numbers of the plain route."""

import numpy as np
import pytest

from backprop.dataset.mnist import load_digits
from backprop.two_layer_net import TwoLayerNet


def digits():
    (x, t), _ = load_digits()
    return x[:50], t[:50]


def test_gradient_arrays_are_reused_and_overwritten_by_the_next_call():
    x, t = digits()
    net = TwoLayerNet(64, 20, 10, seed=5)
    g1 = net.gradient(x[:25], t[:25])
    first = {k: v.copy() for k, v in g1.items()}
    g2 = net.gradient(x[25:], t[25:])
    for key in g1:
        # The same array, now holding the second batch's gradient (documented).
        assert g2[key] is g1[key]
    # Independent expectation: a fresh network with the same weights, one call each.
    other = TwoLayerNet(64, 20, 10, seed=5)
    np.testing.assert_array_equal(other.gradient(x[:25], t[:25])["W1"], first["W1"])
    fresh = TwoLayerNet(64, 20, 10, seed=5).gradient(x[25:], t[25:])
    for key in g2:
        np.testing.assert_array_equal(g2[key], fresh[key])
    assert not np.array_equal(first["W1"], g2["W1"])


def test_gradient_array_made_read_only_is_replaced_not_written():
    x, t = digits()
    net = TwoLayerNet(64, 20, 10, seed=5)
    g1 = net.gradient(x[:25], t[:25])
    kept = g1["W1"]
    kept.setflags(write=False)
    before = kept.copy()
    g2 = net.gradient(x[25:], t[25:])
    assert g2["W1"] is not kept
    np.testing.assert_array_equal(kept, before)
    fresh = TwoLayerNet(64, 20, 10, seed=5).gradient(x[25:], t[25:])
    np.testing.assert_array_equal(g2["W1"], fresh["W1"])


def test_params_views_are_cached_and_in_place_updates_reach_the_network():
    x, t = digits()
    net = TwoLayerNet(64, 20, 10, seed=6)
    assert net.params["W1"] is net.params["W1"]
    w_before = net.params["W1"].copy()
    grad = net.gradient(x, t)
    expected = w_before - 0.5 * grad["W1"]
    net.params["W1"] -= 0.5 * grad["W1"]
    np.testing.assert_array_equal(net.params["W1"], expected)
    # The network computes with the updated weights: the same loss as a NumPy forward pass.
    p = {k: np.array(v) for k, v in net.params.items()}
    h = np.maximum(x @ p["W1"] + p["b1"], 0)
    y = h @ p["W2"] + p["b2"]
    y = np.exp(y - y.max(axis=1, keepdims=True))
    y /= y.sum(axis=1, keepdims=True)
    want = -np.mean(np.log(y[np.arange(len(t)), t] + 1e-7))
    assert net.loss(x, t) == pytest.approx(want, rel=1e-12)
    # Assigning a new array still copies it in after the shape check.
    net.params["b1"] = np.full(20, 0.25)
    assert net.params["b1"][3] == 0.25
    with pytest.raises(ValueError, match=r"\(20,\).*\(21,\)"):
        net.params["b1"] = np.zeros(21)


def test_float32_images_into_a_float64_network_equal_the_converted_images():
    x, t = digits()
    x32 = x.astype(np.float32)
    net = TwoLayerNet(64, 20, 10, seed=7)
    a = {k: v.copy() for k, v in net.gradient(x32, t).items()}
    b = net.gradient(x32.astype(np.float64), t)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    # Non-contiguous input (every other sample) too.
    np.testing.assert_array_equal(net.predict(x32[::2]), net.predict(x32[::2].astype(np.float64)))


@pytest.mark.parametrize("dtype", [np.uint8, np.int64, np.int32, np.int16, np.int8, np.uint16, np.float64])
def test_labels_of_any_integer_dtype_give_the_same_loss(dtype):
    x, t = digits()
    net = TwoLayerNet(64, 20, 10, seed=8)
    want = net.loss(x, t.astype(np.int64))
    assert net.loss(x, t.astype(dtype)) == want
    assert net.loss(x, t.astype(dtype).reshape(-1, 1)) == want


def test_bad_integer_labels_are_value_errors():
    x, t = digits()
    net = TwoLayerNet(64, 20, 10, seed=8)
    bad = t.astype(np.int8)
    bad[3] = -1
    with pytest.raises(ValueError, match="label -1"):
        net.gradient(x, bad)
    bad = t.astype(np.uint8)
    bad[4] = 10
    with pytest.raises(ValueError, match="label 10 is not a class index in 0..10"):
        net.loss(x, bad)
    with pytest.raises(ValueError, match=r"t has shape \(49,\) but x has 50 samples"):
        net.loss(x, t[:49].astype(np.uint8))
