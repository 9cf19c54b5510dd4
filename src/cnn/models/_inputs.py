"""Samples as users pass them, turned into the batch a model's first layer takes.

A model that knows the shape of one sample (its ``input_shape``) takes a batch of flat samples,
``(N, C*H*W)`` as the book's ``load_mnist()`` gives them, and, where asked, one sample without
the batch axis. Anything else is refused with the fix named.
"""

from __future__ import annotations

import math
from typing import Any, Optional

import numpy as np

from cnn._checks import describe


def as_batch(x: np.ndarray, input_shape: tuple[int, ...], name: str = "x",
             allow_single: bool = False) -> tuple[np.ndarray, bool]:
    """``(batch, single)``: ``x`` as an array of shape ``(N, *input_shape)`` (a view where it is
    reshaped), and whether ``x`` was one sample without the batch axis (only with
    ``allow_single``). ``x`` must be a numpy array already."""
    if x.shape[1:] == input_shape:
        return x, False
    size = math.prod(input_shape)
    if allow_single and (x.shape == input_shape or (x.ndim == 1 and x.shape[0] == size)):
        return x.reshape((1,) + input_shape), True
    if len(input_shape) > 1 and x.ndim == 2 and x.shape[1] == size:
        return x.reshape((x.shape[0],) + input_shape), False
    raise ValueError(shape_error(x.shape, input_shape, name, allow_single))


def as_array(x: Any, dtype: Optional[np.dtype], name: str = "x") -> np.ndarray:
    """``x`` itself if it is a numpy array; otherwise the array-like (a list of samples) as an
    array, floats in ``dtype`` (the model's). Integers stay integers, to be refused with the
    scaling hint."""
    if isinstance(x, np.ndarray):
        return x
    try:
        array = np.asarray(x)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{name} must be a numpy array of samples or an array-like of numbers, "
                        f"got {describe(x)} ({error})") from None
    if array.dtype.kind == "f" and dtype is not None:
        return array.astype(dtype, copy=False)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a numpy array of samples or an array-like of numbers, "
                        f"got {describe(x)}")
    return array


def square_images(features: int) -> list[tuple[int, int, int]]:
    """The square image shapes ``(C, H, H)`` of 1 or 3 channels that hold ``features`` values."""
    shapes = []
    for channels in (1, 3):
        side = math.isqrt(features // channels)
        if features % channels == 0 and side * side * channels == features:
            shapes.append((channels, side, side))
    return shapes


def flat_samples_error(shape: tuple[int, ...], image: tuple[int, ...], name: str,
                       refusal: Exception) -> str:
    """The message for flat samples given to a model that has no ``input_shape`` but would take
    them as images of shape ``image``."""
    return (f"{name} holds flat samples of shape {shape}, which the model's first layer cannot "
            f"take ({refusal}); build the model with input_shape={image} "
            f"(Sequential(layers, input_shape={image})) so that it reshapes flat samples itself, "
            f"or pass images, {name}.reshape(-1, {', '.join(map(str, image))})"
            + (" (load_mnist(flatten=False) loads MNIST's images so)" if image == (1, 28, 28) else ""))


def shape_error(shape: tuple[int, ...], input_shape: tuple[int, ...], name: str,
                allow_single: bool) -> str:
    """The message for samples of ``shape`` that a model of ``input_shape`` cannot take."""
    size = math.prod(input_shape)
    batch = "(N, " + ", ".join(str(d) for d in input_shape) + ")"
    message = (f"{name} must be a batch of samples of the model's input_shape {input_shape}, "
               f"shape {batch}")
    if len(input_shape) > 1:
        message += f", or of flat samples (N, {size})"
    message += f"; got shape {shape}"
    hints = []
    if shape == input_shape:
        hints.append(f"one sample needs the batch axis: {name}[None]")
    elif len(shape) <= len(input_shape) and math.prod(shape) > 0 and math.prod(shape) % size == 0:
        count = math.prod(shape) // size
        these = "this is one sample" if count == 1 else f"these are {count} samples"
        hints.append(f"if {these}, {name}.reshape(-1, "
                     + ", ".join(str(d) for d in input_shape) + ") gives the model's layout")
    if input_shape == (1, 28, 28):
        hints.append("load_mnist(flatten=False) loads MNIST's images in it")
    if shape == input_shape and not allow_single:
        hints.append("predict, predict_classes and predict_proba take one sample as it is")
    return message + ("; " + "; ".join(hints) if hints else "")
