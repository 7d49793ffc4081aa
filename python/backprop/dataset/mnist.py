"""``dataset/mnist.py``: MNIST from backprop's verified cache, and the embedded digits.

Unlike the book's module this downloads nothing: ``backprop data fetch mnist`` (or
``backprop data import mnist DIR``) places the files, checked against their published sha256,
where ``load_mnist`` finds them (``$BACKPROP_DATA/mnist/`` or ``~/.cache/backprop/mnist/``).
"""

from .. import _core


def load_mnist(normalize=True, flatten=True, one_hot_label=False):
    """``(x_train, t_train), (x_test, t_test)`` as in the book: images float32 in [0, 1]
    (``normalize``) or uint8, shaped ``(N, 784)`` (``flatten``) or ``(N, 1, 28, 28)``; labels
    uint8 ``(N,)`` or one-hot float32 ``(N, 10)``. ``FileNotFoundError`` when MNIST is not
    in the cache."""
    return _core.load_idx_set("mnist", normalize, flatten, one_hot_label)


def load_fashion_mnist(normalize=True, flatten=True, one_hot_label=False):
    """Fashion-MNIST, as ``load_mnist``."""
    return _core.load_idx_set("fashion-mnist", normalize, flatten, one_hot_label)


def load_digits(normalize=True, flatten=True, one_hot_label=False, seed=42):
    """The UCI handwritten digits embedded in backprop (8×8, 1797 samples), split 80/20 by
    ``seed`` as ``backprop train`` splits them: shapes ``(N, 64)`` or ``(N, 1, 8, 8)``. Needs
    no files."""
    return _core.load_digits(normalize, flatten, one_hot_label, seed)


__all__ = ["load_mnist", "load_fashion_mnist", "load_digits"]
