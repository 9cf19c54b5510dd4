"""A minimal reader of the repository's MNIST copy, for tests that need real digits."""

import gzip
from pathlib import Path

import numpy as np

MNIST_DIR = Path(__file__).resolve().parents[1] / "data" / "mnist"


def read_images(name, count):
    with gzip.open(MNIST_DIR / name) as file:
        data = file.read(16 + count * 784)
    return np.frombuffer(data, np.uint8, offset=16).reshape(count, 1, 28, 28)


def read_labels(name, count):
    with gzip.open(MNIST_DIR / name) as file:
        data = file.read(8 + count)
    return np.frombuffer(data, np.uint8, offset=8).astype(np.int64)


def first_training_images(count):
    """The first ``count`` training images as float32 (count, 1, 28, 28) in [0, 1], and their labels."""
    images = read_images("train-images-idx3-ubyte.gz", count).astype(np.float32) / 255
    return images, read_labels("train-labels-idx1-ubyte.gz", count)
