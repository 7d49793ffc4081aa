"""``common/gradient.py``: numerical gradients by central differences (h = 1e-4).

``numerical_gradient(f, x)`` nudges each element of ``x`` in place, calls ``f(x)`` and
restores it, so ``f`` may read ``x`` through a closure (``lambda W: net.loss(x, t)``) exactly as
in the book. ``x`` must be a float64 or float32 NumPy array.
"""

from ._core import numerical_gradient

__all__ = ["numerical_gradient"]
