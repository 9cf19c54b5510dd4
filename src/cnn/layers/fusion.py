"""Running a list of layers, with a Relu fused into the layer before it where that layer can
apply it as it writes its output.

A layer whose ``forward`` takes ``relu=True`` says so with ``fuses_relu = True`` in the class
that defines that ``forward``: a ``Convolution`` (whose direct and Winograd kernels apply ReLU in
their epilogue), a ``BatchNormalization`` and a ``Residual`` (which adds its branches and
applies ReLU in one pass). Followed by a ``Relu``, such a layer runs as one pass: its
``forward(x, train, relu=True)``, then the Relu's ``forward(out, train, applied=True)``, which
keeps ``out`` as its result for its backward pass without another pass over it. The layers,
their ``backward`` and what ``summary()`` shows stay as they are: fusion is how a model runs
them. A subclass that overrides ``forward`` fuses only if it declares ``fuses_relu`` itself.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cnn.layers.activations import Relu
from cnn.layers.base import Layer

__all__ = ["fuses_relu", "forward_layers"]


def fuses_relu(layer: Layer) -> bool:
    """Whether ``layer.forward`` takes ``relu=True``: the class that defines the ``forward`` that
    runs declares ``fuses_relu = True``."""
    owner = next(cls for cls in type(layer).__mro__ if "forward" in cls.__dict__)
    return owner.__dict__.get("fuses_relu", False) is True


def forward_layers(layers: Sequence[Layer], x: np.ndarray, train: bool) -> np.ndarray:
    """``x`` through ``layers`` in order, each fusable layer taking the Relu that follows it."""
    index = 0
    while index < len(layers):
        layer = layers[index]
        following = layers[index + 1] if index + 1 < len(layers) else None
        if type(following) is Relu and fuses_relu(layer):
            x = following.forward(layer.forward(x, train, relu=True), train, applied=True)
            index += 2
        else:
            x = layer.forward(x, train=train)
            index += 1
    return x
