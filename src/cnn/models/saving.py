"""Loading a saved model without the code that built it: :func:`load_model`."""

from __future__ import annotations

import json
import math
import os
from typing import Any, Sequence

from cnn.layers.base import Layer, arrays_under
from cnn.layers.registry import build_part
from cnn.losses import Loss
from cnn.models._architecture import (ARCHITECTURE_FORMAT, ARCHITECTURE_KEY, ARCHITECTURE_VERSION,
                                     MAX_ARCHITECTURE_CHARS, describe_saved, foreign_file_hint)
from cnn.models.ready import ready_class
from cnn.models.sequential import Sequential
from cnn.storage import MAX_NPZ_BYTES, read_npz

__all__ = ["load_model", "MAX_LAYERS", "MAX_LOAD_SAMPLE_ELEMENTS"]

#: The most layers a saved model may declare.
MAX_LAYERS = 10_000
#: The most values one sample may hold at any layer of a model loaded by load_model (256 MiB as
#: float32): the architecture it declares is checked against this before any layer is built.
MAX_LOAD_SAMPLE_ELEMENTS = 1 << 26


def load_model(path: str | os.PathLike, max_bytes: int = MAX_NPZ_BYTES) -> Sequential:
    """The model saved in ``path`` by :meth:`Sequential.save <cnn.models.Sequential.save>`, rebuilt
    from the architecture stored beside its weights, with no code of its own.

    Every layer and the loss are built from the class registered under the name the file gives
    (:func:`cnn.layers.register`; the library's are registered), then the weights are copied in
    and checked by name, shape and dtype. A LeNet, SimpleConvNet or DeepConvNet comes back as
    that class; any other model as a :class:`~cnn.models.Sequential` of the same layers. Nothing
    is unpickled, and the file's array headers are checked before its data is read.

    Args:
        path: an ``.npz`` file written by ``model.save``.
        max_bytes: the most array data read from the file.

    Returns:
        The model, its weights, buffers and dropout generators as they were saved.

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file is not a saved model (an ONNX file, a Trainer checkpoint, weights
            saved without an architecture: the message says what reads it), is damaged, or names
            a layer class that is not registered (the message names it and says how to register it).

    Example:
        >>> from cnn.models import LeNet
        >>> LeNet(seed=0).save("lenet.npz")
        >>> load_model("lenet.npz")
        LeNet(
          Convolution(1->6, 5x5, stride=1, pad=2),
          ...
    """
    foreign_file_hint(path, "load_model")
    source = f"file {os.fspath(path)!r}"
    arrays = read_npz(path, check=lambda specs: _check_kind(specs, source, os.fspath(path)),
                      max_bytes=max_bytes)
    architecture = _parse(arrays.pop(ARCHITECTURE_KEY), source)
    layers = [_build(entry, f"layers[{index}]", Layer, source, arrays_under(arrays, f"layers.{index}"))
              for index, entry in enumerate(architecture["layers"])]
    loss = _build(architecture["loss"], "the loss", Loss, source)
    if architecture["input_shape"] is not None:
        _check_sample_sizes(layers, architecture["input_shape"], source)
    model_class = ready_class(architecture["model"])
    try:
        model = model_class.from_layers(layers, loss, input_shape=architecture["input_shape"])
    except (TypeError, ValueError) as error:
        raise ValueError(f"{source}: its architecture does not make a model: {error}") from None
    model.load_state_dict(arrays, source=source)
    return model


def _check_kind(specs: dict, source: str, path: str) -> None:
    """Refuse, from the array headers, a file that is not a saved model, saying what reads it."""
    kind = describe_saved(specs)
    if kind == "checkpoint":
        raise ValueError(f"{source} is a Trainer checkpoint, not a saved model. Read its weights "
                         f"into a model built in code: model = LeNet(); "
                         f"model.load_checkpoint({path!r}) (a finished run of cnn-train also "
                         f"wrote weights.npz beside it, which load_model reads)")
    if kind == "weights":
        raise ValueError(f"{source} holds weights without an architecture (saved by an older "
                         f"cnn-ext, or from state_dict()): build the model in code and call "
                         f"model.load({path!r})")
    if kind != "model":
        raise ValueError(f"{source} is not a model saved by cnn-ext (no {ARCHITECTURE_KEY!r} and "
                         f"'format_version' entries)")
    spec = specs[ARCHITECTURE_KEY]
    if spec.shape != () or spec.dtype.kind != "U" or spec.dtype.itemsize > 4 * MAX_ARCHITECTURE_CHARS:
        raise ValueError(f"{source}: its {ARCHITECTURE_KEY!r} entry (shape {spec.shape}, dtype "
                         f"{spec.dtype}) is not the JSON text of an architecture of at most "
                         f"{MAX_ARCHITECTURE_CHARS} characters")


def _parse(text: Any, source: str) -> dict:
    """The architecture's JSON, its structure checked."""
    try:
        architecture = json.loads(str(text))
    except (ValueError, RecursionError) as error:
        raise ValueError(f"{source}: its {ARCHITECTURE_KEY!r} entry is not JSON ({error})") from None
    if not isinstance(architecture, dict) or architecture.get("format") != ARCHITECTURE_FORMAT:
        raise ValueError(f"{source}: its {ARCHITECTURE_KEY!r} entry is not a cnn-ext architecture")
    if architecture.get("version") != ARCHITECTURE_VERSION:
        raise ValueError(f"{source} has architecture version {architecture.get('version')!r}; "
                         f"this version of cnn-ext reads version {ARCHITECTURE_VERSION}")
    layers, shape = architecture.get("layers"), architecture.get("input_shape")
    if not isinstance(layers, list) or not 1 <= len(layers) <= MAX_LAYERS:
        raise ValueError(f"{source}: its architecture must list 1 to {MAX_LAYERS} layers")
    if "input_shape" not in architecture:
        raise ValueError(f"{source}: its architecture has no input_shape entry (null for none)")
    if shape is not None and not (isinstance(shape, list) and 1 <= len(shape) <= 32 and all(
            isinstance(size, int) and not isinstance(size, bool) and size >= 1 for size in shape)):
        raise ValueError(f"{source}: its architecture has input_shape {_short(shape)}, not a list "
                         f"of positive integers")
    if not isinstance(architecture.get("model"), str):
        raise ValueError(f"{source}: its architecture names no model class")
    for where, entry in [*((f"layers[{i}]", layer) for i, layer in enumerate(layers)),
                         ("the loss", architecture.get("loss"))]:
        if not (isinstance(entry, dict) and isinstance(entry.get("class"), str)
                and isinstance(entry.get("config"), dict)):
            raise ValueError(f"{source}: {where} of its architecture is {_short(entry)}, not "
                             f'{{"class": name, "config": {{...}}}}')
    return architecture


def _check_sample_sizes(layers: Sequence[Layer], input_shape: Sequence[int], source: str) -> None:
    """Refuse, before a sample goes through the layers to check that they fit, an architecture
    whose samples would hold more than :data:`MAX_LOAD_SAMPLE_ELEMENTS` values: a hostile padding or
    input shape would otherwise allocate terabytes. The shapes follow the library's layers;
    a layer of another kind is taken to keep the shape."""
    _walk_sizes(layers, tuple(input_shape), "its input_shape", source)


def _walk_sizes(layers: Sequence[Layer], shape: tuple[int, ...], where: str, source: str) -> None:
    """Bound the shape of one sample after each layer (and after each layer a layer holds, such
    as a Residual's), from the layers' ``output_shape``, which allocates nothing for the
    library's layers. A layer that does not fit stops the walk: the model's own check says so."""
    _bounded(shape, where, source)
    for index, layer in enumerate(layers):
        where = f"layers[{index}] ({layer!r})"
        try:
            for name, _, inner_shape in layer.inner_shapes(shape):
                _bounded(inner_shape, f"{where} {name}", source)
            shape = tuple(layer.output_shape(shape))
        except ValueError:
            return
        _bounded(shape, where, source)


def _bounded(shape: tuple[int, ...], where: str, source: str) -> None:
    if math.prod(shape) > MAX_LOAD_SAMPLE_ELEMENTS:
        raise ValueError(f"{source}: at {where} one sample would hold {math.prod(shape)} "
                         f"values (shape {shape}), more than a model loaded from a file may "
                         f"({MAX_LOAD_SAMPLE_ELEMENTS})")


def _build(entry: dict, where: str, kind: type, source: str, arrays: dict | None = None):
    """The layer (or loss) an architecture entry describes, from its registered class."""
    try:
        return build_part(where, entry, arrays, kind)
    except ValueError as error:
        raise ValueError(f"{source}: {error}") from None


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."
