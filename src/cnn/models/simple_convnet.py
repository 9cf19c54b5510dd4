"""The book's SimpleConvNet: one convolution, one pooling, two affine layers."""

from __future__ import annotations

from typing import Optional, Union

import numpy as np

from cnn.layers import Affine, Convolution, Flatten, Pooling, Relu
from cnn.losses import SoftmaxWithLoss
from cnn.models.by_size import check_image_model_arguments, flat_features
from cnn.models.sequential import Sequential


class SimpleConvNet(Sequential):
    """conv ``filters``@``filter_size`` (stride 1, pad 0), relu, maxpool 2, flatten,
    affine ``hidden``, relu, affine ``num_classes``, softmax-with-loss: the SimpleConvNet of
    *Deep Learning from Scratch* (chapter 7), with He initialisation.

    On (1, 28, 28) MNIST images with the defaults (30 filters of 5x5, 100 hidden units) it has
    433,890 parameters.

    Args:
        num_classes: number of output classes.
        input_shape: (channels, height, width) of one image.
        filters: the convolution's output channels.
        filter_size: the convolution's window size.
        hidden: units of the hidden affine layer.
        seed: an int or a ``numpy.random.Generator`` for the weights.
        dtype: float32 (default) or float64.

    Example:
        >>> SimpleConvNet(seed=0).num_params()
        433890
    """

    def __init__(self, num_classes: int = 10, input_shape: tuple[int, int, int] = (1, 28, 28),
                 filters: int = 30, filter_size: int = 5, hidden: int = 100,
                 seed: Optional[Union[int, np.random.Generator]] = None, dtype=np.float32) -> None:
        num_classes, (channels, height, width), dtype = check_image_model_arguments(
            num_classes, input_shape, dtype)
        rng = np.random.default_rng(seed)
        layers = [
            Convolution.create(channels, filters, filter_size, rng=rng, dtype=dtype), Relu(inplace=True),
            Pooling(2, 2, stride=2),
            Flatten(),
        ]
        layers += [
            Affine.create(flat_features(layers, input_shape), hidden, rng=rng, dtype=dtype), Relu(inplace=True),
            Affine.create(hidden, num_classes, rng=rng, dtype=dtype),
        ]
        super().__init__(layers, SoftmaxWithLoss(), input_shape=(channels, height, width))
