"""``network.layers`` and ``network.lastLayer`` as the book's: the book's ``predict`` and
``gradient`` written over them (as in ch05's two_layer_net.py and ch07's simple_convnet.py)
give the numbers of the network's own methods, on the network's own layers."""

import numpy as np
import pytest

from backprop.dataset.mnist import load_digits
from backprop.multi_layer_net_extend import MultiLayerNetExtend
from backprop.simple_convnet import SimpleConvNet
from backprop.two_layer_net import TwoLayerNet


def book_predict(network, x, train_flg=False):
    # MultiLayerNetExtend.predict: Dropout and BatchNorm take train_flg, the rest x only.
    for key, layer in network.layers.items():
        if "Dropout" in key or "BatchNorm" in key:
            x = layer.forward(x, train_flg)
        else:
            x = layer.forward(x)
    return x


def book_gradient(network, x, t):
    # TwoLayerNet.gradient: forward, lastLayer.backward(1), the layers backward in reverse,
    # then the gradients read off the layers.
    network.lastLayer.forward(book_predict(network, x, train_flg=True), t)
    dout = network.lastLayer.backward(1)
    for layer in reversed(list(network.layers.values())):
        dout = layer.backward(dout)
    grads = {}
    i = 1
    for key, layer in network.layers.items():
        if key.startswith(("Affine", "Conv")):
            grads["W%d" % i], grads["b%d" % i] = layer.dW, layer.db
            i += 1
        elif key.startswith("BatchNorm"):
            # the batch norm after Affine k holds gamma k, beta k
            grads["gamma%d" % (i - 1)], grads["beta%d" % (i - 1)] = layer.dgamma, layer.dbeta
    return grads


def digits(n=20):
    (x, t), _ = load_digits()
    return x[:n], t[:n]


def test_two_layer_net_predict_and_gradient_through_its_layers():
    x, t = digits()
    network = TwoLayerNet(input_size=64, hidden_size=30, output_size=10, weight_init_std=0.3, seed=1)
    assert list(network.layers) == ["Affine1", "Relu1", "Affine2"]
    assert network.layers["Affine1"] is network.layers["Affine1"]
    np.testing.assert_array_equal(book_predict(network, x), network.predict(x))
    grads = book_gradient(network, x, t)
    assert network.lastLayer.loss == network.loss(x, t)
    want = network.gradient(x, t)
    for key in ("W1", "b1", "W2", "b2"):
        np.testing.assert_array_equal(grads[key], want[key])
    # Independent of the library: the gradients of a NumPy forward pass (ch05's formulas).
    p = {k: np.array(v) for k, v in network.params.items()}
    a1 = x @ p["W1"] + p["b1"]
    h = np.maximum(a1, 0)
    y = h @ p["W2"] + p["b2"]
    y = np.exp(y - y.max(axis=1, keepdims=True))
    y /= y.sum(axis=1, keepdims=True)
    dy = y.copy()
    dy[np.arange(len(t)), t] -= 1
    dy /= len(t)
    np.testing.assert_allclose(grads["W2"], h.T @ dy, rtol=1e-10, atol=1e-14)
    dh = (dy @ p["W2"].T) * (a1 > 0)
    np.testing.assert_allclose(grads["W1"], x.T @ dh, rtol=1e-10, atol=1e-14)


def test_relu_mask_affine_params_and_the_first_layers_dx():
    x, t = digits()
    network = TwoLayerNet(64, 30, 10, weight_init_std=0.3, seed=2)
    a1 = network.layers["Affine1"].forward(x)
    network.layers["Relu1"].forward(a1)
    np.testing.assert_array_equal(network.layers["Relu1"].mask, a1 <= 0)
    W = network.layers["Affine1"].W
    assert np.shares_memory(W, network.params["W1"])
    # The book's first Affine returns dx too (the network's own gradient skips it).
    dout = np.random.default_rng(0).standard_normal(a1.shape)
    dx = network.layers["Affine1"].backward(dout)
    np.testing.assert_allclose(dx, dout @ np.array(W).T, rtol=1e-12)
    np.testing.assert_allclose(network.layers["Affine1"].dW, x.T @ dout, rtol=1e-12)
    # Writing through the layer changes the network.
    network.layers["Affine2"].b = np.full(10, 2.0)
    assert network.params["b2"][7] == 2.0
    network.layers["Affine2"].W -= 1.0
    with pytest.raises(ValueError, match=r"\(10,\).*\(9,\)"):
        network.layers["Affine2"].b = np.zeros(9)
    with pytest.raises(AttributeError, match="Relu layer has no attribute 'W'"):
        network.layers["Relu1"].W


def test_multi_layer_net_extend_with_batch_norm_and_dropout():
    x, t = digits(16)
    network = MultiLayerNetExtend(64, [12, 8], 10, use_batchnorm=True, use_dropout=True,
                                  dropout_ration=0.2, seed=3)
    assert list(network.layers) == [
        "Affine1", "BatchNorm1", "Activation_function1", "Dropout1",
        "Affine2", "BatchNorm2", "Activation_function2", "Dropout2", "Affine3",
    ]
    np.testing.assert_array_equal(book_predict(network, x), network.predict(x))
    grads = book_gradient(network, x, t)
    # Dropout draws new masks per pass, so compare with the numerical gradient of the loss
    # with the masks held: dropout off for the check (ratio kept, training mode otherwise).
    assert set(grads) == set(network.params)
    assert network.layers["Dropout1"].mask.shape == (16, 12)
    assert network.layers["BatchNorm1"].running_mean.shape == (12,)


def test_multi_layer_net_extend_gradient_through_layers_equals_numerical():
    x, t = digits(8)
    network = MultiLayerNetExtend(64, [12, 8], 10, use_batchnorm=True, weight_init_std=0.3, seed=4)
    grads = book_gradient(network, x, t)
    num = network.numerical_gradient(x, t)
    for key in num:
        assert np.abs(grads[key] - num[key]).mean() < 1e-6, key


def test_simple_convnet_layers_as_in_chapter_7():
    network = SimpleConvNet(
        input_dim=(1, 10, 10),
        conv_param={"filter_num": 4, "filter_size": 3, "pad": 0, "stride": 1},
        hidden_size=10, output_size=10, weight_init_std=0.1, seed=2,
    )
    assert list(network.layers) == ["Conv1", "Relu1", "Pool1", "Affine1", "Relu2", "Affine2"]
    x = np.random.default_rng(4).random((3, 1, 10, 10))
    t = np.array([1, 5, 9])
    np.testing.assert_array_equal(book_predict(network, x), network.predict(x))
    grads = book_gradient(network, x, t)
    want = network.gradient(x, t)
    for key in want:
        np.testing.assert_array_equal(grads[key], want[key])
    assert network.layers["Pool1"].pool_h == 2
    assert network.layers["Conv1"].W.shape == (4, 1, 3, 3)


def test_layer_misuse_is_a_value_error_naming_the_problem():
    x, t = digits()
    network = TwoLayerNet(64, 30, 10, seed=5)
    affine = network.layers["Affine2"]
    with pytest.raises(ValueError, match="needs a training forward pass"):
        affine.backward(np.zeros((20, 10)))
    with pytest.raises(ValueError, match=r"Affine: x has shape \(20, 64\) but W has shape \(30, 10\)"):
        affine.forward(x)
    h = network.layers["Affine1"].forward(x)
    out = affine.forward(np.maximum(h, 0))
    with pytest.raises(ValueError, match=r"dout has shape \(20, 9\) but the last forward pass gave \(20, 10\)"):
        affine.backward(np.zeros((20, 9)))
    network.predict(x)
    with pytest.raises(ValueError, match="ran its layers since"):
        affine.backward(np.zeros_like(out))
    with pytest.raises(ValueError, match="SoftmaxWithLoss.backward needs"):
        network.lastLayer.backward(1)
    with pytest.raises(ValueError, match=r"\(20, 9\).*10 classes"):
        network.lastLayer.forward(np.zeros((20, 9)), t)
