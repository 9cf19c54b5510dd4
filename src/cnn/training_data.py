"""The data a Trainer is given, checked once per ``fit``: samples as the model's batches, labels
as class indices, and the validation set taken apart."""

from __future__ import annotations

from typing import Any

import numpy as np

from cnn._checks import check_samples
from cnn.losses import class_indices
from cnn.validation import split_indices

__all__ = ["checked_data", "split_validation"]


def checked_data(model, x, t, x_test, t_test) -> tuple:
    """``(x, t, x_test, t_test)`` with the samples as ``model``'s batches (flat samples reshaped
    to its input_shape) and the labels as class indices (array-likes accepted)."""
    check_samples("x", x, model.dtype)
    x, _ = model.as_batch(x, "x")
    model.check_batch_shape(x, "x")
    if x_test is not None:
        x_test = _checked_like(model, x, x_test, "x_test")
    if (x_test is None) != (t_test is None):
        raise ValueError("x_test and t_test must be given together")
    classes = _classes(model, x)
    t = class_indices(t, x.shape[0], classes)
    if x_test is not None:
        t_test = class_indices(t_test, x_test.shape[0], classes, "t_test")
    return x, t, x_test, t_test


def split_validation(model, validation: Any, seed: int, x: np.ndarray, t: np.ndarray) -> tuple:
    """``(x, t, held_out)``: the samples trained on and the validation pair (or None), for a
    ``validation`` as :func:`cnn.validation.check_validation` returns it."""
    if validation is None:
        return x, t, None
    if isinstance(validation, tuple):
        x_val, t_val = validation
        x_val = _checked_like(model, x, x_val, "validation x")
        return x, t, (x_val, class_indices(t_val, x_val.shape[0], _classes(model, x),
                                           "validation t"))
    train, held_out = split_indices(x.shape[0], validation, seed)
    return x[train], t[train], (x[held_out], t[held_out])


def _checked_like(model, x: np.ndarray, other, name: str) -> np.ndarray:
    """``other`` checked as samples of ``model``, shaped like the training samples ``x``."""
    check_samples(name, other, model.dtype)
    other, _ = model.as_batch(other, name)
    if other.shape[1:] != x.shape[1:]:
        raise ValueError(f"{name} must hold samples of the training samples' shape "
                         f"{x.shape[1:]}, got shape {other.shape}")
    return other


def _classes(model, x: np.ndarray) -> int:
    """The number of classes: the width of the model's scores for one sample."""
    return model.num_classes(x.shape[1:])
