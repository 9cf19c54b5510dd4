"""A small ResNet for 28x28 images: residual blocks with batch normalization, global average
pooling and one affine layer, built of the library's layers so that it stays a Sequential."""

from __future__ import annotations

from typing import Optional, Sequence, Union

import numpy as np

from cnn._checks import check_int
from cnn.layers import (Affine, BatchNormalization, Convolution, GlobalAveragePooling, Layer, Relu,
                        Residual)
from cnn.losses import SoftmaxWithLoss
from cnn.models.by_size import check_image_model_arguments
from cnn.models.sequential import Sequential

#: The stages of the default ResNet: output channels and the stride of each stage's first block.
STAGES = ((16, 1), (32, 2), (64, 2))


class ResNet(Sequential):
    """conv 3x3 ``stages[0]`` channels, batch norm, relu, then one residual block per stage
    (conv 3x3 with the stage's stride, batch norm, relu, conv 3x3, batch norm; the shortcut the
    identity, or a 1x1 convolution and a batch norm where the channels or the size change),
    each followed by a relu; global average pooling; affine ``num_classes``; softmax-with-loss.

    With the default stages, (16, 1), (32, 2), (64, 2), 28x28 maps become 28, 14 and 7 pixels
    wide, and on (1, 28, 28) MNIST images the network has 78,090 parameters. The weights use He
    initialisation; each batch norm starts at scale 1 and shift 0.

    Args:
        num_classes: number of output classes.
        input_shape: (channels, height, width) of one image.
        stages: ``(channels, stride)`` of each stage, one residual block each.
        blocks: residual blocks per stage (the first takes the stride).
        seed: an int or a ``numpy.random.Generator`` for the weights.
        dtype: float32 (default) or float64.

    Shape: x ``(N, *input_shape)`` -> scores (N, num_classes).

    Example:
        >>> model = ResNet(seed=0)
        >>> model.num_params()
        78090
        >>> model.predict(np.zeros((2, 1, 28, 28), np.float32)).shape
        (2, 10)
    """

    def __init__(self, num_classes: int = 10, input_shape: tuple[int, int, int] = (1, 28, 28),
                 stages: Sequence[tuple[int, int]] = STAGES, blocks: int = 1,
                 seed: Optional[Union[int, np.random.Generator]] = None, dtype=np.float32) -> None:
        num_classes, (channels, height, width), dtype = check_image_model_arguments(
            num_classes, input_shape, dtype)
        blocks = check_int("blocks", blocks, 1)
        if not stages or not all(isinstance(stage, (tuple, list)) and len(stage) == 2 for stage in stages):
            raise ValueError(f"stages must be a non-empty list of (channels, stride), got {stages!r}")
        rng = np.random.default_rng(seed)

        def norm(features: int) -> BatchNormalization:
            return BatchNormalization(np.ones(features, dtype), np.zeros(features, dtype))

        width_in = check_int("stages channels", stages[0][0], 1)
        layers: list[Layer] = [Convolution.create(channels, width_in, 3, pad=1, rng=rng, dtype=dtype),
                               norm(width_in), Relu(inplace=True)]
        for stage_channels, stage_stride in stages:
            stage_channels = check_int("stages channels", stage_channels, 1)
            for index in range(blocks):
                stride = check_int("stages stride", stage_stride, 1) if index == 0 else 1
                body = [Convolution.create(width_in, stage_channels, 3, stride=stride, pad=1, rng=rng,
                                           dtype=dtype), norm(stage_channels), Relu(inplace=True),
                        Convolution.create(stage_channels, stage_channels, 3, pad=1, rng=rng,
                                           dtype=dtype), norm(stage_channels)]
                shortcut = None if (stride, width_in) == (1, stage_channels) else [
                    Convolution.create(width_in, stage_channels, 1, stride=stride, rng=rng,
                                       dtype=dtype), norm(stage_channels)]
                layers += [Residual(body, shortcut), Relu(inplace=True)]
                width_in = stage_channels
        layers += [GlobalAveragePooling(), Affine.create(width_in, num_classes, rng=rng, dtype=dtype)]
        super().__init__(layers, SoftmaxWithLoss(), input_shape=(channels, height, width))
