"""Running a kernel over slices of the batch on several threads.

The compiled kernels release the GIL, so Python threads run them in parallel.
Each thread gets its own images and writes only their part of the output, so
no two threads ever write the same element (col2im's overlapping sums stay
within one image). A child made by ``fork`` has none of the parent's pool
threads: it starts a pool of its own at its first threaded call.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Optional, TypeVar

from cnn_ext._checks import check_int
from cnn_ext.runtime.cores import available_cores

# Below this many output elements per thread, starting threads costs more than it saves.
MIN_ELEMENTS_PER_THREAD = 1 << 15


def _initial_threads() -> int:
    requested = os.environ.get("CNN_EXT_NUM_THREADS") or os.environ.get("OMP_NUM_THREADS")
    if requested and requested.isdigit() and int(requested) > 0:
        return int(requested)
    return available_cores()


Result = TypeVar("Result")

_num_threads = _initial_threads()
_pool: Optional[ThreadPoolExecutor] = None
_pool_lock = threading.Lock()


def _forget_pool_after_fork() -> None:
    global _pool, _pool_lock
    _pool = None  # its threads do not exist in the child
    _pool_lock = threading.Lock()  # another thread of the parent may have held it


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool_after_fork)


def get_num_threads() -> int:
    """Threads the kernels use: ``CNN_EXT_NUM_THREADS``, else ``OMP_NUM_THREADS``, else the cores
    this process may use (its CPU affinity, within any cgroup CPU quota)."""
    return _num_threads


def set_num_threads(threads: int) -> None:
    """Set the number of threads the kernels use (1 runs them on the calling thread).

    Safe while other threads run kernels: they finish on the pool they started with,
    which is released (its idle threads end) once no call uses it any more."""
    global _num_threads, _pool
    threads = check_int("threads", threads, 1)
    with _pool_lock:
        if threads != _num_threads:
            _pool = None
        _num_threads = threads


def _worker_pool() -> tuple[ThreadPoolExecutor, int]:
    """The current pool and its size, created on first use."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=_num_threads, thread_name_prefix="cnn_ext")
        return _pool, _num_threads


def for_image_slices(n_images: int, output_elements: int,
                     work: Callable[[int, int], Result]) -> list[Result]:
    """Call ``work(start, stop)`` on consecutive slices of the images covering ``range(n_images)``,
    in parallel when there is enough work for more than one thread; return the results in order."""
    wanted = min(_num_threads, n_images, max(1, output_elements // MIN_ELEMENTS_PER_THREAD))
    if wanted <= 1:
        return [work(0, n_images)]
    pool, size = _worker_pool()
    threads = min(wanted, size)
    bounds = [n_images * index // threads for index in range(threads + 1)]
    futures = [pool.submit(work, start, stop) for start, stop in zip(bounds[1:-1], bounds[2:])]
    first = work(bounds[0], bounds[1])
    return [first] + [future.result() for future in futures]
