"""Data sets: MNIST, the IDX reader behind it, and your own digits in MNIST's form."""

from cnn.datasets.idx import IdxFormatError, read_idx
from cnn.datasets.mnist import DATA_ENV_VAR, MIRRORS, data_root, default_root, load_mnist
from cnn.datasets.own_digit import load_digit, prepare_digit, prepare_ink

__all__ = ["load_mnist", "data_root", "default_root", "DATA_ENV_VAR", "MIRRORS", "read_idx", "IdxFormatError",
           "load_digit", "prepare_digit", "prepare_ink"]
