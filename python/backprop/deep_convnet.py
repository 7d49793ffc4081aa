"""ch08 ``deep_convnet.py``: ``DeepConvNet``, six 3×3 convolutions, three poolings, two Affine
layers with dropout, He initialisation."""

from . import _core
from ._net import BookNet

_BOOK_CONVS = (
    {"filter_num": 16, "filter_size": 3, "pad": 1, "stride": 1},
    {"filter_num": 16, "filter_size": 3, "pad": 1, "stride": 1},
    {"filter_num": 32, "filter_size": 3, "pad": 1, "stride": 1},
    {"filter_num": 32, "filter_size": 3, "pad": 2, "stride": 1},
    {"filter_num": 64, "filter_size": 3, "pad": 1, "stride": 1},
    {"filter_num": 64, "filter_size": 3, "pad": 1, "stride": 1},
)


class DeepConvNet(BookNet):
    """The book's DeepConvNet. The six ``conv_param_k`` dicts are accepted only with the
    book's values (the library builds that one design)."""

    def __init__(self, input_dim=(1, 28, 28),
                 conv_param_1=_BOOK_CONVS[0], conv_param_2=_BOOK_CONVS[1],
                 conv_param_3=_BOOK_CONVS[2], conv_param_4=_BOOK_CONVS[3],
                 conv_param_5=_BOOK_CONVS[4], conv_param_6=_BOOK_CONVS[5],
                 hidden_size=50, output_size=10, *, seed=None, dtype=None):
        given = (conv_param_1, conv_param_2, conv_param_3, conv_param_4, conv_param_5, conv_param_6)
        for k, (g, book) in enumerate(zip(given, _BOOK_CONVS), start=1):
            if dict(g) != book:
                raise ValueError(
                    f"DeepConvNet: conv_param_{k} must be the book's {book}, got {dict(g)}; "
                    "use MultiLayerNetExtend or SimpleConvNet for other designs"
                )
        super().__init__(_core.Net.deep_conv(tuple(input_dim), hidden_size, output_size, seed, dtype))

    @property
    def layers(self):
        """The layers as the book's list (``self.layers[0]`` is the first convolution)."""
        return list(super().layers.values())


__all__ = ["DeepConvNet"]
