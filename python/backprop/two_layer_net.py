"""ch05 ``two_layer_net.py``: ``TwoLayerNet`` (Affine → ReLU → Affine → Softmax-with-Loss)."""

from . import _core
from ._net import BookNet


class TwoLayerNet(BookNet):
    """The book's TwoLayerNet. Weights are drawn from ``seed`` (default: from NumPy's global
    generator, so ``np.random.seed`` repeats a run); ``dtype=np.float32`` computes in single
    precision for speed."""

    def __init__(self, input_size, hidden_size, output_size, weight_init_std=0.01, *, seed=None, dtype=None):
        super().__init__(
            _core.Net.two_layer(input_size, hidden_size, output_size, weight_init_std, seed, dtype)
        )

    def accuracy(self, x, t, batch_size=1000):
        return super().accuracy(x, t, batch_size)


__all__ = ["TwoLayerNet"]
