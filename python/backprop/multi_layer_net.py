"""``common/multi_layer_net.py``: ``MultiLayerNet``, fully connected, any hidden sizes."""

from . import _core
from ._net import BookNet


class MultiLayerNet(BookNet):
    """The book's MultiLayerNet: ``Affine → activation`` per hidden layer, then Affine.
    ``weight_init_std`` is a number or ``'relu'``/``'he'`` (√(2/n)) or
    ``'sigmoid'``/``'xavier'`` (√(1/n)); ``weight_decay_lambda`` adds ½λΣ‖W‖² to the loss."""

    _activation_name = "Activation_function"

    def __init__(self, input_size, hidden_size_list, output_size, activation="relu",
                 weight_init_std="relu", weight_decay_lambda=0, *, seed=None, dtype=None):
        super().__init__(
            _core.Net.multi_layer(
                input_size, list(hidden_size_list), output_size, activation, weight_init_std,
                float(weight_decay_lambda), False, 0.5, False, seed, dtype,
            )
        )

    def accuracy(self, x, t, batch_size=1000):
        return super().accuracy(x, t, batch_size)


__all__ = ["MultiLayerNet"]
