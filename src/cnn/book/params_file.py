"""Reading the weights a book network saved with ``save_params`` (a pickle of a dict of
NumPy arrays, ``params.pkl``) without running code from the file.

Unpickling can call any function a file names, so a pickle is read here by an unpickler
that knows only the few NumPy functions that rebuild an array, and the result must be a dict
of numeric arrays keyed by strings. Anything else is refused with :class:`BookParamsError`.
"""

from __future__ import annotations

import importlib
import io
import os
import pickle
from pathlib import Path
from typing import Union

import numpy as np

__all__ = ["load_params", "BookParamsError"]

#: The callables a pickle of NumPy arrays names, by (module, name). NumPy 2 moved
#: ``numpy.core`` to ``numpy._core``; a file written by either names its own.
ARRAY_REBUILDERS = {
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
}
#: Protocol 2 pickles (Python 2's) write bytes as ``_codecs.encode(text, 'latin1')``.
BYTES_FROM_TEXT = ("_codecs", "encode")
#: The kinds of array accepted: booleans, integers, unsigned integers and floats.
NUMERIC_KINDS = "buif"


class BookParamsError(ValueError):
    """The file is not a book ``params.pkl``: not a pickle, or a pickle of something other
    than a dict of numeric arrays."""


def _latin1_bytes(text: str, encoding: str) -> bytes:
    """``_codecs.encode`` as protocol 2 uses it, for Latin-1 only (no other codec runs)."""
    if encoding not in ("latin1", "latin-1") or not isinstance(text, str):
        raise BookParamsError(f"it encodes text with {encoding!r}, not as protocol 2 writes bytes")
    return text.encode("latin1")


def _resolve(module: str, name: str):
    for candidate in (module.replace("numpy.core", "numpy._core"),
                      module.replace("numpy._core", "numpy.core")):
        try:
            return getattr(importlib.import_module(candidate), name)
        except (ImportError, AttributeError):
            continue
    raise AttributeError(f"{module}.{name}")


class _ArrayUnpickler(pickle.Unpickler):
    """An unpickler that rebuilds NumPy arrays and plain Python values, and nothing else."""

    def find_class(self, module: str, name: str):
        if (module, name) == BYTES_FROM_TEXT:
            return _latin1_bytes
        if (module, name) not in ARRAY_REBUILDERS:
            raise BookParamsError(f"it names {module}.{name}, which a file of NumPy arrays "
                                  f"never needs; it was not called")
        return _resolve(module, name)

    def persistent_load(self, pid):
        raise BookParamsError("it refers to persistent objects outside the file")


def load_params(path: Union[str, os.PathLike]) -> dict[str, np.ndarray]:
    """The arrays of a book ``params.pkl``, by name (``'W1'``, ``'b1'``, ...).

    Args:
        path: a file written by the book's ``save_params`` (``pickle.dump`` of a dict).

    Returns:
        A dict of the arrays, in the file's order, as the file holds them (float64 for the
        book's networks).

    Raises:
        FileNotFoundError: no such file.
        BookParamsError (a ValueError): anything but a pickle of a dict from strings to
            numeric NumPy arrays; nothing the file names beyond NumPy's array rebuilding is
            ever called.

    Example:
        >>> params = load_params("deep_convnet_params.pkl")  # doctest: +SKIP
        >>> model = DeepConvNet.from_book_params(params)     # doctest: +SKIP
    """
    path = Path(path)
    if path.is_dir():
        raise BookParamsError(f"{path} is a folder; give the .pkl file the book's save_params "
                              f"wrote, for example {path / 'params.pkl'}")
    data = path.read_bytes()
    try:
        loaded = _ArrayUnpickler(io.BytesIO(data)).load()
    except BookParamsError as refused:
        raise BookParamsError(f"{path} is not a book params file: {refused}") from None
    except Exception as broken:  # noqa: BLE001 - any failure of untrusted bytes is the file's
        raise BookParamsError(f"{path} is not a book params file (a pickle of a dict of NumPy "
                              f"arrays): it cannot be read as one "
                              f"({type(broken).__name__}: {broken})") from None
    return _checked_params(path, loaded)


def _checked_params(path: Path, loaded) -> dict[str, np.ndarray]:
    if not isinstance(loaded, dict):
        raise BookParamsError(f"{path} holds a {type(loaded).__name__}, not the dict of arrays "
                              f"the book's save_params writes")
    for key, value in loaded.items():
        if not isinstance(key, str):
            raise BookParamsError(f"{path}: every key must be a parameter name (a str), got "
                                  f"{key!r}")
        if type(value) is not np.ndarray or value.dtype.kind not in NUMERIC_KINDS:
            kind = f"an array of dtype {value.dtype}" if isinstance(value, np.ndarray) \
                else f"a {type(value).__name__}"
            raise BookParamsError(f"{path}: {key!r} must be a numeric NumPy array, got {kind}")
    return dict(loaded)
