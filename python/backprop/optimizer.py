"""``common/optimizer.py``: the book's update rules with its ``update(params, grads)``.

``params`` is a dict of NumPy arrays (a network's ``params``, or your own dict) changed in
place; ``grads`` has the same keys. Each optimizer keeps its state per key, in the order of
``params.keys()`` at the first update.
"""

from ._core import Optimizer as _Optimizer


class _Rule:
    _kind = ""

    def __init__(self, **settings):
        self._opt = _Optimizer(self._kind, **settings)

    def update(self, params, grads):
        """Changes every ``params[key]`` in place from ``grads[key]``."""
        self._opt.update(params, grads)

    @property
    def lr(self):
        return self._opt.lr

    def __repr__(self):
        return f"{type(self).__name__}(lr={self.lr})"


class SGD(_Rule):
    """``W ← W − lr · ∂L/∂W``."""

    _kind = "sgd"

    def __init__(self, lr=0.01):
        super().__init__(lr=lr)


class Momentum(_Rule):
    """``v ← momentum · v − lr · ∂L/∂W``; ``W ← W + v``."""

    _kind = "momentum"

    def __init__(self, lr=0.01, momentum=0.9):
        super().__init__(lr=lr, momentum=momentum)

    @property
    def momentum(self):
        return self._opt.momentum


class Nesterov(_Rule):
    """Nesterov's accelerated gradient, in the book's corrected order."""

    _kind = "nesterov"

    def __init__(self, lr=0.01, momentum=0.9):
        super().__init__(lr=lr, momentum=momentum)

    @property
    def momentum(self):
        return self._opt.momentum


class AdaGrad(_Rule):
    """``h ← h + g²``; ``W ← W − lr · g / (√h + 1e-7)``."""

    _kind = "adagrad"

    def __init__(self, lr=0.01):
        super().__init__(lr=lr)


class RMSprop(_Rule):
    """``h ← decay · h + (1 − decay) · g²``; ``W ← W − lr · g / (√h + 1e-7)``."""

    _kind = "rmsprop"

    def __init__(self, lr=0.01, decay_rate=0.99):
        super().__init__(lr=lr, decay_rate=decay_rate)

    @property
    def decay_rate(self):
        return self._opt.decay_rate


class Adam(_Rule):
    """Adam with the book's folded bias correction."""

    _kind = "adam"

    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999):
        super().__init__(lr=lr, beta1=beta1, beta2=beta2)

    @property
    def beta1(self):
        return self._opt.beta1

    @property
    def beta2(self):
        return self._opt.beta2


__all__ = ["SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam"]
