"""Writers of small IDX files for the parser and loader tests."""

import gzip
import struct

import numpy as np


def idx_bytes(array: np.ndarray, type_code: int = 0x08) -> bytes:
    """An IDX file holding ``array`` (uint8 by default)."""
    header = bytes([0, 0, type_code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_idx(path, array: np.ndarray, compress: bool = True) -> None:
    content = idx_bytes(array)
    path.write_bytes(gzip.compress(content) if compress else content)
