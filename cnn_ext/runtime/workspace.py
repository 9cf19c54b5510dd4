"""Scratch arrays owned by each thread and reused from call to call.

The convolution engine unfolds a block of images at a time into a buffer that
stays in the core's cache. Allocating that buffer afresh on every call costs
page faults and zeroing by the operating system, so each thread keeps one
buffer per purpose and grows it only when a larger block comes. Threads never
share a buffer, so calls from several threads at once stay independent.
"""

from __future__ import annotations

import math
import threading

import numpy as np

_local = threading.local()


def scratch(purpose: str, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """This thread's C-contiguous scratch array for ``purpose``; its contents are undefined.

    The array is valid until this thread asks for the same ``purpose`` again.
    """
    dtype = np.dtype(dtype)
    nbytes = math.prod(shape) * dtype.itemsize
    buffers = _local.__dict__.setdefault("buffers", {})
    buffer = buffers.get(purpose)
    if buffer is None or buffer.nbytes < nbytes:
        buffer = np.empty(nbytes, dtype=np.uint8)
        buffers[purpose] = buffer
    return buffer[:nbytes].view(dtype).reshape(shape)


def scratch_bytes() -> int:
    """Bytes this thread holds in scratch arrays (for tests of the memory bound)."""
    return sum(buffer.nbytes for buffer in _local.__dict__.get("buffers", {}).values())
