"""One owner of the cores: the BLAS runs single-threaded while the engine's threads work.

The engine splits the batch over its own threads, each of which calls the
BLAS on its block. A multi-threaded BLAS would start worker threads of its
own on top, and those keep spinning after each product, taking the cores from
the engine's threads. Inside :func:`single_threaded_blas` the BLAS that NumPy
uses is limited to one thread (through threadpoolctl); the limit is restored
when the outermost such block, in any thread, ends.

Every change of the limit is made from one dedicated thread: OpenBLAS (0.3.31
here) ignores a change from any thread other than the first one that made a
change, for as long as that thread lives, so changes made from whichever
thread happens to enter the block would be lost.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Iterator

from threadpoolctl import ThreadpoolController

_lock = threading.Lock()
_depth = 0
_controller = None
_limiter = None
_limit_keeper = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cnn_ext_blas")


def _limit_to_one_thread():
    global _controller
    if _controller is None:
        _controller = ThreadpoolController()
    return _controller.limit(limits=1, user_api="blas")


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Limit NumPy's BLAS to one thread inside the block (re-entrant and thread-safe)."""
    global _depth, _limiter
    with _lock:
        if _depth == 0:
            _limiter = _limit_keeper.submit(_limit_to_one_thread).result()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                _limit_keeper.submit(_limiter.restore_original_limits).result()
                _limiter = None
