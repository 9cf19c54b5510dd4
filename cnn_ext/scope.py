"""The conditions the engine runs fastest in, for the length of a model's pass."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from cnn_ext._blas import single_threaded_blas
from cnn_ext._memory import cached_allocations, cached_memory, release_cached_memory

__all__ = ["engine_scope", "cached_memory", "release_cached_memory"]


@contextmanager
def engine_scope() -> Iterator[None]:
    """Run a pass of a model: the BLAS on one thread (the engine's threads own the
    cores) and NumPy's array memory taken from a cache of freed blocks.

    ``cnn.Sequential`` enters it around every forward and backward pass; code
    that calls layers one by one can enter it too. Re-entrant and thread-safe.

    Example:
        >>> import numpy as np
        >>> with engine_scope():
        ...     total = float(np.ones(1 << 20, dtype=np.float32).sum())
        >>> total
        1048576.0
    """
    with single_threaded_blas(), cached_allocations():
        yield
