"""What a run tells its user: the line reported after each epoch, and how Ctrl-C stops a run
between two steps."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Optional

__all__ = ["TrainingInterrupted", "LossDiverged", "format_epoch", "counted", "DeferredInterrupt"]


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped training after a step; ``checkpoint`` is where the state was saved (or None)."""

    def __init__(self, message: str, checkpoint: Optional[Path]) -> None:
        super().__init__(message)
        self.checkpoint = checkpoint


class LossDiverged(FloatingPointError):
    """The loss became NaN or infinite: training stopped at ``epoch`` (1-based), ``step``
    (1-based), with learning rate ``lr``."""

    def __init__(self, loss: float, epoch: int, step: int, lr: float) -> None:
        super().__init__(f"the loss became {loss} at epoch {epoch}, step {step}; training "
                         f"stopped. Try a smaller learning rate (lr={lr:g})")
        self.loss, self.epoch, self.step, self.lr = loss, epoch, step, lr


def counted(count: int, noun: str) -> str:
    """``1 epoch``, ``3 epochs``, ``1,000 training images``: a count with its noun in agreement."""
    return f"{count:,} {noun}" + ("" if count == 1 else "s")


def format_epoch(record: dict) -> str:
    """One report line: ``| epoch 3 | train loss 0.0812 acc 0.9751 | test loss 0.0594 acc 0.9808 | 9.1 s``.

    The train loss is the mean over the epoch's batches (training mode); the train accuracy is
    measured in inference mode on a sample of the training set (see :class:`Trainer`). A
    validated epoch shows ``val loss ... acc ...`` before the test set; a distributed one ends
    with the ranks and the mean time of a step's gradient ``Allreduce``."""
    line = (f"| epoch {record['epoch']} | train loss {record['train_loss']:.4f} "
            f"acc {record['train_acc']:.4f} |")
    for kind in ("val", "test"):
        if record.get(f"{kind}_loss") is not None:
            line += f" {kind} loss {record[f'{kind}_loss']:.4f} acc {record[f'{kind}_acc']:.4f} |"
    line += f" {record['seconds']:.1f} s"
    if record.get("allreduce_ms") is not None:
        line += f" | {record['ranks']} ranks, allreduce {record['allreduce_ms']:.2f} ms a step"
    return line


class DeferredInterrupt:
    """Inside the block the first Ctrl-C (or another of ``signals``) only sets ``requested``
    (so that a step is never cut in half); a second one interrupts at once. Outside the main
    thread, where signal handlers cannot be set, the signals behave as usual."""

    def __init__(self, signals: tuple[int, ...] = (signal.SIGINT,)) -> None:
        self.requested = False
        self.signals = signals
        self.previous_handlers: dict[int, object] = {}

    def __enter__(self) -> "DeferredInterrupt":
        if threading.current_thread() is threading.main_thread():
            self.previous_handlers = {number: signal.signal(number, self._request)
                                      for number in self.signals}
        return self

    def _request(self, signum, frame) -> None:
        self.requested = True
        signal.signal(signum, self.previous_handlers[signum])

    def __exit__(self, *exc_info) -> None:
        for number, handler in self.previous_handlers.items():
            signal.signal(number, handler)
