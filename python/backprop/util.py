"""``common/util.py``: ``im2col``, ``col2im``, ``smooth_curve``, ``shuffle_dataset``."""

import numpy as np

from ._core import im2col, col2im, smooth_curve


def shuffle_dataset(x, t):
    """Returns ``x`` and ``t`` reordered by one random permutation (NumPy's global generator,
    so ``np.random.seed`` repeats it)."""
    order = np.random.permutation(x.shape[0])
    x = x[order, :] if x.ndim == 2 else x[order, :, :, :]
    return x, t[order]


__all__ = ["im2col", "col2im", "smooth_curve", "shuffle_dataset"]
