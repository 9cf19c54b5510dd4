"""Weights saved by the book's networks (``params['W1']``, ``params['b1']``, ...) copied into
the weighted layers of a cnn-ext model, in order."""

from __future__ import annotations

import os
from typing import Mapping, Union

import numpy as np

from cnn.book.params_file import load_params

BookParams = Union[Mapping[str, np.ndarray], str, os.PathLike]


def read_book_params(params: BookParams) -> Mapping[str, np.ndarray]:
    """``params`` itself when it is a dict of arrays, else the file it names read by
    :func:`cnn.book.load_params` (a book ``params.pkl``)."""
    if isinstance(params, Mapping):
        return params
    if isinstance(params, (str, os.PathLike)):
        return load_params(params)
    raise TypeError(f"params must be the book's dict of arrays (W1, b1, ...) or the path of its "
                    f"params.pkl, got {type(params).__name__}")


def copy_book_params(model, params: Mapping[str, np.ndarray], network: str) -> None:
    """Copy ``W1``, ``b1``, ``W2``, ``b2``, ... into ``model``'s layers that have weights, in
    order (the book numbers its weighted layers so); every array must have the shape of its
    target, and ``params`` no other keys."""
    weighted = [layer for layer in model.layers if layer.params]
    expected = [f"{name}{index}" for index in range(1, len(weighted) + 1) for name in ("W", "b")]
    missing = [key for key in expected if key not in params]
    extra = [key for key in params if key not in expected]
    if missing or extra:
        raise ValueError(f"the book's {network} has the parameters {', '.join(expected)}; these "
                         f"params {'lack ' + ', '.join(missing) if missing else ''}"
                         f"{' and ' if missing and extra else ''}"
                         f"{'also hold ' + ', '.join(map(str, extra)) if extra else ''}")
    for index, layer in enumerate(weighted, start=1):
        for name, target in zip(("W", "b"), layer.params):
            source = np.asarray(params[f"{name}{index}"])
            if source.shape != target.shape:
                raise ValueError(f"params['{name}{index}'] must have shape {target.shape} for "
                                 f"{layer!r}, got {source.shape}")
            target[...] = source
