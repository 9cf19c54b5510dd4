"""A model's architecture as JSON (what :func:`cnn.load_model` rebuilds it from), and the words
for a file that is not a saved model."""

from __future__ import annotations

import json
import os
import zipfile
from typing import Any

import numpy as np

__all__ = ["ARCHITECTURE_KEY", "ARCHITECTURE_FORMAT", "MAX_ARCHITECTURE_CHARS", "architecture_of",
           "architecture_array", "foreign_file_hint"]

#: The entry of a saved model's ``.npz`` that holds its architecture.
ARCHITECTURE_KEY = "architecture"
#: What the architecture's ``format`` field says, and its version.
ARCHITECTURE_FORMAT, ARCHITECTURE_VERSION = "cnn-ext architecture", 1
#: The longest architecture read (characters of JSON): far more than 10,000 layers take.
MAX_ARCHITECTURE_CHARS = 4 << 20


def architecture_of(model) -> dict:
    """The architecture of a :class:`~cnn.models.Sequential` as JSON values: the model's class,
    ``input_shape``, and the class and ``config()`` of each layer and of the loss."""
    return {"format": ARCHITECTURE_FORMAT, "version": ARCHITECTURE_VERSION,
            "model": type(model).__name__, **model.config()}


def architecture_array(model) -> np.ndarray:
    """:func:`architecture_of` as the 0-d string array saved beside the weights.

    Raises ``TypeError`` naming the layer whose ``config()`` holds something that is not JSON."""
    return np.array(json.dumps(architecture_of(model), allow_nan=False, separators=(",", ":")))


def foreign_file_hint(path: str | os.PathLike, loading: str) -> None:
    """Refuse, saying what reads it, a file that is an ONNX model rather than an ``.npz``.

    ``loading`` names the call that was made, for the message. A file that is neither is left
    to the ``.npz`` reader, which says what is wrong with it."""
    path = os.fspath(path)
    if not os.path.isfile(path) or zipfile.is_zipfile(path):
        return
    with open(path, "rb") as file:
        start = file.read(1)
    if path.lower().endswith(".onnx") or start == b"\x08":  # ONNX: a protobuf, ir_version first
        raise ValueError(f"{path!r} is an ONNX model, not a model saved by cnn-ext; {loading} "
                         f"reads .npz files. Read it with cnn.interop.from_onnx({path!r})")


def describe_saved(specs: dict[str, Any]) -> str:
    """What kind of cnn-ext file the array headers ``specs`` belong to, for messages."""
    if "meta" in specs and any(key.startswith("model.") for key in specs):
        return "checkpoint"
    if ARCHITECTURE_KEY in specs and "format_version" in specs:
        return "model"
    if "format_version" in specs or "param_0" in specs:
        return "weights"
    return "unknown"
