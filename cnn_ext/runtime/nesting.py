"""Re-entrant, process-wide settings switched on by the first open block and off by the last.

The BLAS limit and the memory cache are such settings: any thread may open a
block, blocks nest, and the setting stays on while any block is open. The open
blocks are counted thread by thread, so that a child made by ``fork`` (which
has only the thread that forked) keeps the blocks of that thread and forgets
those of threads it does not have; it also gets a fresh lock, since the
parent's may have been held by another thread at the moment of the fork.
"""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from typing import Callable, Iterator, Optional

class NestedSetting:
    """``switch_on()`` runs when the first block opens, ``switch_off()`` when the last one closes.

    Both run under the setting's lock, so they never overlap. ``forget_threads()``, when given,
    runs first in a forked child, to drop whatever the setting keeps of the parent's threads.
    The setting's own fork handler is registered when it is made: after any handler its owner
    registered before, so those run first in the child.
    """

    def __init__(self, switch_on: Callable[[], None], switch_off: Callable[[], None],
                 forget_threads: Optional[Callable[[], None]] = None) -> None:
        self._switch_on = switch_on
        self._switch_off = switch_off
        self._forget_threads = forget_threads
        self._lock = threading.Lock()
        self._open: dict[int, int] = {}  # thread ident -> blocks open in that thread
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._after_fork_in_child)

    @contextmanager
    def block(self) -> Iterator[None]:
        thread = threading.get_ident()
        with self._lock:
            if not self._open:
                self._switch_on()
            self._open[thread] = self._open.get(thread, 0) + 1
        try:
            yield
        finally:
            with self._lock:
                left = self._open.get(thread, 0) - 1
                if left > 0:
                    self._open[thread] = left
                else:
                    self._open.pop(thread, None)
                    if not self._open:
                        self._switch_off()

    def _after_fork_in_child(self) -> None:
        if self._forget_threads is not None:
            self._forget_threads()
        self._lock = threading.Lock()
        survivor = threading.get_ident()
        was_on = bool(self._open)
        self._open = {survivor: self._open[survivor]} if survivor in self._open else {}
        if was_on and not self._open:  # only threads the child lacks had blocks open
            self._switch_off()

