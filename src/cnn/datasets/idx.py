"""A reader for the IDX format of the MNIST files, gzip-compressed or raw, in bounded memory.

An IDX file is a 4-byte magic number (two zero bytes, a type code, the number
of dimensions), one big-endian uint32 per dimension, then the data. The reader
streams the file (decompressing as it goes): it reads the header, computes the
exact size of the data with Python integers, refuses a size above its bound
before allocating anything, then reads exactly that many bytes. So a small
hostile file (a gzip bomb, or a header announcing terabytes) costs no more
memory than the bound.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import os
import zlib
from typing import BinaryIO, Callable, Optional

import numpy as np

GZIP_MAGIC = b"\x1f\x8b"
IDX_TYPES = {0x08: np.dtype(np.uint8), 0x09: np.dtype(np.int8), 0x0B: np.dtype(">i2"),
             0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
#: The largest data :func:`read_idx` reads unless told otherwise (MNIST's largest file holds 47 MB).
MAX_DATA_BYTES = 1 << 30
# Trailing bytes are counted up to this many, then reported as "at least".
TRAILING_COUNT_LIMIT = 1 << 20


class IdxFormatError(ValueError):
    """A file is not a well-formed IDX file; the message names the file and the fault."""


def read_idx(path: str | os.PathLike, max_bytes: int = MAX_DATA_BYTES) -> np.ndarray:
    """Read an IDX file (gzip or raw) into an array of its shape.

    Raises ``IdxFormatError`` (a ``ValueError``) naming the file for a bad magic number,
    a truncated or corrupted file or gzip stream, bytes after the data, or data larger
    than ``max_bytes``.
    """
    return read_idx_checked(path, max_bytes)[0]


HeaderCheck = Callable[[np.dtype, tuple[int, ...]], None]


def read_idx_checked(path: str | os.PathLike, max_bytes: int, name: Optional[str] = None,
                     check_header: Optional[HeaderCheck] = None) -> tuple[np.ndarray, str]:
    """``(array, SHA-256 of the decompressed content)`` of an IDX file.

    ``name`` (default the path) is used in error messages; ``check_header(dtype, shape)``,
    when given, is called once the header is read, before any data, and raises to refuse it.
    """
    name = os.fspath(path) if name is None else name
    with open(path, "rb") as file:
        compressed = file.read(2) == GZIP_MAGIC
        file.seek(0)
        if not compressed:
            return _read_stream(file, name, max_bytes, check_header)
        try:
            with gzip.GzipFile(fileobj=file) as stream:
                return _read_stream(stream, name, max_bytes, check_header)
        except (EOFError, OSError, zlib.error) as error:
            raise IdxFormatError(f"{name}: the gzip stream is truncated or corrupted "
                                 f"({error})") from None


def _read_stream(stream: BinaryIO, name: str, max_bytes: int,
                 check_header: Optional[HeaderCheck]) -> tuple[np.ndarray, str]:
    digest = hashlib.sha256()
    magic = _read_exactly(stream, 4, digest)
    if len(magic) < 4:
        raise IdxFormatError(f"{name}: truncated: {len(magic)} bytes, too short for an IDX header")
    if magic[0] != 0 or magic[1] != 0 or magic[2] not in IDX_TYPES:
        raise IdxFormatError(f"{name}: bad magic number 0x{magic.hex()}: not an IDX file")
    dtype, ndim = IDX_TYPES[magic[2]], magic[3]
    sizes = _read_exactly(stream, 4 * ndim, digest)
    if len(sizes) < 4 * ndim:
        raise IdxFormatError(f"{name}: truncated: the header announces {ndim} dimensions but the "
                             f"file has {4 + len(sizes)} bytes")
    shape = tuple(int.from_bytes(sizes[4 * axis:4 * axis + 4], "big") for axis in range(ndim))
    if check_header is not None:
        check_header(dtype.newbyteorder("="), shape)
    expected = math.prod(shape) * dtype.itemsize  # Python integers: exact, never wrapping
    if expected > max_bytes:
        raise IdxFormatError(f"{name}: shape {shape} needs {expected} bytes of data, more than "
                             f"the {max_bytes} bytes this reader accepts")
    data = _read_exactly(stream, expected, digest)
    if len(data) < expected:
        raise IdxFormatError(f"{name}: truncated: shape {shape} needs {expected} bytes of data, "
                             f"found {len(data)}")
    trailing = _count_trailing(stream)
    if trailing:
        counted = f"at least {trailing}" if trailing >= TRAILING_COUNT_LIMIT else str(trailing)
        raise IdxFormatError(f"{name}: {counted} unexpected bytes after the data of shape {shape}")
    array = np.frombuffer(data, dtype).reshape(shape).astype(dtype.newbyteorder("="))
    return array, digest.hexdigest()


def _read_exactly(stream: BinaryIO, size: int, digest) -> bytes:
    """Up to ``size`` bytes (fewer only at the end of the stream), added to ``digest``."""
    chunks, left = [], size
    while left > 0:
        chunk = stream.read(min(left, 1 << 22))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    data = b"".join(chunks)
    digest.update(data)
    return data


def _count_trailing(stream: BinaryIO) -> int:
    count = 0
    while count < TRAILING_COUNT_LIMIT:
        chunk = stream.read(1 << 16)
        if not chunk:
            break
        count += len(chunk)
    return count
