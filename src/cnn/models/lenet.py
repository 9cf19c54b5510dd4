"""LeNet as in the study notebook: two convolutions, two poolings, three affine layers."""

from __future__ import annotations

from typing import Optional, Union

import numpy as np

from cnn.layers import Affine, Convolution, Flatten, Pooling, Relu
from cnn.losses import SoftmaxWithLoss
from cnn.models.by_size import check_image_model_arguments, flat_features
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

    Shape: x ``(N, *input_shape)`` -> scores (N, num_classes).

    Example:
        >>> model = LeNet(seed=0)
        >>> model.num_params()
        107786
        >>> model.predict(np.zeros((3, 1, 28, 28), np.float32)).shape
        (3, 10)
    """

    def __init__(self, num_classes: int = 10, input_shape: tuple[int, int, int] = (1, 28, 28),
                 seed: Optional[Union[int, np.random.Generator]] = None, dtype=np.float32) -> None:
        num_classes, (channels, height, width), dtype = check_image_model_arguments(
            num_classes, input_shape, dtype)
        rng = np.random.default_rng(seed)
        layers = [
            Convolution.create(channels, 6, 5, pad=2, rng=rng, dtype=dtype), Relu(inplace=True),
            Pooling(2, 2, stride=2),
            Convolution.create(6, 16, 5, pad=2, rng=rng, dtype=dtype), Relu(inplace=True),
            Pooling(2, 2, stride=2),
            Flatten(),
        ]
        layers += [
            Affine.create(flat_features(layers, input_shape), 120, rng=rng, dtype=dtype),
            Relu(inplace=True),
            Affine.create(120, 84, rng=rng, dtype=dtype), Relu(inplace=True),
            Affine.create(84, num_classes, rng=rng, dtype=dtype),
        ]
        super().__init__(layers, SoftmaxWithLoss(), input_shape=(channels, height, width))
