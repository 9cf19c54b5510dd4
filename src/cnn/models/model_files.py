"""What a model shares with its files: its architecture (``config``, ``from_config``), every
array by name, a saved state checked against the model before anything is copied, and
``save``/``load``/``load_checkpoint``."""

from __future__ import annotations

import os
from typing import Any, Mapping

import numpy as np

from cnn.checkpoint import entries
from cnn.models._architecture import (ARCHITECTURE_KEY, architecture_array, describe_saved,
                                     foreign_file_hint)
from cnn.formats import numbered_state_names
from cnn.layers.base import arrays_under
from cnn.layers.registry import build_part, describe_part
from cnn.losses import Loss
from cnn.storage import atomic_write_npz, read_npz

__all__ = ["ModelFiles", "STATE_FORMAT_VERSION"]

#: Version of the state_dict layout: 2 names every array (``layers.{i}.{name}``); 1 (cnn-ext
#: 0.1.0) numbered them (``param_0``, ``buffer_0``) beside a JSON of the layers' reprs.
STATE_FORMAT_VERSION = 2


class ModelFiles:
    """The state and file methods of :class:`~cnn.models.Sequential`, over the names its layers
    give (``named_params``, ``named_buffers``)."""

    def named_arrays(self) -> dict[str, np.ndarray]:
        """Every parameter and buffer by name, ``layers.{i}.{name}``: the parameters, then the
        buffers."""
        return {**self.named_params(), **self.named_buffers()}

    def config(self) -> dict:
        """The layers' and the loss's classes and settings, and ``input_shape``: what
        :func:`cnn.load_model` rebuilds the model from, nested in a Residual or at the top."""
        return {"layers": [describe_part(f"layers[{index}]", layer)
                           for index, layer in enumerate(self.layers)],
                "loss": describe_part("the loss", self.loss),
                "input_shape": None if self.input_shape is None else list(self.input_shape)}

    @classmethod
    def from_config(cls, config: dict, arrays: dict) -> "ModelFiles":
        """The model :meth:`config` describes, each layer around its saved arrays."""
        if set(config) != {"layers", "loss", "input_shape"} or not isinstance(config["layers"], list):
            raise ValueError(f"a Sequential's config holds a list 'layers', 'loss' and "
                             f"'input_shape', got {sorted(config)}")
        layers = [build_part(f"layers[{index}]", entry, arrays_under(arrays, f"layers.{index}"))
                  for index, entry in enumerate(config["layers"])]
        return cls.from_layers(layers, build_part("the loss", config["loss"], None, Loss),
                               config["input_shape"])

    def state_dict(self) -> dict[str, np.ndarray]:
        """The format version and every parameter and buffer by name (``layers.0.W``...).

        Only arrays are saved: settings that hold no weights (a dropout ratio, a
        batch-norm momentum) are the code's, so changing them never blocks a load.
        """
        return {"format_version": np.array(STATE_FORMAT_VERSION), **self.named_arrays()}

    def load_state_dict(self, arrays: Mapping[str, np.ndarray], source: str = "the state") -> None:
        """Copy saved parameters and buffers into this model's arrays, in place.

        The names, shapes and dtypes must match the model's (:meth:`check_state`); the first
        that does not is named in a ``ValueError`` and nothing is copied. State saved by
        cnn-ext 0.1.0 (``param_0``, ``buffer_0``...) is read by position.
        """
        sources = self.check_state(arrays, source)
        for key, target in self.named_arrays().items():
            target[...] = arrays[sources[key]]

    def check_state(self, specs: Mapping[str, Any], source: str = "the state") -> dict[str, str]:
        """Refuse a saved state that does not fit this model, before anything is copied.

        ``specs`` maps each saved name to an array, or to what a file's header says of it
        (an :class:`~cnn.storage.ArraySpec`, so that a file is checked before its data is
        read). Returns, for each of the model's names (:meth:`named_arrays`), the saved name
        that holds it. Raises ``ValueError`` naming the first name, shape or dtype that differs.
        """
        if "format_version" in specs:
            version = _scalar(specs["format_version"])
            if version != STATE_FORMAT_VERSION:
                raise ValueError(f"{source} has state format {version}; this version of cnn-ext "
                                 f"reads format {STATE_FORMAT_VERSION} and the numbered format of "
                                 f"0.1.0")
            sources = {key: key for key in specs if key not in ("format_version", ARCHITECTURE_KEY)}
        else:
            sources = numbered_state_names(specs, list(self.named_params()),
                                           list(self.named_buffers()), source)
        targets = self.named_arrays()
        for key, target in targets.items():
            if key not in sources:
                raise ValueError(f"{source} does not fit this model: it has no {key!r} (the model's "
                                 f"{target.shape} {target.dtype}); saved keys start with "
                                 f"{_first_keys(specs)}")
            saved = specs[sources[key]]
            if tuple(saved.shape) != target.shape or saved.dtype != target.dtype:
                raise ValueError(f"{source} does not fit this model: {sources[key]!r} has shape "
                                 f"{tuple(saved.shape)} and dtype {saved.dtype}, the model needs "
                                 f"{target.shape} {target.dtype}")
        extra = [key for key in sources if key not in targets]
        if extra:
            raise ValueError(f"{source} does not fit this model: it has {extra[0]!r}, which the "
                             f"model lacks ({len(extra)} such entries)")
        return {key: sources[key] for key in targets}

    def save(self, path: str | os.PathLike) -> None:
        """Write the model to ``path`` (an ``.npz`` file), atomically: its :meth:`state_dict`
        and, as JSON, its architecture (each layer's class and ``config()``, the loss,
        ``input_shape``), from which :func:`cnn.load_model` rebuilds it without code.

        Raises ``TypeError`` naming a layer whose ``config()`` is not JSON."""
        atomic_write_npz(path, {**self.state_dict(), ARCHITECTURE_KEY: architecture_array(self)})

    def load(self, path: str | os.PathLike) -> None:
        """Read weights written by :meth:`save` into this model; refuses a mismatched file.

        The file's array headers are checked against the model (:meth:`check_state`) before
        any data is read, so a damaged or hostile file costs no more memory than the model.
        The architecture saved beside the weights is not needed here (this model is the
        architecture); files of older versions, which have none, load too. Given an ONNX file
        or a Trainer checkpoint, the ``ValueError`` names the call that reads it.
        """
        foreign_file_hint(path, "model.load")
        source = f"file {os.fspath(path)!r}"

        def check(specs):
            if describe_saved(specs) == "checkpoint":
                raise ValueError(f"{source} is a Trainer checkpoint; read its weights with "
                                 f"model.load_checkpoint({os.fspath(path)!r})")
            self.check_state(specs, source)

        self.load_state_dict(read_npz(path, check=check), source=source)

    def load_checkpoint(self, path: str | os.PathLike) -> None:
        """Read the weights of a :class:`~cnn.trainer.Trainer` checkpoint (``checkpoint.npz``,
        the model as it was after the last finished epoch or step) into this model.

        Only the model's arrays are copied; the optimizer's state and the run's position stay
        in the file for ``fit(..., resume=True)``. Checked like :meth:`load`.
        """
        foreign_file_hint(path, "model.load_checkpoint")
        source = f"checkpoint {os.fspath(path)!r}"

        def check(specs):
            if describe_saved(specs) != "checkpoint":
                raise ValueError(f"{source} is not a Trainer checkpoint (no 'meta' and 'model.' "
                                 f"entries); a file written by model.save is read with "
                                 f"model.load or cnn.load_model")
            self.check_state(entries(specs, "model."), source)

        arrays = read_npz(path, check=check)
        self.load_state_dict(entries(arrays, "model."), source=source)


def _scalar(saved: Any) -> Any:
    """The number in a saved 0-d array (or in the ``value`` of a header), None if there is none."""
    value = getattr(saved, "value", saved)
    if isinstance(value, np.ndarray):
        value = value.item() if value.shape == () and value.dtype.kind in "biuf" else None
    return value


def _first_keys(arrays: Mapping, count: int = 3) -> str:
    keys = list(arrays)
    return ", ".join(repr(key) for key in keys[:count]) + (", ..." if len(keys) > count else "")
