"""MNIST training images for the benchmark runners: the real IDX files when backprop's cache
has them (so every runner sees the same data), else random digits-shaped data of the same size
(speed does not depend on the pixel values for these nets)."""
import gzip
import os

import numpy as np


def _find(name):
    roots = []
    if os.environ.get("BACKPROP_DATA"):
        roots.append(os.path.join(os.environ["BACKPROP_DATA"], "mnist"))
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    roots.append(os.path.join(cache, "backprop", "mnist"))
    for root in roots:
        for suffix in ("", ".gz"):
            path = os.path.join(root, name + suffix)
            if os.path.exists(path):
                return path
    return None


def _read(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def mnist_train():
    img, lab = _find("train-images-idx3-ubyte"), _find("train-labels-idx1-ubyte")
    if img and lab:
        return _read(img).reshape(-1, 784), _read(lab).astype(np.int64)
    rng = np.random.default_rng(1)
    return rng.integers(0, 256, (60000, 784), dtype=np.uint8), rng.integers(0, 10, 60000)
