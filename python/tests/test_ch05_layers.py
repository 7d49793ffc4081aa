"""Chapter 5 through backprop.layers, in the style of the book's scripts: the seed's apple and
apple-orange numbers (buy_apple.py, buy_apple_orange.py), the layers' behaviour checked
against hand-computed values and numerical gradients."""

import numpy as np
import pytest

import backprop
from backprop.functions import cross_entropy_error, softmax
from backprop.gradient import numerical_gradient
from backprop.layers import (
    Affine,
    AddLayer,
    BatchNormalization,
    Convolution,
    Dropout,
    MulLayer,
    Pooling,
    Relu,
    Sigmoid,
    SoftmaxWithLoss,
)


def test_buy_apple():
    apple, apple_num, tax = 100, 2, 1.1
    mul_apple_layer = MulLayer()
    mul_tax_layer = MulLayer()
    apple_price = mul_apple_layer.forward(apple, apple_num)
    price = mul_tax_layer.forward(apple_price, tax)
    assert price == pytest.approx(220.0)

    dprice = 1
    dapple_price, dtax = mul_tax_layer.backward(dprice)
    dapple, dapple_num = mul_apple_layer.backward(dapple_price)
    assert (dapple, dapple_num, dtax) == pytest.approx((2.2, 110.0, 200.0))


def test_buy_apple_orange():
    apple, apple_num, orange, orange_num, tax = 100, 2, 150, 3, 1.1
    mul_apple_layer, mul_orange_layer, mul_tax_layer = MulLayer(), MulLayer(), MulLayer()
    add_apple_orange_layer = AddLayer()
    apple_price = mul_apple_layer.forward(apple, apple_num)
    orange_price = mul_orange_layer.forward(orange, orange_num)
    all_price = add_apple_orange_layer.forward(apple_price, orange_price)
    price = mul_tax_layer.forward(all_price, tax)
    assert price == pytest.approx(715.0)

    dall_price, dtax = mul_tax_layer.backward(1)
    dapple_price, dorange_price = add_apple_orange_layer.backward(dall_price)
    dorange, dorange_num = mul_orange_layer.backward(dorange_price)
    dapple, dapple_num = mul_apple_layer.backward(dapple_price)
    assert (dapple_num, dapple, dorange, dorange_num, dtax) == pytest.approx(
        (110.0, 2.2, 3.3, 165.0, 650.0)
    )


def test_graph_objects_carry_value_and_gradients():
    g = backprop.graph("x*y + z", x=2, y=3, z=1)
    assert g.value == 7.0
    assert (g.dx, g.dy, g.dz) == (3.0, 2.0, 1.0)
    assert g.grads == {"x": 3.0, "y": 2.0, "z": 1.0}
    apple = backprop.apple_orange_graph()
    assert apple.value == pytest.approx(715.0)
    assert apple.dorange_num == pytest.approx(165.0) and apple.dtax == pytest.approx(650.0)
    svg = apple._repr_svg_()
    assert svg.startswith("<svg") or "<svg" in svg[:200]
    assert "715" in svg  # the forward value is drawn on the output edge
    with pytest.raises(AttributeError):
        apple.dbanana
    with pytest.raises(ValueError, match="y"):
        backprop.graph("x*y", x=2)


def test_relu_mask_and_backward():
    relu = Relu()
    x = np.array([[1.0, -0.5], [-2.0, 3.0]])
    out = relu.forward(x)
    np.testing.assert_array_equal(out, [[1.0, 0.0], [0.0, 3.0]])
    np.testing.assert_array_equal(relu.mask, [[False, True], [True, False]])
    dx = relu.backward(np.ones((2, 2)))
    np.testing.assert_array_equal(dx, [[1.0, 0.0], [0.0, 1.0]])


def test_sigmoid_backward_is_y_times_one_minus_y():
    s = Sigmoid()
    x = np.array([[-1.0, 0.0, 2.0]])
    y = s.forward(x)
    np.testing.assert_allclose(y, 1 / (1 + np.exp(-x)))
    np.testing.assert_allclose(s.backward(np.ones_like(x)), y * (1 - y))


def test_affine_matches_hand_computation_and_numerical_gradient():
    rng = np.random.default_rng(0)
    W, b = rng.standard_normal((3, 2)), rng.standard_normal(2)
    affine = Affine(W, b)
    x = rng.standard_normal((4, 3))
    np.testing.assert_allclose(affine.forward(x), x @ W + b)
    dout = rng.standard_normal((4, 2))
    dx = affine.backward(dout)
    np.testing.assert_allclose(dx, dout @ W.T)
    np.testing.assert_allclose(affine.dW, x.T @ dout)
    np.testing.assert_allclose(affine.db, dout.sum(axis=0))
    # the layer's W is its own buffer: an in-place update changes the next forward pass
    affine.W -= 0.5 * affine.dW
    np.testing.assert_allclose(affine.forward(x), x @ (W - 0.5 * (x.T @ dout)) + b)
    with pytest.raises(ValueError, match=r"\(3, 2\).*\(5, 5\)"):
        affine.W = np.zeros((5, 5))


def test_softmax_with_loss_backward_is_y_minus_t_over_n():
    layer = SoftmaxWithLoss()
    x = np.array([[0.3, 2.9, 4.0], [1.0, 1.0, -1.0]])
    t = np.array([2, 0])
    loss = layer.forward(x, t)
    y = np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)
    assert loss == pytest.approx(-np.mean(np.log(y[[0, 1], t] + 1e-7)))
    onehot = np.eye(3)[t]
    np.testing.assert_allclose(layer.backward(), (y - onehot) / 2)
    np.testing.assert_allclose(softmax(x), y)
    assert cross_entropy_error(y, onehot) == pytest.approx(loss)


def test_numerical_gradient_nudges_the_callers_array():
    x = np.array([3.0, 4.0])
    g = numerical_gradient(lambda v: np.sum(v**2), x)
    np.testing.assert_allclose(g, [6.0, 8.0], atol=1e-6)
    np.testing.assert_array_equal(x, [3.0, 4.0])  # restored
    # the book's closure style: f ignores its argument and reads x itself
    W = np.array([[1.0, 2.0]])
    g = numerical_gradient(lambda _: float(W[0, 0] * W[0, 1]), W)
    np.testing.assert_allclose(g, [[2.0, 1.0]], atol=1e-6)


def test_dropout_and_batchnorm_train_and_test_modes():
    d = Dropout(0.5, seed=3)
    x = np.ones((200, 10))
    out = d.forward(x, train_flg=True)
    kept = out.mean()
    assert 0.4 < kept < 0.6
    np.testing.assert_array_equal(out, x * d.mask)  # the book's mask: True where kept
    np.testing.assert_array_equal(d.backward(np.full((200, 10), 2.0)), 2.0 * d.mask)
    np.testing.assert_allclose(d.forward(x, train_flg=False), x * 0.5)

    bn = BatchNormalization(np.ones(3), np.zeros(3))
    x = np.random.default_rng(1).standard_normal((50, 3)) * 4 + 2
    out = bn.forward(x, train_flg=True)
    np.testing.assert_allclose(out.mean(axis=0), 0, atol=1e-9)
    np.testing.assert_allclose(out.std(axis=0), 1, atol=1e-4)
    np.testing.assert_allclose(bn.running_mean, 0.1 * x.mean(axis=0))


def test_convolution_and_pooling_against_numpy():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3, 5, 5))
    W, b = rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
    conv = Convolution(W, b, stride=1, pad=1)
    out = conv.forward(x)
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    want = np.zeros((2, 4, 5, 5))
    for i in range(5):
        for j in range(5):
            patch = xp[:, :, i : i + 3, j : j + 3]
            want[:, :, i, j] = np.tensordot(patch, W, axes=([1, 2, 3], [1, 2, 3])) + b
    np.testing.assert_allclose(out, want, atol=1e-12)
    pool = Pooling(2, 2, stride=2)
    p = pool.forward(out[:, :, :4, :4].copy())
    np.testing.assert_allclose(p, out[:, :, :4, :4].reshape(2, 4, 2, 2, 2, 2).max(axis=(3, 5)))
    with pytest.raises(ValueError, match=r"\(2, 2, 5, 5\).*\(4, 3, 3, 3\)"):
        conv.forward(np.zeros((2, 2, 5, 5)))
