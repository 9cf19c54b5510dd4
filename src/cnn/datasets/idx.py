"""A reader for the IDX format of the MNIST files, gzip-compressed or raw.

An IDX file is a 4-byte magic number (two zero bytes, a type code, the number
of dimensions), one big-endian uint32 per dimension, then the data.
"""

from __future__ import annotations

import gzip
import os
import zlib

import numpy as np

GZIP_MAGIC = b"\x1f\x8b"
IDX_TYPES = {0x08: np.dtype(np.uint8), 0x09: np.dtype(np.int8), 0x0B: np.dtype(">i2"),
             0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


class IdxFormatError(ValueError):
    """A file is not a well-formed IDX file; the message names the file and the fault."""


def read_bytes(path: str | os.PathLike) -> bytes:
    """The content of ``path``, decompressed if it is gzip."""
    path = os.fspath(path)
    with open(path, "rb") as file:
        content = file.read()
    if content[:2] != GZIP_MAGIC:
        return content
    try:
        return gzip.decompress(content)
    except (EOFError, OSError, zlib.error) as error:
        raise IdxFormatError(f"{path}: the gzip stream is truncated or corrupted ({error})") from error


def parse_idx(content: bytes, name: str) -> np.ndarray:
    """Parse IDX ``content``; ``name`` is used in error messages."""
    if len(content) < 4:
        raise IdxFormatError(f"{name}: truncated: {len(content)} bytes, too short for an IDX header")
    if content[0] != 0 or content[1] != 0 or content[2] not in IDX_TYPES:
        raise IdxFormatError(f"{name}: bad magic number 0x{content[:4].hex()}: not an IDX file")
    dtype, ndim = IDX_TYPES[content[2]], content[3]
    header_size = 4 + 4 * ndim
    if len(content) < header_size:
        raise IdxFormatError(f"{name}: truncated: the header announces {ndim} dimensions but the "
                             f"file has {len(content)} bytes")
    shape = tuple(int(size) for size in np.frombuffer(content, ">u4", ndim, offset=4))
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    found = len(content) - header_size
    if found < expected:
        raise IdxFormatError(f"{name}: truncated: shape {shape} needs {expected} bytes of data, "
                             f"found {found}")
    if found > expected:
        raise IdxFormatError(f"{name}: {found - expected} unexpected bytes after the data of "
                             f"shape {shape}")
    return np.frombuffer(content, dtype, offset=header_size).reshape(shape).astype(dtype.newbyteorder("="))


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (gzip or raw) into an array of its shape."""
    return parse_idx(read_bytes(path), os.fspath(path))
