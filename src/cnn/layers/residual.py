"""A residual block: layers (the body) whose output is added to the input, or to the input through
a shortcut, as in ResNet; a layer like any other, so that a ResNet stays a Sequential."""

from __future__ import annotations

from typing import Sequence, Union

import numpy as np

import cnn_ext
from cnn._checks import check_input, describe
from cnn.layers.activations import Relu
from cnn.layers.base import Layer, arrays_under
from cnn.layers.fusion import forward_layers
from cnn.layers.registry import build_part, describe_part

__all__ = ["Residual"]


class Residual(Layer):
    """``out = body(x) + shortcut(x)``, with ``shortcut`` the identity when None.

    Args:
        body: the layers applied in turn to the input (a list of :class:`Layer`; a
            :class:`~cnn.models.Sequential` is a layer too).
        shortcut: None for the identity, a layer (a 1x1 convolution with a stride, to match the
            body's output), or a list of layers (a convolution and a batch normalization).

    Shape: x (N, ...) -> out (the shape of ``body``'s output, which the shortcut's must match).

    ``params``, ``grads`` and ``buffers`` are the inner layers' (the body's first, then the
    shortcut's), read from them each time; the names are ``body.{i}.{name}`` and
    ``shortcut.{i}.{name}``, so a model's saved state reads ``layers.3.body.0.W``. The backward
    pass goes through both branches and adds their input gradients.

    Example:
        >>> from cnn.layers import Convolution
        >>> block = Residual([Convolution.create(4, 4, 3, pad=1, rng=0), Relu(),
        ...                   Convolution.create(4, 4, 3, pad=1, rng=1)])
        >>> block.forward(np.ones((2, 4, 5, 5), np.float32)).shape
        (2, 4, 5, 5)
        >>> list(block.named_params())
        ['body.0.W', 'body.0.b', 'body.2.W', 'body.2.b']
    """

    fuses_relu = True  # forward(relu=True): see cnn.layers.fusion

    def __init__(self, body: Sequence[Layer], shortcut: Union[None, Layer, Sequence[Layer]] = None) -> None:
        super().__init__()
        self.body = _layers("body", body)
        if not self.body:
            raise ValueError("body must hold at least one layer, got an empty list")
        self.shortcut = None if shortcut is None else _layers(
            "shortcut", [shortcut] if isinstance(shortcut, Layer) else shortcut)
        if self.shortcut == []:
            raise ValueError("shortcut must be None (the identity), a layer or a non-empty list")
        first = self.body[0]
        if self.shortcut is None and isinstance(first, Relu) and first.inplace:
            raise ValueError("body[0] is Relu(inplace=True), which would overwrite the input the "
                             "identity shortcut adds; use Relu() there")
        self.out_shape = None

    def named_children(self):
        """The body's layers as ``body.{i}``, then the shortcut's as ``shortcut.{i}``."""
        for branch, layers in self._branches():
            for index, layer in enumerate(layers):
                yield f"{branch}.{index}", layer

    def _branches(self):
        yield "body", self.body
        if self.shortcut is not None:
            yield "shortcut", self.shortcut

    def forward(self, x: np.ndarray, train: bool = True, relu: bool = False) -> np.ndarray:
        """The sum of the two branches; with ``relu``, ``max(that, 0)`` in the same pass (what a
        model asks for when a Relu follows, see :mod:`cnn.layers.fusion`)."""
        check_input(self.name, x, range(2, 33), "(N, ...)")
        short = forward_layers(self.shortcut or [], x, train)
        out = forward_layers(self.body, x, train)
        if out.shape != short.shape:
            raise _mismatch(out.shape, short.shape, f"an input of shape {x.shape}")
        self.out_shape = out.shape if train else None
        if not relu:
            return out + short
        if out.dtype == short.dtype:
            return cnn_ext.add_relu(out, short)
        return cnn_ext.relu(out + short, inplace=True)  # branches of two dtypes: their sum's

    def backward(self, dout: np.ndarray) -> np.ndarray:
        self._check_dout(dout, self.out_shape)
        dbody = dout
        for layer in reversed(self.body):
            dbody = layer.backward(dbody)
        dshort = dout
        for layer in reversed(self.shortcut or []):
            dshort = layer.backward(dshort)
        return dbody + dshort

    def output_shape(self, sample_shape: tuple[int, ...]) -> tuple[int, ...]:
        """The body's output shape, which the shortcut's must equal."""
        sample_shape = tuple(sample_shape)
        body = _shapes(self.body, sample_shape, "body")[-1]
        shortcut = sample_shape if self.shortcut is None else \
            _shapes(self.shortcut, sample_shape, "shortcut")[-1]
        if body != shortcut:
            raise _mismatch(body, shortcut, f"a sample of shape {sample_shape}")
        return body

    def inner_shapes(self, sample_shape: tuple[int, ...]) -> list[tuple[str, Layer, tuple[int, ...]]]:
        """``(name, layer, output shape of one sample)`` of each inner layer, both branches
        starting from ``sample_shape``."""
        return [(f"{branch}.{index}", layer, shape) for branch, layers in self._branches()
                for index, (layer, shape) in enumerate(zip(layers, _shapes(layers, sample_shape,
                                                                            branch)))]

    def config(self) -> dict:
        return {"body": [describe_part(f"body[{index}]", layer) for index, layer in enumerate(self.body)],
                "shortcut": None if self.shortcut is None else [
                    describe_part(f"shortcut[{index}]", layer) for index, layer in enumerate(self.shortcut)]}

    @classmethod
    def from_config(cls, config: dict, arrays: dict) -> "Residual":
        body, shortcut = config.get("body"), config.get("shortcut")
        if not isinstance(body, list) or not (shortcut is None or isinstance(shortcut, list)):
            raise ValueError(f"a Residual's config needs a list 'body' and a list or null "
                             f"'shortcut', got {describe(config)}")
        if set(config) - {"body", "shortcut"}:
            raise ValueError(f"a Residual's config holds only 'body' and 'shortcut', got "
                             f"{sorted(config)}")
        return cls(_built("body", body, arrays), None if shortcut is None else
                   _built("shortcut", shortcut, arrays))

    def __repr__(self) -> str:
        shortcut = "identity" if self.shortcut is None else \
            repr(self.shortcut[0]) if len(self.shortcut) == 1 else f"{len(self.shortcut)} layers"
        return f"Residual({len(self.body)} layers, shortcut={shortcut})"


def _layers(name: str, layers) -> list[Layer]:
    if isinstance(layers, Layer) or not isinstance(layers, (list, tuple)):
        raise TypeError(f"{name} must be a list of cnn.layers.Layer, got {describe(layers)}")
    for index, layer in enumerate(layers):
        if not isinstance(layer, Layer):
            raise TypeError(f"{name}[{index}] must be a cnn.layers.Layer, got {describe(layer)}")
    return list(layers)


def _built(branch: str, entries: list, arrays: dict) -> list[Layer]:
    """The layers of one branch of a saved Residual, each around its own saved arrays."""
    layers = []
    for index, entry in enumerate(entries):
            layers.append(build_part(f"{branch}[{index}]", entry, arrays_under(arrays, f"{branch}.{index}")))
    return layers



def _shapes(layers: list[Layer], shape: tuple[int, ...], branch: str) -> list[tuple[int, ...]]:
    """The shape of one sample after each of ``layers`` in turn; a refusal names the layer."""
    shapes = []
    for index, layer in enumerate(layers):
        try:
            shape = tuple(layer.output_shape(shape))
        except ValueError as error:
            raise ValueError(f"{branch}[{index}] ({layer!r}) cannot take samples of shape "
                             f"{shape}: {error}") from None
        shapes.append(shape)
    return shapes


def _mismatch(body: tuple[int, ...], shortcut: tuple[int, ...], given: str) -> ValueError:
    return ValueError(f"Residual: the body gives {body} and the shortcut {shortcut} for {given}; "
                      f"give the shortcut a 1x1 convolution with the body's stride and channels")
