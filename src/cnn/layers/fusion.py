"""Running a list of layers, with a Relu fused into the layer before it where that layer can
apply it as it writes its output.

A ``Convolution`` (whose direct and Winograd kernels apply ReLU in their epilogue) or a
``BatchNormalization`` followed by a ``Relu`` runs as one pass: the first layer's
``forward(x, train, relu=True)``, then the Relu's ``forward(out, train, applied=True)``, which
keeps ``out`` as its result for its backward pass without another pass over it. The layers, their
``backward`` and what ``summary()`` shows stay as they are: fusion is how a model runs them.
Only those exact classes fuse (a subclass may change ``forward``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cnn.layers.activations import Relu
from cnn.layers.base import Layer
from cnn.layers.batchnorm import BatchNormalization
from cnn.layers.conv import Convolution

__all__ = ["FUSES_RELU", "forward_layers"]

#: The layer classes whose forward applies a following Relu itself.
FUSES_RELU = (Convolution, BatchNormalization)


def forward_layers(layers: Sequence[Layer], x: np.ndarray, train: bool) -> np.ndarray:
    """``x`` through ``layers`` in order, each fusable layer taking the Relu that follows it."""
    index = 0
    while index < len(layers):
        layer = layers[index]
        following = layers[index + 1] if index + 1 < len(layers) else None
        if type(layer) in FUSES_RELU and type(following) is Relu:
            x = following.forward(layer.forward(x, train, relu=True), train, applied=True)
            index += 2
        else:
            x = layer.forward(x, train=train)
            index += 1
    return x
