"""The modules an exported model.py uses, recording their state_dict entries (name, shape,
dtype) as PyTorch documents them, and computing nothing."""

from collections import OrderedDict


class Module:
    def __init__(self):
        self._entries = OrderedDict()
        self._children = OrderedDict()
        self.training = True

    def state_dict_entries(self, prefix=""):
        out = OrderedDict()
        for name, (shape, dtype) in self._entries.items():
            out[prefix + name] = {"shape": list(shape), "dtype": dtype}
        for name, child in self._children.items():
            out.update(child.state_dict_entries(prefix + name + "."))
        return out


class Sequential(Module):
    def __init__(self, layers):
        super().__init__()
        for name, module in layers.items():
            assert isinstance(module, Module), name
            self._children[name] = module


class Linear(Module):
    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self._entries["weight"] = ((out_features, in_features), "F32")
        if bias:
            self._entries["bias"] = ((out_features,), "F32")


def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


class Conv2d(Module):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True):
        super().__init__()
        self._entries["weight"] = ((out_channels, in_channels) + _pair(kernel_size), "F32")
        if bias:
            self._entries["bias"] = ((out_channels,), "F32")


class BatchNorm1d(Module):
    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True):
        super().__init__()
        if affine:
            self._entries["weight"] = ((num_features,), "F32")
            self._entries["bias"] = ((num_features,), "F32")
        if track_running_stats:
            self._entries["running_mean"] = ((num_features,), "F32")
            self._entries["running_var"] = ((num_features,), "F32")
            self._entries["num_batches_tracked"] = ((), "I64")


class ReLU(Module):
    pass


class Sigmoid(Module):
    pass


class MaxPool2d(Module):
    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
