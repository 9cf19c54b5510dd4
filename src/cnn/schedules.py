"""Learning-rate schedules: callables from the epoch index (0-based) to a learning rate."""

from __future__ import annotations

import math
from typing import Callable

from cnn._checks import check_float, check_int

#: A learning-rate schedule: the epoch (0-based) to the learning rate.
Schedule = Callable[[int], float]

__all__ = ["Schedule", "constant", "cosine", "step_decay"]


def constant(lr: float) -> Schedule:
    """The same learning rate every epoch."""
    lr = check_float("lr", lr)
    return lambda epoch: lr


def cosine(lr: float, epochs: int, final_lr: float = 0.0) -> Schedule:
    """From ``lr`` at epoch 0 down to ``final_lr`` along half a cosine over ``epochs`` epochs."""
    lr = check_float("lr", lr)
    epochs = check_int("epochs", epochs, 1)
    final_lr = check_float("final_lr", final_lr, low_inclusive=True)
    return lambda epoch: final_lr + 0.5 * (lr - final_lr) * (1 + math.cos(math.pi * epoch / epochs))


def step_decay(lr: float, factor: float = 0.1, every: int = 10) -> Schedule:
    """``lr`` multiplied by ``factor`` after every ``every`` epochs."""
    lr = check_float("lr", lr)
    factor = check_float("factor", factor, 0.0, 1.0, high_inclusive=True)
    every = check_int("every", every, 1)
    return lambda epoch: lr * factor ** (epoch // every)
