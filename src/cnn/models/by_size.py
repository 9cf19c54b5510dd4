"""Helpers for models built by size: argument checks and the width after the image layers."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from cnn._checks import check_int
from cnn.layers import Flatten, Layer


def check_image_model_arguments(num_classes, input_shape, dtype):
    """Checked ``(num_classes, (channels, height, width), dtype)`` of an image classifier."""
    num_classes = check_int("num_classes", num_classes, 2)
    if not hasattr(input_shape, "__len__") or len(input_shape) != 3:
        raise ValueError(f"input_shape must be (channels, height, width), got {input_shape!r}")
    shape = tuple(check_int("input_shape", size, 1) for size in input_shape)
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"dtype must be float32 or float64, got {dtype}")
    return num_classes, shape, dtype


def flat_features(layers: Sequence[Layer], input_shape: tuple[int, int, int]) -> int:
    """Features per sample after convolutions and poolings, as a ``Flatten`` at the end gives them.

    Raises ``ValueError`` naming ``input_shape`` when the image is too small for the windows.
    """
    if not isinstance(layers[-1], Flatten):
        raise ValueError("flat_features expects the image layers to end with Flatten()")
    shape = tuple(input_shape)
    try:
        for layer in layers:
            shape = layer.output_shape(shape)
    except ValueError as error:
        raise ValueError(f"input_shape {tuple(input_shape)!r} is too small for this model: "
                         f"{error}") from None
    return shape[0]
