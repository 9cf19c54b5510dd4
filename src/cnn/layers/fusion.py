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

A ``Convolution`` followed by a ``Relu`` and a 2x2 max ``Pooling`` with stride 2 (no padding,
dilation or ceil mode) goes one step further: ``forward_relu_maxpool`` (declared by
``fuses_relu_maxpool``) returns the ReLU'd output and its pooling, which the direct and
Winograd kernels compute while each image's output is in cache; the Relu keeps the output and
the Pooling keeps the maxima and their positions (``forward(..., pooled=...)``), as if each had
run on its own.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cnn.layers.activations import Relu
from cnn.layers.base import Layer
from cnn.layers.pooling import Pooling

__all__ = ["fuses_relu", "fuses_relu_maxpool", "forward_layers"]


def _declared(layer: Layer, method: str, flag: str) -> bool:
    """Whether the class that defines the ``method`` that runs declares ``flag = True``."""
    owner = next((cls for cls in type(layer).__mro__ if method in cls.__dict__), None)
    return owner is not None and owner.__dict__.get(flag, False) is True


def fuses_relu(layer: Layer) -> bool:
    """Whether ``layer.forward`` takes ``relu=True``: the class that defines the ``forward`` that
    runs declares ``fuses_relu = True``."""
    return _declared(layer, "forward", "fuses_relu")


def fuses_relu_maxpool(layer: Layer) -> bool:
    """Whether ``layer.forward_relu_maxpool`` computes the layer, a Relu and a plain 2x2 max
    pooling: the class that defines both it and ``forward`` declares ``fuses_relu_maxpool``."""
    return (_declared(layer, "forward", "fuses_relu_maxpool")
            and _declared(layer, "forward_relu_maxpool", "fuses_relu_maxpool"))


def forward_layers(layers: Sequence[Layer], x: np.ndarray, train: bool) -> np.ndarray:
    """``x`` through ``layers`` in order, each fusable layer taking the Relu (and the pooling)
    that follows it."""
    index = 0
    while index < len(layers):
        layer = layers[index]
        following = layers[index + 1] if index + 1 < len(layers) else None
        pooling = layers[index + 2] if index + 2 < len(layers) else None
        if (type(following) is Relu and type(pooling) is Pooling and pooling.plain_2x2
                and fuses_relu_maxpool(layer)):
            out, *pooled = layer.forward_relu_maxpool(x, train)
            x = pooling.forward(following.forward(out, train, applied=True), train,
                                pooled=tuple(pooled))
            index += 3
        elif type(following) is Relu and fuses_relu(layer):
            x = following.forward(layer.forward(x, train, relu=True), train, applied=True)
            index += 2
        else:
            x = layer.forward(x, train=train)
            index += 1
    return x
