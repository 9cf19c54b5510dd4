"""LeNet as in the study notebook: two convolutions, two poolings, three affine layers."""

from __future__ import annotations

from typing import Optional, Union

import numpy as np

from cnn import init
from cnn._checks import check_int
from cnn.layers import Affine, Convolution, Flatten, Pooling, Relu, SoftmaxWithLoss
from cnn.models.sequential import Sequential


class LeNet(Sequential):
    """conv 6@5x5 pad 2, relu, maxpool 2, conv 16@5x5 pad 2, relu, maxpool 2,
    flatten, affine 120, relu, affine 84, relu, affine ``num_classes``, softmax-with-loss.

    On (1, 28, 28) MNIST images it has 107,786 parameters.

    Weights use He initialisation, a normal with standard deviation
    ``sqrt(2 / fan_in)``, where fan_in counts the inputs of one unit
    (in_channels * 5 * 5 for a convolution, in_features for an affine layer).
    The study notebook scaled them by ``sqrt(1 / number_of_training_samples)``
    instead: a property of the data set, not of the layer, so the signal
    shrank through every layer, the scores were nearly uniform and the loss
    stayed at ln(10) = 2.30.

    Args:
        num_classes: number of output classes.
        input_shape: (channels, height, width) of one image.
        seed: an int or a ``numpy.random.Generator`` for the weights.
        dtype: float32 (default) or float64; it flows through every layer.

    Shape: x (N, *input_shape) -> scores (N, num_classes).
    """

    def __init__(self, num_classes: int = 10, input_shape: tuple[int, int, int] = (1, 28, 28),
                 seed: Optional[Union[int, np.random.Generator]] = None, dtype=np.float32) -> None:
        num_classes = check_int("num_classes", num_classes, 2)
        if len(input_shape) != 3:
            raise ValueError(f"input_shape must be (channels, height, width), got {input_shape!r}")
        channels, height, width = (check_int("input_shape", size, 1) for size in input_shape)
        if height < 4 or width < 4:
            raise ValueError(f"input_shape must be at least 4x4 pixels for two 2x2 poolings, "
                             f"got {input_shape!r}")
        dtype = np.dtype(dtype)
        if dtype not in (np.float32, np.float64):
            raise TypeError(f"dtype must be float32 or float64, got {dtype}")
        rng = np.random.default_rng(seed)

        def conv(out_channels, in_channels):
            W = init.he_normal((out_channels, in_channels, 5, 5), rng, dtype)
            return Convolution(W, np.zeros(out_channels, dtype), stride=1, pad=2)

        def affine(in_features, out_features):
            W = init.he_normal((in_features, out_features), rng, dtype)
            return Affine(W, np.zeros(out_features, dtype))

        flat_features = 16 * (height // 2 // 2) * (width // 2 // 2)
        layers = [
            conv(6, channels), Relu(), Pooling(2, 2, stride=2),
            conv(16, 6), Relu(), Pooling(2, 2, stride=2),
            Flatten(),
            affine(flat_features, 120), Relu(),
            affine(120, 84), Relu(),
            affine(84, num_classes),
        ]
        super().__init__(layers, SoftmaxWithLoss(), input_shape=(channels, height, width))
