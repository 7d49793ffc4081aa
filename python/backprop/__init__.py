"""backprop: the layer-based backpropagation of *Deep Learning from Scratch*, computed in Rust.

The modules mirror the book's, so a script needs only its imports changed::

    from backprop.two_layer_net import TwoLayerNet      # ch05/two_layer_net.py
    from backprop.layers import Affine, Relu            # common/layers.py
    from backprop.dataset.mnist import load_mnist       # dataset/mnist.py

Computational graphs display inline in Jupyter::

    backprop.graph("x*y + z", x=2, y=3, z=1)            # .value, .grads, .dx, …
"""

from ._core import __version__, SIMD, Graph, graph, apple_graph, apple_orange_graph
from . import (
    layers,
    functions,
    gradient,
    util,
    optimizer,
    trainer,
    two_layer_net,
    multi_layer_net,
    multi_layer_net_extend,
    simple_convnet,
    deep_convnet,
    dataset,
)

__all__ = [
    "__version__",
    "SIMD",
    "Graph",
    "graph",
    "apple_graph",
    "apple_orange_graph",
    "layers",
    "functions",
    "gradient",
    "util",
    "optimizer",
    "trainer",
    "two_layer_net",
    "multi_layer_net",
    "multi_layer_net_extend",
    "simple_convnet",
    "deep_convnet",
    "dataset",
]
