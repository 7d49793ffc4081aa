"""The book's layers (``common/layers.py``, and ``MulLayer``/``AddLayer`` of ch05's
``layer_naive.py``), computed by the Rust library in float64.

Parameters (``W``, ``b``, ``gamma``, ``beta``) are views of the layer's own buffers: in-place
updates (``layer.W -= lr * layer.dW``) change the layer; assigning an array copies it in after
checking its shape.
"""

from ._core import (
    MulLayer,
    AddLayer,
    Relu,
    Sigmoid,
    Affine,
    SoftmaxWithLoss,
    Dropout,
    BatchNormalization,
    Convolution,
    Pooling,
)

__all__ = [
    "MulLayer",
    "AddLayer",
    "Relu",
    "Sigmoid",
    "Affine",
    "SoftmaxWithLoss",
    "Dropout",
    "BatchNormalization",
    "Convolution",
    "Pooling",
]
