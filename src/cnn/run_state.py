"""What a training run is: its settings (a frozen record, compared field by field) and its
position (the state a checkpoint saves and a resume restores)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Mapping, Optional, Union

import numpy as np

from cnn.streams import Stream, stream

__all__ = ["SettingsRecord", "RunSettings", "RunState"]


class SettingsRecord:
    """What frozen records of settings share: their fields as JSON values, and the fields an
    earlier record gives otherwise, compared one by one (never by repr)."""

    def record(self) -> dict:
        """The settings as JSON values, by field name."""
        return asdict(self)

    def differences(self, record: Mapping) -> list[tuple[str, object, object]]:
        """``(field, recorded, this run's)`` for each field ``record`` gives otherwise."""
        return [(item.name, record.get(item.name), getattr(self, item.name))
                for item in fields(self) if record.get(item.name) != getattr(self, item.name)]


@dataclass(frozen=True)
class RunSettings(SettingsRecord):
    """The settings a run's weights depend on besides the model, the optimizer and the data
    values: written to every checkpoint, and compared field by field when a run resumes (a
    checkpoint of other settings is refused, naming the field) and when ranks start together.

    ``augment`` is the transform's repr, which names every setting of it; ``validation`` is the
    fraction held out, or ``"a pair of N samples"`` for a given validation set."""

    n_samples: int
    batch_size: int
    seed: int
    augment: Optional[str]
    validation: Union[None, float, str]
    keep_best: bool
    early_stopping: Optional[int]


@dataclass
class RunState:
    """Where a run stands: the epoch and step it is at, the running sums of the epoch so far,
    the epoch's sample order and the generators, and the best epoch's weights (``keep_best``).

    A fresh run starts from :meth:`fresh`; :meth:`next_epoch` clears what belongs to one epoch."""

    n_samples: int
    rng: np.random.Generator
    augment_rng: np.random.Generator
    epoch: int = 0
    step: int = 0
    order: Optional[np.ndarray] = None
    loss_sum: float = 0.0
    correct: int = 0
    seen: int = 0
    seconds: float = 0.0
    best: Optional[dict] = field(default=None, repr=False)

    #: The fields a checkpoint's record of the run holds as numbers.
    COUNTERS = ("epoch", "step", "loss_sum", "correct", "seen", "seconds", "n_samples")

    @classmethod
    def fresh(cls, n_samples: int, seed: int) -> "RunState":
        """The state before the first step: the shuffling drawn from ``seed`` itself, the
        augmentation from its own stream."""
        return cls(n_samples, np.random.default_rng(seed), stream(seed, Stream.AUGMENT))

    def next_epoch(self) -> None:
        """Move to the start of the next epoch."""
        self.epoch += 1
        self.step, self.order, self.loss_sum, self.correct, self.seen, self.seconds = \
            0, None, 0.0, 0, 0, 0.0

    def counters(self) -> dict:
        """The numbers of :attr:`COUNTERS`, by name."""
        return {name: getattr(self, name) for name in self.COUNTERS}

    def where(self) -> str:
        """Where the run stands, for messages: ``epoch 3, step 40`` or ``the end of epoch 2``."""
        return f"epoch {self.epoch + 1}, step {self.step}" if self.step else \
            f"the end of epoch {self.epoch}"
