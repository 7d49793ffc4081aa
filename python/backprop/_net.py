"""What the book's network classes share: ``params`` that write through to the Rust
network, ``layers`` by the book's names, and the book's methods."""

import os
import pickle
import tempfile
from collections import OrderedDict
from collections.abc import MutableMapping

import numpy as np


class Params(MutableMapping):
    """The network's parameters by the book's names (``W1``, ``b1``, …).

    Each value is a NumPy view of the Rust network's buffer: ``params[key] -= lr * grad[key]``
    and the optimizers' in-place updates change the network. Assigning an array copies it in
    after checking its shape (``ValueError`` naming both shapes); keys cannot be added or
    removed.
    """

    def __init__(self, net):
        self._net = net
        # One view per parameter, made on first use and handed out again every time (the
        # buffers are only ever written in place, so a view stays valid).
        self._views = {}

    def __getitem__(self, key):
        try:
            return self._views[key]
        except KeyError:
            view = self._views[key] = self._net.param(key)
            return view

    def __setitem__(self, key, value):
        if self._views.get(key) is value:
            # `params[key] -= …` hands back the view it changed in place: nothing to copy.
            return
        self._net.set_param(key, value)

    def __delitem__(self, key):
        raise TypeError("a network's parameters cannot be removed")

    def __iter__(self):
        return iter(self._net.param_names())

    def __len__(self):
        return len(self._net.param_names())

    def __repr__(self):
        return "Params({%s})" % ", ".join(f"{k!r}: array{tuple(v.shape)}" for k, v in self.items())


_SHORT = {
    "Convolution": "Conv",
    "Pooling": "Pool",
    "BatchNormalization": "BatchNorm",
}


class BookNet:
    """Base of the network classes: holds a ``backprop._core.Net``."""

    # How the book names the hidden activations (MultiLayerNet: 'Activation_function').
    _activation_name = None

    def __init__(self, net):
        self._net = net
        self.params = Params(net)

    # -- the book's attributes ------------------------------------------------------------
    @property
    def params(self):
        return self._params

    @params.setter
    def params(self, value):
        if isinstance(value, Params):
            self._params = value
        else:
            # `net.params = {...}`: copy every array in, checking names and shapes.
            for k, v in dict(value).items():
                self._net.set_param(k, v)

    @property
    def layers(self):
        """``OrderedDict`` of the network's layers by the book's names (``Affine1``,
        ``Relu1``, …): their ``forward``/``backward`` run the network's own layers, ``W``,
        ``b`` (``gamma``, ``beta``) are views of its parameters, ``dW``, ``db``, ``mask``,
        ``running_mean``, … copies of what the layer holds."""
        if self.__dict__.get("_layers") is None:
            kinds = self._net.layer_kinds()
            out = OrderedDict()
            counts = {}
            for k, kind in enumerate(kinds):
                if self._activation_name and kind in ("Relu", "Sigmoid"):
                    short = self._activation_name
                else:
                    short = _SHORT.get(kind, kind)
                counts[short] = counts.get(short, 0) + 1
                out[f"{short}{counts[short]}"] = self._net.layer(k)
            self._layers = out
        return self._layers

    @property
    def lastLayer(self):  # noqa: N802 (the book's name)
        """The network's Softmax-with-Loss: ``forward(x, t)`` (the loss of scores ``x``,
        without weight decay), ``backward(dout=1)``, ``y``, ``loss``."""
        if self.__dict__.get("_last_layer") is None:
            self._last_layer = self._net.last_layer()
        return self._last_layer

    @property
    def dtype(self):
        return np.dtype(self._net.dtype)

    # -- the book's methods ---------------------------------------------------------------
    def predict(self, x, train_flg=False):
        return self._net.predict(x, train_flg)

    def loss(self, x, t, train_flg=False):
        return self._net.loss(x, t, train_flg)

    def accuracy(self, x, t, batch_size=100):
        """The fraction of ``x`` classified as ``t`` says, computed ``batch_size`` samples at
        a time (one-hot ``t`` rows are accepted as in the book)."""
        n = len(x)
        if n == 0:
            return 0.0
        step = max(int(batch_size), 1)
        if step >= n:
            return self._net.accuracy(x, t)
        acc = 0.0
        for i in range(0, n, step):
            xb, tb = x[i : i + step], t[i : i + step]
            acc += self._net.accuracy(xb, tb) * len(xb)
        return acc / n

    def gradient(self, x, t):
        """Forward, loss, backward: ``{name: gradient}``. The arrays are reused: the next
        ``gradient`` call overwrites them (the book's loop uses each dict once; ``.copy()``
        an array to keep it)."""
        return self._net.gradient(x, t)

    def numerical_gradient(self, x, t):
        """Central differences (h = 1e-4) of the training-mode loss for every parameter."""
        return self._net.numerical_gradient(x, t)

    def save_params(self, file_name="params.pkl"):
        """Writes ``params`` as the book's pickle (a dict of NumPy arrays), or as a
        ``.safetensors`` model file when the name ends so. Written to a temporary file beside
        it and renamed, so a failure leaves no partial file."""
        if str(file_name).endswith(".safetensors"):
            self._net.save_model(os.fspath(file_name))
            return
        params = {k: np.array(v) for k, v in self.params.items()}
        directory = os.path.dirname(os.path.abspath(file_name))
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".pkl")
        try:
            with os.fdopen(fd, "wb") as f:
                pickle.dump(params, f)
            os.replace(tmp, file_name)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    def export_onnx(self, path):
        """Writes this network as an ONNX model (opset 17): input ``image`` (float32, the
        shape ``predict`` takes), outputs ``logits`` (what ``predict`` returns in test mode)
        and ``probabilities`` (their softmax). onnxruntime runs it."""
        self._net.export_onnx(os.fspath(path))

    def export_torch(self, directory):
        """Writes ``model.safetensors`` (a PyTorch ``state_dict``) and ``model.py`` (the
        ``torch.nn.Module`` that loads it with ``load_state_dict``) into ``directory``."""
        self._net.export_torch(os.fspath(directory))

    def load_params(self, file_name="params.pkl"):
        """Reads a book pickle (with a strict reader that runs no code) or a ``.safetensors``
        model file into this network; every name and shape is checked first."""
        self._net.load_params(os.fspath(file_name))

    def __repr__(self):
        return f"<{type(self).__name__} {self._net!r}>"
