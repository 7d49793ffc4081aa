"""Datasets: ``backprop.dataset.mnist`` (the book's ``dataset/mnist.py``)."""

from . import mnist

__all__ = ["mnist"]
