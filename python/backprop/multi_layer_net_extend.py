"""``common/multi_layer_net_extend.py``: ``MultiLayerNetExtend`` with batch norm and dropout."""

from . import _core
from ._net import BookNet


class MultiLayerNetExtend(BookNet):
    """The book's MultiLayerNetExtend: per hidden layer ``Affine → [BatchNorm] → activation →
    [Dropout]``, then Affine. ``predict``/``loss`` take ``train_flg`` as in the book."""

    _activation_name = "Activation_function"

    def __init__(self, input_size, hidden_size_list, output_size, activation="relu",
                 weight_init_std="relu", weight_decay_lambda=0, use_dropout=False,
                 dropout_ration=0.5, use_batchnorm=False, *, seed=None, dtype=None):
        super().__init__(
            _core.Net.multi_layer(
                input_size, list(hidden_size_list), output_size, activation, weight_init_std,
                float(weight_decay_lambda), bool(use_dropout), float(dropout_ration),
                bool(use_batchnorm), seed, dtype,
            )
        )

    def accuracy(self, X, T, batch_size=1000):
        return super().accuracy(X, T, batch_size)


__all__ = ["MultiLayerNetExtend"]
