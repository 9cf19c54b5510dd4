"""Writing files so that a crash never leaves a half-written one behind, and reading ``.npz``
files so that a hostile one costs no more memory than what the reader expects."""

from __future__ import annotations

import json
import math
import os
import tempfile
import tokenize
import zipfile
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional

import numpy as np

__all__ = ["atomic_write", "atomic_write_npz", "atomic_write_text", "read_npz", "read_json", "ArraySpec",
           "MAX_NPZ_BYTES"]

#: The most array data :func:`read_npz` reads from one file unless told otherwise.
MAX_NPZ_BYTES = 1 << 31
# Longest .npy header accepted (NumPy's own default); members of one archive at most.
MAX_HEADER_BYTES = 10000
MAX_MEMBERS = 100_000


@dataclass(frozen=True)
class ArraySpec:
    """What the header of one array of an ``.npz`` file declares, read before its data.

    ``value`` holds the number of a 0-d numeric array (a format version, a step count), read
    with the header since it costs a few bytes; None otherwise."""

    shape: tuple[int, ...]
    dtype: np.dtype
    value: Any = None


def atomic_write_npz(path: str | os.PathLike, arrays: Mapping[str, np.ndarray]) -> None:
    """Write ``arrays`` to ``path`` as ``.npz``: to a temporary file in the same
    directory first, then renamed over ``path``, so readers see the old file or the new one."""
    atomic_write(path, lambda file: np.savez(file, **arrays), ".npz")


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` through a temporary file renamed over it, like
    :func:`atomic_write_npz`."""
    atomic_write(path, lambda file: file.write(text.encode("utf-8")), ".txt")


def atomic_write(path: str | os.PathLike, write: Callable[[Any], object], suffix: str = "") -> None:
    """``write(file)`` (a binary file) into a temporary file beside ``path`` (named with
    ``suffix``), flushed to disk, then renamed over ``path``: readers, and a run interrupted
    meanwhile, see the old file or the new one, never half of one."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"cannot write {path!r}: its folder {directory!r} does not exist; "
                                f"create it first, for example os.makedirs({directory!r})")
    if os.path.isdir(path):
        raise IsADirectoryError(f"cannot write {path!r}: it is a folder; give a file name in it, "
                                f"for example {os.path.join(path, 'model' + suffix)!r}")
    handle, temporary = tempfile.mkstemp(prefix=".tmp-", suffix=suffix, dir=directory)
    umask = os.umask(0)
    os.umask(umask)
    try:
        os.chmod(temporary, 0o666 & ~umask)  # mkstemp creates 0600; give the usual permissions
        with os.fdopen(handle, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def read_json(path: str | os.PathLike, advice: str) -> Any:
    """The JSON value in ``path``; a damaged file is a ``ValueError`` naming it, with ``advice``."""
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as file:
            return json.load(file)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path} is damaged ({error}); {advice}") from None


def read_npz(path: str | os.PathLike,
             check: Optional[Callable[[dict[str, ArraySpec]], None]] = None,
             max_bytes: int = MAX_NPZ_BYTES) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` file, read into memory after its headers were checked.

    The header of every array is read first: its size (exact, from its shape and dtype)
    must be what the archive holds, object arrays are refused, and all of them together
    may hold at most ``max_bytes``. Then ``check`` (when given) receives the headers by name,
    as :class:`ArraySpec`, and raises ``ValueError`` to refuse the file; only then is any
    data read. So a file whose header claims terabytes is refused without allocating them.

    Raises ``FileNotFoundError`` for a missing file and ``ValueError`` naming the file (and
    the array) for one that is truncated, corrupted, not an ``.npz`` archive or refused.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        found = sorted(name for name in os.listdir(path) if name.endswith(".npz"))
        raise IsADirectoryError(f"{path!r} is a folder, not an .npz file; give the file itself"
                                + (f", for example {os.path.join(path, found[0])!r} (the folder "
                                   f"holds {', '.join(found[:5])})" if found else ""))
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no such file: {path!r}")
    _refuse_other_formats(path)
    try:
        with zipfile.ZipFile(path) as archive:
            members = _member_specs(archive, path, max_bytes)
            if check is not None:
                check({name: spec for name, (_, spec) in members.items()})
            return {name: _read_member(archive, info, path, name)
                    for name, (info, _) in members.items()}
    except (OSError, EOFError, zipfile.BadZipFile, zipfile.LargeZipFile, RuntimeError,
            NotImplementedError) as error:  # zipfile's own: bad archives, encryption, methods
        raise ValueError(f"cannot read {path!r} as an .npz file (truncated or corrupted?): "
                         f"{error}") from error


#: The first bytes of files people mistake for ``.npz`` files, and what to do with each.
_OTHER_FORMATS = (
    (b"\x80", "a Python pickle (the book's save_params writes params.pkl so), not an .npz file. "
               "Read a book network's weights with cnn.book.load_params(path), which runs no "
               "code from the file, and build the model with DeepConvNet.from_book_params(path) "
               "or SimpleConvNet.from_book_params(path); other arrays go into a model with "
               "model.load_state_dict({name: array})"),
    (b"\x93NUMPY", "a single .npy array, not an .npz file of named arrays; model.save writes "
                   "the .npz files cnn-ext reads"),
    (b"\x89HDF", "an HDF5 file (Keras saves weights so), not an .npz file; cnn.interop imports "
                 "ONNX files, which Keras models can be converted to"),
)


def _refuse_other_formats(path: str) -> None:
    """Raise ``ValueError`` naming the format of a file that is plainly not an ``.npz`` archive."""
    with open(path, "rb") as file:
        start = file.read(8)
    if not start:
        raise ValueError(f"cannot read {path!r} as an .npz file: it is empty (0 bytes)")
    for magic, advice in _OTHER_FORMATS:
        if start.startswith(magic):
            raise ValueError(f"cannot read {path!r}: it is {advice}")


def _member_specs(archive: zipfile.ZipFile, path: str,
                  max_bytes: int) -> dict[str, tuple[zipfile.ZipInfo, ArraySpec]]:
    infos = archive.infolist()
    if len(infos) > MAX_MEMBERS:
        raise ValueError(f"{path!r} holds {len(infos)} members, more than an .npz file of "
                         f"cnn-ext ever does ({MAX_MEMBERS})")
    members, total = {}, 0
    for info in infos:
        if not info.filename.endswith(".npy") or info.filename[:-4] in members:
            raise ValueError(f"{path!r} is not an .npz file of arrays: it holds the member "
                             f"{info.filename!r}")
        name = info.filename[:-4]
        spec, data_bytes = _header(archive, info, path, name)
        declared = math.prod(spec.shape) * spec.dtype.itemsize  # exact: Python integers
        if declared != data_bytes:
            raise ValueError(f"{path!r}: the header of {name!r} declares {declared} bytes of data "
                             f"(shape {spec.shape}, dtype {spec.dtype}), the archive holds "
                             f"{data_bytes}")
        total += declared
        if total > max_bytes:
            raise ValueError(f"{path!r} holds more than {max_bytes} bytes of arrays (at "
                             f"{name!r}); refused")
        members[name] = info, spec
    return members


def _header(archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: str,
            name: str) -> tuple[ArraySpec, int]:
    """The spec of one member and how many bytes of data follow its header."""
    with archive.open(info) as file:
        try:
            version = np.lib.format.read_magic(file)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(file, MAX_HEADER_BYTES)
            elif version == (2, 0):
                shape, _, dtype = np.lib.format.read_array_header_2_0(file, MAX_HEADER_BYTES)
            else:
                raise ValueError(f".npy format version {version} is not read here")
        except (ValueError, TypeError, SyntaxError, tokenize.TokenError, RecursionError) as error:
            # NumPy parses the header's Python literal: anything its tokenizer and parser raise
            raise ValueError(f"{path!r}: the array {name!r} has no valid .npy header ({error})") \
                from None
        if dtype.hasobject or dtype.itemsize == 0:
            raise ValueError(f"{path!r}: the array {name!r} has dtype {dtype}, which cnn-ext "
                             f"never saves")
        header_bytes = file.tell()
        value = None
        if shape == () and dtype.kind in "biuf" and info.file_size - header_bytes == dtype.itemsize:
            value = np.frombuffer(file.read(dtype.itemsize), dtype)[0].item()
    return ArraySpec(tuple(shape), dtype, value), info.file_size - header_bytes


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: str, name: str) -> np.ndarray:
    with archive.open(info) as file:
        try:
            return np.lib.format.read_array(file, allow_pickle=False,
                                            max_header_size=MAX_HEADER_BYTES)
        except (ValueError, EOFError, OSError, zipfile.BadZipFile) as error:
            raise ValueError(f"{path!r}: the array {name!r} cannot be read (truncated or "
                             f"corrupted?): {error}") from None
