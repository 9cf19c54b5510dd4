"""Data sets: MNIST and the IDX reader behind it."""

from cnn.datasets.idx import IdxFormatError, read_idx
from cnn.datasets.mnist import load_mnist

__all__ = ["load_mnist", "read_idx", "IdxFormatError"]
