"""ch06's optimizer comparison through the book's update(params, grads) protocol."""

from collections import OrderedDict

import numpy as np
import pytest

from backprop.dataset.mnist import load_digits
from backprop.multi_layer_net import MultiLayerNet
from backprop.optimizer import SGD, AdaGrad, Adam, Momentum, Nesterov, RMSprop


def f(x, y):
    return x**2 / 20.0 + y**2


def df(x, y):
    return x / 10.0, 2.0 * y


def test_optimizer_paths_on_the_books_function():
    # As ch06/optimizer_compare_naive.py: 30 steps from (-7, 2) on f = x²/20 + y².
    optimizers = OrderedDict(
        SGD=SGD(lr=0.95), Momentum=Momentum(lr=0.1), AdaGrad=AdaGrad(lr=1.5), Adam=Adam(lr=0.3),
        Nesterov=Nesterov(lr=0.1), RMSprop=RMSprop(lr=0.3),
    )
    ends = {}
    for name, opt in optimizers.items():
        params = {"x": np.array(-7.0), "y": np.array(2.0)}
        grads = {"x": np.array(0.0), "y": np.array(0.0)}
        for _ in range(30):
            gx, gy = df(params["x"], params["y"])
            grads["x"][...], grads["y"][...] = gx, gy
            opt.update(params, grads)
        ends[name] = f(params["x"], params["y"])
        print(name, float(params["x"]), float(params["y"]), ends[name])
        assert ends[name] < f(-7.0, 2.0) / 4, name


def test_sgd_and_momentum_follow_their_rules_exactly():
    p = {"W": np.array([1.0, 2.0])}
    g = {"W": np.array([0.5, -1.0])}
    SGD(lr=0.1).update(p, g)
    np.testing.assert_allclose(p["W"], [0.95, 2.1])
    m = Momentum(lr=0.1, momentum=0.9)
    p = {"W": np.array([0.0])}
    m.update(p, {"W": np.array([1.0])})  # v = -0.1
    m.update(p, {"W": np.array([1.0])})  # v = 0.9·(-0.1) - 0.1 = -0.19
    np.testing.assert_allclose(p["W"], [-0.29])


def test_optimizer_comparison_on_digits():
    # As ch06/optimizer_compare_mnist.py, shortened: every rule lowers the loss of a
    # 4-hidden-layer net through network.params and the book's update().
    (x_train, t_train), _ = load_digits()
    rules = {"SGD": SGD(), "Momentum": Momentum(), "AdaGrad": AdaGrad(), "Adam": Adam(),
             "RMSprop": RMSprop(), "Nesterov": Nesterov()}
    rng = np.random.default_rng(0)
    batches = [rng.choice(len(x_train), 100) for _ in range(200)]
    for name, opt in rules.items():
        net = MultiLayerNet(64, [100, 100, 100, 100], 10, seed=1)
        first = net.loss(x_train, t_train)
        for m in batches:
            grads = net.gradient(x_train[m], t_train[m])
            opt.update(net.params, grads)
        last = net.loss(x_train, t_train)
        print(name, first, last)
        assert last < first * 0.6, (name, first, last)


def test_update_checks_shapes_and_dtypes():
    with pytest.raises(ValueError, match=r"\(2,\).*\(3,\)"):
        SGD().update({"W": np.zeros(2)}, {"W": np.zeros(3)})
    with pytest.raises(TypeError, match="float64"):
        SGD().update({"W": [1.0, 2.0]}, {"W": np.zeros(2)})
    opt = Adam()
    opt.update({"W": np.zeros(2)}, {"W": np.ones(2)})
    with pytest.raises(ValueError, match="keys"):
        opt.update({"V": np.zeros(2)}, {"V": np.ones(2)})
