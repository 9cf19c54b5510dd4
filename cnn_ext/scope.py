"""The conditions the engine runs fastest in, for the length of a model's pass."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from cnn_ext.runtime.blas import single_threaded_blas
from cnn_ext.runtime.memory import cached_allocations, cached_memory, release_cached_memory

__all__ = ["engine_scope", "cached_memory", "release_cached_memory"]


@contextmanager
def engine_scope() -> Iterator[None]:
    """Run a model's work: the BLAS on one thread (the engine's threads own the cores) and
    NumPy's array memory taken from a cache of freed blocks.

    ``cnn.Sequential`` enters it once per call (``predict``, ``train_step``,
    ``predict_batches``...) and the Trainer once per ``fit``; code that calls layers one by
    one can enter it around its own loop. Re-entrant and thread-safe. The cache holds memory
    only while some scope is open: when the last one ends, the BLAS limit is restored and
    every cached block goes back to the system.

    Example:
        >>> import numpy as np
        >>> with engine_scope():
        ...     total = float(np.ones(1 << 20, dtype=np.float32).sum())
        >>> total, cached_memory()
        (1048576.0, 0)
    """
    with single_threaded_blas(), cached_allocations():
        yield
