"""The random streams of a training run, named in one place.

Each stream draws from the run's seed paired with a number of its own (NumPy's ``SeedSequence``
mixes the pair), so that adding a stream, or drawing more from one, never shifts another: the
same seed gives the same shuffling whether or not augmentation is on. The shuffling itself
draws from the seed alone.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np

__all__ = ["Stream", "stream"]


class Stream(IntEnum):
    """The streams a run draws from besides its shuffling, by their numbers."""

    #: The augmentation's transforms (:class:`cnn.augment.Transform`).
    AUGMENT = 1
    #: The training samples the training accuracy of each epoch is measured on.
    SAMPLE = 2
    #: The samples a ``validation`` fraction holds out.
    VALIDATION = 3
    #: Dropout masks of ranks other than 0 in distributed training.
    RANK_LAYER = 4


def stream(seed: int, which: Stream, *position: int) -> np.random.Generator:
    """The generator of stream ``which`` of the run seeded by ``seed``; ``position`` numbers
    tell apart generators of one stream (a rank, an epoch, a layer)."""
    return np.random.default_rng([seed, int(which), *position])
