"""One owner of the cores: the BLAS runs single-threaded while the engine's threads work.

The engine splits the batch over its own threads, each of which calls the
BLAS on its block. A multi-threaded BLAS would start worker threads of its
own on top, and those keep spinning after each product, taking the cores from
the engine's threads. Inside :func:`single_threaded_blas` the BLAS that NumPy
uses is limited to one thread (through threadpoolctl); the limit is restored
when the outermost such block, in any thread, ends.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator

from threadpoolctl import ThreadpoolController

_lock = threading.Lock()
_depth = 0
_controller = None
_limiter = None


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Limit NumPy's BLAS to one thread inside the block (re-entrant and thread-safe)."""
    global _depth, _controller, _limiter
    with _lock:
        if _depth == 0:
            if _controller is None:
                _controller = ThreadpoolController()
            _limiter = _controller.limit(limits=1, user_api="blas")
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                _limiter.restore_original_limits()
                _limiter = None
