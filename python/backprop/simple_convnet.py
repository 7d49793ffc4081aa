"""ch07 ``simple_convnet.py``: ``SimpleConvNet`` (conv → ReLU → pool → Affine → ReLU → Affine)."""

from . import _core
from ._net import BookNet

_DEFAULT_CONV = {"filter_num": 30, "filter_size": 5, "pad": 0, "stride": 1}


class SimpleConvNet(BookNet):
    """The book's SimpleConvNet for images ``input_dim = (C, H, W)``."""

    def __init__(self, input_dim=(1, 28, 28), conv_param=None, hidden_size=100, output_size=10,
                 weight_init_std=0.01, *, seed=None, dtype=None):
        conv = dict(_DEFAULT_CONV)
        conv.update(conv_param or {})
        super().__init__(
            _core.Net.simple_conv(
                tuple(input_dim), conv["filter_num"], conv["filter_size"], conv["pad"],
                conv["stride"], hidden_size, output_size, weight_init_std, seed, dtype,
            )
        )


__all__ = ["SimpleConvNet"]
