"""One owner of the cores: the BLAS runs single-threaded while the engine's threads work.

The engine splits the batch over its own threads, each of which calls the
BLAS on its block. A multi-threaded BLAS would start worker threads of its
own on top, and those keep spinning after each product, taking the cores from
the engine's threads. Inside :func:`single_threaded_blas` the BLAS that NumPy
uses is limited to one thread (through threadpoolctl); the limit is restored
when the last such block, in any thread, ends.

Every change of the limit is made from one dedicated thread, the keeper:
OpenBLAS (0.3.31 here) ignores a change from any thread other than the first
one that made a change, for as long as that thread lives, so changes made from
whichever thread happens to enter the block would be lost. A child made by
``fork`` has no keeper (only the forking thread survives a fork) and starts
its own at its first change.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Optional

from threadpoolctl import ThreadpoolController

from cnn_ext.runtime.nesting import NestedSetting

_controller: Optional[ThreadpoolController] = None
_limiter = None
_keeper: Optional[ThreadPoolExecutor] = None


def _on_keeper(change: Callable[[], object]) -> object:
    """Run ``change`` on the keeper thread and return its result."""
    global _keeper
    if _keeper is None:
        _keeper = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cnn_ext_blas")
    return _keeper.submit(change).result()


def _limit_to_one_thread():
    global _controller
    if _controller is None:
        _controller = ThreadpoolController()
    return _controller.limit(limits=1, user_api="blas")


def _switch_on() -> None:
    global _limiter
    _limiter = _on_keeper(_limit_to_one_thread)


def _switch_off() -> None:
    global _limiter
    _on_keeper(_limiter.restore_original_limits)
    _limiter = None


def _forget_keeper() -> None:
    global _keeper
    _keeper = None  # its thread does not exist in a forked child


_single_threaded = NestedSetting(_switch_on, _switch_off, forget_threads=_forget_keeper)

#: ``with single_threaded_blas(): ...`` limits NumPy's BLAS to one thread inside the block
#: (re-entrant and thread-safe).
single_threaded_blas = _single_threaded.block
