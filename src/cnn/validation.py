"""Choosing by a validation set: the split taken from the training data, the best epoch, and
when to stop early. Each is a function of the seed or of the history alone, so that a resumed
run decides as an uninterrupted one would."""

from __future__ import annotations

import numbers
from typing import Any, Optional, Sequence

import numpy as np

from cnn._checks import check_float, describe
from cnn.streams import Stream, stream

__all__ = ["check_validation", "split_indices", "best_epoch", "stops_early"]

def check_validation(validation: Any) -> Any:
    """``validation`` as a Trainer takes it: None, a fraction in (0, 1), or an ``(x, t)`` pair.

    Raises ``TypeError``/``ValueError`` naming ``validation`` for anything else."""
    if validation is None or isinstance(validation, tuple) and len(validation) == 2:
        return validation
    if isinstance(validation, numbers.Real) and not isinstance(validation, (bool, np.bool_)):
        return check_float("validation", validation, 0.0, 1.0)
    raise TypeError(f"validation must be a fraction of the training data in (0, 1), an (x, t) "
                    f"pair or None, got {describe(validation)}")


def split_indices(n_samples: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(train, validation)``: sorted indices of the samples trained on and of the
    ``round(fraction * n_samples)`` held out, drawn from ``seed``.

    Raises ``ValueError`` when either part would be empty."""
    held_out = round(fraction * n_samples)
    if not 1 <= held_out < n_samples:
        raise ValueError(f"validation={fraction} of {n_samples} training samples holds out "
                         f"{held_out}; it must leave at least one sample on each side")
    order = stream(seed, Stream.VALIDATION).permutation(n_samples)
    return np.sort(order[held_out:]), np.sort(order[:held_out])


def best_epoch(history: Sequence[dict]) -> Optional[int]:
    """The epoch (1-based) of the highest validation accuracy, the lower validation loss breaking
    a tie and the earlier epoch a second one; None when no epoch was validated."""
    validated = [record for record in history if record.get("val_acc") is not None]
    if not validated:
        return None
    return min(validated, key=lambda record: (-record["val_acc"], record["val_loss"],
                                              record["epoch"]))["epoch"]


def stops_early(history: Sequence[dict], patience: Optional[int]) -> bool:
    """Whether training stops: the last ``patience`` epochs all came after the best one."""
    if patience is None or not history:
        return False
    best = best_epoch(history)
    return best is not None and history[-1]["epoch"] - best >= patience
